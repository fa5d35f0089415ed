//! `sail` as a process, with its HTTP server: Codecov webhooks end as
//! entities in the Port simulator; bad requests are refused; a shutdown
//! drains every accepted event.

use std::sync::Arc;
use std::time::Duration;

use ocean_sim::Served;
use ocean_sim::codecov::data::{Dataset, seed_example_payload};
use ocean_sim::codecov::{CodecovSimConfig, webhook_payload_for};
use ocean_sim::port::{PortSim, PortSimConfig};
use ocean_testkit::harness::{
    IntegrationEnv, PORT_CLIENT_SECRET, Simulators, TestWorld, spawn_announcing_async,
};
use serde_json::{Value, json};

const SECRET: &str = "hook-s3cret";

struct Integration {
    child: tokio::process::Child,
    url: String,
    port_sim: Arc<PortSim>,
    _port: Served,
    _codecov: Served,
}

fn assert_no_secret(line: &str) {
    assert!(
        !line.contains(SECRET) && !line.contains(PORT_CLIENT_SECRET),
        "a secret leaked: {line}"
    );
}

async fn sail(port_config: PortSimConfig) -> Integration {
    sail_with(port_config, Dataset::generate(0, 0, 1)).await
}

/// `sail` against a Codecov holding `dataset` and the seed's repository: the
/// plugin reads a webhook's repository from Codecov (its default branch).
async fn sail_with(port_config: PortSimConfig, dataset: Dataset) -> Integration {
    let mut codecov_config = CodecovSimConfig::generated(0, 0, 1);
    codecov_config.dataset = dataset;
    codecov_config.dataset.add_from_payload(&seed_example_payload());
    let world = TestWorld::start(port_config, codecov_config, "live-codecov")
        .await
        .expect("simulators");
    let Simulators {
        port,
        port_sim,
        codecov,
        ..
    } = world.sims;
    let env = IntegrationEnv::new(&port.url(), &codecov.url(), &["slanks".into()], "live-codecov")
        .field("webhookSecret", SECRET)
        .webhooks_only_on_loopback();
    let command = env.command(env!("CARGO_BIN_EXE_ocean-codecov"), &["sail"], "info");
    let (child, url, mut lines) = spawn_announcing_async(command, assert_no_secret)
        .await
        .expect("sail says where it listens");
    // Keep reading so the child never blocks on a full pipe; check no secret is logged.
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            assert_no_secret(&line);
        }
    });
    Integration {
        child,
        url,
        port_sim,
        _port: port,
        _codecov: codecov,
    }
}

impl Integration {
    async fn post(&self, body: Vec<u8>, token: Option<&str>) -> reqwest::Response {
        let mut url = format!("{}/integration/webhook", self.url);
        if let Some(token) = token {
            url.push_str(&format!("?token={token}"));
        }
        reqwest::Client::new()
            .post(url)
            .header("Content-Type", "application/json")
            .header("User-Agent", "Codecov")
            .body(body)
            .send()
            .await
            .expect("the server answers")
    }

    async fn wait_for(&self, blueprint: &str, count: usize) -> bool {
        for _ in 0..400 {
            if self.port_sim.entities(blueprint).len() >= count {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        false
    }
}

#[tokio::test]
async fn the_seed_webhook_ends_as_the_seed_entity_in_port() {
    let integration = sail(PortSimConfig::default()).await;
    let health = reqwest::get(format!("{}/health/ready", integration.url))
        .await
        .expect("ready probe");
    assert_eq!(health.status(), 200);
    // Ocean 0.56.2's health document (`port_ocean/health.py`), and what the mapping is.
    let ready: serde_json::Value = health.json().await.expect("JSON");
    assert_eq!(ready["status"], "healthy", "{ready}");
    assert_eq!(ready["check"], "ready", "{ready}");
    assert_eq!(ready["core_version"], env!("CARGO_PKG_VERSION"), "{ready}");
    assert!(ready["mapping"].is_string(), "{ready}");
    let live = reqwest::get(format!("{}/health/live", integration.url))
        .await
        .expect("live probe");
    assert_eq!(live.status(), 200);
    assert_eq!(
        live.json::<serde_json::Value>().await.expect("JSON"),
        serde_json::json!({"status": "healthy", "check": "live", "core_version": env!("CARGO_PKG_VERSION")})
    );

    let payload = serde_json::to_vec(&seed_example_payload()).expect("JSON");
    let accepted = integration.post(payload, Some(SECRET)).await;
    assert_eq!(accepted.status(), 202);
    assert!(
        integration.wait_for("codecov_coverage", 1).await,
        "the entity arrived"
    );

    let stored = &integration.port_sim.entities("codecov_coverage")[0];
    let text = std::fs::read_to_string("resources/codecov/seed-expected-entity.json").expect("seed entity");
    let expected: Value = serde_json::from_str(&text).expect("JSON");
    for field in ["title", "properties", "relations"] {
        assert_eq!(stored[field], expected[field], "{field}");
    }
    // The default mapping qualifies the identifier with service and owner.
    assert_eq!(stored["identifier"], "github/slanks/codecov-example");
    assert!(
        integration.wait_for("codecov_pull", 1).await,
        "the payload's pull was read from Codecov"
    );
    assert_eq!(
        integration.port_sim.entities("codecov_pull")[0]["identifier"],
        "github/slanks/codecov-example/pulls/11"
    );

    let metrics = reqwest::get(format!("{}/metrics", integration.url))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("ocean_webhook_events_total{outcome=\"accepted\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("ocean_port_requests_total{"), "{metrics}");
}

/// Issue 16, point 6: a `coverage` entity means the repository's default
/// branch, as resyncs build it. Codecov notifies for every branch; by default
/// a webhook for another branch (here newer than the default branch's) leaves
/// that entity alone, while the payload's pull is still read and written.
#[tokio::test]
async fn a_webhook_for_another_branch_leaves_the_default_branch_entity_alone() {
    let integration = sail(PortSimConfig::default()).await;
    let mut elsewhere = seed_example_payload();
    elsewhere["head"]["branch"] = json!("feature/elsewhere");
    elsewhere["head"]["timestamp"] = json!("2024-02-02T15:00:00");
    elsewhere["head"]["totals"]["coverage"] = json!("50.00000");
    let accepted = integration
        .post(serde_json::to_vec(&elsewhere).expect("JSON"), Some(SECRET))
        .await;
    assert_eq!(accepted.status(), 202);
    assert!(
        integration.wait_for("codecov_pull", 1).await,
        "the event was handled: its pull was read and written"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        integration.port_sim.entities("codecov_coverage").is_empty(),
        "another branch's webhook wrote the coverage entity"
    );
    // The default branch's event writes it.
    let accepted = integration
        .post(
            serde_json::to_vec(&seed_example_payload()).expect("JSON"),
            Some(SECRET),
        )
        .await;
    assert_eq!(accepted.status(), 202);
    assert!(integration.wait_for("codecov_coverage", 1).await);
    let stored = &integration.port_sim.entities("codecov_coverage")[0];
    assert_eq!(stored["properties"]["coverage"], "97.22222");
    assert_eq!(stored["properties"]["branch"], "slanks-patch-11");
}

#[tokio::test]
async fn bad_requests_are_refused_and_write_nothing() {
    let integration = sail(PortSimConfig::default()).await;
    let payload = serde_json::to_vec(&seed_example_payload()).expect("JSON");

    let wrong = integration.post(payload.clone(), Some("guess")).await;
    assert_eq!(wrong.status(), 401);
    let missing = integration.post(payload, None).await;
    assert_eq!(missing.status(), 401);

    let garbage = integration
        .post(b"{\"repo\": {\"name\": \n oops".to_vec(), Some(SECRET))
        .await;
    assert_eq!(garbage.status(), 400);
    let body: Value = garbage.json().await.expect("JSON error body");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("line 2 column")),
        "{body}"
    );

    let huge = json!({"repo": {"name": "x"}, "padding": "x".repeat(2 * 1024 * 1024)});
    let too_large = integration
        .post(serde_json::to_vec(&huge).expect("JSON"), Some(SECRET))
        .await;
    assert_eq!(too_large.status(), 413);

    let not_codecov = integration
        .post(b"{\"hello\": \"world\"}".to_vec(), Some(SECRET))
        .await;
    assert_eq!(not_codecov.status(), 422);

    let resync = reqwest::Client::new()
        .post(format!("{}/resync", integration.url))
        .send()
        .await
        .expect("answer");
    assert_eq!(
        resync.status(),
        401,
        "the resync trigger is protected by the same secret"
    );

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        integration.port_sim.entities("codecov_coverage").is_empty(),
        "nothing was written"
    );
    let writes = integration.port_sim.log().snapshot();
    assert!(
        writes.iter().all(|r| !r.path.ends_with("/entities/bulk")),
        "no entity request was made"
    );
}

#[tokio::test]
async fn sigterm_drains_every_accepted_event_into_port() {
    let slow_port = PortSimConfig {
        faults: ocean_sim::faults::FaultConfig {
            latency_ms: 15,
            ..Default::default()
        },
        ..PortSimConfig::default()
    };
    let dataset = Dataset::generate(1, 700, 3);
    let mut integration = sail_with(slow_port, dataset.clone()).await;
    let payloads: Vec<Value> = dataset.owners[0]
        .repos
        .iter()
        .filter_map(|r| webhook_payload_for(&dataset, "https://app.codecov.io", "owner-1", &r.name, false))
        .take(500)
        .collect();
    assert_eq!(payloads.len(), 500);
    for payload in &payloads {
        let answer = integration
            .post(serde_json::to_vec(payload).expect("JSON"), Some(SECRET))
            .await;
        assert_eq!(answer.status(), 202);
    }
    let pid = integration.child.id().expect("running");
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(60), integration.child.wait())
        .await
        .expect("sail exits after draining")
        .expect("exit status");
    assert!(status.success(), "{status}");
    assert_eq!(
        integration.port_sim.entities("codecov_coverage").len(),
        500,
        "every accepted event is in Port"
    );
}
