//! Scheduled resyncs, with any listener (`OCEAN__SCHEDULED_RESYNC_INTERVAL`).
//! A tick never aborts a running resync: see `queue`.

use std::sync::Arc;
use std::time::Duration;

use super::ResyncQueue;

/// Ticks every `every`; a tick missed while the process was busy is not made up.
pub async fn schedule(every: Duration, queue: Arc<ResyncQueue>) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        queue.tick();
    }
}
