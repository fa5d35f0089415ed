//! The HTTP server `sail` runs: Codecov webhooks as live events, a resync
//! trigger, health probes and Prometheus metrics.

mod webhook;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tokio::sync::mpsc;

use crate::runtime::host::Host;
use crate::runtime::listener::ResyncQueue;
use crate::runtime::live_events::Event;
use crate::secret::Secret;

/// Largest webhook body accepted, as Port's own limit.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Clone)]
pub struct ServerState {
    pub host: Arc<Host>,
    pub events: mpsc::Sender<Event>,
    pub resyncs: Arc<ResyncQueue>,
    /// `webhookSecret`: when set, webhooks and `/resync` must carry it.
    pub secret: Option<Secret>,
}

pub fn router(state: ServerState) -> Router {
    Router::new()
        .route("/integration/webhook", post(webhook::receive))
        .route("/webhook", post(webhook::receive))
        .route("/resync", post(resync))
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

/// Compares without stopping at the first difference, so timing reveals nothing.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    let mut difference = given.len() ^ expected.len();
    for (i, byte) in expected.iter().enumerate() {
        difference |= usize::from(given.get(i).copied().unwrap_or(0) ^ byte);
    }
    difference == 0
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

async fn ready(State(state): State<ServerState>) -> Response {
    // Ready once a mapping has loaded from Port: events can be mapped.
    if state.host.current_mapping().is_some() {
        reply(StatusCode::OK, "", "")
    } else {
        reply(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "the mapping has not loaded from Port yet",
        )
    }
}

async fn metrics() -> Response {
    let text = crate::metrics::metrics().render();
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

/// The integration's live side, started: the resync listener, the live-event
/// worker and the HTTP server. Start and stop it inside a `LocalSet`.
pub struct Running {
    pub addr: SocketAddr,
    queue: Arc<ResyncQueue>,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    processor: tokio::task::JoinHandle<()>,
}

/// Events accepted but not yet written; past this the webhook route answers 503.
const EVENT_QUEUE: usize = 10_000;
/// Events written to Port together.
const EVENT_BATCH: usize = 200;

impl Running {
    pub async fn start(host: Arc<Host>, addr: SocketAddr) -> std::io::Result<Running> {
        let queue = crate::runtime::listener::start(host.clone());
        let (events, received) = mpsc::channel(EVENT_QUEUE);
        let processor = tokio::task::spawn_local(crate::runtime::live_events::process(
            host.clone(),
            received,
            EVENT_BATCH,
        ));
        let secret = host
            .settings
            .integration_config
            .get("webhookSecret")
            .and_then(|v| v.as_str())
            .map(Secret::new);
        if secret.is_none() {
            tracing::warn!(
                "no webhookSecret is set: anyone who can reach this server can post webhooks and ask for resyncs"
            );
        }
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = ServerState {
            host,
            events,
            resyncs: queue.clone(),
            secret,
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, state, async {
            let _ = stopped.await;
        }));
        Ok(Running {
            addr,
            queue,
            stop,
            server,
            processor,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, writes every accepted event (up to 120 s), and lets a
    /// running resync end without deleting (up to 60 s).
    pub async fn stop(self, host: &Host) {
        host.stopping.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = self.stop.send(());
        match self.server.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!("the HTTP server failed: {e}"),
            Err(e) => tracing::error!("the HTTP server task failed: {e}"),
        }
        // The server's state held the last senders; with it gone the queue drains and ends.
        if tokio::time::timeout(std::time::Duration::from_secs(120), self.processor)
            .await
            .is_err()
        {
            tracing::error!("live events did not drain within 120 s");
        }
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        while self.queue.busy.load(std::sync::atomic::Ordering::SeqCst)
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
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
