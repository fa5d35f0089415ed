//! The Port client against the Port simulator: request counts, faults, limits
//! and per-entity errors. Every entity must land exactly once or be reported.

mod common;

use std::collections::{BTreeSet, VecDeque};

use common::*;
use ocean_port::{OwnedFilter, PortClient, PortSettings, UpsertOptions};
use ocean_sim::faults::{Fault, FaultConfig};
use ocean_sim::port::PortSimConfig;
use ocean_support::secret::Secret;
use ocean_testkit::harness::port_requests;
use serde_json::{Value, json};

fn identifiers_in_sim(sim: &ocean_sim::port::PortSim) -> Vec<String> {
    sim.entities("codecov_coverage")
        .iter()
        .filter_map(|e| e["identifier"].as_str().map(String::from))
        .collect()
}

fn expected_identifiers(count: usize) -> Vec<String> {
    (0..count).map(|n| format!("org/repo-{n:05}")).collect()
}

#[tokio::test]
async fn a_thousand_entities_cost_fifty_bulk_requests_and_one_token() {
    let (served, sim) = start_sim(PortSimConfig::default()).await;
    let client = client_for(&served);
    let entities: Vec<_> = (0..1000).map(|n| coverage_entity(n, 700)).collect();
    let size = serde_json::to_vec(&entities[0]).expect("encodes").len();
    assert!((650..=750).contains(&size), "entity is {size} bytes");

    let report = upsert_all(&client, &entities).await;

    assert!(report.failed.is_empty(), "{:?}", report.failed.first());
    assert_eq!(report.landed.len(), 1000);
    assert_eq!(port_requests(&sim, "POST", "/entities/bulk"), 50);
    assert_eq!(port_requests(&sim, "POST", "/auth/access_token"), 1);
    assert_eq!(
        sim.log().snapshot().len(),
        51,
        "nothing but the token and the bulk requests"
    );
    assert_eq!(identifiers_in_sim(&sim), expected_identifiers(1000));
    let agent = sim.log().snapshot()[1].user_agent.clone();
    assert_eq!(
        agent,
        format!(
            "port-ocean/codecov/{}/codecov/exporter",
            env!("CARGO_PKG_VERSION")
        )
    );
    assert!(
        sim.entities("codecov_coverage")
            .iter()
            .all(|e| e["datasource"] == json!(agent))
    );
}

#[tokio::test]
async fn a_fifth_of_requests_failing_still_lands_every_entity_once() {
    let faults = FaultConfig {
        // Each kind at least once for sure, then a fifth of requests at random.
        script: VecDeque::from([
            Fault::Status(429),
            Fault::Pass,
            Fault::Reset,
            Fault::Pass,
            Fault::Status(503),
        ]),
        rate: 0.2,
        kinds: vec![Fault::Status(429), Fault::Status(503), Fault::Reset],
        retry_after_secs: 0,
        ..FaultConfig::default()
    };
    let (served, sim) = start_sim_with(faults).await;
    let client = client_for(&served);
    let entities: Vec<_> = (0..1000).map(|n| coverage_entity(n, 700)).collect();

    let report = upsert_all(&client, &entities).await;

    assert!(report.failed.is_empty(), "{:?}", report.failed.first());
    let landed: BTreeSet<_> = report.landed.iter().map(|l| l.identifier.clone()).collect();
    assert_eq!(landed.len(), 1000);
    assert_eq!(
        identifiers_in_sim(&sim),
        expected_identifiers(1000),
        "the same 1,000, none extra"
    );
    let log = sim.log().snapshot();
    let faulted = log.iter().filter(|r| r.fault.is_some()).count();
    assert!(faulted >= 3, "faults were injected");
    for kind in ["429", "503", "reset"] {
        assert!(
            log.iter().any(|r| r.fault.as_deref() == Some(kind)),
            "a {kind} was injected"
        );
    }
}

#[tokio::test]
async fn an_oversized_entity_gets_ports_413_alone_and_the_rest_land() {
    let (served, sim) = start_sim(PortSimConfig::default()).await;
    let client = client_for(&served);
    let mut entities: Vec<_> = (0..33).map(|n| coverage_entity(n, 50 * 1024)).collect();
    entities.insert(13, coverage_entity(99_999, 1536 * 1024));
    let total: usize = entities
        .iter()
        .map(|e| serde_json::to_vec(e).expect("encodes").len())
        .sum();
    assert!(total > 3 * 1024 * 1024, "{total} bytes in all");

    let report = upsert_all(&client, &entities).await;

    assert_eq!(report.failed.len(), 1, "{:?}", report.failed);
    let failure = &report.failed[0];
    assert_eq!(failure.identifier, "org/repo-99999");
    assert_eq!(failure.status, Some(413));
    assert!(failure.message.contains("too large"), "{}", failure.message);
    assert_eq!(report.landed.len(), 33);
    assert_eq!(identifiers_in_sim(&sim), expected_identifiers(33));
    assert!(
        sim.log()
            .snapshot()
            .iter()
            .all(|r| r.request_bytes <= 1024 * 1024 || r.status == 413)
    );
}

#[tokio::test]
async fn a_207_reports_each_refused_entity_and_is_not_retried() {
    let (served, sim) = start_sim(PortSimConfig::default()).await;
    let client = client_for(&served);
    let mut entities: Vec<_> = (0..25).map(|n| coverage_entity(n, 300)).collect();
    entities[3].properties.insert("files".into(), json!("three"));
    entities[21].properties.insert("unknown".into(), json!(1));

    let report = upsert_all(&client, &entities).await;

    let failed: Vec<_> = report
        .failed
        .iter()
        .map(|f| (f.identifier.as_str(), f.status))
        .collect();
    assert_eq!(
        failed,
        [("org/repo-00003", Some(422)), ("org/repo-00021", Some(422))]
    );
    assert!(
        report.failed[0].message.contains("files"),
        "{}",
        report.failed[0].message
    );
    assert_eq!(report.landed.len(), 23);
    assert_eq!(port_requests(&sim, "POST", "/entities/bulk"), 2, "no blind retry");
    assert_eq!(sim.log().snapshot().iter().filter(|r| r.status == 207).count(), 2);
}

#[tokio::test]
async fn bursts_of_503_and_resets_are_retried() {
    let faults = FaultConfig {
        script: VecDeque::from([
            Fault::Status(503),
            Fault::Status(503),
            Fault::Reset,
            Fault::Status(502),
        ]),
        ..FaultConfig::default()
    };
    let (served, sim) = start_sim_with(faults).await;
    let client = client_for(&served);
    let entities: Vec<_> = (0..40).map(|n| coverage_entity(n, 500)).collect();

    let report = upsert_all(&client, &entities).await;

    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(identifiers_in_sim(&sim), expected_identifiers(40));
    let statuses: Vec<u16> = sim.log().snapshot().iter().map(|r| r.status).collect();
    assert_eq!(
        &statuses[..4],
        [503, 503, 200, 502],
        "token call retried through the burst and the reset"
    );
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once_and_the_call_goes_on() {
    let (served, sim) = start_sim(PortSimConfig::default()).await;
    let client = client_for(&served);
    let first: Vec<_> = (0..5).map(|n| coverage_entity(n, 300)).collect();
    client
        .upsert_entities(&first, UpsertOptions::default())
        .await
        .expect("first upsert");
    sim.expire_tokens();

    let second: Vec<_> = (5..10).map(|n| coverage_entity(n, 300)).collect();
    let report = client
        .upsert_entities(&second, UpsertOptions::default())
        .await
        .expect("second upsert");

    assert_eq!(report.landed.len(), 5);
    let calls: Vec<(String, u16)> = sim
        .log()
        .snapshot()
        .iter()
        .map(|r| (r.path.rsplit('/').next().unwrap_or("").into(), r.status))
        .collect();
    let tail: Vec<(&str, u16)> = calls[calls.len() - 3..]
        .iter()
        .map(|(p, s)| (p.as_str(), *s))
        .collect();
    assert_eq!(tail, [("bulk", 401), ("access_token", 200), ("bulk", 200)]);
    assert_eq!(identifiers_in_sim(&sim), expected_identifiers(10));
}

#[tokio::test]
async fn other_client_errors_are_not_retried_and_carry_ports_body() {
    let (served, sim) = start_sim(PortSimConfig::default()).await;
    let client = client_for(&served);
    let mut entity = coverage_entity(1, 300);
    entity.blueprint = "no_such_blueprint".into();

    let error = client
        .upsert_entity(&entity, UpsertOptions::default())
        .await
        .expect_err("404");

    assert_eq!(error.status().map(|s| s.as_u16()), Some(404));
    let text = error.to_string();
    assert!(
        text.contains("POST /v1/blueprints/no_such_blueprint/entities"),
        "{text}"
    );
    assert!(
        text.contains("not_found") && text.contains("was not found"),
        "{text}"
    );
    assert_eq!(port_requests(&sim, "POST", "/entities"), 1);
}

#[tokio::test]
async fn wrong_credentials_fail_without_leaking_the_secret() {
    let (served, _sim) = start_sim(PortSimConfig::default()).await;
    let mut settings = settings_for(&served);
    settings.client_secret = Secret::new("hunter2-wrong");
    let client = PortClient::new(settings).expect("client builds");

    let error = client
        .upsert_entities(&[coverage_entity(1, 300)], UpsertOptions::default())
        .await
        .expect_err("401");

    assert!(error.is_fatal());
    let shown = format!("{error} {error:?} {:?}", client.settings());
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("401"), "{shown}");
}

#[tokio::test]
async fn rate_limit_429_with_retry_after_is_waited_out() {
    let config = PortSimConfig {
        rate_limit: 3,
        rate_period: std::time::Duration::from_secs(1),
        ..Default::default()
    };
    let (served, sim) = start_sim(config).await;
    let client = client_for(&served);
    let entities: Vec<_> = (0..100).map(|n| coverage_entity(n, 300)).collect();

    let report = upsert_all(&client, &entities).await;

    assert!(report.failed.is_empty(), "{:?}", report.failed.first());
    assert_eq!(identifiers_in_sim(&sim), expected_identifiers(100));
    let log = sim.log().snapshot();
    assert!(
        log.iter().any(|r| r.status == 429),
        "the budget of 3 per second was exceeded"
    );
}

#[tokio::test]
async fn owned_entities_are_found_by_datasource_across_pages_and_deleted_in_hundreds() {
    let (served, sim) = start_sim(PortSimConfig::default()).await;
    let client = client_for(&served);
    let entities: Vec<_> = (0..2100).map(|n| coverage_entity(n, 200)).collect();
    client
        .upsert_entities(&entities, UpsertOptions::default())
        .await
        .expect("upsert");
    let other = PortSettings::new(
        served.url(),
        "test-client",
        Secret::new("test-secret"),
        "codecov",
        "another-codecov",
    );
    let other = PortClient::new(other).expect("client builds");
    let theirs: Vec<_> = (5000..5003).map(|n| coverage_entity(n, 200)).collect();
    other
        .upsert_entities(&theirs, UpsertOptions::default())
        .await
        .expect("upsert");

    sim.log().clear();
    let owned = client
        .owned_identifiers("codecov_coverage", &OwnedFilter::default())
        .await
        .expect("search");
    assert_eq!(owned, expected_identifiers(2100), "ours only, in three pages");
    assert_eq!(port_requests(&sim, "POST", "/entities/search"), 3);

    let cutoff = (jiff::Timestamp::now() + jiff::SignedDuration::from_secs(1)).to_string();
    let stale = client
        .owned_identifiers(
            "codecov_coverage",
            &OwnedFilter {
                updated_before: Some(&cutoff),
                ..Default::default()
            },
        )
        .await
        .expect("search");
    assert_eq!(stale.len(), 2100);
    let none_before = client
        .owned_identifiers(
            "codecov_coverage",
            &OwnedFilter {
                updated_before: Some("2000-01-01T00:00:00Z"),
                ..Default::default()
            },
        )
        .await
        .expect("search");
    assert!(none_before.is_empty());

    sim.log().clear();
    let report = client
        .delete_entities("codecov_coverage", &owned[..250], false)
        .await
        .expect("delete");
    assert_eq!(report.deleted.len(), 250);
    assert!(report.failed.is_empty());
    assert_eq!(port_requests(&sim, "POST", "/bulk/entities/delete"), 3);
    assert_eq!(sim.entities("codecov_coverage").len(), 2100 - 250 + 3);
}

#[tokio::test]
async fn deletes_refused_for_dependents_are_reported() {
    let (served, sim) = start_sim(PortSimConfig::default()).await;
    sim.add_blueprint(
        json!({"identifier": "service", "title": "Service", "schema": {"properties": {}},
        "relations": {"coverage": {"target": "codecov_coverage", "many": false, "title": "Coverage"}}}),
    );
    let client = client_for(&served);
    client
        .upsert_entities(&[coverage_entity(1, 300)], UpsertOptions::default())
        .await
        .expect("upsert");
    let mut service = coverage_entity(0, 0);
    service.blueprint = "service".into();
    service.identifier = json!("svc");
    service.properties.clear();
    service
        .relations
        .insert("coverage".into(), json!("org/repo-00001"));
    let landed = client
        .upsert_entities(&[service], UpsertOptions::default())
        .await
        .expect("upsert");
    assert!(landed.failed.is_empty(), "{:?}", landed.failed);

    let ids = vec!["org/repo-00001".to_string()];
    let refused = client
        .delete_entities("codecov_coverage", &ids, false)
        .await
        .expect("delete call");
    assert_eq!(refused.failed.len(), 1);
    assert_eq!(refused.failed[0].status, Some(422));
    let done = client
        .delete_entities("codecov_coverage", &ids, true)
        .await
        .expect("delete call");
    assert_eq!(done.deleted, ids);
    assert!(sim.entities("service").is_empty(), "the dependent went with it");
}

#[tokio::test]
async fn relations_to_missing_entities_need_create_missing_related_entities() {
    let (served, sim) = start_sim(PortSimConfig::default()).await;
    sim.add_blueprint(
        json!({"identifier": "service", "title": "Service", "schema": {"properties": {}},
        "relations": {"coverage": {"target": "codecov_coverage", "many": false, "title": "Coverage"}}}),
    );
    let client = client_for(&served);
    let mut service = coverage_entity(0, 0);
    service.blueprint = "service".into();
    service.identifier = json!("svc");
    service.properties.clear();
    service.relations.insert("coverage".into(), json!("org/not-yet"));

    let refused = client
        .upsert_entities(std::slice::from_ref(&service), UpsertOptions::default())
        .await
        .expect("call");
    assert_eq!(refused.failed.len(), 1);
    assert_eq!(refused.failed[0].status, Some(404));
    let options = UpsertOptions {
        create_missing_related_entities: true,
        ..Default::default()
    };
    let created = client.upsert_entities(&[service], options).await.expect("call");
    assert!(created.failed.is_empty());
    assert_eq!(identifiers_in_sim(&sim), ["org/not-yet"]);
}

#[tokio::test]
async fn merge_keeps_fields_not_sent_and_replace_drops_them() {
    let (served, sim) = start_sim(PortSimConfig::default()).await;
    let client = client_for(&served);
    client
        .upsert_entities(&[coverage_entity(1, 300)], UpsertOptions::default())
        .await
        .expect("upsert");
    let mut partial = coverage_entity(1, 0);
    partial.properties.retain(|k, _| k == "branch");
    partial.properties.insert("branch".into(), json!("dev"));

    let merge = UpsertOptions {
        merge: true,
        ..Default::default()
    };
    client.upsert_entity(&partial, merge).await.expect("merge");
    let stored = &sim.entities("codecov_coverage")[0];
    assert_eq!(stored["properties"]["branch"], "dev");
    assert_eq!(stored["properties"]["files"], 1, "merge kept the rest");

    client
        .upsert_entity(&partial, UpsertOptions::default())
        .await
        .expect("replace");
    let stored = &sim.entities("codecov_coverage")[0];
    assert_eq!(
        stored["properties"],
        json!({"branch": "dev"}),
        "replace dropped the rest"
    );
}

#[tokio::test]
async fn blueprints_and_the_integration_record_are_set_up_once() {
    let (served, sim) = start_sim(PortSimConfig::default()).await;
    let client = client_for(&served);
    let mut fresh = default_blueprints();
    fresh.push(json!({"identifier": "codecov_repo", "title": "Repo", "schema": {"properties": {}}}));

    let created = client.ensure_blueprints(&fresh).await.expect("blueprints");
    assert_eq!(created, ["codecov_repo"], "existing blueprints are left alone");
    assert!(client.get_blueprint("codecov_repo").await.expect("get").is_some());
    assert!(client.get_blueprint("nope").await.expect("get").is_none());

    assert!(client.get_integration().await.expect("get").is_none());
    let config = json!({"deleteDependentEntities": true, "resources": []});
    let integration = client.ensure_integration(&config).await.expect("create");
    assert_eq!(integration["installationAppType"], "codecov");
    let again = client
        .ensure_integration(&json!({"resources": ["ignored"]}))
        .await
        .expect("get");
    assert_eq!(again["config"], config);

    let edited = json!({"deleteDependentEntities": false, "resources": [{"kind": "coverage"}]});
    client.patch_integration_config(&edited).await.expect("config");
    assert_eq!(sim.integration("codecov").expect("registered")["config"], edited);
    client.request_resync().await.expect("resync");
    assert_eq!(sim.resync_requests(), 1);
    let _ = Value::Null;
}

#[tokio::test]
async fn a_413_on_a_batch_splits_it_until_each_part_fits() {
    let (served, sim) = start_sim(PortSimConfig::default()).await;
    let mut settings = settings_for(&served);
    // Misconfigured above Port's real limit: only Port's 413 tells the truth.
    settings.max_body_bytes = 8 * 1024 * 1024;
    let client = PortClient::new(settings).expect("client builds");
    let entity_size = 120 * 1024;
    let entities: Vec<_> = (0..20).map(|n| coverage_entity(n, entity_size)).collect();

    let report = upsert_all(&client, &entities).await;

    assert!(report.failed.is_empty(), "{:?}", report.failed.first());
    assert_eq!(identifiers_in_sim(&sim), expected_identifiers(20));
    let sizes: Vec<(u16, usize)> = sim
        .log()
        .snapshot()
        .iter()
        .filter(|r| r.path.ends_with("/bulk"))
        .map(|r| {
            (
                r.status,
                (r.request_bytes as f64 / entity_size as f64).round() as usize,
            )
        })
        .collect();
    // 20 → 10 + 10 (each over 1 MiB) → 5 + 5 + 5 + 5.
    assert_eq!(
        sizes,
        [
            (413, 20),
            (413, 10),
            (200, 5),
            (200, 5),
            (413, 10),
            (200, 5),
            (200, 5)
        ]
    );
    assert_eq!(report.requests, 7);
}
