//! A Port entity as the bulk and single upsert routes take it (what mapping produces).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use ocean_support::json_text::{write_object, write_str, write_value};

/// An entity to upsert: what a mapping makes of one source item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    /// A string, or a search query object that Port resolves to one entity.
    pub identifier: Value,
    /// The entity's display title (normally a string); left out of the body when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<Value>,
    /// The blueprint the entity belongs to (not sent in the body: the upsert routes take it in the path).
    pub blueprint: String,
    /// The owning team(s): a team name, a list of them, or a search query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<Value>,
    /// An icon name from Port's set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<Value>,
    /// Property values by the blueprint's property identifiers.
    #[serde(default)]
    pub properties: Map<String, Value>,
    /// Related entities by relation identifier: an identifier, a list of them, or a search query.
    #[serde(default)]
    pub relations: Map<String, Value>,
}

impl Entity {
    /// Appends the entity's compact JSON, the same bytes as `serde_json::to_writer`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"identifier\":");
        write_value(out, &self.identifier);
        let optional = |out: &mut Vec<u8>, name: &[u8], value: &Option<Value>| {
            if let Some(v) = value {
                out.extend_from_slice(name);
                write_value(out, v);
            }
        };
        optional(out, b",\"title\":", &self.title);
        out.extend_from_slice(b",\"blueprint\":");
        write_str(out, &self.blueprint);
        optional(out, b",\"team\":", &self.team);
        optional(out, b",\"icon\":", &self.icon);
        out.extend_from_slice(b",\"properties\":");
        write_object(out, self.properties.iter());
        out.extend_from_slice(b",\"relations\":");
        write_object(out, self.relations.iter());
        out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn write_json_matches_serde() {
        let full: Entity = serde_json::from_value(json!({
            "identifier": {"combinator": "and", "rules": []}, "title": "T\"", "blueprint": "bp",
            "team": ["a"], "icon": "Git", "properties": {"n": 1.5, "s": "x"}, "relations": {"r": null}
        }))
        .unwrap();
        let bare: Entity = serde_json::from_value(json!({"identifier": "i", "blueprint": "b"})).unwrap();
        for entity in [full, bare] {
            let mut out = Vec::new();
            entity.write_json(&mut out);
            assert_eq!(out, serde_json::to_vec(&entity).unwrap());
        }
    }
}
