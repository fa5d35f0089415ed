//! The shapes most mapping fields have, evaluated without the interpreter:
//! a constant (`"service"`, `true`), a path (`.repo.url`), and a path
//! piped into the rest of an expression (`.repo.name | tostring`), which then
//! runs on that small value instead of the whole item. Anything else, and any
//! case where jq would raise an error, goes to jaq, so results are jq's.

use serde_json::Value;

use super::stages::Stages;
use super::value::normalize_numbers;

/// What runs after the leading path.
pub enum Rest<T> {
    /// Nothing: the path's value is the result.
    None,
    /// Stages run natively when they can; jaq answers the cases they decline.
    Native(Stages, T),
    /// Any other expression, compiled by jaq.
    Other(T),
}

pub enum FastExpr<T> {
    Const(Value),
    Path { keys: Vec<String>, rest: Rest<T> },
}

impl<T> FastExpr<T> {
    /// Recognises a fast shape; `compile_rest` compiles what follows the path.
    pub fn parse<E>(code: &str, compile_rest: impl FnOnce(&str) -> Result<T, E>) -> Option<Self> {
        let code = code.trim();
        if let Some(v) = constant(code) {
            return Some(FastExpr::Const(v));
        }
        let (head, tail) = split_first_pipe(code);
        let keys = simple_path(head.trim())?;
        let rest = match tail.map(str::trim) {
            None => Rest::None,
            Some("") => return None,
            Some(t) => {
                let compiled = compile_rest(t).ok()?;
                match Stages::parse(t) {
                    Some(stages) => Rest::Native(stages, compiled),
                    None => Rest::Other(compiled),
                }
            }
        };
        Some(FastExpr::Path { keys, rest })
    }
}

/// A JSON scalar written as jq source: a string without interpolation, a
/// number, `true`, `false` or `null`.
fn constant(code: &str) -> Option<Value> {
    let first = code.bytes().next()?;
    let plausible =
        first == b'"' || first == b'-' || first.is_ascii_digit() || matches!(code, "true" | "false" | "null");
    if !plausible || code.contains("\\(") {
        return None;
    }
    let mut v: Value = serde_json::from_str(code).ok()?;
    if v.is_array() || v.is_object() {
        return None;
    }
    normalize_numbers(&mut v);
    Some(v)
}

/// `.`, `.a`, `.a.b_c` and nothing else.
fn simple_path(code: &str) -> Option<Vec<String>> {
    if code == "." {
        return Some(Vec::new());
    }
    let mut keys = Vec::new();
    for part in code.strip_prefix('.')?.split('.') {
        let mut chars = part.chars();
        let ok_start = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        if !ok_start || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return None;
        }
        keys.push(part.to_owned());
    }
    Some(keys)
}

/// Splits at the first `|` that is a pipe (not `|=`), when what precedes it
/// could be a simple path; any other text is left whole.
fn split_first_pipe(code: &str) -> (&str, Option<&str>) {
    let bytes = code.as_bytes();
    let end = bytes
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b' '))
        .unwrap_or(bytes.len());
    if end < bytes.len() && bytes[end] == b'|' && bytes.get(end + 1) != Some(&b'=') {
        (&code[..end], Some(&code[end + 1..]))
    } else {
        (code, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(code: &str) -> Option<FastExpr<String>> {
        FastExpr::parse(code, |rest| Ok::<_, ()>(rest.to_owned()))
    }

    #[test]
    fn recognises_shapes() {
        assert!(matches!(parse("\"x\""), Some(FastExpr::Const(Value::String(s))) if s == "x"));
        assert!(matches!(parse("true"), Some(FastExpr::Const(Value::Bool(true)))));
        assert!(
            matches!(parse(".a.b"), Some(FastExpr::Path { keys, rest: Rest::None }) if keys == ["a", "b"])
        );
        assert!(matches!(
            parse(".a | tostring"),
            Some(FastExpr::Path {
                rest: Rest::Native(..),
                ..
            })
        ));
        assert!(
            matches!(parse(".a | .[0:3] | ascii"), Some(FastExpr::Path { rest: Rest::Other(r), .. }) if r == ".[0:3] | ascii")
        );
    }

    #[test]
    fn leaves_everything_else_to_jaq() {
        for code in [
            "\"a\\(.b)\"",
            ".a // 1",
            ".a |= 1",
            ".a[0]",
            ".a?",
            ".a as $x | $x",
            "[.a]",
            ".a, .b | .c",
            ".a |",
            ". as $x | .",
            "{}",
        ] {
            assert!(parse(code).is_none(), "{code}");
        }
    }
}
