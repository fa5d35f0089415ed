//! The integration as it runs: its Port client, its plugin, its defaults, and
//! the mapping in force. It sets the integration up in Port (`registration`),
//! reads the mapping users edit there (`mapping_in_force`), and runs resyncs,
//! reporting each one's state to Port (`resync_state`).

mod mapping_in_force;
mod registration;
mod resync_state;

use std::sync::{Arc, RwLock};

use serde_json::Value;

use super::plugin::Plugin;
use super::resync::ResyncError;
use super::settings::Settings;
use mapping_in_force::Loaded;
pub use mapping_in_force::{MappingInForce, compile};
pub use ocean_port::order_by_relations;
use ocean_port::{PortClient, PortError};

/// What ships with the integration (`.port/resources/`).
pub struct Defaults {
    /// The default port-app-config (YAML), installed when the integration is created.
    pub port_app_config: &'static str,
    pub blueprints: Vec<Value>,
}

pub struct Host {
    pub settings: Settings,
    pub port: PortClient,
    pub plugin: Arc<dyn Plugin>,
    pub defaults: Defaults,
    /// The last mapping that compiled; an invalid edit in Port leaves it in force.
    mapping: RwLock<Option<Loaded>>,
    /// How the last resync ended, as reported to Port.
    last_status: std::sync::Mutex<Option<&'static str>>,
    /// Why the mapping in Port does not load, while it does not (said once per fault).
    mapping_fault: std::sync::Mutex<Option<String>>,
    /// Set on shutdown: a running resync stops before its deletion phase.
    pub stopping: std::sync::atomic::AtomicBool,
    /// When the process started: scheduled resyncs fall on this grid (as Ocean's).
    pub started_at: jiff::Timestamp,
    /// Set once Port refused a resync state carrying `heldBack`: then only Ocean's fields are sent.
    held_back_refused: std::sync::atomic::AtomicBool,
}

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error(transparent)]
    Port(#[from] PortError),
    #[error("the mapping in Port is invalid and no earlier mapping is in force:\n{0}")]
    NoValidMapping(String),
    #[error("the default port-app-config does not load: {0}")]
    BadDefault(String),
    #[error(transparent)]
    Resync(#[from] ResyncError),
    #[error(
        "the process was asked to stop and the resync did not reach its next page in time; Port was told it was aborted"
    )]
    StoppedBeforeItsReport,
}

impl Host {
    /// The host for `settings`, with its Port client made from them (the
    /// retry policy, TLS and client timeout they give).
    pub fn build(settings: Settings, plugin: Arc<dyn Plugin>, defaults: Defaults) -> Result<Host, PortError> {
        let mut port = ocean_port::PortSettings::new(
            &settings.port_base_url,
            &settings.port_client_id,
            settings.port_client_secret.clone(),
            &settings.integration_type,
            &settings.integration_identifier,
        );
        port.retry = settings.retry.clone();
        port.tls = settings.ocean.port_tls.clone();
        if let Some(secs) = settings.client_timeout_secs {
            port.request_timeout = std::time::Duration::from_secs(secs);
        }
        let port = PortClient::new(port)?;
        Ok(Host::new(settings, port, plugin, defaults))
    }

    pub fn new(settings: Settings, port: PortClient, plugin: Arc<dyn Plugin>, defaults: Defaults) -> Self {
        Host {
            settings,
            port,
            plugin,
            defaults,
            mapping: RwLock::new(None),
            mapping_fault: Default::default(),
            last_status: Default::default(),
            stopping: Default::default(),
            started_at: jiff::Timestamp::now(),
            held_back_refused: Default::default(),
        }
    }
}
