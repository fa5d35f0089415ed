//! The builtins evaluated natively, each as jq 1.6 defines it.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::Fault;
use super::values::{compare, describe, equal, kind_rank, num, number, to_string_value, truthy, write_json};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    // Filters taking filter arguments.
    Empty,
    Error,
    Select,
    Map,
    WithEntries,
    First1,
    Limit,
    Any1,
    All1,
    SortBy,
    // Regular expressions: value arguments, several outputs, or a replacement filter.
    Test,
    Match,
    Capture,
    Scan,
    SplitRe,
    Sub,
    Gsub,
    // Functions of the input and of value arguments.
    Not,
    Length,
    Utf8ByteLength,
    ToString,
    ToNumber,
    ToJson,
    FromJson,
    Type,
    AsciiDowncase,
    AsciiUpcase,
    Keys,
    KeysUnsorted,
    ToEntries,
    FromEntries,
    Values,
    Nulls,
    Booleans,
    Numbers,
    Strings,
    Arrays,
    Objects,
    Iterables,
    Scalars,
    Add,
    First,
    Last,
    Sort,
    Unique,
    Min,
    Max,
    Floor,
    Ceil,
    Round,
    Fabs,
    Sqrt,
    Any,
    All,
    Has,
    Contains,
    StartsWith,
    EndsWith,
    LtrimStr,
    RtrimStr,
    Split,
    Join,
    Gmtime,
    Mktime,
    Strftime,
    Strptime,
    ToDate,
    FromDate,
    Now,
}

impl Builtin {
    pub fn find(name: &str, arity: usize) -> Option<Self> {
        use Builtin::*;
        Some(match (name, arity) {
            ("empty", 0) => Empty,
            ("error", 0 | 1) => Error,
            ("select", 1) => Select,
            ("map", 1) => Map,
            ("with_entries", 1) => WithEntries,
            ("first", 1) => First1,
            ("limit", 2) => Limit,
            ("any", 1) => Any1,
            ("all", 1) => All1,
            ("sort_by", 1) => SortBy,
            ("test", 1 | 2) => Test,
            ("match", 1 | 2) => Match,
            ("capture", 1 | 2) => Capture,
            ("scan", 1) => Scan,
            ("split", 2) => SplitRe,
            ("sub", 2 | 3) => Sub,
            ("gsub", 2 | 3) => Gsub,
            ("not", 0) => Not,
            ("length", 0) => Length,
            ("utf8bytelength", 0) => Utf8ByteLength,
            ("tostring", 0) => ToString,
            ("tonumber", 0) => ToNumber,
            ("tojson", 0) => ToJson,
            ("fromjson", 0) => FromJson,
            ("type", 0) => Type,
            ("ascii_downcase", 0) => AsciiDowncase,
            ("ascii_upcase", 0) => AsciiUpcase,
            ("keys", 0) => Keys,
            ("keys_unsorted", 0) => KeysUnsorted,
            ("to_entries", 0) => ToEntries,
            ("from_entries", 0) => FromEntries,
            ("values", 0) => Values,
            ("nulls", 0) => Nulls,
            ("booleans", 0) => Booleans,
            ("numbers", 0) => Numbers,
            ("strings", 0) => Strings,
            ("arrays", 0) => Arrays,
            ("objects", 0) => Objects,
            ("iterables", 0) => Iterables,
            ("scalars", 0) => Scalars,
            ("add", 0) => Add,
            ("first", 0) => First,
            ("last", 0) => Last,
            ("sort", 0) => Sort,
            ("unique", 0) => Unique,
            ("min", 0) => Min,
            ("max", 0) => Max,
            ("floor", 0) => Floor,
            ("ceil", 0) => Ceil,
            ("round", 0) => Round,
            ("fabs", 0) => Fabs,
            ("sqrt", 0) => Sqrt,
            ("any", 0) => Any,
            ("all", 0) => All,
            ("has", 1) => Has,
            ("contains", 1) => Contains,
            ("startswith", 1) => StartsWith,
            ("endswith", 1) => EndsWith,
            ("ltrimstr", 1) => LtrimStr,
            ("rtrimstr", 1) => RtrimStr,
            ("split", 1) => Split,
            ("join", 1) => Join,
            ("gmtime", 0) => Gmtime,
            ("mktime", 0) => Mktime,
            ("strftime", 1) => Strftime,
            ("strptime", 1) => Strptime,
            ("todate" | "todateiso8601", 0) => ToDate,
            ("fromdate" | "fromdateiso8601", 0) => FromDate,
            ("now", 0) => Now,
            _ => return None,
        })
    }

    /// Whether the arguments are filters run by the caller (not values).
    pub fn takes_filters(self) -> bool {
        use Builtin::*;
        matches!(
            self,
            Empty
                | Error
                | Select
                | Map
                | WithEntries
                | First1
                | Limit
                | Any1
                | All1
                | SortBy
                | Test
                | Match
                | Capture
                | Scan
                | SplitRe
                | Sub
                | Gsub
        )
    }
}

fn err(msg: String) -> Fault {
    Fault::Error(msg)
}

fn need_string<'v>(v: &'v Value, what: &str) -> Result<&'v str, Fault> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(err(format!("{} {what}", describe(other)))),
    }
}

/// A builtin whose arguments are values: the input and those values in, one value out
/// (`None` for no output).
pub fn apply(b: Builtin, input: &Value, args: &[&Value]) -> Result<Option<Value>, Fault> {
    use Builtin::*;
    let arg = |i: usize| args.get(i).copied().ok_or(Fault::Decline);
    let keep = |ok: bool| Ok(ok.then(|| input.clone()));
    Ok(Some(match b {
        Not => Value::Bool(!truthy(input)),
        Length => match input {
            Value::Null => Value::from(0),
            Value::Bool(_) => return Err(err(format!("{} has no length", describe(input)))),
            Value::Number(_) => number(num(input).unwrap_or(0.0).abs()),
            Value::String(s) => Value::from(s.chars().count()),
            Value::Array(a) => Value::from(a.len()),
            Value::Object(o) => Value::from(o.len()),
        },
        Utf8ByteLength => Value::from(need_string(input, "only strings have UTF-8 byte length")?.len()),
        ToString => Value::String(to_string_value(input)?),
        ToNumber => to_number(input)?,
        ToJson => {
            let mut s = String::new();
            write_json(&mut s, input)?;
            Value::String(s)
        }
        FromJson => {
            let s = need_string(input, "only strings can be parsed")?;
            let mut v: Value = serde_json::from_str(s).map_err(|_| Fault::Decline)?;
            crate::mapping::value::normalize_numbers(&mut v);
            v
        }
        Type => Value::String(super::values::type_name(input).into()),
        AsciiDowncase => {
            Value::String(need_string(input, "explode input must be a string")?.to_ascii_lowercase())
        }
        AsciiUpcase => {
            Value::String(need_string(input, "explode input must be a string")?.to_ascii_uppercase())
        }
        Keys | KeysUnsorted => match input {
            Value::Object(o) => {
                let mut keys: Vec<&String> = o.keys().collect();
                if b == Keys {
                    keys.sort_unstable();
                }
                Value::Array(keys.into_iter().map(|k| Value::String(k.clone())).collect())
            }
            Value::Array(a) => Value::Array((0..a.len()).map(Value::from).collect()),
            other => return Err(err(format!("{} has no keys", describe(other)))),
        },
        ToEntries => to_entries(input)?,
        FromEntries => from_entries(input)?,
        Values => return keep(!input.is_null()),
        Nulls => return keep(input.is_null()),
        Booleans => return keep(input.is_boolean()),
        Numbers => return keep(input.is_number()),
        Strings => return keep(input.is_string()),
        Arrays => return keep(input.is_array()),
        Objects => return keep(input.is_object()),
        Iterables => return keep(input.is_array() || input.is_object()),
        Scalars => return keep(!(input.is_array() || input.is_object())),
        Add => {
            let mut acc = Value::Null;
            for v in iterate(input)? {
                acc = super::values::add(&acc, v)?;
            }
            acc
        }
        First | Last => match input {
            Value::Array(a) => (if b == First { a.first() } else { a.last() })
                .cloned()
                .unwrap_or(Value::Null),
            Value::Null => Value::Null,
            _ => return Err(Fault::Decline),
        },
        Sort | Unique | Min | Max => {
            let Value::Array(a) = input else {
                return Err(err(format!(
                    "{} cannot be sorted, as it is not an array",
                    describe(input)
                )));
            };
            let mut items: Vec<&Value> = a.iter().collect();
            items.sort_by(|x, y| compare(x, y));
            match b {
                Sort => Value::Array(items.into_iter().cloned().collect()),
                Unique => {
                    items.dedup_by(|x, y| equal(x, y));
                    Value::Array(items.into_iter().cloned().collect())
                }
                // jq 1.6 takes the last of equal minimums and the first of equal maximums
                // only through its own loop; ties are equal values, so either prints the same.
                Min => items.first().map_or(Value::Null, |v| (*v).clone()),
                _ => items.last().map_or(Value::Null, |v| (*v).clone()),
            }
        }
        Floor | Ceil | Round | Fabs | Sqrt => {
            let Some(x) = num(input) else {
                return Err(err(format!("{} number required", describe(input))));
            };
            number(match b {
                Floor => x.floor(),
                Ceil => x.ceil(),
                Round => x.round(),
                Fabs => x.abs(),
                _ => x.sqrt(),
            })
        }
        Any | All => {
            let items = iterate(input)?;
            Value::Bool(if b == Any {
                items.into_iter().any(truthy)
            } else {
                items.into_iter().all(truthy)
            })
        }
        Has => has(input, arg(0)?)?,
        Contains => {
            let other = arg(0)?;
            if kind_rank(input) != kind_rank(other) {
                return Err(err(format!(
                    "{} and {} cannot have their containment checked",
                    describe(input),
                    describe(other)
                )));
            }
            Value::Bool(contains(input, other))
        }
        StartsWith | EndsWith => {
            let (Value::String(s), Value::String(x)) = (input, arg(0)?) else {
                let name = if b == StartsWith { "startswith" } else { "endswith" };
                return Err(err(format!("{name}() requires string inputs")));
            };
            Value::Bool(if b == StartsWith {
                s.starts_with(x.as_str())
            } else {
                s.ends_with(x.as_str())
            })
        }
        LtrimStr | RtrimStr => match (input, arg(0)?) {
            (Value::String(s), Value::String(x)) => {
                let trimmed = if b == LtrimStr {
                    s.strip_prefix(x.as_str())
                } else {
                    s.strip_suffix(x.as_str())
                };
                Value::String(trimmed.unwrap_or(s).to_owned())
            }
            _ => input.clone(),
        },
        Split => match (input, arg(0)?) {
            (Value::String(s), Value::String(sep)) => split(s, sep),
            _ => return Err(err("split input and separator must be strings".into())),
        },
        Join => join(input, arg(0)?)?,
        Gmtime => super::time::gmtime(input)?,
        Mktime => super::time::mktime(input)?,
        Strftime => super::time::strftime(input, arg(0)?)?,
        Strptime => super::time::strptime(input, arg(0)?)?,
        ToDate => super::time::strftime(input, &Value::String("%Y-%m-%dT%H:%M:%SZ".into()))?,
        FromDate => {
            let parsed = super::time::strptime(input, &Value::String("%Y-%m-%dT%H:%M:%SZ".into()))?;
            super::time::mktime(&parsed)?
        }
        Now => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_err(|_| Fault::Decline)?;
            number(now.as_secs_f64())
        }
        _ => return Err(Fault::Decline),
    }))
}

/// The values `.[]` yields.
pub fn iterate(v: &Value) -> Result<Vec<&Value>, Fault> {
    match v {
        Value::Array(a) => Ok(a.iter().collect()),
        Value::Object(o) => Ok(o.values().collect()),
        other => Err(err(format!("Cannot iterate over {}", describe(other)))),
    }
}

/// jq 1.6 parses the string as JSON text and accepts only a number.
fn to_number(v: &Value) -> Result<Value, Fault> {
    let s = match v {
        Value::Number(_) => return Ok(v.clone()),
        Value::String(s) => s,
        other => return Err(err(format!("{} cannot be parsed as a number", describe(other)))),
    };
    let t = s.trim_matches([' ', '\t', '\n', '\r']);
    if let Ok(n) = serde_json::from_str::<serde_json::Number>(t) {
        return Ok(number(n.as_f64().ok_or(Fault::Decline)?));
    }
    // jq's own number scanner is laxer than JSON (`1.`, `+1`, `.5`): leave those to jaq.
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b)) {
        return Err(Fault::Decline);
    }
    Err(err(format!("Cannot parse '{s}' as JSON")))
}

fn to_entries(v: &Value) -> Result<Value, Fault> {
    let entry = |k: Value, v: &Value| {
        let mut m = Map::with_capacity(2);
        m.insert("key".into(), k);
        m.insert("value".into(), v.clone());
        Value::Object(m)
    };
    Ok(Value::Array(match v {
        Value::Object(o) => o
            .iter()
            .map(|(k, v)| entry(Value::String(k.clone()), v))
            .collect(),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, v)| entry(Value::from(i), v))
            .collect(),
        other => return Err(err(format!("{} has no keys", describe(other)))),
    }))
}

/// jq 1.6: the key is the first truthy of `key`, `Key`, `name`, `Name` (a string),
/// the value `value` when present, else `Value`.
pub fn from_entries(v: &Value) -> Result<Value, Fault> {
    let Value::Array(entries) = v else {
        return Err(Fault::Decline);
    };
    let mut out = Map::with_capacity(entries.len());
    for e in entries {
        let Value::Object(o) = e else {
            return Err(Fault::Decline);
        };
        let key = ["key", "Key", "name", "Name"]
            .iter()
            .map(|k| o.get(*k).unwrap_or(&Value::Null))
            .find(|v| truthy(v))
            .unwrap_or_else(|| o.get("Name").unwrap_or(&Value::Null));
        let Value::String(key) = key else {
            return Err(err(format!("Cannot use {} as object key", describe(key))));
        };
        let value = o.get("value").or_else(|| o.get("Value")).unwrap_or(&Value::Null);
        out.insert(key.clone(), value.clone());
    }
    Ok(Value::Object(out))
}

fn has(v: &Value, k: &Value) -> Result<Value, Fault> {
    Ok(Value::Bool(match (v, k) {
        (Value::Null, _) => false,
        (Value::Object(o), Value::String(k)) => o.contains_key(k),
        (Value::Array(a), Value::Number(_)) => {
            let i = num(k).unwrap_or(-1.0);
            i >= 0.0 && i < a.len() as f64
        }
        _ => {
            return Err(err(format!(
                "Cannot check whether {} has a {} key",
                super::values::type_name(v),
                super::values::type_name(k)
            )));
        }
    }))
}

/// jq 1.6's containment: values of different kinds never contain each other.
fn contains(a: &Value, b: &Value) -> bool {
    if kind_rank(a) != kind_rank(b) {
        return false;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => y
            .iter()
            .all(|(k, bv)| x.get(k).is_some_and(|av| contains(av, bv))),
        (Value::Array(x), Value::Array(y)) => y.iter().all(|bv| x.iter().any(|av| contains(av, bv))),
        (Value::String(x), Value::String(y)) => x.contains(y.as_str()),
        _ => compare(a, b) == Ordering::Equal,
    }
}

fn split(s: &str, sep: &str) -> Value {
    if s.is_empty() {
        return Value::Array(Vec::new());
    }
    let parts: Vec<Value> = if sep.is_empty() {
        s.chars().map(|c| Value::String(c.to_string())).collect()
    } else {
        s.split(sep).map(|p| Value::String(p.to_owned())).collect()
    };
    Value::Array(parts)
}

/// jq 1.6: nulls join as "", numbers and booleans as JSON, strings as themselves.
fn join(v: &Value, sep: &Value) -> Result<Value, Fault> {
    let mut acc: Option<String> = None;
    for item in iterate(v)? {
        let mut s = match acc.take() {
            None => String::new(),
            Some(mut s) => {
                match sep {
                    Value::String(sep) => s.push_str(sep),
                    Value::Null => {}
                    other => return Err(err(format!("string and {} cannot be added", describe(other)))),
                }
                s
            }
        };
        match item {
            Value::Null => {}
            Value::String(x) => s.push_str(x),
            Value::Number(_) | Value::Bool(_) => write_json(&mut s, item)?,
            other => return Err(err(format!("string and {} cannot be added", describe(other)))),
        }
        acc = Some(s);
    }
    Ok(Value::String(acc.unwrap_or_default()))
}
