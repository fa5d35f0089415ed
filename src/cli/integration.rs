//! `sail` and `resync`: the integration itself, configured as Ocean is (see
//! `crate::wiring`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use super::runtime;
use crate::lifecycle::{Running, StopSignals};
use crate::runtime::event_listener;
use crate::runtime::host::Host;
use crate::runtime::resync::progress::Bars;
use crate::runtime::resync::progress::LogLines;
use crate::runtime::resync::{Deletion, ResyncReport};
use crate::runtime::settings::ListenerKind;
use crate::wiring::host;

#[derive(Args)]
pub struct SailArgs {
    /// Ocean-style config file; `OCEAN__*` variables override it. Defaults to ./config.yaml if present.
    #[arg(long)]
    config: Option<PathBuf>,
}

#[derive(Args)]
pub struct ResyncArgs {
    /// Run one resync and exit: 0 when it succeeded, 1 when it was incomplete, 75 when Port
    /// could not be reached (a retry can help), 78 for bad settings, 143 / 130 when SIGTERM /
    /// Ctrl-C stopped it (the ONCE listener's codes).
    #[arg(long)]
    once: bool,
    /// Print what a resync would create, update and delete, per blueprint; write nothing.
    #[arg(long, conflicts_with = "once")]
    dry_run: bool,
    #[arg(long)]
    config: Option<PathBuf>,
}

pub fn resync(args: ResyncArgs) -> anyhow::Result<ExitCode> {
    let host = host(args.config).map_err(super::exit_code::config)?;
    if !args.once && !args.dry_run {
        anyhow::bail!("say --once to run one resync, or --dry-run to see its plan; `sail` runs the listener");
    }
    runtime()?.block_on(async {
        if !args.dry_run {
            // A dry run tells Port nothing, its logs included.
            crate::logging::enable_shipping();
            host.set_up().await?;
        }
        let progress = Bars::for_stderr();
        let outcome = event_listener::once::run(&host, progress.as_ref(), args.dry_run).await;
        if !args.dry_run {
            flush_logs(&host).await;
        }
        if let (Ok(report), true) = (&outcome.result, args.dry_run) {
            print_plan(report);
        }
        exit_for(outcome)
    })
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

/// A ONCE run's exit code: the signal's when one stopped it part-way
/// (README: exit codes), else the resync's.
fn exit_for(outcome: event_listener::once::OnceOutcome) -> anyhow::Result<ExitCode> {
    if let Ok(report) = &outcome.result {
        summarise(report);
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

pub fn sail(args: SailArgs) -> anyhow::Result<ExitCode> {
    let host = Arc::new(host(args.config).map_err(super::exit_code::config)?);
    runtime()?.block_on(async {
        // The integration's log lines go to Port's logs view too (APPLICATION__ENABLE_HTTP_LOGGING).
        let shipper = crate::logging::enable_shipping().then(|| {
            let host = host.clone();
            tokio::spawn(async move { crate::logging::ship(&host.port).await })
        });
        let outcome = sail_with(&host).await;
        if let Some(shipper) = shipper {
            shipper.abort();
            flush_logs(&host).await;
        }
        outcome
    })
}

async fn sail_with(host: &Arc<Host>) -> anyhow::Result<ExitCode> {
    {
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

pub(crate) fn summarise(report: &ResyncReport) {
    for kind in &report.kinds {
        eprintln!(
            "{:>12}: {} items, {} entities ({} created, {} updated, {} unchanged, {} duplicate), {} skipped, \
             {} mapping errors, {} upsert failures, {} fetch errors",
            kind.kind,
            kind.items,
            kind.entities,
            kind.created,
            kind.updated,
            kind.unchanged,
            kind.duplicates,
            kind.skipped,
            kind.mapping_errors,
            kind.upsert_failures,
            kind.fetch_errors.len()
        );
        if kind.items > 0 && kind.mapping_nanos > 0 {
            let seconds = kind.mapping_nanos as f64 / 1e9;
            eprintln!(
                "{:>12}  mapping {} inside the resync: {} items ({:.1} KiB) in {:.1} ms: {:.0} items/s, {:.1} MiB/s",
                "",
                kind.kind,
                kind.items,
                kind.item_bytes as f64 / 1024.0,
                seconds * 1e3,
                kind.items as f64 / seconds,
                kind.item_bytes as f64 / 1048576.0 / seconds
            );
        }
        for error in kind.fetch_errors.iter().take(5).chain(kind.error_samples.iter()) {
            eprintln!("{:>12}  ! {error}", "");
        }
        for line in kind.held_back_lines() {
            eprintln!("{:>12}  ~ {line}", "");
        }
    }
    let deletion = match &report.deletion {
        Deletion::Skipped { reason } => format!("deletion skipped: {reason}"),
        Deletion::Done { deleted, owned } => format!("deleted {deleted} stale of {owned} owned entities"),
        Deletion::Failed { deleted, failed } => format!("deleted {deleted}; Port refused {failed}"),
        Deletion::Planned { would_delete, owned } => {
            format!("would delete {would_delete} of {owned} owned entities")
        }
    };
    eprintln!("{deletion}");
    let (keys, bytes) = report.seen_state;
    if keys > 0 {
        eprintln!(
            "deletion state: {keys} entities produced, kept in {:.1} KiB ({:.1} bytes per entity)",
            bytes as f64 / 1024.0,
            bytes as f64 / keys as f64
        );
    }
    if let Some(peak) = crate::bench::peak_rss_bytes() {
        eprintln!("peak RSS {:.1} MiB", crate::bench::mib(peak));
    }
}

fn print_plan(report: &ResyncReport) {
    for (blueprint, plan) in &report.plan {
        println!(
            "{blueprint}: create {}, update {}, delete {}",
            plan.create.len(),
            plan.update.len(),
            plan.delete.len()
        );
        for (verb, ids) in [
            ("create", &plan.create),
            ("update", &plan.update),
            ("delete", &plan.delete),
        ] {
            for id in ids {
                println!("  {verb} {id}");
            }
        }
    }
    // Why each owned entity this resync did not produce stays or goes.
    if let Some(deletion) = &report.deletion_plan {
        for line in deletion.lines() {
            println!("{line}");
        }
    }
}
