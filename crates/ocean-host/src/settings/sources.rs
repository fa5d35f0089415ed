//! Where settings come from: the environment (`OCEAN__A__B` nests as `a.b`)
//! over an optional Ocean-style `config.yaml` (camelCase keys, `{{ from env NAME }}`).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value, json};

use super::SettingError;

/// The settings tree: the config file (if any) with the environment laid over it.
/// A file that cannot be read or parsed is reported under its path.
pub(super) fn read_tree(
    vars: &BTreeMap<String, String>,
    config_file: Option<&Path>,
    errors: &mut Vec<SettingError>,
) -> Map<String, Value> {
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
    tree
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

pub(super) fn text(tree: &Map<String, Value>, path: &[&str]) -> Option<String> {
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

pub(super) fn variable(path: &[&str]) -> String {
    format!(
        "OCEAN__{}",
        path.iter()
            .map(|k| k.to_ascii_uppercase())
            .collect::<Vec<_>>()
            .join("__")
    )
}

/// A true/false setting (`true`, `1`, `yes` / `false`, `0`, `no`, any case);
/// anything else is reported and the default used.
pub(super) fn flag(
    tree: &Map<String, Value>,
    path: &[&str],
    default: bool,
    errors: &mut Vec<SettingError>,
) -> bool {
    match text(tree, path).as_deref().map(str::to_ascii_lowercase) {
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
    }
}
