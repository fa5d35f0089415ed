//! One error type for every Port call. It names the call and carries Port's
//! own error body, and never the token or the client secret.

use reqwest::StatusCode;
use serde::Deserialize;

/// Port's error body on every route: `{ok: false, error, message}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PortErrorBody {
    /// Port's error code, e.g. `not_found`; empty when the body had none.
    #[serde(default)]
    pub error: String,
    /// Port's human-readable message.
    #[serde(default)]
    pub message: String,
}

impl PortErrorBody {
    /// Reads Port's error body; a body of another shape is kept, cut short, as the message.
    pub fn parse(body: &[u8]) -> Self {
        serde_json::from_slice(body).unwrap_or_else(|_| {
            let text = String::from_utf8_lossy(body);
            PortErrorBody {
                error: String::new(),
                message: text.chars().take(300).collect(),
            }
        })
    }
}

/// Why a Port call failed; every variant names the call (method and path) and none holds a credential.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// Port answered with an error status.
    #[error("Port answered {method} {path} with {status}: {}{}", body.error, describe_message(&body.message))]
    Api {
        /// The HTTP method.
        method: String,
        /// The path (or the URL, for the ingest routes).
        path: String,
        /// Port's status.
        status: StatusCode,
        /// Port's error body.
        body: PortErrorBody,
    },
    /// No reply came: connect, TLS, timeout, or a connection cut mid-body.
    #[error("{method} {path} could not reach Port: {reason}")]
    Transport {
        /// The HTTP method.
        method: String,
        /// The path (or the URL, for the ingest routes).
        path: String,
        /// The transport error and its causes on one line.
        reason: String,
    },
    /// A retryable failure that kept happening until the retry policy's attempts or wait budget ran out.
    #[error("{method} {path}: gave up after {attempts} attempt(s) over {waited_ms} ms; last: {last}")]
    RetriesExhausted {
        /// The HTTP method.
        method: String,
        /// The path (or the URL, for the ingest routes).
        path: String,
        /// Attempts made, the first included.
        attempts: u32,
        /// Milliseconds spent sleeping between attempts.
        waited_ms: u64,
        /// The last attempt's error.
        last: Box<PortError>,
    },
    /// Port answered with success, but the body is not of the shape Port's API documents.
    #[error("{method} {path}: Port's reply is not what its API documents: {reason}")]
    UnexpectedReply {
        /// The HTTP method.
        method: String,
        /// The path (or the URL, for the ingest routes).
        path: String,
        /// What does not match.
        reason: String,
    },
    /// The client could not be set up, or a call's input could not be sent (a body that does not
    /// encode, a blueprint without an identifier); the failing request was never sent.
    #[error("Port client setup: {0}")]
    Setup(String),
}

/// A JSON value's type, for messages about replies of the wrong shape.
pub(crate) fn kind_of(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

fn describe_message(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(" ({message})")
    }
}

impl PortError {
    /// The HTTP status Port answered with, looking through retries.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            PortError::Api { status, .. } => Some(*status),
            PortError::RetriesExhausted { last, .. } => last.status(),
            _ => None,
        }
    }

    /// Port's error body, looking through retries.
    pub fn body(&self) -> Option<&PortErrorBody> {
        match self {
            PortError::Api { body, .. } => Some(body),
            PortError::RetriesExhausted { last, .. } => last.body(),
            _ => None,
        }
    }

    /// Port's reply to a call it accepted could not be read.
    pub fn is_unexpected_reply(&self) -> bool {
        matches!(self, PortError::UnexpectedReply { .. })
    }

    /// Credentials are wrong or lack a permission: retrying or splitting cannot help.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self.status(),
            Some(StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
        )
    }
}
