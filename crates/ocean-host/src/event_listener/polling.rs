//! POLLING: a resync at start (unless turned off), then one whenever Port's UI
//! records a newer resync request.

use std::sync::Arc;
use std::time::Duration;

use super::ResyncQueue;
use crate::host::Host;

/// Starts polling; the first resync is asked for at once when `resync_on_start`.
pub fn start(host: &Arc<Host>, queue: &Arc<ResyncQueue>) -> Option<tokio::task::AbortHandle> {
    if host.settings.resync_on_start {
        queue.request();
    }
    Some(tokio::spawn(poll_resync_requests(host.clone(), queue.clone())).abort_handle())
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
