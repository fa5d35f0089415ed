//! A resource's selector and mappings, compiled once; raw items in, entities out.
//! `compile` builds it from the config, `evaluate` maps items, `items_to_parse` expands one item into several.

mod compile;
mod evaluate;
mod items_to_parse;

use serde_json::{Map, Value};

use super::jq::JqProgram;
use items_to_parse::ItemsToParse;
use ocean_port::Entity;

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
    /// Paths for resource `index` of a port-app-config (`resources[i].port.entity.mappings.*`).
    pub fn app_config(index: usize) -> Self {
        Self {
            resource: format!("resources[{index}]."),
            selector: "selector.query",
            items_to_parse: "port.itemsToParse",
            mappings: "port.entity.mappings.",
            blueprint: "port.entity.mappings.blueprint",
        }
    }

    /// Paths for entry `index` of Port's webhook mapping (`[i].entity.*`).
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
    /// The field's path in the source file, e.g. `resources[0].port.entity.mappings.title`.
    pub path: String,
    /// Character offset of the fault inside the expression.
    pub offset: Option<usize>,
    /// What is wrong (jaq's message, for an expression).
    pub message: String,
}

/// Why one raw item produced no entity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// e.g. `properties.coverage`, `identifier`, `selector`
    pub field: String,
    /// What went wrong (the JQ error, or the value's wrong type).
    pub message: String,
}

/// What one raw item became.
#[derive(Debug, Default)]
pub struct ItemOutcome {
    /// The entities made, in order (with `itemsToParse`, one per element that mapped).
    pub entities: Vec<Entity>,
    /// Inputs whose selector was not `true`.
    pub skipped: usize,
    /// Every field that failed, over all inputs.
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

impl ResourceMapper {
    /// The resource's kind.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The blueprint, when the mapping names it literally (as mappings usually do).
    pub fn static_blueprint(&self) -> Option<&str> {
        self.blueprint.constant().and_then(Value::as_str)
    }

    /// How many JQ programs this resource runs per item (selector included; a
    /// search-query field counts as one).
    pub fn expression_count(&self) -> usize {
        // selector, identifier, blueprint
        3 + usize::from(self.items_to_parse.is_some())
            + usize::from(self.title.is_some())
            + usize::from(self.team.is_some())
            + usize::from(self.icon.is_some())
            + self.properties.len()
            + self.relations.len()
    }

    /// How many of those are evaluated natively (search-query fields count as not).
    pub fn native_expression_count(&self) -> usize {
        let jq = |p: &FieldProgram| matches!(p, FieldProgram::Jq(p) if p.is_native());
        let native = |p: &JqProgram| usize::from(p.is_native());
        native(&self.selector)
            + self.items_to_parse.as_ref().map_or(0, |i| native(&i.items))
            + usize::from(jq(&self.identifier))
            + self.title.as_ref().map_or(0, native)
            + native(&self.blueprint)
            + self.team.as_ref().map_or(0, |t| usize::from(jq(t)))
            + self.icon.as_ref().map_or(0, native)
            + self.properties.iter().map(|(_, _, p)| native(p)).sum::<usize>()
            + self
                .relations
                .iter()
                .map(|(_, _, p)| usize::from(jq(p)))
                .sum::<usize>()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::jq::JqOptions;
    use crate::port_app_config::{self, MappingSource};
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

    fn with_items(items_to_parse: &str, extra: &str) -> String {
        format!(
            r#"
resources:
  - kind: usage
    selector:
      query: 'true'
    port:
      itemsToParse: '{items_to_parse}'
{extra}      entity:
        mappings:
          identifier: .id + "/" + (.model.key // .item.key // "none")
          blueprint: '"usage"'
          properties:
            tokens: .model.value.tokens // .item.value.tokens
            breakdown: .model_breakdown
            team: .team
"#
        )
    }

    /// Ocean's own shape (an AI-usage record): a computed itemsToParse.
    fn usage() -> Value {
        json!({"id": "day-1", "team": "core",
            "model_breakdown": {"gpt": {"tokens": 3}, "claude": {"tokens": 5}}})
    }

    #[test]
    fn items_to_parse_may_be_any_expression_and_its_first_path_is_removed() {
        let m = mapper(&with_items(
            "(.model_breakdown // {} | to_entries)",
            "      itemsToParseName: model\n",
        ));
        let out = m.map_json(&usage());
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        let got: Vec<_> = out
            .entities
            .iter()
            .map(|e| {
                (
                    e.identifier.clone(),
                    e.properties["tokens"].clone(),
                    e.properties["breakdown"].clone(),
                    e.properties["team"].clone(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (json!("day-1/gpt"), json!(3), Value::Null, json!("core")),
                (json!("day-1/claude"), json!(5), Value::Null, json!("core")),
            ],
            ".model_breakdown is removed, the rest of the item stays, each element is .model"
        );
        // A record without the key yields `{} | to_entries`: no element, no error.
        let out = m.map_json(&json!({"id": "day-2"}));
        assert!(out.entities.is_empty() && out.errors.is_empty(), "{out:?}");
    }

    #[test]
    fn items_to_parse_keeps_the_array_without_the_top_level_transform() {
        let m = mapper(&with_items(
            ".model_breakdown | to_entries",
            "      itemsToParseTopLevelTransform: false\n",
        ));
        let out = m.map_json(&usage());
        assert_eq!(out.entities.len(), 2, "{out:?}");
        assert_eq!(out.entities[0].identifier, json!("day-1/gpt"));
        assert_eq!(
            out.entities[0].properties["breakdown"],
            usage()["model_breakdown"]
        );
    }

    #[test]
    fn an_empty_items_to_parse_is_unset_as_in_ocean() {
        let m = mapper(&with_items("", ""));
        let out = m.map_json(&usage());
        assert_eq!(out.entities.len(), 1, "{out:?}");
        assert_eq!(out.entities[0].identifier, json!("day-1/none"));
    }

    #[test]
    fn items_to_parse_with_no_path_to_remove_is_refused_unless_the_transform_is_off() {
        let refused = port_app_config::parse_str(
            &with_items("[1, 2] | map({key: .})", ""),
            "t.yml",
            JqOptions::default(),
        )
        .err()
        .expect("refused");
        assert!(
            refused
                .to_string()
                .contains("resources[0].port.itemsToParse: names no path to remove"),
            "{refused}"
        );
        let m = mapper(&with_items(
            "[1, 2] | map({key: tostring})",
            "      itemsToParseTopLevelTransform: false\n",
        ));
        let ids: Vec<_> = m
            .map_json(&usage())
            .entities
            .into_iter()
            .map(|e| e.identifier)
            .collect();
        assert_eq!(ids, [json!("day-1/1"), json!("day-1/2")]);
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

    #[test]
    fn a_stand_in_names_its_blueprint_and_relations_whatever_the_selector() {
        let yaml = BASE.replace(
            "owner: .owner",
            "owner: .owner\n            teams: .teams\n            broken: .x | tonumber",
        );
        let m = mapper(&yaml);
        let (blueprint, related) = m
            .relations_of(&json!({"owner": "o", "teams": ["t1", "", null, "t2"], "x": "?"}))
            .expect("a blueprint");
        assert_eq!(blueprint, "bp");
        let pairs: Vec<(&str, &str)> = related.iter().map(|(n, i)| (n.as_str(), i.as_str())).collect();
        assert_eq!(pairs, [("owner", "o"), ("teams", "t1"), ("teams", "t2")]);
        let (_, none) = m.relations_of(&json!({})).expect("a blueprint");
        assert!(none.is_empty(), "null relations name nothing");
        assert!(
            mapper(&BASE.replace(r#"'"bp"'"#, ".bp"))
                .relations_of(&json!({"owner": "o"}))
                .is_none()
        );
    }
}
