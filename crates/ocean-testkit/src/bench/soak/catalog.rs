//! The expected catalog: what a clean resync of Codecov's records, as they
//! are now, writes to an empty Port. The soak's Port is held to it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use serde_json::{Value, json};

use ocean_host::resync::progress::Quiet;
use ocean_sim::port::{PortSim, PortSimConfig};

/// The integration's entities: (blueprint, identifier) → what a user sees of them.
pub type Catalog = BTreeMap<(String, String), Value>;

/// Meta-properties (dates, datasource) left out: only what the data says is compared.
fn visible(entity: &Value) -> Value {
    json!({
        "title": entity.get("title"),
        "team": entity.get("team"),
        "icon": entity.get("icon"),
        "properties": entity.get("properties"),
        "relations": entity.get("relations"),
    })
}

/// Entities the integration `identifier` wrote to `port` (Ocean's datasource shape).
pub fn owned_by(port: &PortSim, identifier: &str) -> Catalog {
    let marker = format!("/{identifier}/exporter");
    let mut catalog = Catalog::new();
    for (blueprint, _) in port.store_counts() {
        for entity in port.entities(&blueprint) {
            let datasource = entity
                .get("datasource")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !datasource.ends_with(&marker) {
                continue;
            }
            let id = entity
                .get("identifier")
                .and_then(Value::as_str)
                .unwrap_or_default();
            catalog.insert((blueprint.clone(), id.to_string()), visible(&entity));
        }
    }
    catalog
}

/// A clean resync into a fresh Port simulator, as integration `identifier`.
pub async fn expected(
    make_host: impl Fn(&str) -> anyhow::Result<ocean_host::host::Host>,
    identifier: &str,
) -> Result<Catalog, String> {
    expected_with(make_host, identifier, None).await
}

/// As `expected`, with `mapping` (a port-app-config as Port holds it) instead of the default.
pub async fn expected_with(
    make_host: impl Fn(&str) -> anyhow::Result<ocean_host::host::Host>,
    identifier: &str,
    mapping: Option<&Value>,
) -> Result<Catalog, String> {
    let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
    let (served, port) = PortSim::start(PortSimConfig::default(), loopback)
        .await
        .map_err(|e| format!("starting the reference Port: {e}"))?;
    let host = make_host(&served.url()).map_err(|e| format!("the reference integration: {e:#}"))?;
    host.set_up()
        .await
        .map_err(|e| format!("setting up the reference: {e}"))?;
    if let Some(mapping) = mapping {
        host.port
            .patch_integration_config(mapping)
            .await
            .map_err(|e| format!("the reference's mapping: {e}"))?;
    }
    let report = host
        .resync(&Quiet, false)
        .await
        .map_err(|e| format!("the reference resync: {e}"))?;
    if !report.succeeded() {
        return Err(format!(
            "the reference resync, with no faults, failed: {}",
            serde_json::to_string(&report).unwrap_or_default()
        ));
    }
    let catalog = owned_by(&port, identifier);
    served.shutdown().await;
    Ok(catalog)
}

/// Every difference between what Port holds and what it should, at most
/// `limit`. In blueprints the mapping no longer writes (`mapped` names those
/// it does; `None`: all) only presence is compared: what stays there stays
/// because a kept entity relates to it, as it was last written, where a clean
/// resync into an empty Port has Port create it bare.
pub fn differences(
    actual: &Catalog,
    expected: &Catalog,
    mapped: Option<&BTreeSet<String>>,
    limit: usize,
) -> Vec<String> {
    let keys: BTreeSet<&(String, String)> = actual.keys().chain(expected.keys()).collect();
    let content_counts = |blueprint: &String| mapped.is_none_or(|m| m.contains(blueprint));
    keys.into_iter()
        .filter_map(
            |key @ (blueprint, id)| match (actual.get(key), expected.get(key)) {
                (Some(_), None) => Some(format!("extra {blueprint} {id}")),
                (None, Some(_)) => Some(format!("missing {blueprint} {id}")),
                (Some(a), Some(e)) if a != e && content_counts(blueprint) => {
                    Some(format!("stale {blueprint} {id}: has {a}, expected {e}"))
                }
                _ => None,
            },
        )
        .take(limit)
        .collect()
}
