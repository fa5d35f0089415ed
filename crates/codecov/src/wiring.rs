//! The wiring: this build's integration assembled from settings, with the
//! Codecov plugin and the defaults in `.port/` built in. The CLI, the
//! benchmarks and the fuzz targets all build their host here.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use serde_json::Value;

use crate::{CodecovPlugin, CodecovSettings};
use ocean_host::host::{Defaults, Host};
use ocean_host::settings::{IntegrationSpec, NOT_USED, Settings};
use ocean_support::secret::Secret;

/// The integration's spec: its type and its own config fields.
pub const SPEC: &str = include_str!("../../../.port/spec.yaml");
/// The default mapping, installed when the integration is created.
pub const PORT_APP_CONFIG: &str = include_str!("../../../.port/resources/port-app-config.yml");
/// The blueprints created when Port lacks them.
pub const BLUEPRINTS: &str = include_str!("../../../.port/resources/blueprints.json");

/// The integration field that holds the webhook secret.
pub const WEBHOOK_SECRET_FIELD: &str = "webhookSecret";

/// The integration as `sail` and `resync` run it: settings from the process
/// environment over `config` (or `./config.yaml` when present).
pub fn host(config: Option<PathBuf>) -> anyhow::Result<Host> {
    let config = config.or_else(|| Some(PathBuf::from("config.yaml")).filter(|p| p.exists()));
    // The environment over `.env`, as Ocean reads its settings.
    let vars: BTreeMap<String, String> = ocean_host::logging::env_vars();
    host_from(&vars, config.as_deref())
}

/// The integration from settings (`OCEAN__*` variables, optional config file),
/// with the Codecov plugin and the built-in defaults.
pub fn host_from(vars: &BTreeMap<String, String>, config: Option<&std::path::Path>) -> anyhow::Result<Host> {
    let spec = IntegrationSpec::parse(SPEC).map_err(anyhow::Error::msg)?;
    let mut settings = Settings::load(vars, config, &spec)?;
    settings.webhook_secret = settings
        .integration_config
        .get(WEBHOOK_SECRET_FIELD)
        .and_then(Value::as_str)
        .map(Secret::new);
    // Port's chart sets these for features of Python Ocean this host does not have.
    for name in NOT_USED.iter().filter(|name| vars.contains_key(**name)) {
        tracing::info!(
            "{name} is set (Port's Helm chart sets it); this integration has no such feature and does not use it"
        );
    }
    if let Some(url) = &settings.base_url
        && settings.listener != ocean_host::settings::ListenerKind::Webhook
    {
        tracing::info!(%url, "OCEAN__BASE_URL is set; Codecov's webhook is set up by hand (see the README), so only the WEBHOOK listener uses it");
    }
    let mut codecov = CodecovSettings::from_integration_config(&settings.integration_config)
        .map_err(|e| anyhow::anyhow!("integration config: {e}"))?;
    codecov.retry = settings.retry.clone();
    codecov.tls = settings.ocean.source_tls.clone();
    if let Some(secs) = settings.client_timeout_secs {
        codecov.request_timeout = std::time::Duration::from_secs(secs);
    }
    let plugin = Arc::new(CodecovPlugin::new(codecov)?);
    ocean_host::logging::ship_lines_of(env!("CARGO_CRATE_NAME"));
    let blueprints = serde_json::from_str(BLUEPRINTS).context("the built-in blueprints.json")?;
    let defaults = Defaults {
        port_app_config: PORT_APP_CONFIG,
        blueprints,
    };
    Ok(Host::build(settings, plugin, defaults)?)
}
