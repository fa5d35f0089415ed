//! `POST /integration/webhook`: check, parse and queue a webhook the plugin recognises, and
//! answer at once. A full queue is a 503 with `Retry-After`, never a silent drop.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use tokio::sync::mpsc::error::TrySendError;

use super::{MAX_BODY_BYTES, ServerState, authorised, reply};
use crate::metrics::metrics;
use crate::runtime::live_events::Event;

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
    let parsed: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(value) => value,
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
    if !state.host.plugin.recognises_webhook(&lowered, &parsed) {
        rejected("unrecognised");
        let message = format!("not a {} webhook payload", state.host.plugin.name());
        return reply(StatusCode::UNPROCESSABLE_ENTITY, "unrecognised_payload", message);
    }
    match state.events.try_send(Event { body: parsed }) {
        Ok(()) => {
            metrics().count_event("accepted");
            reply(StatusCode::ACCEPTED, "", "")
        }
        Err(TrySendError::Full(_)) => {
            rejected("queue_full");
            let mut response = reply(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "the event queue is full; retry shortly",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
        Err(TrySendError::Closed(_)) => {
            rejected("shutting_down");
            reply(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                "the integration is stopping",
            )
        }
    }
}
