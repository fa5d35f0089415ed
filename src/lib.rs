//! ocean-codecov: an Ocean-compatible integration host that keeps Port's
//! software catalog in sync with Codecov.

#[cfg(feature = "bench")]
pub mod bench;
#[cfg(feature = "bench")]
pub mod cli;
pub mod codecov;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
#[cfg(feature = "sim")]
pub mod harness;
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
#[cfg(feature = "sim")]
pub mod sim;
pub mod wiring;
