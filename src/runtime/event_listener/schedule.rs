//! Scheduled resyncs, with any listener (`OCEAN__SCHEDULED_RESYNC_INTERVAL`).

use std::sync::Arc;
use std::time::Duration;

use super::ResyncQueue;

/// Asks for a resync every `minutes`.
pub async fn schedule(minutes: u64, queue: Arc<ResyncQueue>) {
    // Settings refuse an interval whose seconds overflow; saturating keeps this total anyway.
    let every = Duration::from_secs(minutes.saturating_mul(60));
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        ticks.tick().await;
        queue.request();
    }
}
