//! ocean-codecov: an Ocean-compatible integration host that keeps Port's
//! software catalog in sync with Codecov.

pub mod bench;
pub mod cli;
pub mod runtime;
