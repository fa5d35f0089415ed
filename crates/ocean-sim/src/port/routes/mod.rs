//! The simulator's routes: Port's documented request and reply shapes, one
//! file per resource, the `/_admin/` routes (the simulator's own) apart.

mod admin;
mod auth;
mod blueprints;
mod entities;
mod integrations;
mod organization;
mod search;

pub use organization::ORGANIZATION_ID;

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
use super::refusal::{invalid, json_object};
use super::store::{Refusal, WriteMode, rfc3339};
use super::wire::{middleware, port_error};
use super::*;
use crate::exchange::InjectedFault;
use crate::faults::{Fault, FaultConfig};

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
        .route(TOKEN, post(auth::token))
        .route(
            BLUEPRINTS,
            get(blueprints::list_blueprints).post(blueprints::create_blueprint),
        )
        .route(&axum_path(BLUEPRINT), get(blueprints::get_blueprint))
        .route(ENTITIES, post(entities::create_entity))
        .route(ENTITIES_BULK, post(entities::bulk_upsert))
        .route(ENTITY, get(entities::get_entity).delete(entities::delete_entity))
        .route(ENTITIES_SEARCH, post(search::search))
        .route(ENTITIES_BULK_DELETE, post(entities::bulk_delete))
        .route(INTEGRATIONS, post(integrations::create_integration))
        .route(
            INTEGRATION,
            get(integrations::get_integration).patch(integrations::patch_integration),
        )
        .route(INTEGRATION_CONFIG, patch(integrations::patch_integration_config))
        .route(INTEGRATION_RESYNC_STATE, patch(integrations::patch_resync_state))
        .route(INTEGRATION_RESYNC_REQUEST, get(integrations::get_resync_request))
        .route(ORGANIZATION, get(organization::get_organization))
        .route(PROBE_RESULT, patch(organization::patch_probe_result))
        .merge(super::feed::routes())
        .route("/_admin/state", get(admin::admin_state))
        .route(
            "/_admin/requests",
            get(admin::admin_requests).delete(admin::admin_clear_requests),
        )
        .route(
            "/_admin/faults",
            get(admin::admin_faults).put(admin::admin_set_faults),
        )
        .route("/_admin/blueprints", post(admin::admin_add_blueprint))
        .route("/_admin/expire-tokens", post(admin::admin_expire_tokens))
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
