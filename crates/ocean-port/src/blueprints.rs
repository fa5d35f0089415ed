//! Blueprint calls, for the integration's first setup.

use reqwest::Method;
use serde_json::Value;

use super::client::{Call, PortClient, api_path};
use super::error::PortError;

impl PortClient {
    /// The blueprint, or `None` when Port has none by that identifier.
    pub async fn get_blueprint(&self, identifier: &str) -> Result<Option<Value>, PortError> {
        let call = Call::new(Method::GET, api_path(&["blueprints", identifier]));
        self.find(&call, "blueprint").await
    }

    /// Every blueprint of the organisation, as Port returns them.
    pub async fn list_blueprints(&self) -> Result<Vec<Value>, PortError> {
        let call = Call::new(Method::GET, api_path(&["blueprints"]));
        match self.send_for(&call, "blueprints").await? {
            Value::Array(blueprints) => Ok(blueprints),
            other => Err(PortError::UnexpectedReply {
                method: call.method.to_string(),
                path: call.path.clone(),
                reason: format!(
                    "\"blueprints\" is not an array: {}",
                    crate::error::kind_of(&other)
                ),
            }),
        }
    }

    /// Creates one blueprint (`POST /v1/blueprints`) from its JSON definition and returns Port's
    /// reply; an existing identifier is Port's error, not a success. Prefer [`PortClient::ensure_blueprints`].
    pub async fn create_blueprint(&self, blueprint: &Value) -> Result<Value, PortError> {
        let call = Call::new(Method::POST, api_path(&["blueprints"])).json(blueprint)?;
        self.send_for(&call, "blueprint").await
    }

    /// Creates the blueprints Port lacks, leaving existing ones (which users
    /// may have edited) alone. Returns the identifiers it created.
    pub async fn ensure_blueprints(&self, blueprints: &[Value]) -> Result<Vec<String>, PortError> {
        let mut created = Vec::new();
        for blueprint in blueprints {
            let Some(identifier) = blueprint.get("identifier").and_then(Value::as_str) else {
                return Err(PortError::Setup(
                    "a default blueprint has no \"identifier\"".into(),
                ));
            };
            if self.get_blueprint(identifier).await?.is_none() {
                self.create_blueprint(blueprint).await?;
                created.push(identifier.to_string());
            }
        }
        Ok(created)
    }
}

/// Blueprints ordered so each comes after the blueprints its relations point
/// at; those in a cycle keep their given order.
pub fn order_by_relations(blueprints: &[Value]) -> Vec<Value> {
    let id = |b: &Value| {
        b.get("identifier")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let all: Vec<String> = blueprints.iter().map(id).collect();
    let mut placed: Vec<String> = Vec::new();
    let mut ordered = Vec::new();
    let mut pending: Vec<&Value> = blueprints.iter().collect();
    while !pending.is_empty() {
        let ready = pending.iter().position(|b| {
            let targets = b.get("relations").and_then(Value::as_object);
            targets
                .into_iter()
                .flatten()
                .filter_map(|(_, r)| r.get("target").and_then(Value::as_str))
                .all(|t| t == id(b) || placed.iter().any(|p| p == t) || !all.iter().any(|a| a == t))
        });
        let next = pending.remove(ready.unwrap_or(0));
        placed.push(id(next));
        ordered.push(next.clone());
    }
    ordered
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn relation_targets_come_first() {
        let blueprints = vec![
            json!({"identifier": "commit", "relations": {"repo": {"target": "repo"}}}),
            json!({"identifier": "other", "relations": {"x": {"target": "elsewhere"}}}),
            json!({"identifier": "repo", "relations": {}}),
        ];
        let order: Vec<_> = order_by_relations(&blueprints)
            .iter()
            .map(|b| b["identifier"].clone())
            .collect();
        assert_eq!(order, [json!("other"), json!("repo"), json!("commit")]);
    }
}
