//! The Codecov plugin against the Codecov simulator: every kind yields exactly
//! the simulator's records at any page size, failures stay scoped to their
//! owner, and items built from the API map like Codecov's own webhook payloads.

mod common;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use codecov::{CodecovPlugin, CodecovSettings, Rounding, Service};
use ocean_host::mapping::{JqOptions, ResourceMapper};
use ocean_host::plugin::{Delivery, FetchError, Plugin};
use ocean_host::port_app_config;
use ocean_sim::Served;
use ocean_sim::codecov::data::{Dataset, seed_example_payload};
use ocean_sim::codecov::{CodecovSim, CodecovSimConfig, DEFAULT_TOKEN};
use ocean_sim::faults::{Fault, FaultConfig};
use ocean_support::retry::RetryPolicy;
use ocean_support::secret::Secret;
use serde_json::{Map, Value, json};

async fn start(config: CodecovSimConfig) -> (Served, Arc<CodecovSim>) {
    CodecovSim::start(config, "127.0.0.1:0".parse().expect("loopback"))
        .await
        .expect("binds loopback")
}

/// The plugin's settings for the simulator at `served`, with its token.
fn settings_for(served: &Served, service: Service, owners: &[&str]) -> CodecovSettings {
    let owners = owners.iter().map(|o| o.to_string()).collect();
    let mut settings = CodecovSettings::new(served.url(), Secret::new(DEFAULT_TOKEN), service, owners);
    // The simulator's payloads use Codecov cloud's dashboard, as a real Codecov would.
    settings.app_url = Some("https://app.codecov.io".into());
    settings
}

fn plugin(served: &Served, owners: &[&str], page_size: u32, token: &str) -> Arc<CodecovPlugin> {
    let mut settings = settings_for(served, Service::Github, owners);
    settings.token = Secret::new(token);
    settings.page_size = page_size;
    settings.retry = RetryPolicy {
        base_delay: std::time::Duration::from_millis(2),
        max_delay: std::time::Duration::from_millis(20),
        max_attempts: 6,
        max_total_wait: std::time::Duration::from_secs(60),
    };
    Arc::new(CodecovPlugin::new(settings).expect("plugin builds"))
}

/// Every item and every error of one kind.
async fn fetch_all(plugin: &Arc<CodecovPlugin>, kind: &str) -> (Vec<Value>, Vec<FetchError>) {
    fetch_with(plugin, kind, Map::new()).await
}

async fn fetch_with(
    plugin: &Arc<CodecovPlugin>,
    kind: &str,
    selector: Map<String, Value>,
) -> (Vec<Value>, Vec<FetchError>) {
    let mut stream = plugin.clone().fetch(kind, &selector);
    let (mut items, mut errors) = (Vec::new(), Vec::new());
    while let Some(page) = stream.next().await {
        match page {
            Delivery::Page(page) => items.extend(page.iter().map(|item| item.to_value())),
            Delivery::Incomplete(e) => errors.push(e),
            Delivery::Held(_) | Delivery::HeldPart(_) | Delivery::Note(_) => {}
        }
    }
    (items, errors)
}

/// What each kind should yield for the active repositories of `dataset`.
fn expected_counts(dataset: &Dataset) -> BTreeMap<&'static str, usize> {
    common::expected_per_kind(dataset)
        .into_iter()
        .map(|(kind, _, count)| (kind, count))
        .collect()
}

fn default_mapper(kind: &str) -> ResourceMapper {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/.port/resources/port-app-config.yml");
    let loaded = port_app_config::load_file(std::path::Path::new(path), JqOptions::default())
        .expect("default mapping");
    loaded
        .mappers
        .into_iter()
        .find(|m| m.kind() == kind)
        .expect("kind in the default mapping")
}

fn map_one(mapper: &ResourceMapper, item: &Value) -> Value {
    let outcome = mapper.map_json(item);
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert_eq!(outcome.entities.len(), 1);
    serde_json::to_value(&outcome.entities[0]).expect("entity encodes")
}

/// One webhook body through the batch interface, its items read back as
/// documents for the assertions.
async fn webhook_items(plugin: &CodecovPlugin, payload: &Value) -> Vec<Result<(String, Value), FetchError>> {
    let raw = serde_json::value::to_raw_value(payload).expect("payload as text");
    let mut batch = plugin.webhook_events(&[raw.as_ref()]).await;
    assert_eq!(batch.len(), 1, "one answer per body");
    batch
        .remove(0)
        .items
        .into_iter()
        .map(|item| item.map(|(kind, raw)| (kind, raw.to_value())))
        .collect()
}

#[tokio::test]
async fn every_kind_yields_exactly_the_simulators_records_at_any_page_size() {
    let (served, sim) = start(CodecovSimConfig::generated(3, 60, 7)).await;
    let expected = expected_counts(&sim.dataset());
    assert!(expected.values().all(|n| *n > 0), "{expected:?}");
    for page_size in [1, 7, 50] {
        let plugin = plugin(
            &served,
            &["owner-1", "owner-2", "owner-3"],
            page_size,
            DEFAULT_TOKEN,
        );
        for (kind, count) in &expected {
            let (items, errors) = fetch_all(&plugin, kind).await;
            assert!(errors.is_empty(), "{kind} at page size {page_size}: {errors:?}");
            assert_eq!(items.len(), *count, "{kind} at page size {page_size}");
        }
    }

    // Spot checks against the simulator's own records.
    let plugin = plugin(&served, &["owner-1", "owner-2", "owner-3"], 100, DEFAULT_TOKEN);
    let repo = sim
        .dataset()
        .owner("owner-2")
        .and_then(|owner| {
            owner
                .repos
                .iter()
                .find(|r| r.active && r.commits.len() > 2)
                .cloned()
        })
        .expect("an active repo of owner-2");
    let (repos, _) = fetch_all(&plugin, "repository").await;
    let found = repos
        .iter()
        .find(|r| r["name"] == json!(repo.name) && r["author"]["username"] == "owner-2")
        .expect("the repo is listed");
    assert_eq!(found["private"], json!(repo.private));
    assert_eq!(
        found["__repository"]["url"],
        format!("https://app.codecov.io/gh/owner-2/{}", repo.name)
    );
    let (commits, _) = fetch_all(&plugin, "commit").await;
    let newest = &repo.commits[0];
    let commit = commits
        .iter()
        .find(|c| c["commitid"] == json!(newest.commitid))
        .expect("newest commit");
    assert_eq!(commit["__repository"]["name"], json!(repo.name));
    assert_eq!(commit["timestamp"], format!("{}Z", newest.timestamp));
    let (coverage, _) = fetch_all(&plugin, "coverage").await;
    let head = repo
        .commits
        .iter()
        .find(|c| c.state == "complete")
        .expect("a complete commit");
    let item = coverage
        .iter()
        .find(|c| c["head"]["commitid"] == json!(head.commitid))
        .expect("coverage item");
    assert_eq!(
        item["head"]["totals"]["coverage"],
        json!(head.totals.as_ref().and_then(|t| t.coverage()))
    );
}

#[tokio::test]
async fn selector_fields_change_what_is_fetched() {
    let (served, sim) = start(CodecovSimConfig::generated(1, 40, 3)).await;
    let plugin = plugin(&served, &["owner-1"], 20, DEFAULT_TOKEN);
    let all_repos = sim.dataset().owners[0].repos.len();
    let mut selector = Map::new();
    selector.insert("includeInactive".into(), json!(true));
    let (items, _) = fetch_with(&plugin, "repository", selector).await;
    assert_eq!(items.len(), all_repos);
    let mut selector = Map::new();
    selector.insert("commitsPerRepo".into(), json!(1));
    let (items, _) = fetch_with(&plugin, "commit", selector).await;
    assert_eq!(
        items.len(),
        sim.dataset().owners[0].repos.iter().filter(|r| r.active).count()
    );
    let mut selector = Map::new();
    selector.insert("pullState".into(), json!("sometimes"));
    let (items, errors) = fetch_with(&plugin, "pull", selector).await;
    assert!(items.is_empty());
    assert!(errors[0].message.contains("pullState"), "{errors:?}");
    let mut selector = Map::new();
    selector.insert("totalsFrom".into(), json!("files"));
    let (items, errors) = fetch_with(&plugin, "coverage", selector).await;
    assert!(items.is_empty());
    assert!(errors[0].message.contains("report or commit"), "{errors:?}");
    let (_, errors) = fetch_all(&plugin, "nonsense").await;
    assert!(errors[0].message.contains("repository, coverage"), "{errors:?}");
}

#[tokio::test]
async fn the_coverage_item_for_the_seed_maps_to_the_seed_entity() {
    let mut config = CodecovSimConfig::generated(0, 0, 1);
    config.dataset.add_from_payload(&seed_example_payload());
    let (served, _sim) = start(config).await;
    let plugin = plugin(&served, &["slanks"], 20, DEFAULT_TOKEN);

    let (items, errors) = fetch_all(&plugin, "coverage").await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(items.len(), 1);

    let mapper = default_mapper("coverage");
    let from_api = map_one(&mapper, &items[0]);
    let from_webhook = map_one(&mapper, &seed_example_payload());
    let expected_text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/resources/codecov/seed-expected-entity.json"
    ))
    .expect("seed entity");
    let mut expected: Value = serde_json::from_str(&expected_text).expect("JSON");
    expected.as_object_mut().map(|o| o.remove("filter"));
    // The default mapping qualifies the identifier with service and owner;
    // everything else is the seed's entity.
    expected["identifier"] = json!("github/slanks/codecov-example");
    assert_eq!(from_webhook, expected);
    assert_eq!(
        from_api, expected,
        "the item built from the API maps to the seed's entity"
    );
}

#[tokio::test]
async fn items_built_from_the_api_map_like_codecovs_own_payloads() {
    let (served, sim) = start(CodecovSimConfig::generated(2, 30, 11)).await;
    let plugin = plugin(&served, &["owner-1", "owner-2"], 100, DEFAULT_TOKEN);
    let (items, errors) = fetch_all(&plugin, "coverage").await;
    assert!(errors.is_empty(), "{errors:?}");
    let mapper = default_mapper("coverage");
    let mut compared = 0;
    for item in &items {
        let owner = item["owner"]["username"].as_str().expect("owner");
        let repo = item["repo"]["name"].as_str().expect("repo");
        let payload = sim
            .webhook_payload(owner, repo, false)
            .expect("the simulator's payload");
        assert_eq!(
            map_one(&mapper, item),
            map_one(&mapper, &payload),
            "{owner}/{repo}"
        );
        assert_eq!(item["compare"], payload["compare"], "{owner}/{repo}");
        compared += 1;
    }
    assert!(compared > 40, "{compared}");
}

#[tokio::test]
async fn a_wrong_token_fails_every_owner_with_a_clear_error() {
    let (served, _sim) = start(CodecovSimConfig::generated(2, 5, 1)).await;
    let plugin = plugin(&served, &["owner-1", "owner-2"], 20, "not-the-token");
    let (items, errors) = fetch_all(&plugin, "repository").await;
    assert!(items.is_empty());
    let scopes: Vec<&str> = errors.iter().map(|e| e.scope.as_str()).collect();
    assert_eq!(scopes, ["owner owner-1", "owner owner-2"]);
    assert!(
        errors[0]
            .message
            .contains("Codecov token rejected for owner owner-1"),
        "{}",
        errors[0].message
    );
    assert!(!errors[0].message.contains("not-the-token"));
}

#[tokio::test]
async fn an_unknown_owner_fails_alone() {
    let (served, sim) = start(CodecovSimConfig::generated(2, 20, 5)).await;
    let plugin = plugin(&served, &["owner-1", "nobody", "owner-2"], 7, DEFAULT_TOKEN);
    let (items, errors) = fetch_all(&plugin, "flag").await;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].scope, "owner nobody");
    assert!(
        errors[0].message.contains("No Owner matches the given query."),
        "{}",
        errors[0].message
    );
    assert_eq!(items.len(), expected_counts(&sim.dataset())["flag"]);
}

#[tokio::test]
async fn bursts_of_500_and_resets_mid_page_are_retried() {
    let mut config = CodecovSimConfig::generated(2, 30, 9);
    config.faults = FaultConfig {
        script: VecDeque::from([
            Fault::Status(500),
            Fault::Status(500),
            Fault::Status(500),
            Fault::Reset,
        ]),
        rate: 0.1,
        kinds: vec![Fault::Status(502), Fault::Status(503), Fault::Reset],
        ..FaultConfig::default()
    };
    let (served, sim) = start(config).await;
    let plugin = plugin(&served, &["owner-1", "owner-2"], 5, DEFAULT_TOKEN);
    let expected = expected_counts(&sim.dataset());
    for kind in ["repository", "coverage", "pull"] {
        let (items, errors) = fetch_all(&plugin, kind).await;
        assert!(errors.is_empty(), "{kind}: {errors:?}");
        assert_eq!(items.len(), expected[kind], "{kind}");
    }
    let log = sim.log().snapshot();
    assert_eq!(
        log.iter().take(4).map(|r| r.status).collect::<Vec<_>>(),
        [500, 500, 500, 200]
    );
    assert_eq!(log[3].fault.as_deref(), Some("reset"));
}

#[tokio::test]
async fn a_repository_that_keeps_failing_is_reported_and_the_rest_proceed() {
    let mut config = CodecovSimConfig::generated(1, 12, 4);
    // The first owner page lists fine; then every call fails for the next while.
    let mut script = VecDeque::from([Fault::Pass]);
    script.extend(std::iter::repeat_n(Fault::Status(503), 6));
    config.faults = FaultConfig {
        script,
        ..FaultConfig::default()
    };
    let (served, sim) = start(config).await;
    let mut plugin_settings = settings_for(&served, Service::Github, &["owner-1"]);
    plugin_settings.concurrency = 1;
    plugin_settings.retry = RetryPolicy {
        base_delay: std::time::Duration::from_millis(1),
        max_delay: std::time::Duration::from_millis(2),
        max_attempts: 3,
        max_total_wait: std::time::Duration::from_secs(1),
    };
    let plugin = Arc::new(CodecovPlugin::new(plugin_settings).expect("plugin"));
    let (items, errors) = fetch_all(&plugin, "flag").await;
    assert!(
        !errors.is_empty(),
        "the burst outlasted the retries for some repository"
    );
    assert!(
        errors.iter().all(|e| e.scope.starts_with("repository owner-1/")),
        "{errors:?}"
    );
    assert!(
        errors[0].message.contains("gave up after 3 attempt(s)"),
        "{}",
        errors[0].message
    );
    let failed: Vec<&str> = errors
        .iter()
        .filter_map(|e| e.scope.strip_prefix("repository owner-1/"))
        .collect();
    let flags_elsewhere: usize = sim.dataset().owners[0]
        .repos
        .iter()
        .filter(|r| r.active && !failed.contains(&r.name.as_str()))
        .map(|r| r.flags.len())
        .sum();
    assert_eq!(items.len(), flags_elsewhere);
}

#[tokio::test]
async fn a_webhook_becomes_coverage_and_its_pull_read_from_the_api() {
    let mut config = CodecovSimConfig::generated(0, 0, 1);
    config.dataset.add_from_payload(&seed_example_payload());
    let (served, _sim) = start(config).await;
    let plugin = plugin(&served, &["slanks"], 20, DEFAULT_TOKEN);
    let payload = seed_example_payload();
    let mut headers = BTreeMap::new();
    headers.insert("user-agent".to_string(), "Codecov".to_string());
    let text = serde_json::to_vec(&payload).expect("the seed payload as text");
    assert!(plugin.recognises_webhook(&headers, &text));
    assert!(!plugin.recognises_webhook(&BTreeMap::new(), br#"{"hello": "world"}"#));

    let items = webhook_items(&plugin, &payload).await;
    let kinds: Vec<&str> = items
        .iter()
        .filter_map(|i| i.as_ref().ok())
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(kinds, ["coverage", "pull"]);
    let (_, pull) = items[1].as_ref().expect("pull item");
    assert_eq!(pull["pullid"], 11);
    assert_eq!(pull["state"], "open");
    assert_eq!(pull["__repository"]["name"], "codecov-example");

    let mut without_pull = payload.clone();
    without_pull["pull"] = Value::Null;
    assert_eq!(webhook_items(&plugin, &without_pull).await.len(), 1);
}

/// Point 5: `compare.coverage` is rounded as the repository's Codecov YAML
/// says; the plugin's settings stand for that YAML, Codecov's defaults
/// (down, 2 places) when unset, so resync items equal the webhook's.
#[tokio::test]
async fn compare_is_rounded_as_the_repositorys_codecov_yaml_says() {
    let (served, sim) = start(CodecovSimConfig::generated(1, 40, 13)).await;
    let compares = |plugin: Arc<CodecovPlugin>, sim: Arc<CodecovSim>| async move {
        let (items, errors) = fetch_all(&plugin, "coverage").await;
        assert!(errors.is_empty(), "{errors:?}");
        let mut pairs = Vec::new();
        for item in &items {
            let repo = item["repo"]["name"].as_str().expect("repo");
            let payload = sim.webhook_payload("owner-1", repo, false).expect("payload");
            pairs.push((item["compare"].clone(), payload["compare"].clone()));
        }
        pairs
    };
    // Codecov's site default: down, 2 places (100 - 97.22222 is 2.77).
    let defaults = compares(plugin(&served, &["owner-1"], 100, DEFAULT_TOKEN), sim.clone()).await;
    assert!(defaults.len() > 20);
    for (item, payload) in &defaults {
        assert_eq!(item, payload);
    }
    assert!(
        defaults
            .iter()
            .any(|(item, _)| item["coverage"].as_str().is_some_and(|c| c.len() > 3)),
        "{defaults:?}"
    );

    // A repository YAML with `coverage: {round: nearest, precision: 4}`.
    sim.edit(|d| {
        for repo in &mut d.owners[0].repos {
            repo.yaml.round = Some("nearest".into());
            repo.yaml.precision = Some(4);
        }
    });
    let stale = compares(plugin(&served, &["owner-1"], 100, DEFAULT_TOKEN), sim.clone()).await;
    assert!(
        stale.iter().any(|(item, payload)| item != payload),
        "without the settings the rounding differs"
    );
    let mut settings = settings_for(&served, Service::Github, &["owner-1"]);
    settings.coverage_round = Rounding::Nearest;
    settings.coverage_precision = 4;
    let configured = Arc::new(CodecovPlugin::new(settings).expect("plugin"));
    for (item, payload) in compares(configured, sim.clone()).await {
        assert_eq!(item, payload);
    }
}

/// Point 7: GitLab commit links are `https://gitlab.com/{owner, ':' as '/'}/{repo}/commit/{sha}`.
#[tokio::test]
async fn gitlab_commit_links_are_codecovs() {
    let mut config = CodecovSimConfig::generated(1, 6, 17);
    config.dataset.service = "gitlab".into();
    config.dataset.owners[0].username = "group:sub".into();
    let (served, sim) = start(config).await;
    let settings = settings_for(&served, Service::Gitlab, &["group:sub"]);
    let plugin = Arc::new(CodecovPlugin::new(settings).expect("plugin"));
    let (items, errors) = fetch_all(&plugin, "coverage").await;
    assert!(errors.is_empty(), "{errors:?}");
    assert!(!items.is_empty());
    for item in &items {
        let repo = item["repo"]["name"].as_str().expect("repo");
        let payload = sim.webhook_payload("group:sub", repo, false).expect("payload");
        let link = payload["head"]["service_url"].as_str().expect("link");
        assert!(link.starts_with("https://gitlab.com/group/sub/"), "{link}");
        assert_eq!(item["head"]["service_url"], payload["head"]["service_url"]);
        assert_eq!(item["repo"]["url"], payload["repo"]["url"]);
    }
}

/// Point 6: the `coverage` entity means the default branch, as resyncs build
/// it. A webhook for another branch does not overwrite it, unless the
/// resource follows every branch (`followBranches: all`).
#[tokio::test]
async fn webhooks_for_other_branches_leave_the_default_branch_entity_alone() {
    let (served, sim) = start(CodecovSimConfig::generated(1, 6, 19)).await;
    let plugin = plugin(&served, &["owner-1"], 20, DEFAULT_TOKEN);
    let repo = sim.dataset().owners[0]
        .repos
        .iter()
        .find(|r| r.active && r.commits.iter().any(|c| c.state == "complete"))
        .map(|r| r.name.clone())
        .expect("a covered repository");
    let on_default = sim.webhook_payload("owner-1", &repo, false).expect("payload");
    let kinds = |items: &Vec<Result<(String, Value), FetchError>>| -> Vec<String> {
        items
            .iter()
            .filter_map(|i| i.as_ref().ok())
            .map(|(k, _)| k.clone())
            .collect()
    };
    assert_eq!(kinds(&webhook_items(&plugin, &on_default).await), ["coverage"]);

    let mut on_feature = on_default.clone();
    on_feature["head"]["branch"] = json!("feature/x");
    let items = webhook_items(&plugin, &on_feature).await;
    assert!(kinds(&items).is_empty(), "{items:?}");
    assert!(items.iter().all(|i| i.is_ok()), "not a failure: {items:?}");

    // The resync reads the selector; webhooks follow it from then on.
    let mut selector = Map::new();
    selector.insert("followBranches".into(), json!("all"));
    let (resynced, errors) = fetch_with(&plugin, "coverage", selector).await;
    assert!(errors.is_empty(), "{errors:?}");
    assert!(!resynced.is_empty());
    assert_eq!(kinds(&webhook_items(&plugin, &on_feature).await), ["coverage"]);

    let mut bad = Map::new();
    bad.insert("followBranches".into(), json!("some"));
    let (_, errors) = fetch_with(&plugin, "coverage", bad).await;
    assert!(errors[0].message.contains("followBranches"), "{errors:?}");
}
