//! The event listener, read as Ocean reads it: one JSON variable,
//! `OCEAN__EVENT_LISTENER` (what Port's `port-ocean` chart sets, e.g.
//! `{"type":"POLLING"}`), or its fields one by one
//! (`OCEAN__EVENT_LISTENER__TYPE`, `__INTERVAL`, `__RESYNC_ON_START`), which
//! win over the JSON. Keys may be snake_case or camelCase, as Ocean's models
//! accept both. Fields of listeners this host does not run (KAFKA's `brokers`,
//! which Port's chart passes with every type) are ignored.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::sources::text;
use super::{ListenerKind, SettingError};

/// The one variable Port's chart passes the listener in.
pub const LISTENER_JSON: &str = "OCEAN__EVENT_LISTENER";
const LISTENER_TYPE: &str = "OCEAN__EVENT_LISTENER__TYPE";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerSettings {
    pub kind: ListenerKind,
    /// Seconds between polls of Port's resync requests (POLLING).
    pub polling_interval_secs: u64,
    pub resync_on_start: bool,
}

/// Seconds between polls of Port's resync requests (POLLING), as Ocean's.
pub const DEFAULT_POLLING_INTERVAL_SECS: u64 = 60;

/// Why a listener type Ocean knows is not run here, with the fix, on one line.
pub fn unsupported_listener_message(kind: &str) -> Option<String> {
    match kind {
        "KAFKA" => Some(format!(
            "KAFKA is not supported by {} (it polls Port for resync requests instead): \
             set integration.eventListener.type=POLLING",
            crate::program_name()
        )),
        _ => None,
    }
}

/// The variable a user set the listener with, to name in a fault.
fn named(vars: &BTreeMap<String, String>) -> &'static str {
    if vars.contains_key(LISTENER_JSON) && !vars.contains_key(LISTENER_TYPE) {
        LISTENER_JSON
    } else {
        LISTENER_TYPE
    }
}

/// A field of the listener under its snake_case or camelCase name.
fn field(listener: &Map<String, Value>, snake: &str, camel: &str) -> Option<String> {
    text(listener, &[snake]).or_else(|| text(listener, &[camel]))
}

/// Reads the listener from the settings tree. A KAFKA listener is returned
/// as the only fault, so the start fails with one line that says what to set.
pub(super) fn read(
    tree: &Map<String, Value>,
    vars: &BTreeMap<String, String>,
    errors: &mut Vec<SettingError>,
) -> Result<ListenerSettings, SettingError> {
    let variable = named(vars);
    let empty = Map::new();
    let listener = match tree.get("event_listener") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(map)) => map,
        Some(other) => {
            errors.push(SettingError {
                variable: LISTENER_JSON.into(),
                message: format!(
                    "must be a JSON object such as {{\"type\":\"POLLING\"}}, got {}",
                    other.to_string().chars().take(80).collect::<String>()
                ),
            });
            &empty
        }
    };
    let kind = match field(listener, "type", "type").map(|t| t.trim().to_ascii_uppercase()) {
        None => ListenerKind::Polling,
        Some(kind) => match kind.as_str() {
            "ONCE" => ListenerKind::Once,
            "POLLING" => ListenerKind::Polling,
            "WEBHOOKS_ONLY" => ListenerKind::WebhooksOnly,
            "WEBHOOK" => ListenerKind::Webhook,
            other => {
                if let Some(message) = unsupported_listener_message(other) {
                    return Err(SettingError {
                        variable: variable.into(),
                        message,
                    });
                }
                errors.push(SettingError {
                    variable: variable.into(),
                    message: format!("type must be ONCE, POLLING, WEBHOOKS_ONLY or WEBHOOK, got {other:?}"),
                });
                ListenerKind::Polling
            }
        },
    };
    let interval = match field(listener, "interval", "interval") {
        None => DEFAULT_POLLING_INTERVAL_SECS,
        Some(v) => v.trim().parse::<u64>().unwrap_or_else(|_| {
            errors.push(SettingError {
                variable: "OCEAN__EVENT_LISTENER__INTERVAL".into(),
                message: format!("must be a whole number of seconds, got {v:?}"),
            });
            DEFAULT_POLLING_INTERVAL_SECS
        }),
    };
    let resync_on_start = match field(listener, "resync_on_start", "resyncOnStart")
        .as_deref()
        .map(str::to_ascii_lowercase)
    {
        None => true,
        Some(v) if ["true", "1", "yes"].contains(&v.as_str()) => true,
        Some(v) if ["false", "0", "no"].contains(&v.as_str()) => false,
        Some(v) => {
            errors.push(SettingError {
                variable: "OCEAN__EVENT_LISTENER__RESYNC_ON_START".into(),
                message: format!("must be true or false, got {v:?}"),
            });
            true
        }
    };
    Ok(ListenerSettings {
        kind,
        polling_interval_secs: interval.max(1),
        resync_on_start,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::sources::read_tree;

    fn listener(pairs: &[(&str, &str)]) -> (Result<ListenerSettings, SettingError>, Vec<SettingError>) {
        let vars: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut errors = Vec::new();
        let tree = read_tree(&vars, None, &mut errors);
        let read = read(&tree, &vars, &mut errors);
        (read, errors)
    }

    #[test]
    fn reads_port_charts_json_with_camel_case_keys_and_ignores_brokers() {
        let (read, errors) = listener(&[(
            "OCEAN__EVENT_LISTENER",
            r#"{"brokers":"b-1:9196,b-2:9196","type":"POLLING","resyncOnStart":false,"interval":30}"#,
        )]);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            read.expect("valid"),
            ListenerSettings {
                kind: ListenerKind::Polling,
                polling_interval_secs: 30,
                resync_on_start: false
            }
        );
        let (read, _) = listener(&[(
            "OCEAN__EVENT_LISTENER",
            r#"{"type":"webhooks_only","resync_on_start":"true"}"#,
        )]);
        assert_eq!(read.expect("valid").kind, ListenerKind::WebhooksOnly);
    }

    #[test]
    fn single_fields_win_over_the_json() {
        let (read, errors) = listener(&[
            ("OCEAN__EVENT_LISTENER", r#"{"type":"POLLING","interval":30}"#),
            ("OCEAN__EVENT_LISTENER__TYPE", "ONCE"),
        ]);
        assert!(errors.is_empty(), "{errors:?}");
        let read = read.expect("valid");
        assert_eq!(read.kind, ListenerKind::Once);
        assert_eq!(read.polling_interval_secs, 30);
    }

    #[test]
    fn kafka_is_refused_with_the_fix_on_one_line() {
        let (read, _) = listener(&[("OCEAN__EVENT_LISTENER", r#"{"type":"KAFKA","brokers":"b:9196"}"#)]);
        let fault = read.expect_err("KAFKA").to_string();
        assert!(
            fault.starts_with("OCEAN__EVENT_LISTENER: KAFKA is not supported"),
            "{fault}"
        );
        assert!(
            fault.ends_with("set integration.eventListener.type=POLLING"),
            "{fault}"
        );
        assert!(!fault.contains('\n'));
        let (read, _) = listener(&[("OCEAN__EVENT_LISTENER__TYPE", "kafka")]);
        assert!(
            read.expect_err("KAFKA")
                .to_string()
                .starts_with("OCEAN__EVENT_LISTENER__TYPE: KAFKA")
        );
    }

    #[test]
    fn faults_name_the_variable() {
        let (_, errors) = listener(&[("OCEAN__EVENT_LISTENER", "POLLING")]);
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0]
                .to_string()
                .starts_with("OCEAN__EVENT_LISTENER: must be a JSON object")
        );
        let (_, errors) = listener(&[(
            "OCEAN__EVENT_LISTENER",
            r#"{"type":"SOMETIMES","interval":"often"}"#,
        )]);
        let all = errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n");
        assert!(all.contains("OCEAN__EVENT_LISTENER: type must be ONCE"), "{all}");
        assert!(
            all.contains("OCEAN__EVENT_LISTENER__INTERVAL: must be a whole number"),
            "{all}"
        );
        let (read, errors) = listener(&[]);
        assert!(errors.is_empty());
        assert_eq!(read.expect("default").kind, ListenerKind::Polling);
    }
}
