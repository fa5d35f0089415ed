//! ocean-codecov: an Ocean-compatible integration host that keeps Port's
//! software catalog in sync with Codecov.

pub mod bench;
pub mod cli;
pub mod codecov;
pub mod fuzzing;
pub mod http;
pub mod json_text;
pub mod lifecycle;
pub mod logging;
pub mod metrics;
pub mod port;
pub mod redact;
pub mod retry;
pub mod runtime;
pub mod secret;
pub mod server;
pub mod sim;
pub mod wiring;
