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
        .route("/health/live", get(|| async { "ok" }))
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

/// Ready means "can accept webhooks": the server is up and the journal open.
/// A mapping that does not compile keeps the pod Ready (webhooks are
/// journaled and wait for a valid one; Codecov never resends a webhook), and
/// the body says so. Not ready once a stop has begun.
async fn ready(State(state): State<ServerState>) -> Response {
    if state.host.stopping.load(std::sync::atomic::Ordering::SeqCst) {
        return reply(
            StatusCode::SERVICE_UNAVAILABLE,
            "stopping",
            "the integration is stopping",
        );
    }
    let mapping = if state.host.current_mapping().is_some() {
        "in force"
    } else {
        "none valid yet: webhooks are journaled and mapped once the mapping in Port compiles"
    };
    (
        StatusCode::OK,
        axum::Json(json!({"ok": true, "mapping": mapping})),
    )
        .into_response()
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
