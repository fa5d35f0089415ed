//! What Port shows about the integration, end to end: the real binary resyncs
//! from the Codecov simulator into the Port simulator, whose admin routes show
//! the raw data examples, sync status and metrics, and log lines it received.
//! Also: settings switch each of them off, log output suits a pipe, and
//! settings this host cannot honour stop it at start.

use std::sync::Arc;

use ocean_codecov::sim::Served;
use ocean_codecov::sim::codecov::{CodecovSim, CodecovSimConfig, DEFAULT_TOKEN};
use ocean_codecov::sim::port::{PortSim, PortSimConfig};
use serde_json::Value;

const IDENTIFIER: &str = "view-codecov";
const KINDS: &[&str] = &["coverage", "repository", "commit", "pull", "flag"];

struct World {
    port: Served,
    _port_sim: Arc<PortSim>,
    codecov: Served,
    codecov_sim: Arc<CodecovSim>,
}

async fn world() -> World {
    let loopback = "127.0.0.1:0".parse().expect("loopback");
    let (port, _port_sim) = PortSim::start(PortSimConfig::default(), loopback)
        .await
        .expect("Port simulator");
    let (codecov, codecov_sim) = CodecovSim::start(CodecovSimConfig::generated(2, 4, 7), loopback)
        .await
        .expect("Codecov simulator");
    World {
        port,
        _port_sim,
        codecov,
        codecov_sim,
    }
}

struct Run {
    success: bool,
    stderr: String,
}

impl World {
    async fn run(&self, args: &[&str], extra: &[(&str, &str)]) -> Run {
        let owners: Vec<String> = self
            .codecov_sim
            .dataset()
            .owners
            .iter()
            .map(|o| o.username.clone())
            .collect();
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_ocean-codecov"));
        command
            .args(args)
            .env_clear()
            .env("OCEAN__PORT__BASE_URL", self.port.url())
            .env("OCEAN__PORT__CLIENT_ID", "test-client")
            .env("OCEAN__PORT__CLIENT_SECRET", "test-secret")
            .env("OCEAN__INTEGRATION__IDENTIFIER", IDENTIFIER)
            .env("OCEAN__INTEGRATION__CONFIG__CODECOV_TOKEN", DEFAULT_TOKEN)
            .env("OCEAN__INTEGRATION__CONFIG__CODECOV_URL", self.codecov.url())
            .env(
                "OCEAN__INTEGRATION__CONFIG__CODECOV_OWNERS",
                serde_json::to_string(&owners).expect("JSON"),
            )
            .env("OCEAN__EVENT_LISTENER__TYPE", "ONCE")
            .env("OCEAN__RETRY__BASE_DELAY_MS", "5")
            .env("OCEAN__RETRY__MAX_ATTEMPTS", "3")
            .env("APPLICATION__LOG_LEVEL", "INFO");
        for (name, value) in extra {
            command.env(name, value);
        }
        let output = command.output().await.expect("the binary runs");
        Run {
            success: output.status.success(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    async fn admin(&self, route: &str) -> Value {
        reqwest::get(format!("{}/_admin/{route}", self.port.url()))
            .await
            .expect("admin route answers")
            .json()
            .await
            .expect("admin JSON")
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
