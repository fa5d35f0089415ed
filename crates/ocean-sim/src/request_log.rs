//! What a simulator was asked and what it answered, for tests to assert on.

use std::sync::Mutex;

use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub status: u16,
    pub request_bytes: usize,
    pub reply_bytes: usize,
    pub user_agent: String,
    /// The fault injected instead of (or on top of) the real answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    /// Bodies are kept only when the simulator was asked to capture them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_body: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_body: Option<Value>,
}

#[derive(Default)]
pub struct RequestLog {
    entries: Mutex<Vec<LoggedRequest>>,
}

impl RequestLog {
    pub fn push(&self, entry: LoggedRequest) {
        self.lock().push(entry);
    }

    pub fn snapshot(&self) -> Vec<LoggedRequest> {
        self.lock().clone()
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<LoggedRequest>> {
        // A panicking test thread must not hide the log from the others.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
