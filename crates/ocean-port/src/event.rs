//! The event a piece of work belongs to, as Ocean's event context: a resync,
//! a live event, the start. Entity writes and deletes made inside one carry
//! Ocean's `ocean_info_*` query parameters, and the log lines shipped to Port
//! carry its id and kind, so Port can tell which run wrote or said what.
//!
//! The event is a task-local (Ocean keeps it in a context stack), set by
//! `within` around the work: what the work calls sees it without it being
//! passed down through every layer. Work spawned onto another task does not.

use std::future::Future;
use std::sync::Arc;

use tracing::Instrument;

/// Ocean's `EventType` values (`port_ocean/context/event.py`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// The integration's start (registration, default resources).
    Start,
    /// A resync: its writes and deletes also carry its id.
    Resync,
    /// A live event (webhook): Ocean processes each one in an `http_request` event.
    HttpRequest,
}

impl EventKind {
    /// The value Ocean sends as `ocean_info_event_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Start => "start",
            EventKind::Resync => "resync",
            EventKind::HttpRequest => "http_request",
        }
    }
}

/// One piece of work, as Ocean's event context holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// What kind of work it is.
    pub kind: EventKind,
    /// A UUID, new per event (Ocean's `uuid4()`); a resync's is also its
    /// sync metrics' `eventId`.
    pub id: String,
}

/// Ocean's prefix for the event's query parameters (`clients/port/utils.py`).
pub const OCEAN_INFO_PREFIX: &str = "ocean_info_";
/// The query parameter naming the event's kind.
pub const EVENT_TYPE_PARAM: &str = "ocean_info_event_type";
/// The query parameter naming the resync (a resync's writes and deletes only).
pub const RESYNC_ID_PARAM: &str = "ocean_info_resync_id";

impl Event {
    /// A new event of `kind`, with a new id.
    pub fn new(kind: EventKind) -> Event {
        Event { kind, id: new_id() }
    }

    /// Ocean's `trigger_type`: 0.56.2's listeners, start tasks and webhook
    /// processing all run their events as `machine` (only its HTTP middleware
    /// uses `request`, around each incoming request, which this host does not).
    pub fn trigger_type(&self) -> &'static str {
        "machine"
    }

    /// As Ocean's `get_event_context_params`: the event type always, the
    /// resync id only for a resync.
    pub fn query_params(&self) -> Vec<(&'static str, String)> {
        let mut params = vec![(EVENT_TYPE_PARAM, self.kind.as_str().to_string())];
        if self.kind == EventKind::Resync {
            params.push((RESYNC_ID_PARAM, self.id.clone()));
        }
        params
    }
}

tokio::task_local! {
    static CURRENT: Arc<Event>;
}

/// Runs `work` as `event`: Port calls and log lines inside it carry the event
/// (and a tracing span `event` shows it on stderr).
pub async fn within<F: Future>(event: Event, work: F) -> F::Output {
    let span = tracing::info_span!("event", event_kind = event.kind.as_str(), event_id = %event.id);
    CURRENT.scope(Arc::new(event), work.instrument(span)).await
}

/// The event the running task is in, if any.
pub fn current() -> Option<Arc<Event>> {
    CURRENT.try_with(Arc::clone).ok()
}

/// A random (version 4) UUID, as Ocean's event ids are.
pub fn new_id() -> String {
    let n = rand::random::<u128>();
    let hex = format!("{n:032x}");
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resync_names_itself_other_events_only_their_type() {
        let resync = Event::new(EventKind::Resync);
        assert_eq!(
            resync.query_params(),
            [
                ("ocean_info_event_type", "resync".to_string()),
                ("ocean_info_resync_id", resync.id.clone())
            ]
        );
        let live = Event::new(EventKind::HttpRequest);
        assert_eq!(
            live.query_params(),
            [("ocean_info_event_type", "http_request".to_string())]
        );
    }

    #[tokio::test]
    async fn the_event_is_seen_inside_and_not_outside() {
        assert!(current().is_none());
        let event = Event::new(EventKind::Start);
        let id = event.id.clone();
        let seen = within(event, async { current().map(|e| e.id.clone()) }).await;
        assert_eq!(seen, Some(id));
        assert!(current().is_none());
    }

    #[test]
    fn ids_look_like_uuids() {
        let id = new_id();
        assert_eq!(id.len(), 36);
        assert_eq!(id.as_bytes()[14], b'4');
        assert_ne!(id, new_id());
    }
}
