//! What happens on the wire before and after a route's own logic: the body
//! limit, the rate budget and its headers, injected faults, the token check
//! and the request log.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use serde_json::{Value, json};

use super::{PortSim, TOKEN};
use crate::sim::faults::{Fault, RateDecision};
use crate::sim::request_log::LoggedRequest;

/// Far above Port's limit: bodies past Port's limit are read, measured and refused.
const READ_CAP: usize = 64 * 1024 * 1024;

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
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, READ_CAP).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return port_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                too_large_message(),
            );
        }
    };
    let mut entry = LoggedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or_default().to_string(),
        status: 0,
        request_bytes: body.len(),
        reply_bytes: 0,
        user_agent: header_text(&parts.headers, header::USER_AGENT),
        fault: None,
        request_body: None,
        reply_body: None,
    };
    if sim.config.capture_bodies {
        entry.request_body = serde_json::from_slice(&body).ok();
    }
    let rate = sim.limiter.take();
    let (fault, latency, retry_after) = sim.faults.next();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut response = if !rate.allowed {
        entry.fault = Some("rate limit".into());
        let mut response = status_error(429);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(rate.retry_after_secs));
        response
    } else if let Fault::Status(code) = fault {
        entry.fault = Some(code.to_string());
        let mut response = status_error(code);
        if code == 429 {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        response
    } else if body.len() > sim.config.max_body_bytes {
        port_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            too_large_message(),
        )
    } else if parts.uri.path() != TOKEN && !authorized(&sim, &parts.headers) {
        port_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "The access token is missing, invalid or expired",
        )
    } else {
        next.run(Request::from_parts(parts, Body::from(body))).await
    };
    add_rate_headers(response.headers_mut(), &rate);
    let (parts, body) = response.into_parts();
    let reply = axum::body::to_bytes(body, READ_CAP).await.unwrap_or_default();
    entry.status = parts.status.as_u16();
    entry.reply_bytes = reply.len();
    if sim.config.capture_bodies {
        entry.reply_body = serde_json::from_slice::<Value>(&reply).ok();
    }
    if fault == Fault::Reset {
        entry.fault = Some("reset".into());
        sim.log.push(entry);
        return cut_mid_body(parts, reply);
    }
    sim.log.push(entry);
    Response::from_parts(parts, Body::from(reply))
}

fn too_large_message() -> String {
    "Request body is too large (limit is 1MiB)".into()
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

fn authorized(sim: &PortSim, headers: &HeaderMap) -> bool {
    let value = header_text(headers, header::AUTHORIZATION);
    let token = value.strip_prefix("Bearer ").unwrap_or_default();
    !token.is_empty() && sim.token_is_valid(token)
}

/// The request was applied; the reply's headers go out, then half the body,
/// then the connection breaks.
fn cut_mid_body(parts: axum::http::response::Parts, reply: Bytes) -> Response {
    let half = reply.slice(..reply.len() / 2);
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(half),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "injected reset",
        )),
    ];
    let mut parts = parts;
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from_stream(stream::iter(chunks)))
}
