//! A request the simulator refuses, as Port refuses it.

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
