//! Codecov's notify webhook: recognising it and turning it into raw items.
//! The payload is itself the `coverage` item; a payload about a pull request
//! also yields that pull, read from the API so no field is guessed.

use std::collections::BTreeMap;

use futures_util::future::join_all;
use indexmap::IndexMap;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::client::CodecovClient;
use super::default_branch::DefaultBranches;
use ocean_host::plugin::{FetchError, WebhookEvent, WebhookItem};
use ocean_host::raw_item::RawItem;

/// The top-level members the shape check reads, borrowed from the body; the
/// rest is skipped unread.
#[derive(serde::Deserialize)]
struct Shape<'a> {
    #[serde(borrow)]
    repo: Option<&'a RawValue>,
    #[serde(borrow)]
    head: Option<&'a RawValue>,
    #[serde(borrow)]
    owner: Option<&'a RawValue>,
}

/// Codecov sends no signature and a plain `User-Agent: Codecov`, which proves
/// nothing; the payload's shape decides (repo, head and owner objects).
pub fn is_codecov_webhook(_headers: &BTreeMap<String, String>, body: &[u8]) -> bool {
    let Ok(shape) = serde_json::from_slice::<Shape<'_>>(body) else {
        return false;
    };
    let is_object = |member: Option<&RawValue>| member.is_some_and(|raw| raw.get().starts_with('{'));
    is_object(shape.repo) && is_object(shape.head) && is_object(shape.owner)
}

/// What the plugin reads of a notify payload, from its text; the payload
/// itself is the `coverage` item, passed on as it arrived.
#[derive(Default)]
pub struct Notice {
    pub owner: String,
    pub repo: String,
    branch: Option<String>,
    timestamp: Option<String>,
    repo_url: Value,
    /// `Some` when the payload names a pull; its id when that is a number.
    pull: Option<Option<i64>>,
}

/// An object's members, values left as text.
fn members(raw: Option<&RawValue>) -> IndexMap<String, &RawValue> {
    raw.and_then(|raw| serde_json::from_str(raw.get()).ok())
        .unwrap_or_default()
}

fn text(raw: Option<&&RawValue>) -> Option<String> {
    serde_json::from_str(raw?.get()).ok()
}

impl Notice {
    /// Reads the payload's fields; a field missing or of another type reads as absent.
    pub fn read(body: &RawValue) -> Notice {
        let top = members(Some(body));
        let owner = members(top.get("owner").copied());
        let repo = members(top.get("repo").copied());
        let head = members(top.get("head").copied());
        let pull = top
            .get("pull")
            .filter(|raw| raw.get().starts_with('{'))
            .map(|raw| {
                members(Some(raw))
                    .get("id")
                    .and_then(|id| id.get().parse::<i64>().ok())
            });
        Notice {
            owner: text(owner.get("username")).unwrap_or_default(),
            repo: text(repo.get("name")).unwrap_or_default(),
            branch: text(head.get("branch")),
            timestamp: text(head.get("timestamp")),
            repo_url: repo
                .get("url")
                .and_then(|raw| serde_json::from_str(raw.get()).ok())
                .unwrap_or(Value::Null),
            pull,
        }
    }

    /// The head commit's time in microseconds since the epoch: Codecov's notify
    /// payloads carry it as a naive UTC time (`2024-02-02T14:21:35`, microseconds
    /// when not zero); an explicit offset is honoured too.
    pub fn head_order(&self) -> Option<i64> {
        let text = self.timestamp.as_deref()?;
        if let Ok(instant) = text.parse::<jiff::Timestamp>() {
            return Some(instant.as_microsecond());
        }
        let civil: jiff::civil::DateTime = text.parse().ok()?;
        let zoned = civil.to_zoned(jiff::tz::TimeZone::UTC).ok()?;
        Some(zoned.timestamp().as_microsecond())
    }
}

/// The `coverage` entity means the repository's default branch, as a resync
/// builds it. Codecov notifies for every branch (and for pull commits, against
/// the pull's base), so a payload for another branch is not a `coverage` item
/// unless the resource follows every branch (`followBranches: all`). The
/// default branch is read from the API (`repos/{repo}/`), in bulk for a batch
/// of events (`DefaultBranches`).
async fn coverage_item(
    client: &CodecovClient,
    branches: &DefaultBranches,
    body: &RawValue,
    notice: &Notice,
    follow_all: bool,
) -> Result<Option<RawItem>, FetchError> {
    if follow_all {
        return Ok(Some(RawItem::from_raw(body.to_owned())));
    }
    let (owner, repo) = (notice.owner.as_str(), notice.repo.as_str());
    let default = match branches.remembered(owner, repo) {
        Some(default) => default,
        None => {
            let path = client.repos_path(owner, &[repo]);
            let record = client.get(owner, &path, &[]).await.map_err(|e| FetchError {
                kind: "coverage".into(),
                scope: format!("repository {owner}/{repo}"),
                message: format!("the default branch could not be read, so the webhook is not written: {e}"),
            })?;
            let default = record.get("branch").and_then(Value::as_str).map(str::to_string);
            branches.remember(owner, repo, default.clone());
            default
        }
    };
    let branch = notice.branch.as_deref();
    if branch.is_some() && branch == default.as_deref() {
        return Ok(Some(RawItem::from_raw(body.to_owned())));
    }
    tracing::info!(
        owner,
        repo,
        branch,
        default,
        "webhook for a branch other than the default: the coverage entity follows the default branch \
         (selector followBranches: all follows every branch)"
    );
    Ok(None)
}

/// What each of a batch of payloads stands for, in order: its head commit's
/// time and its raw items. The default branches of the repositories they name
/// are read first, together.
pub async fn batch_events(
    client: &CodecovClient,
    branches: &DefaultBranches,
    bodies: &[&RawValue],
    follow_all: bool,
) -> Vec<WebhookEvent> {
    let notices: Vec<Notice> = bodies.iter().map(|body| Notice::read(body)).collect();
    if !follow_all {
        let repos: Vec<(&str, &str)> = notices
            .iter()
            .map(|n| (n.owner.as_str(), n.repo.as_str()))
            .collect();
        branches.read_missing(client, &repos).await;
    }
    let each = bodies.iter().zip(&notices).map(|(body, notice)| async move {
        WebhookEvent {
            order: notice.head_order(),
            items: items(client, branches, body, notice, follow_all).await,
        }
    });
    join_all(each).await
}

async fn items(
    client: &CodecovClient,
    branches: &DefaultBranches,
    body: &RawValue,
    notice: &Notice,
    follow_all: bool,
) -> Vec<Result<WebhookItem, FetchError>> {
    let (owner, repo) = (notice.owner.as_str(), notice.repo.as_str());
    let mut items = Vec::new();
    match coverage_item(client, branches, body, notice, follow_all).await {
        Ok(Some(item)) => items.push(Ok(("coverage".to_string(), item))),
        Ok(None) => {}
        Err(e) => items.push(Err(e)),
    }
    let Some(pull_id) = notice.pull else {
        return items;
    };
    let failure = |message: String| FetchError {
        kind: "pull".into(),
        scope: format!("repository {owner}/{repo}"),
        message,
    };
    let Some(pull_id) = pull_id.map(|id| id.to_string()) else {
        items.push(Err(failure("the payload's pull has no numeric id".into())));
        return items;
    };
    let path = client.repos_path(owner, &[repo, "pulls", &pull_id]);
    match client.get_as::<RawItem>(owner, &path, &[]).await {
        Ok(record) => {
            let service = client.settings().service.long();
            let tag = json!({"service": service, "owner": owner, "name": repo, "url": notice.repo_url});
            items.push(Ok(("pull".to_string(), record.with_member("__repository", &tag))));
        }
        Err(e) => items.push(Err(failure(e.to_string()))),
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_order_by_head_commit_time() {
        let at = |t: &str| {
            let body = serde_json::value::to_raw_value(&json!({"head": {"timestamp": t}})).expect("JSON");
            Notice::read(&body).head_order()
        };
        assert_eq!(at("1970-01-01T00:00:01"), Some(1_000_000));
        assert_eq!(
            at("2024-02-02T14:21:35.000002"),
            at("2024-02-02T14:21:35").map(|t| t + 2)
        );
        assert_eq!(at("2024-02-02T15:21:35+01:00"), at("2024-02-02T14:21:35"));
        assert!(at("2024-02-02T14:21:36") > at("2024-02-02T14:21:35.999999"));
        assert_eq!(at("yesterday"), None);
        let no_time = serde_json::value::to_raw_value(&json!({"head": {}})).expect("JSON");
        assert_eq!(Notice::read(&no_time).head_order(), None);
    }

    #[test]
    fn a_notice_reads_fields_from_text_and_absent_for_other_types() {
        let body: Box<RawValue> = serde_json::from_str(
            r#"{"owner": {"username": "sl\u0061nks"}, "repo": {"name": "a\"b", "url": "/gh/x"},
                "head": {"branch": 7, "timestamp": "2024-02-02T14:21:35"}, "pull": {"id": "11"}}"#,
        )
        .expect("JSON");
        let notice = Notice::read(&body);
        assert_eq!(notice.owner, "slanks", "escapes are decoded");
        assert_eq!(notice.repo, "a\"b");
        assert_eq!(notice.branch, None, "a number is no branch name");
        assert_eq!(notice.repo_url, json!("/gh/x"));
        assert_eq!(notice.pull, Some(None), "a pull with no numeric id");
        assert!(notice.head_order().is_some());

        let odd: Box<RawValue> =
            serde_json::from_str(r#"{"owner": [], "repo": null, "pull": null}"#).expect("JSON");
        let notice = Notice::read(&odd);
        assert_eq!((notice.owner.as_str(), notice.repo.as_str()), ("", ""));
        assert_eq!(notice.pull, None, "a null pull is no pull");
    }

    #[test]
    fn recognised_by_shape_not_by_agent() {
        let mut headers = BTreeMap::new();
        let seed = include_bytes!("../../../resources/codecov/codecov-webhook-payload.json");
        assert!(is_codecov_webhook(&headers, seed));
        assert!(!is_codecov_webhook(&headers, br#"{"repo": {}}"#));
        assert!(
            !is_codecov_webhook(&headers, br#"{"repo": {}, "head": [], "owner": {}}"#),
            "head must be an object"
        );
        assert!(
            !is_codecov_webhook(&headers, br#"[{"repo": {}, "head": {}, "owner": {}}]"#),
            "an array is no payload"
        );
        assert!(is_codecov_webhook(
            &headers,
            br#"{"x": [1, {"y": "z"}], "repo": {}, "head": {"a": 1}, "owner": {}}"#
        ));
        headers.insert("user-agent".into(), "Codecov".into());
        assert!(
            !is_codecov_webhook(&headers, b"{}"),
            "the agent alone proves nothing"
        );
    }
}
