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
    /// The blueprints the integration needs, created in Port when missing and
    /// `initialize_port_resources` is on (existing ones are left alone).
    pub blueprints: Vec<Value>,
}

/// One integration installation, running: what every command, listener and route shares
/// (behind an `Arc`). Make it with [`Host::build`].
pub struct Host {
    /// The settings it was built from.
    pub settings: Settings,
    /// Its client of Port's API.
    pub port: PortClient,
    /// The plugin that reads the source.
    pub plugin: Arc<dyn Plugin>,
    /// What ships with the integration.
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

/// Why a host operation (setup, loading the mapping, a resync) failed; [`crate::lifecycle::exit_code::for_error`]
/// turns it into the process's exit code.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// A Port call failed.
    #[error(transparent)]
    Port(#[from] PortError),
    /// The mapping in Port does not compile and none loaded earlier; the text lists the faults.
    #[error("the mapping in Port is invalid and no earlier mapping is in force:\n{0}")]
    NoValidMapping(String),
    /// The port-app-config shipped in [`Defaults`] does not load: a fault of the build, not of the user.
    #[error("the default port-app-config does not load: {0}")]
    BadDefault(String),
    /// The resync could not run or stopped as a whole.
    #[error(transparent)]
    Resync(#[from] ResyncError),
    /// A stop was asked and the resync did not reach its next page within the budget; Port was told
    /// `aborted`.
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

    /// The host with a Port client already made ([`Host::build`] makes it from `settings`). The
    /// clock for scheduled resyncs starts now.
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
