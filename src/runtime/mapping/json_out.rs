//! Compact JSON writing of serde values, byte for byte as `serde_json::to_writer`,
//! without its per-token trait calls. Strings needing escapes and numbers are
//! still written by serde_json itself, so the output cannot drift from it.

use serde_json::Value;

use super::tape::next_special_byte;

pub fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_with_serde(out, n),
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => write_object(out, map.iter()),
    }
}

/// `{"k":v,...}` from members in order.
pub fn write_object<'v>(out: &mut Vec<u8>, members: impl Iterator<Item = (&'v String, &'v Value)>) {
    out.push(b'{');
    for (i, (key, value)) in members.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, key);
        out.push(b':');
        write_value(out, value);
    }
    out.push(b'}');
}

pub fn write_str(out: &mut Vec<u8>, s: &str) {
    if next_special_byte(s.as_bytes()).is_some() {
        write_with_serde(out, s);
        return;
    }
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

fn write_with_serde<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Writing a string or a number into a Vec cannot fail.
    let _ = serde_json::to_writer(out, value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_what_serde_json_writes() {
        let value = json!({
            "plain": "x", "escaped": "a\"b\\c\n\u{1}\u{7f}é", "": null, "t": true, "f": false,
            "int": -42, "big": 18_446_744_073_709_551_615u64, "float": 0.1, "huge": 1.0e300,
            "list": [1, "two", [], {}, {"nested": [null]}],
        });
        let mut out = Vec::new();
        write_value(&mut out, &value);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            serde_json::to_string(&value).unwrap()
        );
    }
}
