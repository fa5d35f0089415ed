//! The real binary (`resync --once`, `resync --dry-run`) against the Port and
//! Codecov simulators: creation, idempotence, stale deletion, and every case
//! where deleting would lose data.

mod common;

use std::time::Duration;

use ocean_port::Entity;
use ocean_port::{PortClient, UpsertOptions};
use ocean_sim::codecov::CodecovSimConfig;
use ocean_sim::codecov::data::Dataset;
use ocean_sim::port::PortSimConfig;
use ocean_testkit::harness::{Finished, IntegrationEnv, TestWorld};
use serde_json::{Value, json};

const IDENTIFIER: &str = "e2e-codecov";

/// Both simulators, and the binary run against them as installation `IDENTIFIER`.
struct World(TestWorld);

impl std::ops::Deref for World {
    type Target = TestWorld;
    fn deref(&self) -> &TestWorld {
        &self.0
    }
}

async fn world(owners: usize, repos: usize) -> World {
    let codecov = CodecovSimConfig::generated(owners, repos, 21);
    World(
        TestWorld::start(PortSimConfig::default(), codecov, IDENTIFIER)
            .await
            .expect("simulators"),
    )
}

impl World {
    /// The installation's settings for the binary.
    fn settings(&self) -> IntegrationEnv {
        self.installation_env()
            .var("OCEAN__INTEGRATION__TYPE", "codecov")
            .fast_retries(5, 3)
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        self.settings()
            .command(env!("CARGO_BIN_EXE_ocean-codecov"), args, "warn")
    }

    async fn run(&self, args: &[&str]) -> Finished {
        self.run_logging(args, "warn").await
    }

    /// Runs the binary with `level` as its log level (`info` for tests that read its log lines).
    async fn run_logging(&self, args: &[&str], level: &str) -> Finished {
        let run = self
            .0
            .run(env!("CARGO_BIN_EXE_ocean-codecov"), &self.settings(), args, level)
            .await
            .expect("the binary runs");
        assert!(
            !run.stderr.contains("test-secret"),
            "the secret leaked:\n{}",
            run.stderr
        );
        run
    }

    async fn resync(&self) -> Finished {
        self.run(&["resync", "--once"]).await
    }

    fn count(&self, blueprint: &str) -> usize {
        self.port_sim.entities(blueprint).len()
    }

    fn bulk_upserts(&self) -> usize {
        self.port_requests("POST", "/entities/bulk")
    }

    /// The resync state as Port's simulator recorded it, through its admin route.
    async fn resync_state(&self) -> Value {
        let state: Value = reqwest::get(format!("{}/_admin/state", self.port.url()))
            .await
            .expect("the admin route answers")
            .json()
            .await
            .expect("admin JSON");
        state["integrations"]
            .as_array()
            .and_then(|all| all.iter().find(|i| i["identifier"] == IDENTIFIER))
            .map(|i| i["resyncState"].clone())
            .expect("the integration registered")
    }

    fn client(&self) -> PortClient {
        self.port_client(IDENTIFIER).expect("client")
    }
}

/// Blueprint and entity count the default mapping should give.
fn expected(dataset: &Dataset) -> Vec<(&'static str, usize)> {
    let per_kind = common::expected_per_kind(dataset);
    per_kind
        .into_iter()
        .filter(|(_, bp, _)| !bp.is_empty())
        .map(|(_, bp, count)| (bp, count))
        .collect()
}

fn assert_counts(world: &World) {
    for (blueprint, count) in expected(&world.codecov_sim.dataset()) {
        assert_eq!(world.count(blueprint), count, "{blueprint}");
    }
}

#[tokio::test]
async fn the_first_resync_creates_everything_and_the_second_writes_nothing() {
    let world = world(2, 15).await;
    let first = world.resync().await;
    assert!(first.success, "{}", first.stderr);
    assert_counts(&world);
    let integration = world.port_sim.integration(IDENTIFIER).expect("registered");
    assert_eq!(integration["resyncState"]["status"], "completed");
    assert!(
        integration["config"]["resources"].is_array(),
        "the default mapping was installed"
    );

    world.port_sim.log().clear();
    let second = world.resync().await;
    assert!(second.success, "{}", second.stderr);
    assert_eq!(
        world.bulk_upserts(),
        0,
        "an unchanged resync makes no upsert request"
    );
    assert_counts(&world);
}

#[tokio::test]
async fn a_repository_removed_in_codecov_is_deleted_from_port() {
    let world = world(1, 20).await;
    assert!(world.resync().await.success);
    settle().await;
    let gone = {
        let dataset = world.codecov_sim.dataset();
        let repo = dataset.owners[0]
            .repos
            .iter()
            .find(|r| r.active && !r.commits.is_empty())
            .expect("a repo");
        repo.name.clone()
    };
    world
        .codecov_sim
        .edit(|d| d.owners[0].repos.retain(|r| r.name != gone));

    let run = world.resync().await;
    assert!(run.success, "{}", run.stderr);
    assert!(
        !world
            .identifiers("codecov_repository")
            .contains(&format!("github/owner-1/{gone}"))
    );
    assert!(
        !world
            .identifiers("codecov_coverage")
            .contains(&format!("github/owner-1/{gone}"))
    );
    assert!(
        world
            .identifiers("codecov_commit")
            .iter()
            .all(|id| !id.contains(&format!("/{gone}@")))
    );
    assert_counts(&world);
}

#[tokio::test]
async fn a_codecov_failure_on_one_owner_deletes_nothing() {
    let world = world(2, 10).await;
    assert!(world.resync().await.success);
    let before: Vec<usize> = expected(&world.codecov_sim.dataset())
        .iter()
        .map(|(bp, _)| world.count(bp))
        .collect();
    world.codecov_sim.edit(|d| d.owners[0].repos.truncate(3));
    world.codecov_sim.break_owner("owner-2", Some(500));

    let run = world.resync().await;
    assert!(!run.success, "a failed kind fails the resync");
    assert!(run.stderr.contains("deletion skipped"), "{}", run.stderr);
    assert!(run.stderr.contains("owner owner-2"), "{}", run.stderr);
    let after: Vec<usize> = expected(&world.codecov_sim.dataset())
        .iter()
        .map(|(bp, _)| world.count(bp))
        .collect();
    assert_eq!(before, after, "nothing was deleted");
    // Port's resync state says what was held back and why, not only the log.
    let state = world.resync_state().await;
    assert_eq!(state["status"], "failed");
    let held = &state["heldBack"];
    let incomplete = held["incompleteKinds"].as_array().expect("incomplete kinds");
    assert!(
        incomplete
            .iter()
            .any(|k| k["reasons"].to_string().contains("owner owner-2")),
        "{held}"
    );
    assert!(
        held["deletionSkipped"]
            .as_str()
            .is_some_and(|r| r.contains("did not come through whole")),
        "{held}"
    );
}

/// A private repository the token's user is not activated on: Port's resync
/// state names its held-back entity with the reason and the parts of other
/// kinds it could not read; the next clean resync clears it.
#[tokio::test]
async fn the_resync_state_in_port_says_what_was_held_back_and_why() {
    let world = world(1, 6).await;
    assert!(world.resync().await.success);
    assert_eq!(world.resync_state().await["heldBack"], Value::Null);
    let (owner, locked) = {
        let dataset = world.codecov_sim.dataset();
        let owner = &dataset.owners[0];
        let repo = owner
            .repos
            .iter()
            .find(|r| r.active && r.commits.iter().any(|c| c.state == "complete"))
            .expect("a repository with coverage");
        (owner.username.clone(), repo.name.clone())
    };
    world.codecov_sim.edit(|d| {
        if let Some(repo) = d.repo_mut(&owner, &locked) {
            repo.private = true;
            repo.not_activated = true;
        }
    });

    let run = world.resync().await;
    assert!(!run.success, "{}", run.stderr);
    let state = world.resync_state().await;
    assert_eq!(state["status"], "failed", "{state}");
    assert!(
        state["lastResyncStart"].is_string(),
        "kept from the start: {state}"
    );
    let held = &state["heldBack"];
    let locked_id = format!("github/{owner}/{locked}");
    assert!(held["entities"].as_u64().is_some_and(|n| n >= 1), "{held}");
    let sample = &held["samples"][0];
    assert_eq!(sample["kind"], "coverage", "{held}");
    assert_eq!(sample["identifier"], locked_id.as_str(), "{held}");
    assert!(
        sample["reason"]
            .as_str()
            .is_some_and(|r| r.contains("not activated")),
        "{held}"
    );
    // Its commits, pulls and flags could not be read: held as parts, named by their repository.
    let parts = held["partSamples"].as_array().expect("part samples");
    assert!(
        parts.iter().any(|p| p
            .as_str()
            .is_some_and(|p| p.starts_with("commit: ") && p.contains(&format!("repository {locked_id}")))),
        "{held}"
    );
    // Held back, the rest reconciled: every kind came through and the deletion ran.
    assert_eq!(held["incompleteKinds"], json!([]), "{held}");
    assert!(held.get("deletionSkipped").is_none(), "{held}");

    world.codecov_sim.edit(|d| {
        if let Some(repo) = d.repo_mut(&owner, &locked) {
            repo.not_activated = false;
        }
    });
    assert!(world.resync().await.success);
    let state = world.resync_state().await;
    assert_eq!(state["status"], "completed", "{state}");
    assert_eq!(
        state["heldBack"],
        Value::Null,
        "a clean resync clears it: {state}"
    );
}

#[tokio::test]
async fn an_empty_codecov_answer_deletes_nothing_under_the_threshold() {
    let world = world(1, 12).await;
    assert!(world.resync().await.success);
    let owned = world.count("codecov_repository");
    assert!(owned > 0);
    world.codecov_sim.edit(|d| d.owners[0].repos.clear());
    settle().await;

    let run = world.resync().await;
    assert!(
        run.stderr.contains("above entityDeletionThreshold 90%"),
        "{}",
        run.stderr
    );
    assert_eq!(world.count("codecov_repository"), owned, "nothing was deleted");
}

#[tokio::test]
async fn an_entity_written_by_a_live_event_during_the_resync_is_kept() {
    let world = world(1, 12).await;
    assert!(world.resync().await.success);
    let client = world.client();
    let entity = |name: &str| -> Entity {
        serde_json::from_value(
            json!({"identifier": format!("github/owner-1/{name}"), "title": name,
            "blueprint": "codecov_repository", "properties": {"owner": "owner-1"}, "relations": {}}),
        )
        .expect("entity")
    };
    // Written before the resync and produced by nobody: stale, so deleted.
    client
        .upsert_entities(&[entity("old-live")], UpsertOptions::default())
        .await
        .expect("upsert");
    settle().await;

    world.codecov_sim.faults().set(ocean_sim::faults::FaultConfig {
        latency_ms: 20,
        ..Default::default()
    });
    world.port_sim.log().clear();
    let resync = tokio::spawn(world.command(&["resync", "--once"]).output());
    // Wait until the resync is writing, then send a "live event".
    while !world
        .port_sim
        .log()
        .snapshot()
        .iter()
        .any(|r| r.path.ends_with("/entities/search"))
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    client
        .upsert_entities(&[entity("during-resync")], UpsertOptions::default())
        .await
        .expect("upsert");
    let output = resync.await.expect("joined").expect("ran");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let ids = world.identifiers("codecov_repository");
    assert!(
        ids.contains(&"github/owner-1/during-resync".to_string()),
        "the live event's entity survives"
    );
    assert!(
        !ids.contains(&"github/owner-1/old-live".to_string()),
        "a stale entity goes"
    );
}

use ocean_testkit::harness::settle_port_clock as settle;

#[tokio::test]
async fn a_mapping_with_no_resources_fails_the_resync_and_deletes_nothing() {
    let world = world(1, 6).await;
    assert!(world.resync().await.success);
    let before = world.count("codecov_repository");
    settle().await;
    let mut config: Value = world.port_sim.integration(IDENTIFIER).expect("registered")["config"].clone();
    config["resources"] = json!([]);
    world
        .client()
        .patch_integration_config(&config)
        .await
        .expect("empty the mapping in Port");
    let run = world.resync().await;
    assert!(!run.success, "{}", run.stderr);
    assert!(
        run.stderr.contains("the mapping has no resources"),
        "{}",
        run.stderr
    );
    assert_eq!(world.count("codecov_repository"), before, "nothing was deleted");
    let state = world.resync_state().await;
    assert_eq!(state["status"], "failed");
    assert!(
        state["heldBack"]["failure"]
            .as_str()
            .is_some_and(|f| f.contains("the mapping has no resources")),
        "{state}"
    );
}

#[tokio::test]
async fn a_mapping_edited_in_port_is_used_by_the_next_resync() {
    let world = world(1, 8).await;
    assert!(world.resync().await.success);
    let integration = world.port_sim.integration(IDENTIFIER).expect("registered");
    let mut config: Value = integration["config"].clone();
    let resources = config["resources"].as_array_mut().expect("resources");
    let repository = resources
        .iter_mut()
        .find(|r| r["kind"] == "repository")
        .expect("repository kind");
    repository["port"]["entity"]["mappings"]["title"] = json!("\"Repo \" + .name");
    world
        .client()
        .patch_integration_config(&config)
        .await
        .expect("edit the mapping in Port");

    assert!(world.resync().await.success);
    let titles: Vec<Value> = world
        .port_sim
        .entities("codecov_repository")
        .iter()
        .map(|e| e["title"].clone())
        .collect();
    assert!(
        titles
            .iter()
            .all(|t| t.as_str().is_some_and(|t| t.starts_with("Repo repo-"))),
        "{titles:?}"
    );

    // A fresh process with an invalid mapping in Port fails, naming the field at fault.
    let mut broken = config.clone();
    broken["resources"][0]["port"]["entity"]["mappings"]["identifier"] = json!(".repo.name |||");
    world
        .client()
        .patch_integration_config(&broken)
        .await
        .expect("edit");
    let run = world.resync().await;
    assert!(!run.success);
    assert!(
        run.stderr
            .contains("resources[0].port.entity.mappings.identifier"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn a_running_integration_keeps_its_last_valid_mapping() {
    let world = world(1, 3).await;
    let host = world.env(IDENTIFIER).fast_retries(5, 3).host().expect("settings");
    host.set_up().await.expect("registered");
    let valid = host
        .refresh_mapping(false)
        .await
        .expect("the default mapping is valid");

    let mut broken = world.port_sim.integration(IDENTIFIER).expect("registered")["config"].clone();
    broken["resources"][1]["port"]["entity"]["mappings"]["title"] = json!("{");
    world
        .client()
        .patch_integration_config(&broken)
        .await
        .expect("edit");
    let kept = host
        .refresh_mapping(false)
        .await
        .expect("the last valid mapping is kept");
    assert_eq!(kept.resources, valid.resources);
}

#[tokio::test]
async fn a_dry_run_prints_the_plan_and_writes_nothing() {
    let world = world(1, 6).await;
    let run = world.run(&["resync", "--dry-run"]).await;
    assert!(run.success, "{}", run.stderr);
    let repos = expected(&world.codecov_sim.dataset())[0].1;
    assert!(
        run.stdout
            .contains(&format!("codecov_repository: create {repos}, update 0, delete 0")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("  create github/owner-1/repo-"),
        "{}",
        run.stdout
    );
    let writes = world
        .port_sim
        .log()
        .snapshot()
        .iter()
        .filter(|r| r.method != "GET" && !r.path.ends_with("/search") && !r.path.ends_with("/access_token"))
        .count();
    assert_eq!(writes, 0, "a dry run writes nothing");
    assert!(world.port_sim.integration(IDENTIFIER).is_none());
}

#[tokio::test]
async fn bad_settings_fail_at_start_naming_the_variable() {
    let world = world(1, 1).await;
    let output = world
        .command(&["resync", "--once"])
        .env_remove("OCEAN__PORT__CLIENT_ID")
        .env("OCEAN__INTEGRATION__CONFIG__CODECOV_SERVICE", "svn")
        .output()
        .await
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("OCEAN__PORT__CLIENT_ID: is required"), "{stderr}");
}

#[tokio::test]
async fn the_polling_listener_resyncs_at_start_and_when_ports_ui_asks() {
    let world = world(1, 4).await;
    let mut child = world
        .command(&["sail"])
        .env("OCEAN__EVENT_LISTENER__TYPE", "POLLING")
        .env("OCEAN__EVENT_LISTENER__INTERVAL", "1")
        .kill_on_drop(true)
        .spawn()
        .expect("sail starts");
    let state_reports = || {
        let log = world.port_sim.log().snapshot();
        log.iter().filter(|r| r.path.ends_with("/resync-state")).count()
    };
    let wait_for = |reports: usize| async move {
        for _ in 0..400 {
            if state_reports() >= reports {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        false
    };
    assert!(
        wait_for(2).await,
        "a resync ran at start (running, then completed)"
    );
    assert_counts(&world);

    world.port_sim.request_resync(IDENTIFIER);
    assert!(
        wait_for(4).await,
        "the UI's resync request started another resync"
    );
    let _ = child.kill().await;
}

#[tokio::test]
async fn an_enable_delete_false_resource_keeps_its_stale_entities_and_says_so() {
    let world = world(1, 6).await;
    assert!(world.resync().await.success);
    let mut config: Value = world.port_sim.integration(IDENTIFIER).expect("registered")["config"].clone();
    let resources = config["resources"].as_array_mut().expect("resources");
    let repository = resources
        .iter_mut()
        .find(|r| r["kind"] == "repository")
        .expect("repository kind");
    repository["enableDelete"] = json!(false);
    let client = world.client();
    client
        .patch_integration_config(&config)
        .await
        .expect("turn deletion off for repositories in Port");
    // One stale entity of each: a repository (deletion off) and a coverage (deletion on).
    let stale = |blueprint: &str, id: &str| -> Entity {
        serde_json::from_value(json!({"identifier": id, "title": id, "blueprint": blueprint,
            "properties": {}, "relations": {}}))
        .expect("entity")
    };
    for (blueprint, id) in [
        ("codecov_repository", "github/owner-1/gone-repo"),
        ("codecov_coverage", "github/owner-1/gone-coverage"),
    ] {
        client
            .upsert_entities(&[stale(blueprint, id)], UpsertOptions::default())
            .await
            .expect("upsert");
    }
    settle().await;

    let run = world.resync().await;
    assert!(run.success, "{}", run.stderr);
    assert!(
        world
            .identifiers("codecov_repository")
            .contains(&"github/owner-1/gone-repo".to_string()),
        "the stale repository stays: its resource has enableDelete: false"
    );
    assert!(
        !world
            .identifiers("codecov_coverage")
            .contains(&"github/owner-1/gone-coverage".to_string()),
        "the stale coverage goes"
    );
    assert!(
        run.stderr
            .contains("kept 1 stale entities whose resource has enableDelete: false"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("1 stale entities kept: this resource has enableDelete: false"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("deleted 1 stale of"), "{}", run.stderr);
}

/// Ocean 0.56.2 names the event on every entity write and delete
/// (`clients/port/utils.py`, `get_event_context_params`): a resync's carry
/// `ocean_info_event_type=resync` and `ocean_info_resync_id=<its event id>`,
/// the id its sync metrics carry as `eventId`.
#[tokio::test]
async fn every_write_and_delete_of_a_resync_names_that_resync() {
    let world = world(1, 12).await;
    assert!(world.resync().await.success);
    let first_run = world.port_sim.entity_writes().len();
    settle().await;
    world.codecov_sim.edit(|d| {
        let gone = d.owners[0]
            .repos
            .iter()
            .position(|r| r.active)
            .expect("an active repo");
        d.owners[0].repos.remove(gone);
    });
    let run = world.resync().await;
    assert!(run.success, "{}", run.stderr);

    let writes = world.port_sim.entity_writes();
    assert!(
        writes.iter().any(|w| w.operation == "bulk_delete"),
        "the second resync deleted what Codecov no longer has: {writes:?}"
    );
    let (first, second) = writes.split_at(first_run);
    let mut ids = Vec::new();
    for run in [first, second] {
        assert!(!run.is_empty());
        for write in run {
            assert_eq!(write.event_type.as_deref(), Some("resync"), "{write:?}");
        }
        let id = run[0].resync_id.clone().expect("a resync id");
        assert!(
            run.iter().all(|w| w.resync_id.as_deref() == Some(id.as_str())),
            "one id per resync: {run:?}"
        );
        ids.push(id);
    }
    assert_ne!(ids[0], ids[1], "each resync has its own id");
    let metric_ids: std::collections::BTreeSet<String> = world
        .port_sim
        .feed()
        .sync_metrics
        .values()
        .flat_map(|records| records.keys().map(|(event, _)| event.clone()))
        .collect();
    assert_eq!(
        metric_ids,
        ids.iter().cloned().collect(),
        "the id is the one the resync's sync metrics carry"
    );
}

/// Ocean 0.56.2 logs inside an event with the event's fields in `extra`
/// (`context/event.py`: `event_kind`, `event_id`, `event_trigger_type`,
/// `event_parent_id`, `event_resource_kind`), and its HTTP handler sends
/// `extra` to Port as it is (`log/handlers.py`): so do the lines shipped here.
#[tokio::test]
async fn the_lines_a_resync_ships_to_port_name_its_event() {
    let world = world(1, 6).await;
    let run = world.run_logging(&["resync", "--once"], "info").await;
    assert!(run.success, "{}", run.stderr);
    let resync_ids: Vec<String> = world
        .port_sim
        .feed()
        .sync_metrics
        .values()
        .flat_map(|records| records.keys().map(|(event, _)| event.clone()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(resync_ids.len(), 1, "{resync_ids:?}");
    let lines: Vec<Value> = world.port_sim.feed().logs.values().flatten().cloned().collect();
    let registering = lines
        .iter()
        .find(|l| l["message"] == "registering the integration in Port")
        .expect("the registration's line was shipped");
    assert!(
        registering["extra"].get("event_id").is_none(),
        "outside any event: {registering}"
    );
    let in_resync: Vec<&Value> = lines
        .iter()
        .filter(|l| l["extra"]["event_kind"] == "resync")
        .collect();
    assert!(
        in_resync.iter().any(|l| l["message"] == "fetching"),
        "the resync's own lines carry its event: {lines:#?}"
    );
    for line in &in_resync {
        let extra = &line["extra"];
        assert_eq!(extra["event_id"], json!(resync_ids[0]), "{line}");
        assert_eq!(extra["event_trigger_type"], "machine", "{line}");
        assert!(
            extra["hostname"].is_string() && extra["instance"].is_string(),
            "{line}"
        );
    }
    for line in &lines {
        assert!(
            line["extra"].get("event_id").is_none() || line["extra"]["event_kind"] == "resync",
            "{line}"
        );
    }
}

/// A record the Python integration left (a KAFKA destination, Ocean's `dsp`
/// default, actions on, an older version) is corrected at start to what
/// Ocean 0.56.2 sends (`core/defaults/initialization/initialize.py`,
/// `_verify_integration_configuration`), its mapping left alone.
#[tokio::test]
async fn a_record_migrated_from_the_python_integration_is_brought_in_line() {
    let world = world(1, 3).await;
    let mapping = json!({"deleteDependentEntities": true, "resources": []});
    let drifted = json!({
        "installationAppType": "codecov",
        "version": "0.1.9-python",
        "changelogDestination": {"type": "KAFKA"},
        "actionsProcessingEnabled": true,
        "incrementalSyncEnabled": true,
        "processingMode": "dsp",
        "createPortResourcesOrigin": "Default",
    });
    world
        .client()
        .create_integration_with(&mapping, drifted.as_object().expect("fields"))
        .await
        .expect("the Python integration's record");
    // No resources: the resync refuses, but the start's set-up has run.
    let _ = world.resync().await;
    let record = world.port_sim.integration(IDENTIFIER).expect("registered");
    let expected = json!({
        "installationAppType": "codecov",
        "version": env!("CARGO_PKG_VERSION"),
        "changelogDestination": {},
        "actionsProcessingEnabled": false,
        "incrementalSyncEnabled": false,
        "processingMode": "ocean-core",
    });
    for (field, value) in expected.as_object().expect("fields") {
        assert_eq!(&record[field], value, "{field} in {record}");
    }
    assert_eq!(record["config"], mapping, "the mapping is the user's: left alone");

    // In line: the next start patches nothing.
    let patches = world.port_requests("PATCH", &format!("/integration/{IDENTIFIER}"));
    let _ = world.resync().await;
    assert_eq!(
        world.port_requests("PATCH", &format!("/integration/{IDENTIFIER}")),
        patches
    );
}

/// A first start registers the integration with Ocean 0.56.2's create body
/// (`clients/port/mixins/integrations.py`, `create_integration`) and the
/// fields its check then patches.
#[tokio::test]
async fn a_first_start_registers_the_fields_ocean_sends() {
    let world = world(1, 3).await;
    assert!(world.resync().await.success);
    let record = world.port_sim.integration(IDENTIFIER).expect("registered");
    for (field, value) in [
        ("changelogDestination", json!({})),
        ("actionsProcessingEnabled", json!(false)),
        ("incrementalSyncEnabled", json!(false)),
        ("processingMode", json!("ocean-core")),
        ("createPortResourcesOrigin", json!("Default")),
    ] {
        assert_eq!(record[field], value, "{field} in {record}");
    }
}

/// Ocean 0.56.2 creates the default blueprints only while none of them exists
/// and the record is not marked `arePortResourcesInitialized`
/// (`core/defaults/initialization/base_setup.py`, `default_origin_setup.py`):
/// one a user deleted is not brought back, and the log says why.
#[tokio::test]
async fn a_default_blueprint_a_user_deleted_is_not_recreated() {
    let world = world(1, 3).await;
    let run_info = || world.run_logging(&["resync", "--once"], "info");
    let first = run_info().await;
    assert!(first.success, "{}", first.stderr);
    assert!(
        first.stderr.contains("created default blueprints"),
        "{}",
        first.stderr
    );
    let record = world.port_sim.integration(IDENTIFIER).expect("registered");
    assert_eq!(record["arePortResourcesInitialized"], true, "{record}");

    world.port_sim.remove_blueprint("codecov_commit");
    let second = run_info().await;
    assert!(
        second
            .stderr
            .contains("Port resources are already initialized (arePortResourcesInitialized)"),
        "{}",
        second.stderr
    );
    assert!(
        world
            .client()
            .get_blueprint("codecov_commit")
            .await
            .expect("get")
            .is_none()
    );

    // A record that was never marked (e.g. written by an older version): the
    // other defaults exist, so none is created, and the log names them.
    world
        .client()
        .patch_integration(&json!({"arePortResourcesInitialized": false}))
        .await
        .expect("patched");
    let third = run_info().await;
    assert!(
        third
            .stderr
            .contains("default blueprints already exist: skipping the creation of all of them"),
        "{}",
        third.stderr
    );
    assert!(third.stderr.contains("codecov_repository"), "{}", third.stderr);
    // The one the user deleted is named as missing, with what to do.
    let warning = third
        .stderr
        .lines()
        .find(|l| l.contains("some default blueprints do not exist and will not be created"))
        .unwrap_or_else(|| panic!("no warning naming the missing blueprints:\n{}", third.stderr));
    assert!(warning.contains("codecov_commit"), "{warning}");
    assert!(
        world
            .client()
            .get_blueprint("codecov_commit")
            .await
            .expect("get")
            .is_none()
    );
    let record = world.port_sim.integration(IDENTIFIER).expect("registered");
    assert_eq!(record["arePortResourcesInitialized"], true, "{record}");
}
