//! When resyncs run, one file per event listener as in Ocean's `event_listener/`:
//! `once`, `polling`, `webhooks_only`, plus the `schedule` that works with any
//! of them. Every trigger feeds one `queue`, so one resync runs at a time and
//! requests that arrive during one coalesce into one more. A schedule tick
//! never aborts a running resync; an explicit request does (see `queue`).

pub mod once;
pub mod polling;
pub mod queue;
pub mod schedule;
pub mod webhooks_only;

use std::sync::Arc;

use super::host::Host;
use super::settings::ListenerKind;
pub use queue::ResyncQueue;

/// The listener's tasks, running: stopped when dropped or `stop`ped.
pub struct Listening {
    /// The queue every trigger asks for resyncs through.
    pub queue: Arc<ResyncQueue>,
    tasks: Vec<tokio::task::AbortHandle>,
}

impl Listening {
    /// Ends the worker, the polling and the schedule (a running resync is
    /// dropped with them: call this once it has reported).
    pub fn stop(&self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts the listener's tasks and the resync worker; the queue lets other
/// triggers (the HTTP server's `/resync`) use it. Call it inside a
/// `LocalSet`: the resync worker maps on that thread. ONCE runs no listener
/// (see `once::run`); asked here, it gets the queue and worker only.
pub fn start(host: Arc<Host>) -> Listening {
    let queue = Arc::new(ResyncQueue::default());
    let mut tasks = vec![tokio::task::spawn_local(queue::worker(host.clone(), queue.clone())).abort_handle()];
    match host.settings.listener {
        ListenerKind::Polling => tasks.extend(polling::start(&host, &queue)),
        ListenerKind::WebhooksOnly | ListenerKind::Webhook => webhooks_only::start(&host),
        ListenerKind::Once => {}
    }
    if let Some(interval) = host.settings.scheduled_resync_interval {
        tasks.push(tokio::spawn(schedule::schedule(interval.duration(), queue.clone())).abort_handle());
    }
    Listening { queue, tasks }
}
