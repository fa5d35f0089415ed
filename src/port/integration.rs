//! The integration's own record in Port: registration, its config (the
//! mapping users edit in Port's UI) and resync requests.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::client::{Call, PortClient, api_path};
use super::error::PortError;

impl PortClient {
    /// The integration record, or `None` when it is not registered yet.
    pub async fn get_integration(&self) -> Result<Option<Value>, PortError> {
        let call = Call::new(
            Method::GET,
            api_path(&["integration", &self.settings.integration_identifier]),
        );
        match self.send(&call).await {
            Ok(reply) => Ok(reply.json::<Value>(&call)?.get("integration").cloned()),
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Registers the integration as Ocean does (`POST /v1/integration`, a
    /// route Port's public spec leaves out), with `config` as its first mapping.
    pub async fn create_integration(&self, config: &Value) -> Result<Value, PortError> {
        let settings = &self.settings;
        let call = Call::new(Method::POST, api_path(&["integration"])).json(&json!({
            "installationId": settings.integration_identifier,
            "installationAppType": settings.integration_type,
            "version": settings.integration_version,
            "config": config,
        }))?;
        Ok(self
            .send(&call)
            .await?
            .json::<Value>(&call)?
            .get("integration")
            .cloned()
            .unwrap_or(Value::Null))
    }

    /// `PATCH /v1/integration/{identifier}`; an empty body asks Port for a resync.
    pub async fn patch_integration(&self, body: &Value) -> Result<Value, PortError> {
        let call = Call::new(
            Method::PATCH,
            api_path(&["integration", &self.settings.integration_identifier]),
        )
        .json(body)?;
        Ok(self
            .send(&call)
            .await?
            .json::<Value>(&call)?
            .get("integration")
            .cloned()
            .unwrap_or(Value::Null))
    }

    /// Replaces the integration's mapping (`PATCH /v1/integration/{identifier}/config`).
    pub async fn patch_integration_config(&self, config: &Value) -> Result<Value, PortError> {
        let identifier = &self.settings.integration_identifier;
        let call = Call::new(Method::PATCH, api_path(&["integration", identifier, "config"]))
            .json(&json!({ "config": config }))?;
        Ok(self
            .send(&call)
            .await?
            .json::<Value>(&call)?
            .get("integration")
            .cloned()
            .unwrap_or(Value::Null))
    }

    /// Asks Port to trigger a resync without changing the mapping.
    pub async fn request_resync(&self) -> Result<(), PortError> {
        self.patch_integration(&json!({})).await.map(|_| ())
    }

    /// Registers the integration if Port does not know it yet; either way
    /// returns the record, whose `config` is the mapping in force.
    pub async fn ensure_integration(&self, default_config: &Value) -> Result<Value, PortError> {
        match self.get_integration().await? {
            Some(existing) => Ok(existing),
            None => self.create_integration(default_config).await,
        }
    }
}
