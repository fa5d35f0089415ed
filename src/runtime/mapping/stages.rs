//! Filters that commonly follow a path (`.ts | values | .[0:19] | strptime(..)
//! | strftime(..)`), run natively on the path's value. Each stage answers only
//! the cases where it is sure to give jaq's result; any other case declines, and
//! the caller runs the whole rest of the expression through jaq instead.

use jiff::civil::DateTime;
use jiff::fmt::strtime;
use jiff::tz::{Offset, TimeZone};
use serde_json::Value;

/// One stage's answer: a value, no output (`values` on null), or "ask jaq".
enum Step {
    Out(Value),
    Empty,
    Decline,
}

enum Stage {
    Values,
    ToString,
    /// `.[from:upto]` with non-negative literal bounds.
    Slice {
        from: Option<usize>,
        upto: Option<usize>,
    },
    Strptime(String),
    Strftime(String),
}

/// A chain of natively run stages, each yielding at most one value.
pub struct Stages(Vec<Stage>);

impl Stages {
    /// Recognises `stage | stage | ...` when every stage is one we run natively.
    pub fn parse(code: &str) -> Option<Self> {
        let stages = split_pipes(code)?
            .into_iter()
            .map(|s| Stage::parse(s.trim()))
            .collect::<Option<Vec<_>>>()?;
        (!stages.is_empty()).then_some(Stages(stages))
    }

    /// The first output (`Some(None)` for none), or `None` when jaq must answer.
    pub fn run(&self, input: Value) -> Option<Option<Value>> {
        let mut value = input;
        for stage in &self.0 {
            value = match stage.apply(value) {
                Step::Out(v) => v,
                Step::Empty => return Some(None),
                Step::Decline => return None,
            };
        }
        Some(Some(value))
    }
}

impl Stage {
    fn parse(code: &str) -> Option<Self> {
        match code {
            "values" => return Some(Stage::Values),
            "tostring" => return Some(Stage::ToString),
            _ => {}
        }
        if let Some(fmt) = call_with_string(code, "strptime") {
            return Some(Stage::Strptime(fmt));
        }
        if let Some(fmt) = call_with_string(code, "strftime") {
            return Some(Stage::Strftime(fmt));
        }
        slice(code)
    }

    fn apply(&self, input: Value) -> Step {
        match (self, input) {
            (Stage::Values, Value::Null) => Step::Empty,
            (Stage::Values, v) => Step::Out(v),
            (Stage::ToString, v @ Value::String(_)) => Step::Out(v),
            (Stage::Slice { from, upto }, Value::String(s)) => {
                Step::Out(Value::String(slice_chars(&s, *from, *upto)))
            }
            (Stage::Strptime(fmt), Value::String(s)) => strptime(&s, fmt).map_or(Step::Decline, Step::Out),
            (Stage::Strftime(fmt), v) => strftime(&v, fmt).map_or(Step::Decline, Step::Out),
            _ => Step::Decline,
        }
    }
}

/// Splits at top-level `|` (not `|=`, nor inside strings or brackets).
fn split_pipes(code: &str) -> Option<Vec<&str>> {
    let bytes = code.as_bytes();
    let mut parts = Vec::new();
    let (mut depth, mut start, mut i) = (0usize, 0, 0);
    let mut in_string = false;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' => depth = depth.checked_sub(1)?,
                b'|' if depth == 0 => {
                    if bytes.get(i + 1) == Some(&b'=') {
                        return None;
                    }
                    parts.push(&code[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        i += 1;
    }
    if in_string || depth != 0 {
        return None;
    }
    parts.push(&code[start..]);
    Some(parts)
}

/// `name("literal")` with a plain string literal (no escapes, no interpolation).
fn call_with_string(code: &str, name: &str) -> Option<String> {
    let arg = code
        .strip_prefix(name)?
        .trim_start()
        .strip_prefix('(')?
        .strip_suffix(')')?;
    let text = arg.trim().strip_prefix('"')?.strip_suffix('"')?;
    (!text.contains(['"', '\\'])).then(|| text.to_owned())
}

/// `.[a:b]`, `.[a:]`, `.[:b]` with non-negative integer literals.
fn slice(code: &str) -> Option<Stage> {
    let inner = code.strip_prefix(".[")?.strip_suffix(']')?;
    let (from, upto) = inner.split_once(':')?;
    let bound = |s: &str| -> Option<Option<usize>> {
        let s = s.trim();
        if s.is_empty() {
            return Some(None);
        }
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok().map(Some)
    };
    Some(Stage::Slice {
        from: bound(from)?,
        upto: bound(upto)?,
    })
}

/// jaq's string slice: by characters, clamped, empty when `upto < from`.
fn slice_chars(s: &str, from: Option<usize>, upto: Option<usize>) -> String {
    let byte_at = |n: usize| s.char_indices().nth(n).map_or(s.len(), |(at, _)| at);
    let start = from.map_or(0, byte_at);
    let end = upto.map_or(s.len(), byte_at).max(start);
    s[start..end].to_owned()
}

/// As jaq's `strptime`: a broken-down time array, UTC unless the text says otherwise.
fn strptime(s: &str, fmt: &str) -> Option<Value> {
    let mut parsed = strtime::BrokenDownTime::parse(fmt, s).ok()?;
    if (parsed.offset(), parsed.iana_time_zone()) == (None, None) {
        parsed.set_offset(Some(Offset::UTC));
    }
    let dt: DateTime = parsed.to_zoned().ok()?.into();
    Some(broken_down(dt))
}

fn broken_down(dt: DateTime) -> Value {
    let second = if dt.subsec_nanosecond() > 0 {
        Value::from(f64::from(dt.second()) + f64::from(dt.subsec_nanosecond()) / 1e9)
    } else {
        Value::from(dt.second())
    };
    Value::Array(vec![
        Value::from(dt.year()),
        Value::from(dt.month() - 1),
        Value::from(dt.day()),
        Value::from(dt.hour()),
        Value::from(dt.minute()),
        second,
        Value::from(dt.weekday().to_sunday_zero_offset()),
        Value::from(dt.day_of_year() - 1),
    ])
}

/// As jaq's `strftime` in UTC, for a broken-down time of integers or an integer epoch.
fn strftime(v: &Value, fmt: &str) -> Option<Value> {
    let zoned = match v {
        Value::Array(parts) => date_time(parts)?.to_zoned(TimeZone::UTC).ok()?,
        Value::Number(n) => jiff::Timestamp::from_second(n.as_i64()?)
            .ok()?
            .to_zoned(TimeZone::UTC),
        _ => return None,
    };
    strtime::format(fmt, &zoned).ok().map(Value::String)
}

fn date_time(parts: &[Value]) -> Option<DateTime> {
    let [year, month, day, hour, minute, second, ..] = parts else {
        return None;
    };
    let small = |v: &Value| -> Option<i8> { v.as_i64()?.try_into().ok() };
    let month = small(month)?.checked_add(1)?;
    let (year, day, hour, minute, second) = (
        i16::try_from(year.as_i64()?).ok()?,
        small(day)?,
        small(hour)?,
        small(minute)?,
        small(second)?,
    );
    DateTime::new(year, month, day, hour, minute, second, 0).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::mapping::JqProgram;
    use serde_json::json;

    fn native(code: &str, input: Value) -> Option<Option<Value>> {
        Stages::parse(code).expect("native stages").run(input)
    }

    #[test]
    fn recognises_only_whole_native_chains() {
        assert!(Stages::parse("values | .[0:19] | strptime(\"%Y\") | strftime(\"%Y|x\")").is_some());
        for code in [
            "values?",
            "values, 1",
            ".[0:-1]",
            "strptime($f)",
            "tostring |= 1",
            "strftime(\"\\n\")",
        ] {
            assert!(Stages::parse(code).is_none(), "{code}");
        }
    }

    /// Every case the stages answer must be jaq's answer, and the rest declined.
    #[test]
    fn agrees_with_jaq_or_declines() {
        let codes = [
            "values",
            "tostring",
            ".[0:19]",
            ".[3:1]",
            ".[:4]",
            ".[2:]",
            "strptime(\"%Y-%m-%dT%H:%M:%S\")",
            "strptime(\"%Y-%m-%dT%H:%M:%SZ\") | strftime(\"%Y-%m-%dT%H:%M:%SZ\")",
            "values | .[0:19] | strptime(\"%Y-%m-%dT%H:%M:%S\") | strftime(\"%Y-%m-%dT%H:%M:%SZ\")",
            "strftime(\"%A %j %Y\")",
        ];
        let inputs = [
            json!(null),
            json!("2024-02-29T14:21:35.123456"),
            json!("2023-02-29T14:21:35"),
            json!("2024-06-15T08:30:00Z"),
            json!("2024-06-15T08:30:00+02:00"),
            json!("héllo wörld"),
            json!("x"),
            json!(1_718_440_200),
            json!(1.5),
            json!([2024, 5, 15, 8, 30, 0, 6, 166]),
            json!([2024, 1, 30, 8, 30, 0]),
            json!([2024, 5, 15, 8, 30, 1.5]),
            json!({"a": 1}),
        ];
        for code in codes {
            let program = JqProgram::compile(code).expect("compiles");
            for input in &inputs {
                let Some(answer) = native(code, input.clone()) else {
                    continue;
                };
                let jaq = program.all_json(input).expect("jaq agrees there is no error");
                assert_eq!(answer, jaq.into_iter().next(), "{code} on {input}");
            }
        }
        assert_eq!(
            native(
                "values | .[0:19] | strptime(\"%Y-%m-%dT%H:%M:%S\") | strftime(\"%Y-%m-%dT%H:%M:%SZ\")",
                json!("2024-02-02T14:21:35.5")
            ),
            Some(Some(json!("2024-02-02T14:21:35Z")))
        );
    }
}
