//! Scheduled resyncs, with any listener (`OCEAN__SCHEDULED_RESYNC_INTERVAL`).

use std::sync::Arc;
use std::time::Duration;

use super::ResyncQueue;

/// Asks for a resync every `minutes`.
pub async fn schedule(minutes: u64, queue: Arc<ResyncQueue>) {
    let every = Duration::from_secs(minutes * 60);
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        ticks.tick().await;
        queue.request();
    }
}
