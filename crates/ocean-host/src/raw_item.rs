//! A raw item as JSON text, cut from the source's HTTP body and handed to the
//! mapper as it is: one representation from the wire to the mapping, with no
//! document built and printed again in between.

use std::fmt;

use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

/// One item's JSON text. Equal when the texts are equal.
#[derive(Clone, Deserialize, Serialize)]
#[serde(transparent)]
pub struct RawItem(Box<RawValue>);

impl RawItem {
    /// Takes JSON text already cut from a body (by serde_json, so it is valid JSON).
    pub fn from_raw(raw: Box<RawValue>) -> Self {
        RawItem(raw)
    }

    /// An item the source built as a document (rare: constructed items).
    pub fn from_value(value: &Value) -> Self {
        // A `Value` always prints; the fallback is never taken.
        RawItem(serde_json::value::to_raw_value(value).unwrap_or_else(|_| null()))
    }

    /// The JSON text, for the mapper.
    pub fn raw(&self) -> &RawValue {
        &self.0
    }

    /// The JSON text as a string.
    pub fn get(&self) -> &str {
        self.0.get()
    }

    /// The item as a document, for the few places that need one (examples
    /// shown in Port, tests).
    pub fn to_value(&self) -> Value {
        serde_json::from_str(self.get()).unwrap_or(Value::Null)
    }

    /// Member `name` of the item's top level, as text; `None` when the item is
    /// no object or lacks it. Other members are skipped unread.
    pub fn field(&self, name: &str) -> Option<&RawValue> {
        let mut de = serde_json::Deserializer::from_str(self.get());
        de.deserialize_map(FieldOf { name }).ok().flatten()
    }

    /// Member `name` when it is a string.
    pub fn field_str(&self, name: &str) -> Option<String> {
        serde_json::from_str::<String>(self.field(name)?.get()).ok()
    }

    /// The item with member `name` set to `value`. Added by editing the text
    /// (the item is not rebuilt); an item that already has the member is
    /// rebuilt so the new value is the only one. A non-object is kept as is.
    pub fn with_member(self, name: &str, value: &Value) -> RawItem {
        let text = self.get().trim_end();
        if !text.starts_with('{') || !text.ends_with('}') {
            return self;
        }
        if self.field(name).is_some() {
            let mut doc = self.to_value();
            if let Some(fields) = doc.as_object_mut() {
                fields.insert(name.to_string(), value.clone());
            }
            return RawItem::from_value(&doc);
        }
        let body = text[1..text.len() - 1].trim();
        let mut out = String::with_capacity(text.len() + name.len() + 64);
        out.push('{');
        out.push_str(body);
        if !body.is_empty() {
            out.push(',');
        }
        // Keys and values print as JSON; neither can fail for these types.
        out.push_str(&serde_json::to_string(name).unwrap_or_default());
        out.push(':');
        out.push_str(&serde_json::to_string(value).unwrap_or_else(|_| "null".into()));
        out.push('}');
        match RawValue::from_string(out) {
            Ok(raw) => RawItem(raw),
            Err(_) => self,
        }
    }
}

fn null() -> Box<RawValue> {
    RawValue::from_string("null".to_string()).unwrap_or_default()
}

impl PartialEq for RawItem {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl fmt::Debug for RawItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.get())
    }
}

/// Finds one member of an object, skipping the others unread.
struct FieldOf<'n> {
    name: &'n str,
}

impl<'de, 'n> Visitor<'de> for FieldOf<'n> {
    type Value = Option<&'de RawValue>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == self.name {
                // The last of duplicate members wins, as when parsed whole.
                found = Some(map.next_value::<&'de RawValue>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(text: &str) -> RawItem {
        RawItem(RawValue::from_string(text.to_string()).expect("JSON"))
    }

    #[test]
    fn a_member_is_read_without_the_rest() {
        let it = item(r#"{"a": {"deep": [1, 2]}, "name": "r\u00e9po", "n": 3}"#);
        assert_eq!(it.field_str("name").as_deref(), Some("répo"));
        assert_eq!(it.field("n").map(RawValue::get), Some("3"));
        assert_eq!(it.field("missing").map(RawValue::get), None);
        assert_eq!(item("[1]").field("a").map(RawValue::get), None);
        assert_eq!(
            item(r#"{"k": 1, "k": 2}"#).field("k").map(RawValue::get),
            Some("2")
        );
    }

    #[test]
    fn a_member_is_added_to_the_text() {
        let tag = json!({"owner": "o", "name": "n\"q"});
        let added = item(r#"{"a": 1 }"#).with_member("__repository", &tag);
        assert_eq!(added.to_value(), json!({"a": 1, "__repository": tag}));
        assert_eq!(
            item("{ }").with_member("x", &json!(1)).to_value(),
            json!({"x": 1})
        );
        let replaced = item(r#"{"x": 0, "y": 2}"#).with_member("x", &json!(1));
        assert_eq!(replaced.get().matches("\"x\"").count(), 1);
        assert_eq!(replaced.to_value(), json!({"x": 1, "y": 2}));
        assert_eq!(item("[1]").with_member("x", &json!(1)).get(), "[1]");
    }
}
