//! WEBHOOKS_ONLY (and Ocean's WEBHOOK, served alike): no resync at start and
//! no polling; live events arrive over HTTP, and resyncs run only when asked
//! (`POST /resync`) or on the schedule.

use crate::host::Host;

/// Says what this listener does, since it starts no task of its own.
pub fn start(host: &Host) {
    tracing::info!(
        scheduled_every_minutes = ?host.settings.scheduled_resync_interval.map(|i| i.minutes),
        "webhooks only: resyncs run on POST /resync or the schedule, none at start"
    );
}
