//! What every part of the integration shares below the host: one HTTP setup
//! and one retry policy, secrets that never print, masking of what is sent
//! out, JSON text at the byte level, and the Prometheus registry.

#![deny(missing_docs)]

pub mod http;
pub mod json_text;
pub mod metrics;
pub mod redact;
pub mod retry;
pub mod secret;
