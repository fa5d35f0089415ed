//! The process's life, whatever the plugin: set up in Port, then either one
//! resync (ONCE, `resync --once`, a dry run) or serve and listen until a stop
//! signal; ship the log lines to Port, summarise, and leave an exit code a
//! scheduler can act on (`exit_code`). The command line only parses flags,
//! builds the host and calls [`sail`] or [`resync_once`].

pub mod exit_code;
mod running;
pub mod signals;
pub mod summary;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use crate::event_listener::{self, once::OnceOutcome};
use crate::host::Host;
use crate::resync::progress::{Bars, LogLines};
use crate::settings::ListenerKind;
pub use running::Running;
pub use signals::{StopRequest, StopSignals};

/// The multi-threaded async runtime the commands that talk to services use.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().context("starting the async runtime")
}

/// `sail`: sets the integration up in Port and runs its event listener
/// until SIGTERM or Ctrl-C (ONCE: one resync), its log lines shipped to Port.
pub fn sail(host: Arc<Host>) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        // The integration's log lines go to Port's logs view too (APPLICATION__ENABLE_HTTP_LOGGING).
        let shipper = crate::logging::enable_shipping().then(|| {
            let host = host.clone();
            tokio::spawn(async move { crate::logging::ship(&host.port).await })
        });
        let outcome = listen(&host).await;
        if let Some(shipper) = shipper {
            shipper.abort();
            flush_logs(&host).await;
        }
        outcome
    })
}

/// One resync now (`resync --once`), or what it would do (`dry_run`: Port is
/// told nothing, its logs included, and the plan is printed).
pub fn resync_once(host: Host, dry_run: bool) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        if !dry_run {
            crate::logging::enable_shipping();
            host.set_up().await?;
        }
        let progress = Bars::for_stderr();
        let outcome = event_listener::once::run(&host, progress.as_ref(), dry_run).await;
        if !dry_run {
            flush_logs(&host).await;
        }
        if let (Ok(report), true) = (&outcome.result, dry_run) {
            summary::print_plan(report);
        }
        exit_for(outcome)
    })
}

async fn listen(host: &Arc<Host>) -> anyhow::Result<ExitCode> {
    host.set_up().await?;
    if let Err(e) = host.refresh_mapping(false).await {
        tracing::error!("{e}");
    }
    if host.settings.listener == ListenerKind::Once {
        let outcome = event_listener::once::run(host, &LogLines, false).await;
        return exit_for(outcome);
    }
    let local = tokio::task::LocalSet::new();
    local.run_until(serve_and_listen(host.clone())).await
}

/// The last log lines to Port, within a bound: a stop's budget is short.
async fn flush_logs(host: &Host) {
    let bound = std::time::Duration::from_secs(5);
    if tokio::time::timeout(bound, crate::logging::flush(&host.port))
        .await
        .is_err()
    {
        tracing::warn!("the last log lines did not reach Port within {bound:?}");
    }
}

/// A ONCE run's exit code: the signal's when one stopped it part-way, else the resync's.
fn exit_for(outcome: OnceOutcome) -> anyhow::Result<ExitCode> {
    if let Ok(report) = &outcome.result {
        summary::summarise(report);
    }
    if let Some(signal) = outcome.stopped_by {
        if let Err(e) = &outcome.result {
            eprintln!("error: {e}");
        }
        eprintln!(
            "stopped by {signal:?} before the resync's end: exit {}",
            signal.exit_code()
        );
        return Ok(ExitCode::from(signal.exit_code()));
    }
    let report = outcome.result?;
    Ok(if report.succeeded() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn serve_and_listen(host: Arc<Host>) -> anyhow::Result<ExitCode> {
    let settings = &host.settings;
    let addr: SocketAddr = format!("{}:{}", settings.http_host, settings.http_port)
        .parse()
        .with_context(|| {
            format!(
                "OCEAN__HTTP__HOST/PORT: {}:{} is not an address",
                settings.http_host, settings.http_port
            )
        })?;
    // Caught before any resync starts, so a stop always finds it listening.
    let mut signals = StopSignals::install();
    let running = Running::start(host.clone(), addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    eprintln!(
        "listening on {} (POST /integration/webhook, POST /resync, /health/live, /health/ready, /metrics)",
        running.url()
    );
    let journal = &settings.journal_path;
    eprintln!(
        "live-event journal: {} (OCEAN__JOURNAL__PATH; at most {} MiB)",
        std::fs::canonicalize(journal)
            .unwrap_or_else(|_| journal.clone())
            .display(),
        settings.journal_max_bytes / (1024 * 1024)
    );
    tracing::info!(listener = ?settings.listener, "sailing; SIGTERM or Ctrl-C stops");
    let signal = signals.recv().await;
    tracing::info!(
        ?signal,
        budget_secs = settings.shutdown_grace_secs,
        "stopping: no new events; draining the accepted ones; a running resync stops at its next page"
    );
    running.stop(&host).await;
    // Nothing accepted is lost (the journal keeps what did not drain): an orderly stop.
    Ok(ExitCode::SUCCESS)
}
