//! The `coverage` item of a resync, read without Codecov's commit detail
//! route: that route carries every file's line-by-line coverage (megabytes on
//! a large repository). The commit list names the head and its parent with
//! their commit totals; the totals route (`repos/{repo}/totals/?sha=`) gives
//! the head's report totals, `messages` and `diff` included (the mapping's
//! `report`), with per-file totals but no lines. The parent's totals come from
//! the commit list, which holds all the payload needs of them but `messages`
//! and `diff` (Codecov's list gives `diff` as 0), so the totals route, whose
//! per-file list grows with the repository, is read once per repository.

use serde_json::Value;

use super::client::{CodecovClient, CodecovError};
use super::payload::RepoContext;

/// Commits read per page while looking for the head and its parent: the head
/// is nearly always the first, its parent the second.
const COMMIT_PAGE_SIZE: u32 = 3;
/// Pages of the branch's commits read at most (the newest 21 commits).
const COMMIT_PAGES: u32 = 7;
/// Codecov's 404 for a commit it holds no report for (`BaseReportViewSet.get_object`).
const NO_REPORT: &str = "No coverage report found for commit";

fn sha(commit: &Value) -> Option<&str> {
    commit.get("commitid").and_then(Value::as_str)
}

/// The report totals of commit `sha`, or `None` when Codecov has no report for
/// it yet (404 "No coverage report found"), which is not a failure.
pub async fn report_totals(
    client: &CodecovClient,
    owner: &str,
    name: &str,
    sha: &str,
) -> Result<Option<Value>, CodecovError> {
    /// The reply's report totals; its per-file list (which grows with the
    /// repository) is skipped unread, never built.
    #[derive(serde::Deserialize)]
    struct TotalsReply {
        #[serde(default)]
        totals: Value,
    }
    let path = client.repos_path(owner, &[name, "totals"]);
    match client
        .get_as::<TotalsReply>(owner, &path, &[("sha", sha.to_string())])
        .await
    {
        Ok(reply) => Ok(Some(reply.totals)),
        Err(CodecovError::Api {
            status: 404, detail, ..
        }) if detail.starts_with(NO_REPORT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The `coverage` item for a repository: its default branch's newest complete
/// commit against that commit's parent, in the notify payload's shape. `None`
/// when the repository has no default branch, no complete commit among its
/// newest, or no report for it yet. With `head_from_list` the head's totals
/// come from the commit list too (no `messages`, `diff` 0), never from the
/// totals route.
pub async fn resync_item(
    client: &CodecovClient,
    owner: &str,
    repo: &Value,
    name: &str,
    head_from_list: bool,
) -> Result<Option<Value>, CodecovError> {
    let Some(branch) = repo.get("branch").and_then(Value::as_str) else {
        return Ok(None);
    };
    let path = client.repos_path(owner, &[name, "commits"]);
    let query = [("branch", branch.to_string())];
    let mut read: Vec<Value> = Vec::new();
    let mut head_at = None;
    for page in 1..=COMMIT_PAGES {
        let listed = client
            .list_page::<Value>(owner, &path, &query, page, COMMIT_PAGE_SIZE)
            .await?;
        let last = listed.next.is_none() || listed.results.is_empty();
        read.extend(listed.results);
        head_at = head_at.or_else(|| {
            read.iter()
                .position(|c| c.get("state").and_then(Value::as_str) == Some("complete"))
        });
        let parent_known = head_at.is_some_and(|at| match read[at].get("parent").and_then(Value::as_str) {
            Some(parent) => read.iter().any(|c| sha(c) == Some(parent)),
            None => true,
        });
        if last || parent_known {
            break;
        }
    }
    let Some(head) = head_at.map(|at| &read[at]) else {
        return Ok(None);
    };
    let head_report = if head_from_list {
        head.get("totals").filter(|t| t.is_object()).cloned()
    } else {
        report_totals(client, owner, name, sha(head).unwrap_or_default()).await?
    };
    let Some(head_report) = head_report else {
        return Ok(None);
    };
    let base = match head.get("parent").and_then(Value::as_str) {
        None => None,
        Some(parent) => {
            let commit = match read.iter().find(|c| sha(c) == Some(parent)) {
                Some(listed) => listed.clone(),
                None => parent_elsewhere(client, owner, name, parent).await?,
            };
            let report = match commit.get("totals") {
                // Listed without totals: Codecov holds no report for it.
                Some(Value::Null) => None,
                Some(listed) => Some(listed.clone()),
                None => report_totals(client, owner, name, parent).await?,
            };
            Some((commit, report))
        }
    };
    let context = RepoContext::new(client.settings(), owner, name);
    Ok(Some(context.coverage_item(
        repo,
        head,
        Some(&head_report),
        base.as_ref().map(|(commit, report)| (commit, report.as_ref())),
    )))
}

/// A parent not among the branch's newest commits (it may sit on another
/// branch): looked for among the repository's newest commits of any branch.
/// Not found there, only its SHA is known; the detail route that would name
/// its author and message is the one this module avoids.
async fn parent_elsewhere(
    client: &CodecovClient,
    owner: &str,
    name: &str,
    parent: &str,
) -> Result<Value, CodecovError> {
    let path = client.repos_path(owner, &[name, "commits"]);
    let recent = client.list_page::<Value>(owner, &path, &[], 1, 20).await?;
    Ok(recent
        .results
        .into_iter()
        .find(|c| sha(c) == Some(parent))
        .unwrap_or_else(|| serde_json::json!({"commitid": parent})))
}
