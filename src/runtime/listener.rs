//! When resyncs run: once; at start and whenever Port's UI asks (POLLING);
//! never (WEBHOOKS_ONLY); and on a schedule with any of them. One resync runs
//! at a time, and requests that arrive during one coalesce into one more.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

use super::host::Host;
use super::resync::progress::LogLines;
use super::settings::ListenerKind;

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

/// Asks for a resync whenever Port's UI has recorded a newer resync request.
pub async fn poll_resync_requests(host: Arc<Host>, queue: Arc<ResyncQueue>) {
    let every = Duration::from_secs(host.settings.polling_interval_secs);
    let mut last_seen: Option<String> = match host.port.resync_request().await {
        Ok(request) => request.and_then(|r| r.get("updatedAt").and_then(|u| u.as_str()).map(String::from)),
        Err(_) => None,
    };
    loop {
        tokio::time::sleep(every).await;
        match host.port.resync_request().await {
            Ok(Some(request)) => {
                let updated = request
                    .get("updatedAt")
                    .and_then(|u| u.as_str())
                    .map(String::from);
                if updated.is_some() && updated > last_seen {
                    tracing::info!("Port asked for a resync");
                    last_seen = updated;
                    queue.request();
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!("could not read resync requests from Port: {e}"),
        }
    }
}

/// Asks for a resync every `minutes`.
pub async fn schedule(minutes: u64, queue: Arc<ResyncQueue>) {
    let every = Duration::from_secs(minutes * 60);
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        ticks.tick().await;
        queue.request();
    }
}

/// Starts the listener's tasks; returns the queue so other triggers (the
/// HTTP server's `/resync`) can use it. Call it inside a `LocalSet`: the
/// resync worker maps on that thread.
pub fn start(host: Arc<Host>) -> Arc<ResyncQueue> {
    let queue = Arc::new(ResyncQueue::default());
    tokio::task::spawn_local(worker(host.clone(), queue.clone()));
    let settings = &host.settings;
    if settings.listener == ListenerKind::Polling {
        if settings.resync_on_start {
            queue.request();
        }
        tokio::spawn(poll_resync_requests(host.clone(), queue.clone()));
    }
    if let Some(minutes) = settings.scheduled_resync_interval {
        tokio::spawn(schedule(minutes, queue.clone()));
    }
    queue
}

#[cfg(test)]
mod tests {
    use super::*;

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
