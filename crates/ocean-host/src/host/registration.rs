//! Registration: the integration and its default blueprints set up in Port.

use serde_json::{Value, json};

use super::{Host, HostError};
use ocean_port::order_by_relations;

impl Host {
    /// `{type: WEBHOOK, url: <app host>/resync}` with the WEBHOOK listener.
    fn changelog_destination(&self) -> Option<Value> {
        if self.settings.listener != crate::settings::ListenerKind::Webhook {
            return None;
        }
        let host = self.settings.ocean.app_host.as_ref()?;
        Some(json!({"type": "WEBHOOK", "url": format!("{host}/resync")}))
    }

    fn default_config(&self) -> Result<Value, HostError> {
        serde_norway::from_str(self.defaults.port_app_config)
            .map_err(|e| HostError::BadDefault(e.to_string()))
    }

    /// Registers the integration (with the default mapping) if Port lacks it,
    /// brings its type and version up to date, and creates missing blueprints.
    /// Existing blueprints and mappings are never overwritten.
    pub async fn set_up(&self) -> Result<(), HostError> {
        let default_config = self.default_config()?;
        let integration = match self.port.get_integration().await? {
            Some(existing) => existing,
            None => {
                tracing::info!(identifier = %self.settings.integration_identifier, "registering the integration in Port");
                self.port.create_integration(&default_config).await?
            }
        };
        let version = self.port.settings().integration_version.clone();
        // The WEBHOOK listener tells Port where to ask for resyncs, as Ocean's does.
        let destination = self.changelog_destination();
        let drifted = integration.get("installationAppType").and_then(Value::as_str)
            != Some(self.settings.integration_type.as_str())
            || integration.get("version").and_then(Value::as_str) != Some(version.as_str())
            || destination
                .as_ref()
                .is_some_and(|d| integration.get("changelogDestination") != Some(d));
        if drifted {
            let mut patch =
                json!({"installationAppType": self.settings.integration_type, "version": version});
            if let Some(destination) = destination {
                tracing::info!(url = %destination["url"], "Port will call this integration to ask for resyncs");
                patch["changelogDestination"] = destination;
            }
            self.port.patch_integration(&patch).await?;
        }
        if self.settings.initialize_port_resources {
            let created = self
                .port
                .ensure_blueprints(&order_by_relations(&self.defaults.blueprints))
                .await?;
            if !created.is_empty() {
                tracing::info!(blueprints = ?created, "created default blueprints");
            }
        }
        Ok(())
    }
}
