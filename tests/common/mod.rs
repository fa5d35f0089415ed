//! Shared set-up for tests that drive the Port client against the simulator;
//! the harness itself (simulators, settings, the spawned binary) is
//! `ocean_testkit::harness`.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ocean_port::Entity;
use ocean_port::{PortClient, PortSettings, RetryPolicy, UpsertOptions, UpsertReport};
use ocean_sim::Served;
use ocean_sim::faults::FaultConfig;
use ocean_sim::port::{PortSim, PortSimConfig};
use ocean_support::secret::Secret;
use ocean_testkit::harness::{PORT_CLIENT_ID, PORT_CLIENT_SECRET};
use serde_json::{Value, json};

pub const LOOPBACK: &str = "127.0.0.1:0";

pub fn default_blueprints() -> Vec<Value> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/.port/resources/blueprints.json"
    ))
    .expect("the default blueprints ship with the crate");
    serde_json::from_str(&text).expect("blueprints.json is JSON")
}

/// A simulator holding the default blueprints.
pub async fn start_sim(config: PortSimConfig) -> (Served, Arc<PortSim>) {
    let addr: SocketAddr = LOOPBACK.parse().expect("loopback");
    let (served, sim) = PortSim::start(config, addr)
        .await
        .expect("simulator binds loopback");
    for blueprint in default_blueprints() {
        sim.add_blueprint(blueprint);
    }
    (served, sim)
}

/// A simulator (default blueprints) that misbehaves as `faults` says.
pub async fn start_sim_with(faults: FaultConfig) -> (Served, Arc<PortSim>) {
    start_sim(PortSimConfig {
        faults,
        ..PortSimConfig::default()
    })
    .await
}

/// Upserts `entities` with the default options; only a credentials failure fails the test.
pub async fn upsert_all(client: &PortClient, entities: &[Entity]) -> UpsertReport {
    client
        .upsert_entities(entities, UpsertOptions::default())
        .await
        .expect("upsert")
}

/// Retries quickly so fault tests finish in moments.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
        max_attempts: 12,
        max_total_wait: Duration::from_secs(20),
    }
}

/// Installation `codecov` on the simulator at `served`, with its credentials and quick retries.
pub fn settings_for(served: &Served) -> PortSettings {
    let mut settings = PortSettings::new(
        served.url(),
        PORT_CLIENT_ID,
        Secret::new(PORT_CLIENT_SECRET),
        "codecov",
        "codecov",
    );
    settings.retry = fast_retry();
    settings
}

pub fn client_for(served: &Served) -> PortClient {
    PortClient::new(settings_for(served)).expect("client builds")
}

/// A `codecov_coverage` entity whose JSON is about `size` bytes.
pub fn coverage_entity(n: usize, size: usize) -> Entity {
    let mut entity = Entity {
        identifier: json!(format!("org/repo-{n:05}")),
        title: Some(json!(format!("repo-{n:05}"))),
        blueprint: "codecov_coverage".into(),
        team: None,
        icon: None,
        properties: serde_json::Map::new(),
        relations: serde_json::Map::new(),
    };
    let props = &mut entity.properties;
    props.insert(
        "repository".into(),
        json!(format!("https://github.com/org/repo-{n:05}")),
    );
    props.insert("coverage".into(), json!("97.22222"));
    props.insert("files".into(), json!(n % 300));
    props.insert("lines".into(), json!(n * 7));
    props.insert("branch".into(), json!("main"));
    props.insert("createdAt".into(), json!("2024-02-02T14:21:35Z"));
    let base = serde_json::to_vec(&entity).expect("encodes").len();
    let padding = size.saturating_sub(base + 40);
    entity
        .properties
        .insert("report".into(), json!({"notes": "x".repeat(padding), "files": 3}));
    entity
}

/// What each kind yields for `dataset`'s active repositories, with the
/// default mapping's blueprint (none for `branch`, which it does not map).
pub fn expected_per_kind(
    dataset: &ocean_sim::codecov::data::Dataset,
) -> Vec<(&'static str, &'static str, usize)> {
    let active = || {
        dataset
            .owners
            .iter()
            .flat_map(|o| o.repos.iter())
            .filter(|r| r.active)
    };
    let on_main = |r: &ocean_sim::codecov::data::Repo| {
        r.commits
            .iter()
            .filter(|c| Some(&c.branch) == r.branch.as_ref())
            .count()
    };
    vec![
        ("repository", "codecov_repository", active().count()),
        (
            "coverage",
            "codecov_coverage",
            active()
                .filter(|r| r.commits.iter().any(|c| c.state == "complete"))
                .count(),
        ),
        (
            "commit",
            "codecov_commit",
            active().map(|r| on_main(r).min(10)).sum(),
        ),
        (
            "pull",
            "codecov_pull",
            active()
                .map(|r| r.pulls.iter().filter(|p| p.state == "open").count())
                .sum(),
        ),
        ("flag", "codecov_flag", active().map(|r| r.flags.len()).sum()),
        ("branch", "", active().map(|r| r.branches.len()).sum()),
    ]
}
