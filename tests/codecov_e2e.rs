//! The real binary (`resync --once`) against the Port simulator and a Codecov
//! simulator that behaves as Codecov's own sources say: owners sharing
//! repository names, megabyte commit details, reports not there yet, flags
//! marked deleted, totals from a commit at least an hour old.

use ocean_sim::codecov::data::Dataset;
use ocean_sim::codecov::{CodecovSimConfig, DEFAULT_TOKEN};
use ocean_sim::port::PortSimConfig;
use ocean_testkit::harness::{self, Finished, TestWorld};
use serde_json::Value;

/// Both simulators (reached through `World` as `world.port_sim` and so on) and
/// the installation; runs settle Port's clock (`TestWorld::run`).
struct World(TestWorld);

impl std::ops::Deref for World {
    type Target = TestWorld;

    fn deref(&self) -> &TestWorld {
        &self.0
    }
}

async fn world_with(config: CodecovSimConfig) -> World {
    World(
        TestWorld::start(PortSimConfig::default(), config, "codecov-e2e")
            .await
            .expect("simulators"),
    )
}

impl World {
    async fn run(&self, args: &[&str], extra_env: &[(&str, &str)]) -> Finished {
        let mut env = self
            .installation_env()
            .var("OCEAN__INTEGRATION__TYPE", "codecov")
            .field("codecovAppUrl", "https://app.codecov.io")
            .fast_retries(5, 3);
        for (name, value) in extra_env {
            env = env.var(*name, *value);
        }
        self.0
            .run(env!("CARGO_BIN_EXE_ocean-codecov"), &env, args, "warn")
            .await
            .expect("the binary runs")
    }

    async fn resync(&self) -> Finished {
        self.run(&["resync", "--once"], &[]).await
    }

    fn entities(&self, blueprint: &str) -> Vec<Value> {
        self.port_sim.entities(blueprint)
    }

    fn entity(&self, blueprint: &str, identifier: &str) -> Option<Value> {
        self.entities(blueprint)
            .into_iter()
            .find(|e| e["identifier"] == identifier)
    }

    fn identifiers(&self, blueprint: &str) -> Vec<String> {
        harness::identifiers(&self.port_sim, blueprint)
    }
}

fn repos_with_coverage(dataset: &Dataset) -> Vec<(String, String)> {
    dataset
        .owners
        .iter()
        .flat_map(|o| {
            o.repos
                .iter()
                .filter(|r| r.active && r.commits.iter().any(|c| c.state == "complete"))
                .map(move |r| (o.username.clone(), r.name.clone()))
        })
        .collect()
}

/// Point 1: owners share repository names, as real organisations do; every
/// kind of the default mapping keeps them apart, and identifiers stay put.
#[tokio::test]
async fn two_owners_repositories_of_one_name_keep_their_own_entities() {
    let world = world_with(CodecovSimConfig::generated(2, 8, 31)).await;
    let first = world.resync().await;
    assert!(first.success, "{}", first.stderr);
    let expected: Vec<String> = {
        let dataset = world.codecov_sim.dataset();
        let mut ids: Vec<String> = repos_with_coverage(&dataset)
            .into_iter()
            .map(|(owner, name)| format!("github/{owner}/{name}"))
            .collect();
        ids.sort();
        ids
    };
    assert!(
        expected.iter().any(|id| id.contains("owner-1/"))
            && expected
                .iter()
                .filter_map(|id| id.strip_prefix("github/owner-1/"))
                .any(|name| expected.contains(&format!("github/owner-2/{name}"))),
        "the data has a name under both owners: {expected:?}"
    );
    assert_eq!(world.identifiers("codecov_coverage"), expected);
    for blueprint in [
        "codecov_repository",
        "codecov_commit",
        "codecov_pull",
        "codecov_flag",
    ] {
        let ids = world.identifiers(blueprint);
        assert!(
            ids.iter().any(|id| id.contains("owner-1/")) && ids.iter().any(|id| id.contains("owner-2/")),
            "{blueprint}: {ids:?}"
        );
    }
    let before: Vec<Vec<String>> = ["codecov_coverage", "codecov_repository", "codecov_flag"]
        .iter()
        .map(|bp| world.identifiers(bp))
        .collect();
    let second = world.resync().await;
    assert!(second.success, "{}", second.stderr);
    let after: Vec<Vec<String>> = ["codecov_coverage", "codecov_repository", "codecov_flag"]
        .iter()
        .map(|bp| world.identifiers(bp))
        .collect();
    assert_eq!(before, after, "identifiers are stable per repository");
}

/// Point 2: commit details of ~2 MB are never downloaded by a `coverage`
/// resync; it reads a few KiB per repository from the totals routes.
#[tokio::test]
async fn a_coverage_resync_never_downloads_commit_details() {
    let mut config = CodecovSimConfig::generated(1, 6, 41);
    config.dataset = config.dataset.with_report_lines(230_000);
    let world = world_with(config).await;
    let url = {
        let dataset = world.codecov_sim.dataset();
        let repo = dataset.owners[0]
            .repos
            .iter()
            .find(|r| r.active)
            .expect("an active repository");
        format!(
            "{}/api/v2/github/owner-1/repos/{}/commits/{}/",
            world.codecov.url(),
            repo.name,
            repo.commits[0].commitid
        )
    };
    let detail_bytes = reqwest::Client::new()
        .get(url)
        .bearer_auth(DEFAULT_TOKEN)
        .send()
        .await
        .expect("commit detail")
        .bytes()
        .await
        .expect("body")
        .len();
    assert!(
        detail_bytes > 1_500_000,
        "commit details weigh {detail_bytes} bytes"
    );
    world.codecov_sim.log().clear();

    let run = world.resync().await;
    assert!(run.success, "{}", run.stderr);
    let log = world.codecov_sim.log().snapshot();
    let details: Vec<&str> = log
        .iter()
        .filter(|r| {
            let parts: Vec<&str> = r.path.trim_end_matches('/').split('/').collect();
            parts.len() == 9 && parts[7] == "commits"
        })
        .map(|r| r.path.as_str())
        .collect();
    assert!(details.is_empty(), "commit details were read: {details:?}");
    let covered = world.identifiers("codecov_coverage").len();
    assert!(covered > 0);
    let read_under = |log: &[ocean_sim::request_log::LoggedRequest], routes: &[&str]| -> usize {
        log.iter()
            .filter(|r| routes.iter().any(|route| r.path.contains(route)))
            .map(|r| r.reply_bytes)
            .sum()
    };
    let coverage_bytes = read_under(&log, &["/totals", "/commits"]);
    assert!(
        coverage_bytes / covered < 64 * 1024,
        "{coverage_bytes} bytes for {covered} repositories"
    );

    // `totalsFrom: commit`: the head's totals from the commit list, which does
    // not grow with the files; the same entities but `report.messages`/`diff`.
    let from_report = world.entities("codecov_coverage");
    world
        .edit_mapping(|config| {
            for resource in config["resources"].as_array_mut().into_iter().flatten() {
                if resource["kind"] == "coverage" {
                    resource["selector"]["totalsFrom"] = "commit".into();
                }
            }
        })
        .await;
    world.codecov_sim.log().clear();
    let run = world.resync().await;
    assert!(run.success, "{}", run.stderr);
    let log = world.codecov_sim.log().snapshot();
    assert!(
        !log.iter().any(|r| r.path.contains("/totals")),
        "the totals route was read"
    );
    let coverage_bytes = read_under(&log, &["/commits"]);
    assert!(
        coverage_bytes / covered < 4 * 1024,
        "{coverage_bytes} bytes for {covered} repositories"
    );
    let from_list = world.entities("codecov_coverage");
    assert_eq!(from_list.len(), from_report.len());
    let without_report_extras = |entities: &[Value]| -> Vec<Value> {
        let mut out: Vec<Value> = entities
            .iter()
            .map(|e| {
                let mut properties = e["properties"].clone();
                if let Some(report) = properties["report"].as_object_mut() {
                    report.remove("messages");
                    report.remove("diff");
                }
                serde_json::json!([e["identifier"], properties])
            })
            .collect();
        out.sort_by(|a, b| a[0].as_str().cmp(&b[0].as_str()));
        out
    };
    assert_eq!(
        without_report_extras(&from_list),
        without_report_extras(&from_report)
    );
}

/// Point 2: a complete commit whose report Codecov does not hold (yet) means
/// "no coverage yet" for that repository: no failure, and the rest reconciles.
#[tokio::test]
async fn a_missing_report_is_no_coverage_yet_not_a_failure() {
    let world = world_with(CodecovSimConfig::generated(1, 8, 43)).await;
    let (owner, name) = repos_with_coverage(&world.codecov_sim.dataset())[0].clone();
    world.codecov_sim.edit(|d| {
        if let Some(repo) = d.repo_mut(&owner, &name) {
            for commit in &mut repo.commits {
                commit.totals = None;
            }
        }
    });
    let run = world.resync().await;
    assert!(run.success, "{}", run.stderr);
    assert!(!run.stderr.contains("deletion skipped"), "{}", run.stderr);
    let ids = world.identifiers("codecov_coverage");
    assert!(!ids.contains(&format!("github/{owner}/{name}")), "{ids:?}");
    assert_eq!(
        ids.len(),
        repos_with_coverage(&world.codecov_sim.dataset()).len() - 1
    );
}

/// Point 7: flags Codecov marked deleted are still listed by its API, and so
/// stay in the catalog with the coverage the API gives them (0); a flag the
/// API no longer lists goes; a repository whose head has no report lists its
/// flags with null coverage. Flag entities are exactly what the API lists.
#[tokio::test]
async fn flag_entities_are_what_the_api_lists_deleted_flags_included() {
    let world = world_with(CodecovSimConfig::generated(1, 16, 47)).await;
    let (owner, repo, unreported) = {
        let dataset = world.codecov_sim.dataset();
        let owner = &dataset.owners[0];
        // Flag coverage comes from the head of the default branch: complete here.
        let with_flags: Vec<&str> = owner
            .repos
            .iter()
            .filter(|r| r.active && r.flags.len() >= 2 && r.commits[0].totals.is_some())
            .map(|r| r.name.as_str())
            .collect();
        assert!(with_flags.len() >= 2, "{with_flags:?}");
        (
            owner.username.clone(),
            with_flags[0].to_string(),
            with_flags[1].to_string(),
        )
    };
    assert!(world.resync().await.success);
    let (deleted, removed) = {
        let dataset = world.codecov_sim.dataset();
        let flags = &dataset.owners[0].repo(&repo).expect("repository").flags;
        (flags[0].name.clone(), flags[1].name.clone())
    };
    let id = |repo: &str, flag: &str| format!("github/{owner}/{repo}/flags/{flag}");
    assert!(world.entity("codecov_flag", &id(&repo, &deleted)).is_some());
    assert!(world.entity("codecov_flag", &id(&repo, &removed)).is_some());
    world.codecov_sim.edit(|d| {
        if let Some(r) = d.repo_mut(&owner, &repo) {
            // Deleted in Codecov's UI: still listed, no longer in the report.
            if let Some(f) = r.flags.iter_mut().find(|f| f.name == deleted) {
                f.deleted = true;
                f.coverage = None;
            }
            // Gone from the repository's flags altogether.
            r.flags.retain(|f| f.name != removed);
        }
        // A new head on the default branch that Codecov has no report for yet.
        if let Some(r) = d.repo_mut(&owner, &unreported)
            && let Some(head) = r.commits.first_mut()
        {
            head.totals = None;
        }
    });
    let run = world.resync().await;
    assert!(run.success, "{}", run.stderr);
    let entity = world
        .entity("codecov_flag", &id(&repo, &deleted))
        .expect("still listed, still there");
    assert_eq!(entity["properties"]["coverage"], 0.0);
    assert!(world.entity("codecov_flag", &id(&repo, &removed)).is_none());

    // Every repository's flag entities, and their coverage, are what the API lists.
    let client = reqwest::Client::new();
    let names: Vec<String> = world.codecov_sim.dataset().owners[0]
        .repos
        .iter()
        .filter(|r| r.active)
        .map(|r| r.name.clone())
        .collect();
    let mut listed = Vec::new();
    for name in &names {
        let url = format!(
            "{}/api/v2/github/{owner}/repos/{name}/flags/?page_size=100",
            world.codecov.url()
        );
        let page: Value = client
            .get(url)
            .bearer_auth(DEFAULT_TOKEN)
            .send()
            .await
            .expect("flags")
            .json()
            .await
            .expect("JSON");
        for flag in page["results"].as_array().into_iter().flatten() {
            let flag_name = flag["flag_name"].as_str().expect("a name");
            listed.push((id(name, flag_name), flag["coverage"].as_f64()));
        }
    }
    listed.sort_by(|a, b| a.0.cmp(&b.0));
    let mut catalog: Vec<(String, Option<f64>)> = world
        .entities("codecov_flag")
        .into_iter()
        .map(|e| {
            let coverage = e["properties"]["coverage"].as_f64();
            (e["identifier"].as_str().unwrap_or_default().to_string(), coverage)
        })
        .collect();
    catalog.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(catalog, listed);
    assert!(
        listed.iter().any(|(i, c)| i.contains(&unreported) && c.is_none()),
        "a head without a report lists its flags with null coverage: {listed:?}"
    );
}

/// Point 7: the API's repository totals come from the newest complete commit
/// of the default branch that is at least an hour old; the `coverage` kind
/// (like the webhook) shows a fresh upload at once.
#[tokio::test]
async fn repository_totals_lag_a_fresh_upload_by_an_hour() {
    let world = world_with(CodecovSimConfig::generated(1, 6, 53)).await;
    let (owner, name) = repos_with_coverage(&world.codecov_sim.dataset())[0].clone();
    let stamp = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S").to_string();
    let (old_lines, fresh_sha) = {
        let mut result = (0, String::new());
        world.codecov_sim.edit(|d| {
            let Some(repo) = d.repo_mut(&owner, &name) else {
                return;
            };
            let Some(newest) = repo.commits.iter().find(|c| c.state == "complete").cloned() else {
                return;
            };
            let mut fresh = newest.clone();
            fresh.parent = Some(newest.commitid.clone());
            fresh.commitid = "f".repeat(40);
            fresh.timestamp = stamp.clone();
            if let Some(t) = fresh.totals.as_mut() {
                t.lines += 1000;
                t.misses += 1000;
            }
            repo.commits.insert(0, fresh);
            result = (newest.totals.map_or(0, |t| t.lines), "f".repeat(40));
        });
        result
    };
    assert!(old_lines > 0);
    let run = world.resync().await;
    assert!(run.success, "{}", run.stderr);
    let id = format!("github/{owner}/{name}");
    let repository = world.entity("codecov_repository", &id).expect("repository");
    assert_eq!(
        repository["properties"]["lines"], old_lines,
        "the hour-old commit's totals"
    );
    let coverage = world.entity("codecov_coverage", &id).expect("coverage");
    assert_eq!(
        coverage["properties"]["lines"],
        old_lines + 1000,
        "the fresh commit ({fresh_sha})"
    );
}

impl World {
    /// Edits the mapping in force (Port's copy).
    async fn edit_mapping(&self, edit: impl FnOnce(&mut Value)) {
        let integration = self.port_sim.integration(&self.identifier).expect("registered");
        let mut config = integration["config"].clone();
        edit(&mut config);
        self.port_client(&self.identifier)
            .expect("client")
            .patch_integration_config(&config)
            .await
            .expect("edit the mapping in Port");
    }

    /// Keeps only `kinds` in the mapping in force.
    async fn keep_kinds(&self, kinds: &[&str]) {
        self.edit_mapping(|config| {
            if let Some(resources) = config["resources"].as_array_mut() {
                resources.retain(|r| kinds.iter().any(|k| r["kind"] == *k));
            }
        })
        .await;
    }

    /// Adds the `branch` kind (offered, not in the default mapping) with a
    /// blueprint related to the repository, as the other per-repository kinds are.
    async fn map_branches(&self) {
        self.port_sim.add_blueprint(serde_json::json!({
            "identifier": "codecov_branch", "title": "Codecov branch",
            "schema": {"properties": {"name": {"type": "string"}}, "required": []},
            "relations": {"repository": {"target": "codecov_repository", "many": false, "required": false}},
        }));
        self.edit_mapping(|config| {
            let branch = serde_json::json!({
                "kind": "branch",
                "selector": {"query": "true"},
                "port": {"entity": {"mappings": {
                    "identifier": r#""\(.__repository.service)/\(.__repository.owner)/\(.__repository.name)/branches/\(.name)""#,
                    "title": ".name",
                    "blueprint": r#""codecov_branch""#,
                    "properties": {"name": ".name"},
                    "relations": {"repository": r#""\(.__repository.service)/\(.__repository.owner)/\(.__repository.name)""#},
                }}},
            });
            if let Some(resources) = config["resources"].as_array_mut() {
                resources.push(branch);
            }
        })
        .await;
    }

    /// The entities of `blueprint` related to repository `repo_id`, by identifier.
    fn related(&self, blueprint: &str, repo_id: &str) -> Vec<Value> {
        let mut found: Vec<Value> = self
            .entities(blueprint)
            .into_iter()
            .filter(|e| e["relations"]["repository"] == repo_id)
            .collect();
        found.sort_by(|a, b| a["identifier"].as_str().cmp(&b["identifier"].as_str()));
        found
    }

    /// In Codecov, `owner`'s `locked` turns private with the token's user not
    /// activated on it (403 under it), and `removed` is deleted.
    fn lock_and_remove(&self, owner: &str, locked: &str, removed: &str) {
        self.codecov_sim.edit(|d| {
            if let Some(repo) = d.repo_mut(owner, locked) {
                repo.private = true;
                repo.not_activated = true;
            }
            if let Some(o) = d.owner_mut(owner) {
                o.repos.retain(|r| r.name != removed);
            }
        });
    }

    /// Each per-repository kind's entities of repository `repo_id`.
    fn per_repository(&self, repo_id: &str) -> Vec<(&'static str, Vec<Value>)> {
        PER_REPOSITORY
            .iter()
            .map(|bp| (*bp, self.related(bp, repo_id)))
            .collect()
    }
}

impl World {
    /// Adds a second `coverage` resource writing the payload's `compare` and
    /// links (not in the default mapping) to a blueprint of their own.
    async fn map_payload_fields(&self) {
        let string = serde_json::json!({"type": "string"});
        self.port_sim.add_blueprint(serde_json::json!({
            "identifier": "codecov_payload", "title": "Codecov payload fields",
            "schema": {"properties": {"compare": string, "notation": string, "message": string,
                "commitLink": string, "repoUrl": string}, "required": []},
            "relations": {},
        }));
        self.edit_mapping(|config| {
            let payload = serde_json::json!({
                "kind": "coverage",
                "selector": {"query": "true"},
                "port": {"entity": {"mappings": {
                    "identifier": r#""\(.owner.service)/\(.owner.username)/\(.repo.name)""#,
                    "blueprint": r#""codecov_payload""#,
                    "properties": {"compare": ".compare.coverage", "notation": ".compare.notation",
                        "message": ".compare.message", "commitLink": ".head.service_url", "repoUrl": ".repo.url"},
                }}},
            });
            if let Some(resources) = config["resources"].as_array_mut() {
                resources.push(payload);
            }
        })
        .await;
    }

    /// What each repository's webhook payload (from the simulator) says, as
    /// (identifier, [compare, notation, message, commit link, repository URL]),
    /// beside what the catalog holds for it.
    fn payload_fields(&self, service: &str) -> Vec<(String, Vec<Value>, Vec<Value>)> {
        let dataset = self.codecov_sim.dataset().clone();
        let mut out = Vec::new();
        for owner in &dataset.owners {
            for repo in &owner.repos {
                let id = format!("{service}/{}/{}", owner.username, repo.name);
                let (Some(payload), Some(entity)) = (
                    self.codecov_sim
                        .webhook_payload(&owner.username, &repo.name, false),
                    self.entity("codecov_payload", &id),
                ) else {
                    continue;
                };
                let sent = [
                    "/compare/coverage",
                    "/compare/notation",
                    "/compare/message",
                    "/head/service_url",
                    "/repo/url",
                ]
                .iter()
                .map(|p| payload.pointer(p).cloned().unwrap_or(Value::Null))
                .collect();
                let held = ["compare", "notation", "message", "commitLink", "repoUrl"]
                    .iter()
                    .map(|p| entity["properties"][*p].clone())
                    .collect();
                out.push((id, sent, held));
            }
        }
        out
    }
}

/// Point 5: with the settings standing for the repositories' Codecov YAML
/// (`coverage.round: nearest`, `precision: 4`), resync items carry exactly the
/// `compare` Codecov's webhook sends; with Codecov's defaults instead, some
/// differ (the setting is what makes them agree).
#[tokio::test]
async fn resync_compare_is_rounded_as_the_webhook_with_the_rounding_settings() {
    let world = world_with(CodecovSimConfig::generated(1, 30, 83)).await;
    world.codecov_sim.edit(|d| {
        for repo in &mut d.owners[0].repos {
            repo.yaml.round = Some("nearest".into());
            repo.yaml.precision = Some(4);
        }
    });
    assert!(world.resync().await.success);
    world.map_payload_fields().await;
    let settings = [
        ("OCEAN__INTEGRATION__CONFIG__CODECOV_COVERAGE_ROUND", "nearest"),
        ("OCEAN__INTEGRATION__CONFIG__CODECOV_COVERAGE_PRECISION", "4"),
    ];
    let run = world.run(&["resync", "--once"], &settings).await;
    assert!(run.success, "{}", run.stderr);
    let compared = world.payload_fields("github");
    assert!(compared.len() > 15, "{compared:?}");
    for (id, sent, held) in &compared {
        assert_eq!(held, sent, "{id}");
    }
    assert!(
        compared
            .iter()
            .any(|(_, sent, _)| sent[0].as_str().is_some_and(|c| c.len() > 5)),
        "some differences have four places: {compared:?}"
    );
    let defaults = world.resync().await;
    assert!(defaults.success, "{}", defaults.stderr);
    let differing = world
        .payload_fields("github")
        .into_iter()
        .filter(|(_, sent, held)| sent[0] != held[0])
        .count();
    assert!(
        differing > 0,
        "Codecov's defaults (down, 2 places) round otherwise"
    );
}

/// Point 7: on GitLab, an owner with subgroups (`group:sub`) has commit links
/// `https://gitlab.com/group/sub/{repo}/commit/{sha}`, as Codecov's webhook sends.
#[tokio::test]
async fn gitlab_subgroup_commit_links_are_codecovs() {
    let mut config = CodecovSimConfig::generated(1, 8, 89);
    config.dataset.service = "gitlab".into();
    config.dataset.owners[0].username = "group:sub".into();
    let world = world_with(config).await;
    let gitlab = [("OCEAN__INTEGRATION__CONFIG__CODECOV_SERVICE", "gitlab")];
    let first = world.run(&["resync", "--once"], &gitlab).await;
    assert!(first.success, "{}", first.stderr);
    world.map_payload_fields().await;
    let run = world.run(&["resync", "--once"], &gitlab).await;
    assert!(run.success, "{}", run.stderr);
    let compared = world.payload_fields("gitlab");
    assert!(!compared.is_empty());
    for (id, sent, held) in &compared {
        assert_eq!(held, sent, "{id}");
        let link = held[3].as_str().unwrap_or_default();
        assert!(
            link.starts_with("https://gitlab.com/group/sub/repo-"),
            "{id}: {link}"
        );
        assert!(link.contains("/commit/"), "{link}");
    }
}

/// The blueprints of the kinds with many entities per repository.
const PER_REPOSITORY: [&str; 4] = ["codecov_commit", "codecov_pull", "codecov_flag", "codecov_branch"];

/// Two active repositories, each with commits, an open pull and flags, so
/// every per-repository kind has entities for both.
fn two_full_repositories(dataset: &Dataset) -> (String, String, String) {
    let owner = &dataset.owners[0];
    let full: Vec<&str> = owner
        .repos
        .iter()
        .filter(|r| r.active && !r.flags.is_empty() && r.pulls.iter().any(|p| p.state == "open"))
        .filter(|r| r.commits.first().is_some_and(|c| c.totals.is_some()))
        .map(|r| r.name.as_str())
        .collect();
    assert!(full.len() >= 2, "the data has two full repositories: {full:?}");
    (owner.username.clone(), full[0].to_string(), full[1].to_string())
}

/// Point 3, every kind: a private repository the token's user is not
/// activated on (403 under it) keeps its commits, pulls, flags and branches
/// as they were, is named in the summary, and the rest of each kind
/// reconciles: a repository removed from Codecov loses all of its entities.
#[tokio::test]
async fn a_403_repository_keeps_its_entities_in_every_kind_and_the_rest_reconciles() {
    let world = world_with(CodecovSimConfig::generated(1, 16, 73)).await;
    assert!(world.resync().await.success);
    world.map_branches().await;
    let mapped = world.resync().await;
    assert!(mapped.success, "{}", mapped.stderr);
    let (owner, locked, removed) = two_full_repositories(&world.codecov_sim.dataset());
    let locked_id = format!("github/{owner}/{locked}");
    let removed_id = format!("github/{owner}/{removed}");
    let before = world.per_repository(&locked_id);
    for (blueprint, entities) in before.iter().chain(&world.per_repository(&removed_id)) {
        assert!(!entities.is_empty(), "{blueprint} has entities to keep or delete");
    }
    world.lock_and_remove(&owner, &locked, &removed);

    let run = world.resync().await;
    assert!(!run.stderr.contains("deletion skipped"), "{}", run.stderr);
    for kind in ["commit", "pull", "flag", "branch"] {
        let named = run.stderr.lines().any(|l| {
            l.contains(&format!("kind={kind}")) && l.contains("not activated") && l.contains(&locked)
        });
        assert!(named, "{kind}: the log names the held repository\n{}", run.stderr);
    }
    assert!(
        run.stderr
            .contains("held part: codecov_commit related to repository"),
        "{}",
        run.stderr
    );
    assert_eq!(world.per_repository(&locked_id), before, "held as they were");
    for (blueprint, entities) in world.per_repository(&removed_id) {
        assert!(entities.is_empty(), "{blueprint}: {entities:?}");
    }
}

/// Point 3, every kind: a repository removed from Codecov between a kind's
/// listing and the calls under it (404 "Not found.") keeps that kind's
/// entities this resync, while the rest reconciles, deletions included.
#[tokio::test]
async fn a_repository_that_vanishes_under_any_kind_keeps_its_entities_that_resync() {
    let world = world_with(CodecovSimConfig::generated(1, 16, 79)).await;
    assert!(world.resync().await.success);
    world.map_branches().await;
    assert!(world.resync().await.success);
    let (owner, flickering, removed) = two_full_repositories(&world.codecov_sim.dataset());
    let flickering_id = format!("github/{owner}/{flickering}");
    let before = world.per_repository(&flickering_id);
    world.codecov_sim.edit(|d| {
        if let Some(o) = d.owner_mut(&owner) {
            o.repos.retain(|r| r.name != removed);
        }
    });
    // The kinds run in the mapping's order, each listing the repositories once:
    // coverage, repository, commit, pull, flag, branch. Under each of the last
    // four, the repository is gone right after the listing and back right after
    // the kind's first call under it (the commit kind's reads 10 per page).
    let repo = world.codecov_sim.dataset().owners[0]
        .repo(&flickering)
        .cloned()
        .expect("the repository");
    let listing = format!("/{owner}/repos");
    for (nth, route, query) in [
        (3, "commits", "page_size=10"),
        (4, "pulls", ""),
        (5, "flags", ""),
        (6, "branches", ""),
    ] {
        let (who, name) = (owner.clone(), flickering.clone());
        world.codecov_sim.change_after(&listing, "page=1", nth, move |d| {
            if let Some(o) = d.owner_mut(&who) {
                o.repos.retain(|r| r.name != name);
            }
        });
        let (who, back) = (owner.clone(), repo.clone());
        let under = format!("/{flickering}/{route}");
        world.codecov_sim.change_after(&under, query, 1, move |d| {
            if let Some(o) = d.owner_mut(&who) {
                let at = o.repos.partition_point(|r| r.name < back.name);
                o.repos.insert(at, back);
            }
        });
    }

    let run = world.resync().await;
    assert!(!run.stderr.contains("deletion skipped"), "{}", run.stderr);
    let vanished = run
        .stderr
        .lines()
        .filter(|l| {
            l.contains("part not read") && l.contains("removed from Codecov") && l.contains(&flickering)
        })
        .count();
    assert_eq!(vanished, 4, "one per kind\n{}", run.stderr);
    assert_eq!(world.per_repository(&flickering_id), before, "held as they were");
    for (blueprint, entities) in world.per_repository(&format!("github/{owner}/{removed}")) {
        assert!(entities.is_empty(), "{blueprint}: {entities:?}");
    }
}

/// Point 3: a private repository the token's user is not activated on (403
/// on every route under it) is held: its entity is kept and reported, and the
/// rest of the catalog reconciles, deletions included.
#[tokio::test]
async fn a_403_repository_is_held_and_the_rest_reconciles() {
    let world = world_with(CodecovSimConfig::generated(1, 10, 59)).await;
    assert!(world.resync().await.success);
    world.keep_kinds(&["repository", "coverage"]).await;
    let covered = repos_with_coverage(&world.codecov_sim.dataset());
    let (owner, locked) = covered[0].clone();
    let (_, removed) = covered[1].clone();
    let locked_id = format!("github/{owner}/{locked}");
    let before = world.entity("codecov_coverage", &locked_id).expect("covered");
    world.lock_and_remove(&owner, &locked, &removed);

    let run = world.resync().await;
    assert!(run.stderr.contains("not activated"), "{}", run.stderr);
    assert!(run.stderr.contains(&locked_id), "{}", run.stderr);
    assert!(!run.stderr.contains("deletion skipped"), "{}", run.stderr);
    assert_eq!(
        world.entity("codecov_coverage", &locked_id),
        Some(before),
        "held as it was"
    );
    let removed_id = format!("github/{owner}/{removed}");
    assert!(
        world.entity("codecov_coverage", &removed_id).is_none(),
        "{}",
        run.stderr
    );
    assert!(
        world.entity("codecov_repository", &removed_id).is_none(),
        "{}",
        run.stderr
    );
}

/// Point 3: a repository removed from Codecov between the listing and the
/// calls under it (404) is held this resync, and deleted by the next.
#[tokio::test]
async fn a_repository_that_vanishes_after_the_listing_is_held_then_deleted() {
    let world = world_with(CodecovSimConfig::generated(1, 10, 61)).await;
    assert!(world.resync().await.success);
    world.keep_kinds(&["repository", "coverage"]).await;
    let (owner, gone) = repos_with_coverage(&world.codecov_sim.dataset())[0].clone();
    let gone_id = format!("github/{owner}/{gone}");
    let repos_path = format!("/{owner}/repos");
    let name = gone.clone();
    let who = owner.clone();
    // Right after the first read of the repository list (the `coverage` kind comes first).
    world
        .codecov_sim
        .change_after(&repos_path, "page=1", 1, move |d| {
            if let Some(o) = d.owner_mut(&who) {
                o.repos.retain(|r| r.name != name);
            }
        });
    let run = world.resync().await;
    assert!(run.stderr.contains("removed from Codecov"), "{}", run.stderr);
    assert!(world.entity("codecov_coverage", &gone_id).is_some(), "held");
    let again = world.resync().await;
    assert!(again.success, "{}", again.stderr);
    assert!(
        world.entity("codecov_coverage", &gone_id).is_none(),
        "then deleted"
    );
}

/// Point 4: a repository removed while the list is paged (newest first) shifts
/// later pages, so one live repository is skipped while `count` still
/// matches. The list is read again until two reads agree; the skipped record
/// is delivered, nothing live is deleted, and the summary says what happened.
#[tokio::test]
async fn a_list_that_shifts_while_paged_deletes_no_live_record() {
    let world = world_with(CodecovSimConfig::generated(1, 30, 67)).await;
    let small_pages = [("OCEAN__INTEGRATION__CONFIG__CODECOV_PAGE_SIZE", "5")];
    let first = world.run(&["resync", "--once"], &small_pages).await;
    assert!(first.success, "{}", first.stderr);
    world.keep_kinds(&["repository"]).await;
    let before = world.identifiers("codecov_repository");
    // Newest first: the newest repository sits on page 1. Removing it after
    // page 2 was read moves page 3's first record onto page 2.
    let newest = {
        let dataset = world.codecov_sim.dataset();
        let repo = dataset.owners[0]
            .repos
            .iter()
            .filter(|r| r.active)
            .max_by_key(|r| r.repoid)
            .expect("repositories");
        repo.name.clone()
    };
    world
        .codecov_sim
        .change_after("/owner-1/repos", "page=2", 1, move |d| {
            d.owners[0].repos.retain(|r| r.name != newest);
        });
    let run = world.run(&["resync", "--once"], &small_pages).await;
    assert!(run.success, "{}", run.stderr);
    assert!(run.stderr.contains("recovered"), "{}", run.stderr);
    let after = world.identifiers("codecov_repository");
    let live: Vec<String> = {
        let dataset = world.codecov_sim.dataset();
        dataset.owners[0]
            .repos
            .iter()
            .filter(|r| r.active)
            .map(|r| format!("github/owner-1/{}", r.name))
            .collect()
    };
    for id in &live {
        assert!(after.contains(id), "{id} is live in Codecov but was deleted");
    }
    assert!(after.len() <= before.len());
}

/// Point 4: a list that changes on every read is given up after a bounded
/// number of reads: the kind is incomplete, nothing is deleted, and the
/// summary says why.
#[tokio::test]
async fn a_list_that_never_holds_still_deletes_nothing() {
    let world = world_with(CodecovSimConfig::generated(1, 30, 71)).await;
    let small_pages = [("OCEAN__INTEGRATION__CONFIG__CODECOV_PAGE_SIZE", "5")];
    assert!(world.run(&["resync", "--once"], &small_pages).await.success);
    world.keep_kinds(&["repository"]).await;
    let before = world.identifiers("codecov_repository");
    for nth in 1..=6 {
        world
            .codecov_sim
            .change_after("/owner-1/repos", "page=2", nth, |d| {
                let newest = d.owners[0]
                    .repos
                    .iter()
                    .filter(|r| r.active)
                    .map(|r| r.repoid)
                    .max();
                d.owners[0].repos.retain(|r| Some(r.repoid) != newest);
            });
    }
    let run = world.run(&["resync", "--once"], &small_pages).await;
    assert!(!run.success);
    assert!(run.stderr.contains("did not hold still"), "{}", run.stderr);
    assert!(run.stderr.contains("deletion skipped"), "{}", run.stderr);
    assert_eq!(world.identifiers("codecov_repository"), before, "nothing deleted");
}

/// Point 4, a repository's branches: Codecov lists them by update time,
/// newest first, and that time moves. A branch updated between two page reads
/// jumps to the first page, and paging skips it. The list is read again until
/// two reads agree: no live branch's entity is deleted, and the summary says
/// a record was recovered.
#[tokio::test]
async fn a_branch_updated_while_its_list_is_paged_deletes_no_live_branch() {
    let world = world_with(CodecovSimConfig::generated(1, 16, 97)).await;
    let one_per_page = [("OCEAN__INTEGRATION__CONFIG__CODECOV_PAGE_SIZE", "1")];
    assert!(world.run(&["resync", "--once"], &one_per_page).await.success);
    world.map_branches().await;
    world.keep_kinds(&["repository", "branch"]).await;
    let mapped = world.run(&["resync", "--once"], &one_per_page).await;
    assert!(mapped.success, "{}", mapped.stderr);
    let (owner, name, oldest) = {
        let dataset = world.codecov_sim.dataset();
        let owner = &dataset.owners[0];
        let repo = owner
            .repos
            .iter()
            .find(|r| r.active && r.branches.len() == 3)
            .expect("a repository with three branches");
        let oldest = repo
            .branches
            .iter()
            .min_by(|a, b| a.updatestamp.cmp(&b.updatestamp))
            .expect("branches");
        (owner.username.clone(), repo.name.clone(), oldest.name.clone())
    };
    let repo_id = format!("github/{owner}/{name}");
    let before = world.related("codecov_branch", &repo_id);
    assert_eq!(before.len(), 3);
    // Right after the first page of its branches is read, the oldest branch
    // gets a new commit and lists first: the second read skips it.
    let (who, repo) = (owner.clone(), name.clone());
    world
        .codecov_sim
        .change_after(&format!("/{name}/branches"), "page=1", 1, move |d| {
            if let Some(branch) = d
                .repo_mut(&who, &repo)
                .and_then(|r| r.branches.iter_mut().find(|b| b.name == oldest))
            {
                branch.updatestamp = "2030-01-01T00:00:00".into();
            }
        });
    let run = world.run(&["resync", "--once"], &one_per_page).await;
    assert!(run.success, "{}", run.stderr);
    let ids = |entities: Vec<Value>| -> Vec<Value> {
        entities.into_iter().map(|e| e["identifier"].clone()).collect()
    };
    assert_eq!(ids(world.related("codecov_branch", &repo_id)), ids(before));
    assert!(run.stderr.contains("1 record(s) recovered"), "{}", run.stderr);
}
