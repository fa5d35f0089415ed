//! The integration's own fields, as `.port/spec.yaml` declares them, and how
//! given values are checked against their declared types.

use serde_json::{Map, Value, json};

use super::SettingError;

/// The variable for one of the integration's fields: `apiToken` → `OCEAN__INTEGRATION__CONFIG__API_TOKEN`.
pub fn integration_variable(field: &str) -> String {
    format!("OCEAN__INTEGRATION__CONFIG__{}", camel_to_env(field))
}

/// One field of the integration's config, as `.port/spec.yaml` declares it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct SpecField {
    /// The field's name in camelCase, as in `config.yaml` (its variable: [`integration_variable`]).
    pub name: String,
    /// The start fails when neither a value nor a default is given.
    #[serde(default)]
    pub required: bool,
    /// The declared type (`string`, `url`, `boolean`, `integer`, `array`, ...); values are checked
    /// against it. Defaults to `string`.
    #[serde(rename = "type", default = "string_type")]
    pub kind: String,
    /// A credential: its value is never shown in a fault or the reference.
    #[serde(default)]
    pub sensitive: bool,
    /// Applied when the field is not given.
    #[serde(default)]
    pub default: Option<Value>,
    /// What the field is for, shown in faults and the reference.
    #[serde(default)]
    pub description: String,
}

fn string_type() -> String {
    "string".into()
}

/// The integration's `.port/spec.yaml`, as far as the host reads it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct IntegrationSpec {
    /// The integration type (the spec's `type`, e.g. `codecov`).
    #[serde(rename = "type")]
    pub kind: String,
    /// The integration's name as Port shows it (e.g. `Codecov`).
    #[serde(default)]
    pub title: Option<String>,
    /// The integration's own fields (`OCEAN__INTEGRATION__CONFIG__*`).
    #[serde(default)]
    pub configurations: Vec<SpecField>,
}

/// A `.port/spec.yaml` that does not parse.
#[derive(Debug, thiserror::Error)]
#[error(".port/spec.yaml: {0}")]
pub struct SpecError(#[from] serde_norway::Error);

impl IntegrationSpec {
    /// Parses the spec's YAML text.
    pub fn parse(text: &str) -> Result<Self, SpecError> {
        serde_norway::from_str(text).map_err(SpecError)
    }
}

fn snake_to_camel(name: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn camel_to_env(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_uppercase() && !out.is_empty() {
            out.push('_');
        }
        out.extend(c.to_uppercase());
    }
    out
}

/// The integration's fields: given ones checked against their declared type,
/// missing ones defaulted or reported.
pub(super) fn integration_fields(
    tree: &Map<String, Value>,
    spec: &IntegrationSpec,
    errors: &mut Vec<SettingError>,
) -> Map<String, Value> {
    let given: Map<String, Value> = tree
        .get("integration")
        .and_then(|i| i.get("config"))
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (snake_to_camel(k), v.clone())).collect())
        .unwrap_or_default();
    let mut fields = Map::new();
    for field in &spec.configurations {
        let env = integration_variable(&field.name);
        let value = given
            .get(&field.name)
            .filter(|v| !v.is_null() && *v != &json!(""));
        let Some(value) = value.cloned().or_else(|| field.default.clone()) else {
            if field.required {
                errors.push(SettingError {
                    variable: env,
                    message: format!("is required: {}", field.description),
                });
            }
            continue;
        };
        let shown = |v: &Value| {
            if field.sensitive {
                "(hidden)".to_string()
            } else {
                v.to_string()
            }
        };
        let checked = match (field.kind.as_str(), value) {
            ("array", Value::Array(items)) => Ok(Value::Array(items)),
            ("array", Value::String(list)) => Ok(Value::Array(
                list.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| json!(s))
                    .collect(),
            )),
            ("url", Value::String(url)) if url.starts_with("http://") || url.starts_with("https://") => {
                Ok(json!(url))
            }
            ("url", other) => Err(format!("must be an http(s) URL, got {}", shown(&other))),
            ("boolean", Value::Bool(b)) => Ok(json!(b)),
            ("boolean", Value::String(b)) if b == "true" || b == "false" => Ok(json!(b == "true")),
            ("integer", Value::Number(n)) => Ok(Value::Number(n)),
            ("integer", Value::String(n)) if n.parse::<i64>().is_ok() => {
                Ok(json!(n.parse::<i64>().unwrap_or(0)))
            }
            ("string", Value::String(s)) => Ok(json!(s)),
            (kind, other) => Err(format!("must be {kind}, got {}", shown(&other))),
        };
        match checked {
            Ok(value) => {
                fields.insert(field.name.clone(), value);
            }
            Err(message) => errors.push(SettingError {
                variable: env,
                message,
            }),
        }
    }
    fields
}
