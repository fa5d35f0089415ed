//! Port's OpenAPI spec is the contract: every route the simulator serves is
//! in it, and every request the client sent and every reply the simulator
//! gave in a session touching each call is checked against its schemas.

mod common;

use std::collections::HashMap;

use common::*;
use ocean_port::OwnedFilter;
use ocean_port::UpsertOptions;
use ocean_sim::port::{PortSimConfig, ROUTES, ROUTES_OUTSIDE_SPEC};
use ocean_sim::request_log::LoggedRequest;
use serde_json::{Value, json};

fn spec() -> Value {
    // The project's reference copy sits beside the repository; PORT_OPENAPI_SPEC overrides it.
    let path = std::env::var("PORT_OPENAPI_SPEC").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/reference/port-openapi.json"
        )
        .into()
    });
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("Port's OpenAPI spec at {path}: {e} (set PORT_OPENAPI_SPEC to its path)"));
    let mut spec = serde_json::from_str(&text).expect("the spec is JSON");
    dedupe_required(&mut spec);
    spec
}

/// The spec lists `ok` twice in some `required` arrays (invalid JSON Schema,
/// which wants unique items); keep the first of each.
fn dedupe_required(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(required)) = map.get_mut("required") {
                let mut seen = std::collections::HashSet::new();
                required.retain(|name| seen.insert(name.to_string()));
            }
            map.values_mut().for_each(dedupe_required);
        }
        Value::Array(items) => items.iter_mut().for_each(dedupe_required),
        _ => {}
    }
}

fn pointer_escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Validates `instance` against the schema at `pointer` inside the spec, so
/// the spec's own `$ref`s resolve.
struct SpecValidator {
    spec: Value,
    cache: HashMap<String, jsonschema::Validator>,
}

impl SpecValidator {
    fn errors(&mut self, pointer: &str, instance: &Value) -> Vec<String> {
        if !self.cache.contains_key(pointer) {
            let mut root = self.spec.clone();
            let fragment = pointer.replace('{', "%7B").replace('}', "%7D");
            root["$ref"] = json!(format!("#{fragment}"));
            let validator = jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .build(&root)
                .unwrap_or_else(|e| panic!("schema at {pointer} compiles: {e}"));
            self.cache.insert(pointer.to_string(), validator);
        }
        self.cache[pointer]
            .iter_errors(instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }
}

fn template_matches(template: &str, path: &str) -> bool {
    let t: Vec<&str> = template.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| (t.starts_with('{') && !p.is_empty()) || t == p)
}

/// The served route a logged request hit; static segments win, as in the router.
fn route_of(entry: &LoggedRequest) -> Option<&'static str> {
    let mut candidates: Vec<&'static str> = ROUTES
        .iter()
        .filter(|(method, template)| *method == entry.method && template_matches(template, &entry.path))
        .map(|(_, template)| *template)
        .collect();
    candidates.sort_by_key(|t| t.matches('{').count());
    candidates.first().copied()
}

#[test]
fn every_served_route_is_in_ports_spec() {
    let spec = spec();
    for (method, path) in ROUTES {
        let documented = spec["paths"][*path].get(method.to_lowercase()).is_some();
        let excepted = ROUTES_OUTSIDE_SPEC
            .iter()
            .any(|(m, p, _)| m == method && p == path);
        assert!(
            documented ^ excepted,
            "{method} {path}: documented={documented}, listed as outside the spec={excepted}"
        );
    }
}

#[tokio::test]
async fn client_requests_and_simulator_replies_match_ports_spec() {
    let config = PortSimConfig {
        capture_bodies: true,
        ..PortSimConfig::default()
    };
    let (served, sim) = start_sim(config).await;
    let client = client_for(&served);

    // Every call the client makes, with replies of each documented kind.
    let mut blueprints = default_blueprints();
    blueprints.push(
        json!({"identifier": "codecov_repo", "title": "Repo", "schema": {"properties": {}, "required": []}}),
    );
    client.ensure_blueprints(&blueprints).await.expect("blueprints");
    let mut entities: Vec<_> = (0..45).map(|n| coverage_entity(n, 600)).collect();
    entities[7].properties.insert("files".into(), json!("seven"));
    client
        .upsert_entities(
            &entities,
            UpsertOptions {
                merge: true,
                ..Default::default()
            },
        )
        .await
        .expect("bulk");
    client
        .upsert_entities(&[coverage_entity(9, 1100 * 1024)], UpsertOptions::default())
        .await
        .expect("413");
    client
        .upsert_entity(&coverage_entity(100, 400), UpsertOptions::default())
        .await
        .expect("single");
    let _ = client
        .upsert_entity(&coverage_entity(101, 1100 * 1024), UpsertOptions::default())
        .await;
    let mut invalid = coverage_entity(102, 400);
    invalid
        .properties
        .insert("createdAt".into(), json!("last tuesday"));
    let refused = client
        .upsert_entity(&invalid, UpsertOptions::default())
        .await
        .expect_err("422");
    assert_eq!(refused.status().map(|s| s.as_u16()), Some(422));
    let owned = client
        .owned_identifiers(
            "codecov_coverage",
            &OwnedFilter {
                updated_before: Some("2999-01-01T00:00:00Z"),
                ..Default::default()
            },
        )
        .await
        .expect("search");
    client
        .search_page(
            "codecov_coverage",
            &json!({"combinator": "and", "rules": []}),
            &[],
            10,
            None,
        )
        .await
        .expect("page");
    client
        .delete_entities("codecov_coverage", &owned[..5], true)
        .await
        .expect("delete");
    client
        .delete_entities("no_such_blueprint", &owned[..1], false)
        .await
        .expect("404 reported");
    assert!(client.get_integration().await.expect("404 is None").is_none());
    client
        .ensure_integration(&json!({"resources": []}))
        .await
        .expect("create");
    client.get_integration().await.expect("get");
    client
        .patch_integration_config(&json!({"deleteDependentEntities": true, "resources": []}))
        .await
        .expect("config");
    client.request_resync().await.expect("resync");
    // What Ocean feeds Port besides entities (routes outside the public spec).
    client
        .ingest_kind_examples("repository", &[json!({"name": "repo", "active": true})])
        .await
        .expect("examples");
    client
        .ingest_logs(&[
            json!({"message": "m", "level": "INFO", "timestamp": "2026-01-01T00:00:00.000000Z", "extra": {}}),
        ])
        .await
        .expect("logs");
    let kind = json!({"integrationType": "codecov", "integrationIdentifier": "codecov",
        "integrationVersion": "0.1.0", "oceanVersion": "0.1.0", "kindIdentifier": "repository-0",
        "kind": "repository", "kindIndex": 0, "eventId": "e1", "syncState": "completed", "blueprint": "b",
        "metrics": {"phase": {"resync": {"duration_seconds": 0.5, "success": 1},
            "load": {"object_count_type": {"loaded": {"object_count": 2}}}}}});
    client
        .post_sync_metrics(std::slice::from_ref(&kind))
        .await
        .expect("sync metrics");
    client
        .put_kind_sync_metrics(&kind)
        .await
        .expect("kind sync metrics");
    sim.expire_tokens();
    client
        .get_blueprint("codecov_coverage")
        .await
        .expect("refresh after 401");

    let spec = spec();
    let mut validator = SpecValidator {
        spec: spec.clone(),
        cache: HashMap::new(),
    };
    let log = sim.log().snapshot();
    let mut problems = Vec::new();
    let mut statuses_seen = std::collections::BTreeSet::new();
    for entry in &log {
        let Some(template) = route_of(entry) else {
            problems.push(format!("{} {}: not a served route", entry.method, entry.path));
            continue;
        };
        statuses_seen.insert(entry.status);
        let method = entry.method.to_lowercase();
        let Some(operation) = spec["paths"][template].get(&method) else {
            // Outside the spec: hold it to Port's general reply shapes, and
            // sync metrics to the shape Port's spec documents for reading them back.
            check_general_shape(entry, &mut problems);
            for record in sync_metric_records(entry) {
                for error in validator.errors(SYNC_METRIC_ITEM, &record) {
                    problems.push(format!("request {} {}: {error}", entry.method, entry.path));
                }
            }
            continue;
        };
        let base = format!("/paths/{}/{}", pointer_escape(template), method);
        let query: HashMap<&str, &str> = entry
            .query
            .split('&')
            .filter(|s| !s.is_empty())
            .filter_map(|kv| kv.split_once('='))
            .collect();
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            if parameter["in"] != "query" {
                continue;
            }
            let name = parameter["name"].as_str().unwrap_or_default();
            match query.get(name) {
                None if parameter["required"] == true => problems.push(format!(
                    "{} {}: required query {name} missing",
                    entry.method, entry.path
                )),
                Some(value)
                    if parameter["schema"]["type"] == "boolean" && !matches!(*value, "true" | "false") =>
                {
                    problems.push(format!(
                        "{} {}: query {name}={value} is not boolean",
                        entry.method, entry.path
                    ))
                }
                _ => {}
            }
        }
        for name in query.keys() {
            let known = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["name"] == *name)
                // Ocean's event parameters on entity writes, outside Port's public spec.
                || ocean_sim::port::OCEAN_INFO_PARAMS.contains(name);
            if !known {
                problems.push(format!(
                    "{} {}: query {name} is not in the spec",
                    entry.method, entry.path
                ));
            }
        }
        if let Some(body) = &entry.request_body {
            let pointer = format!("{base}/requestBody/content/application~1json/schema");
            if spec.pointer(&pointer).is_some() && entry.status != 413 {
                for error in validator.errors(&pointer, body) {
                    problems.push(format!("request {} {}: {error}", entry.method, entry.path));
                }
            }
        }
        let pointer = format!(
            "{base}/responses/{}/content/application~1json/schema",
            entry.status
        );
        match (&entry.reply_body, spec.pointer(&pointer)) {
            (Some(reply), Some(_)) => {
                for error in validator.errors(&pointer, reply) {
                    problems.push(format!(
                        "reply {} {} {}: {error}",
                        entry.status, entry.method, entry.path
                    ));
                }
            }
            (None, _) => problems.push(format!(
                "reply {} {} {}: not JSON",
                entry.status, entry.method, entry.path
            )),
            (Some(_), None) => check_general_shape(entry, &mut problems),
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
    for status in [200, 201, 207, 401, 404, 413, 422] {
        assert!(
            statuses_seen.contains(&status),
            "the session produced a {status}: {statuses_seen:?}"
        );
    }
}

/// One record of `GET /v1/integration/{id}/syncMetrics`.
const SYNC_METRIC_ITEM: &str = "/paths/~1v1~1integration~1{integrationInternalId}~1syncMetrics/get/responses/200/content/application~1json/schema/properties/data/items";

/// The sync metric records a request sent, with the dates Port adds on storing them.
fn sync_metric_records(entry: &LoggedRequest) -> Vec<Value> {
    let Some(body) = &entry.request_body else {
        return Vec::new();
    };
    let records: Vec<Value> = match (body.get("syncKindsMetrics"), body.get("syncKindMetrics")) {
        (Some(Value::Array(list)), _) => list.clone(),
        (_, Some(one)) => vec![one.clone()],
        _ => Vec::new(),
    };
    records
        .into_iter()
        .map(|mut record| {
            record["createdAt"] = json!("2026-01-01T00:00:00.000Z");
            record["updatedAt"] = json!("2026-01-01T00:00:00.000Z");
            record
        })
        .collect()
}

/// Replies the spec leaves undocumented still have Port's shapes.
fn check_general_shape(entry: &LoggedRequest, problems: &mut Vec<String>) {
    let Some(reply) = &entry.reply_body else {
        problems.push(format!("{} {}: reply is not JSON", entry.method, entry.path));
        return;
    };
    let good = if entry.status < 300 {
        reply["ok"] == true
    } else {
        reply["ok"] == false && reply["error"].is_string() && reply["message"].is_string()
    };
    if !good {
        problems.push(format!(
            "{} {} {}: reply {reply} has not Port's shape",
            entry.status, entry.method, entry.path
        ));
    }
}
