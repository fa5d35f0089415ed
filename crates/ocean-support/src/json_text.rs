//! JSON text at the byte level, shared by the mapping engine's scanner and the
//! Port client's bulk bodies: where the next byte needing attention is, and
//! compact writing of serde values, byte for byte as `serde_json::to_writer`,
//! without its per-token trait calls. Strings needing escapes and numbers are
//! still written by serde_json itself, so the output cannot drift from it.

use serde_json::Value;

/// Bytes that end a run of plain string text: a quote, a backslash, a control character.
static NEEDS_ATTENTION: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// Appends `value` as compact JSON, byte for byte what `serde_json::to_writer` writes.
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

/// Appends `s` as a JSON string; plain text is copied as it is, anything needing escapes goes through serde_json.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    if next_special_byte(s.as_bytes()).is_some() {
        write_with_serde(out, s);
        return;
    }
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

/// Where the next quote, backslash or control character is, eight bytes at a time.
pub fn next_special_byte(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // Exact for the lowest flagged byte; false flags only follow a true one.
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let (chunks, _) = bytes.as_chunks::<8>();
    for (i, chunk) in chunks.iter().enumerate() {
        let x = u64::from_le_bytes(*chunk);
        let special = zero_byte(x ^ (ONES * u64::from(b'"')))
            | zero_byte(x ^ (ONES * u64::from(b'\\')))
            | (x.wrapping_sub(ONES * 0x20) & !x & HIGHS);
        if special != 0 {
            return Some(i * 8 + (special.trailing_zeros() / 8) as usize);
        }
    }
    let done = chunks.len() * 8;
    let tail = bytes.get(done..)?;
    tail.iter()
        .position(|&b| NEEDS_ATTENTION[usize::from(b)])
        .map(|at| done + at)
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
    fn finds_special_bytes_as_a_plain_scan_does() {
        let text = "abcdefgh\u{e9}ijklmnop\\qrstuvwxyz0123456789\"tail\u{1}end";
        let bytes = text.as_bytes();
        for start in 0..bytes.len() {
            let expected = bytes[start..]
                .iter()
                .position(|&b| NEEDS_ATTENTION[usize::from(b)]);
            assert_eq!(next_special_byte(&bytes[start..]), expected, "from {start}");
        }
    }

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
