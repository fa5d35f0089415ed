//! The HTTP core every Port call goes through: one reqwest client, the token,
//! the User-Agent Port records as the entities' datasource, and the retry loop.

use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::Mutex;

use super::error::{PortError, PortErrorBody};
use ocean_support::http;
use ocean_support::retry::{self, Attempt, RetryPolicy, is_retryable_status, server_hint};
use ocean_support::secret::Secret;

/// Port's documented body limit for every request.
pub const PORT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// Port's documented limit of entities per bulk request.
pub const PORT_MAX_BULK_ENTITIES: usize = 20;
/// Port's documented limit of identifiers per bulk delete.
pub const PORT_MAX_BULK_DELETE: usize = 100;

/// How to reach Port and who the integration is there; [`PortSettings::new`] gives the defaults.
#[derive(Debug, Clone)]
pub struct PortSettings {
    /// Without `/v1`, as Ocean's `OCEAN__PORT__BASE_URL`, e.g. `https://api.port.io`.
    pub base_url: String,
    /// The client ID exchanged, with the secret, for an access token (`POST /v1/auth/access_token`).
    pub client_id: String,
    /// The client secret; never printed.
    pub client_secret: Secret,
    /// The integration's type (the spec's `type`, e.g. `codecov`), part of the User-Agent.
    pub integration_type: String,
    /// The installation's identifier in Port: names the integration record and the entities it owns.
    pub integration_identifier: String,
    /// Reported in the User-Agent; defaults to this crate's version.
    pub integration_version: String,
    /// Retries of every call; defaults to [`RetryPolicy::default`].
    pub retry: RetryPolicy,
    /// Bound on one request, connect to last body byte; defaults to 60 s.
    pub request_timeout: Duration,
    /// Largest request body sent, in bytes; bulk upserts split to stay under it. Defaults to
    /// [`PORT_MAX_BODY_BYTES`]; raising it past Port's limit only earns 413s.
    pub max_body_bytes: usize,
    /// Most entities per bulk upsert; defaults to [`PORT_MAX_BULK_ENTITIES`], Port's own limit.
    pub max_bulk_entities: usize,
    /// Certificate checks for Port (Ocean's `OCEAN__SSL__PORT__*`, `SSL_CERT_FILE`).
    pub tls: http::Tls,
}

impl PortSettings {
    /// A client for one installation: `integration_type` (the spec's `type`) and
    /// `integration_identifier` come from the settings, and name what it owns in Port.
    pub fn new(
        base_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: Secret,
        integration_type: impl Into<String>,
        integration_identifier: impl Into<String>,
    ) -> Self {
        PortSettings {
            base_url: base_url.into(),
            client_id: client_id.into(),
            client_secret,
            integration_type: integration_type.into(),
            integration_identifier: integration_identifier.into(),
            integration_version: env!("CARGO_PKG_VERSION").into(),
            retry: RetryPolicy::default(),
            request_timeout: ocean_support::http::DEFAULT_REQUEST_TIMEOUT,
            max_body_bytes: PORT_MAX_BODY_BYTES,
            max_bulk_entities: PORT_MAX_BULK_ENTITIES,
            tls: http::Tls::default(),
        }
    }

    /// Ocean's shape; Port stores it as `$datasource`, which is how an
    /// integration recognises the entities it owns.
    pub fn user_agent(&self) -> String {
        format!(
            "port-ocean/{}/{}/{}/exporter",
            self.integration_type, self.integration_version, self.integration_identifier
        )
    }
}

/// How long one reading of Port's clock is trusted before a newer one replaces it.
const CLOCK_READING_TTL: Duration = Duration::from_secs(600);

/// Absolute URLs Port gave for this integration's logs and metrics (read once, kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestUrls {
    /// Where log lines are posted (from the integration's `logAttributes`).
    pub logs: String,
    /// The base that `/syncMetrics` is appended to for per-kind sync figures.
    pub metrics: String,
}

struct CachedToken {
    header: String,
    refresh_at: Instant,
}

/// A client of Port's API for one integration installation: it fetches and refreshes the token
/// itself, retries by its [`RetryPolicy`], and is shared (`&self`) by concurrent tasks.
pub struct PortClient {
    pub(super) settings: PortSettings,
    http: reqwest::Client,
    base: String,
    token: Mutex<Option<CachedToken>>,
    /// Where Port takes this integration's logs and sync metrics, read once.
    pub(super) ingest: Mutex<Option<IngestUrls>>,
    /// Port's clock: the last `Date` header it sent, and when it arrived.
    clock: std::sync::Mutex<Option<(SystemTime, Instant)>>,
}

/// One request, built once and re-sent as is on every attempt.
pub(crate) struct Call {
    pub method: Method,
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Bytes>,
}

pub(crate) struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Reply {
    pub fn json<T: DeserializeOwned>(&self, call: &Call) -> Result<T, PortError> {
        serde_json::from_slice(&self.body).map_err(|e| PortError::UnexpectedReply {
            method: call.method.to_string(),
            path: call.path.clone(),
            reason: e.to_string(),
        })
    }
}

/// Builds `/v1/a/b/...` with each segment percent-encoded.
pub(crate) fn api_path(segments: &[&str]) -> String {
    http::path("/v1", segments)
}

impl Call {
    pub fn new(method: Method, path: String) -> Self {
        Call {
            method,
            path,
            query: Vec::new(),
            body: None,
        }
    }

    pub fn query(mut self, name: &'static str, value: impl ToString) -> Self {
        self.query.push((name, value.to_string()));
        self
    }

    /// Ocean's `ocean_info_*` parameters of the event the task is in (none outside one).
    pub fn in_current_event(mut self) -> Self {
        if let Some(event) = crate::event::current() {
            self.query.extend(event.query_params());
        }
        self
    }

    pub fn json(mut self, body: &impl serde::Serialize) -> Result<Self, PortError> {
        let bytes =
            serde_json::to_vec(body).map_err(|e| PortError::Setup(format!("encoding a request: {e}")))?;
        self.body = Some(Bytes::from(bytes));
        Ok(self)
    }

    pub fn raw_json(mut self, body: Vec<u8>) -> Self {
        self.body = Some(Bytes::from(body));
        self
    }

    fn error(&self, status: StatusCode, body: &[u8]) -> PortError {
        PortError::Api {
            method: self.method.to_string(),
            path: self.path.clone(),
            status,
            body: PortErrorBody::parse(body),
        }
    }

    fn transport(&self, error: &reqwest::Error) -> PortError {
        PortError::Transport {
            method: self.method.to_string(),
            path: self.path.clone(),
            reason: http::describe(error),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenReply {
    access_token: String,
    expires_in: f64,
    #[serde(default)]
    token_type: Option<String>,
}

/// A token as the client uses it: the `Authorization` value, and for how long.
pub(crate) struct IssuedToken {
    pub header: String,
    pub use_for: Duration,
}

/// Reads Port's token reply. The token is refreshed ahead of its expiry: a
/// tenth of its lifetime early, at most five minutes.
pub(crate) fn read_token_reply(body: &[u8]) -> Result<IssuedToken, serde_json::Error> {
    let token: TokenReply = serde_json::from_slice(body)?;
    let lifetime = Duration::from_secs_f64(token.expires_in.clamp(0.0, 1e9));
    let margin = (lifetime / 10).min(Duration::from_secs(300));
    Ok(IssuedToken {
        header: format!(
            "{} {}",
            token.token_type.as_deref().unwrap_or("Bearer"),
            token.access_token
        ),
        use_for: lifetime - margin,
    })
}

impl PortClient {
    /// Builds the HTTP client (User-Agent, timeout, TLS from `settings`); no request is sent yet.
    /// Fails with [`PortError::Setup`] when the base URL is not `http(s)://` or the TLS setup is refused.
    pub fn new(settings: PortSettings) -> Result<Self, PortError> {
        let http = http::build_client_with(&settings.user_agent(), settings.request_timeout, &settings.tls)
            .map_err(|e| PortError::Setup(e.to_string()))?;
        let base = settings
            .base_url
            .trim_end_matches('/')
            .trim_end_matches("/v1")
            .to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(PortError::Setup(format!(
                "Port base URL must start with http:// or https://, got {:?}",
                settings.base_url
            )));
        }
        Ok(PortClient {
            settings,
            http,
            base,
            token: Mutex::new(None),
            ingest: Mutex::new(None),
            clock: std::sync::Mutex::new(None),
        })
    }

    /// The settings the client was built with.
    pub fn settings(&self) -> &PortSettings {
        &self.settings
    }

    /// A time Port's clock has certainly passed: a `Date` header Port sent
    /// plus the time since it arrived, measured on the monotonic clock, so
    /// the host's wall clock plays no part. `Date` has whole seconds, so
    /// this lags Port by under a second; of recent replies the one that
    /// lags least is kept. `None` until Port has sent a `Date`.
    pub fn port_time(&self) -> Option<SystemTime> {
        let clock = self.clock.lock().unwrap_or_else(|p| p.into_inner());
        clock.map(|(date, received)| date + received.elapsed())
    }

    fn read_clock(&self, headers: &HeaderMap) {
        let Some(date) = headers
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok())
        else {
            return;
        };
        let now = Instant::now();
        let mut clock = self.clock.lock().unwrap_or_else(|p| p.into_inner());
        let closer = match *clock {
            None => true,
            // An old reading could hide a correction of Port's clock: renew it.
            Some((_, at)) if now.duration_since(at) > CLOCK_READING_TTL => true,
            Some((known, at)) => date
                .duration_since(known)
                .is_ok_and(|ahead| ahead > now.duration_since(at)),
        };
        if closer {
            *clock = Some((date, now));
        }
    }

    /// Sends the call and returns one field of Port's reply, e.g. `entity` or `integration`.
    pub(crate) async fn send_for(&self, call: &Call, field: &str) -> Result<Value, PortError> {
        let reply: Value = self.send(call).await?.json(call)?;
        Ok(reply.get(field).cloned().unwrap_or(Value::Null))
    }

    /// As `send_for`, with Port's 404 read as "there is none".
    pub(crate) async fn find(&self, call: &Call, field: &str) -> Result<Option<Value>, PortError> {
        match self.send_for(call, field).await {
            Ok(value) => Ok(Some(value)),
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Sends an authenticated call, retrying as the policy allows; a 401 gets
    /// one fresh token and one more try.
    pub(crate) async fn send(&self, call: &Call) -> Result<Reply, PortError> {
        let mut reauthenticated = false;
        loop {
            let token = self.token().await?;
            match self.send_retrying(call, Some(&token)).await {
                Err(e) if e.status() == Some(StatusCode::UNAUTHORIZED) && !reauthenticated => {
                    reauthenticated = true;
                    self.forget_token(&token).await;
                }
                other => return other,
            }
        }
    }

    async fn send_retrying(&self, call: &Call, token: Option<&str>) -> Result<Reply, PortError> {
        let what = format!("{} {}", call.method, call.path);
        let outcome = retry::run(&self.settings.retry, &what, || async {
            match self.send_once(call, token).await {
                Ok((reply, _)) if reply.status.is_success() => Attempt::Done(reply),
                Ok((reply, headers)) if is_retryable_status(reply.status) => Attempt::Retry {
                    error: call.error(reply.status, &reply.body),
                    hint: server_hint(&headers, SystemTime::now()),
                },
                Ok((reply, _)) => Attempt::Fail(call.error(reply.status, &reply.body)),
                Err(error) => Attempt::Retry { error, hint: None },
            }
        })
        .await;
        outcome.map_err(|failure| {
            failure.into_error(|last, attempts, waited| PortError::RetriesExhausted {
                method: call.method.to_string(),
                path: call.path.clone(),
                attempts,
                waited_ms: waited.as_millis() as u64,
                last: Box::new(last),
            })
        })
    }

    async fn send_once(&self, call: &Call, token: Option<&str>) -> Result<(Reply, HeaderMap), PortError> {
        // Port hands out absolute URLs for log and metric ingestion.
        let url = if call.path.starts_with("https://") || call.path.starts_with("http://") {
            call.path.clone()
        } else {
            format!("{}{}", self.base, call.path)
        };
        let mut request = self.http.request(call.method.clone(), url).query(&call.query);
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, token);
        }
        if let Some(body) = &call.body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let exchanged = http::exchange(request).await;
        let status = exchanged
            .as_ref()
            .map_or_else(|_| "error".to_string(), |r| r.status.as_u16().to_string());
        let labels = ocean_support::metrics::Request {
            route: ocean_support::metrics::route_of(&call.path),
            status,
        };
        ocean_support::metrics::metrics()
            .port_requests
            .get_or_create(&labels)
            .inc();
        let raw = exchanged.map_err(|e| call.transport(&e))?;
        self.read_clock(&raw.headers);
        tracing::debug!(method = %call.method, path = %call.path, status = raw.status.as_u16(),
            request_bytes = call.body.as_ref().map_or(0, Bytes::len), reply_bytes = raw.body.len(), "Port call");
        Ok((
            Reply {
                status: raw.status,
                body: raw.body,
            },
            raw.headers,
        ))
    }

    /// The current `Authorization` value, fetching a new token when the
    /// cached one is missing or close to expiry.
    pub(crate) async fn token(&self) -> Result<String, PortError> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| Instant::now() < t.refresh_at) {
            return Ok(token.header.clone());
        }
        let call = Call::new(Method::POST, api_path(&["auth", "access_token"])).json(&serde_json::json!({
            "clientId": self.settings.client_id,
            "clientSecret": self.settings.client_secret.expose(),
        }))?;
        let reply = self.send_retrying(&call, None).await?;
        let issued = read_token_reply(&reply.body).map_err(|e| PortError::UnexpectedReply {
            method: call.method.to_string(),
            path: call.path.clone(),
            reason: e.to_string(),
        })?;
        *cached = Some(CachedToken {
            header: issued.header.clone(),
            refresh_at: Instant::now() + issued.use_for,
        });
        Ok(issued.header)
    }

    async fn forget_token(&self, rejected: &str) {
        let mut cached = self.token.lock().await;
        if cached.as_ref().is_some_and(|t| t.header == rejected) {
            *cached = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agent_has_oceans_shape() {
        let mut settings = PortSettings::new(
            "https://api.port.io",
            "id",
            Secret::new("s"),
            "example",
            "my-example",
        );
        settings.integration_version = "1.2.3".into();
        assert_eq!(
            settings.user_agent(),
            "port-ocean/example/1.2.3/my-example/exporter"
        );
    }
}
