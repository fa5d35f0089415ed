//! Ocean's `itemsToParse`: one raw item becomes one input per array element.

use serde_json::Value;
use serde_json::value::RawValue;

use super::{FieldError, json_type};
use crate::mapping::jq::JqProgram;
use crate::mapping::lazy_item::LazyItem;

pub(super) struct ItemsToParse {
    pub(super) items: JqProgram,
    /// `del(<path>)` with the path `removed_path` finds, run when the top-level transform is on.
    pub(super) strip: Option<JqProgram>,
    pub(super) name: String,
}

impl ItemsToParse {
    /// Ocean's expansion: each element bound under `name` in a copy of the item
    /// (without the parsed array when the top-level transform is on).
    pub(super) fn inputs(&self, item: &LazyItem) -> Result<Vec<Box<RawValue>>, FieldError> {
        let err = |message: String| FieldError {
            field: "itemsToParse".into(),
            message,
        };
        let items = self.items.first(item).map_err(|e| err(e.0))?;
        let Some(Value::Array(items)) = items else {
            let got = items.as_ref().map_or("nothing".into(), json_type);
            return Err(err(format!("must yield an array, got {got}")));
        };
        let base = match &self.strip {
            Some(strip) => strip.first(item).map_err(|e| err(e.0))?.unwrap_or(Value::Null),
            None => item.whole_json().map_err(|e| err(e.0))?,
        };
        let Value::Object(base) = base else {
            return Err(err(format!(
                "the item must be an object, got {}",
                json_type(&base)
            )));
        };
        items
            .into_iter()
            .map(|element| {
                let mut merged = base.clone();
                merged.insert(self.name.clone(), element);
                RawValue::from_string(Value::Object(merged).to_string()).map_err(|e| err(e.to_string()))
            })
            .collect()
    }
}

/// The path Ocean removes from the item before binding each element, for any
/// `itemsToParse` expression: a port of 0.56.2's
/// `extract_jq_deletion_path_revised` (port_ocean/core/integrations/mixins/utils.py),
/// quirks and all. A leading `(` keeps what lies before the first `)`; that is
/// split on every `|`; `. as $x`, `.` and `$…` segments are passed over; the
/// first segment that starts with a path (`.key`, `.[…]`, then `.key`, `[…]`,
/// `.[…]` any number of times) gives it. `None`: Ocean would fall back to `.`.
pub(super) fn removed_path(expression: &str) -> Option<String> {
    let expr = expression.trim();
    let chain = match expr.strip_prefix('(') {
        Some(rest) => rest.split_once(')')?.0.trim(),
        None => expr,
    };
    for segment in chain.split('|') {
        let segment = segment.trim();
        if is_root_binding(segment) || segment == "." || segment.starts_with('$') {
            continue;
        }
        if let Some(len) = leading_path(segment) {
            return Some(segment[..len].to_string());
        }
    }
    None
}

/// Python's `\w` on text: letters, digits (any script) and `_`.
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `^\.\s+as\s+\$\w+`
fn is_root_binding(segment: &str) -> bool {
    let Some(rest) = segment.strip_prefix('.') else {
        return false;
    };
    let after = rest.trim_start();
    if after.len() == rest.len() {
        return false;
    }
    let Some(rest) = after.strip_prefix("as") else {
        return false;
    };
    let after = rest.trim_start();
    after.len() < rest.len() && after.strip_prefix('$').is_some_and(|v| v.starts_with(is_word))
}

/// Length of `.word` at the start of `s`.
fn dot_word(s: &str) -> Option<usize> {
    let rest = s.strip_prefix('.')?;
    let word: usize = rest.chars().take_while(|c| is_word(*c)).map(char::len_utf8).sum();
    (word > 0).then_some(1 + word)
}

/// Length of `[…]` (one or more characters other than `]` inside) at the start of `s`.
fn bracket(s: &str) -> Option<usize> {
    let rest = s.strip_prefix('[')?;
    let inside = rest.find(']')?;
    (inside > 0).then_some(inside + 2)
}

/// `(\.\w+|\.\[[^\]]+\])(\.\w+|\[[^\]]+\]|\.\[[^\]]+\])*`, matched at the start
/// (each part greedy, as Python's first match is).
fn leading_path(segment: &str) -> Option<usize> {
    let dot_bracket = |s: &str| s.strip_prefix('.').and_then(bracket).map(|n| n + 1);
    let mut at = dot_word(segment).or_else(|| dot_bracket(segment))?;
    while let Some(n) = {
        let rest = &segment[at..];
        dot_word(rest)
            .or_else(|| bracket(rest))
            .or_else(|| dot_bracket(rest))
    } {
        at += n;
    }
    Some(at)
}

#[cfg(test)]
mod tests {
    use super::removed_path;

    #[test]
    fn the_first_plain_path_is_removed_as_ocean_finds_it() {
        for (expression, path) in [
            (".items", Some(".items")),
            ("  .file.content.raw  ", Some(".file.content.raw")),
            (".items[]", Some(".items")),
            (".a.b[0].c", Some(".a.b[0].c")),
            (".[\"x y\"].z", Some(".[\"x y\"].z")),
            ("(.model_breakdown // {} | to_entries)", Some(".model_breakdown")),
            (".model_breakdown // {} | to_entries", Some(".model_breakdown")),
            (". as $root | .items | map(. + {r: $root.id})", Some(".items")),
            ("$items | .x", Some(".x")),
            (". | .values", Some(".values")),
            (
                ".body.pull_request.labels // []",
                Some(".body.pull_request.labels"),
            ),
            // Quirks kept: the text up to the first `)` only, and a naive split on `|`.
            ("(.a) + (.b)", Some(".a")),
            ("(map(.x))", None),
            ("[.a[] | .b]", Some(".b")),
            ("to_entries", None),
            ("[1, 2, 3]", None),
            ("(", None),
            ("$__loc__", None),
            (".", None),
        ] {
            assert_eq!(removed_path(expression).as_deref(), path, "{expression}");
        }
    }
}
