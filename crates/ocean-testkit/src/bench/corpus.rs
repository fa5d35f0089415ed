//! The mapping corpus (`tests/data/mapping-corpus/`): mappings written in the
//! mix of constructs real Ocean mappings use, their base items, the inputs
//! derived from those items, and the comparison with the jq binary shared by
//! `bench mapping --corpus` and `tests/jq_differential.rs`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use serde_json::{Map, Value};

use ocean_host::mapping::{JqOptions, JqProgram};
use ocean_host::port_app_config::model::{MappingValue, ResourceConfig, SearchQuery, SearchRule};
use ocean_host::port_app_config::{self, LoadedMapping, MappingSource};

/// The corpus directory of this source tree.
pub fn default_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/mapping-corpus")
}

/// One corpus mapping and its base items, by kind.
pub struct CorpusMapping {
    pub name: String,
    pub loaded: LoadedMapping,
    pub items: Map<String, Value>,
}

impl CorpusMapping {
    pub fn resources(&self) -> &[ResourceConfig] {
        match &self.loaded.source {
            MappingSource::AppConfig(config) => &config.resources,
            MappingSource::Webhook(_) => &[],
        }
    }

    /// The base items of a kind.
    pub fn base_items(&self, kind: &str) -> Vec<Value> {
        match self.items.get(kind) {
            Some(Value::Array(items)) => items.clone(),
            _ => Vec::new(),
        }
    }
}

/// Every `<name>.yml` with its `<name>.items.json`, in name order.
pub fn load(dir: &Path) -> anyhow::Result<Vec<CorpusMapping>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".yml").map(str::to_owned))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let yml = dir.join(format!("{name}.yml"));
            let loaded = port_app_config::load_file(&yml, JqOptions::default())
                .map_err(|e| anyhow::anyhow!("{}: {e}", yml.display()))?;
            let items_path = dir.join(format!("{name}.items.json"));
            let text = std::fs::read_to_string(&items_path)
                .with_context(|| format!("reading {}", items_path.display()))?;
            let Value::Object(items) = serde_json::from_str(&text)? else {
                bail!("{}: expected an object of kinds", items_path.display());
            };
            Ok(CorpusMapping { name, loaded, items })
        })
        .collect()
}

/// A resource's JQ expressions with the field each belongs to.
pub fn expressions(resource: &ResourceConfig) -> Vec<(String, String)> {
    fn search(q: &SearchQuery, at: &str, out: &mut Vec<(String, String)>) {
        out.push((format!("{at}.combinator"), q.combinator.clone()));
        for (i, rule) in q.rules.iter().enumerate() {
            match rule {
                SearchRule::Rule {
                    property,
                    operator,
                    value,
                } => {
                    for (name, code) in [("property", property), ("operator", operator), ("value", value)] {
                        out.push((format!("{at}.rules[{i}].{name}"), code.clone()));
                    }
                }
                SearchRule::Query(inner) => search(inner, &format!("{at}.rules[{i}]"), out),
            }
        }
    }
    fn field(value: &MappingValue, at: &str, out: &mut Vec<(String, String)>) {
        match value {
            MappingValue::Jq(code) => out.push((at.to_owned(), code.clone())),
            MappingValue::Search(q) => search(q, at, out),
        }
    }
    let m = &resource.port.entity.mappings;
    let mut out = vec![("selector".to_owned(), resource.selector.query.clone())];
    if let Some(code) = &resource.port.items_to_parse {
        out.push(("itemsToParse".into(), code.clone()));
    }
    field(&m.identifier, "identifier", &mut out);
    for (name, code) in [("title", &m.title), ("icon", &m.icon)] {
        if let Some(code) = code {
            out.push((name.into(), code.clone()));
        }
    }
    out.push(("blueprint".into(), m.blueprint.clone()));
    if let Some(team) = &m.team {
        field(team, "team", &mut out);
    }
    for (k, code) in &m.properties {
        out.push((format!("properties.{k}"), code.clone()));
    }
    for (k, v) in &m.relations {
        field(v, &format!("relations.{k}"), &mut out);
    }
    out
}

/// Odd strings real payloads carry.
const ODD_STRINGS: &[&str] = &[
    "",
    "  padded value  ",
    "ünï-cødé 🚀/Ω",
    "1717236000000",
    "2024-02-29T14:21:35.123Z",
    "2024-06-01T10:00:00+02:00",
    "42",
    "null",
    "a/b:c d",
];

/// The base item, then one input per change of one field: removed, null,
/// of a wrong type, or (for strings) an odd string.
pub fn variants(base: &Value) -> Vec<Value> {
    let mut out = vec![base.clone()];
    let mut paths = Vec::new();
    collect_paths(base, &mut Vec::new(), &mut paths);
    for path in &paths {
        let Some(current) = get(base, path) else {
            continue;
        };
        let mut replacements: Vec<Option<Value>> = vec![None, Some(Value::Null)];
        replacements.extend(wrong_types(current).into_iter().map(Some));
        if current.is_string() {
            replacements.extend(ODD_STRINGS.iter().map(|s| Some(Value::String((*s).into()))));
        }
        for replacement in replacements {
            let mut v = base.clone();
            if set(&mut v, path, replacement) {
                out.push(v);
            }
        }
    }
    out
}

fn wrong_types(v: &Value) -> Vec<Value> {
    use serde_json::json;
    match v {
        Value::String(_) => vec![json!(17), json!(true), json!(["x"])],
        Value::Number(_) => vec![
            json!("12.5"),
            json!("abc"),
            json!(2.5),
            json!(-3),
            json!(1_700_000_000_000i64),
        ],
        Value::Bool(_) => vec![json!("true"), json!(0)],
        Value::Array(_) => vec![json!([]), json!({"a": 1}), json!("x"), json!([null])],
        Value::Object(_) => vec![json!({}), json!("x"), json!(7), json!([])],
        Value::Null => vec![json!("x"), json!(1), json!({})],
    }
}

#[derive(Clone)]
enum Step {
    Key(String),
    Index(usize),
}

/// Paths to every value reachable through objects and the first element of arrays.
fn collect_paths(v: &Value, at: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                at.push(Step::Key(k.clone()));
                out.push(at.clone());
                collect_paths(child, at, out);
                at.pop();
            }
        }
        Value::Array(items) => {
            if let Some(first) = items.first() {
                at.push(Step::Index(0));
                out.push(at.clone());
                collect_paths(first, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

fn get<'v>(v: &'v Value, path: &[Step]) -> Option<&'v Value> {
    path.iter().try_fold(v, |at, step| match step {
        Step::Key(k) => at.get(k),
        Step::Index(i) => at.get(i),
    })
}

/// Sets (or removes, for `None`) the value at `path`; false if the path is gone.
fn set(v: &mut Value, path: &[Step], to: Option<Value>) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut at = v;
    for step in parents {
        let next = match step {
            Step::Key(k) => at.get_mut(k),
            Step::Index(i) => at.get_mut(i),
        };
        match next {
            Some(n) => at = n,
            None => return false,
        }
    }
    match (last, at, to) {
        (Step::Key(k), Value::Object(m), None) => m.shift_remove(k).is_some(),
        (Step::Key(k), Value::Object(m), Some(to)) => {
            m.insert(k.clone(), to);
            true
        }
        (Step::Index(i), Value::Array(items), None) if *i < items.len() => {
            items.remove(*i);
            true
        }
        (Step::Index(i), Value::Array(items), Some(to)) if *i < items.len() => {
            items[*i] = to;
            true
        }
        _ => false,
    }
}

/// What one expression gave for one input: all its outputs, or an error.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Values(Vec<Value>),
    Error,
}

/// The jq binary's outcome for every input (one process per expression).
pub fn jq_outcomes(jq: &str, expr: &str, inputs: &[Value]) -> anyhow::Result<Vec<Outcome>> {
    let program = format!("try ([{expr}] | {{ok: .}}) catch {{err: true}}");
    let mut child = Command::new(jq)
        .args(["-c", &program])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running {jq}"))?;
    let mut text = Vec::new();
    for input in inputs {
        serde_json::to_writer(&mut text, input)?;
        text.push(b'\n');
    }
    let mut stdin = child.stdin.take().context("jq's stdin")?;
    let writer = std::thread::spawn(move || stdin.write_all(&text));
    let out = child.wait_with_output()?;
    writer.join().map_err(|_| anyhow::anyhow!("writing to jq"))??;
    if !out.status.success() {
        // jq rejected the program itself: every input counts as an error.
        return Ok(inputs.iter().map(|_| Outcome::Error).collect());
    }
    let outcomes: Vec<Outcome> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).context("jq prints JSON")?;
            Ok(match v.get("ok") {
                Some(Value::Array(values)) => Outcome::Values(values.clone()),
                _ => Outcome::Error,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    if outcomes.len() != inputs.len() {
        bail!(
            "{expr}: jq gave {} outcomes for {} inputs",
            outcomes.len(),
            inputs.len()
        );
    }
    Ok(outcomes)
}

/// The engine's outcome for every input.
pub fn engine_outcomes(expr: &str, inputs: &[Value]) -> Vec<Outcome> {
    let Ok(program) = JqProgram::compile_with(expr, JqOptions { allow_env: true }) else {
        return inputs.iter().map(|_| Outcome::Error).collect();
    };
    inputs
        .iter()
        .map(|input| match program.all_json(input) {
            Ok(values) => Outcome::Values(values),
            Err(_) => Outcome::Error,
        })
        .collect()
}

/// Every corpus expression with the inputs derived for its kind.
pub struct Case {
    pub mapping: String,
    pub kind: String,
    pub field: String,
    pub expr: String,
}

/// The corpus's expressions (one `Case` each) and the derived inputs of each kind.
pub fn cases(corpus: &[CorpusMapping]) -> Vec<(Case, std::rc::Rc<Vec<Value>>)> {
    let mut out = Vec::new();
    for mapping in corpus {
        for resource in mapping.resources() {
            let inputs: Vec<Value> = mapping
                .base_items(&resource.kind)
                .iter()
                .flat_map(variants)
                .collect();
            let inputs = std::rc::Rc::new(inputs);
            for (field, expr) in expressions(resource) {
                let case = Case {
                    mapping: mapping.name.clone(),
                    kind: resource.kind.clone(),
                    field,
                    expr,
                };
                out.push((case, inputs.clone()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn variants_change_one_field_each() {
        let base = json!({"a": {"b": "x"}, "n": 1, "l": [{"c": true}]});
        let all = variants(&base);
        assert_eq!(all[0], base);
        assert!(all.contains(&json!({"n": 1, "l": [{"c": true}]})), "a removed");
        assert!(all.contains(&json!({"a": {"b": null}, "n": 1, "l": [{"c": true}]})));
        assert!(all.contains(&json!({"a": {"b": ""}, "n": 1, "l": [{"c": true}]})));
        assert!(all.contains(&json!({"a": {"b": "x"}, "n": "abc", "l": [{"c": true}]})));
        assert!(all.contains(&json!({"a": {"b": "x"}, "n": 1, "l": [{"c": "true"}]})));
    }
}
