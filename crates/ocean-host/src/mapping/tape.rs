//! One pass over an item that checks it is JSON and indexes every object
//! reachable through object members, so that `.head.totals.files` does not scan
//! `head` again after the top level. Anything unusual (escaped keys, deep
//! nesting, invalid text) is declined, and the caller falls back to serde_json,
//! which then gives the usual answers and error messages.

use serde_json::{Map, Value};

use super::value::json_of_raw;
use ocean_support::json_text::next_special_byte;

/// Deeper items are left to serde_json, whose recursion limit is 128.
const MAX_DEPTH: usize = 100;

const NOT_AN_OBJECT: u32 = u32::MAX;

struct Member<'a> {
    key: &'a str,
    /// The value's JSON text.
    value: &'a str,
    /// The value's index in `Tape::objects` when it is an object.
    object: u32,
}

/// The indexed objects; each object's members are contiguous, in text order.
pub struct Tape<'a> {
    members: Vec<Member<'a>>,
    /// Each object's range in `members`; the root object comes last.
    objects: Vec<(u32, u32)>,
}

/// Where a path has reached.
pub enum Step<'a> {
    /// A value that is not an indexed object.
    Raw(&'a str),
    /// An indexed object and its text.
    Object(u32, &'a str),
    /// jq's `null` for a missing key or a step through null.
    Null,
}

impl<'a> Tape<'a> {
    /// The tape of a valid JSON object, or `None` for anything declined.
    pub fn scan(text: &'a str) -> Option<Self> {
        let mut scanner = Scanner::new(text);
        scanner.skip_whitespace();
        if scanner.peek()? != b'{' {
            return None;
        }
        scanner.value(0)?;
        scanner.skip_whitespace();
        (scanner.pos == text.len()).then_some(scanner.tape)
    }

    pub fn root(&self, text: &'a str) -> Step<'a> {
        match self.objects.len().checked_sub(1) {
            Some(last) => Step::Object(last as u32, text),
            None => Step::Raw(text),
        }
    }

    /// An indexed object as a serde value, built from its members without rescanning them.
    pub fn object_json(&self, index: u32) -> Result<Value, serde_json::Error> {
        let (start, end) = self.objects[index as usize];
        let members = &self.members[start as usize..end as usize];
        let mut map = Map::with_capacity(members.len());
        for m in members {
            let value = if m.object == NOT_AN_OBJECT {
                json_of_raw(m.value)?
            } else {
                self.object_json(m.object)?
            };
            // As serde_json does, a duplicate key keeps its first place and takes the last value.
            map.insert(m.key.to_owned(), value);
        }
        Ok(Value::Object(map))
    }

    /// One key further; `None` when jq would raise an error (a non-object, non-null value).
    pub fn field(&self, at: Step<'a>, key: &str) -> Option<Step<'a>> {
        match at {
            Step::Null => Some(Step::Null),
            Step::Raw(raw) if raw.starts_with('n') => Some(Step::Null),
            Step::Raw(_) => None,
            Step::Object(index, _) => {
                let (start, end) = self.objects[index as usize];
                let members = &self.members[start as usize..end as usize];
                // The last duplicate wins, as in jq.
                Some(match members.iter().rev().find(|m| m.key == key) {
                    None => Step::Null,
                    Some(m) if m.object == NOT_AN_OBJECT => Step::Raw(m.value),
                    Some(m) => Step::Object(m.object, m.value),
                })
            }
        }
    }
}

struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// Members of the objects still open, innermost last.
    pending: Vec<Member<'a>>,
    tape: Tape<'a>,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Self {
        Scanner {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            pending: Vec::with_capacity(32),
            tape: Tape {
                members: Vec::with_capacity(64),
                objects: Vec::with_capacity(8),
            },
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.skip_whitespace();
        (self.peek()? == byte).then(|| self.pos += 1)
    }

    /// Scans one value; returns its object index when it is an object.
    fn value(&mut self, depth: usize) -> Option<u32> {
        self.skip_whitespace();
        match self.peek()? {
            b'{' => self.object(depth + 1),
            b'[' => self.array(depth + 1).map(|()| NOT_AN_OBJECT),
            b'"' => self.string().map(|_| NOT_AN_OBJECT),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number(),
        }
    }

    fn object(&mut self, depth: usize) -> Option<u32> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.pos += 1;
        let first_pending = self.pending.len();
        self.skip_whitespace();
        if self.peek()? == b'}' {
            self.pos += 1;
        } else {
            loop {
                self.skip_whitespace();
                let (key, escaped) = self.string()?;
                // Keys with escapes cannot be compared as written.
                if escaped {
                    return None;
                }
                self.expect(b':')?;
                self.skip_whitespace();
                let start = self.pos;
                let object = self.value(depth)?;
                let value = &self.text[start..self.pos];
                self.pending.push(Member { key, value, object });
                self.skip_whitespace();
                match self.peek()? {
                    b',' => self.pos += 1,
                    b'}' => {
                        self.pos += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        let start = u32::try_from(self.tape.members.len()).ok()?;
        self.tape.members.extend(self.pending.drain(first_pending..));
        let end = u32::try_from(self.tape.members.len()).ok()?;
        self.tape.objects.push((start, end));
        u32::try_from(self.tape.objects.len() - 1).ok()
    }

    fn array(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.pos += 1;
        self.skip_whitespace();
        if self.peek()? == b']' {
            self.pos += 1;
            return Some(());
        }
        loop {
            self.value(depth)?;
            self.skip_whitespace();
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A string's text between its quotes, escapes left as written, and whether it has any.
    fn string(&mut self) -> Option<(&'a str, bool)> {
        if self.peek()? != b'"' {
            return None;
        }
        let start = self.pos + 1;
        self.pos = start;
        let mut escaped = false;
        loop {
            let plain = next_special_byte(self.bytes.get(self.pos..)?)?;
            self.pos += plain;
            match self.bytes[self.pos] {
                b'"' => {
                    self.pos += 1;
                    return Some((self.text.get(start..self.pos - 1)?, escaped));
                }
                b'\\' => {
                    escaped = true;
                    self.escape()?;
                }
                // A control character, which JSON does not allow in strings.
                _ => return None,
            }
        }
    }

    fn escape(&mut self) -> Option<()> {
        match *self.bytes.get(self.pos + 1)? {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.pos += 2,
            b'u' => {
                let hex = self.bytes.get(self.pos + 2..self.pos + 6)?;
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                self.pos += 6;
            }
            _ => return None,
        }
        Some(())
    }

    fn literal(&mut self, word: &[u8]) -> Option<u32> {
        let end = self.pos + word.len();
        (self.bytes.get(self.pos..end)? == word).then(|| {
            self.pos = end;
            NOT_AN_OBJECT
        })
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Option<u32> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek()? {
            b'0' => self.pos += 1,
            b'1'..=b'9' => self.digits()?,
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            self.digits()?;
        }
        Some(NOT_AN_OBJECT)
    }

    /// One or more digits.
    fn digits(&mut self) -> Option<()> {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        (self.pos > start).then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepts(text: &str) -> bool {
        Tape::scan(text).is_some()
    }

    /// Whatever the tape accepts, serde_json must accept too.
    #[test]
    fn accepts_only_valid_json() {
        let cases = [
            r#"{"a": {"b": [1, -2.5e+3, {"c": null}], "d": "x\"\u00e9\n"}, "e": true}"#,
            r#" {} "#,
            r#"{"a": 01}"#,
            r#"{"a": 1.}"#,
            r#"{"a": -}"#,
            r#"{"a": [1,]}"#,
            r#"{"a": 1,}"#,
            r#"{"a" 1}"#,
            r#"{"a": "\x"}"#,
            r#"{"a": "\u12"}"#,
            "{\"a\": \"tab\there\"}",
            r#"{"a": tru}"#,
            r#"{"a": 1} x"#,
            r#"{"a": 1"#,
            r#"[1]"#,
            r#"{"\u0061": 1}"#,
        ];
        for text in cases {
            let serde_ok = serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok();
            assert!(!accepts(text) || serde_ok, "{text}");
        }
        assert!(accepts(cases[0]) && accepts(cases[1]));
        let deep = format!("{}{}", "{\"a\":".repeat(150), "}".repeat(150));
        assert!(!accepts(&deep), "left to serde_json's recursion limit");
    }

    #[test]
    fn follows_nested_members() {
        let text = r#"{"a": {"b": {"c": 3}, "b": {"c": 4}}, "n": null, "s": "x", "l": [{"c": 5}]}"#;
        let tape = Tape::scan(text).expect("valid");
        let walk = |keys: &[&str]| {
            let mut at = tape.root(text);
            for key in keys {
                at = tape.field(at, key)?;
            }
            Some(match at {
                Step::Raw(raw) | Step::Object(_, raw) => raw.to_owned(),
                Step::Null => "null".to_owned(),
            })
        };
        assert_eq!(
            walk(&["a", "b", "c"]).as_deref(),
            Some("4"),
            "the last duplicate wins"
        );
        assert_eq!(walk(&["n", "x"]).as_deref(), Some("null"));
        assert_eq!(walk(&["missing"]).as_deref(), Some("null"));
        assert_eq!(walk(&["s", "x"]), None);
        assert_eq!(walk(&["l"]).as_deref(), Some(r#"[{"c": 5}]"#));
        assert_eq!(walk(&[]).as_deref(), Some(text));
    }
}
