//! `probe`: Ocean 0.56.2's `ocean probe` connection test, with the settings
//! `sail` reads. The checks are the host's (`ocean_host::probe`) and the
//! plugin's.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use codecov::wiring::{WEBHOOK_SECRET_FIELD, host};
use ocean_host::lifecycle::exit_code;
use ocean_host::probe::{self, ProbeOptions, ReportingMode};

#[derive(Args)]
pub struct ProbeArgs {
    /// The integration's directory, as `ocean probe PATH`: its config.yaml is read unless --config
    /// names one, and `--reporting-mode file` writes to PATH/probe_reports/.
    #[arg(default_value = ".")]
    path: PathBuf,
    /// Ocean-style config file; `OCEAN__*` variables override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Identifier of the probe, assigned by the caller that requested it; needed to report to Port.
    #[arg(long, env = "OCEAN__PROBE_ID")]
    probe_id: Option<String>,
    /// Probe mode to run (Ocean 0.56.2 has one).
    #[arg(long, default_value = "shallow", value_parser = ["shallow"], ignore_case = true)]
    mode: String,
    /// Comma- or space-separated kinds the report covers (e.g. `repository,coverage`); all if omitted.
    #[arg(long, value_parser = parse_kinds)]
    kinds: Option<Kinds>,
    /// Where probe status reports are written: log (stderr), file (PATH/probe_reports/) or port.
    #[arg(long, env = "OCEAN__PROBE_REPORTING_MODE", default_value = "log", value_parser = parse_mode)]
    reporting_mode: ReportingMode,
}

#[derive(Clone)]
struct Kinds(Vec<String>);

fn parse_kinds(text: &str) -> Result<Kinds, String> {
    let kinds: Vec<String> = text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|k| !k.is_empty())
        .map(String::from)
        .collect();
    if kinds.is_empty() {
        return Err("must contain at least one kind".into());
    }
    Ok(Kinds(kinds))
}

fn parse_mode(text: &str) -> Result<ReportingMode, String> {
    ReportingMode::parse(text).ok_or_else(|| format!("{text:?} is not one of log, file, port"))
}

pub fn run(args: ProbeArgs) -> anyhow::Result<ExitCode> {
    let config = args
        .config
        .or_else(|| Some(args.path.join("config.yaml")).filter(|p| p.exists()));
    let host = host(config).map_err(exit_code::config)?;
    let options = ProbeOptions {
        probe_id: args.probe_id.filter(|id| !id.is_empty()),
        reporting: args.reporting_mode,
        kinds: args.kinds.map(|k| k.0),
        path: args.path,
        webhook_secret_variable: ocean_host::settings::integration_variable(WEBHOOK_SECRET_FIELD),
    };
    probe::run(host, options)
}
