//! One schedule: a small Codecov and the integration with its server; a few
//! rounds of (change Codecov, arm faults, resync beside webhooks, check the
//! deletions); then faults off, live events drained, one clean resync, and
//! Port compared with the expected catalog.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{Value, json};

use super::catalog::{self, Catalog};
use super::mapping_edits::{self, Key};
use super::{SoakTotals, Violation, chaos, setup, stops};
use ocean_host::host::{Host, HostError};
use ocean_host::lifecycle::Running;
use ocean_host::resync::progress::Quiet;
use ocean_host::resync::{KindReport, ResyncReport};
use ocean_sim::codecov::{CodecovSim, CodecovSimConfig};
use ocean_sim::faults::FaultConfig;
use ocean_sim::port::{PortSim, PortSimConfig};
use ocean_sim::rng::SplitMix;

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

pub fn run(seed: u64, totals: &mut SoakTotals, binary: Option<&Path>) -> Result<(), Violation> {
    let mut journal = Vec::new();
    let outcome = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => {
            let local = tokio::task::LocalSet::new();
            local.block_on(&runtime, schedule(seed, totals, binary, &mut journal))
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

/// What explains a round's deletions.
enum Planned {
    /// The resyncs' own plans (empty: none may delete, but a webhook's live delete).
    Known(BTreeSet<Key>),
    /// A run of the binary that finished on its own: its plan is not at hand,
    /// so only the safety rules are checked.
    Unknown,
}

impl Planned {
    /// What `report` planned; a plan without a whole fetch is a violation.
    fn of(report: &ResyncReport) -> Result<Planned, String> {
        let planned: BTreeSet<Key> = report
            .deletion_plan
            .iter()
            .flat_map(|plan| plan.to_delete())
            .flat_map(|(blueprint, ids)| {
                ids.into_iter()
                    .map(move |id| (blueprint.to_string(), id.to_string()))
            })
            .collect();
        if !planned.is_empty() && !report.kinds.iter().all(KindReport::reconcilable) {
            return Err(format!(
                "a resync that did not fetch and write everything planned {} deletions",
                planned.len()
            ));
        }
        Ok(Planned::Known(planned))
    }
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
    /// Latency Codecov keeps between rounds too (a schedule on the clock).
    latency_ms: u64,
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
        self.codecov.faults().set(FaultConfig {
            latency_ms: self.latency_ms,
            max_in_flight: usize::from(self.latency_ms > 0),
            ..FaultConfig::default()
        });
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
        let planned = match report {
            Ok(report) => Planned::of(report)?,
            Err(_) => Planned::Known(BTreeSet::new()),
        };
        self.check_planned(&planned, None, &failures(report), when, totals)
            .await
    }

    /// As `check_deletions`, for deletions that `planned` explains; with
    /// `before`, the catalog before this round's changes: then only an entity
    /// Codecov had all along must never go (a resync that started before the
    /// changes saw the old state).
    async fn check_planned(
        &self,
        planned: &Planned,
        before: Option<&Catalog>,
        failures: &str,
        when: &str,
        totals: &mut SoakTotals,
    ) -> Result<(), String> {
        let deleted = self.port.take_deletions();
        if deleted.is_empty() {
            return Ok(());
        }
        let deselected = self.deselected();
        let expected = self.expected().await?;
        for key @ (blueprint, identifier) in &deleted {
            if FOREIGN.iter().any(|(b, i, _)| b == blueprint && i == identifier) {
                return Err(format!(
                    "{when}: deleted {blueprint} {identifier}, which the integration does not own"
                ));
            }
            if expected.contains_key(key) && before.is_none_or(|b| b.contains_key(key)) {
                return Err(format!(
                    "{when}: deleted {blueprint} {identifier}, which Codecov still has (under the mapping in force)"
                ));
            }
            let Planned::Known(planned) = planned else {
                continue;
            };
            if planned.contains(key) {
                continue;
            }
            if deselected.contains(key) {
                totals.live_deletes += 1;
                continue;
            }
            if planned.is_empty() {
                return Err(format!(
                    "{when}: deleted {blueprint} {identifier}, which no resync planned and no webhook deselected: {failures}"
                ));
            }
        }
        totals.deletions += deleted.len() as u64;
        Ok(())
    }

    /// Port's resync state after a round: never a dead `running`.
    fn state_is_final(&self, when: &str) -> Result<String, String> {
        let status = self
            .port
            .integration(IDENTIFIER)
            .and_then(|i| i["resyncState"]["status"].as_str().map(String::from))
            .unwrap_or_default();
        match status.as_str() {
            "completed" | "aborted" | "failed" => Ok(status),
            other => Err(format!(
                "{when}: Port's resync state is {other:?}, not completed, aborted or failed"
            )),
        }
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

/// Latency every Codecov answer takes in a schedule on the clock, one at a
/// time: a resync then outlasts the schedule's 1 s interval.
const ON_CLOCK_LATENCY_MS: u64 = 25;

async fn schedule(
    seed: u64,
    totals: &mut SoakTotals,
    binary: Option<&Path>,
    journal: &mut Vec<String>,
) -> Result<(), String> {
    let mut rng = SplitMix(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 0x50A4);
    // A second stream for what the soak added later, so earlier seeds replay as they did.
    let mut lifecycle_rng = SplitMix(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xC10C);
    let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
    let (owners, repos) = (1 + rng.below(3) as usize, 2 + rng.below(6) as usize);
    let page_size = 2 + rng.below(4);
    // One schedule in four runs its resyncs on a clock shorter than they take.
    let on_clock = lifecycle_rng.below(4) == 0;
    journal.push(format!(
        "{owners} owner(s) x {repos} repositories, Codecov page size {page_size}{}",
        if on_clock {
            ", resyncs on a 1 s schedule that each outlasts"
        } else {
            ""
        }
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
        latency_ms: if on_clock { ON_CLOCK_LATENCY_MS } else { 0 },
    };
    world.disarm();
    let port_url = port_served.url();
    let host = Arc::new(world.host(&port_url).map_err(|e| format!("{e:#}"))?);
    host.set_up().await.map_err(|e| format!("set-up: {e}"))?;
    setup::allow_any_deletion_share(&host, &world.port, IDENTIFIER).await?;
    plant_foreign(&world.port)?;
    // On the clock, the integration runs its own resyncs, started anew each round.
    let clock_host = if on_clock {
        let env = world
            .env(&port_url)
            .var("OCEAN__SCHEDULED_RESYNC_INTERVAL", "0.01");
        Some(Arc::new(env.host().map_err(|e| format!("{e:#}"))?))
    } else {
        None
    };
    let mut running = Some(
        Running::start(host.clone(), loopback)
            .await
            .map_err(|e| format!("starting the integration's server: {e}"))?,
    )
    .filter(|_| !on_clock);
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())?;
    let mut stopped_a_run = false;

    let rounds = 2 + rng.below(4);
    for round in 1..=rounds {
        let before = if on_clock && round > 1 {
            Some(world.expected().await?)
        } else {
            None
        };
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
        let mut armed = chaos::arm(&mut rng, &world.owners);
        journal.push(format!(
            "round {round}: Port faults {:?} at {}, Codecov faults {:?} at {}, vanished owner {:?}",
            armed.port.kinds, armed.port.rate, armed.codecov.kinds, armed.codecov.rate, armed.vanished
        ));
        let stop_round = binary.is_some() && !on_clock && !stopped_a_run && lifecycle_rng.below(3) == 0;
        // Half the stopped runs meet a mapping in Port that does not compile (put there before the faults).
        let broken = if stop_round && lifecycle_rng.below(2) == 0 {
            let config = world
                .port
                .integration(IDENTIFIER)
                .map(|i| i["config"].clone())
                .ok_or("no integration config in Port")?;
            world
                .put_mapping(&port_url, &stops::broken(&config), "breaking the mapping")
                .await?;
            journal.push(format!(
                "round {round}: the mapping in Port broken for a run of the binary"
            ));
            Some(config)
        } else {
            None
        };
        if stop_round || on_clock {
            // Slow enough that the resync is still running when the stop (or the next tick) comes.
            armed.codecov.latency_ms += ON_CLOCK_LATENCY_MS;
            armed.codecov.max_in_flight = 1;
        }
        world.port.faults().set(armed.port);
        world.codecov.faults().set(armed.codecov);
        if let Some((owner, status)) = &armed.vanished {
            world.codecov.break_owner(owner, Some(*status));
            totals.vanished_owners += 1;
        }
        let mut payloads = chaos::webhooks(&world.codecov, &mut rng);
        payloads.extend(world.left_out_webhooks());
        let when = format!("round {round}");
        if let Some(clock_host) = &clock_host {
            let accepted = world
                .round_on_the_clock(
                    clock_host,
                    &http,
                    payloads,
                    before.as_ref(),
                    &when,
                    totals,
                    journal,
                )
                .await?;
            totals.webhooks += accepted;
        } else if let (true, Some(exe), Some(live)) = (stop_round, binary, running.as_ref()) {
            stopped_a_run = true;
            let webhook_url = format!("{}/integration/webhook", live.url());
            let run_env = world.env(&port_url);
            let (run, accepted) = tokio::join!(
                stops::sigterm_a_run(exe, &run_env, &world.port, IDENTIFIER),
                post_all(&http, &webhook_url, payloads)
            );
            world.disarm();
            if let Some(config) = &broken {
                world
                    .put_mapping(&port_url, config, "mending the mapping")
                    .await?;
            }
            let run = run?;
            totals.webhooks += accepted?;
            totals.stops += u64::from(run.signalled);
            totals.broken_mappings += u64::from(broken.is_some());
            totals.resyncs += 1;
            journal.push(format!(
                "round {round}: the run exited {:?}, Port shows {}",
                run.exit, run.status
            ));
            run.consistent().map_err(|e| format!("{when}: {e}"))?;
            let planned = if run.may_have_deleted() {
                Planned::Unknown
            } else {
                Planned::Known(BTreeSet::new())
            };
            world
                .check_planned(&planned, None, "the run was stopped", &when, totals)
                .await?;
        } else if let Some(live) = running.as_ref() {
            let webhook_url = format!("{}/integration/webhook", live.url());
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
            world.check_deletions(&report, &when, totals).await?;
        }
        world.state_is_final(&when)?;
        foreign_intact(&world.port)?;
    }

    if let Some(live) = running.take() {
        live.stop(&host).await;
    }
    host.stopping.store(false, Ordering::SeqCst);
    world.latency_ms = 0;
    world.disarm();
    journal.push("faults off, live events drained, one clean resync".into());
    // Port's `Date` has whole seconds, so a resync's cutoff lags Port by under
    // one: what the last round wrote must be older than the clean resync.
    crate::harness::settle_port_clock().await;
    let report = host.resync(&Quiet, false).await;
    totals.resyncs += 1;
    world.check_deletions(&report, "the clean resync", totals).await?;
    if !report.as_ref().is_ok_and(ResyncReport::succeeded) {
        return Err(format!(
            "the clean resync after the faults failed: {}",
            failures(&report)
        ));
    }
    if world.state_is_final("the end")? != "completed" {
        return Err("after the clean resync Port's resync state is not completed".into());
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
    // The schedule's scratch journals (a failing one keeps them, for a look).
    let _ = std::fs::remove_dir_all(&host.settings.journal_path);
    if let Some(clock_host) = &clock_host {
        let _ = std::fs::remove_dir_all(&clock_host.settings.journal_path);
    }
    Ok(())
}

impl World {
    /// A round on the clock: the integration's server and schedule run (a
    /// tick every second, each resync longer), webhooks arrive, and the
    /// round waits for a resync that started after its changes; then the
    /// integration is stopped (as SIGTERM stops it), often mid-resync.
    /// Every resync of the round is checked: none aborted by a tick, their
    /// plans explain the deletions, Port's state is true after the stop.
    #[allow(clippy::too_many_arguments)]
    async fn round_on_the_clock(
        &self,
        host: &Arc<Host>,
        http: &reqwest::Client,
        payloads: Vec<Value>,
        before: Option<&Catalog>,
        when: &str,
        totals: &mut SoakTotals,
        journal: &mut Vec<String>,
    ) -> Result<u64, String> {
        let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
        host.stopping.store(false, Ordering::SeqCst);
        let running = Running::start(host.clone(), loopback)
            .await
            .map_err(|e| format!("{when}: starting the integration's server: {e}"))?;
        let mut ran = running.resyncs().watch();
        let webhook_url = format!("{}/integration/webhook", running.url());
        // The first resync of a fresh server starts after the round's changes.
        let waited = async {
            match tokio::time::timeout(Duration::from_secs(120), ran.recv()).await {
                Ok(Ok(resync)) => Ok(vec![resync]),
                Ok(Err(e)) => Err(format!("{when}: hearing of resyncs: {e}")),
                Err(_) => Err(format!("{when}: no resync ran on the schedule within 120 s")),
            }
        };
        let (seen, accepted) = tokio::join!(waited, post_all(http, &webhook_url, payloads));
        let mut seen = seen?;
        let absorbed = running.resyncs().ticks_absorbed();
        let was_running = running.stop(host).await;
        // The resync the stop cut short reports too.
        while let Ok(resync) = ran.try_recv() {
            seen.push(resync);
        }
        self.disarm();
        totals.ticks_absorbed += absorbed;
        totals.stops += u64::from(was_running);
        totals.resyncs += seen.len() as u64;
        let mut planned = BTreeSet::new();
        for resync in &seen {
            let report = match &resync.outcome {
                Ok(report) => report,
                Err(e) => {
                    totals.failed_resyncs += 1;
                    journal.push(format!("{when}: resync {} failed: {e}", resync.number));
                    continue;
                }
            };
            if report.stopped == Some("a newer resync was requested") {
                return Err(format!(
                    "{when}: a schedule tick aborted resync {}",
                    resync.number
                ));
            }
            if !report.kinds.iter().all(KindReport::reconcilable) {
                totals.failed_resyncs += 1;
            }
            if let Planned::Known(keys) = Planned::of(report).map_err(|e| format!("{when}: {e}"))? {
                planned.extend(keys);
            }
        }
        journal.push(format!(
            "{when}: {} resync(s) on the clock, {absorbed} tick(s) absorbed, stopped {}",
            seen.len(),
            if was_running {
                "mid-resync"
            } else {
                "between resyncs"
            }
        ));
        self.check_planned(&Planned::Known(planned), before, "on the clock", when, totals)
            .await?;
        accepted
    }

    /// The settings of the soak's integration, for another host or a run of the binary.
    fn env(&self, port_url: &str) -> crate::harness::IntegrationEnv {
        setup::env(
            port_url,
            &self.codecov_url,
            &self.owners,
            self.page_size,
            IDENTIFIER,
        )
    }

    /// Puts `config` as the mapping in Port (a user's edit in its UI; faults off).
    async fn put_mapping(&self, port_url: &str, config: &Value, what: &str) -> Result<(), String> {
        let client = self.host(port_url).map_err(|e| format!("{e:#}"))?;
        client
            .port
            .patch_integration_config(config)
            .await
            .map(|_| ())
            .map_err(|e| format!("{what}: {e}"))
    }
}
