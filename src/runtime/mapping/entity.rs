//! A Port entity as the bulk and single upsert routes take it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    /// A string, or a search query object that Port resolves to one entity.
    pub identifier: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<Value>,
    pub blueprint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<Value>,
    #[serde(default)]
    pub properties: Map<String, Value>,
    #[serde(default)]
    pub relations: Map<String, Value>,
}
