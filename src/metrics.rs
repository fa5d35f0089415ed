//! Prometheus metrics for `/metrics`: resyncs, entities, Port and Codecov
//! requests, and webhook events. One registry per process.

use std::sync::OnceLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Request {
    pub route: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindResult {
    pub kind: String,
    pub result: String,
}

pub struct Metrics {
    registry: Registry,
    pub resyncs: Family<Outcome, Counter>,
    pub resync_seconds: Histogram,
    pub entities: Family<KindResult, Counter>,
    pub port_requests: Family<Request, Counter>,
    pub codecov_requests: Family<Request, Counter>,
    pub webhook_events: Family<Outcome, Counter>,
    pub webhook_queue_depth: Gauge,
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("ocean");
        let metrics = Metrics {
            resyncs: Family::default(),
            resync_seconds: Histogram::new(exponential_buckets(0.5, 2.0, 14)),
            entities: Family::default(),
            port_requests: Family::default(),
            codecov_requests: Family::default(),
            webhook_events: Family::default(),
            webhook_queue_depth: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register("resyncs", "Resyncs by outcome", metrics.resyncs.clone());
        registry.register(
            "resync_duration_seconds",
            "Resync wall time",
            metrics.resync_seconds.clone(),
        );
        registry.register(
            "entities",
            "Entities by kind and result",
            metrics.entities.clone(),
        );
        registry.register(
            "port_requests",
            "Port API requests by route and status",
            metrics.port_requests.clone(),
        );
        registry.register(
            "codecov_requests",
            "Codecov API requests by status",
            metrics.codecov_requests.clone(),
        );
        registry.register(
            "webhook_events",
            "Webhook events by outcome",
            metrics.webhook_events.clone(),
        );
        registry.register(
            "webhook_queue_depth",
            "Webhook events waiting",
            metrics.webhook_queue_depth.clone(),
        );
        Metrics { registry, ..metrics }
    }

    pub fn render(&self) -> String {
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }

    pub fn count_entities(&self, kind: &str, result: &str, n: usize) {
        let labels = KindResult {
            kind: kind.to_string(),
            result: result.to_string(),
        };
        self.entities.get_or_create(&labels).inc_by(n as u64);
    }

    pub fn count_event(&self, outcome: &str) {
        self.webhook_events
            .get_or_create(&Outcome {
                outcome: outcome.to_string(),
            })
            .inc();
    }
}

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
        "repos",
        "commits",
        "pulls",
        "flags",
        "branches",
    ];
    let path = path.split('?').next().unwrap_or_default();
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
            route_of("/v1/blueprints/codecov_coverage/entities/bulk"),
            "/v1/blueprints/{}/entities/bulk"
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
        assert!(
            m.render()
                .contains("ocean_webhook_events_total{outcome=\"accepted\"}")
        );
    }
}
