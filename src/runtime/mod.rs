//! The generic integration host: nothing here knows about Codecov.

pub mod app_config;
pub mod mapping;
pub mod plugin;
