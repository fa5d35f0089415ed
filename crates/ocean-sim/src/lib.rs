//! Loopback simulators of the services the integration talks to, faithful on
//! the wire (status codes, error bodies, paging, rate-limit headers, body
//! limits) and able to misbehave on purpose. Tests, benchmarks and the
//! `sandbox` command run against them; they bind to loopback only.

pub mod codecov;
pub mod exchange;
pub mod faults;
pub mod port;
pub mod request_log;
pub mod rng;
pub mod webhook_sender;

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A simulator serving in the background until dropped or shut down.
pub struct Served {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Served {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Binds `addr` and serves `router` on it in a background task.
pub async fn serve(addr: SocketAddr, router: axum::Router) -> std::io::Result<Served> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        if let Err(e) = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!("simulator stopped: {e}");
        }
    });
    Ok(Served {
        addr,
        stop: Some(stop),
        task: Some(task),
    })
}
