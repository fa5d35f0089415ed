//! `sail` and `resync`: the integration itself, configured as Ocean is. The
//! process's life is the host's (`ocean_host::lifecycle`); the Codecov
//! integration is assembled by `codecov::wiring`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use codecov::wiring::host;
use ocean_host::lifecycle::{self, exit_code};

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
    let host = host(args.config).map_err(exit_code::config)?;
    if !args.once && !args.dry_run {
        anyhow::bail!("say --once to run one resync, or --dry-run to see its plan; `sail` runs the listener");
    }
    lifecycle::resync_once(host, args.dry_run)
}

pub fn sail(args: SailArgs) -> anyhow::Result<ExitCode> {
    let host = host(args.config).map_err(exit_code::config)?;
    lifecycle::sail(Arc::new(host))
}
