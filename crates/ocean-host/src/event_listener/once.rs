//! ONCE: one resync, then the process exits with its outcome. No server and
//! no queue: nothing else can ask for a resync meanwhile. SIGTERM or Ctrl-C
//! stops the resync at its next page: it deletes nothing, reports `aborted`
//! to Port, and the run exits with the signal's code (see `StopRequest`).

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::host::{Host, HostError};
use crate::lifecycle::signals::{StopRequest, StopSignals};
use crate::resync::ResyncReport;
use crate::resync::progress::Progress;

/// How the one resync ended.
pub struct OnceOutcome {
    /// The resync's report, or why it failed (or did not report in time after a stop).
    pub result: Result<ResyncReport, HostError>,
    /// The signal that stopped it part-way (Port was told `aborted`), if one
    /// did; a signal that came once the resync had reported its end is not.
    pub stopped_by: Option<StopRequest>,
}

/// Runs the one resync with `progress`, stopping it on SIGTERM or Ctrl-C.
pub async fn run(host: &Host, progress: &dyn Progress, dry_run: bool) -> OnceOutcome {
    // Caught before the resync can tell Port it runs, so a stop always finds it listening.
    let mut signals = StopSignals::install();
    let resync = host.resync(progress, dry_run);
    tokio::pin!(resync);
    let signal = tokio::select! {
        result = &mut resync => return OnceOutcome { result, stopped_by: None },
        signal = signals.recv() => signal,
    };
    tracing::warn!(
        ?signal,
        "stop requested: the resync stops at its next page and deletes nothing"
    );
    host.stopping.store(true, Ordering::SeqCst);
    // Within the stop's budget, less a second for the last log lines.
    let budget = Duration::from_secs(host.settings.shutdown_grace_secs.saturating_sub(1).max(1));
    let result = match tokio::time::timeout(budget, &mut resync).await {
        Ok(result) => result,
        Err(_) => {
            // Stuck on a call: Port hears `aborted` from here instead.
            host.report_aborted_if_running("the integration is shutting down")
                .await;
            Err(HostError::StoppedBeforeItsReport)
        }
    };
    let cut_short = host.last_reported_status() == Some("aborted");
    OnceOutcome {
        result,
        stopped_by: cut_short.then_some(signal),
    }
}
