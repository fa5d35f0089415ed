//! The port-app-config model: Ocean's format, field for field.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

fn yes() -> bool {
    true
}

fn default_deletion_threshold() -> f64 {
    0.9
}

fn default_items_name() -> String {
    "item".into()
}

/// The mapping in force: which kinds to fetch and how each becomes Port entities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PortAppConfig {
    /// Delete entities that depend on a deleted entity (Port's `delete_dependents`).
    #[serde(default = "yes", alias = "delete_dependent_entities")]
    pub delete_dependent_entities: bool,
    /// Let Port create placeholder entities for relations that point nowhere yet.
    #[serde(default = "yes", alias = "create_missing_related_entities")]
    pub create_missing_related_entities: bool,
    /// Upsert with `merge=true`, keeping properties this integration does not map.
    #[serde(default = "yes", alias = "enable_merge_entity")]
    pub enable_merge_entity: bool,
    /// Largest share (0 to 1) of owned entities one resync may delete.
    #[serde(default = "default_deletion_threshold", alias = "entity_deletion_threshold")]
    pub entity_deletion_threshold: f64,
    /// One entry per kind to fetch and map, in order; a kind may appear more than once.
    #[serde(default)]
    pub resources: Vec<ResourceConfig>,
}

/// One kind of raw item and how it maps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceConfig {
    /// The kind the plugin fetches (one of its spec's kinds, e.g. `repository`).
    pub kind: String,
    /// `false`: a resync still writes this resource's entities but deletes none
    /// of them (Ocean 0.56.2's `enableDelete`; strictly a boolean, default true).
    #[serde(
        default = "yes",
        rename = "enableDelete",
        deserialize_with = "strict_bool",
        skip_serializing_if = "is_true"
    )]
    pub enable_delete: bool,
    /// Which of the kind's items to map, and plugin-specific fetch options.
    pub selector: Selector,
    /// How each selected item becomes an entity.
    pub port: PortResourceConfig,
}

/// Which raw items of a kind are mapped: a JQ filter, plus keys the plugin reads itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Selector {
    /// JQ expression; items for which it is not `true` are skipped.
    #[serde(deserialize_with = "jq_text")]
    pub query: String,
    /// Plugin-specific selector keys, kept for the plugin to read.
    #[serde(flatten)]
    pub extra: IndexMap<String, Value>,
}

/// The `port:` part of a resource: the entity mapping, and how to split an item into several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PortResourceConfig {
    /// The entity each item (or each parsed element) becomes.
    pub entity: EntityConfig,
    /// JQ expression yielding an array; each element is mapped on its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items_to_parse: Option<String>,
    /// Key under which each element is bound (`.item` by default).
    #[serde(default = "default_items_name")]
    pub items_to_parse_name: String,
    /// Remove the parsed array from the item before binding each element.
    #[serde(default = "yes")]
    pub items_to_parse_top_level_transform: bool,
}

/// The `entity:` wrapper around the mappings, as Ocean nests it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EntityConfig {
    /// The JQ expressions that make the entity's fields.
    pub mappings: EntityMappings,
}

/// Each value is a JQ expression run on the raw item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EntityMappings {
    /// Must yield a string, or be a search query that finds one entity.
    pub identifier: MappingValue,
    /// JQ yielding the entity's title; omitted, the entity has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// JQ yielding the blueprint's identifier: a literal needs quotes (`'"service"'`).
    pub blueprint: String,
    /// JQ yielding a team or a list of teams, or a search query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<MappingValue>,
    /// JQ yielding an icon name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    /// Property identifier to JQ expression, in the order written.
    #[serde(default)]
    pub properties: IndexMap<String, String>,
    /// Relation identifier to JQ expression (an identifier or a list) or search query.
    #[serde(default)]
    pub relations: IndexMap<String, MappingValue>,
}

/// A JQ expression, or a Port search query whose leaves are JQ expressions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged, expecting = "a JQ expression string or a search query object")]
pub enum MappingValue {
    /// A JQ expression, as text.
    Jq(String),
    /// A search query; every leaf (combinator, property, operator, value) is JQ.
    Search(SearchQuery),
}

/// A Port search query (`{combinator, rules}`), as a mapping may write it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SearchQuery {
    /// JQ yielding `"and"` or `"or"`.
    pub combinator: String,
    /// The rules, combined by `combinator`.
    pub rules: Vec<SearchRule>,
}

/// One rule of a [`SearchQuery`]: a comparison, or a nested query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(
    untagged,
    expecting = "a rule {property, operator, value} or a nested search query"
)]
pub enum SearchRule {
    /// `property operator value`, as Port's search takes it.
    Rule {
        /// JQ yielding the property (or meta-property such as `$identifier`) compared.
        property: String,
        /// JQ yielding Port's operator, e.g. `"="`, `"in"`, `"contains"`.
        operator: String,
        /// JQ yielding the value compared against.
        value: String,
    },
    /// A nested query, for mixing `and` and `or`.
    Query(SearchQuery),
}

fn is_true(value: &bool) -> bool {
    *value
}

/// Ocean's `enableDelete` validator refuses what pydantic would coerce
/// (`"false"`, `0`, `null`): only a YAML/JSON boolean is a boolean.
fn strict_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    use serde::de::Error;
    match Value::deserialize(d)? {
        Value::Bool(b) => Ok(b),
        other => {
            let got = match &other {
                Value::Null => "null".to_string(),
                Value::String(s) => format!("the string {s:?}"),
                v => v.to_string(),
            };
            Err(D::Error::custom(format!(
                "enableDelete must be a boolean (true or false), got {got}; omit the key to keep the default (true)"
            )))
        }
    }
}

/// A JQ field written as a YAML boolean or number (`query: true`) means the
/// same expression as its text.
fn jq_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        S(String),
        B(bool),
        N(serde_json::Number),
    }
    Ok(match Text::deserialize(d)? {
        Text::S(s) => s,
        Text::B(b) => b.to_string(),
        Text::N(n) => n.to_string(),
    })
}

/// Port's own webhook mapping (Data sources → Webhook → mapping): a list of these.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookMapping {
    /// The blueprint's identifier, literally (not JQ).
    pub blueprint: String,
    /// JQ boolean over `{body, headers, queryParams}`.
    #[serde(default = "default_filter", deserialize_with = "jq_text")]
    pub filter: String,
    /// JQ yielding an array; each element is mapped on its own, bound as `.item` beside `.body`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items_to_parse: Option<String>,
    /// Port's `operation` (e.g. a delete), accepted so Port's mappings load as written; this
    /// host does not act on it: [`WebhookMapping::to_resource`] drops it and every match is upserted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<Value>,
    /// How the matched payload becomes an entity.
    pub entity: WebhookEntity,
}

fn default_filter() -> String {
    "true".into()
}

/// The entity of Port's webhook mapping: alike to Ocean's `EntityMappings` by
/// design, kept apart because the two formats differ (the blueprint sits outside).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WebhookEntity {
    /// JQ over the payload yielding a string, or a search query that finds one entity.
    pub identifier: MappingValue,
    /// JQ yielding the entity's title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// JQ yielding a team or a list of teams, or a search query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<MappingValue>,
    /// JQ yielding an icon name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    /// Property identifier to JQ expression.
    #[serde(default)]
    pub properties: IndexMap<String, String>,
    /// Relation identifier to JQ expression or search query.
    #[serde(default)]
    pub relations: IndexMap<String, MappingValue>,
}

impl WebhookMapping {
    /// The same mapping in port-app-config terms: the filter is the selector and
    /// the blueprint becomes a JQ string literal.
    pub fn to_resource(&self) -> ResourceConfig {
        let e = &self.entity;
        ResourceConfig {
            kind: self.blueprint.clone(),
            enable_delete: true,
            selector: Selector {
                query: self.filter.clone(),
                extra: IndexMap::new(),
            },
            port: PortResourceConfig {
                entity: EntityConfig {
                    mappings: EntityMappings {
                        identifier: e.identifier.clone(),
                        title: e.title.clone(),
                        blueprint: Value::String(self.blueprint.clone()).to_string(),
                        team: e.team.clone(),
                        icon: e.icon.clone(),
                        properties: e.properties.clone(),
                        relations: e.relations.clone(),
                    },
                },
                items_to_parse: self.items_to_parse.clone(),
                items_to_parse_name: default_items_name(),
                // Port's webhooks keep `.body` and bind each element as `.item`.
                items_to_parse_top_level_transform: false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selector(yaml: &str) -> Selector {
        serde_norway::from_str(yaml).expect("a selector")
    }

    #[test]
    fn selector_query_is_jq_text_whatever_yaml_made_of_it() {
        assert_eq!(selector("query: 'true'").query, "true");
        assert_eq!(selector("query: true").query, "true");
        assert_eq!(selector("query: false").query, "false");
        assert_eq!(selector("query: 1").query, "1");
        assert_eq!(selector("query: .state == \"open\"").query, ".state == \"open\"");
    }

    #[test]
    fn selector_keeps_the_plugins_own_keys_in_order() {
        let parsed = selector("query: 'true'\nowners: [a, b]\nincludeArchived: false\n");
        let keys: Vec<&str> = parsed.extra.keys().map(String::as_str).collect();
        assert_eq!(keys, ["owners", "includeArchived"]);
        assert_eq!(parsed.extra["owners"], serde_json::json!(["a", "b"]));
        assert_eq!(parsed.extra["includeArchived"], Value::Bool(false));
    }

    #[test]
    fn selector_needs_a_query() {
        assert!(serde_norway::from_str::<Selector>("owners: [a]").is_err());
        assert!(serde_norway::from_str::<Selector>("query: [1, 2]").is_err());
    }
}
