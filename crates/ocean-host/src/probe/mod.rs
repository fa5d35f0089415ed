//! `probe`: a connection test with the settings `sail` reads, against the
//! real services, as Ocean 0.56.2's `ocean probe`. The host checks Port (a
//! token for the credentials, the integration's record), the plugin its
//! source ([`crate::Plugin::probe`]), and the host this process's own side
//! (the webhook secret, the journal's directory). One line per check on
//! stdout; the status report goes where Ocean's `--reporting-mode` says
//! (`report`). Unlike Ocean, whose probe exits 0 unless it crashed, any
//! failed check makes the exit code [`FAILED`].

pub mod check;
mod local;
mod port;
pub mod report;

use std::path::PathBuf;
use std::process::ExitCode;

pub use check::{Check, SourceCheck, Verdict};
use report::{ProbeReport, Reporter};
pub use report::{ReportingMode, isoformat};

use crate::host::Host;
use crate::lifecycle::exit_code;

/// The exit code when a check failed.
pub const FAILED: u8 = 1;

/// The flags of Ocean's `ocean probe`, and what the plugin's wiring says.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// Assigned by whoever asked for the probe; needed to report to Port.
    pub probe_id: Option<String>,
    /// Where each state of the report goes (log, file or Port).
    pub reporting: ReportingMode,
    /// The kinds the report covers; every kind of the plugin when `None`.
    pub kinds: Option<Vec<String>>,
    /// The integration's directory: FILE reports go to `probe_reports/` in it.
    pub path: PathBuf,
    /// The variable that holds the webhook secret, for its fix.
    pub webhook_secret_variable: String,
}

/// Flags the probe cannot run with (exit code 78, as for bad settings).
#[derive(Debug, thiserror::Error)]
pub enum ProbeSetupError {
    #[error("Invalid probe kinds: {invalid:?}; supported kinds: {supported:?}")]
    /// `--kinds` named kinds the plugin does not have.
    InvalidKinds {
        /// The kinds asked for that the plugin lacks.
        invalid: Vec<String>,
        /// The plugin's kinds, sorted.
        supported: Vec<String>,
    },
    #[error("--probe-id (OCEAN__PROBE_ID) is required with --reporting-mode port")]
    /// Reporting to Port needs the probe's id, which is in Port's route.
    NoProbeId,
}

/// The kinds to report on: those asked for, if the plugin has them all, sorted as Ocean sorts them.
fn kinds_to_report(host: &Host, asked: Option<&[String]>) -> Result<Vec<String>, ProbeSetupError> {
    let mut supported: Vec<String> = host.plugin.kinds().iter().map(|k| k.to_string()).collect();
    supported.sort();
    let Some(asked) = asked else {
        return Ok(supported);
    };
    let mut invalid: Vec<String> = asked.iter().filter(|k| !supported.contains(k)).cloned().collect();
    if !invalid.is_empty() {
        invalid.sort();
        invalid.dedup();
        return Err(ProbeSetupError::InvalidKinds { invalid, supported });
    }
    let mut kinds = asked.to_vec();
    kinds.sort();
    kinds.dedup();
    Ok(kinds)
}

/// Runs every check, prints its line, reports, and gives the exit code.
pub fn run(host: Host, options: ProbeOptions) -> anyhow::Result<ExitCode> {
    let kinds = kinds_to_report(&host, options.kinds.as_deref()).map_err(|e| exit_code::config(e.into()))?;
    if options.reporting == ReportingMode::Port && options.probe_id.is_none() {
        return Err(exit_code::config(ProbeSetupError::NoProbeId.into()));
    }
    crate::lifecycle::runtime()?.block_on(probe(&host, &options, &kinds))
}

/// The lines printed so far, counted by verdict.
#[derive(Default)]
struct Lines {
    counts: [usize; 3],
    /// The host's own failed checks, for the report's `message`.
    host_failures: Vec<String>,
}

impl Lines {
    fn show(&mut self, check: &Check) {
        println!("{check}");
        self.counts[check.verdict as usize] += 1;
    }

    fn show_host(&mut self, check: &Check) {
        if check.verdict == Verdict::Fail {
            self.host_failures.push(check.message());
        }
        self.show(check);
    }

    fn failed(&self) -> usize {
        self.counts[Verdict::Fail as usize]
    }
}

const REPORT: &str = "probe report";

async fn probe(host: &Host, options: &ProbeOptions, kinds: &[String]) -> anyhow::Result<ExitCode> {
    let mut lines = Lines::default();
    let mut report = ProbeReport::start(options.probe_id.clone());
    let mut reporter = Reporter::new(options.reporting, &options.path);
    let to_port = options.reporting == ReportingMode::Port;

    let credentials = port::credentials(host).await;
    lines.show_host(&credentials);
    let has_token = credentials.verdict != Verdict::Fail;
    // The first state, as Ocean reports on starting; Port's needs the token.
    let mut report_failure = None;
    if has_token || !to_port {
        if let Err(e) = reporter.report(&report, &host.port).await {
            report_failure = Some(e.to_string());
        }
    } else {
        report_failure = Some("not sent: Port gave no token (see Port credentials above)".into());
    }
    let record = if has_token {
        port::integration_record(host).await
    } else {
        Check::warn("Port integration record", "not checked: Port gave no token")
    };
    lines.show_host(&record);

    let source = host.plugin.probe().await;
    for check in &source {
        lines.show(&check.check);
    }
    lines.show_host(&local::webhook_secret(
        &host.settings,
        &options.webhook_secret_variable,
    ));
    lines.show_host(&local::journal(&host.settings));

    report.set_checks(&source, kinds);
    let failure = (!lines.host_failures.is_empty()).then(|| lines.host_failures.join("; "));
    report.finish(failure);
    if report_failure.is_none()
        && let Err(e) = reporter.report(&report, &host.port).await
    {
        report_failure = Some(e.to_string());
    }
    match report_failure {
        Some(problem) => lines.show(&Check::fail(
            REPORT,
            problem,
            match options.reporting {
                ReportingMode::Port => {
                    "check the Port lines above, OCEAN__PORT__BASE_URL and the probe id (--probe-id, OCEAN__PROBE_ID)"
                }
                ReportingMode::File => "give the integration's directory (the PATH argument) write access",
                ReportingMode::Log => "see the log on stderr",
            },
        )),
        None => {
            if let Some(file) = reporter.file() {
                lines.show(&Check::ok(REPORT, format!("written to {}", file.display())));
            }
        }
    }
    let [ok, warn, fail] = lines.counts;
    if lines.failed() > 0 {
        eprintln!("Probe failed: {fail} check(s) failed ({ok} ok, {warn} warn)");
        Ok(ExitCode::from(FAILED))
    } else {
        println!("Probe complete: {ok} ok, {warn} warn");
        Ok(ExitCode::SUCCESS)
    }
}
