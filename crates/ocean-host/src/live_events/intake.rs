//! The intake: the journal and the queue in front of the processor. An
//! accepted event is on disk before its 2xx; at open, what was accepted and
//! not applied is queued again (a replay after a stop or a crash).

use std::path::Path;
use std::sync::Arc;

use super::queue::EventQueue;
use crate::journal::{AppendError, Journal, JournalOptions, OpenError};
use ocean_support::metrics::metrics;

/// The live-event intake as it runs: the journal and the queue in front of the processor.
#[derive(Clone)]
pub struct LiveEvents {
    /// Where every accepted event is kept until it is applied.
    pub journal: Journal,
    /// Accepted events waiting for the processor, in order.
    pub queue: Arc<EventQueue>,
}

impl LiveEvents {
    /// Opens the journal in `dir` and queues every event it holds that was
    /// accepted and not applied (a replay after a stop or a crash).
    pub fn open(dir: &Path, options: JournalOptions, in_memory: usize) -> Result<LiveEvents, OpenError> {
        let opened = Journal::open(dir, options)?;
        let queue = Arc::new(EventQueue::new(in_memory));
        let stats = opened.journal.stats();
        if opened.torn_bytes > 0 {
            tracing::warn!(
                bytes = opened.torn_bytes,
                "the journal's last write was torn by a crash and cut; it had not been acknowledged"
            );
        }
        if !opened.pending.is_empty() {
            tracing::info!(
                events = opened.pending.len(),
                "replaying live events accepted before the last stop"
            );
            metrics()
                .webhook_events
                .get_or_create(&ocean_support::metrics::Outcome {
                    outcome: "replayed".into(),
                })
                .inc_by(opened.pending.len() as u64);
        }
        if stats.dead > 0 {
            tracing::warn!(
                dead_letters = stats.dead,
                "the journal holds failed live events; `{} dead-letters list` shows them",
                crate::program_name()
            );
        }
        queue.push_stored(opened.pending);
        let live = LiveEvents {
            journal: opened.journal,
            queue,
        };
        live.publish();
        Ok(live)
    }

    /// Accepts an event: once this returns its number, the event is on disk.
    pub async fn accept(&self, body: bytes::Bytes) -> Result<u64, AppendError> {
        let seq = self.journal.append(body.to_vec()).await?;
        if !self.queue.push(seq, body) {
            metrics().count_event("spilled");
        }
        Ok(seq)
    }

    /// Sets the journal's gauges.
    pub(super) fn publish(&self) {
        let stats = self.journal.stats();
        let m = metrics();
        m.journal_bytes.set(stats.bytes as i64);
        m.dead_letters.set(stats.dead as i64);
        m.webhook_queue_depth.set(self.queue.len() as i64);
    }
}
