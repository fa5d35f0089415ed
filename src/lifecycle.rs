//! The process's live side: the event listener and its resync worker, the
//! live-event worker, and the HTTP server, started together and stopped in
//! order (stop accepting, drain accepted events, let a running resync end).
//! Accepted events are in the journal from the start, so a drain cut short
//! (or a crash) leaves them for the next start.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::runtime::event_listener::{self, ResyncQueue};
use crate::runtime::host::Host;
use crate::runtime::journal::JournalOptions;
use crate::runtime::live_events::{self, LiveEvents};
use crate::server::{ServerState, serve};

/// The integration's live side, started: the resync listener, the live-event
/// worker and the HTTP server. Start and stop it inside a `LocalSet`.
pub struct Running {
    pub addr: SocketAddr,
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

impl Running {
    pub async fn start(host: Arc<Host>, addr: SocketAddr) -> std::io::Result<Running> {
        let options = JournalOptions {
            max_bytes: host.settings.journal_max_bytes,
            ..JournalOptions::default()
        };
        let live = LiveEvents::open(&host.settings.journal_path, options, EVENT_QUEUE)
            .map_err(|e| std::io::Error::other(format!("opening the live-event journal: {e}")))?;
        let queue = event_listener::start(host.clone());
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

    /// Stops accepting, writes the accepted events (up to 30 s; those left are
    /// in the journal for the next start), and lets a running resync end
    /// without deleting (up to 60 s).
    pub async fn stop(self, host: &Host) {
        host.stopping.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = self.stop.send(());
        match self.server.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!("the HTTP server failed: {e}"),
            Err(e) => tracing::error!("the HTTP server task failed: {e}"),
        }
        self.live.queue.close();
        let processor = self.processor.abort_handle();
        if tokio::time::timeout(std::time::Duration::from_secs(30), self.processor)
            .await
            .is_err()
        {
            processor.abort();
            tracing::warn!(
                events = self.live.queue.len(),
                "live events did not drain within 30 s; they stay in the journal and are applied at the next start"
            );
        }
        self.live.journal.sync().await;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        while self.queue.busy.load(std::sync::atomic::Ordering::SeqCst)
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM (Kubernetes' stop signal).
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
