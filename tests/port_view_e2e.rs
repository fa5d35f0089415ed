//! What Port shows about the integration, end to end: the real binary resyncs
//! from the Codecov simulator into the Port simulator, whose admin routes show
//! the raw data examples, sync status and metrics, and log lines it received.
//! Also: settings switch each of them off, log output suits a pipe, and
//! settings this host cannot honour stop it at start.

use std::sync::Arc;
use std::time::Duration;

use ocean_port::{Entity, UpsertOptions};
use ocean_sim::codecov::{CodecovSimConfig, DEFAULT_TOKEN};
use ocean_sim::faults::FaultConfig;
use ocean_sim::port::PortSimConfig;
use ocean_testkit::harness::{
    Finished, IntegrationEnv, PORT_CLIENT_SECRET, Simulators, TestWorld, spawn_announcing_async,
};
use serde_json::{Value, json};

const IDENTIFIER: &str = "view-codecov";
const KINDS: &[&str] = &["coverage", "repository", "commit", "pull", "flag"];

const EXE: &str = env!("CARGO_BIN_EXE_ocean-codecov");

/// Both simulators, and the binary run against them as installation `IDENTIFIER`.
struct World(TestWorld);

async fn world() -> World {
    let codecov = CodecovSimConfig::generated(2, 4, 7);
    World(
        TestWorld::start(PortSimConfig::default(), codecov, IDENTIFIER)
            .await
            .expect("simulators"),
    )
}

/// The binary with exactly `env`'s variables, run to its end.
async fn run(env: &IntegrationEnv, args: &[&str]) -> Finished {
    env.run_to_end(EXE, args, "info").await.expect("the binary runs")
}

/// What the Port simulator shows on `/_admin/{route}`.
async fn admin(sims: &Simulators, route: &str) -> Value {
    reqwest::get(format!("{}/_admin/{route}", sims.port.url()))
        .await
        .expect("admin route answers")
        .json()
        .await
        .expect("admin JSON")
}

impl World {
    async fn run(&self, args: &[&str], extra: &[(&str, &str)]) -> Finished {
        let mut env = self
            .0
            .installation_env()
            .fast_retries(5, 3)
            .var("OCEAN__EVENT_LISTENER__TYPE", "ONCE");
        for (name, value) in extra {
            env = env.var(*name, *value);
        }
        self.0
            .run(EXE, &env, args, "info")
            .await
            .expect("the binary runs")
    }

    async fn admin(&self, route: &str) -> Value {
        admin(&self.0, route).await
    }
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in ["test-secret", DEFAULT_TOKEN] {
        assert!(!text.contains(secret), "{what} carries a secret:\n{text}");
    }
}

#[tokio::test]
async fn port_shows_examples_sync_status_metrics_and_logs() {
    let world = world().await;
    let run = world
        .run(&["sail"], &[("OCEAN__SCHEDULED_RESYNC_INTERVAL", "60")])
        .await;
    assert!(run.success, "{}", run.stderr);
    assert!(
        !run.stderr.contains('\u{1b}'),
        "colour codes on a pipe:\n{}",
        run.stderr
    );
    assert_no_secret("stderr", &run.stderr);

    // 1. Raw data examples: the first few items of each kind, no secret.
    let examples = world.admin("examples").await;
    assert_no_secret("the examples", &examples.to_string());
    for kind in KINDS {
        let sent = examples[IDENTIFIER][kind]
            .as_array()
            .unwrap_or_else(|| panic!("no examples for {kind}: {examples}"));
        assert!(
            !sent.is_empty() && sent.len() <= 5,
            "{kind}: {} examples",
            sent.len()
        );
    }

    // 2. Sync status: the resync state as Ocean's, with the next scheduled resync.
    let state = world.admin("state").await;
    let integration = state["integrations"]
        .as_array()
        .and_then(|all| all.iter().find(|i| i["identifier"] == IDENTIFIER))
        .expect("the integration registered");
    let resync_state = &integration["resyncState"];
    assert_eq!(resync_state["status"], "completed", "{resync_state}");
    assert_eq!(resync_state["intervalInMinuets"], 60);
    assert!(resync_state["nextResync"].is_string(), "{resync_state}");
    assert!(resync_state["lastResyncEnd"].is_string(), "{resync_state}");

    // Per-kind results, as Ocean reports them, under one event id.
    let metrics = world.admin("sync-metrics").await;
    let records = metrics[IDENTIFIER].as_array().expect("sync metrics");
    let event = records[0]["eventId"].clone();
    assert!(records.iter().all(|r| r["eventId"] == event), "{metrics}");
    for (index, kind) in KINDS.iter().enumerate() {
        let identifier = format!("{kind}-{index}");
        let record = records
            .iter()
            .find(|r| r["kindIdentifier"] == identifier.as_str())
            .unwrap_or_else(|| panic!("no sync metrics for {identifier}: {metrics}"));
        assert_eq!(record["syncState"], "completed", "{record}");
        let phase = &record["metrics"]["phase"];
        let extracted = phase["extract"]["object_count_type"]["raw_extracted"]["object_count"]
            .as_u64()
            .unwrap_or(0);
        assert!(extracted > 0, "{identifier}: {record}");
        // The first five raw items, gathered over pages however the source pages them.
        let sent = examples[IDENTIFIER][kind].as_array().map_or(0, Vec::len);
        assert_eq!(sent as u64, extracted.min(5), "{kind}'s examples");
        assert!(phase["load"]["object_count_type"]["loaded"]["object_count"].is_number());
        assert_eq!(phase["resync"]["success"], 1);
    }
    for (kind, state) in [("__runtime__", "completed"), ("__reconciliation__", "completed")] {
        let record = records
            .iter()
            .find(|r| r["kindIdentifier"] == kind)
            .unwrap_or_else(|| panic!("no {kind}: {metrics}"));
        assert_eq!(record["syncState"], state, "{record}");
    }

    // 3. Logs in Port: the integration's lines, no secret.
    let logs = world.admin("logs").await;
    let lines = logs[IDENTIFIER].as_array().expect("log lines shipped");
    assert!(
        lines
            .iter()
            .any(|l| l["level"] == "INFO" && l["message"].is_string()),
        "{logs}"
    );
    assert_no_secret("the shipped logs", &logs.to_string());
}

#[tokio::test]
async fn settings_turn_examples_and_log_shipping_off_and_json_logs_on() {
    let world = world().await;
    let run = world
        .run(
            &["sail"],
            &[
                ("OCEAN__SEND_RAW_DATA_EXAMPLES", "false"),
                ("APPLICATION__ENABLE_HTTP_LOGGING", "false"),
                ("APPLICATION__LOG_FORMAT", "json"),
            ],
        )
        .await;
    assert!(run.success, "{}", run.stderr);
    assert_eq!(world.admin("examples").await, serde_json::json!({}));
    assert_eq!(world.admin("logs").await, serde_json::json!({}));
    let lines: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with('{')).collect();
    assert!(!lines.is_empty(), "no JSON log lines:\n{}", run.stderr);
    for line in lines {
        let record: Value = serde_json::from_str(line).expect("one JSON object per line");
        assert!(
            record["message"].is_string() && record["level"].is_string(),
            "{line}"
        );
    }
}

#[tokio::test]
async fn settings_this_host_cannot_honour_stop_it_naming_what_to_set() {
    let world = world().await;
    let run = world
        .run(&["sail"], &[("OCEAN__EVENT_LISTENER__TYPE", "KAFKA")])
        .await;
    assert!(!run.success);
    assert!(
        run.stderr.contains("OCEAN__EVENT_LISTENER__TYPE")
            && run.stderr.contains("integration.eventListener.type=POLLING"),
        "{}",
        run.stderr
    );
    let run = world
        .run(&["sail"], &[("OCEAN__ACTIONS_PROCESSOR__ENABLED", "true")])
        .await;
    assert!(!run.success);
    assert!(
        run.stderr.contains("OCEAN__ACTIONS_PROCESSOR__ENABLED") && run.stderr.contains("set it to false"),
        "{}",
        run.stderr
    );
}

// ---- What Port shows while `sail` runs: aborted resyncs, the WEBHOOK
// listener's address, mappings that reach for secrets, TLS with a custom CA.

/// Simulators whose Port keeps request bodies (to read each resync-state report in order).
async fn recording_simulators(owners: usize, repos: usize) -> TestWorld {
    let port = PortSimConfig {
        capture_bodies: true,
        ..PortSimConfig::default()
    };
    TestWorld::start(port, CodecovSimConfig::generated(owners, repos, 11), IDENTIFIER)
        .await
        .expect("simulators")
}

/// `sail` with `env`, its stderr read (and checked for secrets) until it exits.
async fn sail(env: &IntegrationEnv) -> (tokio::process::Child, String) {
    let command = env.command(EXE, &["sail"], "info");
    let check = |line: &str| assert_no_secret("a log line", line);
    let (child, url, mut lines) = spawn_announcing_async(command, check)
        .await
        .expect("sail says where it listens");
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            assert_no_secret("a log line", &line);
        }
    });
    (child, url)
}

/// Each resync-state report Port received, in order: `status` of each.
fn reported_statuses(sims: &Simulators) -> Vec<String> {
    sims.port_sim
        .log()
        .snapshot()
        .iter()
        .filter(|r| r.path.ends_with("/resync-state"))
        .filter_map(|r| r.request_body.as_ref()?["status"].as_str().map(String::from))
        .collect()
}

async fn wait_for_statuses(sims: &Simulators, expected: &[&str]) -> Vec<String> {
    for _ in 0..1200 {
        let statuses = reported_statuses(sims);
        if statuses.len() >= expected.len() {
            return statuses;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    reported_statuses(sims)
}

async fn post_resync(url: &str) {
    let answer = reqwest::Client::new()
        .post(format!("{url}/resync"))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(answer.status(), 202);
}

/// A repository entity this installation wrote earlier that Codecov no longer
/// has: a resync that runs to its end deletes it.
async fn seed_stale_repository(sims: &Simulators, identifier: &str) -> String {
    let client = sims.port_client(identifier).expect("Port client");
    let stale = "github/owner-1/gone-from-codecov";
    let entity: Entity = serde_json::from_value(json!({"identifier": stale, "title": "gone",
        "blueprint": "codecov_repository", "properties": {}, "relations": {}}))
    .expect("entity");
    client
        .upsert_entities(&[entity], UpsertOptions::default())
        .await
        .expect("upsert");
    // Port's `Date` has whole seconds: the entity must be older than the resync's start.
    ocean_testkit::harness::settle_port_clock().await;
    stale.to_string()
}

/// Bulk deletions Port received before the request at `index` in its log.
fn deletions_before(sims: &Simulators, index: usize) -> usize {
    sims.port_sim.log().snapshot()[..index]
        .iter()
        .filter(|r| r.path.ends_with("/entities/delete"))
        .count()
}

/// Where in Port's log the resync-state report with `status` is.
fn position_of_status(sims: &Simulators, status: &str) -> Option<usize> {
    sims.port_sim.log().snapshot().iter().position(|r| {
        r.path.ends_with("/resync-state") && r.request_body.as_ref().is_some_and(|b| b["status"] == status)
    })
}

/// Why the aborted resync deleted nothing, as its final report to Port says.
fn why_nothing_was_deleted(sims: &Simulators) -> String {
    let log = sims.port_sim.log().snapshot();
    let report = position_of_status(sims, "aborted").and_then(|i| log[i].request_body.clone());
    report.map_or_else(String::new, |body| {
        body["heldBack"]["deletionSkipped"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    })
}

fn slow_codecov(sims: &Simulators, latency_ms: u64) {
    sims.codecov_sim.faults().set(FaultConfig {
        latency_ms,
        ..FaultConfig::default()
    });
}

/// `sail` (webhooks only) as installation `identifier`, a stale entity of its
/// own in Port, and a resync asked for that crawls (every Codecov answer slow).
struct Crawling {
    sims: TestWorld,
    child: tokio::process::Child,
    url: String,
    stale: String,
}

async fn crawling_resync(identifier: &str) -> Crawling {
    let sims = recording_simulators(2, 6).await;
    let env = sims
        .env(identifier)
        .webhooks_only_on_loopback()
        .fast_retries(5, 3);
    let (child, url) = sail(&env).await;
    let stale = seed_stale_repository(&sims, identifier).await;
    slow_codecov(&sims, 300);
    post_resync(&url).await;
    assert_eq!(wait_for_statuses(&sims, &["running"]).await, ["running"]);
    Crawling {
        sims,
        child,
        url,
        stale,
    }
}

#[tokio::test]
async fn a_newer_resync_request_aborts_the_running_one_which_deletes_nothing() {
    let identifier = "abort-newer";
    // The child is killed when dropped: it is kept to the end.
    let Crawling {
        sims,
        child: _child,
        url,
        stale,
    } = crawling_resync(identifier).await;
    // Port (or the schedule) asks again while it runs; the newer one runs at full speed.
    post_resync(&url).await;
    slow_codecov(&sims, 0);
    let statuses = wait_for_statuses(&sims, &["running", "aborted", "running", "completed"]).await;
    assert_eq!(statuses, ["running", "aborted", "running", "completed"]);

    let aborted = position_of_status(&sims, "aborted").expect("the aborted report");
    assert_eq!(
        deletions_before(&sims, aborted),
        0,
        "the aborted resync deleted nothing"
    );
    assert_eq!(
        why_nothing_was_deleted(&sims),
        "a newer resync was requested; nothing is deleted"
    );
    assert!(
        !sims.identifiers("codecov_repository").contains(&stale),
        "the newer resync ran to its end and deleted the stale entity"
    );
    // One runtime record per resync, its end sent after the resync state (and
    // listed by event id, not in time order).
    let runtime_states = || async {
        let metrics = admin(&sims, "sync-metrics").await;
        let mut states: Vec<String> = metrics[identifier]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["kindIdentifier"] == "__runtime__")
            .filter_map(|r| r["syncState"].as_str().map(String::from))
            .collect();
        states.sort_unstable();
        states
    };
    let mut states = runtime_states().await;
    for _ in 0..400 {
        if states == ["aborted", "completed"] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
        states = runtime_states().await;
    }
    assert_eq!(states, ["aborted", "completed"]);
}

#[tokio::test]
async fn a_shutdown_aborts_the_running_resync_which_deletes_nothing() {
    let identifier = "abort-shutdown";
    let Crawling {
        sims,
        mut child,
        stale,
        url: _,
    } = crawling_resync(identifier).await;
    let pid = child.id().expect("running");
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("sail exits")
        .expect("exit status");
    assert!(status.success(), "{status}");

    assert_eq!(reported_statuses(&sims), ["running", "aborted"]);
    assert_eq!(
        why_nothing_was_deleted(&sims),
        "the integration is shutting down; nothing is deleted"
    );
    assert_eq!(sims.port_requests("POST", "/entities/delete"), 0);
    assert!(
        sims.identifiers("codecov_repository").contains(&stale),
        "nothing was deleted"
    );
    let state = sims.port_sim.integration(identifier).expect("registered")["resyncState"].clone();
    assert_eq!(state["status"], "aborted", "{state}");
    assert!(
        state["lastResyncStart"].is_string() && state["lastResyncEnd"].is_string(),
        "{state}"
    );
}

/// A port on loopback nothing listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

#[tokio::test]
async fn the_webhook_listener_tells_port_where_to_ask_for_resyncs() {
    let sims = recording_simulators(1, 3).await;
    let identifier = "webhook-listener";
    let port = free_port();
    let base_url = format!("http://127.0.0.1:{port}");
    let env = sims
        .env(identifier)
        .var("OCEAN__EVENT_LISTENER__TYPE", "WEBHOOK")
        .var("OCEAN__BASE_URL", base_url.as_str())
        .var("OCEAN__HTTP__HOST", "127.0.0.1")
        .var("OCEAN__HTTP__PORT", port.to_string());
    let (_child, url) = sail(&env).await;

    // Registered with Port: the address Port calls (Ocean's changelogDestination).
    let integration = sims.port_sim.integration(identifier).expect("registered");
    let destination = &integration["changelogDestination"];
    assert_eq!(
        destination,
        &json!({"type": "WEBHOOK", "url": format!("{base_url}/resync")}),
        "{integration}"
    );
    assert!(reported_statuses(&sims).is_empty(), "no resync at start");

    // Port calls it, as when a user asks for a resync in its UI: one runs.
    let called = destination["url"].as_str().expect("a URL");
    let answer = reqwest::Client::new()
        .post(called)
        .send()
        .await
        .expect("the listener answers");
    assert_eq!(answer.status(), 202);
    assert_eq!(
        wait_for_statuses(&sims, &["running", "completed"]).await,
        ["running", "completed"]
    );
    assert!(!sims.identifiers("codecov_repository").is_empty());

    // Its Prometheus metrics: Ocean's gauges and labels besides ours, the source as a label.
    // The resync's end is counted just after its state went to Port.
    let runtime_done = "success{kind=\"__runtime__\",phase=\"resync\"} 1";
    let mut metrics = String::new();
    for _ in 0..400 {
        let reply = reqwest::get(format!("{url}/metrics")).await.expect("metrics");
        assert_eq!(reply.status(), 200, "{url}/metrics");
        metrics = reply.text().await.expect("text");
        if metrics.contains(runtime_done) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    for expected in [
        runtime_done,
        "ocean_resyncs_total{outcome=\"completed\"} 1",
        "ocean_source_requests_total{source=\"codecov\",",
    ] {
        assert!(metrics.contains(expected), "{expected} in:\n{metrics}");
    }
    assert!(
        metrics.lines().any(|l| l.starts_with(
            "object_count{kind=\"repository-1\",phase=\"extract\",object_count_type=\"raw_extracted\"} 3"
        )),
        "{metrics}"
    );
    let names = metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next());
    for name in names {
        assert!(!name.contains("codecov"), "a source-specific metric name: {name}");
    }
}

#[tokio::test]
async fn a_mapping_cannot_read_the_integrations_secrets_through_env() {
    let sims = recording_simulators(1, 3).await;
    let identifier = "env-secrets";
    let mapping = json!({
        "resources": [{
            "kind": "repository",
            "selector": {"query": "true"},
            "port": {"entity": {"mappings": {
                "identifier": "\"\\(.author.service)/\\(.author.username)/\\(.name)\"",
                "title": "env | tostring",
                "blueprint": "\"codecov_repository\"",
                "properties": {
                    "owner": "$ENV.OCEAN__PORT__CLIENT_SECRET // \"hidden\"",
                    "language": "env.OCEAN__INTEGRATION__CONFIG__CODECOV_TOKEN // \"hidden\"",
                    "defaultBranch": "[$ENV[]] | map(select(. == \"test-\" + \"secret\")) | length | tostring",
                    "service": "env.TEAM_NAME",
                }
            }}}
        }]
    });
    sims.port_client(identifier)
        .expect("Port client")
        .create_integration(&mapping)
        .await
        .expect("the integration with this mapping in Port");
    let env = sims
        .env(identifier)
        .var("OCEAN__ALLOW_ENVIRONMENT_VARIABLES_JQ_ACCESS", "true")
        .var("OCEAN__EVENT_LISTENER__TYPE", "ONCE")
        .var("TEAM_NAME", "platform")
        // The same secret under a name that says nothing.
        .var("PLAIN_LOOKING", PORT_CLIENT_SECRET);
    let outcome = run(&env, &["sail"]).await;
    assert!(outcome.success, "{}", outcome.stderr);

    let entities = sims.port_sim.entities("codecov_repository");
    assert_eq!(entities.len(), 3, "{entities:?}");
    for entity in &entities {
        let properties = &entity["properties"];
        assert_eq!(properties["service"], "platform", "env is readable: {entity}");
        assert_eq!(properties["owner"], "hidden", "{entity}");
        assert_eq!(properties["language"], "hidden", "{entity}");
        assert_eq!(properties["defaultBranch"], "0", "{entity}");
        let title = entity["title"].as_str().expect("a title");
        assert!(title.contains("TEAM_NAME"), "{title}");
    }
    assert_no_secret(
        "Port's entities",
        &serde_json::to_string(&entities).expect("JSON"),
    );
    // Only the token request carries the client secret, as it must.
    for request in sims.port_sim.log().snapshot() {
        if request.path.ends_with("/auth/access_token") {
            continue;
        }
        if let Some(body) = &request.request_body {
            assert_no_secret(&format!("{} {}", request.method, request.path), &body.to_string());
        }
    }
}

/// A corporate CA made now, and a TLS front on loopback that serves a
/// certificate it issued for 127.0.0.1 and passes the bytes on to `backend`
/// (as a TLS-intercepting proxy would). Counts the handshakes it completed.
struct TlsFront {
    url: String,
    handshakes: Arc<std::sync::atomic::AtomicUsize>,
}

struct TestCa {
    pem: String,
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

fn test_ca() -> TestCa {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "ocean-codecov test interception CA");
    let key = rcgen::KeyPair::generate().expect("CA key");
    let issuer = rcgen::CertifiedIssuer::self_signed(params, key).expect("CA certificate");
    TestCa {
        pem: issuer.pem(),
        issuer,
    }
}

async fn tls_front(ca: &TestCa, backend: &str) -> TlsFront {
    use tokio_rustls::rustls;
    let key = rcgen::KeyPair::generate().expect("server key");
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .expect("server params")
        .signed_by(&key, &ca.issuer)
        .expect("server certificate");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone(), ca.issuer.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .expect("server TLS config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let backend = backend
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let handshakes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = handshakes.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, backend, counted) = (acceptor.clone(), backend.clone(), counted.clone());
            tokio::spawn(async move {
                // A client that does not trust the certificate hangs up here.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Ok(mut plain) = tokio::net::TcpStream::connect(&backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    TlsFront {
        url: format!("https://{addr}"),
        handshakes,
    }
}

#[tokio::test]
async fn a_custom_ca_bundle_is_trusted_for_port_and_codecov_and_only_with_it() {
    let sims = TestWorld::start(
        PortSimConfig::default(),
        CodecovSimConfig::generated(1, 3, 5),
        IDENTIFIER,
    )
    .await
    .expect("simulators");
    let ca = test_ca();
    let port_front = tls_front(&ca, &sims.port.url()).await;
    let codecov_front = tls_front(&ca, &sims.codecov.url()).await;
    let bundle = std::env::temp_dir().join(format!("ocean-test-ca-{}.pem", std::process::id()));
    std::fs::write(&bundle, &ca.pem).expect("the bundle written");
    let env = IntegrationEnv::new(&port_front.url, &codecov_front.url, &sims.owners(), "tls-codecov")
        .var("OCEAN__EVENT_LISTENER__TYPE", "ONCE")
        .fast_retries(5, 2);

    // The interception CA is not among the platform's roots: Port is refused.
    let refused = run(&env, &["sail"]).await;
    assert!(!refused.success, "{}", refused.stderr);
    assert!(
        refused.stderr.to_lowercase().contains("certificate"),
        "{}",
        refused.stderr
    );
    assert!(sims.port_sim.entities("codecov_repository").is_empty());

    // With the bundle (what the chart's selfSignedCertificate sets), Port and Codecov both answer over TLS.
    let trusted = env.clone().var("SSL_CERT_FILE", bundle.display().to_string());
    let trusted = run(&trusted, &["sail"]).await;
    assert!(trusted.success, "{}", trusted.stderr);
    assert_eq!(sims.port_sim.entities("codecov_repository").len(), 3);
    for (front, name) in [(&port_front, "Port"), (&codecov_front, "Codecov")] {
        let handshakes = front.handshakes.load(std::sync::atomic::Ordering::SeqCst);
        assert!(handshakes > 0, "{name} was reached over TLS");
    }
    let _ = std::fs::remove_file(&bundle);

    // Ocean's SSL settings, each for its side: Port unchecked is not enough while Codecov is checked.
    let port_unchecked = env.clone().var("OCEAN__SSL__PORT__VERIFY", "false");
    let refused = run(&port_unchecked, &["sail"]).await;
    assert!(!refused.success, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("not verified") && refused.stderr.to_lowercase().contains("certificate"),
        "{}",
        refused.stderr
    );
    let unchecked = port_unchecked.var("OCEAN__SSL__THIRD_PARTY__VERIFY", "false");
    let accepted = run(&unchecked, &["sail"]).await;
    assert!(accepted.success, "{}", accepted.stderr);
}

#[tokio::test]
async fn a_dot_env_file_and_oceans_application_aliases_are_read() {
    let sims = recording_simulators(1, 2).await;
    let port = free_port();
    let dir = ocean_host::live_events::scratch_journal_dir("dotenv-workdir");
    std::fs::create_dir_all(&dir).expect("a working directory");
    std::fs::write(
        dir.join(".env"),
        format!(
            "# as an operator writes it\nexport OCEAN__INTEGRATION__IDENTIFIER=dotenv-codecov\n\
             OCEAN__PORT__CLIENT_SECRET=\"{PORT_CLIENT_SECRET}\"\nAPPLICATION__PORT={port}\n\
             APPLICATION__LOG_LEVEL=DEBUG\n\
             # the environment wins over the file\nOCEAN__EVENT_LISTENER__TYPE=KAFKA\n"
        ),
    )
    .expect(".env written");
    let env = sims
        .env("unused")
        .without("OCEAN__INTEGRATION__IDENTIFIER")
        .without("OCEAN__PORT__CLIENT_SECRET")
        .var("OCEAN__EVENT_LISTENER__TYPE", "WEBHOOKS_ONLY")
        .var("OCEAN__HTTP__HOST", "127.0.0.1");
    let mut command = env.command(EXE, &["sail"], "");
    command.env_remove("RUST_LOG").current_dir(&dir);
    let debug_seen = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = debug_seen.clone();
    let check = move |line: &str| {
        assert_no_secret("a log line", line);
        if line.contains("DEBUG") {
            seen.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    };
    let (_child, url, mut lines) = spawn_announcing_async(command, check.clone())
        .await
        .expect("sail starts with the file's settings");
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            check(&line);
        }
    });
    assert_eq!(url, format!("http://127.0.0.1:{port}"), "APPLICATION__PORT");
    assert!(
        debug_seen.load(std::sync::atomic::Ordering::SeqCst),
        "APPLICATION__LOG_LEVEL=DEBUG: debug lines before the server listened"
    );
    // The identifier and the client secret came from the file: registered under that name.
    assert!(sims.port_sim.integration("dotenv-codecov").is_some());
    let health = reqwest::get(format!("{url}/health/live")).await.expect("live");
    assert_eq!(health.status(), 200);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_client_timeout_cuts_a_slow_port_short() {
    let sims = recording_simulators(1, 1).await;
    sims.port_sim.faults().set(FaultConfig {
        latency_ms: 2_500,
        ..FaultConfig::default()
    });
    let env = sims
        .env("timeout-codecov")
        .var("OCEAN__EVENT_LISTENER__TYPE", "ONCE")
        .var("OCEAN__CLIENT_TIMEOUT", "1")
        .fast_retries(5, 2);
    let outcome = run(&env, &["sail"]).await;
    assert!(!outcome.success, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("timed out"), "{}", outcome.stderr);
    assert_no_secret("stderr", &outcome.stderr);
}
