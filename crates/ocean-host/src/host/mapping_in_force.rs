//! The mapping in force: read from the integration's config in Port, checked,
//! kept while unchanged, and compiled once per thread.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use super::{Host, HostError};
use crate::mapping::{JqOptions, ResourceMapper};
use crate::port_app_config::{self, MappingSource, model::PortAppConfig};

/// A mapping that compiled. Compiled programs stay on the thread that runs
/// them (jaq's values are not thread-safe), so what is kept is the config;
/// each thread compiles it once (see `compile`).
pub type MappingInForce = PortAppConfig;

/// The last config a thread compiled: the one in force (by pointer, the cheap
/// check), its JSON (so another host's equal config hits too), and the programs.
struct Compiled {
    config: Arc<MappingInForce>,
    options: JqOptions,
    json: String,
    mappers: Rc<[ResourceMapper]>,
}

thread_local! {
    /// Resyncs and live events reuse the programs until users change the mapping.
    static COMPILED: RefCell<Option<Compiled>> = const { RefCell::new(None) };
}

/// The config's compiled mappers, one per resource, reused while it and the
/// options (`Host::jq_options`) are unchanged.
pub fn compile(config: &Arc<MappingInForce>, options: JqOptions) -> Result<Rc<[ResourceMapper]>, String> {
    let same_config = COMPILED.with(|last| {
        last.borrow()
            .as_ref()
            .filter(|c| Arc::ptr_eq(&c.config, config) && c.options == options)
            .map(|c| c.mappers.clone())
    });
    if let Some(mappers) = same_config {
        return Ok(mappers);
    }
    let json =
        serde_json::to_string(config.as_ref()).map_err(|e| format!("the mapping does not encode: {e}"))?;
    let equal_config = COMPILED.with(|last| {
        let mut last = last.borrow_mut();
        let hit = last.as_mut().filter(|c| c.json == json && c.options == options)?;
        hit.config = config.clone();
        Some(hit.mappers.clone())
    });
    if let Some(mappers) = equal_config {
        return Ok(mappers);
    }
    let mappers: Rc<[ResourceMapper]> =
        port_app_config::compile(MappingSource::AppConfig(config.as_ref().clone()), options)
            .map(|loaded| loaded.mappers.into())
            .map_err(|faults| {
                faults
                    .iter()
                    .map(|f| format!("{}: {}", f.path, f.message))
                    .collect::<Vec<_>>()
                    .join("\n")
            })?;
    COMPILED.with(|last| {
        *last.borrow_mut() = Some(Compiled {
            config: config.clone(),
            options,
            json,
            mappers: mappers.clone(),
        })
    });
    Ok(mappers)
}

/// The mapping in force and the text it was read from, so an unchanged
/// mapping is not parsed and checked again.
pub(super) struct Loaded {
    text: String,
    config: Arc<MappingInForce>,
}

impl Host {
    /// How mappings compile here: `env` / `$ENV` only with
    /// `OCEAN__ALLOW_ENVIRONMENT_VARIABLES_JQ_ACCESS=true`.
    pub fn jq_options(&self) -> JqOptions {
        JqOptions {
            allow_env: self.settings.allow_environment_variables_jq_access,
        }
    }

    /// Reads the mapping from the integration's config in Port. An invalid one
    /// is reported and the last valid one stays in force.
    pub async fn refresh_mapping(&self, allow_default: bool) -> Result<Arc<MappingInForce>, HostError> {
        let integration = self.port.get_integration().await?;
        let config = integration
            .as_ref()
            .and_then(|i| i.get("config"))
            .filter(|c| c.get("resources").is_some());
        let (text, origin) = match config {
            Some(config) => (
                serde_json::to_string_pretty(config).unwrap_or_default(),
                "Port (integration config)",
            ),
            None if allow_default => (
                self.defaults.port_app_config.to_string(),
                "the default port-app-config",
            ),
            None => (String::from("{}"), "Port (integration config)"),
        };
        let unchanged = {
            let guard = self.mapping.read().unwrap_or_else(|p| p.into_inner());
            guard
                .as_ref()
                .filter(|f| f.text == text)
                .map(|f| f.config.clone())
        };
        if let Some(config) = unchanged {
            return Ok(config);
        }
        match port_app_config::parse_str(&text, origin, self.jq_options()) {
            Ok(loaded) => {
                let MappingSource::AppConfig(config) = loaded.source else {
                    return self.keep_last(format!(
                        "{origin}: a Port webhook mapping is not a port-app-config"
                    ));
                };
                let active = Arc::new(config);
                self.mapping_fault_cleared();
                *self.mapping.write().unwrap_or_else(|p| p.into_inner()) = Some(Loaded {
                    text,
                    config: active.clone(),
                });
                Ok(active)
            }
            Err(errors) => self.keep_last(errors.to_string()),
        }
    }

    /// The mapping in force, if one has loaded.
    pub fn current_mapping(&self) -> Option<Arc<MappingInForce>> {
        let guard = self.mapping.read().unwrap_or_else(|p| p.into_inner());
        guard.as_ref().map(|f| f.config.clone())
    }

    fn keep_last(&self, fault: String) -> Result<Arc<MappingInForce>, HostError> {
        ocean_support::metrics::metrics().mapping_invalid.set(1);
        // Said once per distinct fault: the mapping is read again often while it stays wrong.
        let new = {
            let mut last = self.mapping_fault.lock().unwrap_or_else(|p| p.into_inner());
            let new = last.as_deref() != Some(fault.as_str());
            *last = Some(fault.clone());
            new
        };
        let in_force = self.current_mapping();
        if new {
            match in_force {
                Some(_) => tracing::error!(
                    "the mapping in Port is invalid; the last valid mapping stays in force:\n{fault}"
                ),
                None => tracing::error!(
                    "the mapping in Port is invalid and no earlier one is in force: live events wait in the \
                     journal and resyncs fail until it is fixed:\n{fault}"
                ),
            }
        }
        in_force.ok_or(HostError::NoValidMapping(fault))
    }

    fn mapping_fault_cleared(&self) {
        ocean_support::metrics::metrics().mapping_invalid.set(0);
        let was = self
            .mapping_fault
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if was.is_some() {
            tracing::info!("the mapping in Port is valid again and in force");
        }
    }
}
