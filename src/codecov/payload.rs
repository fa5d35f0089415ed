//! Builds the `coverage` item from API v2 records in the exact shape of
//! Codecov's notify-webhook payload, so one mapping serves resyncs and webhooks.
//! Fields the API does not expose (provider ids, e-mails) are null.

use serde_json::{Map, Value, json};

use super::settings::{CodecovSettings, Service};

/// Codecov's coverage string: hits/lines in percent, rounded to 5 decimals,
/// or "100"/"0" at the ends, or none without lines.
pub fn coverage_ratio(hits: i64, lines: i64) -> Option<String> {
    if lines == 0 {
        None
    } else if hits == lines {
        Some("100".into())
    } else if hits == 0 {
        Some("0".into())
    } else {
        Some(format!("{:.5}", hits as f64 / lines as f64 * 100.0))
    }
}

fn int(totals: &Value, key: &str) -> i64 {
    totals.get(key).and_then(Value::as_i64).unwrap_or(0)
}

/// Whole floats as integers, as Codecov's report totals hold them.
fn plain_number(value: Option<&Value>) -> Value {
    match value.and_then(Value::as_f64) {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => json!(f as i64),
        Some(_) => value.cloned().unwrap_or(Value::Null),
        None => json!(0),
    }
}

/// Report totals from the API (coverage cut to 2 decimals) back into the
/// webhook's totals (coverage as the 5-decimal string, the same key order).
pub fn webhook_totals(api: &Value) -> Value {
    if api.is_null() {
        return Value::Null;
    }
    let (hits, lines) = (int(api, "hits"), int(api, "lines"));
    let mut totals = Map::new();
    for key in ["files", "lines", "hits", "misses", "partials"] {
        totals.insert(key.into(), json!(int(api, key)));
    }
    totals.insert("coverage".into(), json!(coverage_ratio(hits, lines)));
    for key in ["branches", "methods", "messages", "sessions"] {
        totals.insert(key.into(), json!(int(api, key)));
    }
    totals.insert("complexity".into(), plain_number(api.get("complexity")));
    totals.insert(
        "complexity_total".into(),
        plain_number(api.get("complexity_total")),
    );
    totals.insert("diff".into(), api.get("diff").cloned().unwrap_or(json!(0)));
    Value::Object(totals)
}

/// Codecov's worker writes Python's naive `isoformat()`; the API adds `Z`.
pub fn naive_timestamp(timestamp: &str) -> String {
    timestamp
        .trim_end_matches('Z')
        .trim_end_matches("+00:00")
        .to_string()
}

pub struct RepoContext<'a> {
    pub settings: &'a CodecovSettings,
    pub service: Service,
    pub owner: &'a str,
    pub repo: &'a str,
}

impl RepoContext<'_> {
    pub fn repo_url(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.settings.dashboard_url(),
            self.service.short(),
            self.owner,
            self.repo
        )
    }

    fn commit_url(&self, sha: &str) -> String {
        format!("{}/commit/{sha}", self.repo_url())
    }

    /// One side (head or base) of the payload, from an API commit and its totals.
    fn commit(&self, commit: &Value, totals: Value) -> Value {
        let sha = commit.get("commitid").and_then(Value::as_str).unwrap_or_default();
        let author = match commit.get("author") {
            Some(Value::Object(a)) => json!({
                "username": a.get("username"), "service_id": Value::Null, "email": Value::Null,
                "service": a.get("service"), "name": a.get("name"),
            }),
            _ => Value::Null,
        };
        json!({
            "author": author,
            "url": self.commit_url(sha),
            "timestamp": commit.get("timestamp").and_then(Value::as_str).map(naive_timestamp),
            "totals": totals,
            "commitid": sha,
            "service_url": self.service.commit_page(self.owner, self.repo, sha),
            "branch": commit.get("branch"),
            "message": commit.get("message"),
        })
    }

    /// The notify payload for `head` (a commit detail, with its report)
    /// against `base` (a commit from the list, or none).
    pub fn coverage_item(&self, repo: &Value, head: &Value, base: Option<&Value>) -> Value {
        let head_totals = webhook_totals(head.pointer("/report/totals").unwrap_or(&Value::Null));
        let base_totals = base.map(|b| webhook_totals(b.get("totals").unwrap_or(&Value::Null)));
        let head_sha = head.get("commitid").and_then(Value::as_str).unwrap_or_default();
        let compare = compare(
            head_totals.get("coverage").and_then(Value::as_str),
            base_totals
                .as_ref()
                .and_then(|t| t.get("coverage"))
                .and_then(Value::as_str),
            &self.commit_url(head_sha),
        );
        json!({
            "repo": {
                "url": self.repo_url(),
                "service_id": Value::Null,
                "name": self.repo,
                "private": repo.get("private"),
            },
            "head": self.commit(head, head_totals),
            "base": base.zip(base_totals).map(|(b, totals)| self.commit(b, totals)),
            "compare": compare,
            "owner": {"username": self.owner, "service_id": Value::Null, "service": self.service.long()},
            "pull": Value::Null,
        })
    }
}

/// Parses a coverage string ("97.22222", "100") into hundred-thousandths.
fn scaled(coverage: &str) -> Option<i128> {
    let (whole, fraction) = coverage.split_once('.').unwrap_or((coverage, ""));
    if fraction.len() > 5 || !fraction.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let whole: i128 = whole.parse().ok()?;
    let fraction: i128 = format!("{fraction:0<5}").parse().ok()?;
    Some(whole * 100_000 + if whole < 0 { -fraction } else { fraction })
}

/// The payload's `compare`: the change in coverage rounded half-to-even to 2
/// decimals and written as a string, as Codecov's notifier does.
pub fn compare(head: Option<&str>, base: Option<&str>, url: &str) -> Value {
    let (Some(head), Some(base)) = (head.and_then(scaled), base.and_then(scaled)) else {
        return json!({"url": Value::Null, "message": "unknown", "coverage": Value::Null, "notation": ""});
    };
    let difference = head - base;
    let (message, notation) = match difference.signum() {
        0 => ("no change", ""),
        1 => ("increased", "+"),
        _ => ("decreased", "-"),
    };
    let magnitude = difference.abs();
    let (mut hundredths, remainder) = (magnitude / 1000, magnitude % 1000);
    if remainder > 500 || (remainder == 500 && hundredths % 2 == 1) {
        hundredths += 1;
    }
    let sign = if difference < 0 { "-" } else { "" };
    let text = format!("{sign}{}.{:02}", hundredths / 100, hundredths % 100);
    json!({"url": url, "message": message, "coverage": text, "notation": notation})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_strings_match_codecovs() {
        assert_eq!(coverage_ratio(35, 36).as_deref(), Some("97.22222"));
        assert_eq!(coverage_ratio(6, 10).as_deref(), Some("60.00000"));
        assert_eq!(coverage_ratio(10, 10).as_deref(), Some("100"));
        assert_eq!(coverage_ratio(0, 10).as_deref(), Some("0"));
        assert_eq!(coverage_ratio(0, 0), None);
    }

    #[test]
    fn compare_rounds_half_to_even_and_keeps_the_sign() {
        let c = |h, b| {
            compare(Some(h), Some(b), "u")["coverage"]
                .as_str()
                .map(String::from)
        };
        assert_eq!(c("97.22222", "97.22222").as_deref(), Some("0.00"));
        assert_eq!(c("70", "60.00000").as_deref(), Some("10.00"));
        assert_eq!(c("60", "61.25000").as_deref(), Some("-1.25"));
        assert_eq!(c("60.00500", "60").as_deref(), Some("0.00"));
        assert_eq!(c("60.01500", "60").as_deref(), Some("0.02"));
        assert_eq!(c("60", "60.00100").as_deref(), Some("-0.00"));
        assert_eq!(compare(None, Some("1"), "u")["message"], "unknown");
        assert_eq!(compare(Some("2"), Some("1"), "u")["notation"], "+");
    }

    #[test]
    fn api_totals_become_webhook_totals() {
        let api = json!({"files": 3, "lines": 36, "hits": 35, "misses": 1, "partials": 0, "coverage": 97.22,
            "branches": 0, "methods": 0, "messages": 0, "sessions": 2, "complexity": 0.0,
            "complexity_total": 0.0, "complexity_ratio": 0, "diff": [0, null]});
        let totals = webhook_totals(&api);
        assert_eq!(totals["coverage"], "97.22222");
        assert_eq!(totals["complexity"], json!(0));
        assert_eq!(totals["diff"], json!([0, null]));
        let keys: Vec<&String> = totals.as_object().map(|o| o.keys().collect()).unwrap_or_default();
        assert_eq!(keys.len(), 13);
        assert_eq!(naive_timestamp("2024-02-02T14:21:35Z"), "2024-02-02T14:21:35");
    }
}
