//! Codecov's notify webhook: recognising it and turning it into raw items.
//! The payload is itself the `coverage` item; a payload about a pull request
//! also yields that pull, read from the API so no field is guessed.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::client::CodecovClient;
use crate::runtime::plugin::{FetchError, WebhookItem};

/// Codecov sends no signature and a plain `User-Agent: Codecov`, which proves
/// nothing; the payload's shape decides (repo, head and owner objects).
pub fn is_codecov_webhook(_headers: &BTreeMap<String, String>, body: &Value) -> bool {
    ["repo", "head", "owner"]
        .iter()
        .all(|k| body.get(k).is_some_and(Value::is_object))
}

/// The head commit's time in microseconds since the epoch: Codecov's notify
/// payloads carry it as a naive UTC time (`2024-02-02T14:21:35`, microseconds
/// when not zero); an explicit offset is honoured too.
pub fn head_order(body: &Value) -> Option<i64> {
    let text = body.pointer("/head/timestamp")?.as_str()?;
    if let Ok(instant) = text.parse::<jiff::Timestamp>() {
        return Some(instant.as_microsecond());
    }
    let civil: jiff::civil::DateTime = text.parse().ok()?;
    let zoned = civil.to_zoned(jiff::tz::TimeZone::UTC).ok()?;
    Some(zoned.timestamp().as_microsecond())
}

/// The `coverage` entity means the repository's default branch, as a resync
/// builds it. Codecov notifies for every branch (and for pull commits, against
/// the pull's base), so a payload for another branch is not a `coverage` item
/// unless the resource follows every branch (`followBranches: all`). The
/// default branch is read from the API (`repos/{repo}/`).
async fn coverage_item(
    client: &CodecovClient,
    body: &Value,
    owner: &str,
    repo: &str,
    follow_all: bool,
) -> Result<Option<Value>, FetchError> {
    if follow_all {
        return Ok(Some(body.clone()));
    }
    let failure = |message: String| FetchError {
        kind: "coverage".into(),
        scope: format!("repository {owner}/{repo}"),
        message,
    };
    let branch = body.pointer("/head/branch").and_then(Value::as_str);
    let path = client.repos_path(owner, &[repo]);
    let record = client.get(owner, &path, &[]).await.map_err(|e| {
        failure(format!(
            "the default branch could not be read, so the webhook is not written: {e}"
        ))
    })?;
    let default = record.get("branch").and_then(Value::as_str);
    if branch.is_some() && branch == default {
        return Ok(Some(body.clone()));
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

pub async fn items(
    client: &CodecovClient,
    body: &Value,
    follow_all: bool,
) -> Vec<Result<WebhookItem, FetchError>> {
    let owner = body
        .pointer("/owner/username")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let repo = body
        .pointer("/repo/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut items = Vec::new();
    match coverage_item(client, body, owner, repo, follow_all).await {
        Ok(Some(item)) => items.push(Ok(("coverage".to_string(), item))),
        Ok(None) => {}
        Err(e) => items.push(Err(e)),
    }
    let Some(pull) = body.get("pull").filter(|p| p.is_object()) else {
        return items;
    };
    let pull_id = pull.get("id").and_then(Value::as_i64).map(|id| id.to_string());
    let failure = |message: String| FetchError {
        kind: "pull".into(),
        scope: format!("repository {owner}/{repo}"),
        message,
    };
    let Some(pull_id) = pull_id else {
        items.push(Err(failure("the payload's pull has no numeric id".into())));
        return items;
    };
    let path = client.repos_path(owner, &[repo, "pulls", &pull_id]);
    match client.get(owner, &path, &[]).await {
        Ok(mut record) => {
            if let Some(fields) = record.as_object_mut() {
                let service = client.settings().service.long();
                let url = body.pointer("/repo/url").cloned().unwrap_or(Value::Null);
                fields.insert(
                    "__repository".into(),
                    json!({"service": service, "owner": owner, "name": repo, "url": url}),
                );
            }
            items.push(Ok(("pull".to_string(), record)));
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
        let at = |t: &str| head_order(&json!({"head": {"timestamp": t}}));
        assert_eq!(at("1970-01-01T00:00:01"), Some(1_000_000));
        assert_eq!(
            at("2024-02-02T14:21:35.000002"),
            at("2024-02-02T14:21:35").map(|t| t + 2)
        );
        assert_eq!(at("2024-02-02T15:21:35+01:00"), at("2024-02-02T14:21:35"));
        assert!(at("2024-02-02T14:21:36") > at("2024-02-02T14:21:35.999999"));
        assert_eq!(at("yesterday"), None);
        assert_eq!(head_order(&json!({"head": {}})), None);
    }

    #[test]
    fn recognised_by_shape_not_by_agent() {
        let mut headers = BTreeMap::new();
        let seed: Value = serde_json::from_str(include_str!(
            "../../resources/codecov/codecov-webhook-payload.json"
        ))
        .expect("seed payload");
        assert!(is_codecov_webhook(&headers, &seed));
        assert!(!is_codecov_webhook(&headers, &json!({"repo": {}})));
        headers.insert("user-agent".into(), "Codecov".into());
        assert!(
            !is_codecov_webhook(&headers, &json!({})),
            "the agent alone proves nothing"
        );
    }
}
