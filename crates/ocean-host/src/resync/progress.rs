//! How a resync shows its progress: a bar per kind on a terminal, log lines
//! elsewhere (CI, containers), nothing in tests.

use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::KindReport;

/// What a resync tells as it goes; every method does nothing by default. Called from the
/// resync's task, so implementations must be quick.
pub trait Progress: Send + Sync {
    /// A kind's fetch begins.
    fn kind_started(&self, _kind: &str) {}
    /// A page of the kind was mapped and written; `report` holds the kind's counts so far.
    fn page_done(&self, _report: &KindReport) {}
    /// The kind is done (whole or not); `report` is its final figures.
    fn kind_finished(&self, _report: &KindReport) {}
}

/// Shows nothing.
pub struct Quiet;

impl Progress for Quiet {}

/// Log lines: one when a kind starts, one when it ends.
pub struct LogLines;

impl Progress for LogLines {
    fn kind_started(&self, kind: &str) {
        tracing::info!(kind, "fetching");
    }

    fn kind_finished(&self, r: &KindReport) {
        tracing::info!(kind = %r.kind, items = r.items, entities = r.entities, created = r.created,
            updated = r.updated, unchanged = r.unchanged, failed = r.upsert_failures + r.mapping_errors,
            fetch_errors = r.fetch_errors.len(), "kind done");
    }
}

/// A spinner per kind with live counts (the total is unknown until the source is read).
pub struct Bars {
    bars: MultiProgress,
    current: std::sync::Mutex<Option<ProgressBar>>,
}

impl Bars {
    /// Bars on a terminal, log lines otherwise.
    pub fn for_stderr() -> Box<dyn Progress> {
        if std::io::stderr().is_terminal() {
            Box::new(Bars {
                bars: MultiProgress::new(),
                current: std::sync::Mutex::new(None),
            })
        } else {
            Box::new(LogLines)
        }
    }

    fn with_bar(&self, f: impl FnOnce(&ProgressBar)) {
        if let Some(bar) = self.current.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            f(bar);
        }
    }
}

fn counts(r: &KindReport) -> String {
    format!(
        "{} items → {} entities: {} created, {} updated, {} unchanged, {} failed",
        r.items,
        r.entities,
        r.created,
        r.updated,
        r.unchanged,
        r.upsert_failures + r.mapping_errors
    )
}

impl Progress for Bars {
    fn kind_started(&self, kind: &str) {
        let bar = self.bars.add(ProgressBar::new_spinner());
        let style = ProgressStyle::with_template("{spinner} {prefix:>12} {elapsed:>4} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(style);
        bar.set_prefix(kind.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(bar);
    }

    fn page_done(&self, report: &KindReport) {
        self.with_bar(|bar| bar.set_message(counts(report)));
    }

    fn kind_finished(&self, report: &KindReport) {
        self.with_bar(|bar| bar.finish_with_message(counts(report)));
    }
}
