//! The integration as it runs: its Port client, its plugin, its defaults, and
//! the mapping in force. It sets the integration up in Port, reads the mapping
//! users edit there, and runs resyncs, reporting each one's state to Port.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, RwLock};

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::app_config::{self, MappingSource, model::PortAppConfig};
use super::config::Settings;
use super::mapping::{JqOptions, ResourceMapper};
use super::plugin::Plugin;
use super::resync::progress::Progress;
use super::resync::{Resync, ResyncError, ResyncReport};
use crate::port::{PortClient, PortError};

/// What ships with the integration (`.port/resources/`).
pub struct Defaults {
    /// The default port-app-config (YAML), installed when the integration is created.
    pub port_app_config: &'static str,
    pub blueprints: Vec<Value>,
}

/// A mapping that compiled. Compiled programs stay on the thread that runs
/// them (jaq's values are not thread-safe), so what is kept is the config;
/// each thread compiles it once (see `compile`).
pub type ActiveMapping = PortAppConfig;

/// The last config a thread compiled: the one in force (by pointer, the cheap
/// check), its JSON (so another host's equal config hits too), and the programs.
struct Compiled {
    config: Arc<ActiveMapping>,
    json: String,
    mappers: Rc<[ResourceMapper]>,
}

thread_local! {
    /// Resyncs and live events reuse the programs until users change the mapping.
    static COMPILED: RefCell<Option<Compiled>> = const { RefCell::new(None) };
}

/// The config's compiled mappers, one per resource, reused while it is unchanged.
pub fn compile(config: &Arc<ActiveMapping>) -> Result<Rc<[ResourceMapper]>, String> {
    let same_config = COMPILED.with(|last| {
        last.borrow()
            .as_ref()
            .filter(|c| Arc::ptr_eq(&c.config, config))
            .map(|c| c.mappers.clone())
    });
    if let Some(mappers) = same_config {
        return Ok(mappers);
    }
    let json =
        serde_json::to_string(config.as_ref()).map_err(|e| format!("the mapping does not encode: {e}"))?;
    let equal_config = COMPILED.with(|last| {
        let mut last = last.borrow_mut();
        let hit = last.as_mut().filter(|c| c.json == json)?;
        hit.config = config.clone();
        Some(hit.mappers.clone())
    });
    if let Some(mappers) = equal_config {
        return Ok(mappers);
    }
    let mappers: Rc<[ResourceMapper]> = app_config::compile(
        MappingSource::AppConfig(config.as_ref().clone()),
        JqOptions::default(),
    )
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
            json,
            mappers: mappers.clone(),
        })
    });
    Ok(mappers)
}

/// The mapping in force and the text it was read from, so an unchanged
/// mapping is not parsed and checked again.
struct InForce {
    text: String,
    config: Arc<ActiveMapping>,
}

pub struct Host {
    pub settings: Settings,
    pub port: PortClient,
    pub plugin: Arc<dyn Plugin>,
    pub defaults: Defaults,
    /// The last mapping that compiled; an invalid edit in Port leaves it in force.
    mapping: RwLock<Option<InForce>>,
    /// Set on shutdown: a running resync stops before its deletion phase.
    pub stopping: std::sync::atomic::AtomicBool,
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
}

fn now() -> String {
    OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default()
}

/// Blueprints ordered so each comes after the blueprints its relations point
/// at; those in a cycle keep their given order.
pub fn order_by_relations(blueprints: &[Value]) -> Vec<Value> {
    let id = |b: &Value| {
        b.get("identifier")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let all: Vec<String> = blueprints.iter().map(id).collect();
    let mut placed: Vec<String> = Vec::new();
    let mut ordered = Vec::new();
    let mut pending: Vec<&Value> = blueprints.iter().collect();
    while !pending.is_empty() {
        let ready = pending.iter().position(|b| {
            let targets = b.get("relations").and_then(Value::as_object);
            targets
                .into_iter()
                .flatten()
                .filter_map(|(_, r)| r.get("target").and_then(Value::as_str))
                .all(|t| t == id(b) || placed.iter().any(|p| p == t) || !all.iter().any(|a| a == t))
        });
        let next = pending.remove(ready.unwrap_or(0));
        placed.push(id(next));
        ordered.push(next.clone());
    }
    ordered
}

impl Host {
    pub fn new(settings: Settings, port: PortClient, plugin: Arc<dyn Plugin>, defaults: Defaults) -> Self {
        Host {
            settings,
            port,
            plugin,
            defaults,
            mapping: RwLock::new(None),
            stopping: Default::default(),
        }
    }

    fn default_config(&self) -> Result<Value, HostError> {
        serde_norway::from_str(self.defaults.port_app_config)
            .map_err(|e| HostError::BadDefault(e.to_string()))
    }

    /// Registers the integration (with the default mapping) if Port lacks it,
    /// brings its type and version up to date, and creates missing blueprints.
    /// Existing blueprints and mappings are never overwritten.
    pub async fn set_up(&self) -> Result<(), HostError> {
        let default_config = self.default_config()?;
        let integration = match self.port.get_integration().await? {
            Some(existing) => existing,
            None => {
                tracing::info!(identifier = %self.settings.integration_identifier, "registering the integration in Port");
                self.port.create_integration(&default_config).await?
            }
        };
        let version = self.port.settings().integration_version.clone();
        let drifted = integration.get("installationAppType").and_then(Value::as_str)
            != Some(self.settings.integration_type.as_str())
            || integration.get("version").and_then(Value::as_str) != Some(version.as_str());
        if drifted {
            self.port
                .patch_integration(
                    &json!({"installationAppType": self.settings.integration_type, "version": version}),
                )
                .await?;
        }
        if self.settings.initialize_port_resources {
            let created = self
                .port
                .ensure_blueprints(&order_by_relations(&self.defaults.blueprints))
                .await?;
            if !created.is_empty() {
                tracing::info!(blueprints = ?created, "created default blueprints");
            }
        }
        Ok(())
    }

    /// Reads the mapping from the integration's config in Port. An invalid one
    /// is reported and the last valid one stays in force.
    pub async fn refresh_mapping(&self, allow_default: bool) -> Result<Arc<ActiveMapping>, HostError> {
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
        match app_config::parse_str(&text, origin, JqOptions::default()) {
            Ok(loaded) => {
                let MappingSource::AppConfig(config) = loaded.source else {
                    return self.keep_last(format!(
                        "{origin}: a Port webhook mapping is not a port-app-config"
                    ));
                };
                let active = Arc::new(config);
                *self.mapping.write().unwrap_or_else(|p| p.into_inner()) = Some(InForce {
                    text,
                    config: active.clone(),
                });
                Ok(active)
            }
            Err(errors) => self.keep_last(errors.to_string()),
        }
    }

    /// The mapping in force, if one has loaded.
    pub fn current_mapping(&self) -> Option<Arc<ActiveMapping>> {
        let guard = self.mapping.read().unwrap_or_else(|p| p.into_inner());
        guard.as_ref().map(|f| f.config.clone())
    }

    fn keep_last(&self, fault: String) -> Result<Arc<ActiveMapping>, HostError> {
        tracing::error!("the mapping in Port is invalid; the last valid mapping stays in force:\n{fault}");
        self.current_mapping().ok_or(HostError::NoValidMapping(fault))
    }

    async fn report_state(&self, state: Value) {
        if let Err(e) = self.port.patch_resync_state(&state).await {
            tracing::warn!("could not report the resync state to Port: {e}");
        }
    }

    /// One resync with the mapping in force, its state reported to Port
    /// (running, then completed or failed). A dry run writes nothing at all.
    /// The future holds compiled programs, so it runs on one thread (a
    /// `LocalSet` or `block_on`).
    pub async fn resync(&self, progress: &dyn Progress, dry_run: bool) -> Result<ResyncReport, HostError> {
        let interval = self.settings.scheduled_resync_interval;
        let started = std::time::Instant::now();
        if !dry_run {
            self.report_state(
                json!({"status": "running", "lastResyncStart": now(), "lastResyncEnd": null,
                "nextResync": null, "intervalInMinuets": interval}),
            )
            .await;
        }
        let outcome = async {
            let mapping = self.refresh_mapping(dry_run).await?;
            let mappers = compile(&mapping).map_err(HostError::NoValidMapping)?;
            let resync = Resync {
                plugin: self.plugin.clone(),
                port: &self.port,
                config: &mapping,
                mappers: &mappers,
                progress,
                dry_run,
                stop: &self.stopping,
            };
            Ok::<_, HostError>(resync.run().await?)
        }
        .await;
        record_metrics(&outcome, started.elapsed());
        if !dry_run {
            let status = match &outcome {
                Ok(report) if report.succeeded() => "completed",
                _ => "failed",
            };
            self.report_state(
                json!({"status": status, "lastResyncEnd": now(), "nextResync": null,
                "intervalInMinuets": interval}),
            )
            .await;
        }
        outcome
    }
}

fn record_metrics(outcome: &Result<ResyncReport, HostError>, took: std::time::Duration) {
    let metrics = crate::metrics::metrics();
    let label = match outcome {
        Ok(report) if report.succeeded() => "completed",
        _ => "failed",
    };
    metrics
        .resyncs
        .get_or_create(&crate::metrics::Outcome {
            outcome: label.into(),
        })
        .inc();
    metrics.resync_seconds.observe(took.as_secs_f64());
    if let Ok(report) = outcome {
        for k in &report.kinds {
            for (result, n) in [
                ("created", k.created),
                ("updated", k.updated),
                ("unchanged", k.unchanged),
                ("failed", k.upsert_failures + k.mapping_errors),
            ] {
                metrics.count_entities(&k.kind, result, n);
            }
        }
        if let super::resync::Deletion::Done { deleted, .. }
        | super::resync::Deletion::Failed { deleted, .. } = report.deletion
        {
            metrics.count_entities("*", "deleted", deleted);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relation_targets_come_first() {
        let blueprints = vec![
            json!({"identifier": "commit", "relations": {"repo": {"target": "repo"}}}),
            json!({"identifier": "other", "relations": {"x": {"target": "elsewhere"}}}),
            json!({"identifier": "repo", "relations": {}}),
        ];
        let order: Vec<_> = order_by_relations(&blueprints)
            .iter()
            .map(|b| b["identifier"].clone())
            .collect();
        assert_eq!(order, [json!("other"), json!("repo"), json!("commit")]);
    }
}
