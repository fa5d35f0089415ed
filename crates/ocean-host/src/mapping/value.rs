//! Conversions between serde JSON values and jaq values, with jq 1.6's view
//! of numbers: jq has one number type, so an integral float is an integer.

use jaq_json::{Num, Val};
use serde_json::{Map, Number, Value};

/// Largest magnitude jq 1.6 still prints as a plain integer (it switches to
/// exponent notation at 1e17).
const PLAIN_INTEGER_LIMIT: f64 = 1e17;

/// A serde value as jaq's, with integral numbers as integers (jq 1.6 has one number type).
pub fn from_json(value: &Value) -> Val {
    match value {
        Value::Null => Val::Null,
        Value::Bool(b) => Val::Bool(*b),
        Value::Number(n) => Val::Num(num_from_json(n)),
        Value::String(s) => Val::from(s.clone()),
        Value::Array(items) => items.iter().map(from_json).collect(),
        Value::Object(map) => {
            let mut out = jaq_json::Map::with_capacity_and_hasher(map.len(), Default::default());
            for (k, v) in map {
                out.insert(Val::from(k.clone()), from_json(v));
            }
            Val::obj(out)
        }
    }
}

fn num_from_json(n: &Number) -> Num {
    if let Some(i) = n.as_i64() {
        return Num::from_integral(i);
    }
    if let Some(u) = n.as_u64() {
        return Num::from_integral(u);
    }
    float_num(n.as_f64().unwrap_or(f64::NAN))
}

/// An integral float becomes an integer so that `tostring` and string
/// interpolation print `85`, as jq 1.6 does, and not jaq's `85.0`.
fn float_num(f: f64) -> Num {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < PLAIN_INTEGER_LIMIT {
        Num::Int(f as isize)
    } else {
        Num::Float(f)
    }
}

/// A jaq value as serde's, numbers printed as jq 1.6 prints them (NaN as null, infinities as the
/// largest finite double, integral floats below 1e17 as integers).
pub fn val_to_json(val: &Val) -> Value {
    match val {
        Val::Null => Value::Null,
        Val::Bool(b) => Value::Bool(*b),
        Val::Num(n) => num_to_json(n),
        Val::TStr(b) | Val::BStr(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
        Val::Arr(items) => Value::Array(items.iter().map(val_to_json).collect()),
        Val::Obj(map) => {
            let mut out = Map::with_capacity(map.len());
            for (k, v) in map.iter() {
                out.insert(key_string(k), val_to_json(v));
            }
            Value::Object(out)
        }
    }
}

fn key_string(k: &Val) -> String {
    match k {
        Val::TStr(b) | Val::BStr(b) => String::from_utf8_lossy(b).into_owned(),
        other => other.to_string(),
    }
}

fn num_to_json(n: &Num) -> Value {
    match n {
        Num::Int(i) => Value::from(*i as i64),
        Num::Float(f) => float_to_json(*f),
        // Arbitrary-precision values: jq 1.6 reads every number as a double.
        other => float_to_json(other.to_string().parse().unwrap_or(f64::NAN)),
    }
}

pub(crate) fn float_to_json(f: f64) -> Value {
    if f.is_nan() {
        // jq 1.6 prints NaN as null.
        return Value::Null;
    }
    // jq 1.6 prints infinities as the largest finite double.
    let f = if f.is_infinite() { f.signum() * f64::MAX } else { f };
    if f.fract() == 0.0 && f.abs() < PLAIN_INTEGER_LIMIT {
        Value::from(f as i64)
    } else {
        Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

/// A value from its JSON text, numbers as jq 1.6 reads them.
pub fn json_of_raw(raw: &str) -> Result<Value, serde_json::Error> {
    if let Some(v) = simple_scalar(raw) {
        return Ok(v);
    }
    let mut v: Value = serde_json::from_str(raw)?;
    normalize_numbers(&mut v);
    Ok(v)
}

/// Strings without escapes, short integers and literals, read without serde_json.
fn simple_scalar(raw: &str) -> Option<Value> {
    match raw.as_bytes() {
        [b'"', inner @ .., b'"'] if !inner.iter().any(|&b| b == b'\\' || b == b'"' || b < 0x20) => {
            // A valid JSON text: the bytes between the quotes are the string's own.
            raw.get(1..raw.len() - 1).map(|s| Value::String(s.to_owned()))
        }
        [first, rest @ ..]
            if rest.len() < 18
                && (first.is_ascii_digit() || *first == b'-')
                && rest.iter().all(u8::is_ascii_digit) =>
        {
            raw.parse::<i64>().ok().map(Value::from)
        }
        b"true" => Some(Value::Bool(true)),
        b"false" => Some(Value::Bool(false)),
        b"null" => Some(Value::Null),
        _ => None,
    }
}

/// Integral floats become integers in place, as jq 1.6 would print them.
pub fn normalize_numbers(v: &mut Value) {
    match v {
        Value::Number(n) if n.is_f64() => *v = float_to_json(n.as_f64().unwrap_or(f64::NAN)),
        Value::Array(items) => items.iter_mut().for_each(normalize_numbers),
        Value::Object(map) => map.values_mut().for_each(normalize_numbers),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_json() {
        let v = json!({"a": [1, 2.5, "x", null, true, {"b": -3}], "c": 1.0e300});
        assert_eq!(val_to_json(&from_json(&v)), v);
    }

    #[test]
    fn integral_floats_become_integers() {
        assert_eq!(val_to_json(&from_json(&json!(85.0))), json!(85));
        assert_eq!(val_to_json(&Val::Num(Num::Float(f64::NAN))), Value::Null);
    }

    #[test]
    fn keys_keep_their_order() {
        let v = json!({"z": 1, "a": 2});
        let keys: Vec<_> = val_to_json(&from_json(&v))
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(keys, ["z", "a"]);
    }
}
