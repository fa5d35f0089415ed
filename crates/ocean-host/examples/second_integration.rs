//! How the next integration is built on this host: a plugin for a made-up
//! source of services, its spec, its default mapping and blueprint, and two
//! resyncs against the Port simulator (the second deletes what the source no
//! longer lists).
//!
//! ```text
//! cargo run -p ocean-host --example second_integration
//! ```
//!
//! `cargo test` runs it too (`test = true` in this crate's Cargo.toml).
//!
//! A real plugin fetches from its service in `fetch` (paging, retries,
//! holding back what it could not read: see `crates/codecov`); everything
//! else (registration in Port, the mapping users edit in Port's UI, JQ,
//! the plan, bulk upserts, deletion of stale entities, resync states) is the
//! host's.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use ocean_host::host::{Defaults, Host};
use ocean_host::plugin::{PageStream, Plugin, RawItem, WebhookEvent};
use ocean_host::resync::progress::Quiet;
use ocean_host::resync::{Deletion, ResyncReport};
use ocean_host::settings::{IntegrationSpec, Settings};
use ocean_sim::port::{PortSim, PortSimConfig};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

/// The integration's spec (`.port/spec.yaml` in a real one): its type and config fields.
const SPEC: &str = "type: services\ntitle: Services\nconfigurations: []\n";

/// The default port-app-config, Ocean's format: installed when the integration is created.
const PORT_APP_CONFIG: &str = r#"
resources:
  - kind: service
    selector:
      query: .active
    port:
      entity:
        mappings:
          identifier: .id
          title: .name
          blueprint: '"exampleService"'
          properties:
            tier: .tier
            url: '"https://services.example/" + .id'
"#;

/// A source that lists services in pages of two, as a paged API would.
struct ServicesPlugin {
    services: Mutex<Vec<Value>>,
}

impl Plugin for ServicesPlugin {
    fn name(&self) -> &'static str {
        "services"
    }

    fn kinds(&self) -> &'static [&'static str] {
        &["service"]
    }

    fn fetch(self: Arc<Self>, _kind: &str, _selector: &Map<String, Value>) -> PageStream {
        let services = self.services.lock().map(|s| s.clone()).unwrap_or_default();
        let (pages, stream) = PageStream::channel();
        tokio::spawn(async move {
            for page in services.chunks(2) {
                // False: the resync stopped listening (e.g. a shutdown); stop fetching.
                if !pages.page(page.iter().map(RawItem::from_value).collect()).await {
                    return;
                }
            }
        });
        stream
    }

    fn recognises_webhook(&self, _headers: &BTreeMap<String, String>, _body: &[u8]) -> bool {
        // This source sends no webhooks; a live-event source recognises its own here.
        false
    }

    fn webhook_events<'a>(&'a self, bodies: &'a [&'a RawValue]) -> BoxFuture<'a, Vec<WebhookEvent>> {
        Box::pin(async move { bodies.iter().map(|_| WebhookEvent::default()).collect() })
    }
}

/// The settings `sail` would read from `OCEAN__*` variables, pointed at `port_url`.
fn settings(port_url: &str) -> anyhow::Result<Settings> {
    let vars: BTreeMap<String, String> = [
        ("OCEAN__PORT__BASE_URL", port_url),
        ("OCEAN__PORT__CLIENT_ID", "test-client"),
        ("OCEAN__PORT__CLIENT_SECRET", "test-secret"),
        ("OCEAN__INTEGRATION__IDENTIFIER", "services-example"),
        ("OCEAN__EVENT_LISTENER__TYPE", "ONCE"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let spec = IntegrationSpec::parse(SPEC)?;
    Ok(Settings::load(&vars, None, &spec)?)
}

fn service(id: &str, tier: &str, active: bool) -> Value {
    json!({"id": id, "name": id.to_uppercase(), "tier": tier, "active": active})
}

fn deleted(report: &ResyncReport) -> anyhow::Result<usize> {
    match &report.deletion {
        Deletion::Done { deleted, .. } => Ok(*deleted),
        other => anyhow::bail!("the deletion phase did not run: {other:?}"),
    }
}

/// Runs the example: returns the entity identifiers in Port after each resync.
async fn run() -> anyhow::Result<(Vec<String>, Vec<String>, usize)> {
    let (served, port) = PortSim::start(PortSimConfig::default(), "127.0.0.1:0".parse()?).await?;
    let plugin = Arc::new(ServicesPlugin {
        services: Mutex::new(vec![
            service("billing", "gold", true),
            service("search", "silver", true),
            service("legacy", "bronze", false), // left out by the selector
            service("reports", "silver", true),
        ]),
    });
    let defaults = Defaults {
        port_app_config: PORT_APP_CONFIG,
        blueprints: vec![json!({
            "identifier": "exampleService",
            "title": "Service",
            "schema": {"properties": {
                "tier": {"type": "string", "title": "Tier"},
                "url": {"type": "string", "format": "url", "title": "URL"}
            }}
        })],
    };
    let host = Host::build(settings(&served.url())?, plugin.clone(), defaults)?;
    // Creates the integration, its blueprints and its default mapping in Port.
    host.set_up().await?;

    let first = host.resync(&Quiet, false).await?;
    let after_first = identifiers(&port);
    for kind in &first.kinds {
        println!(
            "first resync, {}: {} items, {} left out by the selector, {} created; in Port: {after_first:?}",
            kind.kind, kind.items, kind.skipped, kind.created
        );
    }

    // The source stops listing one service: the next resync deletes its entity.
    // (Port's clock has whole seconds: what was written in the second a resync
    // starts counts as written during it, and is never stale. A schedule is
    // minutes apart; here, wait out the second.)
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    plugin
        .services
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .remove(0);
    let second = host.resync(&Quiet, false).await?;
    let after_second = identifiers(&port);
    let deleted = deleted(&second)?;
    println!("second resync deleted {deleted}; in Port: {after_second:?}");
    Ok((after_first, after_second, deleted))
}

fn identifiers(port: &PortSim) -> Vec<String> {
    let mut ids: Vec<String> = port
        .entities("exampleService")
        .iter()
        .filter_map(|e| e["identifier"].as_str().map(str::to_string))
        .collect();
    ids.sort();
    ids
}

fn main() -> anyhow::Result<()> {
    tokio::runtime::Runtime::new()?.block_on(run())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn resyncs_write_then_delete_what_the_source_no_longer_lists() {
        let (first, second, deleted) = super::run().await.expect("the example runs");
        assert_eq!(first, ["billing", "reports", "search"]);
        assert_eq!(second, ["reports", "search"]);
        assert_eq!(deleted, 1);
    }
}
