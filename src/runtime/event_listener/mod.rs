//! When resyncs run, one file per event listener as in Ocean's `event_listener/`:
//! `once`, `polling`, `webhooks_only`, plus the `schedule` that works with any
//! of them. Every trigger feeds one `queue`, so one resync runs at a time and
//! requests that arrive during one coalesce into one more.

pub mod once;
pub mod polling;
pub mod queue;
pub mod schedule;
pub mod webhooks_only;

use std::sync::Arc;

use super::host::Host;
use super::settings::ListenerKind;
pub use queue::ResyncQueue;

/// Starts the listener's tasks and the resync worker; returns the queue so
/// other triggers (the HTTP server's `/resync`) can use it. Call it inside a
/// `LocalSet`: the resync worker maps on that thread. ONCE runs no listener
/// (see `once::run`); asked here, it gets the queue and worker only.
pub fn start(host: Arc<Host>) -> Arc<ResyncQueue> {
    let queue = Arc::new(ResyncQueue::default());
    tokio::task::spawn_local(queue::worker(host.clone(), queue.clone()));
    match host.settings.listener {
        ListenerKind::Polling => polling::start(&host, &queue),
        ListenerKind::WebhooksOnly | ListenerKind::Webhook => webhooks_only::start(&host),
        ListenerKind::Once => {}
    }
    if let Some(minutes) = host.settings.scheduled_resync_interval {
        tokio::spawn(schedule::schedule(minutes, queue.clone()));
    }
    queue
}
