//! The one HTTP setup every outgoing client uses: building the reqwest client,
//! encoding path segments, one request/reply exchange, and describing a
//! transport error without losing its causes.

use std::time::Duration;

use bytes::Bytes;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

pub fn build_client(user_agent: &str, timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .user_agent(user_agent)
        .timeout(timeout)
        .build()
        .map_err(|e| format!("building the HTTP client: {e}"))
}

// Everything but unreserved characters, so names with `/`, `#` or spaces stay one segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `prefix/a/b/...` with each segment percent-encoded.
pub fn path(prefix: &str, segments: &[&str]) -> String {
    let mut path = String::from(prefix);
    for segment in segments {
        path.push('/');
        path.extend(utf8_percent_encode(segment, SEGMENT));
    }
    path
}

pub struct RawReply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Sends the request and reads the whole body; a connection cut mid-body is
/// an error like a failed connect, and so is retried the same way.
pub async fn exchange(request: reqwest::RequestBuilder) -> Result<RawReply, reqwest::Error> {
    let response = request.send().await?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await?;
    Ok(RawReply {
        status,
        headers,
        body,
    })
}

/// The error and all its causes on one line. Our URLs carry no credentials.
pub fn describe(error: &reqwest::Error) -> String {
    let mut reason = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_encoded_one_by_one() {
        assert_eq!(
            path("/v1", &["blueprints", "svc", "entities", "org/repo name#1"]),
            "/v1/blueprints/svc/entities/org%2Frepo%20name%231"
        );
    }
}
