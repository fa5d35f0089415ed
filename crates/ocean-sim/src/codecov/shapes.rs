//! The JSON Codecov sends: API v2 serializers and the notify-webhook payload,
//! field for field and in the same order.

use serde_json::{Value, json};

use super::data::{Commit, Dataset, Owner, Person, Pull, Repo, Totals};
use super::numbers;

/// DRF's `DateTimeField` writes UTC with a `Z`.
fn api_time(naive: &str) -> String {
    format!("{naive}Z")
}

/// Codecov's API cuts coverage down (not to nearest) to 2 decimals.
fn truncated(coverage: f64) -> f64 {
    (coverage * 100.0).floor() / 100.0
}

fn coverage_float(totals: &Totals) -> Option<f64> {
    totals.coverage().and_then(|c| c.parse::<f64>().ok())
}

fn complexity_ratio(t: &Totals) -> f64 {
    if t.complexity != 0.0 && t.complexity_total != 0.0 {
        truncated(t.complexity / t.complexity_total * 100.0)
    } else {
        0.0
    }
}

pub fn owner_json(service: &str, username: &str, name: Option<&str>) -> Value {
    json!({"service": service, "username": username, "name": name})
}

fn person_json(service: &str, person: &Person) -> Value {
    owner_json(service, &person.username, person.name.as_deref())
}

/// `CommitTotalsSerializer`.
pub fn commit_totals(t: &Totals) -> Value {
    json!({
        "files": t.files, "lines": t.lines, "hits": t.hits, "misses": t.misses, "partials": t.partials,
        "coverage": coverage_float(t).map(truncated),
        "branches": t.branches, "methods": t.methods, "sessions": t.sessions,
        "complexity": t.complexity, "complexity_total": t.complexity_total,
        "complexity_ratio": complexity_ratio(t), "diff": 0,
    })
}

/// `ReportTotalsSerializer`: coverage 0 when unknown, `diff` as stored.
pub fn report_totals(t: &Totals) -> Value {
    json!({
        "files": t.files, "lines": t.lines, "hits": t.hits, "misses": t.misses, "partials": t.partials,
        "coverage": coverage_float(t).map_or(0.0, truncated),
        "branches": t.branches, "methods": t.methods, "messages": t.messages, "sessions": t.sessions,
        "complexity": t.complexity, "complexity_total": t.complexity_total,
        "complexity_ratio": complexity_ratio(t), "diff": t.diff,
    })
}

/// Now, as Codecov's naive UTC timestamps are written, an hour ago.
fn an_hour_ago() -> String {
    let then = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1);
    then.strftime("%Y-%m-%dT%H:%M:%S").to_string()
}

/// `with_recent_coverage()`: the newest complete commit of the default branch
/// that is at least an hour old, so totals do not move while uploads arrive.
fn recent_commit(repo: &Repo) -> Option<&Commit> {
    let cutoff = an_hour_ago();
    repo.commits
        .iter()
        .filter(|c| c.state == "complete" && Some(&c.branch) == repo.branch.as_ref())
        // Naive ISO timestamps of one format sort as text.
        .filter(|c| c.timestamp[..c.timestamp.len().min(19)] <= *cutoff)
        .max_by(|a, b| a.timestamp.cmp(&b.timestamp))
}

pub fn repo_json(service: &str, owner: &Owner, repo: &Repo) -> Value {
    let recent = recent_commit(repo).and_then(|c| c.totals.as_ref());
    json!({
        "name": repo.name,
        "private": repo.private,
        "updatestamp": api_time(&repo.updatestamp),
        "author": owner_json(service, &owner.username, owner.name.as_deref()),
        "language": repo.language,
        "branch": repo.branch,
        "active": repo.active,
        "activated": repo.activated,
        "totals": recent.map(commit_totals),
    })
}

pub fn commit_json(service: &str, commit: &Commit) -> Value {
    json!({
        "commitid": commit.commitid,
        "message": commit.message,
        "timestamp": api_time(&commit.timestamp),
        "ci_passed": commit.ci_passed,
        "author": person_json(service, &commit.author),
        "branch": commit.branch,
        "totals": commit.totals.as_ref().map(commit_totals),
        "state": commit.state,
        "parent": commit.parent,
    })
}

/// `CommitDetailSerializer`: the commit plus its report, file by file, each
/// file with its line-by-line coverage (the view sets `include_line_coverage`).
pub fn commit_detail_json(service: &str, commit: &Commit) -> Value {
    let mut detail = commit_json(service, commit);
    detail["report"] = match &commit.totals {
        Some(totals) => json!({"totals": report_totals(totals), "files": report_files(totals, true)}),
        None => Value::Null,
    };
    detail
}

/// `TotalsViewSet`: the report's totals and each file's, without line coverage.
pub fn totals_json(totals: &Totals, commit_file_url: &str) -> Value {
    json!({
        "totals": report_totals(totals),
        "files": report_files(totals, false),
        "commit_file_url": commit_file_url,
    })
}

/// `line_type`: hit 0, miss 1, partial 2; the file's hits first, then misses, then partials.
fn line_coverage(part: &Totals) -> Value {
    let mut lines = Vec::with_capacity(part.lines.max(0) as usize);
    for number in 1..=part.lines {
        let kind = if number <= part.hits {
            0
        } else if number <= part.hits + part.misses {
            1
        } else {
            2
        };
        lines.push(json!([number, kind]));
    }
    Value::Array(lines)
}

/// Splits the totals over `files` files so the parts add up to the whole.
/// Every file of the report is listed (`ReportSerializer.get_files` walks
/// `report.files`), so the totals route grows with the number of files.
fn report_files(t: &Totals, with_lines: bool) -> Vec<Value> {
    let files = t.files.max(0);
    (0..files)
        .map(|i| {
            let share = |whole: i64| whole / files + if i < whole % files { 1 } else { 0 };
            let part = Totals {
                files: 1,
                lines: share(t.lines),
                hits: share(t.hits),
                misses: share(t.misses),
                partials: share(t.partials),
                branches: share(t.branches),
                methods: share(t.methods),
                messages: 0,
                sessions: t.sessions,
                complexity: 0.0,
                complexity_total: 0.0,
                diff: json!(0),
            };
            let mut file = json!({"name": format!("src/module_{i}.rs"), "totals": report_totals(&part)});
            if with_lines {
                file["line_coverage"] = line_coverage(&part);
            }
            file
        })
        .collect()
}

pub fn pull_json(service: &str, repo: &Repo, pull: &Pull) -> Value {
    let base = repo
        .commits
        .iter()
        .find(|c| c.commitid == pull.base)
        .and_then(|c| c.totals.as_ref());
    let patch = pull.patch.map(|(hits, misses, partials)| {
        let total = hits + misses + partials;
        let coverage = if total == 0 {
            0.0
        } else {
            (10_000.0 * hits as f64 / total as f64).round() / 100.0
        };
        json!({"hits": hits, "misses": misses, "partials": partials, "coverage": coverage})
    });
    json!({
        "pullid": pull.pullid,
        "title": pull.title,
        "base_totals": base.map(commit_totals),
        "head_totals": pull.head_totals.as_ref().map(commit_totals),
        "updatestamp": api_time(&pull.updatestamp),
        "state": pull.state,
        "ci_passed": pull.ci_passed,
        "author": person_json(service, &pull.author),
        "patch": patch,
    })
}

/// Codecov's `ReportTotals` as the notifier writes it (`asdict`).
fn webhook_totals(t: &Totals) -> Value {
    let number = |f: f64| {
        if f.fract() == 0.0 {
            json!(f as i64)
        } else {
            json!(f)
        }
    };
    json!({
        "files": t.files, "lines": t.lines, "hits": t.hits, "misses": t.misses, "partials": t.partials,
        "coverage": t.coverage(), "branches": t.branches, "methods": t.methods, "messages": t.messages,
        "sessions": t.sessions, "complexity": number(t.complexity),
        "complexity_total": number(t.complexity_total), "diff": t.diff,
    })
}

/// The provider's commit page (`torngit` `get_href(Endpoints.commit_detail)`):
/// GitLab writes subgroups (`group:sub` in Codecov) with `/`; self-hosted
/// providers' hosts are the install's, here `{service}.example`.
fn service_url(service: &str, owner: &str, repo: &str, sha: &str) -> String {
    match service {
        "github" => format!("https://github.com/{owner}/{repo}/commit/{sha}"),
        "gitlab" => format!(
            "https://gitlab.com/{}/{repo}/commit/{sha}",
            owner.replace(':', "/")
        ),
        "bitbucket" => format!("https://bitbucket.org/{owner}/{repo}/commits/{sha}"),
        "gitlab_enterprise" => format!(
            "https://gitlab_enterprise.example/{}/{repo}/commit/{sha}",
            owner.replace(':', "/")
        ),
        other => format!("https://{other}.example/{owner}/{repo}/commit/{sha}"),
    }
}

/// The notify payload Codecov's worker posts for `head`. Its base is the
/// pull's base (`compared_to`) when the commit belongs to `pull`, else the
/// commit's parent; `compare` is rounded as the repository's YAML says.
pub fn webhook_payload(
    dataset: &Dataset,
    dashboard: &str,
    owner: &Owner,
    repo: &Repo,
    head: &Commit,
    pull: Option<&Pull>,
) -> Value {
    let service = dataset.service.as_str();
    let short = numbers::short_service(service).unwrap_or(service);
    let repo_url = format!("{dashboard}/{short}/{}/{}", owner.username, repo.name);
    let side = |commit: &Commit| {
        json!({
            "author": {"username": commit.author.username, "service_id": commit.author.service_id,
                       "email": commit.author.email, "service": service, "name": commit.author.name},
            "url": format!("{repo_url}/commit/{}", commit.commitid),
            "timestamp": commit.timestamp,
            "totals": commit.totals.as_ref().map(webhook_totals),
            "commitid": commit.commitid,
            "service_url": service_url(service, &owner.username, &repo.name, &commit.commitid),
            "branch": commit.branch,
            "message": commit.message,
        })
    };
    let base_sha = match pull {
        Some(pull) => Some(&pull.base),
        None => head.parent.as_ref(),
    };
    let base = base_sha.and_then(|sha| repo.commits.iter().find(|c| &c.commitid == sha));
    let compare_url = match pull {
        Some(pull) => format!("{repo_url}/pull/{}", pull.pullid),
        None => format!("{repo_url}/commit/{}", head.commitid),
    };
    let head_coverage = head.totals.as_ref().and_then(Totals::coverage);
    let base_coverage = base.and_then(|b| b.totals.as_ref()).and_then(Totals::coverage);
    let round = repo.yaml.round.as_deref().unwrap_or(numbers::SITE_ROUND);
    let precision = repo.yaml.precision.unwrap_or(numbers::SITE_PRECISION);
    let compared = head_coverage
        .zip(base_coverage)
        .and_then(|(h, b)| numbers::compare_coverage(&h, &b, round, precision));
    let compare = match compared {
        Some((coverage, sign)) => {
            let (message, notation) = match sign {
                0 => ("no change", ""),
                1 => ("increased", "+"),
                _ => ("decreased", "-"),
            };
            json!({"url": compare_url, "message": message, "coverage": coverage, "notation": notation})
        }
        None => json!({"url": Value::Null, "message": "unknown", "coverage": Value::Null, "notation": ""}),
    };
    json!({
        "repo": {"url": repo_url, "service_id": repo.service_id, "name": repo.name, "private": repo.private},
        "head": side(head),
        "base": base.map(side),
        "compare": compare,
        "owner": {"username": owner.username, "service_id": owner.service_id, "service": service},
        "pull": pull.map(|p| json!({
            "head": {"commit": p.head, "branch": "master"},
            "number": p.pullid.to_string(),
            "base": {"commit": p.base, "branch": "master"},
            "open": p.state == "open",
            "id": p.pullid,
            "merged": p.state == "merged",
        })),
    })
}
