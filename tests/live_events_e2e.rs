//! Live events through the journal, with `sail` as a process: SIGKILLed while
//! events arrive it loses none it accepted; failures wait as dead letters the
//! `dead-letters` command lists, replays and discards; a poison event is set
//! aside without holding others up; the newest event in the source wins; an
//! item the selector now leaves out has its entity deleted, if owned.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ocean_sim::codecov::CodecovSimConfig;
use ocean_sim::codecov::data::{Dataset, seed_example_payload};
use ocean_sim::faults::{Fault, FaultConfig};
use ocean_sim::port::PortSimConfig;
use ocean_testkit::harness::{IntegrationEnv, TestWorld, spawn_announcing_async, webhook_payloads};
use serde_json::{Value, json};

const SECRET: &str = "live-s3cret";
const IDENTIFIER: &str = "live-journal";
const COVERAGE: &str = "codecov_coverage";

struct World {
    sims: TestWorld,
    env: IntegrationEnv,
}

struct Sail {
    child: tokio::process::Child,
    url: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl World {
    async fn new() -> World {
        let mut codecov_config = CodecovSimConfig::generated(1, 300, 5);
        codecov_config.dataset.add_from_payload(&seed_example_payload());
        let sims = TestWorld::start(PortSimConfig::default(), codecov_config, IDENTIFIER)
            .await
            .expect("simulators");
        let env = IntegrationEnv::new(
            &sims.port.url(),
            &sims.codecov.url(),
            &["slanks".into()],
            IDENTIFIER,
        )
        .field("webhookSecret", SECRET)
        .webhooks_only_on_loopback()
        .var("OCEAN__RETRY__MAX_ATTEMPTS", "1");
        World { sims, env }
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        self.env
            .command(env!("CARGO_BIN_EXE_ocean-codecov"), args, "info")
    }

    async fn sail(&self) -> Sail {
        let log = Arc::new(Mutex::new(Vec::new()));
        let seen = log.clone();
        let (child, url, mut lines) = spawn_announcing_async(self.command(&["sail"]), move |line| {
            seen.lock().expect("log").push(line.to_string());
        })
        .await
        .expect("sail starts and says where it listens");
        let kept = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                kept.lock().expect("log").push(line);
            }
        });
        Sail { child, url, log }
    }

    async fn wait_for(&self, done: impl Fn(&[Value]) -> bool) -> bool {
        for _ in 0..1200 {
            if done(&self.sims.port_sim.entities(COVERAGE)) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        false
    }

    /// `dead-letters ...` as an operator runs it, its stdout.
    async fn dead_letters(&self, args: &[&str]) -> String {
        let mut all = vec!["dead-letters"];
        all.extend_from_slice(args);
        let output = self.command(&all).output().await.expect("runs");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }
}

impl Sail {
    async fn post(&self, body: &Value) -> u16 {
        reqwest::Client::new()
            .post(format!("{}/integration/webhook?token={SECRET}", self.url))
            .header("Content-Type", "application/json")
            .json(body)
            .send()
            .await
            .map_or(0, |r| r.status().as_u16())
    }

    /// Events the log says were replayed at start.
    fn replayed(&self) -> usize {
        self.log
            .lock()
            .expect("log")
            .iter()
            .filter(|l| l.contains("replaying live events"))
            .filter_map(|l| {
                plain(l)
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("events=")?.parse::<usize>().ok())
            })
            .sum()
    }

    async fn kill(mut self) {
        self.child.start_kill().expect("SIGKILL");
        let _ = self.child.wait().await;
    }

    async fn terminate(mut self) {
        let pid = self.child.id().expect("running");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let _ = tokio::time::timeout(Duration::from_secs(60), self.child.wait()).await;
    }
}

/// A log line without its terminal colours.
fn plain(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn payloads(count: usize) -> Vec<Value> {
    let dataset = Dataset::generate(1, count * 2, 5);
    let payloads = webhook_payloads(&dataset, count);
    assert_eq!(payloads.len(), count);
    payloads
}

fn identifiers(entities: &[Value]) -> std::collections::BTreeSet<String> {
    entities
        .iter()
        .filter_map(|e| e["identifier"].as_str().map(repo_part))
        .collect()
}

/// The repository of a coverage identifier (`{service}/{owner}/{repo}`).
fn repo_part(identifier: &str) -> String {
    identifier.rsplit('/').next().unwrap_or(identifier).to_string()
}

fn repo(payload: &Value) -> String {
    payload["repo"]["name"].as_str().expect("a repo name").to_string()
}

#[tokio::test]
async fn sigkill_while_events_arrive_loses_no_accepted_event() {
    let world = World::new().await;
    let events = payloads(80);
    let first = world.sail().await;
    // Port answers nothing for a long while: every accepted event is still
    // only in the journal when the process dies.
    world.sims.port_sim.faults().set(FaultConfig {
        latency_ms: 60_000,
        ..FaultConfig::default()
    });
    for payload in &events[..40] {
        assert_eq!(first.post(payload).await, 202);
    }
    first.kill().await;
    world.sims.port_sim.faults().set(FaultConfig::default());

    let second = world.sail().await;
    assert_eq!(second.replayed(), 40, "every accepted event comes back");
    for payload in &events[40..] {
        assert_eq!(second.post(payload).await, 202);
    }
    // Killed again at once: whatever of these 40 had not reached Port yet is replayed next.
    second.kill().await;
    let third = world.sail().await;
    let expected: std::collections::BTreeSet<String> = events.iter().map(repo).collect();
    assert!(
        world
            .wait_for(|entities| identifiers(entities).is_superset(&expected))
            .await,
        "every accepted event reached Port"
    );
    assert_eq!(identifiers(&world.sims.port_sim.entities(COVERAGE)), expected);
    third.terminate().await;
}

#[tokio::test]
async fn failures_wait_as_dead_letters_that_the_cli_replays_or_discards() {
    let world = World::new().await;
    let sail = world.sail().await;
    let url = sail.url.clone();
    let events = payloads(3);
    world.sims.port_sim.faults().set(FaultConfig {
        rate: 1.0,
        kinds: vec![Fault::Status(500)],
        ..FaultConfig::default()
    });
    assert_eq!(sail.post(&events[0]).await, 202, "accepted: it is in the journal");
    let mut listed = String::new();
    for _ in 0..400 {
        listed = world.dead_letters(&["list", "--json", "--url", &url]).await;
        if listed.contains("\"seq\"") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let letters: Vec<Value> = serde_json::from_str(&listed).expect("JSON");
    assert_eq!(letters.len(), 1, "{listed}");
    assert_eq!(letters[0]["attempts"], json!(1));
    assert_eq!(letters[0]["poison"], json!(false));
    assert!(
        letters[0]["reason"].as_str().is_some_and(|r| r.contains("500")),
        "{listed}"
    );

    world.sims.port_sim.faults().set(FaultConfig::default());
    let replayed = world.dead_letters(&["replay", "--all", "--url", &url]).await;
    assert!(replayed.starts_with('1'), "{replayed}");
    let wanted = repo(&events[0]);
    assert!(
        world.wait_for(|e| identifiers(e).contains(&wanted)).await,
        "the replayed dead letter reached Port"
    );

    // Poison: its mapping fails (a head timestamp strptime cannot read); the next event is not held up.
    let mut poison = events[1].clone();
    poison["head"]["timestamp"] = json!("not a time");
    assert_eq!(sail.post(&poison).await, 202);
    assert_eq!(sail.post(&events[2]).await, 202);
    let next = repo(&events[2]);
    assert!(world.wait_for(|e| identifiers(e).contains(&next)).await);
    sail.terminate().await;

    // `sail` stopped: the command opens the journal itself.
    let listed = world.dead_letters(&["list", "--json"]).await;
    let letters: Vec<Value> = serde_json::from_str(&listed).expect("JSON");
    assert_eq!(letters.len(), 1, "{listed}");
    assert_eq!(letters[0]["poison"], json!(true));
    assert!(
        letters[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("createdAt")),
        "{listed}"
    );
    let seq = letters[0]["seq"].as_u64().expect("a number").to_string();
    let discarded = world.dead_letters(&["discard", &seq]).await;
    assert!(discarded.starts_with('1'), "{discarded}");
    assert!(world.dead_letters(&["list"]).await.contains("no dead letters"));
}

#[tokio::test]
async fn the_newest_event_in_the_source_wins_whatever_the_arrival_order() {
    let world = World::new().await;
    let sail = world.sail().await;
    let events = payloads(2);
    let version = |at: &str, coverage: &str| {
        let mut event = events[0].clone();
        event["head"]["timestamp"] = json!(at);
        event["head"]["totals"]["coverage"] = json!(coverage);
        event
    };
    let entity = repo(&events[0]);
    let coverage_in_port = |entities: &[Value]| {
        entities
            .iter()
            .find(|e| e["identifier"].as_str().map(repo_part).as_deref() == Some(entity.as_str()))
            .map(|e| e["properties"]["coverage"].clone())
    };
    assert_eq!(sail.post(&version("2026-01-02T00:00:00", "90.0")).await, 202);
    assert!(world.wait_for(|e| coverage_in_port(e).is_some()).await);
    // An older commit's report arrives late, then another entity's event marks the queue's end.
    assert_eq!(sail.post(&version("2026-01-01T00:00:00", "10.0")).await, 202);
    assert_eq!(sail.post(&events[1]).await, 202);
    let marker = repo(&events[1]);
    assert!(world.wait_for(|e| identifiers(e).contains(&marker)).await);
    assert_eq!(
        coverage_in_port(&world.sims.port_sim.entities(COVERAGE)),
        Some(json!("90.0"))
    );
    // Both again in one burst, older last, after a restart: still the newest.
    sail.terminate().await;
    let sail = world.sail().await;
    assert_eq!(sail.post(&version("2026-01-03T00:00:00", "95.0")).await, 202);
    assert_eq!(sail.post(&version("2026-01-01T12:00:00", "20.0")).await, 202);
    assert!(
        world
            .wait_for(|e| coverage_in_port(e) == Some(json!("95.0")))
            .await
    );
    // Another entity's event, posted after both, marks that both were handled.
    let mut marker_event = events[1].clone();
    marker_event["head"]["totals"]["coverage"] = json!("77.7");
    assert_eq!(sail.post(&marker_event).await, 202);
    assert!(
        world
            .wait_for(|e| e
                .iter()
                .any(
                    |e| e["identifier"].as_str().map(repo_part).as_deref() == Some(marker.as_str())
                        && e["properties"]["coverage"] == json!("77.7")
                ))
            .await
    );
    assert_eq!(
        coverage_in_port(&world.sims.port_sim.entities(COVERAGE)),
        Some(json!("95.0"))
    );
    sail.terminate().await;
}

/// An item the selector now leaves out has its entity deleted at once, only
/// if this integration owns it (issue 17, point 6).
#[tokio::test]
async fn an_item_the_selector_leaves_out_has_its_owned_entity_deleted() {
    let world = World::new().await;
    // Registered with the default mapping; then a user narrows the coverage selector in Port.
    world.sail().await.terminate().await;
    let mut config = world.sims.port_sim.integration(IDENTIFIER).expect("registered")["config"].clone();
    for resource in config["resources"].as_array_mut().expect("resources") {
        if resource["kind"] == "coverage" {
            resource["selector"]["query"] = json!("(.head.totals.coverage | tonumber) >= 50");
        }
    }
    world
        .env
        .host()
        .expect("the integration's settings")
        .port
        .patch_integration_config(&config)
        .await
        .expect("the mapping edited in Port");
    let events = payloads(3);
    let at = |event: &Value, when: &str, coverage: &str| {
        let mut event = event.clone();
        event["head"]["timestamp"] = json!(when);
        event["head"]["totals"]["coverage"] = json!(coverage);
        event
    };
    let id = |event: &Value| format!("github/owner-1/{}", repo(event));
    // Another writer's entity for the second repository.
    let foreign =
        json!({"identifier": id(&events[1]), "title": "by hand", "properties": {}, "relations": {}});
    world
        .sims
        .port_sim
        .put_entity(COVERAGE, &foreign, "admin")
        .expect("planted");

    let sail = world.sail().await;
    let (mine, theirs, also_mine) = (repo(&events[0]), repo(&events[1]), repo(&events[2]));
    assert_eq!(
        sail.post(&at(&events[0], "2026-01-02T00:00:00", "90.0")).await,
        202
    );
    assert_eq!(
        sail.post(&at(&events[2], "2026-01-02T00:00:00", "90.0")).await,
        202
    );
    assert!(
        world
            .wait_for(|e| identifiers(e).contains(&mine) && identifiers(e).contains(&also_mine))
            .await
    );
    world.sims.port_sim.take_deletions();
    // Its coverage falls below the selector's bar: the entity goes.
    assert_eq!(
        sail.post(&at(&events[0], "2026-01-03T00:00:00", "10.0")).await,
        202
    );
    assert!(world.wait_for(|e| !identifiers(e).contains(&mine)).await);
    // The same for an entity someone else wrote: it stays. An owned one
    // deselected after it marks that it was handled.
    assert_eq!(
        sail.post(&at(&events[1], "2026-01-03T00:00:00", "10.0")).await,
        202
    );
    assert_eq!(
        sail.post(&at(&events[2], "2026-01-03T00:00:00", "10.0")).await,
        202
    );
    assert!(world.wait_for(|e| !identifiers(e).contains(&also_mine)).await);
    assert!(identifiers(&world.sims.port_sim.entities(COVERAGE)).contains(&theirs));
    assert_eq!(
        world.sims.port_sim.take_deletions(),
        [
            (COVERAGE.to_string(), id(&events[0])),
            (COVERAGE.to_string(), id(&events[2]))
        ]
    );
    // Ocean 0.56.2 processes a live event as an `http_request` event: its
    // writes and deletes say so, and name no resync (`clients/port/utils.py`).
    let writes = world.sims.port_sim.entity_writes();
    assert!(writes.iter().any(|w| w.operation == "bulk_upsert"), "{writes:?}");
    assert!(writes.iter().any(|w| w.operation == "bulk_delete"), "{writes:?}");
    for write in &writes {
        assert_eq!(write.event_type.as_deref(), Some("http_request"), "{write:?}");
        assert_eq!(write.resync_id, None, "{write:?}");
    }
    sail.terminate().await;
}
