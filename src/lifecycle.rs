//! The process's live side: the event listener and its resync worker, the
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

use crate::runtime::event_listener::{self, ResyncQueue};
use crate::runtime::host::Host;
use crate::runtime::journal::JournalOptions;
use crate::runtime::live_events::{self, LiveEvents};
use crate::server::{ServerState, serve};

/// The integration's live side, started: the resync listener, the live-event
/// worker and the HTTP server. Start and stop it inside a `LocalSet`.
pub struct Running {
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

/// The signal that asked the process to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopRequest {
    /// SIGTERM: Kubernetes stopping the pod (rollout, `concurrencyPolicy: Replace`, deadline, eviction).
    Terminate,
    /// SIGINT: Ctrl-C.
    Interrupt,
}

impl StopRequest {
    /// The shell's convention, 128 + the signal's number: what a run stopped
    /// part-way exits with, so a CronJob's history shows it failed.
    pub fn exit_code(self) -> u8 {
        match self {
            StopRequest::Terminate => 143,
            StopRequest::Interrupt => 130,
        }
    }
}

/// SIGTERM and Ctrl-C, caught from the moment this is made (until then the
/// default applies: the process ends at once).
pub struct StopSignals {
    #[cfg(unix)]
    signals: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl StopSignals {
    pub fn install() -> StopSignals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let signals = match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
                (Ok(term), Ok(int)) => Some((term, int)),
                _ => None,
            };
            StopSignals { signals }
        }
        #[cfg(not(unix))]
        StopSignals {}
    }

    /// The next stop signal.
    pub async fn recv(&mut self) -> StopRequest {
        #[cfg(unix)]
        if let Some((term, int)) = &mut self.signals {
            return tokio::select! {
                _ = term.recv() => StopRequest::Terminate,
                _ = int.recv() => StopRequest::Interrupt,
            };
        }
        let _ = tokio::signal::ctrl_c().await;
        StopRequest::Interrupt
    }
}
