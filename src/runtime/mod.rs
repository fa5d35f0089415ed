//! The generic integration host: nothing here knows which service a plugin
//! reads; the plugin (`plugin::Plugin`) and the settings say it.

pub mod event_listener;
pub mod host;
pub mod journal;
pub mod live_events;
pub mod mapping;
pub mod plugin;
pub mod port_app_config;
pub mod raw_item;
pub mod resync;
pub mod settings;
pub mod sync_feed;
