//! Where each scalar of a YAML (or JSON) document sits, by field path, so that
//! faults found after parsing (a JQ compile error) still point at line:col.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle};

/// A scalar's position: 1-based line and column of its first character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// Column of the scalar's text, when the text sits on one line as written
    /// (plain, or quoted without escapes), so offsets inside it can be added.
    text_column: Option<usize>,
}

impl Position {
    /// The position of the character `chars` characters into the scalar's text.
    pub fn at_offset(&self, chars: usize) -> Position {
        match self.text_column {
            Some(col) => Position {
                column: col + chars,
                ..*self
            },
            None => *self,
        }
    }
}

/// Positions of every scalar and collection in a document, keyed by field path
/// (`resources[0].port.entity.mappings.title`).
#[derive(Debug, Default)]
pub struct SourceMap {
    positions: HashMap<String, Position>,
}

enum Frame {
    Seq(usize),
    Map { key: Option<String> },
}

impl SourceMap {
    /// Builds the map; a document the parser rejects yields an empty map (the
    /// typed parse reports that error with its own position).
    pub fn build(text: &str) -> Self {
        let mut map = SourceMap::default();
        let mut stack: Vec<(Frame, String)> = Vec::new();
        for event in Parser::new_from_str(text) {
            let Ok((event, span)) = event else {
                break;
            };
            match event {
                Event::Scalar(value, style, _, _) => {
                    if let Some(path) = Self::value_path(&mut stack, Some(&value)) {
                        let (line, column) = (span.start.line(), span.start.col() + 1);
                        let text_column = single_line_text(&value, style).then_some(match style {
                            ScalarStyle::Plain => column,
                            _ => column + 1,
                        });
                        map.positions.insert(
                            path,
                            Position {
                                line,
                                column,
                                text_column,
                            },
                        );
                    }
                }
                Event::SequenceStart(..) | Event::MappingStart(..) => {
                    let path = Self::value_path(&mut stack, None).unwrap_or_default();
                    let frame = if matches!(event, Event::SequenceStart(..)) {
                        Frame::Seq(0)
                    } else {
                        Frame::Map { key: None }
                    };
                    let (line, column) = (span.start.line(), span.start.col() + 1);
                    map.positions.entry(path.clone()).or_insert(Position {
                        line,
                        column,
                        text_column: None,
                    });
                    stack.push((frame, path));
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    stack.pop();
                }
                _ => {}
            }
        }
        map
    }

    /// The path of the value now starting, or `None` when the scalar is a key.
    fn value_path(stack: &mut [(Frame, String)], scalar: Option<&str>) -> Option<String> {
        let Some((frame, base)) = stack.last_mut() else {
            return Some(String::new());
        };
        match frame {
            Frame::Seq(i) => {
                let path = format!("{base}[{i}]");
                *i += 1;
                Some(path)
            }
            Frame::Map { key } => match key.take() {
                Some(k) if base.is_empty() => Some(k),
                Some(k) => Some(format!("{base}.{k}")),
                None => {
                    // A scalar here is a key; a collection as key is not ours to map.
                    *key = Some(scalar.unwrap_or_default().to_owned());
                    None
                }
            },
        }
    }

    /// The position recorded for exactly this path.
    pub fn get(&self, path: &str) -> Option<Position> {
        self.positions.get(path).copied()
    }

    /// The closest known position: the path itself or its nearest parent.
    pub fn nearest(&self, path: &str) -> Option<Position> {
        let mut p = path;
        loop {
            if let Some(pos) = self.get(p) {
                return Some(pos);
            }
            let cut = p.rfind(['.', '['])?;
            p = &p[..cut];
        }
    }
}

fn single_line_text(value: &str, style: ScalarStyle) -> bool {
    if value.contains('\n') {
        return false;
    }
    match style {
        ScalarStyle::Plain => true,
        ScalarStyle::SingleQuoted => !value.contains('\''),
        ScalarStyle::DoubleQuoted => !value.contains(['"', '\\']),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_scalars() {
        let text = "resources:\n  - kind: a\n    port:\n      entity:\n        mappings:\n          identifier: .x | foo\n";
        let map = SourceMap::build(text);
        let pos = map.get("resources[0].port.entity.mappings.identifier").unwrap();
        assert_eq!((pos.line, pos.column), (6, 23));
        assert_eq!(pos.at_offset(5).column, 28);
        assert_eq!(map.get("resources[0].kind").unwrap().line, 2);
    }

    #[test]
    fn reads_json_too() {
        let text = "[\n  {\"blueprint\": \"b\",\n   \"entity\": {\"identifier\": \".a\"}}\n]";
        let map = SourceMap::build(text);
        let pos = map.get("[0].entity.identifier").unwrap();
        assert_eq!((pos.line, pos.column), (3, 29));
    }

    #[test]
    fn nearest_falls_back_to_parent() {
        let map = SourceMap::build("a:\n  b: 1\n");
        assert_eq!(map.nearest("a.b.c").unwrap().line, 2);
    }
}
