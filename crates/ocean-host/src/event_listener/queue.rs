//! The resync queue: requests from every trigger (start, Port's UI, the
//! schedule, `POST /resync`) coalesce, and one worker runs them one at a time.
//!
//! Two kinds of trigger, two rules:
//! - an explicit request (Port's UI, `POST /resync`, the start) asks for a
//!   resync of the data as it is now: one that arrives while a resync runs
//!   aborts it (no further page, no deletion, `aborted` in Port) and the
//!   newer one runs next, as in Ocean;
//! - a schedule tick never aborts anything: it is served by the next resync
//!   that starts after it. A tick that falls while a resync runs waits, and
//!   however many fall meanwhile, one resync follows when it ends. (Ocean
//!   aborts the running resync on every tick, so a resync longer than the
//!   interval never completes: port-labs/ocean#3863.)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::Notify;

use crate::host::Host;
use crate::resync::progress::LogLines;
use crate::resync::{ResyncReport, StopSignal};

/// A resync the worker ran, as its watchers hear of it.
#[derive(Debug, Clone)]
pub struct Ran {
    /// The worker's count: the first resync it ran is 1.
    pub number: u64,
    /// The report, shared with every watcher, or the error the resync ended with, as text.
    pub outcome: Result<Arc<ResyncReport>, String>,
}

/// Pending resync requests, coalesced.
pub struct ResyncQueue {
    pending: AtomicBool,
    wake: Notify,
    /// True while a resync runs.
    pub busy: AtomicBool,
    /// Explicit requests made so far: a resync started when there were `n`
    /// is superseded once there are more. Ticks are not counted here.
    requests: AtomicU64,
    /// Schedule ticks that fell while a resync ran (each is served by the one
    /// resync that follows).
    ticks_absorbed: AtomicU64,
    /// Resyncs the worker started.
    started: AtomicU64,
    ran: tokio::sync::broadcast::Sender<Ran>,
}

impl Default for ResyncQueue {
    fn default() -> Self {
        ResyncQueue {
            pending: AtomicBool::new(false),
            wake: Notify::new(),
            busy: AtomicBool::new(false),
            requests: AtomicU64::new(0),
            ticks_absorbed: AtomicU64::new(0),
            started: AtomicU64::new(0),
            // Watchers that lag lose the oldest; the worker never waits for them.
            ran: tokio::sync::broadcast::channel(16).0,
        }
    }
}

impl ResyncQueue {
    /// An explicit request: supersedes a running resync.
    pub fn request(&self) {
        self.requests.fetch_add(1, Ordering::SeqCst);
        self.pending.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// A schedule tick: a resync after the running one, if one runs; never an abort.
    pub fn tick(&self) {
        let already = self.pending.swap(true, Ordering::SeqCst);
        if self.busy.load(Ordering::SeqCst) {
            self.ticks_absorbed.fetch_add(1, Ordering::SeqCst);
            ocean_support::metrics::metrics().scheduled_ticks_absorbed.inc();
            tracing::info!(
                already_queued = already,
                "a scheduled resync fell due while a resync runs: it runs when that one ends (nothing is aborted)"
            );
        }
        self.wake.notify_one();
    }

    /// Resyncs the worker started so far: the next one it runs is this plus one.
    pub fn started(&self) -> u64 {
        self.started.load(Ordering::SeqCst)
    }

    /// Hears of each resync the worker runs, as it ends.
    pub fn watch(&self) -> tokio::sync::broadcast::Receiver<Ran> {
        self.ran.subscribe()
    }

    /// Ticks that fell while a resync ran, so far.
    pub fn ticks_absorbed(&self) -> u64 {
        self.ticks_absorbed.load(Ordering::SeqCst)
    }

    /// What a resync started now serves: every request made so far.
    fn serving(&self) -> Superseded<'_> {
        Superseded {
            queue: self,
            served: self.requests.load(Ordering::SeqCst),
        }
    }

    /// Waits for a request or tick and takes it; those made meanwhile become one.
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
        // Busy before the request is taken as served, so a tick in between counts as absorbed.
        queue.busy.store(true, Ordering::SeqCst);
        let number = queue.started.fetch_add(1, Ordering::SeqCst) + 1;
        let outcome = host.resync_unless(&LogLines, false, &queue.serving()).await;
        queue.busy.store(false, Ordering::SeqCst);
        let _ = queue.ran.send(Ran {
            number,
            outcome: outcome
                .as_ref()
                .map(|r| Arc::new(r.clone()))
                .map_err(ToString::to_string),
        });
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

/// Says stop once an explicit request newer than those a resync serves has arrived.
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

    async fn nothing_pending(queue: &ResyncQueue) -> bool {
        tokio::time::timeout(Duration::from_millis(20), queue.next())
            .await
            .is_err()
    }

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
        assert!(
            nothing_pending(&queue).await,
            "three requests made while busy became one run"
        );
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

    #[tokio::test]
    async fn ticks_during_a_run_never_abort_it_and_become_one_resync_after_it() {
        let queue = ResyncQueue::default();
        queue.request();
        queue.next().await;
        queue.busy.store(true, Ordering::SeqCst);
        let running = queue.serving();
        queue.tick();
        queue.tick();
        queue.tick();
        assert_eq!(running.stop_reason(), None, "a tick never supersedes");
        assert_eq!(queue.ticks_absorbed(), 3);
        queue.busy.store(false, Ordering::SeqCst);
        queue.next().await;
        assert!(nothing_pending(&queue).await, "three ticks made one resync");
    }

    #[tokio::test]
    async fn a_tick_waiting_with_a_request_is_served_by_the_same_resync() {
        let queue = ResyncQueue::default();
        queue.tick();
        queue.request();
        queue.next().await;
        assert!(nothing_pending(&queue).await);
        assert_eq!(queue.ticks_absorbed(), 0, "nothing ran when the tick fell");
    }
}
