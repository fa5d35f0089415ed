//! The part of a simulator's wire behaviour every simulated service shares:
//! reading the request, drawing the fault and latency, logging the exchange,
//! and cutting a reply mid-body for a `reset`.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, Uri, header};
use axum::response::Response;
use futures_util::stream;
use serde_json::Value;

use super::faults::{Fault, Faults};
use super::request_log::{LoggedRequest, RequestLog};

/// The fault drawn for a request, left in its extensions for the routes that
/// show it themselves (a partial bulk reply, an empty page).
#[derive(Debug, Clone, Copy)]
pub struct InjectedFault(pub Fault);

impl InjectedFault {
    pub fn of(extensions: &axum::http::Extensions) -> Fault {
        extensions
            .get::<InjectedFault>()
            .map_or(Fault::Pass, |injected| injected.0)
    }
}

/// Below this a body is never "too large" (an injected 413 passes).
const SMALLEST_TOO_LARGE: usize = 1024;

/// Far above any documented limit: bodies are read whole, then measured.
const READ_CAP: usize = 64 * 1024 * 1024;

pub struct Exchange<'a> {
    /// Held until the reply is sent: the request's place under `maxInFlight`.
    _in_flight: super::faults::InFlight<'a>,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body_len: usize,
    request: Option<Request>,
    pub entry: LoggedRequest,
    pub fault: Fault,
    /// `Retry-After` seconds for an injected 429.
    pub retry_after: u64,
}

/// Reads the request, waits the configured latency and draws this request's fault.
pub async fn begin(request: Request, faults: &Faults, capture: bool) -> Exchange<'_> {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, READ_CAP).await.unwrap_or_default();
    let entry = LoggedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or_default().to_string(),
        status: 0,
        request_bytes: body.len(),
        reply_bytes: 0,
        user_agent: header_text(&parts.headers, header::USER_AGENT),
        fault: None,
        request_body: if capture {
            serde_json::from_slice(&body).ok()
        } else {
            None
        },
        reply_body: None,
    };
    let in_flight = faults.enter().await;
    let (mut fault, latency, retry_after) = faults.next();
    // A service refuses a body as too large only when it is large: a small
    // request (a token, a resync state) answers normally instead.
    if fault == Fault::Status(413) && body.len() < SMALLEST_TOO_LARGE {
        fault = Fault::Pass;
    }
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    // from_parts keeps the router's extensions (the matched route and its parameters).
    let mut request = Request::from_parts(parts.clone(), Body::from(body.clone()));
    request.extensions_mut().insert(InjectedFault(fault));
    Exchange {
        _in_flight: in_flight,
        uri: parts.uri,
        headers: parts.headers,
        body_len: body.len(),
        request: Some(request),
        entry,
        fault,
        retry_after,
    }
}

impl Exchange<'_> {
    /// The request, rebuilt for the route handler; a second call gets an empty one.
    pub fn take_request(&mut self) -> Request {
        self.request.take().unwrap_or_default()
    }

    /// Whether the route must not see this request: it "died on the way in".
    pub fn dropped(&self) -> bool {
        self.fault == Fault::Drop
    }

    /// Logs the exchange and sends the reply, or half of it for a `reset`
    /// (none of it for a `drop`).
    pub async fn finish(mut self, response: Response, log: &RequestLog, capture: bool) -> Response {
        let (mut parts, body) = response.into_parts();
        let reply = axum::body::to_bytes(body, READ_CAP).await.unwrap_or_default();
        self.entry.status = parts.status.as_u16();
        self.entry.reply_bytes = reply.len();
        if capture {
            self.entry.reply_body = serde_json::from_slice::<Value>(&reply).ok();
        }
        if self.fault != Fault::Pass && self.entry.fault.is_none() {
            self.entry.fault = Some(String::from(self.fault));
        }
        if matches!(self.fault, Fault::Reset | Fault::Drop) {
            log.push(self.entry);
            // The headers go out, then half the body (none for a drop), then the connection breaks.
            let kept = if self.fault == Fault::Reset {
                reply.len() / 2
            } else {
                0
            };
            let half = reply.slice(..kept);
            let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
                Ok(half),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "injected reset",
                )),
            ];
            parts.headers.remove(header::CONTENT_LENGTH);
            return Response::from_parts(parts, Body::from_stream(stream::iter(chunks)));
        }
        log.push(self.entry);
        Response::from_parts(parts, Body::from(reply))
    }
}

pub fn header_text(headers: &HeaderMap, name: header::HeaderName) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}
