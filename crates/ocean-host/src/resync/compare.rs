//! Whether Port already holds an entity as this resync would write it, so
//! unchanged entities cost no upsert. Compares what Ocean compares: title,
//! team, icon, properties and relations, with null and missing as one.

use serde_json::{Map, Value};

use ocean_port::Entity;

fn teams(value: Option<&Value>) -> Vec<&str> {
    let mut teams: Vec<&str> = match value {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    teams.sort_unstable();
    teams
}

fn present(value: Option<&Value>) -> Option<&Value> {
    value.filter(|v| !v.is_null())
}

/// With `merge`, keys Port has beyond ours are kept by the upsert and so do not count.
fn same_fields(ours: &Map<String, Value>, theirs: Option<&Value>, merge: bool) -> bool {
    let empty = Map::new();
    let theirs = theirs.and_then(Value::as_object).unwrap_or(&empty);
    let ours_match = ours
        .iter()
        .all(|(k, v)| present(Some(v)) == present(theirs.get(k)));
    ours_match && (merge || theirs.iter().all(|(k, v)| v.is_null() || ours.contains_key(k)))
}

/// `existing` is the entity as Port's search returns it.
pub fn unchanged(desired: &Entity, existing: &Value, merge: bool) -> bool {
    present(desired.title.as_ref()) == present(existing.get("title"))
        && (desired.icon.is_none() || present(desired.icon.as_ref()) == present(existing.get("icon")))
        && (desired.team.is_none() && merge || teams(desired.team.as_ref()) == teams(existing.get("team")))
        && same_fields(&desired.properties, existing.get("properties"), merge)
        && same_fields(&desired.relations, existing.get("relations"), merge)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entity() -> Entity {
        serde_json::from_value(json!({"identifier": "a", "title": "A", "blueprint": "b",
            "properties": {"x": 1, "y": null}, "relations": {"r": "t"}}))
        .expect("entity")
    }

    #[test]
    fn equal_entities_are_unchanged_and_null_equals_missing() {
        let stored = json!({"identifier": "a", "title": "A", "team": [], "properties": {"x": 1},
            "relations": {"r": "t"}});
        assert!(unchanged(&entity(), &stored, true));
        assert!(unchanged(&entity(), &stored, false));
    }

    #[test]
    fn any_difference_is_a_change() {
        let base = json!({"identifier": "a", "title": "A", "properties": {"x": 1}, "relations": {"r": "t"}});
        for (pointer, value) in [
            ("/title", json!("B")),
            ("/properties/x", json!(2)),
            ("/relations/r", json!("u")),
        ] {
            let mut stored = base.clone();
            if let Some(slot) = stored.pointer_mut(pointer) {
                *slot = value;
            }
            assert!(!unchanged(&entity(), &stored, true), "{pointer}");
        }
    }

    #[test]
    fn extra_properties_in_port_matter_only_without_merge() {
        let stored = json!({"identifier": "a", "title": "A", "properties": {"x": 1, "z": "kept"},
            "relations": {"r": "t"}});
        assert!(unchanged(&entity(), &stored, true));
        assert!(!unchanged(&entity(), &stored, false));
    }
}
