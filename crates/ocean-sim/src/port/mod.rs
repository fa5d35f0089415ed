//! A loopback Port: the routes an integration uses, as Port's OpenAPI spec
//! documents them, over an in-memory organisation.

pub mod date_time;
mod entity_rules;
pub mod feed;
pub mod query;
mod refusal;
mod routes;
pub mod store;
mod wire;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::faults::{FaultConfig, Faults, RateLimiter};
use super::request_log::RequestLog;
use super::{Served, serve};
pub use routes::ORGANIZATION_ID;
use store::Store;

/// Port's documented body limit for every request (1 MiB).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Port's documented limit of entities per bulk upsert.
pub const MAX_BULK_ENTITIES: usize = 20;
/// Port's documented limit of identifiers per bulk delete.
pub const MAX_BULK_DELETE: usize = 100;

pub const TOKEN: &str = "/v1/auth/access_token";
pub const BLUEPRINTS: &str = "/v1/blueprints";
pub const BLUEPRINT: &str = "/v1/blueprints/{identifier}";
pub const ENTITIES: &str = "/v1/blueprints/{blueprint_identifier}/entities";
pub const ENTITIES_BULK: &str = "/v1/blueprints/{blueprint_identifier}/entities/bulk";
pub const ENTITY: &str = "/v1/blueprints/{blueprint_identifier}/entities/{entity_identifier}";
pub const ENTITIES_SEARCH: &str = "/v1/blueprints/{blueprint_identifier}/entities/search";
pub const ENTITIES_BULK_DELETE: &str = "/v1/blueprints/{blueprint_identifier}/bulk/entities/delete";
pub const INTEGRATIONS: &str = "/v1/integration";
pub const INTEGRATION: &str = "/v1/integration/{identifier}";
pub const INTEGRATION_CONFIG: &str = "/v1/integration/{identifier}/config";
pub const INTEGRATION_RESYNC_STATE: &str = "/v1/integration/{identifier}/resync-state";
pub const INTEGRATION_RESYNC_REQUEST: &str = "/v1/integration/{identifier}/resync-request";
pub const INTEGRATION_KIND_EXAMPLES: &str = "/v1/integration/{identifier}/kinds/{kind}/examples";
pub const ORGANIZATION: &str = "/v1/organization";
/// Where Ocean 0.56.2's probe reports its status (not in Port's public spec).
pub const PROBE_RESULT: &str = "/v1/org/{org_id}/integration/probe/{probe_id}";
/// Port's log and metric ingestion lives at URLs the integration record gives
/// (`logAttributes.ingestUrl`, `metricAttributes.ingestUrl`); these are the simulator's.
pub const LOG_INGEST: &str = "/logs/integration/{ingestId}";
pub const METRICS_INGEST: &str = "/metrics/integration/{ingestId}/syncMetrics";
pub const METRICS_KIND_INGEST: &str =
    "/metrics/integration/{ingestId}/syncMetrics/resync/{eventId}/kind/{kindIdentifier}";
pub const METRICS_HEARTBEAT: &str = "/metrics/integration/{ingestId}/heartbeat";

/// Every route the simulator serves, with the path as Port's spec writes it.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", TOKEN),
    ("GET", BLUEPRINTS),
    ("POST", BLUEPRINTS),
    ("GET", BLUEPRINT),
    ("POST", ENTITIES),
    ("POST", ENTITIES_BULK),
    ("GET", ENTITY),
    ("DELETE", ENTITY),
    ("POST", ENTITIES_SEARCH),
    ("POST", ENTITIES_BULK_DELETE),
    ("POST", INTEGRATIONS),
    ("GET", INTEGRATION),
    ("PATCH", INTEGRATION),
    ("PATCH", INTEGRATION_CONFIG),
    ("PATCH", INTEGRATION_RESYNC_STATE),
    ("GET", INTEGRATION_RESYNC_REQUEST),
    ("POST", INTEGRATION_KIND_EXAMPLES),
    ("GET", ORGANIZATION),
    ("PATCH", PROBE_RESULT),
    ("POST", LOG_INGEST),
    ("POST", METRICS_INGEST),
    ("PUT", METRICS_KIND_INGEST),
    ("POST", METRICS_HEARTBEAT),
];

/// Routes Ocean uses that Port's public spec leaves out, with where they are documented.
pub const ROUTES_OUTSIDE_SPEC: &[(&str, &str, &str)] = &[
    (
        "POST",
        INTEGRATIONS,
        "integration registration, as Ocean's port client sends it",
    ),
    (
        "PATCH",
        INTEGRATION_RESYNC_STATE,
        "resync state, as Ocean's resync state updater sends it",
    ),
    (
        "GET",
        INTEGRATION_RESYNC_REQUEST,
        "the UI's resync request, as Ocean's polling listener reads it",
    ),
    (
        "POST",
        INTEGRATION_KIND_EXAMPLES,
        "raw data examples per kind, as Ocean's port client sends them (sendRawDataExamples)",
    ),
    (
        "POST",
        LOG_INGEST,
        "log lines, as Ocean's HTTP log handler sends them to logAttributes.ingestUrl",
    ),
    (
        "POST",
        METRICS_INGEST,
        "sync metrics of a resync's kinds, as Ocean posts them to metricAttributes.ingestUrl",
    ),
    (
        "PUT",
        METRICS_KIND_INGEST,
        "one kind's sync metrics, as Ocean puts them to metricAttributes.ingestUrl",
    ),
    (
        "POST",
        METRICS_HEARTBEAT,
        "a running resync's heartbeat, as Ocean 0.56's metrics heartbeat posts it to metricAttributes.ingestUrl",
    ),
    (
        "PATCH",
        PROBE_RESULT,
        "a connection probe's status report, as Ocean 0.56.2's PortProbeReporter patches it",
    ),
];

/// Query parameters Ocean sends on entity writes and deletes that Port's
/// public spec leaves out: the event the write belongs to, as port-ocean
/// 0.56's `get_event_context_params` (`clients/port/utils.py`) adds them.
pub const OCEAN_INFO_PARAMS: &[&str] = &["ocean_info_event_type", "ocean_info_resync_id"];

/// One entity write or delete as Port took it, with the event it named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityWrite {
    /// `upsert`, `bulk_upsert`, `delete` or `bulk_delete`.
    pub operation: &'static str,
    pub blueprint: String,
    /// `ocean_info_event_type`, e.g. `resync` or `http_request`.
    pub event_type: Option<String>,
    /// `ocean_info_resync_id`.
    pub resync_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PortSimConfig {
    pub client_id: String,
    pub client_secret: String,
    pub token_ttl: Duration,
    /// Requests allowed per `rate_period`, reported in `x-ratelimit-*`.
    pub rate_limit: u64,
    pub rate_period: Duration,
    pub faults: FaultConfig,
    /// Keep request and reply bodies in the request log (tests check them against the spec).
    pub capture_bodies: bool,
    pub max_body_bytes: usize,
    /// How far Port's clock is from the host's (negative: behind). Port's
    /// timestamps and its `Date` header follow its clock.
    pub clock_offset: jiff::SignedDuration,
}

impl Default for PortSimConfig {
    fn default() -> Self {
        PortSimConfig {
            client_id: "test-client".into(),
            client_secret: "test-secret".into(),
            token_ttl: Duration::from_secs(3 * 3600),
            rate_limit: 35_000,
            rate_period: Duration::from_secs(300),
            faults: FaultConfig::default(),
            capture_bodies: false,
            max_body_bytes: MAX_BODY_BYTES,
            clock_offset: jiff::SignedDuration::ZERO,
        }
    }
}

pub struct PortSim {
    config: PortSimConfig,
    store: Mutex<Store>,
    /// Port hands out one active token per credentials until it expires.
    tokens: Mutex<HashMap<String, Instant>>,
    faults: Faults,
    limiter: RateLimiter,
    log: RequestLog,
    feed: Mutex<feed::FeedRecords>,
    writes: Mutex<Vec<EntityWrite>>,
}

impl PortSim {
    pub fn new(config: PortSimConfig) -> Arc<Self> {
        let clock_offset = config.clock_offset;
        Arc::new(PortSim {
            faults: Faults::new(config.faults.clone()),
            limiter: RateLimiter::new(config.rate_limit, config.rate_period),
            config,
            store: Mutex::new(Store {
                clock_offset,
                ..Store::default()
            }),
            tokens: Mutex::new(HashMap::new()),
            log: RequestLog::default(),
            feed: Mutex::new(feed::FeedRecords::default()),
            writes: Mutex::new(Vec::new()),
        })
    }

    /// Serves on `addr` (use port 0 for any free port) until the handle drops.
    pub async fn start(config: PortSimConfig, addr: SocketAddr) -> std::io::Result<(Served, Arc<PortSim>)> {
        let sim = PortSim::new(config);
        let served = serve(addr, routes::router(sim.clone())).await?;
        Ok((served, sim))
    }

    /// Port's clock.
    pub fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now() + self.config.clock_offset
    }

    pub fn log(&self) -> &RequestLog {
        &self.log
    }

    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// What the integration fed Port besides entities: examples, logs, sync metrics.
    pub fn feed(&self) -> MutexGuard<'_, feed::FeedRecords> {
        self.feed.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every entity write and delete taken so far, in order, with the event
    /// each named (Ocean's `ocean_info_*` query parameters).
    pub fn entity_writes(&self) -> Vec<EntityWrite> {
        self.writes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub(crate) fn record_write(
        &self,
        operation: &'static str,
        blueprint: &str,
        params: &HashMap<String, String>,
    ) {
        let write = EntityWrite {
            operation,
            blueprint: blueprint.to_string(),
            event_type: params.get(OCEAN_INFO_PARAMS[0]).cloned(),
            resync_id: params.get(OCEAN_INFO_PARAMS[1]).cloned(),
        };
        self.writes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(write);
    }

    /// Adds a blueprint as if a user had created it in Port.
    pub fn add_blueprint(&self, blueprint: Value) {
        let _ = self.store().create_blueprint(blueprint, "admin");
    }

    /// Deletes a blueprint and its entities, as a user does in Port's UI.
    pub fn remove_blueprint(&self, identifier: &str) {
        let mut store = self.store();
        store.blueprints.shift_remove(identifier);
        store.entities.remove(identifier);
    }

    /// A blueprint's entities with their meta-properties (datasource, dates).
    pub fn entities(&self, blueprint: &str) -> Vec<Value> {
        let store = self.store();
        store
            .entities
            .get(blueprint)
            .into_iter()
            .flatten()
            .map(|(_, e)| e.to_admin_json(blueprint))
            .collect()
    }

    /// Entities per blueprint, for summaries.
    pub fn store_counts(&self) -> Vec<(String, usize)> {
        let store = self.store();
        store
            .blueprints
            .keys()
            .map(|bp| (bp.clone(), store.entities.get(bp).map_or(0, |e| e.len())))
            .collect()
    }

    /// Writes an entity as `writer` (a User-Agent), as a user in Port's UI or
    /// another integration would.
    pub fn put_entity(&self, blueprint: &str, entity: &Value, writer: &str) -> Result<(), String> {
        let mode = store::WriteMode {
            upsert: true,
            ..store::WriteMode::default()
        };
        self.store()
            .write_entity(blueprint, entity, mode, writer)
            .map(|_| ())
            .map_err(|refused| refused.message)
    }

    /// The entities deleted since the last call, in order, as (blueprint, identifier).
    pub fn take_deletions(&self) -> Vec<(String, String)> {
        std::mem::take(&mut self.store().deletions)
    }

    pub fn integration(&self, identifier: &str) -> Option<Value> {
        self.store().integrations.get(identifier).cloned()
    }

    pub fn resync_requests(&self) -> u64 {
        self.store().resync_requests
    }

    /// As if a user pressed "Resync" in Port's UI for this integration.
    pub fn request_resync(&self, identifier: &str) {
        self.store().record_resync_request(identifier);
    }

    /// Makes every issued token expire now, as after Port's three hours.
    pub fn expire_tokens(&self) {
        self.tokens
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
    }

    fn issue_token(&self) -> (String, Duration) {
        let mut tokens = self
            .tokens
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        tokens.retain(|_, expiry| *expiry > now);
        if let Some((token, expiry)) = tokens.iter().next() {
            return (token.clone(), *expiry - now);
        }
        let token = format!("sim-{:032x}", rand::random::<u128>());
        tokens.insert(token.clone(), now + self.config.token_ttl);
        (token, self.config.token_ttl)
    }

    fn token_is_valid(&self, token: &str) -> bool {
        let tokens = self
            .tokens
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        tokens.get(token).is_some_and(|expiry| *expiry > Instant::now())
    }
}
