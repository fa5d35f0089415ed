//! Resyncs with the mapping in force, each one's state reported to Port
//! (running, then completed, failed or aborted), its kinds' sync metrics and
//! raw data examples sent to Port, and counted in the metrics.

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{Host, HostError, compile};
use crate::resync::held_back::HeldBackReport;
use crate::resync::progress::Progress;
use crate::resync::{Resync, ResyncReport, StopSignal};
use crate::sync_feed::SyncFeed;
use ocean_port::event::{self, Event, EventKind};

fn now() -> String {
    Timestamp::now().to_string()
}

/// The next time on the schedule's grid (every `every` from `start`) after
/// `now`; none past the last representable instant (the interval is the user's).
pub fn next_occurrence(start: Timestamp, every: std::time::Duration, now: Timestamp) -> Option<Timestamp> {
    let every = i64::try_from(every.as_millis().max(1)).ok()?;
    let elapsed = now.duration_since(start).as_millis().max(0);
    let elapsed = i64::try_from(elapsed).ok()?;
    let ahead = (elapsed / every).checked_add(1)?.checked_mul(every)?;
    start.checked_add(SignedDuration::from_millis(ahead)).ok()
}

impl Host {
    /// Sends the resync state with `heldBack` (what was held back and why;
    /// null clears an earlier resync's). The route is outside Port's public
    /// spec and Ocean sends no such field: should Port refuse it (400 or
    /// 422), the state goes again without it, and from then on without it.
    async fn report_state(&self, state: Value, held_back: Option<HeldBackReport>) {
        let mut with_reasons = state.clone();
        if !self.held_back_refused.load(Ordering::Relaxed) {
            with_reasons["heldBack"] = held_back
                .filter(|h| !h.is_empty())
                .and_then(|h| serde_json::to_value(h).ok())
                .unwrap_or(Value::Null);
        }
        let refused = match self.patch_state_persistently(&with_reasons).await {
            Ok(_) => return,
            Err(e)
                if with_reasons.get("heldBack").is_some()
                    && matches!(e.status().map(|s| s.as_u16()), Some(400 | 422)) =>
            {
                e
            }
            Err(e) => {
                tracing::warn!("could not report the resync state to Port: {e}");
                return;
            }
        };
        self.held_back_refused.store(true, Ordering::Relaxed);
        tracing::warn!(
            "Port refused the resync state with what was held back ({refused}); sending Ocean's fields only \
             (the reasons stay in the log and the summary)"
        );
        if let Err(e) = self.patch_state_persistently(&state).await {
            tracing::warn!("could not report the resync state to Port: {e}");
        }
    }

    /// How this process's last resync ended, as it told Port.
    pub fn last_reported_status(&self) -> Option<&'static str> {
        *self.last_status.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends a state; an end state (not `running`) that fails for another
    /// reason than a refused body is tried again a few times over about 3 s,
    /// since a lost one leaves Port showing `running` until the next resync.
    async fn patch_state_persistently(&self, state: &Value) -> Result<Value, ocean_port::PortError> {
        let ends = state.get("status").and_then(Value::as_str) != Some("running");
        let mut pause = std::time::Duration::from_millis(500);
        let mut tries = if ends { 4 } else { 1 };
        loop {
            tries -= 1;
            match self.port.patch_resync_state(state).await {
                Err(e)
                    if tries > 0
                        && !matches!(e.status().map(|s| s.as_u16()), Some(400 | 401 | 403 | 422)) =>
                {
                    tracing::warn!(
                        "reporting the resync's end to Port failed, trying again in {pause:?}: {e}"
                    );
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
                outcome => return outcome,
            }
        }
    }

    /// Reports `aborted` with `reason` when Port shows a resync of this
    /// integration as running (as Ocean's signal handler does): for a stop
    /// that cannot wait for the running resync to report for itself.
    pub async fn report_aborted_if_running(&self, reason: &str) {
        let state = match self.port.get_integration().await {
            Ok(integration) => integration.and_then(|i| i.get("resyncState").cloned()),
            Err(e) => {
                tracing::warn!("could not read the resync state from Port to mark it aborted: {e}");
                return;
            }
        };
        let Some(state) = state.filter(|s| s.get("status").and_then(Value::as_str) == Some("running")) else {
            return;
        };
        let held_back = HeldBackReport {
            deletion_skipped: Some(format!("{reason}; nothing is deleted")),
            ..HeldBackReport::default()
        };
        self.report_state(
            json!({"status": "aborted", "lastResyncStart": state.get("lastResyncStart").cloned().unwrap_or(Value::Null),
                "lastResyncEnd": now(), "nextResync": self.next_resync(),
                "intervalInMinuets": self.settings.scheduled_resync_interval.map(|i| i.to_json())}),
            Some(held_back),
        )
        .await;
        *self.last_status.lock().unwrap_or_else(|p| p.into_inner()) = Some("aborted");
        tracing::warn!("the running resync was reported aborted: {reason}");
    }

    /// When the next scheduled resync falls, if there is a schedule.
    fn next_resync(&self) -> Value {
        match self.settings.scheduled_resync_interval {
            Some(interval) => next_occurrence(self.started_at, interval.duration(), Timestamp::now())
                .map_or(Value::Null, |at| json!(at.to_string())),
            None => Value::Null,
        }
    }

    /// One resync with the mapping in force, its state reported to Port as
    /// Ocean reports it (running, then completed, failed or aborted, with the
    /// next scheduled resync), per-kind sync metrics and raw data examples
    /// sent along the way. A dry run writes nothing at all. The future holds
    /// compiled programs, so it runs on one thread (a `LocalSet` or `block_on`).
    pub async fn resync(&self, progress: &dyn Progress, dry_run: bool) -> Result<ResyncReport, HostError> {
        self.resync_unless(progress, dry_run, &NeverSuperseded).await
    }

    /// A resync that also stops when `superseded` says a newer one was
    /// requested: it then fetches no further page, deletes nothing and is
    /// reported `aborted`, as Ocean's is.
    pub async fn resync_unless(
        &self,
        progress: &dyn Progress,
        dry_run: bool,
        superseded: &dyn StopSignal,
    ) -> Result<ResyncReport, HostError> {
        // One event per resync, as Ocean's: its writes, deletes and log lines
        // carry its id, which is also its sync metrics' `eventId`.
        let event = Event::new(EventKind::Resync);
        let event_id = event.id.clone();
        event::within(event, self.resync_as(event_id, progress, dry_run, superseded)).await
    }

    async fn resync_as(
        &self,
        event_id: String,
        progress: &dyn Progress,
        dry_run: bool,
        superseded: &dyn StopSignal,
    ) -> Result<ResyncReport, HostError> {
        let stop = ShutdownOr {
            shutdown: &self.stopping,
            superseded,
        };
        let interval = self.settings.scheduled_resync_interval.map(|i| i.to_json());
        let started = std::time::Instant::now();
        // Sent again at the end, as Ocean's updater does: each report is the whole state.
        let started_at = now();
        // `intervalInMinuets` is Port's own spelling of the field (sic).
        let feed = (!dry_run).then(|| {
            Arc::new(SyncFeed::new(
                &self.port,
                self.settings.send_raw_data_examples,
                event_id.clone(),
            ))
        });
        if !dry_run {
            self.report_state(
                json!({"status": "running", "lastResyncStart": started_at, "lastResyncEnd": null,
                "nextResync": self.next_resync(), "intervalInMinuets": interval}),
                None,
            )
            .await;
        }
        let work = async {
            let outcome = async {
                let mapping = self.refresh_mapping(dry_run).await?;
                let mappers = compile(&mapping, self.jq_options()).map_err(HostError::NoValidMapping)?;
                let kinds: Vec<(String, String)> = mapping
                    .resources
                    .iter()
                    .zip(mappers.iter())
                    .map(|(r, m)| {
                        (
                            r.kind.clone(),
                            m.static_blueprint().unwrap_or_default().to_string(),
                        )
                    })
                    .collect();
                let (plugin, tap) = match &feed {
                    Some(feed) => {
                        feed.announce(&self.port, &kinds).await;
                        (
                            feed.plugin(self.plugin.clone()),
                            Some(feed.progress(progress, kinds)),
                        )
                    }
                    None => (self.plugin.clone(), None),
                };
                let progress: &dyn Progress = match &tap {
                    Some(tap) => tap,
                    None => progress,
                };
                let resync = Resync {
                    plugin,
                    port: &self.port,
                    config: &mapping,
                    mappers: &mappers,
                    progress,
                    dry_run,
                    stop: &stop,
                };
                Ok::<_, HostError>(resync.run().await?)
            }
            .await;
            // Whatever happened, the delivery of what was queued can end.
            if let Some(feed) = &feed {
                feed.close();
            }
            outcome
        };
        let outcome = match &feed {
            Some(feed) => {
                let delivered = async { tokio::join!(work, feed.deliver(&self.port)).0 };
                let every = std::time::Duration::from_secs(self.settings.status_heartbeat_interval_secs);
                tokio::select! {
                    outcome = delivered => outcome,
                    never = heartbeat(&self.port, &feed.event_id, every) => match never {},
                }
            }
            None => work.await,
        };
        record_metrics(&outcome, started.elapsed());
        if let Some(feed) = &feed {
            let status = match &outcome {
                Ok(report) if report.stopped.is_some() => "aborted",
                Ok(report) if report.succeeded() => "completed",
                Err(_) if stop.stop_reason().is_some() => "aborted",
                _ => "failed",
            };
            *self.last_status.lock().unwrap_or_else(|p| p.into_inner()) = Some(status);
            let held_back = match &outcome {
                Ok(report) => HeldBackReport::of(report),
                Err(e) => HeldBackReport::failed(&e.to_string()),
            };
            self.report_state(
                json!({"status": status, "lastResyncStart": started_at, "lastResyncEnd": now(), "nextResync": self.next_resync(),
                "intervalInMinuets": interval}),
                Some(held_back),
            )
            .await;
            feed.finish(
                &self.port,
                outcome.as_ref().ok(),
                status,
                started.elapsed().as_secs_f64(),
            )
            .await;
        }
        outcome
    }
}

/// Tells Port every `every` that the resync `event_id` is alive, as Ocean
/// 0.56 does, until dropped (when the resync ends). A failed beat is logged;
/// the resync goes on.
async fn heartbeat(
    port: &ocean_port::PortClient,
    event_id: &str,
    every: std::time::Duration,
) -> std::convert::Infallible {
    let metrics = ocean_support::metrics::metrics();
    loop {
        let outcome = match port.post_heartbeat(event_id).await {
            Ok(()) => "sent",
            Err(e) => {
                tracing::warn!("the resync heartbeat to Port failed: {e}");
                "failed"
            }
        };
        metrics
            .heartbeats
            .get_or_create(&ocean_support::metrics::Outcome {
                outcome: outcome.into(),
            })
            .inc();
        tokio::time::sleep(every).await;
    }
}

/// For resyncs nothing supersedes (one-off runs, the sandbox).
struct NeverSuperseded;

impl StopSignal for NeverSuperseded {
    fn stop_reason(&self) -> Option<&'static str> {
        None
    }
}

/// Stop on shutdown, or when a newer resync supersedes this one.
struct ShutdownOr<'a> {
    shutdown: &'a std::sync::atomic::AtomicBool,
    superseded: &'a dyn StopSignal,
}

impl StopSignal for ShutdownOr<'_> {
    fn stop_reason(&self) -> Option<&'static str> {
        self.shutdown
            .stop_reason()
            .or_else(|| self.superseded.stop_reason())
    }
}

fn record_metrics(outcome: &Result<ResyncReport, HostError>, took: std::time::Duration) {
    let metrics = ocean_support::metrics::metrics();
    let label = match outcome {
        Ok(report) if report.stopped.is_some() => "aborted",
        Ok(report) if report.succeeded() => "completed",
        _ => "failed",
    };
    metrics
        .resyncs
        .get_or_create(&ocean_support::metrics::Outcome {
            outcome: label.into(),
        })
        .inc();
    metrics.resync_seconds.observe(took.as_secs_f64());
    if let Ok(report) = outcome {
        for k in &report.kinds {
            for (result, n) in [
                ("created", k.created),
                ("updated", k.updated),
                ("unchanged", k.unchanged),
                ("failed", k.upsert_failures + k.mapping_errors),
                // Neither written nor deleted this resync (reasons in the log and the summary).
                ("held", k.held),
                ("unidentified", k.unidentified),
            ] {
                metrics.count_entities(&k.kind, result, n);
            }
        }
        if let crate::resync::Deletion::Done { deleted, .. }
        | crate::resync::Deletion::Failed { deleted, .. } = report.deletion
        {
            metrics.count_entities("*", "deleted", deleted);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_resync_falls_on_the_schedules_grid() {
        let start = Timestamp::from_second(1_000_000).expect("a time");
        let at = |secs: i64| start + SignedDuration::from_secs(secs);
        let minutes = |m: u64| std::time::Duration::from_secs(m * 60);
        assert_eq!(next_occurrence(start, minutes(60), at(0)), Some(at(3600)));
        assert_eq!(next_occurrence(start, minutes(60), at(3599)), Some(at(3600)));
        assert_eq!(next_occurrence(start, minutes(60), at(3600)), Some(at(7200)));
        assert_eq!(next_occurrence(start, minutes(15), at(2000)), Some(at(2700)));
        assert_eq!(
            next_occurrence(start, std::time::Duration::from_secs(30), at(40)),
            Some(at(60))
        );
        assert_eq!(next_occurrence(start, minutes(u64::MAX / 60_000), at(0)), None);
    }
}
