//! `POST /integration/webhook`: check and parse a webhook the plugin recognises,
//! append it to the journal, and answer 202 once it is on disk. Only bad
//! requests and a journal at its disk bound (507) are refused; a busy queue never is.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;

use super::{MAX_BODY_BYTES, ServerState, authorised, reply};
use crate::journal::AppendError;
use ocean_support::metrics::metrics;

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let essence = v
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            essence == "application/json" || essence.ends_with("+json")
        })
}

pub async fn receive(
    State(state): State<ServerState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Body,
) -> Response {
    let rejected = |outcome: &str| metrics().count_event(outcome);
    if !authorised(&state, &headers, &query) {
        rejected("unauthorized");
        return reply(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong webhook secret",
        );
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    let too_large = || {
        reply(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the body is over 1 MiB",
        )
    };
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        rejected("too_large");
        return too_large();
    }
    if !is_json(&headers) {
        rejected("not_json");
        return reply(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send Content-Type: application/json",
        );
    }
    let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            rejected("too_large");
            return too_large();
        }
    };
    // Checked without building a document: the processor parses the body when
    // its turn comes (most of a burst waits in the journal meanwhile).
    match serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
        Ok(_) => {}
        Err(e) => {
            rejected("invalid_json");
            let message = format!("line {} column {}: {e}", e.line(), e.column());
            return reply(StatusCode::BAD_REQUEST, "invalid_json", message);
        }
    };
    let lowered: BTreeMap<String, String> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_ascii_lowercase(), v.to_str().ok()?.to_string())))
        .collect();
    if !state.host.plugin.recognises_webhook(&lowered, &bytes) {
        rejected("unrecognised");
        let message = format!("not a {} webhook payload", state.host.plugin.name());
        return reply(StatusCode::UNPROCESSABLE_ENTITY, "unrecognised_payload", message);
    }
    // Acknowledged only once on disk: a source may never send an event twice.
    match state.live.accept(bytes).await {
        Ok(_) => {
            metrics().count_event("accepted");
            reply(StatusCode::ACCEPTED, "", "")
        }
        Err(e) => {
            rejected("journal_full");
            journal_refused(&e);
            reply(StatusCode::INSUFFICIENT_STORAGE, "journal_full", e.to_string())
        }
    }
}

/// Logs a refusal by the journal, at most once a second (a full journal
/// refuses every event until it drains).
fn journal_refused(error: &AppendError) {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = crate::journal::now_ms();
    let last = LAST.load(Ordering::Relaxed);
    if now.saturating_sub(last) >= 1000
        && LAST
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        tracing::error!(
            "webhook refused with 507: {error}; raise OCEAN__JOURNAL__MAX_MB or check why events do not reach Port (dead letters, Port unreachable)"
        );
    }
}
