//! The plugin's settings: the integration config fields of `.port/spec.yaml`.

use std::time::Duration;

use ocean_support::retry::RetryPolicy;
use ocean_support::secret::Secret;

/// A git provider as Codecov names it in API paths and dashboard URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Github,
    Gitlab,
    Bitbucket,
    GithubEnterprise,
    GitlabEnterprise,
    BitbucketServer,
}

/// A Codecov setting or selector field with a value it cannot take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {problem}")]
pub struct FieldError {
    /// The field as the user wrote it, e.g. `codecovService` or `selector.pullState`.
    pub field: String,
    /// What it must be, and what it was.
    pub problem: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

impl Service {
    /// Accepts the long names and Codecov's short forms, in any case.
    pub fn parse(text: &str) -> Result<Service, FieldError> {
        Ok(match text.trim().to_ascii_lowercase().as_str() {
            "github" | "gh" => Service::Github,
            "gitlab" | "gl" => Service::Gitlab,
            "bitbucket" | "bb" => Service::Bitbucket,
            "github_enterprise" | "ghe" => Service::GithubEnterprise,
            "gitlab_enterprise" | "gle" => Service::GitlabEnterprise,
            "bitbucket_server" | "bbs" => Service::BitbucketServer,
            other => {
                return Err(FieldError::new(
                    "codecovService",
                    format!(
                        "is an unknown Codecov service {other:?}: use github, gitlab, bitbucket, \
                         github_enterprise, gitlab_enterprise or bitbucket_server (or gh, gl, bb, ghe, gle, bbs)"
                    ),
                ));
            }
        })
    }

    /// The name API paths and payloads use.
    pub fn long(self) -> &'static str {
        match self {
            Service::Github => "github",
            Service::Gitlab => "gitlab",
            Service::Bitbucket => "bitbucket",
            Service::GithubEnterprise => "github_enterprise",
            Service::GitlabEnterprise => "gitlab_enterprise",
            Service::BitbucketServer => "bitbucket_server",
        }
    }

    /// The name Codecov's dashboard URLs use.
    pub fn short(self) -> &'static str {
        match self {
            Service::Github => "gh",
            Service::Gitlab => "gl",
            Service::Bitbucket => "bb",
            Service::GithubEnterprise => "ghe",
            Service::GitlabEnterprise => "gle",
            Service::BitbucketServer => "bbs",
        }
    }

    /// The provider's commit page, as Codecov's `service_url` gives it, for the
    /// cloud providers whose host is known. Codecov names GitLab subgroups
    /// `group:sub`; the page path has `group/sub`.
    pub fn commit_page(self, owner: &str, repo: &str, sha: &str) -> Option<String> {
        match self {
            Service::Github => Some(format!("https://github.com/{owner}/{repo}/commit/{sha}")),
            Service::Gitlab => Some(format!(
                "https://gitlab.com/{}/{repo}/commit/{sha}",
                owner.replace(':', "/")
            )),
            Service::Bitbucket => Some(format!("https://bitbucket.org/{owner}/{repo}/commits/{sha}")),
            _ => None,
        }
    }
}

/// How Codecov rounds a coverage difference (`coverage.round` in its YAML).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    /// Towards minus infinity (Python's `ROUND_FLOOR`): Codecov's site default.
    Down,
    /// Towards plus infinity (`ROUND_CEILING`).
    Up,
    /// Half to even (`ROUND_HALF_EVEN`).
    Nearest,
}

impl Rounding {
    pub fn parse(text: &str) -> Result<Rounding, FieldError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "down" => Ok(Rounding::Down),
            "up" => Ok(Rounding::Up),
            "nearest" => Ok(Rounding::Nearest),
            other => Err(FieldError::new(
                "codecovCoverageRound",
                format!("must be down, up or nearest, got {other:?}"),
            )),
        }
    }
}

/// Codecov's site defaults for `coverage.round` and `coverage.precision`.
pub const DEFAULT_ROUNDING: Rounding = Rounding::Down;
pub const DEFAULT_PRECISION: u8 = 2;
/// The coverage strings Codecov compares have 5 decimals; more places only add zeros.
pub const MAX_PRECISION: u8 = 5;

#[derive(Debug, Clone)]
pub struct CodecovSettings {
    /// API base, e.g. `https://api.codecov.io` or a self-hosted Codecov.
    pub base_url: String,
    /// Dashboard base for the URLs in items; derived from `base_url` when unset.
    pub app_url: Option<String>,
    pub token: Secret,
    pub service: Service,
    pub owners: Vec<String>,
    /// Items per API page (Codecov's default is 20 and it sets no maximum).
    pub page_size: u32,
    /// Repositories worked on at once within an owner.
    pub concurrency: usize,
    pub retry: RetryPolicy,
    pub request_timeout: Duration,
    /// `compare.coverage` of resync items is rounded as the repositories'
    /// Codecov YAML says (`coverage.round`, `coverage.precision`), which the
    /// API does not expose: these settings stand for it.
    pub coverage_round: Rounding,
    pub coverage_precision: u8,
    /// Certificate checks (Ocean's `OCEAN__SSL__THIRD_PARTY__*`, `SSL_CERT_FILE`).
    pub tls: ocean_support::http::Tls,
}

impl CodecovSettings {
    pub fn new(base_url: impl Into<String>, token: Secret, service: Service, owners: Vec<String>) -> Self {
        CodecovSettings {
            base_url: base_url.into(),
            app_url: None,
            token,
            service,
            owners,
            page_size: 100,
            concurrency: 8,
            retry: RetryPolicy::default(),
            request_timeout: ocean_support::http::DEFAULT_REQUEST_TIMEOUT,
            coverage_round: DEFAULT_ROUNDING,
            coverage_precision: DEFAULT_PRECISION,
            tls: ocean_support::http::Tls::default(),
        }
    }

    /// From the integration's config fields (`.port/spec.yaml`), already
    /// checked for presence and type by the runtime.
    pub fn from_integration_config(
        config: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Self, FieldError> {
        let text = |name: &str| config.get(name).and_then(|v| v.as_str()).map(str::to_string);
        let token = text("codecovToken").ok_or_else(|| FieldError::new("codecovToken", "is required"))?;
        let base_url = text("codecovUrl").unwrap_or_else(|| "https://api.codecov.io".into());
        let service = Service::parse(&text("codecovService").unwrap_or_else(|| "github".into()))?;
        let owners: Vec<String> = config
            .get("codecovOwners")
            .and_then(|v| v.as_array())
            .map(|list| {
                list.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if owners.is_empty() {
            return Err(FieldError::new(
                "codecovOwners",
                "must name at least one Codecov owner",
            ));
        }
        let mut settings = CodecovSettings::new(base_url, Secret::new(token), service, owners);
        settings.app_url = text("codecovAppUrl");
        if let Some(size) = config.get("codecovPageSize").and_then(|v| v.as_u64()) {
            settings.page_size = u32::try_from(size.clamp(1, 10_000)).unwrap_or(100);
        }
        if let Some(round) = text("codecovCoverageRound") {
            settings.coverage_round = Rounding::parse(&round)?;
        }
        if let Some(precision) = config.get("codecovCoveragePrecision") {
            settings.coverage_precision = precision
                .as_u64()
                .filter(|p| *p <= u64::from(MAX_PRECISION))
                .map(|p| p as u8)
                .ok_or_else(|| {
                    FieldError::new(
                        "codecovCoveragePrecision",
                        format!("must be a whole number from 0 to 5, got {precision}"),
                    )
                })?;
        }
        Ok(settings)
    }

    /// Codecov cloud's dashboard is `app.codecov.io`; a self-hosted Codecov
    /// serves both from one host.
    pub fn dashboard_url(&self) -> String {
        if let Some(app) = &self.app_url {
            return app.trim_end_matches('/').to_string();
        }
        let base = self.base_url.trim_end_matches('/');
        match base.strip_prefix("https://api.codecov.io") {
            Some("") => "https://app.codecov.io".into(),
            _ => base.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_parse_in_long_and_short_form() {
        assert_eq!(Service::parse("GH"), Ok(Service::Github));
        assert_eq!(Service::parse("bitbucket_server").map(Service::short), Ok("bbs"));
        assert!(Service::parse("svn").unwrap_err().problem.contains("github"));
    }

    #[test]
    fn gitlab_commit_pages_write_subgroups_with_slashes() {
        assert_eq!(
            Service::Gitlab.commit_page("group:sub", "api", "abc").as_deref(),
            Some("https://gitlab.com/group/sub/api/commit/abc")
        );
        assert_eq!(Service::GitlabEnterprise.commit_page("g", "r", "s"), None);
    }

    #[test]
    fn the_dashboard_of_codecov_cloud_is_app_codecov_io() {
        let cloud = CodecovSettings::new(
            "https://api.codecov.io/",
            Secret::default(),
            Service::Github,
            vec![],
        );
        assert_eq!(cloud.dashboard_url(), "https://app.codecov.io");
        let hosted = CodecovSettings::new("https://codecov.corp", Secret::default(), Service::Github, vec![]);
        assert_eq!(hosted.dashboard_url(), "https://codecov.corp");
    }
}
