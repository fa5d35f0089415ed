//! `probe` run as a process against both simulators: every check passes on a
//! healthy world; a refused Port secret, a Codecov token that gets 401,
//! repositories that answer 403, an unwritable journal and a missing webhook
//! secret each give their FAIL line and exit 1; reports reach Port (and a
//! file) as Ocean 0.56.2's probe sends them. No secret is printed.

use ocean_sim::codecov::CodecovSimConfig;
use ocean_sim::port::{ORGANIZATION_ID, PortSimConfig};
use ocean_testkit::harness::{IntegrationEnv, TestWorld};
use serde_json::{Value, json};

const WEBHOOK_SECRET: &str = "probe-webhook-CANARY-9d1e";

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The line for `what` with `verdict`, which must be there.
    fn line(&self, verdict: &str, what: &str) -> &str {
        self.stdout
            .lines()
            .find(|l| l.starts_with(&format!("{verdict:<5} {what}")))
            .unwrap_or_else(|| panic!("no {verdict} line for {what}:\n{}\n{}", self.stdout, self.stderr))
    }

    fn check_lines(&self) -> Vec<&str> {
        self.stdout.lines().filter(|l| !l.starts_with("Probe ")).collect()
    }

    fn assert_no_secret(&self, secrets: &[&str]) {
        for secret in secrets {
            assert!(
                !self.stdout.contains(secret) && !self.stderr.contains(secret),
                "{secret} printed:\n{}\n{}",
                self.stdout,
                self.stderr
            );
        }
    }
}

async fn world(capture: bool) -> TestWorld {
    let port = PortSimConfig {
        capture_bodies: capture,
        ..PortSimConfig::default()
    };
    TestWorld::start(port, CodecovSimConfig::generated(2, 6, 11), "probe-e2e")
        .await
        .expect("simulators")
}

/// The installation's settings with a webhook secret and quick retries.
fn env_of(world: &TestWorld) -> IntegrationEnv {
    world
        .installation_env()
        .field("webhookSecret", WEBHOOK_SECRET)
        .fast_retries(5, 2)
}

async fn registered(world: &TestWorld) {
    world
        .installation_client()
        .expect("client")
        .create_integration(&json!({"resources": []}))
        .await
        .expect("registered");
}

async fn probe(env: &IntegrationEnv, args: &[&str]) -> Run {
    let mut all = vec!["probe"];
    all.extend_from_slice(args);
    let output = env
        .command(env!("CARGO_BIN_EXE_ocean-codecov"), &all, "info")
        .output()
        .await
        .expect("the binary runs");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The probe reports Port received, in order.
fn probe_reports(world: &TestWorld, probe_id: &str) -> Vec<Value> {
    let route = format!("/v1/org/{ORGANIZATION_ID}/integration/probe/{probe_id}");
    world
        .port_sim
        .log()
        .snapshot()
        .iter()
        .filter(|r| r.method == "PATCH" && r.path == route)
        .inspect(|r| assert_eq!(r.status, 200, "{r:?}"))
        .filter_map(|r| r.request_body.clone())
        .collect()
}

#[tokio::test]
async fn every_check_passes_on_a_healthy_world() {
    let world = world(false).await;
    registered(&world).await;
    let run = probe(&env_of(&world), &[]).await;
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let lines = run.check_lines();
    assert!(lines.iter().all(|l| l.starts_with("ok ")), "{}", run.stdout);
    run.line("ok", "Port credentials");
    assert!(
        run.line("ok", "Port integration record")
            .contains("probe-e2e exists")
    );
    for owner in ["owner-1", "owner-2"] {
        let lines: Vec<&&str> = lines
            .iter()
            .filter(|l| l.starts_with(&format!("ok    Codecov owner {owner}:")))
            .collect();
        assert_eq!(lines.len(), 2, "{}", run.stdout);
        assert!(lines[0].contains("lists 6 repositories"), "{}", lines[0]);
        assert!(
            lines[1].contains("6 of 6 repositories read") && lines[1].contains("checked all 6"),
            "{}",
            lines[1]
        );
    }
    run.line("ok", "webhook secret");
    assert!(run.line("ok", "live-event journal").contains("writable"));
    assert!(run.stdout.contains("Probe complete"), "{}", run.stdout);
    run.assert_no_secret(&[WEBHOOK_SECRET, ocean_testkit::harness::PORT_CLIENT_SECRET]);
}

#[tokio::test]
async fn a_refused_port_secret_fails_with_the_variables_to_set() {
    let world = world(false).await;
    let secret = "wrong-port-secret-CANARY-41";
    let env = env_of(&world).var("OCEAN__PORT__CLIENT_SECRET", secret);
    let run = probe(&env, &[]).await;
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    let line = run.line("FAIL", "Port credentials");
    assert!(
        line.contains("401")
            && line.contains("fix: set OCEAN__PORT__CLIENT_ID and OCEAN__PORT__CLIENT_SECRET"),
        "{line}"
    );
    assert!(
        run.line("warn", "Port integration record")
            .contains("not checked")
    );
    // Codecov is checked all the same.
    run.line("ok", "Codecov owner owner-1");
    run.assert_no_secret(&[secret, WEBHOOK_SECRET]);
}

#[tokio::test]
async fn a_codecov_token_that_gets_401_fails_for_every_owner() {
    let world = world(false).await;
    registered(&world).await;
    let token = "7b0c2a61-0000-4c4c-9a9a-CANARY0401ab";
    let env = env_of(&world).field("codecovToken", token);
    let run = probe(&env, &[]).await;
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    for owner in ["owner-1", "owner-2"] {
        let line = run.line("FAIL", &format!("Codecov owner {owner}"));
        assert!(
            line.contains("Invalid token.")
                && line.contains("fix: set OCEAN__INTEGRATION__CONFIG__CODECOV_TOKEN"),
            "{line}"
        );
    }
    run.line("ok", "Port credentials");
    run.assert_no_secret(&[token, WEBHOOK_SECRET]);
}

#[tokio::test]
async fn repositories_that_answer_403_fail_their_owner_and_reach_port_as_failed_checks() {
    let world = world(true).await;
    registered(&world).await;
    world.codecov_sim.edit(|dataset| {
        for name in ["repo-000002", "repo-000005"] {
            let repo = dataset.repo_mut("owner-1", name).expect("repo");
            repo.private = true;
            repo.not_activated = true;
        }
    });
    let run = probe(
        &env_of(&world),
        &["--reporting-mode", "port", "--probe-id", "p-403"],
    )
    .await;
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.line("ok", "Codecov owner owner-1")
            .contains("lists 6 repositories")
    );
    let line = run.line("FAIL", "Codecov owner owner-1");
    assert!(
        line.contains("2 of 6 repositories answer 403")
            && line.contains("repo-000005, repo-000002")
            && line.contains("fix: activate the token's user on owner-1's Codecov plan"),
        "{line}"
    );
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with("ok    Codecov owner owner-2:") && l.contains("none answer 403")),
        "{}",
        run.stdout
    );

    let reports = probe_reports(&world, "p-403");
    assert_eq!(reports.len(), 2, "{reports:?}");
    assert_eq!(reports[0]["status"], "IN_PROGRESS");
    assert_eq!(reports[0]["checks"], json!([]));
    let last = &reports[1];
    assert_eq!(last["status"], "COMPLETED", "{last}");
    assert_eq!(last["probeMode"], "shallow");
    assert!(last.get("probeId").is_none() && last["endedAt"].is_string());
    let checks = last["checks"].as_array().expect("checks");
    // Six kinds for each of two owners.
    assert_eq!(checks.len(), 12, "{last}");
    let status = |kind: &str, owner: &str| {
        checks
            .iter()
            .find(|c| c["kind"] == kind && c["scopes"] == json!({"owner": owner}))
            .map(|c| c["status"].clone())
    };
    assert_eq!(status("repository", "owner-1"), Some(json!("SUCCESS")));
    assert_eq!(status("coverage", "owner-1"), Some(json!("FAILURE")));
    assert_eq!(status("commit", "owner-2"), Some(json!("SUCCESS")));
}

#[tokio::test]
async fn an_unwritable_journal_fails_and_port_hears_the_probe_failed() {
    let world = world(true).await;
    registered(&world).await;
    let root = std::env::temp_dir().join(format!("probe-journal-{}", std::process::id()));
    std::fs::create_dir_all(&root).expect("root");
    let in_the_way = root.join("a-file");
    std::fs::write(&in_the_way, b"x").expect("file");
    let journal = in_the_way.join("journal");
    let env = env_of(&world).var("OCEAN__JOURNAL__PATH", journal.display().to_string());
    let run = probe(&env, &["--reporting-mode", "port", "--probe-id", "p-journal"]).await;
    let _ = std::fs::remove_dir_all(&root);
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    let line = run.line("FAIL", "live-event journal");
    assert!(
        line.contains("not writable") && line.contains("fix: set OCEAN__JOURNAL__PATH"),
        "{line}"
    );
    let reports = probe_reports(&world, "p-journal");
    let last = reports.last().expect("a report");
    assert_eq!(last["status"], "FAILED", "{last}");
    assert!(
        last["message"]
            .as_str()
            .is_some_and(|m| m.contains("live-event journal")),
        "{last}"
    );
}

#[tokio::test]
async fn a_missing_webhook_secret_fails_unless_the_listener_is_once() {
    let world = world(false).await;
    registered(&world).await;
    let env = env_of(&world).without("OCEAN__INTEGRATION__CONFIG__WEBHOOK_SECRET");
    let run = probe(&env, &[]).await;
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    let line = run.line("FAIL", "webhook secret");
    assert!(
        line.contains("Polling listener")
            && line.contains("fix: set OCEAN__INTEGRATION__CONFIG__WEBHOOK_SECRET"),
        "{line}"
    );
    let once = probe(&env.var("OCEAN__EVENT_LISTENER__TYPE", "ONCE"), &[]).await;
    assert_eq!(once.code, Some(0), "{}\n{}", once.stdout, once.stderr);
    assert!(once.line("ok", "webhook secret").contains("not needed"));
}

#[tokio::test]
async fn a_file_report_and_a_missing_record_say_what_sail_would_do() {
    let world = world(false).await;
    let dir = std::env::temp_dir().join(format!("probe-file-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.display().to_string();
    let run = probe(
        &env_of(&world),
        &[
            &path,
            "--reporting-mode",
            "file",
            "--kinds",
            "coverage, repository",
        ],
    )
    .await;
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let line = run.line("warn", "Port integration record");
    assert!(line.contains("`sail` would register it"), "{line}");
    assert_eq!(
        world.port_requests("POST", "/v1/integration"),
        0,
        "the probe registers nothing"
    );
    let files: Vec<_> = std::fs::read_dir(dir.join("probe_reports"))
        .expect("probe_reports/")
        .filter_map(Result::ok)
        .collect();
    assert_eq!(files.len(), 1);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(files[0].path()).expect("report")).expect("JSON");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(report["status"], "COMPLETED");
    assert_eq!(report["probeId"], Value::Null);
    let kinds: std::collections::BTreeSet<&str> = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter_map(|c| c["kind"].as_str())
        .collect();
    assert_eq!(kinds.into_iter().collect::<Vec<_>>(), ["coverage", "repository"]);
}

#[tokio::test]
async fn port_reporting_needs_a_probe_id_and_kinds_must_exist() {
    let world = world(false).await;
    let env = env_of(&world);
    let run = probe(&env, &["--reporting-mode", "port"]).await;
    assert_eq!(run.code, Some(78), "{}", run.stderr);
    assert!(
        run.stderr.contains("--probe-id (OCEAN__PROBE_ID) is required"),
        "{}",
        run.stderr
    );
    let run = probe(&env, &["--kinds", "repository,tag"]).await;
    assert_eq!(run.code, Some(78), "{}", run.stderr);
    assert!(
        run.stderr.contains("Invalid probe kinds: [\"tag\"]"),
        "{}",
        run.stderr
    );
}
