//! The Helm chart and the binary agree: every value a user sets reaches an
//! environment variable the binary reads, and a value renamed on one side
//! only fails here. (No helm binary is available; the templates are kept
//! simple enough to check as text.)

use std::collections::BTreeSet;
use std::path::Path;

use ocean_codecov::runtime::config::{IntegrationSpec, VARIABLES, integration_variable};
use serde_json::Value;

const CHART: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/helm/ocean-codecov");
/// Values handed to Kubernetes or ranged over whole, not read key by key.
const WHOLE: &[&str] = &[
    "integration.config",
    "integration.secrets",
    "resources",
    "podAnnotations",
    "ingress.annotations",
];

fn values() -> Value {
    let text = std::fs::read_to_string(Path::new(CHART).join("values.yaml")).expect("values.yaml");
    serde_norway::from_str(&text).expect("values.yaml is YAML")
}

fn templates() -> String {
    let mut all = String::new();
    for entry in std::fs::read_dir(Path::new(CHART).join("templates")).expect("templates") {
        let path = entry.expect("entry").path();
        all.push_str(&std::fs::read_to_string(&path).expect("template"));
        all.push('\n');
    }
    all
}

fn leaves(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) if !WHOLE.contains(&prefix) && !map.is_empty() => {
            for (key, child) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                leaves(child, &path, out);
            }
        }
        _ => {
            out.insert(prefix.to_string());
        }
    }
}

fn references(templates: &str) -> BTreeSet<String> {
    templates
        .match_indices(".Values.")
        .map(|(at, marker)| {
            templates[at + marker.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '_')
                .collect::<String>()
                .trim_end_matches('.')
                .to_string()
        })
        .collect()
}

/// Sprig's `snakecase` for camelCase names, as the chart applies it.
fn sprig_snakecase(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.extend(c.to_lowercase());
    }
    out
}

#[test]
fn every_value_is_used_and_every_use_has_a_value() {
    let mut defined = BTreeSet::new();
    leaves(&values(), "", &mut defined);
    let used = references(&templates());
    for path in &defined {
        assert!(
            used.contains(path),
            "values.yaml has {path}, but no template reads it"
        );
    }
    for path in &used {
        assert!(
            defined.contains(path),
            "a template reads .Values.{path}, which values.yaml does not define"
        );
    }
}

#[test]
fn every_variable_the_chart_sets_is_one_the_binary_reads() {
    let templates = templates();
    let literal: BTreeSet<&str> = templates
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- name: "))
        .filter(|name| name.starts_with("OCEAN__") && !name.contains("{{"))
        .collect();
    assert!(literal.len() >= 8, "{literal:?}");
    for name in &literal {
        assert!(
            VARIABLES.contains(name),
            "the chart sets {name}, which the binary does not read"
        );
    }
    for required in [
        "OCEAN__PORT__CLIENT_ID",
        "OCEAN__PORT__CLIENT_SECRET",
        "OCEAN__INTEGRATION__IDENTIFIER",
        "OCEAN__EVENT_LISTENER__TYPE",
    ] {
        assert!(literal.contains(required), "the chart does not set {required}");
    }
    // integration.config and integration.secrets: each key becomes a variable by sprig's snakecase.
    assert_eq!(
        templates
            .matches("OCEAN__INTEGRATION__CONFIG__{{ $key | snakecase | upper }}")
            .count(),
        2
    );
    let spec = IntegrationSpec::parse(include_str!("../.port/spec.yaml")).expect("spec");
    for field in &spec.configurations {
        let from_chart = format!(
            "OCEAN__INTEGRATION__CONFIG__{}",
            sprig_snakecase(&field.name).to_uppercase()
        );
        assert_eq!(from_chart, integration_variable(&field.name), "{}", field.name);
    }
}

#[test]
fn defaults_match_the_binary_and_port_ocean() {
    let values = values();
    let spec = IntegrationSpec::parse(include_str!("../.port/spec.yaml")).expect("spec");
    assert_eq!(values["integration"]["type"], Value::String(spec.kind.clone()));
    assert_eq!(values["port"]["baseUrl"], "https://api.getport.io");
    assert_eq!(values["service"]["port"], 8000);
    assert_eq!(values["integration"]["eventListener"]["type"], "POLLING");
    let config = values["integration"]["config"].as_object().expect("config");
    for key in config.keys() {
        assert!(
            spec.configurations.iter().any(|f| &f.name == key),
            "integration.config.{key} is not in spec.yaml"
        );
    }
    let templates = templates();
    assert!(templates.contains("path: /health/live") && templates.contains("path: /health/ready"));
    assert!(templates.contains("value: \"ONCE\""), "the CronJob runs ONCE");
}

#[test]
fn the_readme_documents_every_variable() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README");
    for name in VARIABLES {
        assert!(readme.contains(name), "README.md does not document {name}");
    }
    let spec = IntegrationSpec::parse(include_str!("../.port/spec.yaml")).expect("spec");
    for field in &spec.configurations {
        let name = integration_variable(&field.name);
        assert!(readme.contains(&name), "README.md does not document {name}");
    }
}
