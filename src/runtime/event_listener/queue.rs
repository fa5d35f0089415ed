//! The resync queue: requests from every trigger (start, Port's UI, the
//! schedule, `POST /resync`) coalesce, and one worker runs them one at a time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

use crate::runtime::host::Host;
use crate::runtime::resync::progress::LogLines;

/// Pending resync requests, coalesced.
#[derive(Default)]
pub struct ResyncQueue {
    pending: AtomicBool,
    wake: Notify,
    /// True while a resync runs.
    pub busy: AtomicBool,
}

impl ResyncQueue {
    pub fn request(&self) {
        self.pending.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// Waits for a request and takes it; requests made meanwhile become one.
    pub async fn next(&self) {
        loop {
            if self.pending.swap(false, Ordering::SeqCst) {
                return;
            }
            self.wake.notified().await;
        }
    }
}

/// Runs resyncs from the queue, one at a time, until the process ends.
pub async fn worker(host: Arc<Host>, queue: Arc<ResyncQueue>) {
    loop {
        queue.next().await;
        if host.stopping.load(Ordering::SeqCst) {
            return;
        }
        queue.busy.store(true, Ordering::SeqCst);
        let outcome = host.resync(&LogLines, false).await;
        queue.busy.store(false, Ordering::SeqCst);
        match outcome {
            Ok(report) => {
                tracing::info!(succeeded = report.succeeded(), deletion = ?report.deletion, "resync finished")
            }
            Err(e) => tracing::error!("resync failed: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn requests_during_a_run_coalesce_into_one_more() {
        let queue = ResyncQueue::default();
        queue.request();
        queue.request();
        queue.next().await;
        queue.request();
        queue.request();
        queue.request();
        queue.next().await;
        let waited = tokio::time::timeout(Duration::from_millis(20), queue.next()).await;
        assert!(waited.is_err(), "three requests made while busy became one run");
    }
}
