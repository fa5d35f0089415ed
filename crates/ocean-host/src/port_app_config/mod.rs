//! Loading a mapping (a port-app-config, or Port's webhook mapping) from a
//! file or from Port, and compiling it, with faults named by file:line:col.

pub mod model;
pub mod source_map;

use std::fmt;
use std::path::Path;

use crate::mapping::JqOptions;
use crate::mapping::mapper::{CompileFault, FieldPaths, ResourceMapper};
use model::{PortAppConfig, WebhookMapping};
use source_map::SourceMap;

/// The mapping as written, in either of the two formats users have.
#[derive(Debug, Clone, PartialEq)]
pub enum MappingSource {
    /// A port-app-config (Ocean's `resources:` format).
    AppConfig(PortAppConfig),
    /// Port's webhook mapping; input items are `{body, headers, queryParams}`.
    Webhook(Vec<WebhookMapping>),
}

/// A mapping ready to run: each resource compiled once.
pub struct LoadedMapping {
    /// The mapping as parsed, kept for its settings (deletion threshold, merge, ...).
    pub source: MappingSource,
    /// One compiled mapper per resource, in the source's order.
    pub mappers: Vec<ResourceMapper>,
}

impl LoadedMapping {
    /// Whether it came from Port's webhook mapping (its items are webhook payloads).
    pub fn is_webhook(&self) -> bool {
        matches!(self.source, MappingSource::Webhook(_))
    }

    /// JQ programs run per item over all resources: a measure of the mapping's cost.
    pub fn expression_count(&self) -> usize {
        self.mappers.iter().map(ResourceMapper::expression_count).sum()
    }
}

/// One fault in a mapping, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFault {
    /// The file's name as shown, or the label the caller gave (e.g. for the mapping read from Port).
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// e.g. `resources[0].port.entity.mappings.properties.coverage`
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let (Some(l), Some(c)) = (self.line, self.column) {
            write!(f, ":{l}:{c}")?;
        }
        if self.path.is_empty() {
            write!(f, ": {}", self.message)
        } else {
            write!(f, ": {}: {}", self.path, self.message)
        }
    }
}

/// Every fault found in a mapping, one per line when displayed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigFault>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&lines.join("\n"))
    }
}

/// Reads a mapping file (YAML or JSON) and compiles it as [`parse_str`] does; an unreadable
/// file is one fault without a position.
pub fn load_file(path: &Path, options: JqOptions) -> Result<LoadedMapping, ConfigErrors> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigFault {
            file: name.clone(),
            line: None,
            column: None,
            path: String::new(),
            message: format!("cannot read the file: {e}"),
        }])
    })?;
    parse_str(&text, &name, options)
}

/// Parses YAML or JSON text; a top-level list is Port's webhook mapping,
/// an object a port-app-config.
pub fn parse_str(text: &str, file: &str, options: JqOptions) -> Result<LoadedMapping, ConfigErrors> {
    let fault = |line, column, path: &str, message: String| ConfigFault {
        file: file.to_owned(),
        line,
        column,
        path: path.to_owned(),
        message,
    };
    let shape: serde_norway::Value = serde_norway::from_str(text).map_err(|e| {
        let (line, column) = location(&e);
        ConfigErrors(vec![fault(line, column, "", e.to_string())])
    })?;
    let source = if shape.is_sequence() {
        serde_norway::from_str(text).map(MappingSource::Webhook)
    } else {
        serde_norway::from_str(text).map(MappingSource::AppConfig)
    }
    .map_err(|e| {
        let message = without_location(&e);
        if let Some((path, message)) = strict_field_fault(&message) {
            let pos = SourceMap::build(text).get(&path);
            return ConfigErrors(vec![fault(
                pos.map(|p| p.line),
                pos.map(|p| p.column),
                &path,
                message,
            )]);
        }
        let (line, column) = location(&e);
        ConfigErrors(vec![fault(line, column, "", message)])
    })?;
    let map = SourceMap::build(text);
    compile(source, options).map_err(|faults| {
        ConfigErrors(
            faults
                .into_iter()
                .map(|f| {
                    let pos = map.nearest(&f.path).map(|pos| match f.offset {
                        Some(chars) if map.get(&f.path).is_some() => pos.at_offset(chars),
                        _ => pos,
                    });
                    fault(pos.map(|p| p.line), pos.map(|p| p.column), &f.path, f.message)
                })
                .collect(),
        )
    })
}

/// Compiles a mapping that came without a file (the integration's config in Port).
pub fn compile(source: MappingSource, options: JqOptions) -> Result<LoadedMapping, Vec<CompileFault>> {
    let mut faults = Vec::new();
    let resources: Vec<(model::ResourceConfig, FieldPaths)> = match &source {
        MappingSource::AppConfig(c) => {
            if !(0.0..=1.0).contains(&c.entity_deletion_threshold) {
                faults.push(CompileFault {
                    path: "entityDeletionThreshold".into(),
                    offset: None,
                    message: format!("must be between 0 and 1, got {}", c.entity_deletion_threshold),
                });
            }
            let paths = (0..).map(FieldPaths::app_config);
            c.resources.iter().cloned().zip(paths).collect()
        }
        MappingSource::Webhook(list) => {
            let paths = (0..).map(FieldPaths::webhook);
            list.iter().map(WebhookMapping::to_resource).zip(paths).collect()
        }
    };
    let mut mappers = Vec::with_capacity(resources.len());
    for (resource, paths) in &resources {
        match ResourceMapper::compile(resource, paths, options) {
            Ok(m) => mappers.push(m),
            Err(f) => faults.extend(f),
        }
    }
    if faults.is_empty() {
        Ok(LoadedMapping { source, mappers })
    } else {
        Err(faults)
    }
}

/// Fields checked strictly inside a resource (`enableDelete`) fail where
/// serde_norway stands, the resource's map: such a fault is named by the
/// field's own path, so it points at the field's value.
fn strict_field_fault(message: &str) -> Option<(String, String)> {
    const STRICT: [&str; 1] = ["enableDelete"];
    let (parent, rest) = message.split_once(": ")?;
    let field = STRICT
        .iter()
        .find(|f| rest.starts_with(&format!("{f} must be")))?;
    Some((format!("{parent}.{field}"), rest.to_string()))
}

fn location(e: &serde_norway::Error) -> (Option<usize>, Option<usize>) {
    match e.location() {
        Some(l) => (Some(l.line()), Some(l.column())),
        None => (None, None),
    }
}

/// serde_norway appends " at line L column C"; we print the position up front.
fn without_location(e: &serde_norway::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(cut) => text[..cut].to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(enable_delete: &str) -> String {
        format!(
            "resources:\n  - kind: repository\n{enable_delete}    selector:\n      query: 'true'\n    port:\n      \
             entity:\n        mappings:\n          identifier: .id\n          blueprint: '\"repo\"'\n"
        )
    }

    fn enable_delete(line: &str) -> Result<bool, ConfigErrors> {
        let loaded = parse_str(&resource(line), "app.yml", JqOptions::default())?;
        match loaded.source {
            MappingSource::AppConfig(c) => Ok(c.resources[0].enable_delete),
            MappingSource::Webhook(_) => panic!("an app config"),
        }
    }

    #[test]
    fn enable_delete_defaults_to_true_and_takes_booleans() {
        assert_eq!(enable_delete(""), Ok(true));
        assert_eq!(enable_delete("    enableDelete: false\n"), Ok(false));
        assert_eq!(enable_delete("    enableDelete: true\n"), Ok(true));
    }

    #[test]
    fn enable_delete_refuses_what_is_not_a_boolean_naming_the_field_and_where() {
        for (value, got) in [
            ("'false'", "the string \"false\""),
            ("\"true\"", "the string \"true\""),
            ("null", "null"),
            ("~", "null"),
            ("0", "0"),
            ("1", "1"),
            ("no", "the string \"no\""),
        ] {
            let errors = enable_delete(&format!("    enableDelete: {value}\n")).expect_err(value);
            let [fault] = errors.0.as_slice() else {
                panic!("one fault for {value}: {errors}")
            };
            assert_eq!(fault.file, "app.yml");
            assert_eq!(
                (fault.line, fault.column),
                (Some(3), Some(19)),
                "{value}: {errors}"
            );
            assert_eq!(fault.path, "resources[0].enableDelete");
            assert!(
                fault.message.contains("enableDelete must be a boolean")
                    && fault.message.contains(&format!("got {got}")),
                "{value}: {errors}"
            );
            assert!(
                errors
                    .to_string()
                    .starts_with("app.yml:3:19: resources[0].enableDelete: enableDelete must be a boolean"),
                "{errors}"
            );
        }
    }

    #[test]
    fn enable_delete_is_refused_in_a_json_config_from_port_too() {
        let text = r#"{"resources": [{"kind": "k", "enableDelete": "false", "selector": {"query": "true"},
            "port": {"entity": {"mappings": {"identifier": ".id", "blueprint": "\"b\""}}}}]}"#;
        let errors = parse_str(text, "port", JqOptions::default())
            .err()
            .expect("refused");
        assert!(
            errors.to_string().contains("enableDelete must be a boolean"),
            "{errors}"
        );
        assert_eq!(
            (errors.0[0].line, errors.0[0].column),
            (Some(1), Some(46)),
            "{errors}"
        );
    }
}
