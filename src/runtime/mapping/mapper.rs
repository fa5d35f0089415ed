//! A resource's selector and mappings, compiled once; raw items in, entities out.

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::jq::{JqOptions, JqProgram};
use super::lazy_item::LazyItem;
use crate::port::Entity;
use crate::runtime::port_app_config::model::{MappingValue, ResourceConfig, SearchQuery, SearchRule};

/// Where a resource's fields live in its source file, for error messages.
#[derive(Debug, Clone)]
pub struct FieldPaths {
    /// e.g. `resources[0].` or `[0].`
    pub resource: String,
    /// e.g. `selector.query` or `filter`
    pub selector: &'static str,
    /// e.g. `port.itemsToParse` or `itemsToParse`
    pub items_to_parse: &'static str,
    /// e.g. `port.entity.mappings.` or `entity.`
    pub mappings: &'static str,
    /// e.g. `port.entity.mappings.blueprint` or `blueprint`
    pub blueprint: &'static str,
}

impl FieldPaths {
    pub fn app_config(index: usize) -> Self {
        Self {
            resource: format!("resources[{index}]."),
            selector: "selector.query",
            items_to_parse: "port.itemsToParse",
            mappings: "port.entity.mappings.",
            blueprint: "port.entity.mappings.blueprint",
        }
    }

    pub fn webhook(index: usize) -> Self {
        Self {
            resource: format!("[{index}]."),
            selector: "filter",
            items_to_parse: "itemsToParse",
            mappings: "entity.",
            blueprint: "blueprint",
        }
    }

    fn mapping(&self, field: &str) -> String {
        format!("{}{}{field}", self.resource, self.mappings)
    }
}

/// A field that does not compile, named by its path in the source file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileFault {
    pub path: String,
    /// Character offset of the fault inside the expression.
    pub offset: Option<usize>,
    pub message: String,
}

/// Why one raw item produced no entity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// e.g. `properties.coverage`, `identifier`, `selector`
    pub field: String,
    pub message: String,
}

/// What one raw item became.
#[derive(Debug, Default)]
pub struct ItemOutcome {
    pub entities: Vec<Entity>,
    /// Inputs whose selector was not `true`.
    pub skipped: usize,
    pub errors: Vec<FieldError>,
    /// One per input that failed to map: its entity's (blueprint, identifier)
    /// when both were computed, so a resync can hold back that entity alone.
    pub failed: Vec<Option<(String, String)>>,
}

enum FieldProgram {
    Jq(JqProgram),
    Search(SearchProgram),
}

struct SearchProgram {
    combinator: JqProgram,
    rules: Vec<RuleProgram>,
}

enum RuleProgram {
    Rule(Box<LeafRule>),
    Query(SearchProgram),
}

struct LeafRule {
    property: JqProgram,
    operator: JqProgram,
    value: JqProgram,
}

struct ItemsToParse {
    items: JqProgram,
    /// `del(<itemsToParse>)`, run when the top-level transform is on.
    strip: Option<JqProgram>,
    name: String,
}

/// One resource of a port-app-config, ready to map items.
pub struct ResourceMapper {
    kind: String,
    selector: JqProgram,
    items_to_parse: Option<ItemsToParse>,
    identifier: FieldProgram,
    title: Option<JqProgram>,
    blueprint: JqProgram,
    team: Option<FieldProgram>,
    icon: Option<JqProgram>,
    /// (property name, its label in errors, program)
    properties: Vec<(String, String, JqProgram)>,
    relations: Vec<(String, String, FieldProgram)>,
    /// The property and relation names in order with null values: a clone
    /// copies the hash table instead of hashing every name again per item.
    property_slots: Map<String, Value>,
    relation_slots: Map<String, Value>,
}

/// Names with null values, in order.
fn slots<T>(fields: &[(String, String, T)]) -> Map<String, Value> {
    fields
        .iter()
        .map(|(name, ..)| (name.clone(), Value::Null))
        .collect()
}

struct Compiling<'a> {
    options: JqOptions,
    faults: &'a mut Vec<CompileFault>,
}

impl Compiling<'_> {
    fn jq(&mut self, code: &str, path: String) -> Option<JqProgram> {
        match JqProgram::compile_with(code, self.options) {
            Ok(p) => Some(p),
            Err(e) => {
                self.faults.push(CompileFault {
                    path,
                    offset: Some(code.get(..e.offset).map_or(0, |s| s.chars().count())),
                    message: e.to_string(),
                });
                None
            }
        }
    }

    fn field(&mut self, value: &MappingValue, path: String) -> Option<FieldProgram> {
        match value {
            MappingValue::Jq(code) => self.jq(code, path).map(FieldProgram::Jq),
            MappingValue::Search(q) => self.search(q, path).map(FieldProgram::Search),
        }
    }

    fn search(&mut self, q: &SearchQuery, path: String) -> Option<SearchProgram> {
        let combinator = self.jq(&q.combinator, format!("{path}.combinator"));
        let mut rules = Vec::with_capacity(q.rules.len());
        for (i, rule) in q.rules.iter().enumerate() {
            let at = format!("{path}.rules[{i}]");
            let compiled = match rule {
                SearchRule::Rule {
                    property,
                    operator,
                    value,
                } => {
                    let p = self.jq(property, format!("{at}.property"));
                    let o = self.jq(operator, format!("{at}.operator"));
                    let v = self.jq(value, format!("{at}.value"));
                    match (p, o, v) {
                        (Some(property), Some(operator), Some(value)) => {
                            Some(RuleProgram::Rule(Box::new(LeafRule {
                                property,
                                operator,
                                value,
                            })))
                        }
                        _ => None,
                    }
                }
                SearchRule::Query(inner) => self.search(inner, at).map(RuleProgram::Query),
            };
            rules.extend(compiled);
        }
        let complete = rules.len() == q.rules.len();
        combinator
            .filter(|_| complete)
            .map(|combinator| SearchProgram { combinator, rules })
    }
}

impl ResourceMapper {
    /// Compiles every expression of the resource; all faults are reported, not the first.
    pub fn compile(
        resource: &ResourceConfig,
        paths: &FieldPaths,
        options: JqOptions,
    ) -> Result<Self, Vec<CompileFault>> {
        let mut faults = Vec::new();
        let mut c = Compiling {
            options,
            faults: &mut faults,
        };
        let r = &resource.port;
        let m = &r.entity.mappings;
        let selector = c.jq(
            &resource.selector.query,
            format!("{}{}", paths.resource, paths.selector),
        );
        let items_to_parse = r.items_to_parse.as_ref().map(|code| {
            let path = format!("{}{}", paths.resource, paths.items_to_parse);
            let items = c.jq(code, path.clone());
            let strip = if r.items_to_parse_top_level_transform {
                c.jq(&format!("del({code})"), path).map(Some)
            } else {
                Some(None)
            };
            (items, strip)
        });
        let identifier = c.field(&m.identifier, paths.mapping("identifier"));
        let title = m.title.as_ref().map(|t| c.jq(t, paths.mapping("title")));
        let blueprint = c.jq(&m.blueprint, format!("{}{}", paths.resource, paths.blueprint));
        let team = m.team.as_ref().map(|t| c.field(t, paths.mapping("team")));
        let icon = m.icon.as_ref().map(|t| c.jq(t, paths.mapping("icon")));
        let properties: Vec<_> = m
            .properties
            .iter()
            .filter_map(|(k, code)| {
                let p = c.jq(code, paths.mapping(&format!("properties.{k}")));
                p.map(|p| (k.clone(), format!("properties.{k}"), p))
            })
            .collect();
        let relations: Vec<_> = m
            .relations
            .iter()
            .filter_map(|(k, v)| {
                let p = c.field(v, paths.mapping(&format!("relations.{k}")));
                p.map(|p| (k.clone(), format!("relations.{k}"), p))
            })
            .collect();
        if !faults.is_empty() {
            return Err(faults);
        }
        // With no faults every Option above holds a program.
        let missing = || vec![internal_fault(paths)];
        let items_to_parse = match items_to_parse {
            None => None,
            Some((Some(items), Some(strip))) => Some(ItemsToParse {
                items,
                strip,
                name: r.items_to_parse_name.clone(),
            }),
            Some(_) => return Err(missing()),
        };
        Ok(Self {
            kind: resource.kind.clone(),
            selector: selector.ok_or_else(missing)?,
            items_to_parse,
            identifier: identifier.ok_or_else(missing)?,
            title: title.map(|t| t.ok_or_else(missing)).transpose()?,
            blueprint: blueprint.ok_or_else(missing)?,
            team: team.map(|t| t.ok_or_else(missing)).transpose()?,
            icon: icon.map(|t| t.ok_or_else(missing)).transpose()?,
            property_slots: slots(&properties),
            relation_slots: slots(&relations),
            properties,
            relations,
        })
    }

    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The blueprint, when the mapping names it literally (as mappings usually do).
    pub fn static_blueprint(&self) -> Option<&str> {
        self.blueprint.constant().and_then(Value::as_str)
    }

    /// How many JQ programs this resource runs per item (selector included).
    pub fn expression_count(&self) -> usize {
        2 + usize::from(self.items_to_parse.is_some())
            + usize::from(self.title.is_some())
            + usize::from(self.team.is_some())
            + usize::from(self.icon.is_some())
            + self.properties.len()
            + self.relations.len()
    }

    pub fn map_json(&self, item: &Value) -> ItemOutcome {
        match RawValue::from_string(item.to_string()) {
            Ok(raw) => self.map_raw(&raw),
            Err(e) => ItemOutcome {
                errors: vec![FieldError {
                    field: String::new(),
                    message: format!("not JSON: {e}"),
                }],
                failed: vec![None],
                ..ItemOutcome::default()
            },
        }
    }

    /// Maps one raw item: never panics, never stops at the first bad field.
    pub fn map_raw(&self, raw: &RawValue) -> ItemOutcome {
        self.map_item(&LazyItem::new(raw))
    }

    pub fn map_item(&self, item: &LazyItem) -> ItemOutcome {
        let mut outcome = ItemOutcome::default();
        match &self.items_to_parse {
            None => self.map_input(item, &mut outcome),
            Some(parse) => match parse.inputs(item) {
                Ok(inputs) => {
                    for input in &inputs {
                        self.map_input(&LazyItem::new(input), &mut outcome);
                    }
                }
                Err(e) => {
                    outcome.errors.push(e);
                    outcome.failed.push(None);
                }
            },
        }
        outcome
    }

    fn map_input(&self, input: &LazyItem, outcome: &mut ItemOutcome) {
        match self.selector.first(input) {
            Ok(Some(Value::Bool(true))) => {}
            Ok(_) => {
                outcome.skipped += 1;
                return;
            }
            Err(e) => {
                outcome.errors.push(FieldError {
                    field: "selector".into(),
                    message: e.0,
                });
                outcome.failed.push(None);
                return;
            }
        }
        let mut errors = Vec::new();
        let mut eval = |field: &str, program: &JqProgram| -> Value {
            match program.first(input) {
                Ok(v) => v.unwrap_or(Value::Null),
                Err(e) => {
                    errors.push(FieldError {
                        field: field.to_owned(),
                        message: e.0,
                    });
                    Value::Null
                }
            }
        };
        let identifier = eval_field(&self.identifier, "identifier", &mut eval);
        let title = self.title.as_ref().map(|p| eval("title", p));
        let blueprint = eval("blueprint", &self.blueprint);
        let team = self.team.as_ref().map(|p| eval_field(p, "team", &mut eval));
        let icon = self.icon.as_ref().map(|p| eval("icon", p));
        // Names are unique (they come from a map), so slots and fields pair up in order.
        let mut properties = self.property_slots.clone();
        for (slot, (_, label, program)) in properties.values_mut().zip(&self.properties) {
            *slot = eval(label, program);
        }
        let mut relations = self.relation_slots.clone();
        for (slot, (_, label, program)) in relations.values_mut().zip(&self.relations) {
            *slot = eval_field(program, label, &mut eval);
        }
        check_identifier(&identifier, &mut errors);
        let blueprint = match blueprint {
            Value::String(s) if !s.is_empty() => s,
            other => {
                errors.push(FieldError {
                    field: "blueprint".into(),
                    message: format!("must be a non-empty string, got {}", json_type(&other)),
                });
                String::new()
            }
        };
        if !errors.is_empty() {
            let key_failed = errors
                .iter()
                .any(|e| e.field == "blueprint" || e.field.starts_with("identifier"));
            let key = match &identifier {
                Value::String(id) if !key_failed => Some((blueprint, id.clone())),
                _ => None,
            };
            outcome.failed.push(key);
            outcome.errors.extend(errors);
            return;
        }
        outcome.entities.push(Entity {
            identifier,
            title: title.filter(|v| !v.is_null()),
            blueprint,
            team: team.filter(|v| !v.is_null()),
            icon: icon.filter(|v| !v.is_null()),
            properties,
            relations,
        });
    }
}

fn internal_fault(paths: &FieldPaths) -> CompileFault {
    CompileFault {
        path: paths.resource.trim_end_matches('.').to_owned(),
        offset: None,
        message: "internal error: a compiled field went missing".into(),
    }
}

fn eval_field(
    program: &FieldProgram,
    field: &str,
    eval: &mut impl FnMut(&str, &JqProgram) -> Value,
) -> Value {
    match program {
        FieldProgram::Jq(p) => eval(field, p),
        FieldProgram::Search(q) => eval_search(q, field, eval),
    }
}

fn eval_search(q: &SearchProgram, field: &str, eval: &mut impl FnMut(&str, &JqProgram) -> Value) -> Value {
    let combinator = eval(&format!("{field}.combinator"), &q.combinator);
    let rules = q
        .rules
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            let at = format!("{field}.rules[{i}]");
            match rule {
                RuleProgram::Rule(rule) => serde_json::json!({
                    "property": eval(&format!("{at}.property"), &rule.property),
                    "operator": eval(&format!("{at}.operator"), &rule.operator),
                    "value": eval(&format!("{at}.value"), &rule.value),
                }),
                RuleProgram::Query(inner) => eval_search(inner, &at, eval),
            }
        })
        .collect();
    serde_json::json!({ "combinator": combinator, "rules": Value::Array(rules) })
}

/// Port needs a non-empty string identifier, or a search query object.
fn check_identifier(identifier: &Value, errors: &mut Vec<FieldError>) {
    let ok = match identifier {
        Value::String(s) => !s.is_empty(),
        Value::Object(o) => o.contains_key("combinator"),
        _ => false,
    };
    if !ok && !errors.iter().any(|e| e.field == "identifier") {
        errors.push(FieldError {
            field: "identifier".into(),
            message: format!("must be a non-empty string, got {}", json_type(identifier)),
        });
    }
}

fn json_type(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(_) => "a boolean".into(),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) if s.is_empty() => "an empty string".into(),
        Value::String(_) => "a string".into(),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

impl ItemsToParse {
    /// Ocean's expansion: each element bound under `name` in a copy of the item
    /// (without the parsed array when the top-level transform is on).
    fn inputs(&self, item: &LazyItem) -> Result<Vec<Box<RawValue>>, FieldError> {
        let err = |message: String| FieldError {
            field: "itemsToParse".into(),
            message,
        };
        let items = self.items.first(item).map_err(|e| err(e.0))?;
        let Some(Value::Array(items)) = items else {
            let got = items.as_ref().map_or("nothing".into(), json_type);
            return Err(err(format!("must yield an array, got {got}")));
        };
        let base = match &self.strip {
            Some(strip) => strip.first(item).map_err(|e| err(e.0))?.unwrap_or(Value::Null),
            None => item.whole_json().map_err(err)?,
        };
        let Value::Object(base) = base else {
            return Err(err(format!(
                "the item must be an object, got {}",
                json_type(&base)
            )));
        };
        items
            .into_iter()
            .map(|element| {
                let mut merged = base.clone();
                merged.insert(self.name.clone(), element);
                RawValue::from_string(Value::Object(merged).to_string()).map_err(|e| err(e.to_string()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::port_app_config::{self, MappingSource};
    use serde_json::json;

    fn mapper(yaml: &str) -> ResourceMapper {
        let loaded =
            port_app_config::parse_str(yaml, "test.yml", JqOptions::default()).expect("valid mapping");
        assert!(matches!(loaded.source, MappingSource::AppConfig(_)));
        loaded.mappers.into_iter().next().expect("one resource")
    }

    const BASE: &str = r#"
resources:
  - kind: k
    selector:
      query: .active
    port:
      entity:
        mappings:
          identifier: .id
          title: .name
          blueprint: '"bp"'
          icon: .icon
          properties:
            size: .size
          relations:
            owner: .owner
"#;

    #[test]
    fn selector_skips_and_nulls_are_handled_as_ocean() {
        let m = mapper(BASE);
        let out = m.map_json(&json!({"active": true, "id": "a", "size": null}));
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        let e = &out.entities[0];
        assert_eq!(e.title, None, "a null title is omitted");
        assert_eq!(e.icon, None);
        assert_eq!(e.properties["size"], Value::Null, "null properties are kept");
        assert_eq!(e.relations["owner"], Value::Null);
        let out = m.map_json(&json!({"active": false, "id": "a"}));
        assert_eq!((out.entities.len(), out.skipped), (0, 1));
        let out = m.map_json(&json!({"id": "a"}));
        assert_eq!(out.skipped, 1, "a null selector result skips");
    }

    #[test]
    fn bad_fields_fail_the_item_with_their_names() {
        let m = mapper(&BASE.replace("size: .size", "size: .size | tonumber"));
        let out = m.map_json(&json!({"active": true, "id": 7, "size": "x"}));
        assert!(out.entities.is_empty());
        let fields: Vec<&str> = out.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["properties.size", "identifier"]);
    }

    #[test]
    fn items_to_parse_binds_each_element() {
        let yaml = r#"
resources:
  - kind: k
    selector:
      query: .item.keep
    port:
      itemsToParse: .flags
      entity:
        mappings:
          identifier: .repo + "/" + .item.name
          blueprint: '"flag"'
          properties:
            siblings: .flags
"#;
        let m = mapper(yaml);
        let raw = json!({"repo": "r", "flags": [{"name": "a", "keep": true}, {"name": "b", "keep": false}, {"name": "c", "keep": true}]});
        let out = m.map_json(&raw);
        let ids: Vec<_> = out.entities.iter().map(|e| e.identifier.clone()).collect();
        assert_eq!(ids, [json!("r/a"), json!("r/c")]);
        assert_eq!(out.skipped, 1);
        assert_eq!(
            out.entities[0].properties["siblings"],
            Value::Null,
            "top-level transform removes the array"
        );
        let out = m.map_json(&json!({"repo": "r", "flags": 3}));
        assert_eq!(out.errors[0].field, "itemsToParse");
    }

    #[test]
    fn search_query_identifiers_evaluate_their_leaves() {
        let yaml = r#"
resources:
  - kind: k
    selector:
      query: 'true'
    port:
      entity:
        mappings:
          identifier:
            combinator: '"and"'
            rules:
              - property: '"url"'
                operator: '"="'
                value: .url
          blueprint: '"bp"'
"#;
        let out = mapper(yaml).map_json(&json!({"url": "https://x"}));
        assert_eq!(
            out.entities[0].identifier,
            json!({"combinator": "and", "rules": [{"property": "url", "operator": "=", "value": "https://x"}]})
        );
    }

    #[test]
    fn an_empty_blueprint_fails_the_item() {
        let out = mapper(&BASE.replace(r#"'"bp"'"#, ".bp")).map_json(&json!({"active": true, "id": "a"}));
        assert_eq!(out.errors[0].field, "blueprint");
    }
}
