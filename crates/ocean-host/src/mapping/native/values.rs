//! jq 1.6's view of values: truthiness, ordering, arithmetic, and how numbers
//! and values print (`tostring`, `tojson`, string interpolation).

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::Fault;
use crate::mapping::value::float_to_json;

/// jq's truthiness: everything but `null` and `false` is true.
pub fn truthy(v: &Value) -> bool {
    !matches!(v, Value::Null | Value::Bool(false))
}

/// jq has one number type, a double.
pub fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

/// A double as a JSON number the way jq 1.6 keeps it (integral values as integers, NaN as null).
pub fn number(f: f64) -> Value {
    float_to_json(f)
}

/// jq's `type` name of a value.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// jq's value kinds in its order, where `true` and `false` are kinds of their own.
pub fn kind_rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Bool(false) => 1,
        Value::Bool(true) => 2,
        Value::Number(_) => 3,
        Value::String(_) => 4,
        Value::Array(_) => 5,
        Value::Object(_) => 6,
    }
}

/// jq's total order: null < false < true < numbers < strings < arrays < objects;
/// objects compare their sorted key lists first, then their values key by key.
pub fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => {
            let (x, y) = (num(a).unwrap_or(f64::NAN), num(b).unwrap_or(f64::NAN));
            x.partial_cmp(&y).unwrap_or(Ordering::Less)
        }
        (Value::String(x), Value::String(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Value::Array(x), Value::Array(y)) => {
            for (l, r) in x.iter().zip(y) {
                let o = compare(l, r);
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Object(x), Value::Object(y)) => {
            let (kx, ky) = (sorted_keys(x), sorted_keys(y));
            let o = kx.cmp(&ky);
            if o != Ordering::Equal {
                return o;
            }
            for k in kx {
                let o = compare(&x[k], &y[k]);
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        }
        _ => kind_rank(a).cmp(&kind_rank(b)),
    }
}

/// Equality in jq's order (so `1 == 1.0`).
pub fn equal(a: &Value, b: &Value) -> bool {
    compare(a, b) == Ordering::Equal
}

/// An object's keys sorted by bytes, as jq's `keys` lists them.
pub fn sorted_keys(m: &Map<String, Value>) -> Vec<&str> {
    let mut keys: Vec<&str> = m.keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

fn type_error(a: &Value, b: &Value, what: &str) -> Fault {
    Fault::Error(format!("{} and {} cannot be {what}", describe(a), describe(b)))
}

/// `type (value)` as jq's messages write it.
pub fn describe(v: &Value) -> String {
    let mut text = String::new();
    write_json(&mut text, v).ok();
    if text.len() > 11 {
        let mut cut = 10;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("...");
    }
    format!("{} ({text})", type_name(v))
}

/// jq's `+`: `null` is the identity; numbers add, strings and arrays concatenate, objects merge
/// (right wins); other pairs are jq's type error.
pub fn add(a: &Value, b: &Value) -> Result<Value, Fault> {
    Ok(match (a, b) {
        (Value::Null, x) | (x, Value::Null) => x.clone(),
        (Value::Number(_), Value::Number(_)) => number(num(a).unwrap_or(0.0) + num(b).unwrap_or(0.0)),
        (Value::String(x), Value::String(y)) => {
            let mut s = String::with_capacity(x.len() + y.len());
            s.push_str(x);
            s.push_str(y);
            Value::String(s)
        }
        (Value::Array(x), Value::Array(y)) => Value::Array(x.iter().chain(y).cloned().collect()),
        (Value::Object(x), Value::Object(y)) => {
            let mut m = x.clone();
            for (k, v) in y {
                m.insert(k.clone(), v.clone());
            }
            Value::Object(m)
        }
        _ => return Err(type_error(a, b, "added")),
    })
}

/// jq's arithmetic operators on numbers (and `+` on every type). `Fault::Decline` for the rare
/// cases the native evaluator leaves to jaq (array difference, string division, ...).
pub fn math(op: jaq_core::ops::Math, a: &Value, b: &Value) -> Result<Value, Fault> {
    use jaq_core::ops::Math;
    if let Math::Add = op {
        return add(a, b);
    }
    let (Some(x), Some(y)) = (num(a), num(b)) else {
        // Array difference, string division, object merge and string repetition are rare in mappings.
        return match (op, a, b) {
            (Math::Sub | Math::Mul | Math::Div, Value::Number(_) | Value::Null | Value::Bool(_), _)
            | (Math::Sub | Math::Mul | Math::Div, _, Value::Null | Value::Bool(_)) => {
                Err(type_error(a, b, op_verb(op)))
            }
            _ => Err(Fault::Decline),
        };
    };
    Ok(match op {
        Math::Add => number(x + y),
        Math::Sub => number(x - y),
        Math::Mul => number(x * y),
        Math::Div if y == 0.0 => return Err(type_error(a, b, "divided because the divisor is zero")),
        Math::Div => number(x / y),
        Math::Rem => {
            // jq 1.6 takes the remainder of the integer parts.
            let (xi, yi) = (x as i64, y as i64);
            if yi == 0 {
                return Err(type_error(a, b, "divided because the divisor is zero"));
            }
            if !(x.abs() < 9e15 && y.abs() < 9e15) {
                return Err(Fault::Decline);
            }
            number((xi % yi.abs()) as f64)
        }
    })
}

fn op_verb(op: jaq_core::ops::Math) -> &'static str {
    use jaq_core::ops::Math;
    match op {
        Math::Add => "added",
        Math::Sub => "subtracted",
        Math::Mul => "multiplied",
        Math::Div | Math::Rem => "divided",
    }
}

/// jq's comparison operators, by [`compare`].
pub fn cmp(op: jaq_core::ops::Cmp, a: &Value, b: &Value) -> bool {
    use jaq_core::ops::Cmp;
    let o = compare(a, b);
    match op {
        Cmp::Lt => o == Ordering::Less,
        Cmp::Le => o != Ordering::Greater,
        Cmp::Gt => o == Ordering::Greater,
        Cmp::Ge => o != Ordering::Less,
        Cmp::Eq => o == Ordering::Equal,
        Cmp::Ne => o != Ordering::Equal,
    }
}

/// A number as jq 1.6 prints it: the shortest digits that read back the same,
/// in plain notation unless the exponent is below -4 or far beyond the digits.
pub fn number_text(out: &mut String, f: f64) {
    use std::fmt::Write;
    if f.is_nan() {
        out.push_str("null");
        return;
    }
    let f = if f.is_infinite() { f.signum() * f64::MAX } else { f };
    if f == 0.0 {
        out.push_str(if f.is_sign_negative() { "-0" } else { "0" });
        return;
    }
    if f.fract() == 0.0 && f.abs() < 1e15 {
        let _ = write!(out, "{}", f as i64);
        return;
    }
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let n = digits.len() as i32;
    let decpt = exp + 1;
    if f < 0.0 {
        out.push('-');
    }
    if decpt <= -4 || decpt > n + 15 {
        out.push_str(&digits[..1]);
        if n > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    } else if decpt <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-decpt) as usize));
        out.push_str(&digits);
    } else if decpt >= n {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (decpt - n) as usize));
    } else {
        out.push_str(&digits[..decpt as usize]);
        out.push('.');
        out.push_str(&digits[decpt as usize..]);
    }
}

/// Compact JSON as jq 1.6 writes it (`tojson`, `tostring`, interpolation).
/// Declines strings with a DEL character, whose escaping is jq's own.
pub fn write_json(out: &mut String, v: &Value) -> Result<(), Fault> {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(_) => number_text(out, num(v).unwrap_or(f64::NAN)),
        Value::String(s) => write_json_str(out, s)?,
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item)?;
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_str(out, k)?;
                out.push(':');
                write_json(out, item)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn write_json_str(out: &mut String, s: &str) -> Result<(), Fault> {
    use std::fmt::Write;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    Ok(())
}

/// `tostring`: a string stays itself; anything else is its JSON text.
pub fn to_string_value(v: &Value) -> Result<String, Fault> {
    match v {
        Value::String(s) => Ok(s.clone()),
        other => {
            let mut s = String::new();
            write_json(&mut s, other)?;
            Ok(s)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_as_jq_1_6() {
        let cases = [
            (1.5, "1.5"),
            (1e-7, "1e-07"),
            (1e100, "1e+100"),
            (123456789012345678.0, "123456789012345680"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e17, "1e+17"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e300, "1.5e+300"),
            (f64::INFINITY, "1.7976931348623157e+308"),
            (-2.25, "-2.25"),
            (1230000000000000.0, "1230000000000000"),
        ];
        for (f, want) in cases {
            let mut s = String::new();
            number_text(&mut s, f);
            assert_eq!(s, want, "{f}");
        }
    }
}
