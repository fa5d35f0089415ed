//! The resync queue: requests from every trigger (start, Port's UI, the
//! schedule, `POST /resync`) coalesce, and one worker runs them one at a time.
//! As in Ocean, a request that arrives while a resync runs aborts it (no
//! further page, no deletion, `aborted` in Port) and the newer one runs next.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::Notify;

use crate::runtime::host::Host;
use crate::runtime::resync::StopSignal;
use crate::runtime::resync::progress::LogLines;

/// Pending resync requests, coalesced.
#[derive(Default)]
pub struct ResyncQueue {
    pending: AtomicBool,
    wake: Notify,
    /// True while a resync runs.
    pub busy: AtomicBool,
    /// Requests made so far: a resync started when there were `n` is
    /// superseded once there are more.
    requests: AtomicU64,
}

impl ResyncQueue {
    pub fn request(&self) {
        self.requests.fetch_add(1, Ordering::SeqCst);
        self.pending.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// What a resync started now serves: every request made so far.
    fn serving(&self) -> Superseded<'_> {
        Superseded {
            queue: self,
            served: self.requests.load(Ordering::SeqCst),
        }
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
        let outcome = host.resync_unless(&LogLines, false, &queue.serving()).await;
        queue.busy.store(false, Ordering::SeqCst);
        match outcome {
            Ok(report) if report.stopped.is_some() => {
                tracing::warn!(reason = report.stopped, "resync aborted; nothing was deleted")
            }
            Ok(report) => {
                tracing::info!(succeeded = report.succeeded(), deletion = ?report.deletion, "resync finished")
            }
            Err(e) => tracing::error!("resync failed: {e}"),
        }
    }
}

/// Says stop once a request newer than those a resync serves has arrived.
struct Superseded<'a> {
    queue: &'a ResyncQueue,
    served: u64,
}

impl StopSignal for Superseded<'_> {
    fn stop_reason(&self) -> Option<&'static str> {
        (self.queue.requests.load(Ordering::SeqCst) > self.served).then_some("a newer resync was requested")
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

    #[test]
    fn a_request_after_a_resync_started_supersedes_it_and_only_it() {
        let queue = ResyncQueue::default();
        queue.request();
        let first = queue.serving();
        assert_eq!(first.stop_reason(), None);
        queue.request();
        assert_eq!(first.stop_reason(), Some("a newer resync was requested"));
        let second = queue.serving();
        assert_eq!(second.stop_reason(), None, "the newer one runs to its end");
    }
}
