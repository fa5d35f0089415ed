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
    /// Check certificates at all; `false` accepts any certificate (defaults to `true`).
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

/// How long one outgoing request may take unless settings say otherwise (Ocean's `client_timeout`).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Where Port's port-ocean chart mounts a custom CA (`selfSignedCertificate`):
/// Ocean's image adds every certificate file found there to its trust store at
/// start, while the chart's `SSL_CERT_FILE` names only the system bundle. This
/// host has no start script, so it reads the directory itself.
pub const LOCAL_CA_DIR: &str = "/usr/local/share/ca-certificates";

/// Why a CA bundle or the HTTP client could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The named bundle could not be read.
    #[error("{variable}: reading {path}: {source}")]
    Unreadable {
        /// The variable that named the bundle (`SSL_CERT_FILE` or `REQUESTS_CA_BUNDLE`).
        variable: &'static str,
        /// The path the variable gave.
        path: String,
        /// Why reading it failed.
        #[source]
        source: std::io::Error,
    },
    /// A bundle that holds no usable PEM certificate.
    #[error("{origin}: {problem}")]
    NotPem {
        /// Where the text came from: `VARIABLE=path`, or a mounted file's path.
        origin: String,
        /// What is wrong with it.
        problem: PemProblem,
    },
    /// The HTTP client refused its configuration.
    #[error("building the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

impl SetupError {
    /// The variable a user would set to fix it, when one names the bundle.
    pub fn variable(&self) -> Option<&str> {
        match self {
            SetupError::Unreadable { variable, .. } => Some(variable),
            SetupError::NotPem { origin, .. } => origin.split_once(['=', ':']).map(|(name, _)| name),
            SetupError::Client(_) => None,
        }
    }
}

/// What is wrong with a would-be PEM bundle.
#[derive(Debug, thiserror::Error)]
pub enum PemProblem {
    /// The text is not a PEM bundle reqwest can parse.
    #[error("is not a PEM certificate bundle: {0}")]
    Malformed(reqwest::Error),
    /// The text parses but holds no certificate.
    #[error("holds no PEM certificate")]
    Empty,
}

impl Tls {
    /// The bundle the port-ocean chart points at (`SSL_CERT_FILE`, also
    /// `REQUESTS_CA_BUNDLE`), the certificates mounted in [`LOCAL_CA_DIR`],
    /// and whether to verify at all.
    pub fn from_vars(
        vars: &std::collections::BTreeMap<String, String>,
        verify: bool,
    ) -> Result<Tls, SetupError> {
        Tls::from_vars_and_dir(vars, verify, std::path::Path::new(LOCAL_CA_DIR))
    }

    /// As [`Tls::from_vars`], with the directory of mounted certificates given.
    pub fn from_vars_and_dir(
        vars: &std::collections::BTreeMap<String, String>,
        verify: bool,
        ca_dir: &std::path::Path,
    ) -> Result<Tls, SetupError> {
        let named = ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"].iter().find_map(|name| {
            vars.get(*name)
                .filter(|v| !v.trim().is_empty())
                .map(|v| (*name, v.trim()))
        });
        let mut origins = Vec::new();
        let mut pem = Vec::new();
        if let Some((name, path)) = named {
            let text = std::fs::read(path).map_err(|source| SetupError::Unreadable {
                variable: name,
                path: path.to_string(),
                source,
            })?;
            check_pem(&text).map_err(|problem| SetupError::NotPem {
                origin: format!("{name}={path}"),
                problem,
            })?;
            origins.push(format!("{name}={path}"));
            pem.extend_from_slice(&text);
            pem.push(b'\n');
        }
        for (path, text) in mounted_certificates(ca_dir) {
            origins.push(path);
            pem.extend_from_slice(&text);
            pem.push(b'\n');
        }
        let ca_bundle = (!origins.is_empty()).then(|| (origins.join(" + "), pem));
        Ok(Tls { ca_bundle, verify })
    }
}

fn check_pem(text: &[u8]) -> Result<(), PemProblem> {
    let certificates = reqwest::Certificate::from_pem_bundle(text).map_err(PemProblem::Malformed)?;
    if certificates.is_empty() {
        return Err(PemProblem::Empty);
    }
    Ok(())
}

/// The PEM files (`.crt`, `.pem`, `.cer`) directly in `dir`, by name. A file
/// that cannot be read or holds no certificate is skipped with a warning, as
/// Ocean's start script skips it: one bad mount must not stop the integration.
fn mounted_certificates(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<_> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.is_file()
                && path
                    .extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| matches!(e, "crt" | "pem" | "cer"))
        })
        .collect();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|path| {
            let shown = path.display().to_string();
            let read = std::fs::read(&path).map_err(|e| e.to_string());
            match read.and_then(|text| check_pem(&text).map(|()| text).map_err(|e| e.to_string())) {
                Ok(text) => Some((shown, text)),
                Err(reason) => {
                    tracing::warn!("skipping the CA certificate {shown}: {reason}");
                    None
                }
            }
        })
        .collect()
}

/// A client with the platform's roots only and certificates verified; see [`build_client_with`].
pub fn build_client(user_agent: &str, timeout: Duration) -> Result<reqwest::Client, SetupError> {
    build_client_with(user_agent, timeout, &Tls::default())
}

/// The client every outgoing call uses: `user_agent` on every request, `timeout` for a whole
/// request (connect to last body byte), the extra roots of `tls` merged with the platform's, and
/// certificate checks off when `tls.verify` is false. Fails when a bundle does not parse.
pub fn build_client_with(
    user_agent: &str,
    timeout: Duration,
    tls: &Tls,
) -> Result<reqwest::Client, SetupError> {
    let mut builder = reqwest::Client::builder().user_agent(user_agent).timeout(timeout);
    if let Some((origin, pem)) = &tls.ca_bundle {
        let certificates = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| SetupError::NotPem {
            origin: origin.clone(),
            problem: PemProblem::Malformed(e),
        })?;
        builder = builder.tls_certs_merge(certificates);
    }
    if !tls.verify {
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    Ok(builder.build()?)
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

/// A reply read whole: what [`exchange`] returns, for the caller to judge the status.
pub struct RawReply {
    /// The status as received; a 4xx or 5xx is not an error here.
    pub status: StatusCode,
    /// The reply's headers (`Retry-After`, rate-limit and `Date` headers are read from these).
    pub headers: HeaderMap,
    /// The complete body.
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
        let pem = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/test-ca.pem");
        let vars = |name: &str, path: &str| [(name.to_string(), path.to_string())].into_iter().collect();
        let no_dir = std::path::Path::new("/no/such/dir");
        let tls = Tls::from_vars_and_dir(&vars("SSL_CERT_FILE", pem), true, no_dir).expect("a PEM bundle");
        assert!(
            tls.ca_bundle
                .as_ref()
                .is_some_and(|(origin, _)| origin.starts_with("SSL_CERT_FILE="))
        );
        build_client_with("test", Duration::from_secs(1), &tls).expect("the client takes the extra root");
        let not_pem = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml");
        let error =
            Tls::from_vars_and_dir(&vars("REQUESTS_CA_BUNDLE", not_pem), true, no_dir).expect_err("not PEM");
        assert!(error.to_string().starts_with("REQUESTS_CA_BUNDLE="), "{error}");
        assert_eq!(error.variable(), Some("REQUESTS_CA_BUNDLE"));
        let error = Tls::from_vars_and_dir(&vars("SSL_CERT_FILE", "/no/such/file.pem"), true, no_dir)
            .expect_err("missing");
        assert!(
            error
                .to_string()
                .starts_with("SSL_CERT_FILE: reading /no/such/file.pem"),
            "{error}"
        );
    }

    /// Port's chart sets `SSL_CERT_FILE` to the system bundle and mounts the
    /// custom CA beside it, in the directory Ocean's image reads at start.
    #[test]
    fn certificates_mounted_where_ports_chart_puts_them_are_trusted() {
        let dir = std::env::temp_dir().join(format!("ocean-ca-dir-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        let pem = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/test-ca.pem"
        ))
        .expect("fixture");
        std::fs::write(dir.join("cert.crt"), &pem).expect("write");
        std::fs::write(dir.join("broken.pem"), b"not a certificate").expect("write");
        std::fs::write(dir.join("notes.txt"), b"ignored").expect("write");
        let system = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/test-ca.pem");
        let vars = [("SSL_CERT_FILE".to_string(), system.to_string())]
            .into_iter()
            .collect();
        let tls = Tls::from_vars_and_dir(&vars, true, &dir).expect("the mounted CA is read");
        let (origin, bundle) = tls.ca_bundle.as_ref().expect("a bundle");
        assert_eq!(
            origin,
            &format!("SSL_CERT_FILE={system} + {}", dir.join("cert.crt").display())
        );
        let certificates = reqwest::Certificate::from_pem_bundle(bundle).expect("PEM");
        assert_eq!(
            certificates.len(),
            2,
            "the named bundle and the mounted certificate"
        );
        build_client_with("test", Duration::from_secs(1), &tls).expect("the client takes both");
        let only_dir = Tls::from_vars_and_dir(&Default::default(), true, &dir).expect("read");
        assert!(
            only_dir
                .ca_bundle
                .is_some_and(|(origin, _)| origin.ends_with("cert.crt"))
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn path_segments_are_encoded_one_by_one() {
        assert_eq!(
            path("/v1", &["blueprints", "svc", "entities", "org/repo name#1"]),
            "/v1/blueprints/svc/entities/org%2Frepo%20name%231"
        );
    }
}
