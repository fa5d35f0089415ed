//! What an integration feeds Port besides entities, on the routes Ocean's
//! Port client uses (outside Port's public spec): raw data examples per kind,
//! log lines and per-kind sync metrics. The integration record carries the
//! log and metric ingest URLs, as Port's does; the simulator serves both on
//! its own address. Everything received is kept and shown on `/_admin/`.
//! Sync metrics are held to the shape Port's spec documents for reading them
//! back (`GET /v1/integration/{id}/syncMetrics`).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::{Map, Value, json};

use super::refusal::{Refusal, invalid, json_object};
use super::store::rfc3339;
use super::{
    INTEGRATION_KIND_EXAMPLES, LOG_INGEST, METRICS_HEARTBEAT, METRICS_INGEST, METRICS_KIND_INGEST, PortSim,
};

/// What the simulator has been sent, per integration.
#[derive(Default)]
pub struct FeedRecords {
    /// The latest examples per (integration, kind), as Port keeps them.
    pub examples: BTreeMap<(String, String), Vec<Value>>,
    /// Log lines per ingest id, in arrival order.
    pub logs: BTreeMap<String, Vec<Value>>,
    /// Sync metrics per ingest id, per (eventId, kindIdentifier), with Port's dates.
    pub sync_metrics: BTreeMap<String, BTreeMap<(String, String), Value>>,
    /// Which integration an ingest id belongs to.
    pub ingest_ids: BTreeMap<String, String>,
    /// Heartbeats per ingest id: (event id, when received), in arrival order.
    pub heartbeats: BTreeMap<String, Vec<(String, jiff::Timestamp)>>,
}

pub fn routes() -> Router<Arc<PortSim>> {
    Router::new()
        .route(INTEGRATION_KIND_EXAMPLES, post(post_examples))
        .route(LOG_INGEST, post(post_logs))
        .route(METRICS_INGEST, post(post_sync_metrics))
        .route(METRICS_KIND_INGEST, put(put_kind_sync_metrics))
        .route(METRICS_HEARTBEAT, post(post_heartbeat))
        .route("/_admin/examples", get(admin_examples))
        .route("/_admin/heartbeats", get(admin_heartbeats))
        .route("/_admin/logs", get(admin_logs))
        .route("/_admin/sync-metrics", get(admin_sync_metrics))
}

/// Gives a new integration record its ingest attributes, with URLs on the
/// address the client reached the simulator at.
pub fn attach_ingest(sim: &PortSim, integration: &mut Map<String, Value>, headers: &HeaderMap) {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let identifier = integration
        .get("identifier")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let ingest_id = format!("{:016x}", rand::random::<u64>());
    integration.insert(
        "logAttributes".into(),
        json!({"ingestId": ingest_id, "ingestUrl": format!("http://{host}/logs/integration/{ingest_id}")}),
    );
    integration.insert(
        "metricAttributes".into(),
        json!({"ingestId": ingest_id, "ingestUrl": format!("http://{host}/metrics/integration/{ingest_id}")}),
    );
    sim.feed().ingest_ids.insert(ingest_id, identifier);
}

fn ok() -> Result<Response, Refusal> {
    Ok((StatusCode::OK, axum::Json(json!({"ok": true}))).into_response())
}

fn not_found(what: &str, id: &str) -> Refusal {
    Refusal::new(404, "not_found", format!("{what} \"{id}\" was not found"))
}

fn array_field(body: &Map<String, Value>, name: &str) -> Result<Vec<Value>, Refusal> {
    if let Some(extra) = body.keys().find(|k| k.as_str() != name) {
        return Err(invalid(format!(
            "body must NOT have additional property \"{extra}\""
        )));
    }
    match body.get(name) {
        Some(Value::Array(items)) => Ok(items.clone()),
        _ => Err(invalid(format!(
            "body must have required property '{name}' (an array)"
        ))),
    }
}

async fn post_examples(
    State(sim): State<Arc<PortSim>>,
    Path((identifier, kind)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, Refusal> {
    let examples = array_field(&json_object(&body)?, "examples")?;
    if !sim.store().integrations.contains_key(&identifier) {
        return Err(not_found("Integration", &identifier));
    }
    sim.feed().examples.insert((identifier, kind), examples);
    ok()
}

fn integration_of(sim: &PortSim, ingest_id: &str) -> Result<String, Refusal> {
    sim.feed()
        .ingest_ids
        .get(ingest_id)
        .cloned()
        .ok_or_else(|| not_found("Ingest id", ingest_id))
}

async fn post_logs(
    State(sim): State<Arc<PortSim>>,
    Path(ingest_id): Path<String>,
    body: Bytes,
) -> Result<Response, Refusal> {
    let logs = array_field(&json_object(&body)?, "logs")?;
    for (n, line) in logs.iter().enumerate() {
        for field in ["message", "level", "timestamp"] {
            if !line.get(field).is_some_and(Value::is_string) {
                return Err(invalid(format!(
                    "body/logs/{n} must have required property '{field}' (a string)"
                )));
            }
        }
    }
    integration_of(&sim, &ingest_id)?;
    sim.feed().logs.entry(ingest_id).or_default().extend(logs);
    ok()
}

const PHASES: &[&str] = &["resync", "load", "extract", "transform", "delete"];
const COUNT_TYPES: &[&str] = &[
    "skipped",
    "failed",
    "loaded",
    "raw_extracted",
    "transformed",
    "filtered_out",
    "deleted",
];
const REQUIRED: &[&str] = &[
    "integrationType",
    "integrationIdentifier",
    "integrationVersion",
    "oceanVersion",
    "kindIdentifier",
    "kind",
    "eventId",
    "syncState",
    "metrics",
];

/// Holds a kind's metrics to the shape Port documents for reading them back.
fn check_kind_metrics(at: &str, kind: &Value) -> Result<(), Refusal> {
    let bad = |what: String| Err(invalid(format!("{at}{what}")));
    let Some(object) = kind.as_object() else {
        return bad(" must be object".into());
    };
    for field in REQUIRED {
        if !object.contains_key(*field) {
            return bad(format!(" must have required property '{field}'"));
        }
    }
    for field in REQUIRED
        .iter()
        .filter(|f| **f != "metrics")
        .chain(["blueprint"].iter())
    {
        if object.get(*field).is_some_and(|v| !v.is_string()) {
            return bad(format!("/{field} must be string"));
        }
    }
    if object.get("kindIndex").is_some_and(|v| !v.is_number()) {
        return bad("/kindIndex must be number".into());
    }
    let Some(phases) = kind["metrics"].get("phase").and_then(Value::as_object) else {
        return bad("/metrics must have required property 'phase' (an object)".into());
    };
    for (phase, figures) in phases {
        if !PHASES.contains(&phase.as_str()) {
            return bad(format!(
                "/metrics/phase must NOT have additional property \"{phase}\""
            ));
        }
        let Some(figures) = figures.as_object() else {
            return bad(format!("/metrics/phase/{phase} must be object"));
        };
        if phase == "resync" {
            for (name, value) in figures {
                if !["duration_seconds", "success"].contains(&name.as_str()) || !value.is_number() {
                    return bad(format!("/metrics/phase/resync/{name} is not a documented number"));
                }
            }
            continue;
        }
        let Some(counts) = figures.get("object_count_type").and_then(Value::as_object) else {
            return bad(format!(
                "/metrics/phase/{phase} must have required property 'object_count_type'"
            ));
        };
        for (count_type, count) in counts {
            if !COUNT_TYPES.contains(&count_type.as_str())
                || !count.get("object_count").is_some_and(Value::is_number)
            {
                return bad(format!(
                    "/metrics/phase/{phase}/object_count_type/{count_type} is not a documented count"
                ));
            }
        }
    }
    Ok(())
}

fn record(sim: &PortSim, ingest_id: &str, kind: Value) {
    let now = rfc3339(jiff::Timestamp::now());
    let key = (
        kind["eventId"].as_str().unwrap_or_default().to_string(),
        kind["kindIdentifier"].as_str().unwrap_or_default().to_string(),
    );
    let mut feed = sim.feed();
    let records = feed.sync_metrics.entry(ingest_id.to_string()).or_default();
    let created = records
        .get(&key)
        .and_then(|r| r.get("createdAt").cloned())
        .unwrap_or_else(|| json!(now));
    let mut stored = kind;
    stored["createdAt"] = created;
    stored["updatedAt"] = json!(now);
    records.insert(key, stored);
}

async fn post_sync_metrics(
    State(sim): State<Arc<PortSim>>,
    Path(ingest_id): Path<String>,
    body: Bytes,
) -> Result<Response, Refusal> {
    let kinds = array_field(&json_object(&body)?, "syncKindsMetrics")?;
    for (n, kind) in kinds.iter().enumerate() {
        check_kind_metrics(&format!("body/syncKindsMetrics/{n}"), kind)?;
    }
    integration_of(&sim, &ingest_id)?;
    for kind in kinds {
        record(&sim, &ingest_id, kind);
    }
    ok()
}

async fn put_kind_sync_metrics(
    State(sim): State<Arc<PortSim>>,
    Path((ingest_id, event_id, kind_identifier)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, Refusal> {
    let body = json_object(&body)?;
    if let Some(extra) = body.keys().find(|k| k.as_str() != "syncKindMetrics") {
        return Err(invalid(format!(
            "body must NOT have additional property \"{extra}\""
        )));
    }
    let kind = body
        .get("syncKindMetrics")
        .cloned()
        .ok_or_else(|| invalid("body must have required property 'syncKindMetrics'"))?;
    check_kind_metrics("body/syncKindMetrics", &kind)?;
    if kind["eventId"] != json!(event_id) || kind["kindIdentifier"] != json!(kind_identifier) {
        return Err(invalid(
            "body/syncKindMetrics must name the event and kind of the path",
        ));
    }
    integration_of(&sim, &ingest_id)?;
    record(&sim, &ingest_id, kind);
    ok()
}

/// A running resync's heartbeat: `{"eventId": "..."}` and nothing else, as Ocean sends it.
async fn post_heartbeat(
    State(sim): State<Arc<PortSim>>,
    Path(ingest_id): Path<String>,
    body: Bytes,
) -> Result<Response, Refusal> {
    let body = json_object(&body)?;
    if let Some(extra) = body.keys().find(|k| k.as_str() != "eventId") {
        return Err(invalid(format!(
            "body must NOT have additional property \"{extra}\""
        )));
    }
    let Some(event_id) = body
        .get("eventId")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
    else {
        return Err(invalid("body must have required property 'eventId' (a string)"));
    };
    integration_of(&sim, &ingest_id)?;
    sim.feed()
        .heartbeats
        .entry(ingest_id)
        .or_default()
        .push((event_id.to_string(), jiff::Timestamp::now()));
    ok()
}

/// Every heartbeat received: `{integration: [{eventId, receivedAt}]}`.
async fn admin_heartbeats(State(sim): State<Arc<PortSim>>) -> Response {
    let feed = sim.feed();
    let mut out = Map::new();
    for (ingest_id, beats) in &feed.heartbeats {
        let integration = feed.ingest_ids.get(ingest_id).cloned().unwrap_or_default();
        let list: Vec<Value> = beats
            .iter()
            .map(|(event_id, at)| json!({"eventId": event_id, "receivedAt": rfc3339(*at)}))
            .collect();
        out.insert(integration, json!(list));
    }
    axum::Json(Value::Object(out)).into_response()
}

/// Every kind's examples: `{integration: {kind: [items]}}`.
async fn admin_examples(State(sim): State<Arc<PortSim>>) -> Response {
    let mut out = Map::new();
    for ((integration, kind), examples) in &sim.feed().examples {
        let slot = out.entry(integration.clone()).or_insert_with(|| json!({}));
        slot[kind] = json!(examples);
    }
    axum::Json(Value::Object(out)).into_response()
}

/// Every log line received: `{integration: [lines]}`.
async fn admin_logs(State(sim): State<Arc<PortSim>>) -> Response {
    let feed = sim.feed();
    let mut out = Map::new();
    for (ingest_id, lines) in &feed.logs {
        let integration = feed.ingest_ids.get(ingest_id).cloned().unwrap_or_default();
        out.insert(integration, json!(lines));
    }
    axum::Json(Value::Object(out)).into_response()
}

/// Every sync metric record: `{integration: [records]}`, oldest event first.
async fn admin_sync_metrics(State(sim): State<Arc<PortSim>>) -> Response {
    let feed = sim.feed();
    let mut out = Map::new();
    for (ingest_id, records) in &feed.sync_metrics {
        let integration = feed.ingest_ids.get(ingest_id).cloned().unwrap_or_default();
        let mut list: Vec<&Value> = records.values().collect();
        list.sort_by(|a, b| a["createdAt"].as_str().cmp(&b["createdAt"].as_str()));
        out.insert(integration, json!(list));
    }
    axum::Json(Value::Object(out)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_metrics_are_held_to_ports_documented_shape() {
        let good = json!({
            "integrationType": "codecov", "integrationIdentifier": "codecov", "integrationVersion": "1",
            "oceanVersion": "1", "kindIdentifier": "repository-0", "kind": "repository", "kindIndex": 0,
            "eventId": "e", "syncState": "completed", "blueprint": "codecov_repository",
            "metrics": {"phase": {
                "resync": {"duration_seconds": 1.5, "success": 1},
                "extract": {"object_count_type": {"raw_extracted": {"object_count": 3}}},
            }},
        });
        assert!(check_kind_metrics("k", &good).is_ok());
        let mut bad = good.clone();
        bad["metrics"]["phase"]["fetch"] = json!({});
        assert!(check_kind_metrics("k", &bad).is_err());
        let mut bad = good.clone();
        bad["metrics"]["phase"]["load"] = json!({"object_count_type": {"upserted": {"object_count": 1}}});
        assert!(check_kind_metrics("k", &bad).is_err());
        let mut bad = good;
        bad.as_object_mut().map(|o| o.remove("eventId"));
        assert!(check_kind_metrics("k", &bad).is_err());
    }
}
