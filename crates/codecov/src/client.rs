//! Codecov API v2: `{base}/api/v2/{service}/{owner}/...` with a bearer token,
//! paged list endpoints read one page at a time, retries from the shared policy.

use std::time::SystemTime;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::settings::CodecovSettings;
use ocean_host::raw_item::RawItem;
use ocean_support::http;
use ocean_support::retry::{self, Attempt, is_retryable_status, server_hint};

#[derive(Debug, thiserror::Error)]
pub enum CodecovError {
    #[error("Codecov token rejected for owner {owner}: {detail} (check codecovToken)")]
    TokenRejected { owner: String, detail: String },
    #[error("Codecov answered GET {path} with {status}: {detail}")]
    Api {
        path: String,
        status: u16,
        detail: String,
    },
    #[error("GET {path} could not reach Codecov: {reason}")]
    Transport { path: String, reason: String },
    #[error("GET {path}: gave up after {attempts} attempt(s) over {waited_ms} ms; last: {last}")]
    RetriesExhausted {
        path: String,
        attempts: u32,
        waited_ms: u64,
        last: Box<CodecovError>,
    },
    #[error("GET {path}: Codecov's reply is not what its API documents: {reason}")]
    Decode { path: String, reason: String },
    #[error("Codecov client setup: {0}")]
    Setup(String),
    #[error(
        "GET {path}: the list changed while it was paged and did not hold still over {reads} whole reads; \
         nothing it lacks is taken as deleted"
    )]
    Unsettled { path: String, reads: u32 },
    #[error(
        "GET {path}: Codecov counted {counted} record(s) but its pages held {received}; \
         the list is incomplete, so nothing it lacks is taken as deleted"
    )]
    Incomplete {
        path: String,
        counted: u64,
        received: u64,
    },
}

impl CodecovError {
    pub fn status(&self) -> Option<u16> {
        match self {
            CodecovError::Api { status, .. } => Some(*status),
            CodecovError::TokenRejected { .. } => Some(401),
            CodecovError::RetriesExhausted { last, .. } => last.status(),
            _ => None,
        }
    }
}

/// One page of a paged list endpoint. Its records are read as raw items
/// (their text cut from the body) or, where the plugin inspects them, as
/// documents.
#[derive(Debug, Deserialize)]
pub struct ListPage<T = RawItem> {
    #[serde(default)]
    pub count: Option<u64>,
    #[serde(default)]
    pub next: Option<String>,
    pub results: Vec<T>,
}

impl<T> ListPage<T> {
    /// How many results page `page` must hold by its own count: every page
    /// before the last is full. `None` when Codecov gave no count.
    fn expected_len(&self, page: u32, page_size: u32) -> Option<u64> {
        let before = u64::from(page.saturating_sub(1)) * u64::from(page_size);
        self.count
            .map(|count| count.saturating_sub(before).min(u64::from(page_size)))
    }
}

/// What a paged list delivered against what Codecov counted. A short or empty
/// page, or a list that shrank while it was read, would otherwise make records
/// that still exist look deleted.
#[derive(Debug, Default)]
pub struct ListingTally {
    received: u64,
    counted: Option<u64>,
}

impl ListingTally {
    pub fn add<T>(&mut self, page: &ListPage<T>) {
        self.received += page.results.len() as u64;
        // The latest count: a list that grew while it was read shows it.
        if page.count.is_some() {
            self.counted = page.count;
        }
    }

    /// Nothing more will come: was that everything Codecov counted?
    pub fn check(&self, path: &str) -> Result<(), CodecovError> {
        match self.counted {
            Some(counted) if self.received < counted => Err(CodecovError::Incomplete {
                path: path.to_string(),
                counted,
                received: self.received,
            }),
            _ => Ok(()),
        }
    }
}

/// Extra reads of a page that came back empty though its own count says it has results.
const EMPTY_PAGE_REREADS: u32 = 2;

pub struct CodecovClient {
    http: reqwest::Client,
    settings: CodecovSettings,
    api: String,
}

/// Codecov's error bodies: `{"detail": ...}` from its views, `{"error": ...}` for unknown routes.
fn detail_of(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(value) => value
            .get("detail")
            .or_else(|| value.get("error"))
            .map(|d| d.as_str().map(String::from).unwrap_or_else(|| d.to_string()))
            .unwrap_or_else(|| value.to_string()),
        Err(_) => String::from_utf8_lossy(body).chars().take(300).collect(),
    }
}

impl CodecovClient {
    pub fn new(settings: CodecovSettings) -> Result<Self, CodecovError> {
        let agent = format!("ocean-codecov/{}", env!("CARGO_PKG_VERSION"));
        let http = http::build_client_with(&agent, settings.request_timeout, &settings.tls)
            .map_err(|e| CodecovError::Setup(e.to_string()))?;
        let base = settings.base_url.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(CodecovError::Setup(format!(
                "codecovUrl must start with http:// or https://, got {:?}",
                settings.base_url
            )));
        }
        let api = format!("{base}/api/v2");
        Ok(CodecovClient { http, settings, api })
    }

    pub fn settings(&self) -> &CodecovSettings {
        &self.settings
    }

    /// `/{service}/{owner}/repos/{segments...}/` under the API base; the
    /// trailing slash is Codecov's canonical form.
    pub fn repos_path(&self, owner: &str, segments: &[&str]) -> String {
        let mut all = vec![self.settings.service.long(), owner, "repos"];
        all.extend_from_slice(segments);
        let mut path = http::path("", &all);
        path.push('/');
        path
    }

    /// GETs a JSON document, retrying as the shared policy allows. A 401
    /// names the owner whose data was asked for.
    pub async fn get(
        &self,
        owner: &str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Value, CodecovError> {
        self.get_as(owner, path, query).await
    }

    /// GETs a JSON body read straight into `T` (e.g. a page of raw items).
    pub async fn get_as<T: DeserializeOwned>(
        &self,
        owner: &str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, CodecovError> {
        let url = format!("{}{}", self.api, path);
        let what = format!("GET {path}");
        let outcome = retry::run(&self.settings.retry, &what, || async {
            let request = self
                .http
                .get(&url)
                .query(query)
                .header(ACCEPT, "application/json")
                .header(AUTHORIZATION, format!("Bearer {}", self.settings.token.expose()));
            let exchanged = http::exchange(request).await;
            let status = exchanged
                .as_ref()
                .map_or_else(|_| "error".to_string(), |r| r.status.as_u16().to_string());
            ocean_support::metrics::metrics().count_source_request("codecov", path, status);
            match exchanged {
                Ok(reply) if reply.status.is_success() => match serde_json::from_slice::<T>(&reply.body) {
                    Ok(value) => Attempt::Done(value),
                    Err(e) => Attempt::Fail(CodecovError::Decode {
                        path: path.to_string(),
                        reason: e.to_string(),
                    }),
                },
                Ok(reply) if reply.status == StatusCode::UNAUTHORIZED => {
                    Attempt::Fail(CodecovError::TokenRejected {
                        owner: owner.to_string(),
                        detail: detail_of(&reply.body),
                    })
                }
                Ok(reply) => {
                    let error = CodecovError::Api {
                        path: path.to_string(),
                        status: reply.status.as_u16(),
                        detail: detail_of(&reply.body),
                    };
                    if is_retryable_status(reply.status) {
                        Attempt::Retry {
                            error,
                            hint: server_hint(&reply.headers, SystemTime::now()),
                        }
                    } else {
                        Attempt::Fail(error)
                    }
                }
                Err(e) => Attempt::Retry {
                    error: CodecovError::Transport {
                        path: path.to_string(),
                        reason: http::describe(&e),
                    },
                    hint: None,
                },
            }
        })
        .await;
        outcome.map_err(|failure| {
            failure.into_error(|last, attempts, waited| CodecovError::RetriesExhausted {
                path: path.to_string(),
                attempts,
                waited_ms: waited.as_millis() as u64,
                last: Box::new(last),
            })
        })
    }

    /// Page `page` (from 1) of a list endpoint. Past the last page Codecov
    /// answers 404 "Invalid page."; that is read as an empty, final page. A
    /// page that is empty though its count says otherwise is read again.
    pub async fn list_page<T: DeserializeOwned>(
        &self,
        owner: &str,
        path: &str,
        query: &[(&str, String)],
        page: u32,
        page_size: u32,
    ) -> Result<ListPage<T>, CodecovError> {
        let mut rereads = 0;
        loop {
            let listed = self.read_page(owner, path, query, page, page_size).await?;
            let missing = listed.results.is_empty() && listed.expected_len(page, page_size) > Some(0);
            if !missing || rereads == EMPTY_PAGE_REREADS {
                return Ok(listed);
            }
            rereads += 1;
            tracing::debug!(
                path,
                page,
                "an empty page where Codecov counted results; reading it again"
            );
        }
    }

    /// The first page of a list, read as a whole list: it must hold all it
    /// counted, up to `page_size`.
    pub async fn first_page<T: DeserializeOwned>(
        &self,
        owner: &str,
        path: &str,
        query: &[(&str, String)],
        page_size: u32,
    ) -> Result<Vec<T>, CodecovError> {
        let listed = self.list_page(owner, path, query, 1, page_size).await?;
        match listed.expected_len(1, page_size) {
            Some(expected) if (listed.results.len() as u64) < expected => Err(CodecovError::Incomplete {
                path: path.to_string(),
                counted: expected,
                received: listed.results.len() as u64,
            }),
            _ => Ok(listed.results),
        }
    }

    async fn read_page<T: DeserializeOwned>(
        &self,
        owner: &str,
        path: &str,
        query: &[(&str, String)],
        page: u32,
        page_size: u32,
    ) -> Result<ListPage<T>, CodecovError> {
        let mut query = query.to_vec();
        query.push(("page", page.to_string()));
        query.push(("page_size", page_size.max(1).to_string()));
        match self.get_as::<ListPage<T>>(owner, path, &query).await {
            Ok(listed) => Ok(listed),
            Err(CodecovError::Api {
                status: 404, detail, ..
            }) if page > 1 && detail == "Invalid page." => Ok(ListPage {
                count: None,
                next: None,
                results: Vec::new(),
            }),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tally_tests {
    use super::*;
    use serde_json::json;

    fn page(count: Option<u64>, results: usize) -> ListPage<Value> {
        ListPage {
            count,
            next: None,
            results: vec![json!({}); results],
        }
    }

    #[test]
    fn a_listing_that_delivered_its_count_is_complete() {
        let mut tally = ListingTally::default();
        tally.add(&page(Some(5), 3));
        tally.add(&page(Some(5), 2));
        assert!(tally.check("/repos").is_ok());
    }

    #[test]
    fn a_short_listing_is_incomplete_with_both_figures() {
        let mut tally = ListingTally::default();
        tally.add(&page(Some(5), 3));
        tally.add(&page(Some(5), 0));
        match tally.check("/repos") {
            Err(CodecovError::Incomplete {
                path,
                counted,
                received,
            }) => assert_eq!((path.as_str(), counted, received), ("/repos", 5, 3)),
            other => panic!("expected Incomplete, got {other:?}"),
        }
    }

    #[test]
    fn the_latest_count_wins_and_no_count_claims_nothing() {
        let mut grew = ListingTally::default();
        grew.add(&page(Some(2), 2));
        grew.add(&page(Some(4), 1));
        assert!(grew.check("/x").is_err(), "the list grew to 4; 3 arrived");
        let mut uncounted = ListingTally::default();
        uncounted.add(&page(None, 1));
        assert!(uncounted.check("/x").is_ok());
        let mut shrank = ListingTally::default();
        shrank.add(&page(Some(3), 3));
        shrank.add(&page(None, 0));
        assert!(
            shrank.check("/x").is_ok(),
            "a page without a count keeps the last one"
        );
    }

    #[test]
    fn each_page_expects_what_its_count_leaves_for_it() {
        assert_eq!(page(Some(250), 0).expected_len(1, 100), Some(100));
        assert_eq!(page(Some(250), 0).expected_len(3, 100), Some(50));
        assert_eq!(page(Some(250), 0).expected_len(4, 100), Some(0));
        assert_eq!(page(None, 0).expected_len(1, 100), None);
    }
}
