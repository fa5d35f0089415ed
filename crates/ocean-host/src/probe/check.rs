//! One check's verdict and its line: `ok`, `warn` or `FAIL`, what was checked,
//! what was found, and for a failure the fix, naming the setting to change.

use serde_json::{Map, Value};

/// How a check came out; ordered from best to worst, so the worst of several is their `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// It works.
    Ok,
    /// Works, but something is worth knowing (nothing fails because of it).
    Warn,
    /// It does not work: the probe exits non-zero.
    Fail,
}

impl Verdict {
    /// The word the check's line starts with: `ok`, `warn` or `FAIL`.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Warn => "warn",
            Verdict::Fail => "FAIL",
        }
    }

    /// The check status Ocean 0.56.2 reports to Port (`ProbeCheckStatus`).
    pub fn check_status(self) -> &'static str {
        match self {
            Verdict::Ok => "SUCCESS",
            Verdict::Warn => "UNKNOWN",
            Verdict::Fail => "FAILURE",
        }
    }
}

/// One check's result, printed as one line.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// How it came out.
    pub verdict: Verdict,
    /// What was checked, e.g. `Port credentials`.
    pub what: String,
    /// What was found. Never a secret.
    pub detail: String,
    /// For a failure: what to change, naming the setting or variable.
    pub fix: Option<String>,
}

impl Check {
    /// A check that passed.
    pub fn ok(what: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            verdict: Verdict::Ok,
            what: what.into(),
            detail: detail.into(),
            fix: None,
        }
    }

    /// A check that passed with something worth knowing.
    pub fn warn(what: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            verdict: Verdict::Warn,
            ..Check::ok(what, detail)
        }
    }

    /// A check that failed, with the fix (name the setting or variable to change).
    pub fn fail(what: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            verdict: Verdict::Fail,
            fix: Some(fix.into()),
            ..Check::ok(what, detail)
        }
    }

    /// The check's message in Port's report: what was found, and the fix.
    pub fn message(&self) -> String {
        match &self.fix {
            Some(fix) => format!("{}: {}; fix: {fix}", self.what, self.detail),
            None => format!("{}: {}", self.what, self.detail),
        }
    }
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:<5} {}", self.verdict.label(), self.message())
    }
}

/// A plugin's check of its source, with where it applies: Ocean reports
/// checks per kind and scope (e.g. `{"owner": "acme"}`).
#[derive(Debug, Clone, PartialEq)]
pub struct SourceCheck {
    /// The check itself.
    pub check: Check,
    /// The part of the source checked; empty for the whole source.
    pub scopes: Map<String, Value>,
    /// The kinds whose fetch this check covers; empty for every kind.
    pub kinds: Vec<String>,
}

impl SourceCheck {
    /// A check of the whole source, for every kind.
    pub fn whole(check: Check) -> SourceCheck {
        SourceCheck {
            check,
            scopes: Map::new(),
            kinds: Vec::new(),
        }
    }

    /// A check of one part of the source (`scope` = `value`, e.g. `owner` = `acme`) for `kinds`.
    pub fn scoped(check: Check, scope: &str, value: &str, kinds: &[&str]) -> SourceCheck {
        let mut scopes = Map::new();
        scopes.insert(scope.to_string(), Value::from(value));
        SourceCheck {
            check,
            scopes,
            kinds: kinds.iter().map(|k| k.to_string()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_has_the_verdict_what_was_found_and_the_fix() {
        let failed = Check::fail("journal", "read-only", "set OCEAN__JOURNAL__PATH");
        assert_eq!(
            failed.to_string(),
            "FAIL  journal: read-only; fix: set OCEAN__JOURNAL__PATH"
        );
        assert_eq!(Check::ok("a", "b").to_string(), "ok    a: b");
        assert_eq!(Check::warn("a", "b").verdict.check_status(), "UNKNOWN");
    }
}
