//! The generic integration host: settings (`OCEAN__*`), the port-app-config
//! model, the JQ mapping engine, the resync planner and runner, the event
//! listeners and schedule, live events and their journal, the HTTP server,
//! and the process's life. Nothing here knows which service a plugin reads:
//! the plugin (`plugin::Plugin`) and the settings say it.

#![deny(missing_docs)]

pub mod event_listener;
pub mod host;
pub mod journal;
pub mod lifecycle;
pub mod live_events;
pub mod logging;
pub mod mapping;
pub mod plugin;
pub mod port_app_config;
pub mod probe;
pub mod raw_item;
pub mod resync;
pub mod server;
pub mod settings;
pub mod sync_feed;

pub use host::{Defaults, Host, HostError};
pub use plugin::Plugin;

/// The name the running program was started as (e.g. `ocean-codecov`), for
/// messages that tell the user a command to run; the host itself names no integration.
pub fn program_name() -> String {
    std::env::args_os()
        .next()
        .as_deref()
        .map(std::path::Path::new)
        .and_then(|path| path.file_name())
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "this integration".into())
}
