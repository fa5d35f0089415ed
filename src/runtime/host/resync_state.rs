//! Resyncs with the mapping in force, each one's state reported to Port
//! (running, then completed or failed) and counted in the metrics.

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Host, HostError, compile};
use crate::runtime::resync::progress::Progress;
use crate::runtime::resync::{Resync, ResyncReport};

fn now() -> String {
    OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default()
}

impl Host {
    async fn report_state(&self, state: Value) {
        if let Err(e) = self.port.patch_resync_state(&state).await {
            tracing::warn!("could not report the resync state to Port: {e}");
        }
    }

    /// One resync with the mapping in force, its state reported to Port
    /// (running, then completed or failed). A dry run writes nothing at all.
    /// The future holds compiled programs, so it runs on one thread (a
    /// `LocalSet` or `block_on`).
    pub async fn resync(&self, progress: &dyn Progress, dry_run: bool) -> Result<ResyncReport, HostError> {
        let interval = self.settings.scheduled_resync_interval;
        let started = std::time::Instant::now();
        // `intervalInMinuets` is Port's own spelling of the field (sic).
        if !dry_run {
            self.report_state(
                json!({"status": "running", "lastResyncStart": now(), "lastResyncEnd": null,
                "nextResync": null, "intervalInMinuets": interval}),
            )
            .await;
        }
        let outcome = async {
            let mapping = self.refresh_mapping(dry_run).await?;
            let mappers = compile(&mapping, self.jq_options()).map_err(HostError::NoValidMapping)?;
            let resync = Resync {
                plugin: self.plugin.clone(),
                port: &self.port,
                config: &mapping,
                mappers: &mappers,
                progress,
                dry_run,
                stop: &self.stopping,
            };
            Ok::<_, HostError>(resync.run().await?)
        }
        .await;
        record_metrics(&outcome, started.elapsed());
        if !dry_run {
            let status = match &outcome {
                Ok(report) if report.succeeded() => "completed",
                _ => "failed",
            };
            self.report_state(
                json!({"status": status, "lastResyncEnd": now(), "nextResync": null,
                "intervalInMinuets": interval}),
            )
            .await;
        }
        outcome
    }
}

fn record_metrics(outcome: &Result<ResyncReport, HostError>, took: std::time::Duration) {
    let metrics = crate::metrics::metrics();
    let label = match outcome {
        Ok(report) if report.succeeded() => "completed",
        _ => "failed",
    };
    metrics
        .resyncs
        .get_or_create(&crate::metrics::Outcome {
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
        if let crate::runtime::resync::Deletion::Done { deleted, .. }
        | crate::runtime::resync::Deletion::Failed { deleted, .. } = report.deletion
        {
            metrics.count_entities("*", "deleted", deleted);
        }
    }
}
