//! A raw item kept as JSON text and parsed only as deep as the mappings look:
//! `.head.totals.files` reads three small objects, never the whole item.

use std::cell::{OnceCell, RefCell};

use jaq_json::Val;
use serde_json::Value;
use serde_json::value::RawValue;

use super::tape::{Step, Tape};
use super::value::{from_json, json_of_raw};

/// What a path reached: a raw value, or nothing (jq's `null` for a missing key).
#[derive(Clone, Copy)]
pub enum Found<'a> {
    /// The value's JSON text, known to be valid.
    Raw(&'a str),
    /// An object indexed in the item's tape, and its text.
    Indexed(&'a Tape<'a>, u32, &'a str),
    /// The path reached nothing (a missing key, or a step through `null`).
    Null,
}

impl<'a> Found<'a> {
    /// The JSON text, or `None` for a missing value.
    pub fn raw(self) -> Option<&'a str> {
        match self {
            Found::Raw(raw) | Found::Indexed(_, _, raw) => Some(raw),
            Found::Null => None,
        }
    }

    /// The value as a serde value, numbers as jq 1.6 reads them; `Null` for nothing.
    pub fn to_json(self) -> Result<Value, serde_json::Error> {
        match self {
            Found::Null => Ok(Value::Null),
            Found::Indexed(tape, index, _) => tape.object_json(index),
            Found::Raw(raw) => json_of_raw(raw),
        }
    }

    /// The value as a jaq value (via [`Found::to_json`]).
    pub fn to_val(self) -> Result<Val, serde_json::Error> {
        self.to_json().map(|v| from_json(&v))
    }
}

/// An object's members in order. Objects in items are small, so a scan beats
/// hashing; the last duplicate wins, as in jq.
struct ObjectIndex<'a>(Vec<(&'a str, &'a RawValue)>);

impl<'a> ObjectIndex<'a> {
    fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.0.iter().rev().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for ObjectIndex<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> serde::de::Visitor<'de> for Members {
            type Value = ObjectIndex<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(member) = map.next_entry::<&'de str, &'de RawValue>()? {
                    members.push(member);
                }
                Ok(ObjectIndex(members))
            }
        }
        d.deserialize_map(Members)
    }
}

/// An item whose text does not convert to a value (kept as the parser's
/// message: the item is shared by every field, so the error is cloned).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the item does not convert to JSON: {0}")]
pub struct NotJson(pub String);

/// One raw item as the mapper reads it: its JSON text, indexed and converted only as far as the
/// expressions look, each part at most once. Not `Sync`: one item is mapped on one thread.
pub struct LazyItem<'a> {
    raw: &'a str,
    /// Every nested object indexed in one pass; `None` when the item was declined.
    tape: OnceCell<Option<Tape<'a>>>,
    /// Objects already indexed, by the address of their text.
    objects: RefCell<Vec<(usize, Option<ObjectIndex<'a>>)>>,
    whole: OnceCell<Result<Val, NotJson>>,
    whole_value: OnceCell<Result<Value, NotJson>>,
}

impl<'a> LazyItem<'a> {
    /// An item over JSON text serde_json already validated (a [`RawValue`]).
    pub fn new(raw: &'a RawValue) -> Self {
        Self::valid(raw.get())
    }

    /// Checks that `text` is one JSON value while indexing its top level, in a
    /// single pass (a separate validation would scan the item twice).
    pub fn parse(text: &'a str) -> Result<Self, serde_json::Error> {
        let item = Self::valid(text);
        if let Some(tape) = Tape::scan(text) {
            item.tape.get_or_init(|| Some(tape));
            return Ok(item);
        }
        item.tape.get_or_init(|| None);
        // An object whose keys have escapes cannot be indexed by borrowing;
        // it is validated on its own and left to jaq, as in `field`.
        let index = match first_byte(text) {
            b'{' => serde_json::from_str::<ObjectIndex<'a>>(text).ok(),
            _ => None,
        };
        if index.is_none() {
            serde_json::from_str::<serde::de::IgnoredAny>(text)?;
        }
        item.objects.borrow_mut().push((text.as_ptr() as usize, index));
        Ok(item)
    }

    /// An item over text already known to be one valid JSON value.
    pub(crate) fn valid(raw: &'a str) -> Self {
        Self {
            raw,
            tape: OnceCell::new(),
            objects: RefCell::new(Vec::new()),
            whole: OnceCell::new(),
            whole_value: OnceCell::new(),
        }
    }

    /// The whole item as a jaq value, converted once and shared by every field.
    pub fn whole(&self) -> Result<&Val, NotJson> {
        self.whole
            .get_or_init(|| Found::Raw(self.raw).to_val().map_err(|e| NotJson(e.to_string())))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The whole item as a serde value, converted once and shared by every field.
    pub fn whole_value(&self) -> Result<&Value, NotJson> {
        self.whole_value
            .get_or_init(|| self.whole_json())
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The whole item converted to a new serde value (uncached; see [`LazyItem::whole_value`]).
    pub fn whole_json(&self) -> Result<Value, NotJson> {
        Found::Raw(self.raw).to_json().map_err(|e| NotJson(e.to_string()))
    }

    /// Follows `.k1.k2...`; `None` when a step meets a value that is neither an
    /// object nor null (jq raises an error there; the caller asks jaq for it).
    pub fn path<'s>(&'s self, keys: &[String]) -> Option<Found<'s>> {
        if keys.is_empty() {
            return Some(Found::Raw(self.raw));
        }
        match self.tape() {
            Some(tape) => Self::tape_path(tape, self.raw, keys),
            None => self.scanned_path(keys),
        }
    }

    fn tape(&self) -> Option<&Tape<'a>> {
        self.tape
            .get_or_init(|| match first_byte(self.raw) {
                b'{' => Tape::scan(self.raw),
                _ => None,
            })
            .as_ref()
    }

    fn tape_path<'s>(tape: &'s Tape<'a>, raw: &'a str, keys: &[String]) -> Option<Found<'s>> {
        let mut at = tape.root(raw);
        for key in keys {
            at = tape.field(at, key)?;
        }
        Some(match at {
            Step::Raw(raw) => Found::Raw(raw),
            Step::Object(index, raw) => Found::Indexed(tape, index, raw),
            Step::Null => Found::Null,
        })
    }

    /// The path through objects indexed one level at a time, for items the tape declined.
    fn scanned_path(&self, keys: &[String]) -> Option<Found<'a>> {
        let mut at = Found::Raw(self.raw);
        for key in keys {
            at = match at.raw() {
                None => Found::Null,
                Some(raw) => match first_byte(raw) {
                    b'{' => self.field(raw, key)?,
                    b'n' => Found::Null,
                    _ => return None,
                },
            };
        }
        Some(at)
    }

    fn field(&self, raw: &'a str, key: &str) -> Option<Found<'a>> {
        let addr = raw.as_ptr() as usize;
        let mut objects = self.objects.borrow_mut();
        let index = match objects.iter().position(|(a, _)| *a == addr) {
            Some(i) => i,
            None => {
                // Keys with escapes cannot be borrowed; such objects go to jaq.
                let parsed = serde_json::from_str::<ObjectIndex<'a>>(raw).ok();
                objects.push((addr, parsed));
                objects.len() - 1
            }
        };
        let map = objects[index].1.as_ref()?;
        Some(map.get(key).map_or(Found::Null, |v| Found::Raw(v.get())))
    }
}

fn first_byte(raw: &str) -> u8 {
    raw.bytes().next().unwrap_or(b'n')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn raw(v: &Value) -> Box<RawValue> {
        RawValue::from_string(v.to_string()).unwrap()
    }

    #[test]
    fn parse_validates_the_whole_item() {
        assert!(LazyItem::parse(r#"{"a": {"b": [1, }}"#).is_err());
        assert!(LazyItem::parse(r#"{"a": 1} x"#).is_err());
        assert!(LazyItem::parse("[1, 2]").is_ok());
        let escaped = LazyItem::parse(r#"{"caf\u00e9": 1, "a": 2}"#).expect("escaped keys are valid JSON");
        assert!(escaped.path(&["a".into()]).is_none(), "left to jaq");
        let item = LazyItem::parse(r#"{"a": {"b": 2}}"#).unwrap();
        assert_eq!(
            item.path(&["a".into(), "b".into()]).unwrap().to_json().unwrap(),
            json!(2)
        );
    }

    #[test]
    fn follows_paths_like_jq() {
        let r = raw(&json!({"a": {"b": [1, 2], "n": null, "f": 1.0}, "s": "x"}));
        let item = LazyItem::new(&r);
        let get = |keys: &[&str]| {
            let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
            item.path(&keys).map(|f| f.to_json().unwrap())
        };
        assert_eq!(get(&["a", "b"]), Some(json!([1, 2])));
        assert_eq!(get(&["a", "missing", "deeper"]), Some(Value::Null));
        assert_eq!(get(&["a", "n", "x"]), Some(Value::Null));
        assert_eq!(get(&["a", "f"]), Some(json!(1)));
        assert_eq!(get(&["s", "x"]), None, "indexing a string is jq's error to raise");
        assert_eq!(
            get(&[]),
            Some(json!({"a": {"b": [1, 2], "n": null, "f": 1}, "s": "x"}))
        );
    }
}
