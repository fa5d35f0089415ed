//! The integration as the soak and the reconciler's property tests run it.

use serde_json::json;

use crate::harness::IntegrationEnv;
use ocean_host::host::Host;
use ocean_sim::port::PortSim;

/// The Codecov integration `identifier` between the simulators, with fast
/// retries (Retry-After still sets the floor) and no listener of its own.
pub fn integration(
    port_url: &str,
    codecov_url: &str,
    owners: &[String],
    page_size: u64,
    identifier: &str,
) -> anyhow::Result<Host> {
    env(port_url, codecov_url, owners, page_size, identifier).host()
}

/// The settings `integration` builds its host from, for a run of the binary too.
pub fn env(
    port_url: &str,
    codecov_url: &str,
    owners: &[String],
    page_size: u64,
    identifier: &str,
) -> IntegrationEnv {
    IntegrationEnv::new(port_url, codecov_url, owners, identifier)
        .var("OCEAN__INTEGRATION__TYPE", "codecov")
        .var("OCEAN__EVENT_LISTENER__TYPE", "WEBHOOKS_ONLY")
        .fast_retries(2, 6)
        .var("OCEAN__RETRY__MAX_TOTAL_WAIT_SECS", "10")
        .field("codecovPageSize", page_size.to_string())
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
