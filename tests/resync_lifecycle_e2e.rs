//! Resyncs that finish, and a state in Port that can be trusted however long
//! a resync runs, end to end with the real binary: a schedule shorter than a
//! resync never aborts it; SIGTERM and Ctrl-C stop a run at its next page,
//! report `aborted` and exit with the signal's code; a running resync beats
//! its heartbeat to Port; a mapping in Port that does not compile keeps the
//! pod Ready, its webhooks journaled until a valid mapping arrives.
//!
//! Codecov is made slow on purpose (a latency per request and a cap on
//! requests in flight), so a resync outlasts the schedule however fast the
//! client is. Waits return as soon as their condition holds.

use std::time::Duration;

use ocean_port::{Entity, UpsertOptions};
use ocean_sim::codecov::CodecovSimConfig;
use ocean_sim::faults::FaultConfig;
use ocean_sim::port::PortSimConfig;
use ocean_testkit::harness::{
    IntegrationEnv, Simulators, TestWorld, spawn_announcing_async, webhook_payloads,
};
use serde_json::{Value, json};

const EXE: &str = env!("CARGO_BIN_EXE_ocean-codecov");
/// Every wait's bound: generous, since a wait returns as soon as it holds.
const PATIENCE: Duration = Duration::from_secs(180);

async fn simulators(owners: usize, repos: usize) -> TestWorld {
    let port = PortSimConfig {
        capture_bodies: true,
        ..PortSimConfig::default()
    };
    TestWorld::start(port, CodecovSimConfig::generated(owners, repos, 11), "lifecycle")
        .await
        .expect("simulators")
}

/// Codecov answers each request after `latency_ms`, `max_in_flight` at a time.
fn slow_codecov(sims: &Simulators, latency_ms: u64, max_in_flight: usize) {
    sims.codecov_sim.faults().set(FaultConfig {
        latency_ms,
        max_in_flight,
        ..FaultConfig::default()
    });
}

/// Waits until `done` holds, polling; false when the bound passed first.
async fn wait_until(mut done: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while tokio::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    done()
}

/// Each resync-state report Port received, in order.
fn reported_states(sims: &Simulators) -> Vec<Value> {
    sims.port_sim
        .log()
        .snapshot()
        .iter()
        .filter(|r| r.path.ends_with("/resync-state"))
        .filter_map(|r| r.request_body.clone())
        .collect()
}

fn statuses(sims: &Simulators) -> Vec<String> {
    reported_states(sims)
        .iter()
        .filter_map(|s| s["status"].as_str().map(String::from))
        .collect()
}

/// A repository entity the installation wrote earlier that Codecov no longer
/// has: only a resync that runs to its end deletes it.
async fn seed_stale_repository(sims: &Simulators, identifier: &str) -> String {
    // The integration's own blueprints, as a first run would have made them.
    let blueprints: Vec<Value> =
        serde_json::from_str(include_str!("../.port/resources/blueprints.json")).expect("blueprints");
    for blueprint in blueprints {
        sims.port_sim.add_blueprint(blueprint);
    }
    let client = sims.port_client(identifier).expect("Port client");
    let stale = "github/owner-1/gone-from-codecov";
    let entity: Entity = serde_json::from_value(json!({"identifier": stale, "title": "gone",
        "blueprint": "codecov_repository", "properties": {}, "relations": {}}))
    .expect("entity");
    let report = client
        .upsert_entities(&[entity], UpsertOptions::default())
        .await
        .expect("upsert");
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert!(
        sims.identifiers("codecov_repository")
            .contains(&stale.to_string())
    );
    // Port's `Date` has whole seconds: the entity must be older than the resync's start.
    ocean_testkit::harness::settle_port_clock().await;
    stale.to_string()
}

/// `sail` with `env`, announcing its URL; stderr lines are collected.
async fn sail(
    env: &IntegrationEnv,
) -> (
    tokio::process::Child,
    String,
    std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) {
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = log.clone();
    let command = env.command(EXE, &["sail"], "info");
    let (child, url, mut lines) = spawn_announcing_async(command, move |line| {
        seen.lock().expect("log").push(line.to_string());
    })
    .await
    .expect("sail says where it listens");
    let kept = log.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            kept.lock().expect("log").push(line);
        }
    });
    (child, url, log)
}

/// A sample of the integration's `/metrics`, by name (summed over labels).
async fn metric(url: &str, name: &str) -> f64 {
    let text = reqwest::get(format!("{url}/metrics"))
        .await
        .expect("metrics answer")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn signal(child: &tokio::process::Child, name: &str) {
    let pid = child.id().expect("running");
    let sent = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
}

fn seconds_between(state: &Value) -> f64 {
    let at = |field: &str| {
        state[field]
            .as_str()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .unwrap_or_else(|| panic!("{field} in {state}"))
    };
    at("lastResyncEnd")
        .duration_since(at("lastResyncStart"))
        .as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resync_three_times_longer_than_the_schedule_completes_and_deletes_what_is_stale() {
    let identifier = "long-resync";
    let sims = simulators(2, 6).await;
    let stale = seed_stale_repository(&sims, identifier).await;
    // A tick every 3 s; every Codecov answer takes 400 ms, two at a time.
    slow_codecov(&sims, 400, 2);
    let env = sims
        .env(identifier)
        .var("OCEAN__EVENT_LISTENER__TYPE", "POLLING")
        .var("OCEAN__HTTP__HOST", "127.0.0.1")
        .var("OCEAN__HTTP__PORT", "0")
        .var("OCEAN__SCHEDULED_RESYNC_INTERVAL", "0.05")
        .fast_retries(5, 3);
    let (_child, url, log) = sail(&env).await;
    let completed = wait_until(|| statuses(&sims).iter().any(|s| s != "running")).await;
    let states = reported_states(&sims);
    assert!(completed, "no resync ended: {states:?}");
    let all = statuses(&sims);
    assert_eq!(&all[..2], ["running", "completed"], "{all:?}");
    assert!(
        !all.iter().any(|s| s == "aborted"),
        "a tick aborted a resync: {all:?}"
    );
    let first = &states[1];
    let took = seconds_between(first);
    assert!(
        took >= 9.0,
        "the set-up must make the resync outlast three ticks; it took {took:.1} s"
    );
    assert!(
        !sims.identifiers("codecov_repository").contains(&stale),
        "the long resync reached its end and deleted the stale entity: {first}"
    );
    let absorbed = metric(&url, "ocean_scheduled_resync_ticks_absorbed_total").await;
    eprintln!("the first resync took {took:.1} s (ticks every 3 s) and absorbed {absorbed} tick(s)");
    assert!(absorbed >= 2.0, "ticks absorbed: {absorbed}");
    let log = log.lock().expect("log").join("\n");
    assert!(
        log.contains("a scheduled resync fell due while a resync runs"),
        "the log says a tick waited:\n{log}"
    );
    // The ticks became one more resync, right after the first.
    assert!(
        wait_until(|| statuses(&sims).len() >= 3).await,
        "{:?}",
        statuses(&sims)
    );
    assert_eq!(statuses(&sims)[2], "running");
}

/// A ONCE run crawling through a slow Codecov, a stale entity of its own in Port.
struct Crawling {
    sims: TestWorld,
    child: tokio::process::Child,
    stale: String,
    stderr: tokio::task::JoinHandle<String>,
}

async fn crawling_once_run(identifier: &str, args: &[&str]) -> Crawling {
    let sims = simulators(2, 6).await;
    let stale = seed_stale_repository(&sims, identifier).await;
    slow_codecov(&sims, 300, 2);
    let env = sims
        .env(identifier)
        .var("OCEAN__EVENT_LISTENER__TYPE", "ONCE")
        .var("OCEAN__STATUS_HEARTBEAT_INTERVAL_SECONDS", "1")
        .fast_retries(5, 3);
    let mut child = env
        .command(EXE, args, "info")
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let mut stderr = child.stderr.take().expect("stderr");
    let stderr = tokio::spawn(async move {
        let mut text = String::new();
        let _ = tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut text).await;
        text
    });
    // Running, and beating: two heartbeats have reached Port.
    let beating =
        wait_until(|| statuses(&sims) == ["running"] && sims.port_requests("POST", "/heartbeat") >= 2).await;
    assert!(beating, "statuses {:?}", statuses(&sims));
    Crawling {
        sims,
        child,
        stale,
        stderr,
    }
}

/// What a run stopped part-way must leave: `aborted` with the reason, nothing deleted.
fn assert_aborted_and_nothing_deleted(sims: &Simulators, identifier: &str, stale: &str) {
    assert_eq!(statuses(sims), ["running", "aborted"]);
    let states = reported_states(sims);
    assert_eq!(
        states[1]["heldBack"]["deletionSkipped"],
        "the integration is shutting down; nothing is deleted"
    );
    assert_eq!(sims.port_requests("POST", "/entities/delete"), 0);
    assert!(
        sims.identifiers("codecov_repository")
            .contains(&stale.to_string())
    );
    let record = sims.port_sim.integration(identifier).expect("registered");
    assert_eq!(record["resyncState"]["status"], "aborted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_a_once_run_at_its_next_page_reports_aborted_and_exits_143() {
    let identifier = "once-sigterm";
    let Crawling {
        sims,
        mut child,
        stale,
        stderr,
    } = crawling_once_run(identifier, &["sail"]).await;
    signal(&child, "TERM");
    let status = tokio::time::timeout(PATIENCE, child.wait())
        .await
        .expect("the run exits")
        .expect("exit status");
    let stderr = stderr.await.expect("stderr read");
    assert_eq!(status.code(), Some(143), "{status}\n{stderr}");
    assert_aborted_and_nothing_deleted(&sims, identifier, &stale);
    // The heartbeats named this resync: the event id of its sync metrics.
    let beats: Value = reqwest::get(format!("{}/_admin/heartbeats", sims.port.url()))
        .await
        .expect("admin")
        .json()
        .await
        .expect("JSON");
    let metrics: Value = reqwest::get(format!("{}/_admin/sync-metrics", sims.port.url()))
        .await
        .expect("admin")
        .json()
        .await
        .expect("JSON");
    let event_id = metrics[identifier][0]["eventId"].as_str().expect("an event id");
    let beats = beats[identifier].as_array().expect("heartbeats");
    assert!(beats.len() >= 2);
    assert!(beats.iter().all(|b| b["eventId"] == event_id), "{beats:?}");
    // The last log lines reached Port before the exit.
    let logs: Value = reqwest::get(format!("{}/_admin/logs", sims.port.url()))
        .await
        .expect("admin")
        .json()
        .await
        .expect("JSON");
    let shipped = logs[identifier].to_string();
    assert!(shipped.contains("stop requested"), "{shipped}");
    assert!(
        stderr.contains("stopped by Terminate before the resync's end: exit 143"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_resync_once_likewise_and_exits_130() {
    let identifier = "once-sigint";
    let Crawling {
        sims,
        mut child,
        stale,
        stderr,
    } = crawling_once_run(identifier, &["resync", "--once"]).await;
    signal(&child, "INT");
    let status = tokio::time::timeout(PATIENCE, child.wait())
        .await
        .expect("the run exits")
        .expect("exit status");
    let stderr = stderr.await.expect("stderr read");
    assert_eq!(status.code(), Some(130), "{status}\n{stderr}");
    assert_aborted_and_nothing_deleted(&sims, identifier, &stale);
}

/// The default mapping with one property whose JQ does not compile.
fn broken_mapping() -> Value {
    let mut config: Value =
        serde_norway::from_str(include_str!("../.port/resources/port-app-config.yml")).expect("YAML");
    let resources = config["resources"].as_array_mut().expect("resources");
    let coverage = resources
        .iter_mut()
        .find(|r| r["kind"] == "coverage")
        .expect("a coverage resource");
    coverage["port"]["entity"]["mappings"]["properties"]["coverage"] = json!(".totals.coverage | (");
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mapping_that_does_not_compile_keeps_the_pod_ready_and_its_webhooks_wait_for_a_valid_one() {
    let identifier = "broken-mapping";
    let sims = simulators(1, 3).await;
    let client = sims.port_client(identifier).expect("Port client");
    client
        .create_integration(&broken_mapping())
        .await
        .expect("the integration exists with a broken mapping");
    let env = sims
        .env(identifier)
        .webhooks_only_on_loopback()
        .fast_retries(5, 3);
    let (_child, url, log) = sail(&env).await;

    let ready = reqwest::get(format!("{url}/health/ready"))
        .await
        .expect("ready answers");
    assert_eq!(ready.status(), 200, "Ready: the pod can accept webhooks");
    let body: Value = ready.json().await.expect("JSON");
    assert!(
        body["mapping"].as_str().is_some_and(|m| m.contains("journaled")),
        "{body}"
    );

    let payload = webhook_payloads(&sims.codecov_sim.dataset(), 1).remove(0);
    let accepted = reqwest::Client::new()
        .post(format!("{url}/integration/webhook"))
        .json(&payload)
        .send()
        .await
        .expect("the webhook is answered");
    assert_eq!(accepted.status(), 202);
    let mut waiting = 0.0;
    for _ in 0..3600 {
        waiting = metric(&url, "ocean_live_events_waiting_for_mapping").await;
        if waiting >= 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(waiting, 1.0, "the accepted event waits for a mapping");
    assert_eq!(metric(&url, "ocean_mapping_invalid").await, 1.0);
    assert!(sims.port_sim.entities("codecov_coverage").is_empty());
    {
        let log = log.lock().expect("log").join("\n");
        let said = log
            .lines()
            .find(|l| l.contains("resources[") && l.contains("properties.coverage"));
        assert!(said.is_some(), "the log names the field:\n{log}");
        assert!(
            log.contains("Port (integration config):"),
            "the log gives where the fault is:\n{log}"
        );
    }

    // A resync says why in Port's resync state.
    let asked = reqwest::Client::new()
        .post(format!("{url}/resync"))
        .send()
        .await
        .expect("answered");
    assert_eq!(asked.status(), 202);
    assert!(wait_until(|| statuses(&sims).iter().any(|s| s == "failed")).await);
    let failed = reported_states(&sims)
        .into_iter()
        .find(|s| s["status"] == "failed")
        .expect("a failed state");
    let failure = failed["heldBack"]["failure"].as_str().unwrap_or_default();
    assert!(failure.contains("properties.coverage"), "{failed}");

    // Fixed in Port's UI: the waiting event is mapped.
    let fixed: Value =
        serde_norway::from_str(include_str!("../.port/resources/port-app-config.yml")).expect("YAML");
    client
        .patch_integration_config(&fixed)
        .await
        .expect("mapping fixed");
    assert!(
        wait_until(|| !sims.port_sim.entities("codecov_coverage").is_empty()).await,
        "the journaled webhook is mapped once the mapping compiles"
    );
    assert_eq!(metric(&url, "ocean_mapping_invalid").await, 0.0);
    assert_eq!(metric(&url, "ocean_live_events_waiting_for_mapping").await, 0.0);
}
