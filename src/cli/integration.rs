//! `sail` and `resync`: the integration itself, configured as Ocean is (see
//! `crate::wiring`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use super::runtime;
use crate::lifecycle::{Running, shutdown_signal};
use crate::runtime::event_listener;
use crate::runtime::host::Host;
use crate::runtime::resync::progress::Bars;
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
    /// could not be reached (a retry can help), 78 for bad settings (the ONCE listener's codes).
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
        let report = host.resync(progress.as_ref(), args.dry_run).await;
        if !args.dry_run {
            crate::logging::flush(&host.port).await;
        }
        let report = report?;
        if args.dry_run {
            print_plan(&report);
        }
        summarise(&report);
        Ok(if report.succeeded() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
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
            crate::logging::flush(&host.port).await;
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
            let report = event_listener::once::run(host).await?;
            summarise(&report);
            return Ok(if report.succeeded() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
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
    shutdown_signal().await;
    tracing::info!("stopping: no new events; draining the accepted ones");
    running.stop(&host).await;
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
