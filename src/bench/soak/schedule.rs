//! One schedule: a small Codecov and the integration with its server; a few
//! rounds of (change Codecov, arm faults, resync beside webhooks, check the
//! deletions); then faults off, live events drained, one clean resync, and
//! Port compared with the expected catalog.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{Value, json};

use super::catalog::{self, Catalog};
use super::mapping_edits::{self, Key};
use super::{SoakTotals, Violation, chaos, setup};
use crate::lifecycle::Running;
use crate::runtime::host::{Host, HostError};
use crate::runtime::resync::progress::Quiet;
use crate::runtime::resync::{KindReport, ResyncReport};
use crate::sim::codecov::{CodecovSim, CodecovSimConfig};
use crate::sim::faults::FaultConfig;
use crate::sim::port::{PortSim, PortSimConfig};
use crate::sim::rng::SplitMix;

const IDENTIFIER: &str = "soak";

/// Entities this integration does not own, which nothing it does may delete:
/// one a user made in Port's UI, one another Codecov installation wrote.
const FOREIGN: &[(&str, &str, &str)] = &[
    ("codecov_repository", "github/owner-1/made-by-hand", "admin"),
    (
        "codecov_coverage",
        "other-installation-repo",
        "port-ocean/codecov/0.1.0/other-codecov/exporter",
    ),
];

pub fn run(seed: u64, totals: &mut SoakTotals) -> Result<(), Violation> {
    let mut journal = Vec::new();
    let outcome = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => {
            let local = tokio::task::LocalSet::new();
            local.block_on(&runtime, schedule(seed, totals, &mut journal))
        }
        Err(e) => Err(format!("starting a runtime: {e}")),
    };
    outcome.map_err(|message| Violation {
        seed,
        message,
        journal,
    })
}

fn plant_foreign(port: &PortSim) -> Result<(), String> {
    for (blueprint, identifier, writer) in FOREIGN {
        let entity =
            json!({"identifier": identifier, "title": identifier, "properties": {}, "relations": {}});
        port.put_entity(blueprint, &entity, writer)
            .map_err(|e| format!("planting {blueprint} {identifier}: {e}"))?;
    }
    Ok(())
}

fn foreign_intact(port: &PortSim) -> Result<(), String> {
    for (blueprint, identifier, _) in FOREIGN {
        let present = port
            .entities(blueprint)
            .iter()
            .any(|e| e.get("identifier").and_then(Value::as_str) == Some(identifier));
        if !present {
            return Err(format!(
                "{blueprint} {identifier}, which the integration does not own, is gone"
            ));
        }
    }
    Ok(())
}

/// Posts the payloads as Codecov would; a full queue (503) is tried again.
async fn post_all(http: &reqwest::Client, url: &str, payloads: Vec<Value>) -> Result<u64, String> {
    let sends = payloads.iter().map(|payload| async move {
        for _ in 0..50 {
            let reply = http
                .post(url)
                .json(payload)
                .send()
                .await
                .map_err(|e| format!("posting a webhook: {e}"))?;
            match reply.status().as_u16() {
                202 => return Ok(()),
                503 => tokio::time::sleep(Duration::from_millis(10)).await,
                status => return Err(format!("the integration answered a webhook with {status}")),
            }
        }
        Err("the integration's event queue stayed full".to_string())
    });
    let mut accepted = 0;
    for sent in join_all(sends).await {
        sent?;
        accepted += 1;
    }
    Ok(accepted)
}

/// The first errors a resync reported, for a violation's message.
fn failures(report: &Result<ResyncReport, HostError>) -> String {
    match report {
        Err(e) => e.to_string(),
        Ok(report) => report
            .kinds
            .iter()
            .flat_map(|k| k.fetch_errors.iter().chain(&k.error_samples))
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// Every kind fetched whole and every item's entity known: what a resync
/// must have before it deletes (a refused write holds back only its entity).
fn fetched_and_wrote_everything(report: &Result<ResyncReport, HostError>) -> bool {
    report
        .as_ref()
        .is_ok_and(|r| r.kinds.iter().all(KindReport::reconcilable))
}

struct World {
    port: Arc<PortSim>,
    codecov: Arc<CodecovSim>,
    codecov_url: String,
    owners: Vec<String>,
    page_size: u64,
    /// The mapping in Port once a round edited it (a resource removed, the coverage selector narrowed).
    mapping: Option<Value>,
    removed_a_resource: bool,
    /// Repositories (`owner/name`) the narrowed coverage selector leaves out.
    left_out: Vec<String>,
}

impl World {
    fn host(&self, port_url: &str) -> anyhow::Result<Host> {
        setup::integration(
            port_url,
            &self.codecov_url,
            &self.owners,
            self.page_size,
            IDENTIFIER,
        )
    }

    async fn expected(&self) -> Result<Catalog, String> {
        catalog::expected_with(|url| self.host(url), IDENTIFIER, self.mapping.as_ref()).await
    }

    /// The coverage entities the narrowed selector leaves out: a webhook
    /// about one of them deletes it at once (a live delete).
    fn deselected(&self) -> BTreeSet<Key> {
        let service = self.codecov.dataset().service.clone();
        self.left_out
            .iter()
            .map(|r| ("codecov_coverage".to_string(), format!("{service}/{r}")))
            .collect()
    }

    /// Notify payloads Codecov sends for the repositories left out (those it still has).
    fn left_out_webhooks(&self) -> Vec<Value> {
        self.left_out
            .iter()
            .filter_map(|r| r.split_once('/'))
            .filter_map(|(owner, repo)| self.codecov.webhook_payload(owner, repo, false))
            .collect()
    }

    /// Now and then (each at most once a schedule) a user edits the mapping in
    /// Port's UI: removes a resource, or narrows the coverage selector.
    async fn edit_mapping(
        &mut self,
        host: &Host,
        rng: &mut SplitMix,
        round: u64,
        totals: &mut SoakTotals,
        journal: &mut Vec<String>,
    ) -> Result<(), String> {
        if !self.removed_a_resource && rng.below(3) == 0 {
            self.disarm();
            if let Some((kind, config)) =
                mapping_edits::remove_a_resource(host, &self.port, IDENTIFIER, rng).await?
            {
                journal.push(format!(
                    "round {round}: the {kind} resource removed from the mapping in Port"
                ));
                self.removed_a_resource = true;
                self.mapping = Some(config);
                totals.resources_removed += 1;
            }
        }
        if self.left_out.is_empty() && rng.below(3) == 0 {
            self.disarm();
            let repositories: Vec<String> = {
                let dataset = self.codecov.dataset();
                dataset
                    .owners
                    .iter()
                    .flat_map(|o| o.repos.iter().map(move |r| format!("{}/{}", o.username, r.name)))
                    .collect()
            };
            if let Some((left_out, config)) =
                mapping_edits::narrow_coverage(host, &self.port, IDENTIFIER, &repositories, rng).await?
            {
                journal.push(format!(
                    "round {round}: the coverage selector narrowed in Port, leaving out {}",
                    left_out.join(", ")
                ));
                self.left_out = left_out;
                self.mapping = Some(config);
                totals.selectors_narrowed += 1;
            }
        }
        Ok(())
    }

    fn disarm(&self) {
        self.port.faults().set(FaultConfig::default());
        self.codecov.faults().set(FaultConfig::default());
        for owner in &self.owners {
            self.codecov.break_owner(owner, None);
        }
    }

    /// Each deletion since the last check, none of an entity Codecov (under
    /// the mapping in force) still has, none foreign, and each explained: the
    /// resync planned it (only a resync that fetched and wrote everything
    /// plans), a webhook met an entity the selector now leaves out (a live
    /// delete), or it is a dependent cascading from a planned deletion.
    async fn check_deletions(
        &self,
        report: &Result<ResyncReport, HostError>,
        when: &str,
        totals: &mut SoakTotals,
    ) -> Result<(), String> {
        let deleted = self.port.take_deletions();
        if deleted.is_empty() {
            return Ok(());
        }
        let planned: BTreeSet<Key> = match report {
            Ok(report) => report
                .deletion_plan
                .iter()
                .flat_map(|plan| plan.to_delete())
                .flat_map(|(blueprint, ids)| {
                    ids.into_iter()
                        .map(move |id| (blueprint.to_string(), id.to_string()))
                })
                .collect(),
            Err(_) => BTreeSet::new(),
        };
        if !planned.is_empty() && !fetched_and_wrote_everything(report) {
            return Err(format!(
                "{when}: a resync that did not fetch and write everything planned {} deletions: {}",
                planned.len(),
                failures(report)
            ));
        }
        let deselected = self.deselected();
        let expected = self.expected().await?;
        for key @ (blueprint, identifier) in &deleted {
            if FOREIGN.iter().any(|(b, i, _)| b == blueprint && i == identifier) {
                return Err(format!(
                    "{when}: deleted {blueprint} {identifier}, which the integration does not own"
                ));
            }
            if expected.contains_key(key) {
                return Err(format!(
                    "{when}: deleted {blueprint} {identifier}, which Codecov still has (under the mapping in force)"
                ));
            }
            if planned.contains(key) {
                continue;
            }
            if deselected.contains(key) {
                totals.live_deletes += 1;
                continue;
            }
            if planned.is_empty() {
                return Err(format!(
                    "{when}: deleted {blueprint} {identifier}, which no resync planned and no webhook deselected: {}",
                    failures(report)
                ));
            }
        }
        totals.deletions += deleted.len() as u64;
        Ok(())
    }

    fn count_faults(&self, totals: &mut SoakTotals) {
        for (side, drawn) in [
            ("port", self.port.faults().injected()),
            ("codecov", self.codecov.faults().injected()),
        ] {
            for (kind, n) in drawn {
                *totals.faults.entry(format!("{side} {kind}")).or_default() += n;
            }
        }
    }
}

async fn schedule(seed: u64, totals: &mut SoakTotals, journal: &mut Vec<String>) -> Result<(), String> {
    let mut rng = SplitMix(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 0x50A4);
    let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
    let (owners, repos) = (1 + rng.below(3) as usize, 2 + rng.below(6) as usize);
    let page_size = 2 + rng.below(4);
    journal.push(format!(
        "{owners} owner(s) x {repos} repositories, Codecov page size {page_size}"
    ));
    let (codecov_served, codecov) =
        CodecovSim::start(CodecovSimConfig::generated(owners, repos, seed), loopback)
            .await
            .map_err(|e| format!("starting the Codecov simulator: {e}"))?;
    let (port_served, port) = PortSim::start(PortSimConfig::default(), loopback)
        .await
        .map_err(|e| format!("starting the Port simulator: {e}"))?;
    let owners: Vec<String> = codecov
        .dataset()
        .owners
        .iter()
        .map(|o| o.username.clone())
        .collect();
    let mut world = World {
        owners,
        port,
        codecov,
        codecov_url: codecov_served.url(),
        page_size,
        mapping: None,
        removed_a_resource: false,
        left_out: Vec::new(),
    };
    let host = Arc::new(world.host(&port_served.url()).map_err(|e| format!("{e:#}"))?);
    host.set_up().await.map_err(|e| format!("set-up: {e}"))?;
    setup::allow_any_deletion_share(&host, &world.port, IDENTIFIER).await?;
    plant_foreign(&world.port)?;
    let running = Running::start(host.clone(), loopback)
        .await
        .map_err(|e| format!("starting the integration's server: {e}"))?;
    let webhook_url = format!("{}/integration/webhook", running.url());
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())?;

    let rounds = 2 + rng.below(4);
    for round in 1..=rounds {
        if round > 1 {
            for _ in 0..1 + rng.below(3) {
                let change = chaos::change(&world.codecov, &mut rng);
                journal.push(format!("round {round}: Codecov: {change}"));
                totals.codecov_changes += 1;
            }
            world
                .edit_mapping(&host, &mut rng, round, totals, journal)
                .await?;
        }
        let armed = chaos::arm(&mut rng, &world.owners);
        journal.push(format!(
            "round {round}: Port faults {:?} at {}, Codecov faults {:?} at {}, vanished owner {:?}",
            armed.port.kinds, armed.port.rate, armed.codecov.kinds, armed.codecov.rate, armed.vanished
        ));
        world.port.faults().set(armed.port);
        world.codecov.faults().set(armed.codecov);
        if let Some((owner, status)) = &armed.vanished {
            world.codecov.break_owner(owner, Some(*status));
            totals.vanished_owners += 1;
        }
        let mut payloads = chaos::webhooks(&world.codecov, &mut rng);
        payloads.extend(world.left_out_webhooks());
        let (report, accepted) = tokio::join!(
            host.resync(&Quiet, false),
            post_all(&http, &webhook_url, payloads)
        );
        world.disarm();
        totals.resyncs += 1;
        totals.webhooks += accepted?;
        if !fetched_and_wrote_everything(&report) {
            totals.failed_resyncs += 1;
        }
        journal.push(format!(
            "round {round}: resync done; failures: {}",
            failures(&report)
        ));
        world
            .check_deletions(&report, &format!("round {round}"), totals)
            .await?;
        foreign_intact(&world.port)?;
    }

    running.stop(&host).await;
    host.stopping.store(false, Ordering::SeqCst);
    journal.push("faults off, live events drained, one clean resync".into());
    // Port's `Date` has whole seconds, so a resync's cutoff lags Port by under
    // one: what the last round wrote must be older than the clean resync.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let report = host.resync(&Quiet, false).await;
    totals.resyncs += 1;
    world.check_deletions(&report, "the clean resync", totals).await?;
    if !report.as_ref().is_ok_and(ResyncReport::succeeded) {
        return Err(format!(
            "the clean resync after the faults failed: {}",
            failures(&report)
        ));
    }
    let expected = world.expected().await?;
    let actual = catalog::owned_by(&world.port, IDENTIFIER);
    let mapped = mapping_edits::mapped_blueprints(world.mapping.as_ref());
    let differences = catalog::differences(&actual, &expected, mapped.as_ref(), 10);
    if !differences.is_empty() {
        return Err(format!(
            "after the clean resync Port differs from the expected catalog:\n{}",
            differences.join("\n")
        ));
    }
    foreign_intact(&world.port)?;
    totals.entities_checked += expected.len() as u64;
    world.count_faults(totals);
    port_served.shutdown().await;
    codecov_served.shutdown().await;
    // The schedule's scratch journal (a failing one keeps it, for a look).
    let _ = std::fs::remove_dir_all(&host.settings.journal_path);
    Ok(())
}
