//! The processor: takes accepted events in batches, waits while no mapping
//! compiles, retries dead letters when due, and sets aside what cannot be applied.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::value::RawValue;

use super::LiveEvents;
use super::batch::{set_aside, write_batch};
use super::queue::Queued;
use crate::host::{Host, compile};
use crate::journal::{Journal, now_ms};
use ocean_port::event::{self, Event, EventKind};
use ocean_support::metrics::metrics;

/// How long a mapping read from Port serves live events before it is read again.
const MAPPING_REFRESH: Duration = Duration::from_secs(60);
/// How often dead letters are checked for a due retry.
const RETRY_SCAN: Duration = Duration::from_secs(1);

/// Runs until the queue is closed and empty. Runs on one thread (a
/// `LocalSet`): it maps.
pub async fn process(host: Arc<Host>, live: LiveEvents, batch_max: usize) {
    let mut refreshed = Instant::now();
    let mut scanned = Instant::now();
    loop {
        if scanned.elapsed() >= RETRY_SCAN {
            scanned = Instant::now();
            let due = live.journal.take_due(now_ms(), batch_max * 10);
            if !due.is_empty() {
                tracing::info!(events = due.len(), "retrying dead letters");
                metrics()
                    .webhook_events
                    .get_or_create(&ocean_support::metrics::Outcome {
                        outcome: "retried".into(),
                    })
                    .inc_by(due.len() as u64);
                live.queue.push_stored(due);
            }
            live.publish();
        }
        // No mapping compiles: events stay queued (and journaled) until one does.
        if host.current_mapping().is_none() && !wait_for_mapping(&host, &live).await {
            break;
        }
        let Some(batch) = live.queue.take(batch_max, RETRY_SCAN).await else {
            break;
        };
        if batch.is_empty() {
            continue;
        }
        let events = bodies(&live.journal, batch);
        if refreshed.elapsed() > MAPPING_REFRESH {
            refreshed = Instant::now();
            if let Err(e) = host.refresh_mapping(false).await {
                tracing::warn!("re-reading the mapping for live events: {e}");
            }
        }
        let Some(mapping) = host.current_mapping() else {
            // Only a mapping in force is ever replaced, never removed: this cannot happen.
            tracing::error!(
                events = events.len(),
                "no mapping is in force; these live events wait as dead letters"
            );
            for (seq, _) in &events {
                set_aside(&live.journal, *seq, false, "no valid mapping is in force".into());
            }
            continue;
        };
        // Compiled once per thread and mapping (see `compile`).
        match compile(&mapping, host.jq_options()) {
            // A batch is one of Ocean's `http_request` events: what it writes says so.
            Ok(mappers) => {
                let event = Event::new(EventKind::HttpRequest);
                event::within(
                    event,
                    write_batch(&host, &live.journal, &mapping, &mappers, events),
                )
                .await
            }
            Err(e) => {
                tracing::error!("the mapping in force does not compile: {e}");
                for (seq, _) in &events {
                    set_aside(
                        &live.journal,
                        *seq,
                        false,
                        format!("the mapping does not compile: {e}"),
                    );
                }
            }
        }
    }
    live.publish();
}

/// How often the mapping is read again while none compiles.
pub(super) const MAPPING_RETRY: Duration = Duration::from_secs(5);
/// How often the wait for a mapping is said in the log.
pub(super) const WAITING_LOG: Duration = Duration::from_secs(60);

/// Waits until a mapping that compiles is in force, reading Port's every
/// `MAPPING_RETRY`, while accepted events wait in the queue and the journal.
/// False when the queue closed meanwhile (a stop): the events stay in the
/// journal for the next start.
pub(super) async fn wait_for_mapping(host: &Host, live: &LiveEvents) -> bool {
    let mut said: Option<Instant> = None;
    loop {
        if let Err(e) = host.refresh_mapping(false).await {
            tracing::debug!("reading the mapping for live events: {e}");
        }
        if host.current_mapping().is_some() {
            metrics().events_waiting_for_mapping.set(0);
            if said.is_some() {
                tracing::info!(
                    events = live.queue.len(),
                    "a valid mapping is in force: mapping the waiting live events"
                );
            }
            return true;
        }
        let waiting = live.queue.len();
        metrics().events_waiting_for_mapping.set(waiting as i64);
        if said.is_none_or(|at| at.elapsed() >= WAITING_LOG) {
            said = Some(Instant::now());
            tracing::error!(
                events = waiting,
                "no valid mapping is in force: live events are accepted and journaled, and wait; they are mapped \
                 once the mapping in Port compiles (the faults are in the log line above and in Port's resync state)"
            );
        }
        if live.queue.closed_after(MAPPING_RETRY).await {
            return false;
        }
    }
}

/// The batch's bodies, those that spilled read back from the journal; JSON
/// text checked, not parsed (the plugin and the mapper read what they need).
pub(super) fn bodies(journal: &Journal, batch: Vec<Queued>) -> Vec<(u64, Box<RawValue>)> {
    let mut events = Vec::with_capacity(batch.len());
    let mut parse = |seq: u64, bytes: &[u8]| match serde_json::from_slice(bytes) {
        Ok(body) => events.push((seq, body)),
        Err(e) => set_aside(journal, seq, true, format!("the stored body is not JSON: {e}")),
    };
    for Queued { seq, body } in batch {
        if let Some(body) = body {
            parse(seq, &body);
            continue;
        }
        match journal.read(seq) {
            Ok(Some(bytes)) => parse(seq, &bytes),
            // Applied or discarded meanwhile.
            Ok(None) => {}
            Err(e) => {
                tracing::error!(seq, "reading a live event back from the journal: {e}");
                set_aside(journal, seq, false, format!("reading the journal: {e}"));
            }
        }
    }
    events
}
