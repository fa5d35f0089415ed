//! The live side of a serving process: the event listener and its resync worker, the
//! live-event worker, and the HTTP server, started together and stopped in
//! order within the stop's budget (`OCEAN__SHUTDOWN_GRACE_SECONDS`, inside the
//! pod's grace period): stop accepting, drain accepted events, let a running
//! resync stop at its next page and report `aborted`. Accepted events are in
//! the journal from the start, so a drain cut short (or a crash) leaves them
//! for the next start.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;

use crate::event_listener::{self, ResyncQueue};
use crate::host::Host;
use crate::journal::JournalOptions;
use crate::live_events::{self, LiveEvents};
use crate::server::{ServerState, serve};

/// The integration's live side, started: the resync listener, the live-event
/// worker and the HTTP server. Start and stop it inside a `LocalSet`.
pub struct Running {
    /// The address the HTTP server listens on (the real port when `addr` asked for port 0).
    pub addr: SocketAddr,
    listening: event_listener::Listening,
    queue: Arc<ResyncQueue>,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    processor: tokio::task::JoinHandle<()>,
    live: LiveEvents,
}

/// Accepted events whose bodies wait in memory; past this they wait in the
/// journal only (and are read back in turn), never refused.
const EVENT_QUEUE: usize = 10_000;
/// Events written to Port together.
const EVENT_BATCH: usize = 200;
/// Of a stop's budget, what is kept back from draining live events for the
/// running resync's `aborted` report and the last log lines.
const RESERVED_FOR_REPORTS: Duration = Duration::from_secs(5);

impl Running {
    /// Opens the journal (`OCEAN__JOURNAL__*`), starts the resync listener, the live-event worker
    /// and the HTTP server on `addr`. Call inside a `LocalSet` (the workers are local tasks). Fails
    /// when the journal cannot be opened (e.g. another process holds it) or `addr` cannot be bound.
    pub async fn start(host: Arc<Host>, addr: SocketAddr) -> std::io::Result<Running> {
        let options = JournalOptions {
            max_bytes: host.settings.journal_max_bytes,
            ..JournalOptions::default()
        };
        let live = LiveEvents::open(&host.settings.journal_path, options, EVENT_QUEUE)
            .map_err(|e| std::io::Error::other(format!("opening the live-event journal: {e}")))?;
        let listening = event_listener::start(host.clone());
        let queue = listening.queue.clone();
        let processor =
            tokio::task::spawn_local(live_events::process(host.clone(), live.clone(), EVENT_BATCH));
        let secret = host.settings.webhook_secret.clone();
        if secret.is_none() {
            tracing::warn!(
                "no webhook secret is set: anyone who can reach this server can post webhooks and ask for resyncs"
            );
        }
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = ServerState {
            host,
            live: live.clone(),
            resyncs: queue.clone(),
            secret,
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, state, async {
            let _ = stopped.await;
        }));
        Ok(Running {
            addr,
            listening,
            queue,
            stop,
            server,
            processor,
            live,
        })
    }

    /// `http://` and the listening address, for a client of the server.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The resync queue, e.g. to read how many schedule ticks it absorbed.
    pub fn resyncs(&self) -> &ResyncQueue {
        &self.queue
    }

    /// Stops accepting, writes the accepted events (those left are in the
    /// journal for the next start), and lets a running resync stop at its
    /// next page and report `aborted`, all within the stop's budget. Returns
    /// whether a resync was running when the stop began.
    pub async fn stop(self, host: &Host) -> bool {
        let budget = Duration::from_secs(host.settings.shutdown_grace_secs);
        let deadline = Instant::now() + budget;
        host.stopping.store(true, Ordering::SeqCst);
        let resync_was_running = self.queue.busy.load(Ordering::SeqCst);
        let _ = self.stop.send(());
        match tokio::time::timeout_at(deadline, self.server).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::error!("the HTTP server failed: {e}"),
            Ok(Err(e)) => tracing::error!("the HTTP server task failed: {e}"),
            Err(_) => tracing::warn!("requests in flight did not finish within the stop's budget"),
        }
        self.live.queue.close();
        let processor = self.processor.abort_handle();
        let drain_until = deadline.checked_sub(RESERVED_FOR_REPORTS).unwrap_or(deadline);
        if tokio::time::timeout_at(drain_until.max(Instant::now()), self.processor)
            .await
            .is_err()
        {
            processor.abort();
            tracing::warn!(
                events = self.live.queue.len(),
                "live events did not drain within the stop's budget; they stay in the journal and are applied at the next start"
            );
        }
        self.live.journal.sync().await;
        // The resync stops at its next page and reports `aborted` itself.
        let report_until = deadline.checked_sub(Duration::from_secs(1)).unwrap_or(deadline);
        while self.queue.busy.load(Ordering::SeqCst) && Instant::now() < report_until {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if self.queue.busy.load(Ordering::SeqCst) {
            // Stuck on a call (a retry to Port, say): say so to Port now, while there is time.
            host.report_aborted_if_running("the integration is shutting down")
                .await;
        }
        // No tick or poll may start another resync after the stop.
        self.listening.stop();
        resync_was_running
    }
}
