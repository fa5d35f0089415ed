//! Property tests for the reconciler: for random Codecov states A and B (B is
//! A after random changes), a resync from A to B upserts exactly the entities
//! whose mapped content differs, deletes exactly those B no longer has, and
//! stays within the batching bounds (20 entities per bulk upsert, 100 per bulk delete).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use ocean_codecov::bench::soak::catalog::{self, Catalog};
use ocean_codecov::bench::soak::setup;
use ocean_codecov::runtime::resync::progress::Quiet;
use ocean_codecov::sim::codecov::changes::Change;
use ocean_codecov::sim::codecov::{CodecovSim, CodecovSimConfig};
use ocean_codecov::sim::port::{PortSim, PortSimConfig};
use proptest::prelude::*;
use serde_json::Value;

const IDENTIFIER: &str = "props";
/// Kinds in the default mapping: each delivers at most one page per owner here.
const KINDS: usize = 5;

fn a_change() -> impl Strategy<Value = Change> {
    let spot = || (0usize..4, 0usize..16);
    prop_oneof![
        (0usize..4, any::<u64>()).prop_map(|(owner, seed)| Change::AddRepo { owner, seed }),
        spot().prop_map(|(owner, repo)| Change::RemoveRepo { owner, repo }),
        spot().prop_map(|(owner, repo)| Change::ToggleActive { owner, repo }),
        (spot(), any::<u64>()).prop_map(|((owner, repo), seed)| Change::NewCommit { owner, repo, seed }),
        spot().prop_map(|(owner, repo)| Change::TogglePull { owner, repo }),
        spot().prop_map(|(owner, repo)| Change::DropFlag { owner, repo }),
    ]
}

/// (blueprint, identifier) of every entity sent in a bulk upsert, and how many requests.
fn upserted(port: &PortSim) -> (BTreeSet<(String, String)>, usize) {
    let mut written = BTreeSet::new();
    let mut requests = 0;
    for request in port.log().snapshot() {
        let Some(rest) = request.path.strip_prefix("/v1/blueprints/") else {
            continue;
        };
        let Some(blueprint) = rest.strip_suffix("/entities/bulk") else {
            continue;
        };
        requests += 1;
        let entities = request
            .request_body
            .as_ref()
            .and_then(|b| b.get("entities"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for entity in entities {
            let id = entity
                .get("identifier")
                .and_then(Value::as_str)
                .unwrap_or_default();
            written.insert((blueprint.to_string(), id.to_string()));
        }
    }
    (written, requests)
}

fn bulk_deletes(port: &PortSim) -> usize {
    port.log()
        .snapshot()
        .iter()
        .filter(|r| r.path.ends_with("/bulk/entities/delete"))
        .count()
}

async fn resync_a_to_b(owners: usize, repos: usize, seed: u64, changes: Vec<Change>) -> Result<(), String> {
    let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
    let (codecov_served, codecov) =
        CodecovSim::start(CodecovSimConfig::generated(owners, repos, seed), loopback)
            .await
            .map_err(|e| e.to_string())?;
    let port_config = PortSimConfig {
        capture_bodies: true,
        ..PortSimConfig::default()
    };
    let (port_served, port) = PortSim::start(port_config, loopback)
        .await
        .map_err(|e| e.to_string())?;
    let names: Vec<String> = codecov
        .dataset()
        .owners
        .iter()
        .map(|o| o.username.clone())
        .collect();
    let codecov_url = codecov_served.url();
    let make = |url: &str| setup::integration(url, &codecov_url, &names, 100, IDENTIFIER);
    let host = make(&port_served.url()).map_err(|e| format!("{e:#}"))?;
    host.set_up().await.map_err(|e| e.to_string())?;
    setup::allow_any_deletion_share(&host, &port, IDENTIFIER).await?;

    let first = host.resync(&Quiet, false).await.map_err(|e| e.to_string())?;
    if !first.succeeded() {
        return Err(format!("the resync of A failed: {first:?}"));
    }
    let before: Catalog = catalog::owned_by(&port, IDENTIFIER);
    // Port's `Date` has whole seconds: B's cutoff must fall after A's writes.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    port.log().clear();
    port.take_deletions();
    codecov.edit(|dataset| {
        for change in &changes {
            dataset.apply(change);
        }
    });

    let second = host.resync(&Quiet, false).await.map_err(|e| e.to_string())?;
    if !second.succeeded() {
        return Err(format!("the resync of B failed: {second:?}"));
    }
    let after = catalog::owned_by(&port, IDENTIFIER);
    let expected = catalog::expected(make, IDENTIFIER).await?;
    let differences = catalog::differences(&after, &expected, 5);
    if !differences.is_empty() {
        return Err(format!("Port is not B: {differences:?}"));
    }

    let changed: BTreeSet<(String, String)> = expected
        .iter()
        .filter(|(key, entity)| before.get(*key) != Some(*entity))
        .map(|(key, _)| key.clone())
        .collect();
    let (written, upsert_requests) = upserted(&port);
    if written != changed {
        return Err(format!(
            "upserted {written:?}, but the entities new or changed from A to B are {changed:?}"
        ));
    }
    let gone: BTreeSet<(String, String)> = before
        .keys()
        .filter(|k| !expected.contains_key(*k))
        .cloned()
        .collect();
    let deleted: BTreeSet<(String, String)> = port.take_deletions().into_iter().collect();
    if deleted != gone {
        return Err(format!("deleted {deleted:?}, but B lacks {gone:?}"));
    }

    let upsert_bound = changed.len().div_ceil(20) + KINDS * owners;
    if upsert_requests > upsert_bound.min(changed.len()) {
        return Err(format!(
            "{upsert_requests} bulk upserts for {} changed entities (bound {upsert_bound})",
            changed.len()
        ));
    }
    let mut per_blueprint: BTreeMap<&str, usize> = BTreeMap::new();
    for (blueprint, _) in &gone {
        *per_blueprint.entry(blueprint).or_default() += 1;
    }
    let delete_bound: usize = per_blueprint.values().map(|n| n.div_ceil(100)).sum();
    let delete_requests = bulk_deletes(&port);
    if delete_requests > delete_bound {
        return Err(format!(
            "{delete_requests} bulk deletes for {} stale entities (bound {delete_bound})",
            gone.len()
        ));
    }
    port_served.shutdown().await;
    codecov_served.shutdown().await;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn a_resync_from_a_to_b_writes_and_deletes_exactly_the_difference(
        owners in 1usize..=3,
        repos in 0usize..=8,
        seed in any::<u64>(),
        changes in prop::collection::vec(a_change(), 0..10),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let local = tokio::task::LocalSet::new();
        let outcome = local.block_on(&runtime, resync_a_to_b(owners, repos, seed, changes));
        prop_assert!(outcome.is_ok(), "{}", outcome.err().unwrap_or_default());
    }
}
