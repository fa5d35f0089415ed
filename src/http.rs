//! The one HTTP setup every outgoing client uses: building the reqwest client,
//! encoding path segments, one request/reply exchange, and describing a
//! transport error without losing its causes.

use std::time::Duration;

use bytes::Bytes;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

/// How a client checks servers' certificates: the platform's roots, plus a
/// PEM bundle (a corporate CA that intercepts TLS, a self-hosted server's own
/// CA), or, if asked, nothing at all (Ocean's `SSL__*__VERIFY=false`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tls {
    /// Where the bundle was read from, and its PEM text.
    pub ca_bundle: Option<(String, Vec<u8>)>,
    pub verify: bool,
}

impl Default for Tls {
    fn default() -> Self {
        Tls {
            ca_bundle: None,
            verify: true,
        }
    }
}

impl Tls {
    /// The bundle the port-ocean chart points at (`SSL_CERT_FILE`, also
    /// `REQUESTS_CA_BUNDLE`), and whether to verify at all.
    pub fn from_vars(vars: &std::collections::BTreeMap<String, String>, verify: bool) -> Result<Tls, String> {
        let named = ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"].iter().find_map(|name| {
            vars.get(*name)
                .filter(|v| !v.trim().is_empty())
                .map(|v| (*name, v.trim()))
        });
        let ca_bundle = match named {
            None => None,
            Some((name, path)) => {
                let pem = std::fs::read(path).map_err(|e| format!("{name}: reading {path}: {e}"))?;
                let certificates = reqwest::Certificate::from_pem_bundle(&pem)
                    .map_err(|e| format!("{name}: {path} is not a PEM certificate bundle: {e}"))?;
                if certificates.is_empty() {
                    return Err(format!("{name}: {path} holds no PEM certificate"));
                }
                Some((format!("{name}={path}"), pem))
            }
        };
        Ok(Tls { ca_bundle, verify })
    }
}

pub fn build_client(user_agent: &str, timeout: Duration) -> Result<reqwest::Client, String> {
    build_client_with(user_agent, timeout, &Tls::default())
}

pub fn build_client_with(user_agent: &str, timeout: Duration, tls: &Tls) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder().user_agent(user_agent).timeout(timeout);
    if let Some((origin, pem)) = &tls.ca_bundle {
        let certificates = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| format!("{origin}: not a PEM certificate bundle: {e}"))?;
        builder = builder.tls_certs_merge(certificates);
    }
    if !tls.verify {
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    builder
        .build()
        .map_err(|e| format!("building the HTTP client: {e}"))
}

// Everything but unreserved characters, so names with `/`, `#` or spaces stay one segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `prefix/a/b/...` with each segment percent-encoded.
pub fn path(prefix: &str, segments: &[&str]) -> String {
    let mut path = String::from(prefix);
    for segment in segments {
        path.push('/');
        path.extend(utf8_percent_encode(segment, SEGMENT));
    }
    path
}

pub struct RawReply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Sends the request and reads the whole body; a connection cut mid-body is
/// an error like a failed connect, and so is retried the same way.
pub async fn exchange(request: reqwest::RequestBuilder) -> Result<RawReply, reqwest::Error> {
    let response = request.send().await?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await?;
    Ok(RawReply {
        status,
        headers,
        body,
    })
}

/// The error and all its causes on one line. Our URLs carry no credentials.
pub fn describe(error: &reqwest::Error) -> String {
    let mut reason = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_bundle_is_read_from_the_charts_variable() {
        let pem = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/test-ca.pem");
        let vars = |name: &str, path: &str| [(name.to_string(), path.to_string())].into_iter().collect();
        let tls = Tls::from_vars(&vars("SSL_CERT_FILE", pem), true).expect("a PEM bundle");
        assert!(
            tls.ca_bundle
                .as_ref()
                .is_some_and(|(origin, _)| origin.starts_with("SSL_CERT_FILE="))
        );
        build_client_with("test", Duration::from_secs(1), &tls).expect("the client takes the extra root");
        let not_pem = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
        let error = Tls::from_vars(&vars("REQUESTS_CA_BUNDLE", not_pem), true).expect_err("not PEM");
        assert!(error.starts_with("REQUESTS_CA_BUNDLE:"), "{error}");
        let error = Tls::from_vars(&vars("SSL_CERT_FILE", "/no/such/file.pem"), true).expect_err("missing");
        assert!(
            error.starts_with("SSL_CERT_FILE: reading /no/such/file.pem"),
            "{error}"
        );
    }

    #[test]
    fn path_segments_are_encoded_one_by_one() {
        assert_eq!(
            path("/v1", &["blueprints", "svc", "entities", "org/repo name#1"]),
            "/v1/blueprints/svc/entities/org%2Frepo%20name%231"
        );
    }
}
