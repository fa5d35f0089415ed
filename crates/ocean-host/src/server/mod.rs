//! The HTTP server `sail` runs: the plugin's webhooks as live events, a resync
//! trigger, health probes and Prometheus metrics. HTTP only: what starts and
//! stops it with the listeners and the live-event worker is `crate::lifecycle`.

mod dead_letters;
mod webhook;

use std::sync::Arc;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::event_listener::ResyncQueue;
use crate::host::Host;
use crate::live_events::LiveEvents;
use ocean_support::secret::Secret;

/// Largest webhook body accepted, as Port's own limit.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What every route's handler shares; cheap to clone.
#[derive(Clone)]
pub struct ServerState {
    /// The integration (its plugin recognises webhooks; readiness reads its mapping and stop flag).
    pub host: Arc<Host>,
    /// The journal and queue accepted events go to.
    pub live: LiveEvents,
    /// Where `POST /resync` asks for a resync.
    pub resyncs: Arc<ResyncQueue>,
    /// The webhook secret (`Settings::webhook_secret`): when set, webhooks and `/resync` must carry it.
    pub secret: Option<Secret>,
}

/// The routes: `POST /integration/webhook` and `/webhook` (live events), `POST /resync`,
/// `/dead-letters` (list, `replay`, `discard`), `/health/live`, `/health/ready` and `/metrics`.
/// Webhooks, `/resync` and the dead-letter routes need the secret when one is set.
pub fn router(state: ServerState) -> Router {
    Router::new()
        .route("/integration/webhook", post(webhook::receive))
        .route("/webhook", post(webhook::receive))
        .route("/resync", post(resync))
        .route("/dead-letters", get(dead_letters::list))
        .route("/dead-letters/replay", post(dead_letters::replay))
        .route("/dead-letters/discard", post(dead_letters::discard))
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/metrics", get(metrics))
        .with_state(state)
}

pub(crate) fn reply(status: StatusCode, error: &str, message: impl Into<String>) -> Response {
    let ok = status.is_success();
    let body = if ok {
        json!({"ok": true})
    } else {
        json!({"ok": false, "error": error, "message": message.into()})
    };
    (status, axum::Json(body)).into_response()
}

/// Compares in constant time (`subtle`), so timing reveals nothing of the secret.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(given.ct_eq(expected))
}

/// The secret from `?token=` or `X-Webhook-Secret`; true when none is configured.
pub(crate) fn authorised(state: &ServerState, headers: &HeaderMap, query: &Option<String>) -> bool {
    let Some(secret) = &state.secret else { return true };
    let from_header = headers.get("x-webhook-secret").map(|v| v.as_bytes().to_vec());
    let from_query = query.as_deref().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.as_bytes().to_vec())
    });
    from_header
        .or(from_query)
        .is_some_and(|given| same_secret(&given, secret.expose().as_bytes()))
}

async fn resync(State(state): State<ServerState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    if !authorised(&state, &headers, &query) {
        return reply(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong webhook secret",
        );
    }
    state.resyncs.request();
    reply(StatusCode::ACCEPTED, "", "")
}

/// Ocean 0.56.2's health document (`port_ocean/health.py`, `HealthResponse`):
/// `status` (`healthy` or `not_ready`), `check` (`live` or `ready`) and
/// `core_version`, here this host's version (it is no port-ocean package).
fn health(check: &str, healthy: bool) -> serde_json::Map<String, serde_json::Value> {
    let mut body = serde_json::Map::new();
    body.insert(
        "status".into(),
        json!(if healthy { "healthy" } else { "not_ready" }),
    );
    body.insert("check".into(), json!(check));
    body.insert("core_version".into(), json!(env!("CARGO_PKG_VERSION")));
    body
}

/// Live: the process answers, as Ocean's `/health/live` (always 200).
async fn live() -> Response {
    (StatusCode::OK, axum::Json(health("live", true))).into_response()
}

/// Ready means "can accept webhooks": the server is up and the journal open.
/// A mapping that does not compile keeps the pod Ready (webhooks are
/// journaled and wait for a valid one; Codecov never resends a webhook), and
/// the body says so in `mapping`, beside Ocean's fields. Not ready (503, as
/// Ocean's `not_ready`) once a stop has begun.
async fn ready(State(state): State<ServerState>) -> Response {
    if state.host.stopping.load(std::sync::atomic::Ordering::SeqCst) {
        let mut body = health("ready", false);
        body.insert("reason".into(), json!("the integration is stopping"));
        return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    }
    let mapping = if state.host.current_mapping().is_some() {
        "in force"
    } else {
        "none valid yet: webhooks are journaled and mapped once the mapping in Port compiles"
    };
    let mut body = health("ready", true);
    body.insert("mapping".into(), json!(mapping));
    (StatusCode::OK, axum::Json(body)).into_response()
}

async fn metrics() -> Response {
    let text = ocean_support::metrics::metrics().render();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        text,
    )
        .into_response()
}

/// Serves on a bound listener until `stop` resolves, then finishes in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ServerState,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(stop)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"s3cret", b"s3cret"));
        assert!(!same_secret(b"s3cre", b"s3cret"));
        assert!(!same_secret(b"s3cret!", b"s3cret"));
        assert!(!same_secret(b"", b"s3cret"));
    }
}
