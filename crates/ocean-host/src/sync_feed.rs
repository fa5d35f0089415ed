//! What Port shows about a resync besides its entities, reported as Ocean
//! reports it: the first raw items of each kind (for Port's mapping editor),
//! and per-kind sync metrics for the integration's sync page, under one event
//! id per resync. The same figures set Ocean's Prometheus gauges.
//!
//! Nothing here slows the resync: what is to be sent is queued without
//! waiting (dropped, and counted, if the queue is full) and a separate future
//! delivers it while the resync runs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures_util::future::BoxFuture;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use super::plugin::{Delivery, PageStream, Plugin, RawItem, WebhookEvent};
use super::resync::progress::Progress;
use super::resync::{Deletion, KindReport, ResyncReport};
use ocean_port::{KIND_EXAMPLES_LIMIT, PortClient};

/// Ocean's pseudo-kinds: the resync as a whole, and its deletion phase.
pub const RUNTIME_KIND: &str = "__runtime__";
/// Ocean's pseudo-kind for the deletion phase.
pub const RECONCILIATION_KIND: &str = "__reconciliation__";

/// Notes waiting for delivery; beyond this they are dropped, never waited for.
const QUEUE: usize = 256;

enum Note {
    Examples { kind: String, items: Vec<Value> },
    Kind(Value),
}

/// One resync's reporting to Port.
pub struct SyncFeed {
    /// The resync's id (a random UUID v4) in every record and heartbeat sent to Port for it.
    pub event_id: String,
    integration_type: String,
    integration_identifier: String,
    integration_version: String,
    send_examples: bool,
    queue: Mutex<Option<mpsc::Sender<Note>>>,
    inbox: Mutex<Option<mpsc::Receiver<Note>>>,
    dropped: AtomicUsize,
}

/// A kind's figures as Ocean's `metrics.phase` object.
pub fn kind_phases(report: &KindReport, seconds: f64) -> Value {
    let count = |n: usize| json!({ "object_count": n });
    json!({
        "resync": {"duration_seconds": seconds, "success": u8::from(report.complete())},
        "extract": {"object_count_type": {
            "raw_extracted": count(report.items),
            "failed": count(report.fetch_errors.len()),
        }},
        "transform": {"object_count_type": {
            "transformed": count(report.entities),
            "filtered_out": count(report.skipped),
            "failed": count(report.mapping_errors),
        }},
        "load": {"object_count_type": {
            "loaded": count(report.created + report.updated),
            "skipped": count(report.unchanged),
            "failed": count(report.upsert_failures),
        }},
    })
}

/// The deletion phase as Ocean's `metrics.phase` object for `__reconciliation__`.
fn reconciliation_phases(deletion: &Deletion, seconds: f64) -> (Value, bool) {
    let count = |n: usize| json!({ "object_count": n });
    let (deleted, failed, success) = match deletion {
        Deletion::Done { deleted, .. } => (*deleted, 0, true),
        Deletion::Failed { deleted, failed } => (*deleted, *failed, false),
        Deletion::Skipped { .. } => (0, 0, false),
        Deletion::Planned { .. } => (0, 0, true),
    };
    (
        json!({
            "resync": {"duration_seconds": seconds, "success": u8::from(success)},
            "delete": {"object_count_type": {"deleted": count(deleted), "failed": count(failed)}},
        }),
        success,
    )
}

/// Sets Ocean's gauges from a `metrics.phase` object.
fn set_gauges(kind_identifier: &str, phases: &Value) {
    let metrics = ocean_support::metrics::metrics();
    for (phase, figures) in phases.as_object().into_iter().flatten() {
        if phase == "resync" {
            metrics.set_phase_result(
                kind_identifier,
                phase,
                figures["duration_seconds"].as_f64(),
                figures["success"] == 1,
            );
            continue;
        }
        for (count_type, count) in figures["object_count_type"].as_object().into_iter().flatten() {
            let n = count["object_count"].as_u64().unwrap_or(0) as usize;
            metrics.set_object_count(kind_identifier, phase, count_type, n);
        }
    }
}

impl SyncFeed {
    /// The feed of the resync `event_id` (its `ocean_port::event` id); `send_examples` sends each
    /// kind's first raw items (Ocean's `sendRawDataExamples`).
    pub fn new(port: &PortClient, send_examples: bool, event_id: String) -> SyncFeed {
        let settings = port.settings();
        let (tx, rx) = mpsc::channel(QUEUE);
        SyncFeed {
            event_id,
            integration_type: settings.integration_type.clone(),
            integration_identifier: settings.integration_identifier.clone(),
            integration_version: settings.integration_version.clone(),
            send_examples,
            queue: Mutex::new(Some(tx)),
            inbox: Mutex::new(Some(rx)),
            dropped: AtomicUsize::new(0),
        }
    }

    /// One kind's record as Ocean sends it.
    pub fn kind_record(
        &self,
        kind_identifier: &str,
        sync_state: &str,
        blueprint: &str,
        phases: Value,
    ) -> Value {
        let (kind, index) = match kind_identifier.rsplit_once('-') {
            Some((kind, index)) if index.parse::<u64>().is_ok() => (kind, index.parse::<u64>().unwrap_or(0)),
            _ => (kind_identifier, 0),
        };
        json!({
            "integrationType": self.integration_type,
            "integrationIdentifier": self.integration_identifier,
            "integrationVersion": self.integration_version,
            "oceanVersion": env!("CARGO_PKG_VERSION"),
            "kindIdentifier": kind_identifier,
            "kind": kind,
            "kindIndex": index,
            "eventId": self.event_id,
            "syncState": sync_state,
            "blueprint": blueprint,
            "metrics": {"phase": phases},
        })
    }

    fn sender(&self) -> Option<mpsc::Sender<Note>> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn enqueue(&self, note: Note) {
        if let Some(tx) = self.sender()
            && tx.try_send(note).is_err()
        {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Announces the resync to Port: every kind of the mapping (`<kind>-<index>`,
    /// with its blueprint when the mapping names one) as pending, the resync itself as syncing.
    pub async fn announce(&self, port: &PortClient, kinds: &[(String, String)]) {
        let mut records: Vec<Value> = kinds
            .iter()
            .enumerate()
            .map(|(index, (kind, blueprint))| {
                let identifier = format!("{kind}-{index}");
                let phases = json!({"resync": {"duration_seconds": 0, "success": 0}});
                set_gauges(&identifier, &phases);
                self.kind_record(&identifier, "pending", blueprint, phases)
            })
            .collect();
        let runtime = json!({"resync": {"success": 0}});
        set_gauges(RUNTIME_KIND, &runtime);
        records.push(self.kind_record(RUNTIME_KIND, "syncing", "", runtime));
        if let Err(e) = port.post_sync_metrics(&records).await {
            tracing::warn!("could not report the resync's kinds to Port: {e}");
        }
    }

    /// The plugin, wrapped so the first raw items of each kind are queued as examples.
    pub fn plugin(self: &Arc<Self>, plugin: Arc<dyn Plugin>) -> Arc<dyn Plugin> {
        if !self.send_examples {
            return plugin;
        }
        Arc::new(ExampleTap {
            inner: plugin,
            feed: self.clone(),
        })
    }

    /// Progress that also queues each finished kind's metrics.
    pub fn progress<'a>(&'a self, inner: &'a dyn Progress, kinds: Vec<(String, String)>) -> KindTap<'a> {
        KindTap {
            inner,
            feed: self,
            kinds,
            current: Mutex::new(None),
            started: AtomicUsize::new(0),
        }
    }

    /// Delivers what is queued until `close` is called and the queue drains.
    pub async fn deliver(&self, port: &PortClient) {
        let inbox = self.inbox.lock().unwrap_or_else(|p| p.into_inner()).take();
        let Some(mut inbox) = inbox else { return };
        while let Some(note) = inbox.recv().await {
            match note {
                Note::Examples { kind, items } => {
                    if let Err(e) = port.ingest_kind_examples(&kind, &items).await {
                        tracing::warn!(kind, "could not send raw data examples to Port: {e}");
                    }
                }
                Note::Kind(record) => {
                    if let Err(e) = port.put_kind_sync_metrics(&record).await {
                        tracing::warn!("could not report a kind's sync metrics to Port: {e}");
                    }
                }
            }
        }
        let dropped = self.dropped.load(Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "reports to Port were dropped: Port took them slower than the resync made them"
            );
        }
    }

    /// No more notes: `deliver` ends once the queue is empty.
    pub fn close(&self) {
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    /// Reports the deletion phase and the resync's end (`completed`, `failed`
    /// or `aborted`) for `__reconciliation__` and `__runtime__`.
    pub async fn finish(&self, port: &PortClient, report: Option<&ResyncReport>, status: &str, seconds: f64) {
        let mut records = Vec::new();
        if let Some(report) = report {
            if let Deletion::Skipped { reason } = &report.deletion {
                tracing::warn!(event_id = %self.event_id, "stale entities were not deleted: {reason}");
            }
            let (phases, success) = reconciliation_phases(&report.deletion, 0.0);
            set_gauges(RECONCILIATION_KIND, &phases);
            let state = if status == "aborted" {
                "aborted"
            } else if success {
                "completed"
            } else {
                "failed"
            };
            records.push(self.kind_record(RECONCILIATION_KIND, state, "", phases));
        }
        let runtime =
            json!({"resync": {"duration_seconds": seconds, "success": u8::from(status == "completed")}});
        set_gauges(RUNTIME_KIND, &runtime);
        records.push(self.kind_record(RUNTIME_KIND, status, "", runtime));
        for record in &records {
            if let Err(e) = port.put_kind_sync_metrics(record).await {
                tracing::warn!("could not report the resync's end to Port: {e}");
            }
        }
    }
}

/// Passes progress on, and queues each finished kind's sync metrics.
pub struct KindTap<'a> {
    inner: &'a dyn Progress,
    feed: &'a SyncFeed,
    /// (kind, blueprint) per resource of the mapping, in order.
    kinds: Vec<(String, String)>,
    current: Mutex<Option<(usize, Instant)>>,
    started: AtomicUsize,
}

impl Progress for KindTap<'_> {
    fn kind_started(&self, kind: &str) {
        // Kinds run in mapping order, so the n-th started is resource n.
        let index = self.started.fetch_add(1, Ordering::SeqCst);
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Some((index, Instant::now()));
        self.inner.kind_started(kind);
    }

    fn page_done(&self, report: &KindReport) {
        self.inner.page_done(report);
    }

    fn kind_finished(&self, report: &KindReport) {
        self.inner.kind_finished(report);
        let Some((index, started)) = self.current.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return;
        };
        let identifier = format!("{}-{index}", report.kind);
        let blueprint = self.kinds.get(index).map_or("", |(_, b)| b.as_str());
        let phases = kind_phases(report, started.elapsed().as_secs_f64());
        set_gauges(&identifier, &phases);
        let state = if report.complete() { "completed" } else { "failed" };
        if !report.reconcilable() {
            let reasons: Vec<&str> = report
                .fetch_errors
                .iter()
                .chain(&report.error_samples)
                .map(String::as_str)
                .take(5)
                .collect();
            tracing::warn!(kind = %report.kind, event_id = %self.feed.event_id,
                "kind did not come through whole, so nothing is deleted this resync: {}", reasons.join("; "));
        } else if !report.complete() {
            // Some entities held back (a part not read, a failed mapping or upsert); the rest reconciles.
            let reasons: Vec<String> = report
                .held_back_lines()
                .into_iter()
                .chain(report.error_samples.iter().cloned())
                .take(5)
                .collect();
            tracing::warn!(kind = %report.kind, event_id = %self.feed.event_id,
                "kind came through with entities held back (kept, neither written nor deleted): {}", reasons.join("; "));
        }
        let record = self.feed.kind_record(&identifier, state, blueprint, phases);
        self.feed.enqueue(Note::Kind(record));
    }
}

/// The plugin, with the first raw items of each fetched kind queued as examples.
struct ExampleTap {
    inner: Arc<dyn Plugin>,
    feed: Arc<SyncFeed>,
}

impl Plugin for ExampleTap {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn kinds(&self) -> &'static [&'static str] {
        self.inner.kinds()
    }

    fn fetch(self: Arc<Self>, kind: &str, selector: &Map<String, Value>) -> PageStream {
        let mut upstream = self.inner.clone().fetch(kind, selector);
        let (pages, stream) = PageStream::channel();
        let feed = self.feed.clone();
        let kind = kind.to_string();
        tokio::spawn(async move {
            // Gathered over pages and sent once: a source that pages one item at
            // a time still gives Port's mapping editor its five examples.
            let mut examples = Some(Vec::with_capacity(KIND_EXAMPLES_LIMIT));
            let send = |items: Vec<Value>| {
                if !items.is_empty() {
                    feed.enqueue(Note::Examples {
                        kind: kind.clone(),
                        items,
                    });
                }
            };
            while let Some(page) = upstream.next().await {
                let delivered = match page {
                    Delivery::Page(items) => {
                        if let Some(gathered) = &mut examples {
                            let wanted = KIND_EXAMPLES_LIMIT - gathered.len();
                            gathered.extend(items.iter().take(wanted).map(RawItem::to_value));
                            if gathered.len() == KIND_EXAMPLES_LIMIT {
                                send(examples.take().unwrap_or_default());
                            }
                        }
                        pages.page(items).await
                    }
                    other => pages.forward(other).await,
                };
                if !delivered {
                    break;
                }
            }
            send(examples.unwrap_or_default());
        });
        stream
    }

    fn recognises_webhook(&self, headers: &std::collections::BTreeMap<String, String>, body: &[u8]) -> bool {
        self.inner.recognises_webhook(headers, body)
    }

    fn webhook_events<'a>(
        &'a self,
        bodies: &'a [&'a serde_json::value::RawValue],
    ) -> BoxFuture<'a, Vec<WebhookEvent>> {
        self.inner.webhook_events(bodies)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_phases_carry_oceans_counts() {
        let report = KindReport {
            kind: "repository".into(),
            items: 7,
            entities: 6,
            skipped: 1,
            created: 2,
            updated: 1,
            unchanged: 3,
            ..KindReport::default()
        };
        let phases = kind_phases(&report, 1.0);
        assert_eq!(
            phases["extract"]["object_count_type"]["raw_extracted"]["object_count"],
            7
        );
        assert_eq!(
            phases["transform"]["object_count_type"]["filtered_out"]["object_count"],
            1
        );
        assert_eq!(phases["load"]["object_count_type"]["loaded"]["object_count"], 3);
        assert_eq!(phases["load"]["object_count_type"]["skipped"]["object_count"], 3);
        assert_eq!(phases["resync"]["success"], 1);
    }
}
