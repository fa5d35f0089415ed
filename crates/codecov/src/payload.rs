//! Builds the `coverage` item from API v2 records in the exact shape of
//! Codecov's notify-webhook payload, so one mapping serves resyncs and webhooks.
//! Fields the API does not expose (provider ids, e-mails) are null.

use serde_json::{Map, Value, json};

use super::settings::{CodecovSettings, MAX_PRECISION, Rounding, Service};

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

impl<'a> RepoContext<'a> {
    /// `owner/repo` on the configured service.
    pub fn new(settings: &'a CodecovSettings, owner: &'a str, repo: &'a str) -> Self {
        RepoContext {
            settings,
            service: settings.service,
            owner,
            repo,
        }
    }

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

    /// The notify payload for `head` against `base` (commits as the commit
    /// list gives them), with their report totals as the totals route gives
    /// them (`None`: that commit has no report).
    pub fn coverage_item(
        &self,
        repo: &Value,
        head: &Value,
        head_report: Option<&Value>,
        base: Option<(&Value, Option<&Value>)>,
    ) -> Value {
        let head_totals = head_report.map_or(Value::Null, webhook_totals);
        let base_totals = base.map(|(_, report)| report.map_or(Value::Null, webhook_totals));
        let head_sha = head.get("commitid").and_then(Value::as_str).unwrap_or_default();
        let compare = compare(
            head_totals.get("coverage").and_then(Value::as_str),
            base_totals
                .as_ref()
                .and_then(|t| t.get("coverage"))
                .and_then(Value::as_str),
            &self.commit_url(head_sha),
            self.settings.coverage_round,
            self.settings.coverage_precision,
        );
        json!({
            "repo": {
                "url": self.repo_url(),
                "service_id": Value::Null,
                "name": self.repo,
                "private": repo.get("private"),
            },
            "head": self.commit(head, head_totals),
            "base": base.zip(base_totals).map(|((b, _), totals)| self.commit(b, totals)),
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

/// The payload's `compare`, as Codecov's notifier builds it: the exact
/// difference of the two coverage strings gives message and notation; its
/// value is quantized to `precision` places the YAML's way (`down` is
/// Python's `ROUND_FLOOR`, `up` `ROUND_CEILING`, `nearest` half-to-even) and
/// written as Python writes a `Decimal`, keeping the sign of a rounded-away
/// negative (`"-0.00"`).
pub fn compare(
    head: Option<&str>,
    base: Option<&str>,
    url: &str,
    rounding: Rounding,
    precision: u8,
) -> Value {
    let (Some(head), Some(base)) = (head.and_then(scaled), base.and_then(scaled)) else {
        return json!({"url": Value::Null, "message": "unknown", "coverage": Value::Null, "notation": ""});
    };
    let difference = head - base;
    let (message, notation) = match difference.signum() {
        0 => ("no change", ""),
        1 => ("increased", "+"),
        _ => ("decreased", "-"),
    };
    json!({"url": url, "message": message, "coverage": quantized(difference, rounding, precision), "notation": notation})
}

/// `difference` (in hundred-thousandths) to `precision` places, as text.
fn quantized(difference: i128, rounding: Rounding, precision: u8) -> String {
    let precision = precision.min(MAX_PRECISION);
    let unit = 10_i128.pow(u32::from(MAX_PRECISION - precision));
    let floor = difference.div_euclid(unit);
    let steps = match rounding {
        Rounding::Down => floor,
        Rounding::Up => floor + i128::from(difference.rem_euclid(unit) != 0),
        Rounding::Nearest => {
            let twice_rest = 2 * difference.rem_euclid(unit);
            if twice_rest > unit || (twice_rest == unit && floor % 2 != 0) {
                floor + 1
            } else {
                floor
            }
        }
    };
    let sign = if difference < 0 { "-" } else { "" };
    let magnitude = steps.unsigned_abs();
    if precision == 0 {
        return format!("{sign}{magnitude}");
    }
    let scale = 10_u128.pow(u32::from(precision));
    format!(
        "{sign}{}.{:0width$}",
        magnitude / scale,
        magnitude % scale,
        width = usize::from(precision)
    )
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

    /// Expected values printed by Python's `decimal` module, which Codecov's
    /// `precise_round` uses (the simulator's test reads the same file).
    fn golden_comparisons() -> Vec<(String, String, Vec<String>)> {
        let text = include_str!("../../../tests/data/coverage-compare-golden.json");
        let golden: Value = serde_json::from_str(text).expect("golden JSON");
        serde_json::from_value(golden["cases"].clone()).expect("[head, base, [nine]] cases")
    }

    #[test]
    fn compare_rounds_as_codecovs_precise_round() {
        let c = |h, b, r, p| {
            compare(Some(h), Some(b), "u", r, p)["coverage"]
                .as_str()
                .map(String::from)
                .unwrap_or_default()
        };
        use Rounding::{Down, Nearest, Up};
        let table = golden_comparisons();
        for (head, base, expected) in &table {
            let mut at = 0;
            for rounding in [Down, Up, Nearest] {
                for precision in [0, 2, 5] {
                    assert_eq!(
                        c(head, base, rounding, precision),
                        expected[at],
                        "{head} - {base} {rounding:?} {precision}"
                    );
                    at += 1;
                }
            }
        }
        assert_eq!(compare(None, Some("1"), "u", Down, 2)["message"], "unknown");
        assert_eq!(compare(Some("2"), Some("1"), "u", Down, 2)["notation"], "+");
        assert_eq!(
            compare(Some("97.22222"), Some("97.22222"), "u", Down, 2)["message"],
            "no change"
        );
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
