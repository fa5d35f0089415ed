//! What a connection probe asks Port: a token for the credentials, the
//! organisation's id, and the probe's result, as Ocean 0.56.2's probe does
//! (`PortClient.get_org_id`, `patch_probe_health_result`).

use reqwest::Method;
use serde_json::Value;

use super::client::{Call, PortClient, api_path};
use super::error::PortError;

impl PortClient {
    /// Obtains a token for the configured client ID and secret, so a probe can
    /// tell refused credentials from everything after them.
    pub async fn authenticate(&self) -> Result<(), PortError> {
        self.token().await.map(|_| ())
    }

    /// The organisation's id (`GET /v1/organization` → `organization.id`).
    pub async fn organization_id(&self) -> Result<String, PortError> {
        let call = Call::new(Method::GET, api_path(&["organization"]));
        let organization = self.send_for(&call, "organization").await?;
        organization
            .get("id")
            .and_then(Value::as_str)
            .map(String::from)
            .ok_or_else(|| PortError::UnexpectedReply {
                method: call.method.to_string(),
                path: call.path.clone(),
                reason: "no organization.id in the reply".into(),
            })
    }

    /// A probe's status report (`PATCH /v1/org/{org_id}/integration/probe/{probe_id}`,
    /// a route Port's public spec leaves out), the body as Ocean 0.56.2 sends it.
    pub async fn patch_probe_result(
        &self,
        org_id: &str,
        probe_id: &str,
        body: &Value,
    ) -> Result<(), PortError> {
        let path = api_path(&["org", org_id, "integration", "probe", probe_id]);
        let call = Call::new(Method::PATCH, path).json(body)?;
        self.send(&call).await.map(|_| ())
    }
}
