//! Property tests for the reconciler: for random Codecov states A and B (B is
//! A after random changes), and B's mapping A's with random resources removed
//! and `deleteDependentEntities` on or off, a resync from A to B upserts
//! exactly the entities whose mapped content differs, deletes exactly those B
//! no longer has (in blueprints no longer mapped, all but those a kept entity
//! relates to), never deletes a kept entity's relation target
//! (`createMissingRelatedEntities` is on) nor cascades into an entity it
//! wrote, and stays within the batching bounds (20 entities per bulk upsert,
//! 100 per bulk delete).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use ocean_host::resync::progress::Quiet;
use ocean_sim::codecov::changes::Change;
use ocean_sim::codecov::{CodecovSim, CodecovSimConfig};
use ocean_sim::port::{PortSim, PortSimConfig};
use ocean_testkit::bench::soak::catalog::{self, Catalog};
use ocean_testkit::bench::soak::{mapping_edits, setup};
use proptest::prelude::*;
use serde_json::{Value, json};

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

/// Relation name -> target blueprint, per blueprint of the default mapping.
fn relation_targets() -> BTreeMap<String, BTreeMap<String, String>> {
    let blueprints: Vec<Value> =
        serde_json::from_str(include_str!("../.port/resources/blueprints.json")).expect("blueprints");
    blueprints
        .iter()
        .map(|b| {
            let relations = b["relations"]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(name, spec)| Some((name.clone(), spec["target"].as_str()?.to_string())))
                .collect();
            (
                b["identifier"].as_str().unwrap_or_default().to_string(),
                relations,
            )
        })
        .collect()
}

/// Every (entity, the entity it relates to) in `catalog`.
fn relations_of(catalog: &Catalog) -> Vec<((String, String), (String, String))> {
    let targets = relation_targets();
    let mut out = Vec::new();
    for (key @ (blueprint, _), entity) in catalog {
        for (name, value) in entity["relations"].as_object().into_iter().flatten() {
            let Some(target) = targets.get(blueprint).and_then(|t| t.get(name)) else {
                continue;
            };
            let ids: Vec<&str> = match value {
                Value::String(id) => vec![id.as_str()],
                Value::Array(ids) => ids.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            out.extend(
                ids.into_iter()
                    .map(|id| (key.clone(), (target.clone(), id.to_string()))),
            );
        }
    }
    out
}

/// A's mapping without the resources at `removed` (never all of them), with
/// `deleteDependentEntities` set; the blueprints it still writes.
fn edit_mapping(
    config: &mut Value,
    removed: &BTreeSet<usize>,
    delete_dependents: bool,
) -> Option<BTreeSet<String>> {
    config["deleteDependentEntities"] = json!(delete_dependents);
    let resources = config["resources"].as_array_mut()?;
    let mut at = resources.len();
    while at > 0 {
        at -= 1;
        if removed.contains(&at) && resources.len() > 1 {
            resources.remove(at);
        }
    }
    mapping_edits::mapped_blueprints(Some(config))
}

fn bulk_deletes(port: &PortSim) -> usize {
    port.log()
        .snapshot()
        .iter()
        .filter(|r| r.path.ends_with("/bulk/entities/delete"))
        .count()
}

struct Edit {
    /// Indexes of the default mapping's resources B no longer has.
    removed: BTreeSet<usize>,
    delete_dependents: bool,
}

async fn resync_a_to_b(
    owners: usize,
    repos: usize,
    seed: u64,
    changes: Vec<Change>,
    edit: Edit,
) -> Result<(), String> {
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
    ocean_testkit::harness::settle_port_clock().await;
    port.log().clear();
    port.take_deletions();
    codecov.edit(|dataset| {
        for change in &changes {
            dataset.apply(change);
        }
    });
    let mut config = port
        .integration(IDENTIFIER)
        .map(|i| i["config"].clone())
        .ok_or("no integration config in Port")?;
    let mapped = edit_mapping(&mut config, &edit.removed, edit.delete_dependents)
        .ok_or("the mapping has no resources")?;
    host.port
        .patch_integration_config(&config)
        .await
        .map_err(|e| format!("editing the mapping: {e}"))?;
    port.log().clear();

    let second = host.resync(&Quiet, false).await.map_err(|e| e.to_string())?;
    if !second.succeeded() {
        return Err(format!("the resync of B failed: {second:?}"));
    }
    let after = catalog::owned_by(&port, IDENTIFIER);
    // A clean resync of B into an empty Port: in blueprints no longer mapped,
    // it holds exactly the entities B's entities relate to (Port creates them).
    let expected = catalog::expected_with(make, IDENTIFIER, Some(&config)).await?;
    let differences = catalog::differences(&after, &expected, Some(&mapped), 5);
    if !differences.is_empty() {
        return Err(format!("Port is not B (mapping {mapped:?}): {differences:?}"));
    }

    let changed: BTreeSet<(String, String)> = expected
        .iter()
        .filter(|((blueprint, _), _)| mapped.contains(blueprint))
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
        return Err(format!(
            "deleted {deleted:?}, but B (mapping {mapped:?}) lacks {gone:?}"
        ));
    }
    if let Some(cascaded) = deleted.intersection(&written).next() {
        return Err(format!("deleted {cascaded:?}, which the resync of B wrote"));
    }
    for (from, target) in relations_of(&after) {
        let present = port
            .entities(&target.0)
            .iter()
            .any(|e| e["identifier"] == target.1.as_str());
        if deleted.contains(&target) || !present {
            return Err(format!(
                "{from:?} stays, but {target:?}, which it relates to, is gone"
            ));
        }
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
        removed in prop::collection::btree_set(0usize..5, 0..=2),
        delete_dependents in any::<bool>(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let local = tokio::task::LocalSet::new();
        let outcome = local.block_on(&runtime, resync_a_to_b(owners, repos, seed, changes, Edit { removed, delete_dependents }));
        prop_assert!(outcome.is_ok(), "{}", outcome.err().unwrap_or_default());
    }
}
