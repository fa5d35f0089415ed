//! The integration's own record in Port: registration, its config (the
//! mapping users edit in Port's UI) and resync requests.

use reqwest::Method;
use serde_json::{Map, Value, json};

use super::client::{Call, PortClient, api_path};
use super::error::PortError;

impl PortClient {
    /// The integration record, or `None` when it is not registered yet.
    pub async fn get_integration(&self) -> Result<Option<Value>, PortError> {
        let call = Call::new(
            Method::GET,
            api_path(&["integration", &self.settings.integration_identifier]),
        );
        self.find(&call, "integration").await
    }

    /// Registers the integration as Ocean does (`POST /v1/integration`, a
    /// route Port's public spec leaves out), with `config` as its first mapping.
    pub async fn create_integration(&self, config: &Value) -> Result<Value, PortError> {
        self.create_integration_with(config, &Map::new()).await
    }

    /// As `create_integration`, with more of the record's fields (e.g.
    /// `changelogDestination`); they override the defaults above.
    pub async fn create_integration_with(
        &self,
        config: &Value,
        fields: &Map<String, Value>,
    ) -> Result<Value, PortError> {
        let settings = &self.settings;
        let mut body = json!({
            "installationId": settings.integration_identifier,
            "installationAppType": settings.integration_type,
            "version": settings.integration_version,
            "config": config,
        });
        if let Some(body) = body.as_object_mut() {
            body.extend(fields.clone());
        }
        let call = Call::new(Method::POST, api_path(&["integration"])).json(&body)?;
        self.send_for(&call, "integration").await
    }

    /// `PATCH /v1/integration/{identifier}`; an empty body asks Port for a resync.
    pub async fn patch_integration(&self, body: &Value) -> Result<Value, PortError> {
        let call = Call::new(
            Method::PATCH,
            api_path(&["integration", &self.settings.integration_identifier]),
        )
        .json(body)?;
        self.send_for(&call, "integration").await
    }

    /// Replaces the integration's mapping (`PATCH /v1/integration/{identifier}/config`).
    pub async fn patch_integration_config(&self, config: &Value) -> Result<Value, PortError> {
        let identifier = &self.settings.integration_identifier;
        let call = Call::new(Method::PATCH, api_path(&["integration", identifier, "config"]))
            .json(&json!({ "config": config }))?;
        self.send_for(&call, "integration").await
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

    /// Reports resync progress as Ocean does (`PATCH .../resync-state`, outside
    /// Port's public spec): `status` is running, completed, failed or aborted.
    pub async fn patch_resync_state(&self, state: &Value) -> Result<Value, PortError> {
        let identifier = &self.settings.integration_identifier;
        let call = Call::new(
            Method::PATCH,
            api_path(&["integration", identifier, "resync-state"]),
        )
        .json(state)?;
        self.send_for(&call, "integration").await
    }

    /// The last resync a user asked for in Port's UI (`{id, updatedAt}`), if any.
    pub async fn resync_request(&self) -> Result<Option<Value>, PortError> {
        let identifier = &self.settings.integration_identifier;
        let call = Call::new(
            Method::GET,
            api_path(&["integration", identifier, "resync-request"]),
        );
        Ok(self.find(&call, "request").await?.filter(|r| !r.is_null()))
    }
}
