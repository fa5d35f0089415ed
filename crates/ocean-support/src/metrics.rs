//! Prometheus metrics for `/metrics`, one registry per process: ours, named
//! `ocean_*` (resyncs, entities, Port and source requests, webhook events),
//! and Ocean's own gauges under Ocean's names and labels, so dashboards and
//! alerts built for Ocean integrations keep working:
//! `duration_seconds{kind,phase}`, `object_count{kind,phase,object_count_type}`
//! and `success{kind,phase}`, where `kind` is `<kind>-<index in the mapping>`
//! or one of `__runtime__`, `__reconciliation__`. Nothing here names a source:
//! requests to it carry a `source` label.

use std::sync::OnceLock;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of `ocean_port_requests`: one request to Port.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Request {
    /// The path with identifiers replaced by `{}` (see [`route_of`]).
    pub route: String,
    /// The HTTP status code as digits, or `error` when no reply came.
    pub status: String,
}

/// A request to the data source (the plugin's API).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceRequest {
    /// Which source: the plugin's name (e.g. `codecov`).
    pub source: String,
    /// The path with identifiers replaced by `{}` (see [`route_of`]).
    pub route: String,
    /// The HTTP status code as digits, or what the plugin reports when no reply came.
    pub status: String,
}

/// The one label of outcome counters (`ocean_resyncs`, `ocean_webhook_events`, `ocean_resync_heartbeats`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    /// How it ended, a short snake_case word chosen by the caller.
    pub outcome: String,
}

/// Labels of `ocean_entities`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindResult {
    /// The mapping's kind, `live` for live events, or `*` for deletions across kinds.
    pub kind: String,
    /// What happened to the entities (`upserted`, `failed`, `deleted`, ...).
    pub result: String,
}

/// Ocean's labels for its duration and success gauges.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindPhase {
    /// `<kind>-<index in the mapping>`, or `__runtime__` / `__reconciliation__`.
    pub kind: String,
    /// The phase of the resync, in Ocean's words: `resync`, `extract`, `transform`, `load`, `delete`.
    pub phase: String,
}

/// Ocean's labels for its object counts.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindPhaseCount {
    /// `<kind>-<index in the mapping>`, or `__runtime__` / `__reconciliation__`.
    pub kind: String,
    /// The phase of the resync, in Ocean's words: `extract`, `transform`, `load`, `delete`.
    pub phase: String,
    /// Which count: Ocean's `object_count_type` (e.g. `raw_extracted`, `transformed`, `failed`).
    pub object_count_type: String,
}

/// Every metric this process exports, registered once in one registry; get it with [`metrics()`].
pub struct Metrics {
    registry: Registry,
    /// `ocean_resyncs{outcome}`: resyncs by how they ended.
    pub resyncs: Family<Outcome, Counter>,
    /// `ocean_resync_duration_seconds`: wall time of whole resyncs (buckets from 0.5 s, doubling, 14 of them).
    pub resync_seconds: Histogram,
    /// `ocean_entities{kind,result}`; add to it with [`Metrics::count_entities`].
    pub entities: Family<KindResult, Counter>,
    /// `ocean_port_requests{route,status}`: every request to Port's API.
    pub port_requests: Family<Request, Counter>,
    /// `ocean_source_requests{source,route,status}`; add to it with [`Metrics::count_source_request`].
    pub source_requests: Family<SourceRequest, Counter>,
    /// `ocean_webhook_events{outcome}`; add to it with [`Metrics::count_event`].
    pub webhook_events: Family<Outcome, Counter>,
    /// `ocean_webhook_queue_depth`: live events accepted and not yet processed.
    pub webhook_queue_depth: Gauge,
    /// Ocean's `duration_seconds{kind,phase}`.
    pub ocean_duration: Family<KindPhase, Gauge<f64, AtomicU64>>,
    /// Ocean's `object_count{kind,phase,object_count_type}`.
    pub ocean_object_count: Family<KindPhaseCount, Gauge>,
    /// Ocean's `success{kind,phase}`: 1 or 0.
    pub ocean_success: Family<KindPhase, Gauge>,
    /// Bytes the live-event journal takes on disk.
    pub journal_bytes: Gauge,
    /// Live events kept after failing (dead letters, poison included).
    pub dead_letters: Gauge,
    /// Schedule ticks that fell while a resync ran (each waits; none aborts it).
    pub scheduled_ticks_absorbed: Counter,
    /// 1 while the mapping in Port does not load (see `ocean_live_events_waiting_for_mapping`).
    pub mapping_invalid: Gauge,
    /// Accepted live events waiting for a mapping that compiles.
    pub events_waiting_for_mapping: Gauge,
    /// Heartbeats sent to Port during resyncs, by outcome.
    pub heartbeats: Family<Outcome, Counter>,
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::default();
        let metrics = Metrics {
            resyncs: Family::default(),
            resync_seconds: Histogram::new(exponential_buckets(0.5, 2.0, 14)),
            entities: Family::default(),
            port_requests: Family::default(),
            source_requests: Family::default(),
            webhook_events: Family::default(),
            webhook_queue_depth: Gauge::default(),
            ocean_duration: Family::default(),
            ocean_object_count: Family::default(),
            ocean_success: Family::default(),
            journal_bytes: Gauge::default(),
            dead_letters: Gauge::default(),
            scheduled_ticks_absorbed: Counter::default(),
            mapping_invalid: Gauge::default(),
            events_waiting_for_mapping: Gauge::default(),
            heartbeats: Family::default(),
            registry: Registry::default(),
        };
        registry.register("ocean_resyncs", "Resyncs by outcome", metrics.resyncs.clone());
        registry.register(
            "ocean_resync_duration_seconds",
            "Resync wall time",
            metrics.resync_seconds.clone(),
        );
        registry.register(
            "ocean_entities",
            "Entities by kind and result",
            metrics.entities.clone(),
        );
        registry.register(
            "ocean_port_requests",
            "Port API requests by route and status",
            metrics.port_requests.clone(),
        );
        registry.register(
            "ocean_source_requests",
            "Data source API requests by source, route and status",
            metrics.source_requests.clone(),
        );
        registry.register(
            "ocean_webhook_events",
            "Webhook events by outcome",
            metrics.webhook_events.clone(),
        );
        registry.register(
            "ocean_webhook_queue_depth",
            "Webhook events waiting",
            metrics.webhook_queue_depth.clone(),
        );
        registry.register(
            "duration_seconds",
            "Duration of a kind's phase in seconds (Ocean's gauge)",
            metrics.ocean_duration.clone(),
        );
        registry.register(
            "object_count",
            "Objects per kind, phase and result (Ocean's gauge)",
            metrics.ocean_object_count.clone(),
        );
        registry.register(
            "success",
            "Whether a kind's phase succeeded, 1 or 0 (Ocean's gauge)",
            metrics.ocean_success.clone(),
        );
        registry.register(
            "live_event_journal_bytes",
            "Bytes the live-event journal takes on disk",
            metrics.journal_bytes.clone(),
        );
        registry.register(
            "live_event_dead_letters",
            "Live events kept after failing, retried with backoff (poison ones wait for an operator)",
            metrics.dead_letters.clone(),
        );
        registry.register(
            "ocean_scheduled_resync_ticks_absorbed",
            "Schedule ticks that fell while a resync ran: they wait for it (never abort it), one resync follows",
            metrics.scheduled_ticks_absorbed.clone(),
        );
        registry.register(
            "ocean_mapping_invalid",
            "1 while the mapping in Port does not load (the last valid one stays in force; with none, live events wait in the journal)",
            metrics.mapping_invalid.clone(),
        );
        registry.register(
            "ocean_live_events_waiting_for_mapping",
            "Accepted live events waiting for a mapping that compiles",
            metrics.events_waiting_for_mapping.clone(),
        );
        registry.register(
            "ocean_resync_heartbeats",
            "Heartbeats sent to Port while a resync runs, by outcome",
            metrics.heartbeats.clone(),
        );
        Metrics { registry, ..metrics }
    }

    /// The registry in Prometheus' text exposition format, for `/metrics`; empty if encoding fails.
    pub fn render(&self) -> String {
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }

    /// Adds `n` to `ocean_entities{kind,result}` (`result`: e.g. `upserted`, `failed`, `deleted`, `superseded`).
    pub fn count_entities(&self, kind: &str, result: &str, n: usize) {
        let labels = KindResult {
            kind: kind.to_string(),
            result: result.to_string(),
        };
        self.entities.get_or_create(&labels).inc_by(n as u64);
    }

    /// Counts one webhook event in `ocean_webhook_events{outcome}` (e.g. `accepted`, `spilled`, `dead_letter`).
    pub fn count_event(&self, outcome: &str) {
        self.webhook_events
            .get_or_create(&Outcome {
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// One request to the data source `source` (e.g. the plugin's name).
    pub fn count_source_request(&self, source: &str, path: &str, status: String) {
        let labels = SourceRequest {
            source: source.to_string(),
            route: route_of(path),
            status,
        };
        self.source_requests.get_or_create(&labels).inc();
    }

    /// Sets Ocean's `object_count{kind,phase,object_count_type}`.
    pub fn set_object_count(&self, kind: &str, phase: &str, object_count_type: &str, n: usize) {
        let labels = KindPhaseCount {
            kind: kind.to_string(),
            phase: phase.to_string(),
            object_count_type: object_count_type.to_string(),
        };
        self.ocean_object_count
            .get_or_create(&labels)
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Sets Ocean's `duration_seconds{kind,phase}` and `success{kind,phase}`.
    pub fn set_phase_result(&self, kind: &str, phase: &str, seconds: Option<f64>, success: bool) {
        let labels = KindPhase {
            kind: kind.to_string(),
            phase: phase.to_string(),
        };
        if let Some(seconds) = seconds {
            self.ocean_duration.get_or_create(&labels).set(seconds);
        }
        self.ocean_success.get_or_create(&labels).set(i64::from(success));
    }
}

/// The process's one [`Metrics`], made on first use.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// `/v1/blueprints/x/entities/bulk` → `/v1/blueprints/{}/entities/bulk`: the
/// route, without identifiers (which would make a series per entity).
pub fn route_of(path: &str) -> String {
    const WORDS: &[&str] = &[
        "v1",
        "api",
        "v2",
        "auth",
        "access_token",
        "blueprints",
        "entities",
        "bulk",
        "search",
        "delete",
        "integration",
        "config",
        "resync-state",
        "resync-request",
        "kinds",
        "examples",
        "logs",
        "metrics",
        "syncMetrics",
        "resync",
        "kind",
        "repos",
        "commits",
        "pulls",
        "flags",
        "branches",
    ];
    let path = path.split('?').next().unwrap_or_default();
    // Absolute URLs (Port's ingest URLs): the host is not part of the route.
    let path = match path.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |slash| &rest[slash..]),
        None => path,
    };
    path.split('/')
        .map(|segment| {
            if segment.is_empty() || WORDS.contains(&segment) {
                segment
            } else {
                "{}"
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_drop_identifiers() {
        assert_eq!(
            route_of("/v1/blueprints/service_coverage/entities/bulk"),
            "/v1/blueprints/{}/entities/bulk"
        );
        assert_eq!(
            route_of("https://ingest.example/metrics/integration/abc/syncMetrics"),
            "/metrics/integration/{}/syncMetrics"
        );
        assert_eq!(
            route_of("/api/v2/github/org/repos/r/commits/"),
            "/api/v2/{}/{}/repos/{}/commits/"
        );
    }

    #[test]
    fn renders_prometheus_text() {
        let m = metrics();
        m.count_event("accepted");
        m.set_object_count("repository-0", "extract", "raw_extracted", 3);
        m.set_phase_result("repository-0", "resync", Some(1.5), true);
        m.count_source_request("example", "/api/v2/github/org/repos/", "200".into());
        let text = m.render();
        for line in [
            "ocean_webhook_events_total{outcome=\"accepted\"}",
            "object_count{kind=\"repository-0\",phase=\"extract\",object_count_type=\"raw_extracted\"} 3",
            "duration_seconds{kind=\"repository-0\",phase=\"resync\"} 1.5",
            "success{kind=\"repository-0\",phase=\"resync\"} 1",
            "ocean_source_requests_total{source=\"example\",route=\"/api/v2/{}/{}/repos/\",status=\"200\"} 1",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
    }
}
