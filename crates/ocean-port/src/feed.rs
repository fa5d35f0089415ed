//! What Port shows about the integration besides its entities, sent as
//! Ocean's Port client sends it (none of these routes is in Port's public
//! spec): raw data examples per kind for the mapping editor, log lines for
//! the integration's logs view, and per-kind sync metrics for its sync page.
//! Logs and metrics go to the ingest URLs Port gives in the integration record
//! (`logAttributes.ingestUrl`, `metricAttributes.ingestUrl`).

use reqwest::Method;
use serde_json::{Value, json};

use super::client::{Call, IngestUrls, PortClient, api_path};
use super::error::PortError;

/// Ocean sends the first five raw items of each kind per resync.
pub const KIND_EXAMPLES_LIMIT: usize = 5;

fn ingest_url(integration: &Value, attributes: &str) -> Option<String> {
    integration
        .get(attributes)?
        .get("ingestUrl")?
        .as_str()
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .map(|u| u.trim_end_matches('/').to_string())
}

/// `value` segment-encoded as Ocean's `quote_plus` would make it one segment.
fn segment(value: &str) -> String {
    ocean_support::http::path("", &[value])
        .trim_start_matches('/')
        .to_string()
}

impl PortClient {
    /// The ingest URLs from the integration record, read once and kept.
    pub async fn ingest_urls(&self) -> Result<IngestUrls, PortError> {
        if let Some(known) = self.ingest.lock().await.clone() {
            return Ok(known);
        }
        let integration = self.get_integration().await?.unwrap_or(Value::Null);
        let missing = |what: &str| PortError::UnexpectedReply {
            method: "GET".into(),
            path: api_path(&["integration", &self.settings.integration_identifier]),
            reason: format!("the integration record has no {what}.ingestUrl"),
        };
        let urls = IngestUrls {
            logs: ingest_url(&integration, "logAttributes").ok_or_else(|| missing("logAttributes"))?,
            metrics: ingest_url(&integration, "metricAttributes")
                .ok_or_else(|| missing("metricAttributes"))?,
        };
        *self.ingest.lock().await = Some(urls.clone());
        Ok(urls)
    }

    /// Sends a kind's first raw items so Port's mapping editor can test JQ on
    /// real data. Secrets are masked first; items are dropped from the end
    /// until the body fits Port's limit. Returns how many were sent.
    pub async fn ingest_kind_examples(&self, kind: &str, items: &[Value]) -> Result<usize, PortError> {
        let mut examples: Vec<Value> = items.iter().take(KIND_EXAMPLES_LIMIT).cloned().collect();
        examples.iter_mut().for_each(ocean_support::redact::value);
        let identifier = &self.settings.integration_identifier;
        loop {
            let body = serde_json::to_vec(&json!({ "examples": examples }))
                .map_err(|e| PortError::Setup(format!("encoding examples: {e}")))?;
            if body.len() <= self.settings.max_body_bytes || examples.len() <= 1 {
                let sent = examples.len();
                let call = Call::new(
                    Method::POST,
                    api_path(&["integration", identifier, "kinds", kind, "examples"]),
                )
                .raw_json(body);
                self.send(&call).await?;
                return Ok(sent);
            }
            examples.pop();
        }
    }

    /// Ships log lines (`{message, level, timestamp, extra}`) to the
    /// integration's logs view.
    pub async fn ingest_logs(&self, logs: &[Value]) -> Result<(), PortError> {
        let url = self.ingest_urls().await?.logs;
        let call = Call::new(Method::POST, url).json(&json!({ "logs": logs }))?;
        self.send(&call).await.map(|_| ())
    }

    /// Announces a resync's kinds and their state (`POST .../syncMetrics`).
    pub async fn post_sync_metrics(&self, kinds: &[Value]) -> Result<(), PortError> {
        let url = format!("{}/syncMetrics", self.ingest_urls().await?.metrics);
        let call = Call::new(Method::POST, url).json(&json!({ "syncKindsMetrics": kinds }))?;
        self.send(&call).await.map(|_| ())
    }

    /// Tells Port a resync is alive (`POST .../heartbeat` with its event id),
    /// as Ocean 0.56 does every `status_heartbeat_interval_seconds` while one runs.
    pub async fn post_heartbeat(&self, event_id: &str) -> Result<(), PortError> {
        let url = format!("{}/heartbeat", self.ingest_urls().await?.metrics);
        let call = Call::new(Method::POST, url).json(&json!({ "eventId": event_id }))?;
        self.send(&call).await.map(|_| ())
    }

    /// Reports one kind's results (`PUT .../syncMetrics/resync/{eventId}/kind/{kindIdentifier}`).
    pub async fn put_kind_sync_metrics(&self, kind: &Value) -> Result<(), PortError> {
        let field = |name: &str| kind.get(name).and_then(Value::as_str).unwrap_or_default();
        let url = format!(
            "{}/syncMetrics/resync/{}/kind/{}",
            self.ingest_urls().await?.metrics,
            segment(field("eventId")),
            segment(field("kindIdentifier"))
        );
        let call = Call::new(Method::PUT, url).json(&json!({ "syncKindMetrics": kind }))?;
        self.send(&call).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingest_urls_come_from_the_integration_record() {
        let integration = json!({
            "logAttributes": {"ingestId": "abc", "ingestUrl": "https://ingest.example/logs/abc/"},
            "metricAttributes": {"ingestUrl": "ftp://nope"},
        });
        assert_eq!(
            ingest_url(&integration, "logAttributes").as_deref(),
            Some("https://ingest.example/logs/abc")
        );
        assert_eq!(ingest_url(&integration, "metricAttributes"), None);
        assert_eq!(segment("repo sync/1"), "repo%20sync%2F1");
    }
}
