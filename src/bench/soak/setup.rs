//! The integration as the soak and the reconciler's property tests run it.

use std::collections::BTreeMap;

use serde_json::json;

use crate::runtime::host::Host;
use crate::runtime::settings::integration_variable;
use crate::sim::codecov::DEFAULT_TOKEN;
use crate::sim::port::PortSim;

/// The Codecov integration `identifier` between the simulators, with fast
/// retries (Retry-After still sets the floor) and no listener of its own.
pub fn integration(
    port_url: &str,
    codecov_url: &str,
    owners: &[String],
    page_size: u64,
    identifier: &str,
) -> anyhow::Result<Host> {
    let owners = serde_json::to_string(owners)?;
    let vars: BTreeMap<String, String> = [
        ("OCEAN__PORT__BASE_URL".to_string(), port_url.to_string()),
        ("OCEAN__PORT__CLIENT_ID".into(), "test-client".into()),
        ("OCEAN__PORT__CLIENT_SECRET".into(), "test-secret".into()),
        ("OCEAN__INTEGRATION__IDENTIFIER".into(), identifier.into()),
        ("OCEAN__INTEGRATION__TYPE".into(), "codecov".into()),
        ("OCEAN__EVENT_LISTENER__TYPE".into(), "WEBHOOKS_ONLY".into()),
        ("OCEAN__RETRY__BASE_DELAY_MS".into(), "2".into()),
        ("OCEAN__RETRY__MAX_ATTEMPTS".into(), "6".into()),
        ("OCEAN__RETRY__MAX_TOTAL_WAIT_SECS".into(), "10".into()),
        (integration_variable("codecovToken"), DEFAULT_TOKEN.into()),
        (integration_variable("codecovUrl"), codecov_url.into()),
        (integration_variable("codecovOwners"), owners),
        (integration_variable("codecovPageSize"), page_size.to_string()),
    ]
    .into_iter()
    .collect();
    crate::wiring::host_from(&vars, None)
}

/// The catalogs here are small, so one change can be most of one; the
/// deletion threshold (tested on its own) would then hold back deletions the
/// schedule expects. Set to 1, it leaves the guards under test alone.
pub async fn allow_any_deletion_share(host: &Host, port: &PortSim, identifier: &str) -> Result<(), String> {
    let mut config = port
        .integration(identifier)
        .and_then(|i| i.get("config").cloned())
        .ok_or("set-up left no integration config in Port")?;
    config["entityDeletionThreshold"] = json!(1);
    host.port
        .patch_integration_config(&config)
        .await
        .map(|_| ())
        .map_err(|e| format!("setting entityDeletionThreshold: {e}"))
}
