//! The plugin's settings: the integration config fields of `.port/spec.yaml`.

use std::time::Duration;

use crate::retry::RetryPolicy;
use crate::secret::Secret;

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

impl Service {
    /// Accepts the long names and Codecov's short forms, in any case.
    pub fn parse(text: &str) -> Result<Service, String> {
        Ok(match text.trim().to_ascii_lowercase().as_str() {
            "github" | "gh" => Service::Github,
            "gitlab" | "gl" => Service::Gitlab,
            "bitbucket" | "bb" => Service::Bitbucket,
            "github_enterprise" | "ghe" => Service::GithubEnterprise,
            "gitlab_enterprise" | "gle" => Service::GitlabEnterprise,
            "bitbucket_server" | "bbs" => Service::BitbucketServer,
            other => {
                return Err(format!(
                    "unknown Codecov service {other:?}: use github, gitlab, bitbucket, github_enterprise, \
                     gitlab_enterprise or bitbucket_server (or gh, gl, bb, ghe, gle, bbs)"
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

    /// The provider's commit page, for the cloud providers whose host is known.
    pub fn commit_page(self, owner: &str, repo: &str, sha: &str) -> Option<String> {
        match self {
            Service::Github => Some(format!("https://github.com/{owner}/{repo}/commit/{sha}")),
            Service::Gitlab => Some(format!("https://gitlab.com/{owner}/{repo}/-/commit/{sha}")),
            Service::Bitbucket => Some(format!("https://bitbucket.org/{owner}/{repo}/commits/{sha}")),
            _ => None,
        }
    }
}

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
            request_timeout: Duration::from_secs(60),
        }
    }

    /// From the integration's config fields (`.port/spec.yaml`), already
    /// checked for presence and type by the runtime.
    pub fn from_integration_config(
        config: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Self, String> {
        let text = |name: &str| config.get(name).and_then(|v| v.as_str()).map(str::to_string);
        let token = text("codecovToken").ok_or("codecovToken is required")?;
        let base_url = text("codecovUrl").unwrap_or_else(|| "https://api.codecov.io".into());
        let service = Service::parse(&text("codecovService").unwrap_or_else(|| "github".into()))
            .map_err(|e| format!("codecovService: {e}"))?;
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
            return Err("codecovOwners must name at least one Codecov owner".into());
        }
        let mut settings = CodecovSettings::new(base_url, Secret::new(token), service, owners);
        settings.app_url = text("codecovAppUrl");
        if let Some(size) = config.get("codecovPageSize").and_then(|v| v.as_u64()) {
            settings.page_size = u32::try_from(size.clamp(1, 10_000)).unwrap_or(100);
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
        assert!(Service::parse("svn").unwrap_err().contains("github"));
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
