//! Registration: the integration and its default blueprints set up in Port,
//! the record's fields kept as Ocean 0.56.2 keeps them
//! (`port_ocean/core/defaults/initialization/initialize.py`).

use serde_json::{Map, Value, json};

use super::{Host, HostError};
use crate::settings::ListenerKind;
use ocean_port::order_by_relations;

/// Ocean's `ProcessingMode.ocean_core`: this host maps and writes entities
/// itself. (0.56.2 defaults to `dsp`, where an external service of Port's does
/// that from data sent to Port's lakehouse; this host sends no such data.)
pub const PROCESSING_MODE: &str = "ocean-core";

/// Where the record's resources came from, as Ocean's `createPortResourcesOrigin`:
/// `Default` is the integration's own default blueprints and mapping.
pub const RESOURCES_ORIGIN: &str = "Default";

/// The record's fields Ocean compares and patches at every start
/// (`_verify_integration_configuration`), in the order it checks them.
pub const VERIFIED_FIELDS: &[&str] = &[
    "changelogDestination",
    "installationAppType",
    "version",
    "actionsProcessingEnabled",
    "incrementalSyncEnabled",
    "processingMode",
];

/// Ocean's `get_changelog_destination_details` per listener
/// (`core/event_listener/base.py`, `http.py`, `kafka.py`): only WEBHOOK (and
/// KAFKA, which this host does not offer) names one; the others send `{}`.
pub fn changelog_destination(listener: ListenerKind, app_host: Option<&str>) -> Value {
    match (listener, app_host) {
        (ListenerKind::Webhook, Some(host)) => json!({"type": "WEBHOOK", "url": format!("{host}/resync")}),
        _ => json!({}),
    }
}

impl Host {
    /// The record's fields as Ocean 0.56.2 sends them. `actionsProcessingEnabled`
    /// and `incrementalSyncEnabled` are Ocean's settings' defaults (`false`):
    /// this host runs no actions and no incremental syncs.
    pub fn record_fields(&self) -> Map<String, Value> {
        let settings = &self.settings;
        let mut fields = Map::new();
        fields.insert(
            "changelogDestination".into(),
            changelog_destination(settings.listener, settings.ocean.app_host.as_deref()),
        );
        fields.insert("installationAppType".into(), json!(settings.integration_type));
        fields.insert("version".into(), json!(self.port.settings().integration_version));
        fields.insert("actionsProcessingEnabled".into(), json!(false));
        fields.insert("incrementalSyncEnabled".into(), json!(false));
        fields.insert("processingMode".into(), json!(PROCESSING_MODE));
        fields
    }

    fn default_config(&self) -> Result<Value, HostError> {
        serde_norway::from_str(self.defaults.port_app_config)
            .map_err(|e| HostError::BadDefault(e.to_string()))
    }

    /// Registers the integration (with the default mapping) if Port lacks it,
    /// brings the record's fields in line, and creates the default blueprints
    /// if none exists (`create_defaults`). Existing blueprints and mappings are never overwritten.
    pub async fn set_up(&self) -> Result<(), HostError> {
        let default_config = self.default_config()?;
        let fields = self.record_fields();
        let integration = match self.port.get_integration().await? {
            Some(existing) => existing,
            None => {
                tracing::info!(identifier = %self.settings.integration_identifier, "registering the integration in Port");
                // Ocean's `create_integration` body: no processingMode, which the check below then adds.
                let mut created = fields.clone();
                created.remove("processingMode");
                created.insert("createPortResourcesOrigin".into(), json!(RESOURCES_ORIGIN));
                self.port
                    .create_integration_with(&default_config, &created)
                    .await?
            }
        };
        self.correct_drift(&integration, fields).await?;
        self.create_defaults(&integration).await
    }

    /// Ocean 0.56.2's rule for the default blueprints
    /// (`core/defaults/initialization/base_setup.py`, `default_origin_setup.py`):
    /// nothing once the record says `arePortResourcesInitialized`; nothing if
    /// any of them exists already (a user who deleted one keeps it deleted);
    /// otherwise all of them. Either way the record is then marked initialized.
    async fn create_defaults(&self, integration: &Value) -> Result<(), HostError> {
        if integration.get("arePortResourcesInitialized") == Some(&json!(true)) {
            tracing::info!(
                "Port resources are already initialized (arePortResourcesInitialized), skipping the default blueprints"
            );
            return Ok(());
        }
        if !self.settings.initialize_port_resources {
            tracing::info!(
                "resources initialization disabled (OCEAN__INITIALIZE_PORT_RESOURCES), skipping the default blueprints"
            );
            return Ok(());
        }
        // Port provisions an installation of origin `Port`; `Empty` asks for none.
        if let Some(origin @ ("Port" | "Empty")) = integration
            .get("createPortResourcesOrigin")
            .and_then(Value::as_str)
        {
            tracing::info!(
                origin,
                "the record's createPortResourcesOrigin leaves the default blueprints to Port: skipping them"
            );
            return Ok(());
        }
        let blueprints = order_by_relations(&self.defaults.blueprints);
        let mut existing = Vec::new();
        for blueprint in &blueprints {
            let Some(identifier) = blueprint.get("identifier").and_then(Value::as_str) else {
                return Err(HostError::BadDefault(
                    "a default blueprint has no \"identifier\"".into(),
                ));
            };
            if self.port.get_blueprint(identifier).await?.is_some() {
                existing.push(identifier.to_string());
            }
        }
        if existing.is_empty() {
            let created = self.port.ensure_blueprints(&blueprints).await?;
            tracing::info!(blueprints = ?created, "created default blueprints");
        } else {
            let missing: Vec<&str> = blueprints
                .iter()
                .filter_map(|b| b.get("identifier").and_then(Value::as_str))
                .filter(|id| !existing.iter().any(|e| e == id))
                .collect();
            tracing::info!(
                existing = ?existing,
                "default blueprints already exist: skipping the creation of all of them (Ocean's rule; one deleted stays deleted)"
            );
            // E.g. a catalog set up by Port's webhook guide has only `codecov_coverage`: the other
            // kinds' entities are then refused until their blueprints exist.
            if !missing.is_empty() {
                tracing::warn!(
                    missing = ?missing,
                    "some default blueprints do not exist and will not be created: entities of the kinds mapped to them are refused until you create them (from the integration's default blueprints) or remove those kinds from the mapping"
                );
            }
        }
        self.port
            .patch_integration(&json!({"arePortResourcesInitialized": true}))
            .await?;
        Ok(())
    }

    /// Patches the record when one of Ocean's verified fields differs from
    /// what this host would send (a record left by the Python integration,
    /// e.g. with a KAFKA destination, or by an older version): all of them
    /// go, as Ocean's `patch_integration` sends them.
    async fn correct_drift(&self, integration: &Value, fields: Map<String, Value>) -> Result<(), HostError> {
        let drifted: Vec<&str> = VERIFIED_FIELDS
            .iter()
            .copied()
            .filter(|name| integration.get(*name) != fields.get(*name))
            .collect();
        if drifted.is_empty() {
            return Ok(());
        }
        tracing::info!(fields = ?drifted, "bringing the integration's record in Port up to date");
        if self.settings.listener == ListenerKind::Webhook {
            tracing::info!(url = %fields["changelogDestination"]["url"], "Port will call this integration to ask for resyncs");
        }
        self.port.patch_integration(&Value::Object(fields)).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_webhook_listener_names_a_destination() {
        for listener in [
            ListenerKind::Once,
            ListenerKind::Polling,
            ListenerKind::WebhooksOnly,
        ] {
            assert_eq!(
                changelog_destination(listener, Some("https://x.example")),
                json!({}),
                "{listener:?}"
            );
        }
        assert_eq!(
            changelog_destination(ListenerKind::Webhook, Some("https://x.example")),
            json!({"type": "WEBHOOK", "url": "https://x.example/resync"})
        );
    }
}
