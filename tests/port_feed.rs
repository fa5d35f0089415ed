//! What the integration feeds Port besides entities (raw data examples, log
//! lines, sync metrics), sent by the Port client to the simulator, which keeps
//! it and shows it on its admin routes.

mod common;

use common::*;
use ocean_port::KIND_EXAMPLES_LIMIT;
use ocean_sim::port::PortSimConfig;
use serde_json::{Value, json};

async fn admin(served: &ocean_sim::Served, route: &str) -> Value {
    reqwest::get(format!("{}/_admin/{route}", served.url()))
        .await
        .expect("admin route answers")
        .json()
        .await
        .expect("admin JSON")
}

#[tokio::test]
async fn examples_logs_and_sync_metrics_reach_the_simulator() {
    let (served, _sim) = start_sim(PortSimConfig::default()).await;
    let client = client_for(&served);
    client
        .ensure_integration(&json!({"resources": []}))
        .await
        .expect("registered");

    // Examples: at most Ocean's five, with the client secret and credential fields masked.
    let items: Vec<Value> = (0..8)
        .map(|n| json!({"name": format!("repo-{n}"), "upload_token": "abc123", "note": "key test-secret here"}))
        .collect();
    let sent = client
        .ingest_kind_examples("repository", &items)
        .await
        .expect("examples");
    assert_eq!(sent, KIND_EXAMPLES_LIMIT);
    let examples = admin(&served, "examples").await;
    let kept = examples["codecov"]["repository"]
        .as_array()
        .expect("examples kept per kind");
    assert_eq!(kept.len(), KIND_EXAMPLES_LIMIT);
    assert_eq!(kept[0]["name"], "repo-0");
    assert_eq!(kept[0]["upload_token"], "[REDACTED]");
    assert_eq!(kept[0]["note"], "key [REDACTED] here");

    // Logs go to the ingest URL the integration record names.
    let urls = client.ingest_urls().await.expect("ingest URLs");
    assert!(urls.logs.starts_with(&served.url()), "{urls:?}");
    let line =
        json!({"message": "hello", "level": "INFO", "timestamp": "2026-01-01T00:00:00.000000Z", "extra": {}});
    client
        .ingest_logs(std::slice::from_ref(&line))
        .await
        .expect("logs");
    assert_eq!(admin(&served, "logs").await["codecov"], json!([line]));

    // Sync metrics: announced, then one kind put; the simulator keeps Port's dates.
    let record = |state: &str, count: u64| {
        json!({"integrationType": "codecov", "integrationIdentifier": "codecov", "integrationVersion": "0.1.0",
            "oceanVersion": "0.1.0", "kindIdentifier": "repository-0", "kind": "repository", "kindIndex": 0,
            "eventId": "ev/1", "syncState": state, "blueprint": "codecov_repository",
            "metrics": {"phase": {"extract": {"object_count_type": {"raw_extracted": {"object_count": count}}}}}})
    };
    client
        .post_sync_metrics(&[record("pending", 0)])
        .await
        .expect("post");
    client
        .put_kind_sync_metrics(&record("completed", 8))
        .await
        .expect("put");
    let metrics = admin(&served, "sync-metrics").await;
    let records = metrics["codecov"].as_array().expect("records");
    assert_eq!(records.len(), 1, "{metrics}");
    assert_eq!(records[0]["syncState"], "completed");
    assert_eq!(
        records[0]["metrics"]["phase"]["extract"]["object_count_type"]["raw_extracted"]["object_count"],
        8
    );
    assert!(records[0]["createdAt"].is_string() && records[0]["updatedAt"].is_string());

    // A record off Port's documented shape is refused.
    let mut bad = record("completed", 1);
    bad["metrics"]["phase"]["fetch"] = json!({});
    let refused = client.put_kind_sync_metrics(&bad).await.expect_err("422");
    assert_eq!(refused.status().map(|s| s.as_u16()), Some(422));
}
