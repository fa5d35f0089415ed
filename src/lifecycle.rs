//! The process's live side: the event listener and its resync worker, the
//! live-event worker, and the HTTP server, started together and stopped in
//! order (stop accepting, drain accepted events, let a running resync end).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::runtime::event_listener::{self, ResyncQueue};
use crate::runtime::host::Host;
use crate::runtime::live_events;
use crate::server::{ServerState, serve};

/// The integration's live side, started: the resync listener, the live-event
/// worker and the HTTP server. Start and stop it inside a `LocalSet`.
pub struct Running {
    pub addr: SocketAddr,
    queue: Arc<ResyncQueue>,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    processor: tokio::task::JoinHandle<()>,
}

/// Events accepted but not yet written; past this the webhook route answers 503.
const EVENT_QUEUE: usize = 10_000;
/// Events written to Port together.
const EVENT_BATCH: usize = 200;

impl Running {
    pub async fn start(host: Arc<Host>, addr: SocketAddr) -> std::io::Result<Running> {
        let queue = event_listener::start(host.clone());
        let (events, received) = mpsc::channel(EVENT_QUEUE);
        let processor = tokio::task::spawn_local(live_events::process(host.clone(), received, EVENT_BATCH));
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
            events,
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
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, writes every accepted event (up to 120 s), and lets a
    /// running resync end without deleting (up to 60 s).
    pub async fn stop(self, host: &Host) {
        host.stopping.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = self.stop.send(());
        match self.server.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!("the HTTP server failed: {e}"),
            Err(e) => tracing::error!("the HTTP server task failed: {e}"),
        }
        // The server's state held the last senders; with it gone the queue drains and ends.
        if tokio::time::timeout(std::time::Duration::from_secs(120), self.processor)
            .await
            .is_err()
        {
            tracing::error!("live events did not drain within 120 s");
        }
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
