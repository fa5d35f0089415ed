//! A request the simulator refuses, as Port refuses it.

use axum::body::Bytes;
use serde_json::{Map, Value};

/// A refusal, shaped as Port's error body.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub status: u16,
    pub error: &'static str,
    pub message: String,
}

impl Refusal {
    pub fn new(status: u16, error: &'static str, message: impl Into<String>) -> Self {
        Refusal {
            status,
            error,
            message: message.into(),
        }
    }
}

/// A body Port's schema refuses (422).
pub fn invalid(message: impl Into<String>) -> Refusal {
    Refusal::new(422, "invalid_request", message)
}

/// The body as a JSON object, refused as Port refuses anything else.
pub fn json_object(body: &Bytes) -> Result<Map<String, Value>, Refusal> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(invalid("body must be object")),
        Err(e) => Err(Refusal::new(
            400,
            "invalid_json",
            format!("Body is not valid JSON: {e}"),
        )),
    }
}
