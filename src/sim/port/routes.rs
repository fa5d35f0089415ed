//! The simulator's routes: Port's documented request and reply shapes.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use serde_json::{Map, Value, json};

use super::query::Rule;
use super::store::{Refusal, WriteMode, rfc3339};
use super::wire::{middleware, port_error};
use super::*;
use crate::port::PORT_MAX_BULK_DELETE;
use crate::sim::exchange::InjectedFault;
use crate::sim::faults::{Fault, FaultConfig};

type Reply = Result<Response, Refusal>;
type Params = Query<HashMap<String, String>>;

/// matchit wants one parameter name per position; the spec names the blueprint
/// `{identifier}` on one route and `{blueprint_identifier}` on the others.
fn axum_path(spec_path: &str) -> String {
    if spec_path == BLUEPRINT {
        "/v1/blueprints/{blueprint_identifier}".into()
    } else {
        spec_path.into()
    }
}

pub fn router(sim: Arc<PortSim>) -> Router {
    Router::new()
        .route(TOKEN, post(token))
        .route(BLUEPRINTS, get(list_blueprints).post(create_blueprint))
        .route(&axum_path(BLUEPRINT), get(get_blueprint))
        .route(ENTITIES, post(create_entity))
        .route(ENTITIES_BULK, post(bulk_upsert))
        .route(ENTITY, get(get_entity).delete(delete_entity))
        .route(ENTITIES_SEARCH, post(search))
        .route(ENTITIES_BULK_DELETE, post(bulk_delete))
        .route(INTEGRATIONS, post(create_integration))
        .route(INTEGRATION, get(get_integration).patch(patch_integration))
        .route(INTEGRATION_CONFIG, patch(patch_integration_config))
        .route(INTEGRATION_RESYNC_STATE, patch(patch_resync_state))
        .route(INTEGRATION_RESYNC_REQUEST, get(get_resync_request))
        .route("/_admin/state", get(admin_state))
        .route(
            "/_admin/requests",
            get(admin_requests).delete(admin_clear_requests),
        )
        .route("/_admin/faults", get(admin_faults).put(admin_set_faults))
        .route("/_admin/blueprints", post(admin_add_blueprint))
        .route("/_admin/expire-tokens", post(admin_expire_tokens))
        .fallback(|request: axum::extract::Request| async move {
            let message = format!("Route {}:{} not found", request.method(), request.uri().path());
            port_error(StatusCode::NOT_FOUND, "not_found", message)
        })
        .layer(axum::middleware::from_fn_with_state(sim.clone(), middleware))
        .with_state(sim)
}

fn ok(status: StatusCode, body: Value) -> Reply {
    Ok((status, axum::Json(body)).into_response())
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
        port_error(status, self.error, self.message)
    }
}

fn invalid(message: impl Into<String>) -> Refusal {
    Refusal::new(422, "invalid_request", message)
}

fn json_object(body: &Bytes) -> Result<Map<String, Value>, Refusal> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(invalid("body must be object")),
        Err(e) => Err(Refusal::new(
            400,
            "invalid_json",
            format!("Body is not valid JSON: {e}"),
        )),
    }
}

/// Port's schemas are closed (`additionalProperties: false`) on these bodies.
fn only_keys(body: &Map<String, Value>, allowed: &[&str]) -> Result<(), Refusal> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(extra) => Err(invalid(format!(
            "body must NOT have additional property \"{extra}\""
        ))),
        None => Ok(()),
    }
}

fn flag(params: &HashMap<String, String>, name: &str, required: bool) -> Result<bool, Refusal> {
    match params.get(name).map(String::as_str) {
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(invalid(format!(
            "querystring/{name} must be boolean, got {other:?}"
        ))),
        None if required => Err(invalid(format!(
            "querystring must have required property '{name}'"
        ))),
        None => Ok(false),
    }
}

fn writer(headers: &HeaderMap) -> String {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

async fn token(State(sim): State<Arc<PortSim>>, body: Bytes) -> Reply {
    let body = json_object(&body)?;
    only_keys(&body, &["clientId", "clientSecret"])?;
    let (Some(Value::String(id)), Some(Value::String(secret))) =
        (body.get("clientId"), body.get("clientSecret"))
    else {
        return Err(invalid(
            "body must have required properties 'clientId' and 'clientSecret' (strings)",
        ));
    };
    if *id != sim.config.client_id || *secret != sim.config.client_secret {
        return Err(Refusal::new(
            401,
            "unauthorized",
            "The client ID or client secret is wrong",
        ));
    }
    let (token, lifetime) = sim.issue_token();
    ok(
        StatusCode::OK,
        json!({"ok": true, "accessToken": token, "expiresIn": lifetime.as_secs(), "tokenType": "Bearer"}),
    )
}

async fn list_blueprints(State(sim): State<Arc<PortSim>>) -> Reply {
    let blueprints: Vec<Value> = sim.store().blueprints.values().cloned().collect();
    ok(StatusCode::OK, json!({"ok": true, "blueprints": blueprints}))
}

async fn get_blueprint(State(sim): State<Arc<PortSim>>, Path(identifier): Path<String>) -> Reply {
    let store = sim.store();
    let blueprint = store.blueprint(&identifier)?;
    ok(StatusCode::OK, json!({"ok": true, "blueprint": blueprint}))
}

async fn create_blueprint(State(sim): State<Arc<PortSim>>, headers: HeaderMap, body: Bytes) -> Reply {
    let body = json_object(&body)?;
    for required in ["identifier", "title", "schema"] {
        if !body.contains_key(required) {
            return Err(invalid(format!("body must have required property '{required}'")));
        }
    }
    let identifier = body.get("identifier").and_then(Value::as_str).unwrap_or_default();
    super::entity_rules::check_identifier(identifier)?;
    let created = sim
        .store()
        .create_blueprint(Value::Object(body), &writer(&headers))?;
    ok(StatusCode::CREATED, json!({"ok": true, "blueprint": created}))
}

fn write_mode(params: &HashMap<String, String>) -> Result<WriteMode, Refusal> {
    Ok(WriteMode {
        upsert: flag(params, "upsert", true)?,
        merge: flag(params, "merge", false)?,
        create_missing_related_entities: flag(params, "create_missing_related_entities", false)?,
    })
}

async fn create_entity(
    State(sim): State<Arc<PortSim>>,
    Path(blueprint): Path<String>,
    Query(params): Params,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let mode = write_mode(&params)?;
    let body = Value::Object(json_object(&body)?);
    // The spec documents 201 for a create and an update alike.
    let (entity, _created) = sim
        .store()
        .write_entity(&blueprint, &body, mode, &writer(&headers))?;
    ok(
        StatusCode::CREATED,
        json!({"ok": true, "entity": entity.to_json()}),
    )
}

async fn bulk_upsert(
    State(sim): State<Arc<PortSim>>,
    Path(blueprint): Path<String>,
    Query(params): Params,
    headers: HeaderMap,
    injected: Option<Extension<InjectedFault>>,
    body: Bytes,
) -> Reply {
    let partial = injected.is_some_and(|Extension(InjectedFault(fault))| fault == Fault::Partial);
    let mode = write_mode(&params)?;
    let body = json_object(&body)?;
    only_keys(&body, &["entities"])?;
    let Some(Value::Array(entities)) = body.get("entities") else {
        return Err(invalid("body must have required property 'entities' (an array)"));
    };
    if entities.is_empty() || entities.len() > crate::port::PORT_MAX_BULK_ENTITIES {
        return Err(invalid(
            "body/entities must NOT have fewer than 1 items or more than 20 items",
        ));
    }
    let mut store = sim.store();
    store.blueprint(&blueprint)?;
    let who = writer(&headers);
    let (mut landed, mut errors) = (Vec::new(), Vec::new());
    for (index, entity) in entities.iter().enumerate() {
        let written = if partial && index % 2 == 1 {
            Err(Refusal::new(500, "internal_error", "Injected partial failure"))
        } else {
            store.write_entity(&blueprint, entity, mode, &who)
        };
        match written {
            Ok((stored, created)) => {
                landed.push(json!({"created": created, "identifier": stored.identifier, "index": index}))
            }
            Err(refusal) => {
                let identifier = match entity.get("identifier") {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => String::new(),
                };
                errors.push(
                    json!({"identifier": identifier, "index": index, "statusCode": refusal.status,
                    "error": refusal.error, "message": refusal.message}),
                );
            }
        }
    }
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::MULTI_STATUS
    };
    ok(
        status,
        json!({"ok": errors.is_empty(), "entities": landed, "errors": errors}),
    )
}

async fn get_entity(
    State(sim): State<Arc<PortSim>>,
    Path((blueprint, identifier)): Path<(String, String)>,
) -> Reply {
    let store = sim.store();
    store.blueprint(&blueprint)?;
    match store.entities.get(&blueprint).and_then(|e| e.get(&identifier)) {
        Some(entity) => ok(StatusCode::OK, json!({"ok": true, "entity": entity.to_json()})),
        None => Err(Refusal::new(
            404,
            "not_found",
            format!("Entity with identifier \"{identifier}\" was not found in blueprint \"{blueprint}\""),
        )),
    }
}

async fn delete_entity(
    State(sim): State<Arc<PortSim>>,
    Path((blueprint, identifier)): Path<(String, String)>,
    Query(params): Params,
) -> Reply {
    let delete_dependents = flag(&params, "delete_dependents", true)?;
    let deleted =
        sim.store()
            .delete_entities(&blueprint, std::slice::from_ref(&identifier), delete_dependents)?;
    if deleted.is_empty() {
        return Err(Refusal::new(
            404,
            "not_found",
            format!("Entity \"{identifier}\" was not found"),
        ));
    }
    ok(StatusCode::OK, json!({"ok": true}))
}

async fn bulk_delete(
    State(sim): State<Arc<PortSim>>,
    Path(blueprint): Path<String>,
    Query(params): Params,
    body: Bytes,
) -> Reply {
    let delete_dependents = flag(&params, "delete_dependents", true)?;
    let body = json_object(&body)?;
    only_keys(&body, &["entities"])?;
    let identifiers: Vec<String> = match body.get("entities") {
        Some(Value::Array(ids)) if ids.iter().all(Value::is_string) => {
            ids.iter().filter_map(Value::as_str).map(String::from).collect()
        }
        _ => {
            return Err(invalid(
                "body must have required property 'entities' (an array of strings)",
            ));
        }
    };
    if identifiers.is_empty() || identifiers.len() > PORT_MAX_BULK_DELETE {
        return Err(invalid(
            "body/entities must NOT have fewer than 1 items or more than 100 items",
        ));
    }
    let deleted = sim
        .store()
        .delete_entities(&blueprint, &identifiers, delete_dependents)?;
    ok(StatusCode::OK, json!({"ok": true, "deletedEntities": deleted}))
}

/// `next` is opaque to clients; here it is the hex of the last identifier sent.
fn encode_cursor(identifier: &str) -> String {
    identifier.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_cursor(cursor: &str) -> Option<String> {
    let bytes: Option<Vec<u8>> = (0..cursor.len())
        .step_by(2)
        .map(|i| {
            cursor
                .get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect();
    String::from_utf8(bytes?).ok()
}

fn project(entity: &Value, include: &[String]) -> Value {
    if include.is_empty() {
        return entity.clone();
    }
    let mut out = json!({});
    for name in include {
        match name.strip_prefix('$') {
            Some(meta) => {
                if let Some(value) = entity.get(meta) {
                    out[meta] = value.clone();
                }
            }
            None => {
                for section in ["properties", "relations"] {
                    if let Some(value) = entity.get(section).and_then(|s| s.get(name)) {
                        out[section][name] = value.clone();
                    }
                }
            }
        }
    }
    out
}

async fn search(State(sim): State<Arc<PortSim>>, Path(blueprint): Path<String>, body: Bytes) -> Reply {
    let body = json_object(&body)?;
    only_keys(&body, &["query", "include", "exclude", "limit", "from"])?;
    let limit = match body.get("limit") {
        None => 200,
        Some(Value::Number(n)) if n.as_f64().is_some_and(|n| (1.0..=1000.0).contains(&n)) => {
            n.as_f64().unwrap_or(200.0) as usize
        }
        Some(_) => return Err(invalid("body/limit must be a number from 1 to 1000")),
    };
    let rule = body.get("query").map(Rule::parse).transpose()?;
    let include: Vec<String> = body
        .get("include")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).map(String::from).collect())
        .unwrap_or_default();
    let after = match body.get("from").and_then(Value::as_str) {
        Some(cursor) => {
            Some(decode_cursor(cursor).ok_or_else(|| invalid("body/from is not a cursor this API issued"))?)
        }
        None => None,
    };
    let store = sim.store();
    store.blueprint(&blueprint)?;
    let mut page = Vec::new();
    let mut more = false;
    let mut last = String::new();
    let bucket = store.entities.get(&blueprint);
    let start = after
        .as_deref()
        .map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
    let scan: Box<dyn Iterator<Item = (&String, &super::store::StoredEntity)>> =
        match rule.as_ref().and_then(Rule::identifier_limit) {
            // Port answers identifier lookups from its index; so does the simulator.
            Some(mut ids) => {
                ids.sort();
                ids.dedup();
                let after = after.clone();
                Box::new(
                    ids.into_iter()
                        .filter(move |id| after.as_ref().is_none_or(|a| id > a))
                        .filter_map(move |id| bucket.and_then(|b| b.get_key_value(&id))),
                )
            }
            None => Box::new(
                bucket
                    .into_iter()
                    .flat_map(move |e| e.range::<str, _>((start, std::ops::Bound::Unbounded))),
            ),
        };
    for (identifier, entity) in scan {
        let view = entity.to_admin_json(&blueprint);
        if rule.as_ref().is_some_and(|r| !r.matches(&view)) {
            continue;
        }
        if page.len() == limit {
            more = true;
            break;
        }
        page.push(project(&entity.to_json(), &include));
        last = identifier.clone();
    }
    let mut reply = json!({"ok": true, "entities": page});
    if more {
        reply["next"] = json!(encode_cursor(&last));
    }
    ok(StatusCode::OK, reply)
}

async fn create_integration(State(sim): State<Arc<PortSim>>, body: Bytes) -> Reply {
    let body = json_object(&body)?;
    let Some(identifier) = body
        .get("installationId")
        .and_then(Value::as_str)
        .map(String::from)
    else {
        return Err(invalid("body must have required property 'installationId'"));
    };
    let mut store = sim.store();
    if store.integrations.contains_key(&identifier) {
        return Err(Refusal::new(
            409,
            "identifier_taken",
            format!("Integration \"{identifier}\" already exists"),
        ));
    }
    let now = rfc3339(time::OffsetDateTime::now_utc());
    let mut integration = body;
    integration.insert("identifier".into(), json!(identifier));
    integration.entry("config").or_insert(json!({}));
    integration.insert("createdAt".into(), json!(now));
    integration.insert("updatedAt".into(), json!(now));
    let integration = Value::Object(integration);
    store.integrations.insert(identifier, integration.clone());
    ok(StatusCode::OK, json!({"ok": true, "integration": integration}))
}

fn integration_mut<'a>(
    store: &'a mut super::store::Store,
    identifier: &str,
) -> Result<&'a mut Map<String, Value>, Refusal> {
    store
        .integrations
        .get_mut(identifier)
        .and_then(Value::as_object_mut)
        .ok_or_else(|| {
            Refusal::new(
                404,
                "not_found",
                format!("Integration \"{identifier}\" was not found"),
            )
        })
}

async fn get_integration(State(sim): State<Arc<PortSim>>, Path(identifier): Path<String>) -> Reply {
    let mut store = sim.store();
    let integration = integration_mut(&mut store, &identifier)?.clone();
    ok(StatusCode::OK, json!({"ok": true, "integration": integration}))
}

async fn patch_integration(
    State(sim): State<Arc<PortSim>>,
    Path(identifier): Path<String>,
    body: Bytes,
) -> Reply {
    let body = if body.is_empty() {
        Map::new()
    } else {
        json_object(&body)?
    };
    let mut store = sim.store();
    let integration = integration_mut(&mut store, &identifier)?;
    for (key, value) in &body {
        integration.insert(key.clone(), value.clone());
    }
    integration.insert(
        "updatedAt".into(),
        json!(rfc3339(time::OffsetDateTime::now_utc())),
    );
    let integration = integration.clone();
    if body.is_empty() {
        store.record_resync_request(&identifier);
    }
    ok(StatusCode::OK, json!({"ok": true, "integration": integration}))
}

async fn patch_integration_config(
    State(sim): State<Arc<PortSim>>,
    Path(identifier): Path<String>,
    body: Bytes,
) -> Reply {
    let body = json_object(&body)?;
    only_keys(&body, &["config"])?;
    let config = body.get("config").cloned().unwrap_or(Value::Null);
    let mut store = sim.store();
    let integration = integration_mut(&mut store, &identifier)?;
    integration.insert("config".into(), config);
    ok(
        StatusCode::OK,
        json!({"ok": true, "integration": integration.clone()}),
    )
}

async fn patch_resync_state(
    State(sim): State<Arc<PortSim>>,
    Path(identifier): Path<String>,
    body: Bytes,
) -> Reply {
    let mut state = json_object(&body)?;
    state.insert(
        "updatedAt".into(),
        json!(rfc3339(time::OffsetDateTime::now_utc())),
    );
    let mut store = sim.store();
    let integration = integration_mut(&mut store, &identifier)?;
    integration.insert("resyncState".into(), Value::Object(state));
    ok(
        StatusCode::OK,
        json!({"ok": true, "integration": integration.clone()}),
    )
}

async fn get_resync_request(State(sim): State<Arc<PortSim>>, Path(identifier): Path<String>) -> Reply {
    let mut store = sim.store();
    integration_mut(&mut store, &identifier)?;
    let request = store
        .resync_request
        .get(&identifier)
        .cloned()
        .unwrap_or(Value::Null);
    ok(StatusCode::OK, json!({"ok": true, "request": request}))
}

async fn admin_state(State(sim): State<Arc<PortSim>>) -> Reply {
    let store = sim.store();
    let entities: Map<String, Value> = store
        .entities
        .iter()
        .map(|(bp, bucket)| (bp.clone(), bucket.values().map(|e| e.to_admin_json(bp)).collect()))
        .collect();
    ok(
        StatusCode::OK,
        json!({
            "blueprints": store.blueprints.values().collect::<Vec<_>>(),
            "entities": entities,
            "integrations": store.integrations.values().collect::<Vec<_>>(),
            "resyncRequests": store.resync_requests,
        }),
    )
}

async fn admin_requests(State(sim): State<Arc<PortSim>>) -> Reply {
    ok(StatusCode::OK, json!(sim.log.snapshot()))
}

async fn admin_clear_requests(State(sim): State<Arc<PortSim>>) -> Reply {
    sim.log.clear();
    ok(StatusCode::OK, json!({"ok": true}))
}

async fn admin_faults(State(sim): State<Arc<PortSim>>) -> Reply {
    ok(StatusCode::OK, json!(sim.faults.get()))
}

async fn admin_set_faults(State(sim): State<Arc<PortSim>>, body: Bytes) -> Reply {
    let config: FaultConfig =
        serde_json::from_slice(&body).map_err(|e| invalid(format!("fault config: {e}")))?;
    sim.faults.set(config);
    ok(StatusCode::OK, json!(sim.faults.get()))
}

async fn admin_add_blueprint(State(sim): State<Arc<PortSim>>, body: Bytes) -> Reply {
    let blueprint: Value = serde_json::from_slice(&body).map_err(|e| invalid(format!("blueprint: {e}")))?;
    let created = sim.store().create_blueprint(blueprint, "admin")?;
    ok(StatusCode::CREATED, created)
}

async fn admin_expire_tokens(State(sim): State<Arc<PortSim>>) -> Reply {
    sim.expire_tokens();
    ok(StatusCode::OK, json!({"ok": true}))
}
