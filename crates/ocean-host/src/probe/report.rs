//! The probe's status report, as Ocean 0.56.2 builds and publishes it: a body
//! of `status` (IN_PROGRESS, COMPLETED, FAILED, INTERNAL_FAILURE),
//! `probeMode`, `startedAt`/`endedAt` (Python's `isoformat()`), an optional
//! `message`, and `checks` (one per kind and scope: `kind`, `scopes`,
//! `status` SUCCESS/FAILURE/UNKNOWN/PENDING, `message`); written to the log
//! (`log`, the default), to `PATH/probe_reports/probe_report_<time>.json`
//! (`file`), or patched to Port under the probe's id (`port`).

use std::path::PathBuf;

use serde_json::{Map, Value, json};

use super::check::{SourceCheck, Verdict};
use ocean_port::{PortClient, PortError};

/// Where reports go (Ocean's `--reporting-mode`, `OCEAN__PROBE_REPORTING_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportingMode {
    /// A `Probe status report` log line (Ocean's default).
    Log,
    /// `probe_reports/probe_report_<time>.json` in the integration's directory.
    File,
    /// `PATCH /v1/org/{org}/integration/probe/{probe id}` in Port.
    Port,
}

impl ReportingMode {
    /// `log`, `file` or `port`, in any case; `None` for anything else.
    pub fn parse(text: &str) -> Option<ReportingMode> {
        match text.to_ascii_lowercase().as_str() {
            "log" => Some(ReportingMode::Log),
            "file" => Some(ReportingMode::File),
            "port" => Some(ReportingMode::Port),
            _ => None,
        }
    }
}

/// Python's `datetime.now(timezone.utc).isoformat()`: microseconds unless 0, `+00:00`.
pub fn isoformat(at: jiff::Timestamp) -> String {
    let civil = jiff::tz::TimeZone::UTC.to_datetime(at);
    let micros = civil.subsec_nanosecond() / 1000;
    let seconds = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        civil.year(),
        civil.month(),
        civil.day(),
        civil.hour(),
        civil.minute(),
        civil.second()
    );
    if micros == 0 {
        format!("{seconds}+00:00")
    } else {
        format!("{seconds}.{micros:06}+00:00")
    }
}

/// One reported check being merged: kind, scopes, verdict, messages.
type Merged = (String, Map<String, Value>, Verdict, Vec<String>);

/// The report's state, built up as the probe runs.
pub struct ProbeReport {
    /// The id Port gave the probe (its route's last segment).
    pub probe_id: Option<String>,
    /// When the probe started.
    pub started_at: jiff::Timestamp,
    /// When it ended; `None` while it runs.
    pub ended_at: Option<jiff::Timestamp>,
    /// Ocean's overall status: `IN_PROGRESS`, `COMPLETED`, `FAILED` or `INTERNAL_FAILURE`.
    pub status: &'static str,
    /// Why it failed, when it did.
    pub message: Option<String>,
    /// The checks as Ocean reports them: `{kind, scopes, status, message?}`.
    pub checks: Vec<Value>,
}

impl ProbeReport {
    /// A report in progress, started now.
    pub fn start(probe_id: Option<String>) -> ProbeReport {
        ProbeReport {
            probe_id,
            started_at: jiff::Timestamp::now(),
            ended_at: None,
            status: "IN_PROGRESS",
            message: None,
            checks: Vec::new(),
        }
    }

    /// One check per kind and scope, as Ocean's `ProbeContext.add_scopes`
    /// makes them; two source checks on one kind and scope merge, the worse
    /// verdict winning and both messages kept.
    pub fn set_checks(&mut self, source: &[SourceCheck], kinds: &[String]) {
        let mut merged: Vec<Merged> = Vec::new();
        for check in source {
            for kind in kinds
                .iter()
                .filter(|k| check.kinds.is_empty() || check.kinds.contains(k))
            {
                let message = check.check.message();
                match merged
                    .iter_mut()
                    .find(|(k, scopes, ..)| k == kind && *scopes == check.scopes)
                {
                    Some((_, _, verdict, messages)) => {
                        *verdict = (*verdict).max(check.check.verdict);
                        messages.push(message);
                    }
                    None => merged.push((
                        kind.clone(),
                        check.scopes.clone(),
                        check.check.verdict,
                        vec![message],
                    )),
                }
            }
        }
        self.checks = merged
            .into_iter()
            .map(|(kind, scopes, verdict, messages)| {
                json!({"kind": kind, "scopes": scopes, "status": verdict.check_status(), "message": messages.join("; ")})
            })
            .collect();
    }

    /// Ends it: COMPLETED, or FAILED with `failure` (the host's own checks
    /// that failed; the source's failures are in the checks, as Ocean's are).
    pub fn finish(&mut self, failure: Option<String>) {
        self.ended_at = Some(jiff::Timestamp::now());
        match failure {
            Some(message) => {
                self.status = "FAILED";
                self.message = Some(message);
            }
            None => self.status = "COMPLETED",
        }
    }

    /// `ProbeContext.build_request_body`.
    pub fn body(&self) -> Value {
        let mut body = json!({
            "probeId": self.probe_id,
            "status": self.status,
            "probeMode": "shallow",
            "startedAt": isoformat(self.started_at),
            "checks": self.checks,
        });
        if let Some(ended) = self.ended_at {
            body["endedAt"] = json!(isoformat(ended));
        }
        if let Some(message) = &self.message {
            body["message"] = json!(message);
        }
        body
    }
}

/// A report that could not be published.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The FILE report could not be written.
    #[error("writing {path}: {source}")]
    File {
        /// The report's file.
        path: PathBuf,
        /// Why it could not be written.
        source: std::io::Error,
    },
    /// Port refused the report or could not be reached.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Publishes each state of the report where the mode says.
pub struct Reporter {
    mode: ReportingMode,
    /// FILE: the one file every state overwrites, named when the probe starts.
    file: PathBuf,
    /// PORT: the organisation's id, asked once.
    org_id: Option<String>,
}

impl Reporter {
    /// A reporter for `mode`; FILE reports go under `path`, in a file named now.
    pub fn new(mode: ReportingMode, path: &std::path::Path) -> Reporter {
        // Ocean's `strftime("%Y%m%dT%H%M%S_%fZ")`.
        let civil = jiff::tz::TimeZone::UTC.to_datetime(jiff::Timestamp::now());
        let stamp = format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}_{:06}Z",
            civil.year(),
            civil.month(),
            civil.day(),
            civil.hour(),
            civil.minute(),
            civil.second(),
            civil.subsec_nanosecond() / 1000
        );
        Reporter {
            mode,
            file: path
                .join("probe_reports")
                .join(format!("probe_report_{stamp}.json")),
            org_id: None,
        }
    }

    /// Publishes the report's current state (each state replaces the last).
    pub async fn report(&mut self, report: &ProbeReport, port: &PortClient) -> Result<(), ReportError> {
        let mut body = report.body();
        match self.mode {
            ReportingMode::Log => {
                tracing::info!(probe_report = %body, "Probe status report");
                Ok(())
            }
            ReportingMode::File => {
                let file_error = |source| ReportError::File {
                    path: self.file.clone(),
                    source,
                };
                if let Some(dir) = self.file.parent() {
                    std::fs::create_dir_all(dir).map_err(file_error)?;
                }
                let text = serde_json::to_string_pretty(&body).unwrap_or_default();
                std::fs::write(&self.file, text).map_err(file_error)
            }
            ReportingMode::Port => {
                // The id is in the route, not the body.
                let probe_id = body
                    .as_object_mut()
                    .and_then(|b| b.remove("probeId"))
                    .and_then(|id| id.as_str().map(String::from))
                    .unwrap_or_default();
                let org_id = match &self.org_id {
                    Some(id) => id.clone(),
                    None => {
                        let id = port.organization_id().await?;
                        self.org_id = Some(id.clone());
                        id
                    }
                };
                port.patch_probe_result(&org_id, &probe_id, &body).await?;
                Ok(())
            }
        }
    }

    /// The FILE report's path; `None` in the other modes.
    pub fn file(&self) -> Option<&std::path::Path> {
        (self.mode == ReportingMode::File).then_some(self.file.as_path())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::check::Check;

    #[test]
    fn times_read_as_pythons_isoformat() {
        let at: jiff::Timestamp = "2026-12-07T08:30:50.123456Z".parse().expect("time");
        assert_eq!(isoformat(at), "2026-12-07T08:30:50.123456+00:00");
        let whole: jiff::Timestamp = "2026-12-07T08:30:50Z".parse().expect("time");
        assert_eq!(isoformat(whole), "2026-12-07T08:30:50+00:00");
    }

    #[test]
    fn checks_go_per_kind_and_scope_and_the_worse_verdict_wins() {
        let kinds = vec!["repository".to_string(), "coverage".to_string()];
        let listed = SourceCheck::scoped(Check::ok("owner a", "12 listed"), "owner", "a", &["repository"]);
        let forbidden = SourceCheck::scoped(
            Check::fail("owner a", "2 answer 403", "activate"),
            "owner",
            "a",
            &["coverage"],
        );
        let whole = SourceCheck::whole(Check::warn("source", "slow"));
        let mut report = ProbeReport::start(Some("p1".into()));
        report.set_checks(&[listed, forbidden, whole], &kinds);
        let statuses: Vec<(String, String)> = report
            .checks
            .iter()
            .map(|c| (c["kind"].to_string(), c["status"].to_string()))
            .collect();
        assert_eq!(statuses.len(), 4, "{statuses:?}");
        assert!(statuses.contains(&("\"coverage\"".into(), "\"FAILURE\"".into())));
        assert!(statuses.contains(&("\"repository\"".into(), "\"SUCCESS\"".into())));
        report.finish(None);
        let body = report.body();
        assert_eq!(body["status"], "COMPLETED");
        assert_eq!(body["probeId"], "p1");
        assert!(body["endedAt"].is_string() && body.get("message").is_none());
    }
}
