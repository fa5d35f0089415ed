//! Settings, read as Ocean reads them: `OCEAN__`-prefixed environment
//! variables with `__` for nesting, over an optional `config.yaml` whose values
//! may be `{{ from env NAME }}`. The integration's own fields are checked
//! against `.port/spec.yaml`. Faults name the variable and what it expects;
//! secrets are never shown.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value, json};

use crate::secret::Secret;

/// Every fixed variable the settings read (the integration's own fields come
/// from `.port/spec.yaml` as `OCEAN__INTEGRATION__CONFIG__<FIELD_IN_UPPER_SNAKE>`).
pub const VARIABLES: &[&str] = &[
    "OCEAN__PORT__CLIENT_ID",
    "OCEAN__PORT__CLIENT_SECRET",
    "OCEAN__PORT__BASE_URL",
    "OCEAN__INTEGRATION__IDENTIFIER",
    "OCEAN__INTEGRATION__TYPE",
    "OCEAN__EVENT_LISTENER__TYPE",
    "OCEAN__EVENT_LISTENER__INTERVAL",
    "OCEAN__EVENT_LISTENER__RESYNC_ON_START",
    "OCEAN__SCHEDULED_RESYNC_INTERVAL",
    "OCEAN__INITIALIZE_PORT_RESOURCES",
    "OCEAN__HTTP__HOST",
    "OCEAN__HTTP__PORT",
    "OCEAN__RETRY__MAX_ATTEMPTS",
    "OCEAN__RETRY__BASE_DELAY_MS",
    "OCEAN__RETRY__MAX_TOTAL_WAIT_SECS",
];

/// The variable for one of the integration's fields: `codecovToken` → `OCEAN__INTEGRATION__CONFIG__CODECOV_TOKEN`.
pub fn integration_variable(field: &str) -> String {
    format!("OCEAN__INTEGRATION__CONFIG__{}", camel_to_env(field))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerKind {
    Once,
    Polling,
    WebhooksOnly,
    /// Ocean's `WEBHOOK` listener: Port calls the integration; here it is served like WEBHOOKS_ONLY.
    Webhook,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub port_base_url: String,
    pub port_client_id: String,
    pub port_client_secret: Secret,
    pub integration_identifier: String,
    pub integration_type: String,
    /// The integration's fields (camelCase, as in `.port/spec.yaml`), defaults applied.
    pub integration_config: Map<String, Value>,
    pub listener: ListenerKind,
    /// Seconds between polls of Port's resync requests (POLLING).
    pub polling_interval_secs: u64,
    pub resync_on_start: bool,
    /// Minutes between scheduled resyncs, with any listener.
    pub scheduled_resync_interval: Option<u64>,
    pub initialize_port_resources: bool,
    pub http_host: String,
    pub http_port: u16,
    /// Retry policy for every outgoing call (this project's addition to Ocean's settings).
    pub retry: crate::retry::RetryPolicy,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct SettingError {
    /// The environment variable a user would set to fix it.
    pub variable: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid settings:\n  {}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n  "))]
pub struct SettingErrors(pub Vec<SettingError>);

/// One field of the integration's config, as `.port/spec.yaml` declares it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct SpecField {
    pub name: String,
    #[serde(default)]
    pub required: bool,
    #[serde(rename = "type", default = "string_type")]
    pub kind: String,
    #[serde(default)]
    pub sensitive: bool,
    #[serde(default)]
    pub default: Option<Value>,
    #[serde(default)]
    pub description: String,
}

fn string_type() -> String {
    "string".into()
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct IntegrationSpec {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub configurations: Vec<SpecField>,
}

impl IntegrationSpec {
    pub fn parse(text: &str) -> Result<Self, String> {
        serde_norway::from_str(text).map_err(|e| format!(".port/spec.yaml: {e}"))
    }

    pub fn is_sensitive(&self, field: &str) -> bool {
        self.configurations.iter().any(|f| f.name == field && f.sensitive)
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

/// `OCEAN__A__B=v` → `{"a": {"b": v}}`; values that look like JSON arrays,
/// objects or booleans are read as such, everything else is a string.
fn env_tree(vars: &BTreeMap<String, String>) -> Map<String, Value> {
    let mut root = Map::new();
    for (name, raw) in vars {
        let Some(path) = name.strip_prefix("OCEAN__") else {
            continue;
        };
        let keys: Vec<String> = path.split("__").map(|k| k.to_ascii_lowercase()).collect();
        let trimmed = raw.trim();
        let value = if trimmed.starts_with('[') || trimmed.starts_with('{') {
            serde_json::from_str(trimmed).unwrap_or_else(|_| json!(raw))
        } else {
            json!(raw)
        };
        insert_path(&mut root, &keys, value);
    }
    root
}

fn insert_path(node: &mut Map<String, Value>, keys: &[String], value: Value) {
    let Some((first, rest)) = keys.split_first() else {
        return;
    };
    if rest.is_empty() {
        node.insert(first.clone(), value);
        return;
    }
    let entry = node.entry(first.clone()).or_insert_with(|| json!({}));
    if !entry.is_object() {
        *entry = json!({});
    }
    if let Value::Object(child) = entry {
        insert_path(child, rest, value);
    }
}

/// Replaces `{{ from env NAME }}` in config.yaml values.
fn expand_env(value: &mut Value, vars: &BTreeMap<String, String>) {
    match value {
        Value::String(text) => {
            let trimmed = text.trim();
            if let Some(inner) = trimmed.strip_prefix("{{").and_then(|t| t.strip_suffix("}}")) {
                let words: Vec<&str> = inner.split_whitespace().collect();
                if let ["from", "env", name] = words.as_slice() {
                    *value = vars.get(*name).map_or(Value::Null, |v| json!(v));
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| expand_env(v, vars)),
        Value::Object(map) => map.values_mut().for_each(|v| expand_env(v, vars)),
        _ => {}
    }
}

/// Deep-merges `over` into `base` (environment over file).
fn overlay(base: &mut Map<String, Value>, over: Map<String, Value>) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(Value::Object(b)), Value::Object(o)) => overlay(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Ocean's config.yaml uses camelCase keys; the environment, snake_case.
fn normalise_keys(map: &mut Map<String, Value>) {
    let entries: Vec<(String, Value)> = std::mem::take(map).into_iter().collect();
    for (key, mut value) in entries {
        if let Value::Object(inner) = &mut value {
            normalise_keys(inner);
        }
        let snake: String = key
            .chars()
            .flat_map(|c| {
                if c.is_uppercase() {
                    vec!['_', c.to_ascii_lowercase()]
                } else {
                    vec![c]
                }
            })
            .collect();
        map.insert(snake, value);
    }
}

fn text(tree: &Map<String, Value>, path: &[&str]) -> Option<String> {
    let mut node = tree.get(path[0])?;
    for key in &path[1..] {
        node = node.get(key)?;
    }
    match node {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn variable(path: &[&str]) -> String {
    format!(
        "OCEAN__{}",
        path.iter()
            .map(|k| k.to_ascii_uppercase())
            .collect::<Vec<_>>()
            .join("__")
    )
}

impl Settings {
    /// Reads settings from `vars` (the process environment in production) over
    /// the optional config file.
    pub fn load(
        vars: &BTreeMap<String, String>,
        config_file: Option<&Path>,
        spec: &IntegrationSpec,
    ) -> Result<Settings, SettingErrors> {
        let mut errors = Vec::new();
        let mut tree = Map::new();
        if let Some(path) = config_file {
            match std::fs::read_to_string(path) {
                Ok(text) => match serde_norway::from_str::<Value>(&text) {
                    Ok(mut value) => {
                        expand_env(&mut value, vars);
                        if let Value::Object(mut map) = value {
                            normalise_keys(&mut map);
                            tree = map;
                        }
                    }
                    Err(e) => errors.push(SettingError {
                        variable: path.display().to_string(),
                        message: e.to_string(),
                    }),
                },
                Err(e) => errors.push(SettingError {
                    variable: path.display().to_string(),
                    message: e.to_string(),
                }),
            }
        }
        overlay(&mut tree, env_tree(vars));

        let mut required = |path: &[&str], what: &str| {
            text(&tree, path).unwrap_or_else(|| {
                errors.push(SettingError {
                    variable: variable(path),
                    message: format!("is required: {what}"),
                });
                String::new()
            })
        };
        let client_id = required(&["port", "client_id"], "the Port client ID (Port → Credentials)");
        let client_secret = required(
            &["port", "client_secret"],
            "the Port client secret (Port → Credentials)",
        );
        let identifier = text(&tree, &["integration", "identifier"]).unwrap_or_else(|| spec.kind.clone());
        let integration_type = text(&tree, &["integration", "type"]).unwrap_or_else(|| spec.kind.clone());
        if integration_type != spec.kind {
            errors.push(SettingError {
                variable: variable(&["integration", "type"]),
                message: format!(
                    "this build is the {:?} integration, got {integration_type:?}",
                    spec.kind
                ),
            });
        }
        let listener = match text(&tree, &["event_listener", "type"])
            .as_deref()
            .map(str::to_ascii_uppercase)
        {
            None => ListenerKind::Polling,
            Some(kind) => match kind.as_str() {
                "ONCE" => ListenerKind::Once,
                "POLLING" => ListenerKind::Polling,
                "WEBHOOKS_ONLY" => ListenerKind::WebhooksOnly,
                "WEBHOOK" => ListenerKind::Webhook,
                other => {
                    errors.push(SettingError {
                        variable: variable(&["event_listener", "type"]),
                        message: format!("must be ONCE, POLLING, WEBHOOKS_ONLY or WEBHOOK, got {other:?}"),
                    });
                    ListenerKind::Polling
                }
            },
        };
        let mut number = |path: &[&str], default: Option<u64>| -> Option<u64> {
            match text(&tree, path) {
                None => default,
                Some(v) => v.trim().parse::<u64>().map(Some).unwrap_or_else(|_| {
                    errors.push(SettingError {
                        variable: variable(path),
                        message: format!("must be a whole number, got {v:?}"),
                    });
                    default
                }),
            }
        };
        let scheduled = number(&["scheduled_resync_interval"], None).filter(|m| *m > 0);
        let polling_interval = number(&["event_listener", "interval"], Some(60))
            .unwrap_or(60)
            .max(1);
        let http_port = number(&["http", "port"], Some(8000)).unwrap_or(8000);
        let retry_default = crate::retry::RetryPolicy::default();
        let retry = crate::retry::RetryPolicy {
            max_attempts: number(
                &["retry", "max_attempts"],
                Some(u64::from(retry_default.max_attempts)),
            )
            .map_or(retry_default.max_attempts, |n| n.clamp(1, 100) as u32),
            base_delay: number(&["retry", "base_delay_ms"], None)
                .map_or(retry_default.base_delay, std::time::Duration::from_millis),
            max_delay: retry_default.max_delay,
            max_total_wait: number(&["retry", "max_total_wait_secs"], None)
                .map_or(retry_default.max_total_wait, std::time::Duration::from_secs),
        };
        let mut flag =
            |path: &[&str], default: bool| match text(&tree, path).as_deref().map(str::to_ascii_lowercase) {
                None => default,
                Some(v) if ["true", "1", "yes"].contains(&v.as_str()) => true,
                Some(v) if ["false", "0", "no"].contains(&v.as_str()) => false,
                Some(v) => {
                    errors.push(SettingError {
                        variable: variable(path),
                        message: format!("must be true or false, got {v:?}"),
                    });
                    default
                }
            };
        let initialize = flag(&["initialize_port_resources"], true);
        let resync_on_start = flag(&["event_listener", "resync_on_start"], true);
        let integration_config = integration_fields(&tree, spec, &mut errors);
        let http_port = u16::try_from(http_port).unwrap_or_else(|_| {
            errors.push(SettingError {
                variable: variable(&["http", "port"]),
                message: "must be a port number".into(),
            });
            8000
        });
        if !errors.is_empty() {
            return Err(SettingErrors(errors));
        }
        Ok(Settings {
            port_base_url: text(&tree, &["port", "base_url"])
                .unwrap_or_else(|| "https://api.getport.io".into()),
            port_client_id: client_id,
            port_client_secret: Secret::new(client_secret),
            integration_identifier: identifier,
            integration_type,
            integration_config,
            listener,
            polling_interval_secs: polling_interval,
            resync_on_start,
            scheduled_resync_interval: scheduled,
            initialize_port_resources: initialize,
            http_host: text(&tree, &["http", "host"]).unwrap_or_else(|| "0.0.0.0".into()),
            http_port,
            retry,
        })
    }
}

/// The integration's fields: given ones checked against their declared type,
/// missing ones defaulted or reported.
fn integration_fields(
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

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> IntegrationSpec {
        IntegrationSpec::parse(include_str!("../../.port/spec.yaml")).expect("the shipped spec parses")
    }

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn minimal() -> Vec<(&'static str, &'static str)> {
        vec![
            ("OCEAN__PORT__CLIENT_ID", "id"),
            ("OCEAN__PORT__CLIENT_SECRET", "s3cret"),
            ("OCEAN__INTEGRATION__CONFIG__CODECOV_TOKEN", "tok3n"),
            ("OCEAN__INTEGRATION__CONFIG__CODECOV_OWNERS", r#"["a","b"]"#),
        ]
    }

    #[test]
    fn reads_oceans_variables_with_defaults() {
        let mut pairs = minimal();
        pairs.push(("OCEAN__EVENT_LISTENER__TYPE", "once"));
        pairs.push(("OCEAN__SCHEDULED_RESYNC_INTERVAL", "30"));
        let settings = Settings::load(&vars(&pairs), None, &spec()).expect("valid");
        assert_eq!(settings.listener, ListenerKind::Once);
        assert_eq!(settings.scheduled_resync_interval, Some(30));
        assert_eq!(settings.integration_config["codecovOwners"], json!(["a", "b"]));
        assert_eq!(
            settings.integration_config["codecovUrl"],
            "https://api.codecov.io"
        );
        assert_eq!(settings.port_base_url, "https://api.getport.io");
        assert_eq!(settings.http_port, 8000);
        assert!(!format!("{settings:?}").contains("s3cret"));
    }

    #[test]
    fn lists_also_accept_commas() {
        let mut pairs = minimal();
        pairs[3] = ("OCEAN__INTEGRATION__CONFIG__CODECOV_OWNERS", "a, b");
        let settings = Settings::load(&vars(&pairs), None, &spec()).expect("valid");
        assert_eq!(settings.integration_config["codecovOwners"], json!(["a", "b"]));
    }

    #[test]
    fn faults_name_the_variable_and_hide_secrets() {
        let pairs = [
            ("OCEAN__PORT__CLIENT_ID", "id"),
            ("OCEAN__INTEGRATION__CONFIG__CODECOV_URL", "ftp://x"),
            ("OCEAN__EVENT_LISTENER__TYPE", "KAFKA"),
            (
                "OCEAN__INTEGRATION__CONFIG__CODECOV_TOKEN",
                "{\"not\": \"a string\"}",
            ),
        ];
        let errors = Settings::load(&vars(&pairs), None, &spec())
            .expect_err("invalid")
            .to_string();
        assert!(
            errors.contains("OCEAN__PORT__CLIENT_SECRET: is required"),
            "{errors}"
        );
        assert!(
            errors.contains("OCEAN__INTEGRATION__CONFIG__CODECOV_URL: must be an http(s) URL"),
            "{errors}"
        );
        assert!(
            errors.contains("OCEAN__INTEGRATION__CONFIG__CODECOV_OWNERS: is required"),
            "{errors}"
        );
        assert!(
            errors.contains("OCEAN__EVENT_LISTENER__TYPE: must be ONCE"),
            "{errors}"
        );
        assert!(
            errors.contains("OCEAN__INTEGRATION__CONFIG__CODECOV_TOKEN: must be string, got (hidden)"),
            "{errors}"
        );
    }

    #[test]
    fn config_yaml_reads_env_templates_and_env_wins() {
        let dir = std::env::temp_dir().join(format!("ocean-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("config.yaml");
        std::fs::write(
            &file,
            "port:\n  clientId: \"{{ from env MY_ID }}\"\n  clientSecret: file-secret\nintegration:\n  identifier: from-file\n  config:\n    codecovToken: t\n    codecovOwners: [\"x\"]\n",
        )
        .expect("write");
        let settings = Settings::load(
            &vars(&[
                ("MY_ID", "templated"),
                ("OCEAN__INTEGRATION__IDENTIFIER", "from-env"),
            ]),
            Some(&file),
            &spec(),
        )
        .expect("valid");
        assert_eq!(settings.port_client_id, "templated");
        assert_eq!(settings.integration_identifier, "from-env");
        assert_eq!(settings.integration_config["codecovOwners"], json!(["x"]));
        let _ = std::fs::remove_dir_all(dir);
    }
}
