//! One error type for every Port call. It names the call and carries Port's
//! own error body, and never the token or the client secret.

use reqwest::StatusCode;
use serde::Deserialize;

/// Port's error body on every route: `{ok: false, error, message}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PortErrorBody {
    #[serde(default)]
    pub error: String,
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

#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("Port answered {method} {path} with {status}: {}{}", body.error, describe_message(&body.message))]
    Api {
        method: String,
        path: String,
        status: StatusCode,
        body: PortErrorBody,
    },
    #[error("{method} {path} could not reach Port: {reason}")]
    Transport {
        method: String,
        path: String,
        reason: String,
    },
    #[error("{method} {path}: gave up after {attempts} attempt(s) over {waited_ms} ms; last: {last}")]
    RetriesExhausted {
        method: String,
        path: String,
        attempts: u32,
        waited_ms: u64,
        last: Box<PortError>,
    },
    #[error("{method} {path}: Port's reply is not what its API documents: {reason}")]
    UnexpectedReply {
        method: String,
        path: String,
        reason: String,
    },
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
