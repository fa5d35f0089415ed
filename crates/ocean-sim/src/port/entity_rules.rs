//! Port's checks of an entity against its blueprint: identifier shape,
//! property types, formats, enums and required fields, and relations.

use serde_json::{Map, Value};

use super::date_time::parse_rfc3339;
use super::refusal::Refusal;

/// `^(?!\.{1,2}$)[\p{L}0-9@_.+:\\/=-]+$`, at most 1000 characters.
pub fn check_identifier(identifier: &str) -> Result<(), Refusal> {
    let allowed = |c: char| c.is_alphabetic() || c.is_ascii_digit() || "@_.+:\\/=-".contains(c);
    let ok = !identifier.is_empty()
        && identifier.chars().count() <= 1000
        && identifier != "."
        && identifier != ".."
        && identifier.chars().all(allowed);
    if ok {
        Ok(())
    } else {
        Err(Refusal::new(
            422,
            "invalid_request",
            format!(
                "Identifier \"{identifier}\" must match ^(?!\\.{{1,2}}$)[\\p{{L}}0-9@_.+:\\\\/=-]+$ (at most 1000 characters)"
            ),
        ))
    }
}

pub fn check_properties(blueprint: &Value, properties: &Map<String, Value>) -> Result<(), Refusal> {
    let empty = Map::new();
    let declared = blueprint
        .pointer("/schema/properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    for (name, value) in properties {
        let Some(spec) = declared.get(name) else {
            return Err(Refusal::new(
                422,
                "invalid_request",
                format!("Property \"{name}\" is not defined in the blueprint's schema"),
            ));
        };
        if value.is_null() {
            continue;
        }
        check_value(name, spec, value)?;
    }
    let required = blueprint.pointer("/schema/required").and_then(Value::as_array);
    for name in required.into_iter().flatten().filter_map(Value::as_str) {
        if properties.get(name).is_none_or(Value::is_null) {
            return Err(Refusal::new(
                422,
                "invalid_request",
                format!("Required property \"{name}\" is missing"),
            ));
        }
    }
    Ok(())
}

fn check_value(name: &str, spec: &Value, value: &Value) -> Result<(), Refusal> {
    let wrong = |expected: &str| {
        Refusal::new(
            422,
            "invalid_request",
            format!(
                "Property \"{name}\" must be of type {expected}, got {}",
                json_type(value)
            ),
        )
    };
    let kind = spec.get("type").and_then(Value::as_str).unwrap_or("string");
    let type_ok = match kind {
        "string" => value.is_string(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        _ => true,
    };
    if !type_ok {
        return Err(wrong(kind));
    }
    if let (Some(format), Some(text)) = (spec.get("format").and_then(Value::as_str), value.as_str()) {
        let format_ok = match format {
            "date-time" => parse_rfc3339(text).is_some(),
            "url" => url::Url::parse(text).is_ok(),
            "email" => text.contains('@'),
            _ => true,
        };
        if !format_ok {
            return Err(Refusal::new(
                422,
                "invalid_request",
                format!("Property \"{name}\" must match format \"{format}\", got {value}"),
            ));
        }
    }
    if let Some(allowed) = spec.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        {
            return Err(Refusal::new(
                422,
                "invalid_request",
                format!(
                    "Property \"{name}\" must be one of {}, got {value}",
                    Value::Array(allowed.clone())
                ),
            ));
        }
    }
    Ok(())
}

// Also in the JQ evaluator: the simulator keeps its own, independent of the code under test.
fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Checks relation names and shapes; returns the (blueprint, identifier) pairs they point at.
pub fn check_relations(
    blueprint: &Value,
    relations: &Map<String, Value>,
) -> Result<Vec<(String, String)>, Refusal> {
    let mut targets = Vec::new();
    for (name, value) in relations {
        let Some(spec) = blueprint.get("relations").and_then(|r| r.get(name)) else {
            return Err(Refusal::new(
                422,
                "invalid_request",
                format!("Relation \"{name}\" is not defined in the blueprint"),
            ));
        };
        let target = spec
            .get("target")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let many = spec.get("many").and_then(Value::as_bool).unwrap_or(false);
        match value {
            Value::Null => {}
            Value::String(id) if !many => targets.push((target, id.clone())),
            Value::Array(ids) if many && ids.iter().all(Value::is_string) => {
                targets.extend(
                    ids.iter()
                        .filter_map(Value::as_str)
                        .map(|id| (target.clone(), id.to_string())),
                );
            }
            // A search query: Port resolves it; the simulator accepts it as is.
            Value::Object(_) => {}
            _ => {
                let expected = if many {
                    "an array of identifiers"
                } else {
                    "an identifier"
                };
                return Err(Refusal::new(
                    422,
                    "invalid_request",
                    format!("Relation \"{name}\" must be {expected}"),
                ));
            }
        }
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn blueprint() -> Value {
        json!({"identifier": "svc", "schema": {"properties": {
            "files": {"type": "number"}, "at": {"type": "string", "format": "date-time"},
            "tier": {"type": "string", "enum": ["a", "b"]}}, "required": ["files"]},
            "relations": {"team": {"target": "team", "many": false}}})
    }

    fn props(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn identifiers_follow_ports_pattern() {
        assert!(check_identifier("org/repo:main@1").is_ok());
        assert!(check_identifier("répo").is_ok());
        for bad in ["", ".", "..", "a b", "a#b"] {
            assert!(check_identifier(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn properties_are_checked_against_the_schema() {
        let bp = blueprint();
        assert!(check_properties(&bp, &props(json!({"files": 3, "at": "2024-02-02T14:21:35Z"}))).is_ok());
        let refused = |p: Value| check_properties(&bp, &props(p)).expect_err("refused").message;
        assert!(refused(json!({"files": "3"})).contains("type number"));
        assert!(refused(json!({"files": 3, "at": "yesterday"})).contains("date-time"));
        assert!(refused(json!({"files": 3, "tier": "c"})).contains("one of"));
        assert!(refused(json!({"files": 3, "nope": 1})).contains("not defined"));
        assert!(refused(json!({"at": null})).contains("Required"));
    }

    #[test]
    fn relations_are_checked_and_collected() {
        let bp = blueprint();
        let targets = check_relations(&bp, &props(json!({"team": "core"}))).expect("valid");
        assert_eq!(targets, [("team".to_string(), "core".to_string())]);
        assert!(check_relations(&bp, &props(json!({"team": ["a"]}))).is_err());
        assert!(check_relations(&bp, &props(json!({"owner": "x"}))).is_err());
    }
}
