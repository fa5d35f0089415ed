//! What happens on the wire before and after a route's own logic: the body
//! limit, the rate budget and its headers, injected faults, the token check
//! and the request log.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{PortSim, TOKEN};
use crate::exchange::{self, header_text};
use crate::faults::{Fault, RateDecision};

pub fn port_error(status: StatusCode, error: &str, message: impl Into<String>) -> Response {
    let body = json!({"ok": false, "error": error, "message": message.into()});
    (status, axum::Json(body)).into_response()
}

fn status_error(code: u16) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let (error, message) = match code {
        429 => ("too_many_requests", "Rate limit exceeded, retry later"),
        502 => ("bad_gateway", "Bad gateway"),
        503 => ("service_unavailable", "Service temporarily unavailable"),
        504 => ("gateway_timeout", "Gateway timeout"),
        _ => ("internal_error", "Injected failure"),
    };
    port_error(status, error, message)
}

fn add_rate_headers(headers: &mut HeaderMap, rate: &RateDecision) {
    for (name, value) in [
        ("x-ratelimit-period", rate.period_secs),
        ("x-ratelimit-limit", rate.limit),
        ("x-ratelimit-remaining", rate.remaining),
        ("x-ratelimit-reset", rate.reset_epoch),
    ] {
        headers.insert(name, HeaderValue::from(value));
    }
}

pub async fn middleware(State(sim): State<Arc<PortSim>>, request: Request, next: Next) -> Response {
    if request.uri().path().starts_with("/_admin") {
        return next.run(request).await;
    }
    let capture = sim.config.capture_bodies;
    let mut exchange = exchange::begin(request, &sim.faults, capture).await;
    let rate = sim.limiter.take();
    let mut response = if !rate.allowed {
        exchange.entry.fault = Some("rate limit".into());
        let mut response = status_error(429);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(rate.retry_after_secs));
        response
    } else if let Fault::Status(code) = exchange.fault {
        let mut response = status_error(code);
        if code == 429 && exchange.retry_after > 0 {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(exchange.retry_after));
        }
        response
    } else if exchange.dropped() {
        Response::default()
    } else if exchange.body_len > sim.config.max_body_bytes {
        port_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "Request body is too large (limit is 1MiB)",
        )
    } else if exchange.uri.path() != TOKEN && !authorized(&sim, &exchange.headers, exchange.fault) {
        port_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "The access token is missing, invalid or expired",
        )
    } else {
        next.run(exchange.take_request()).await
    };
    if exchange.fault == Fault::Garbled && response.status().is_success() {
        response = garble(response).await;
    }
    add_rate_headers(response.headers_mut(), &rate);
    // Port's own clock, which may differ from the host's.
    let date = httpdate::fmt_http_date(sim.now().into());
    if let Ok(value) = HeaderValue::from_str(&date) {
        response.headers_mut().insert(header::DATE, value);
    }
    exchange.finish(response, &sim.log, capture).await
}

/// The reply cut to its first half: applied, answered, unreadable.
async fn garble(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let half = body.slice(..body.len() / 2);
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(half))
}

fn authorized(sim: &PortSim, headers: &HeaderMap, fault: Fault) -> bool {
    if fault == Fault::ExpireToken {
        sim.expire_tokens();
    }
    let value = header_text(headers, header::AUTHORIZATION);
    let token = value.strip_prefix("Bearer ").unwrap_or_default();
    !token.is_empty() && sim.token_is_valid(token)
}
