//! Settings, read as Ocean reads them: `OCEAN__`-prefixed environment
//! variables with `__` for nesting, over an optional `config.yaml` whose values
//! may be `{{ from env NAME }}` (see `sources`). The integration's own fields
//! are checked against `.port/spec.yaml` (see `spec`). Faults name the variable
//! and what it expects; secrets are never shown.

mod listener;
mod ocean_extras;
pub mod reference;
mod sources;
mod spec;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

pub use listener::{LISTENER_JSON, unsupported_listener_message};
pub use ocean_extras::OceanExtras;
use ocean_support::secret::Secret;
use sources::{read_tree, text, variable};
pub use spec::{IntegrationSpec, SpecField, integration_variable};

/// Every fixed variable the settings read (the integration's own fields come
/// from `.port/spec.yaml` as `OCEAN__INTEGRATION__CONFIG__<FIELD_IN_UPPER_SNAKE>`).
pub const VARIABLES: &[&str] = &[
    "OCEAN__PORT__CLIENT_ID",
    "OCEAN__PORT__CLIENT_SECRET",
    "OCEAN__PORT__BASE_URL",
    "OCEAN__INTEGRATION__IDENTIFIER",
    "OCEAN__INTEGRATION__TYPE",
    "OCEAN__EVENT_LISTENER",
    "OCEAN__EVENT_LISTENER__TYPE",
    "OCEAN__EVENT_LISTENER__INTERVAL",
    "OCEAN__EVENT_LISTENER__RESYNC_ON_START",
    "OCEAN__SCHEDULED_RESYNC_INTERVAL",
    "OCEAN__STATUS_HEARTBEAT_INTERVAL_SECONDS",
    "OCEAN__SHUTDOWN_GRACE_SECONDS",
    "OCEAN__INITIALIZE_PORT_RESOURCES",
    "OCEAN__HTTP__HOST",
    "OCEAN__HTTP__PORT",
    "OCEAN__RETRY__MAX_ATTEMPTS",
    "OCEAN__RETRY__BASE_DELAY_MS",
    "OCEAN__RETRY__MAX_TOTAL_WAIT_SECS",
    "OCEAN__CLIENT_TIMEOUT",
    "OCEAN__ALLOW_ENVIRONMENT_VARIABLES_JQ_ACCESS",
    "OCEAN__SEND_RAW_DATA_EXAMPLES",
    "OCEAN__BASE_URL",
    "OCEAN__SSL__PORT__VERIFY",
    "OCEAN__SSL__THIRD_PARTY__VERIFY",
    "OCEAN__EVENT_LISTENER__APP_HOST",
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "APPLICATION__PORT",
    "APPLICATION__LOG_LEVEL",
    "APPLICATION__LOG_FORMAT",
    "APPLICATION__ENABLE_HTTP_LOGGING",
    "OCEAN__ACTIONS_PROCESSOR__ENABLED",
    "OCEAN__JOURNAL__PATH",
    "OCEAN__JOURNAL__MAX_MB",
];

/// Variables Port's `port-ocean` chart sets for features this host does not
/// have (Kafka, multi-process workers, Port's data-streaming and actions
/// modes, OAuth installs): accepted, logged once at start as not used.
pub const NOT_USED: &[&str] = &[
    "OCEAN__PROCESS_EXECUTION_MODE",
    "OCEAN__LAKEHOUSE_ENABLED",
    "OCEAN__PROCESSING_MODE",
    "OCEAN__STREAMING__ENABLED",
    "OCEAN__CREATE_PORT_RESOURCES_ORIGIN",
    "OCEAN__OAUTH_ACCESS_TOKEN_FILE_PATH",
    "OCEAN__LIVE_EVENTS__IS_REDIS_STREAM_CONSUMER_ENABLED",
];

/// How resyncs are triggered (`OCEAN__EVENT_LISTENER__TYPE`, Ocean's listener types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerKind {
    /// One resync, then the process exits with its outcome (a CronJob's run).
    Once,
    /// Serve, and poll Port for resync requests made in its UI (the default).
    Polling,
    /// Serve webhooks only: no resync at start, no polling; resyncs come from `POST /resync` and the schedule.
    WebhooksOnly,
    /// Ocean's `WEBHOOK` listener: Port calls the integration; here it is served like WEBHOOKS_ONLY.
    Webhook,
}

/// Everything the host reads at start, checked; made by [`Settings::load`].
#[derive(Debug, Clone)]
pub struct Settings {
    /// Port's API, without `/v1` (`OCEAN__PORT__BASE_URL`, default `https://api.getport.io`).
    pub port_base_url: String,
    /// The Port client ID (`OCEAN__PORT__CLIENT_ID`, required).
    pub port_client_id: String,
    /// The Port client secret (`OCEAN__PORT__CLIENT_SECRET`, required).
    pub port_client_secret: Secret,
    /// The installation's identifier in Port (`OCEAN__INTEGRATION__IDENTIFIER`; defaults to the type).
    pub integration_identifier: String,
    /// The integration type; must be the spec's `type` (`OCEAN__INTEGRATION__TYPE`).
    pub integration_type: String,
    /// The integration's fields (camelCase, as in `.port/spec.yaml`), defaults applied.
    pub integration_config: Map<String, Value>,
    /// How resyncs are triggered.
    pub listener: ListenerKind,
    /// Seconds between polls of Port's resync requests (POLLING).
    pub polling_interval_secs: u64,
    /// Resync when the process starts, with POLLING (`OCEAN__EVENT_LISTENER__RESYNC_ON_START`, default true).
    pub resync_on_start: bool,
    /// Time between scheduled resyncs, with any listener
    /// (`OCEAN__SCHEDULED_RESYNC_INTERVAL`, in minutes).
    pub scheduled_resync_interval: Option<ResyncInterval>,
    /// Seconds between heartbeats to Port while a resync runs (Ocean 0.56's
    /// `OCEAN__STATUS_HEARTBEAT_INTERVAL_SECONDS`, default 10).
    pub status_heartbeat_interval_secs: u64,
    /// Seconds a stop (SIGTERM, Ctrl-C) may take in all, to fit the pod's
    /// `terminationGracePeriodSeconds` (`OCEAN__SHUTDOWN_GRACE_SECONDS`; ours).
    pub shutdown_grace_secs: u64,
    /// Create the default blueprints in Port when missing (`OCEAN__INITIALIZE_PORT_RESOURCES`,
    /// default true). The default mapping comes with the integration's registration either way.
    pub initialize_port_resources: bool,
    /// The address the HTTP server binds (`OCEAN__HTTP__HOST`, default `0.0.0.0`).
    pub http_host: String,
    /// The HTTP server's port (`OCEAN__HTTP__PORT`, else Ocean's `APPLICATION__PORT`, default 8000).
    pub http_port: u16,
    /// When set, webhooks and `POST /resync` must carry it. The plugin's wiring
    /// says which of the integration's fields holds it.
    pub webhook_secret: Option<Secret>,
    /// Retry policy for every outgoing call (this project's addition to Ocean's settings).
    pub retry: ocean_support::retry::RetryPolicy,
    /// Seconds before one outgoing HTTP request times out (Ocean's `OCEAN__CLIENT_TIMEOUT`).
    pub client_timeout_secs: Option<u64>,
    /// Let mappings read the environment with `env` / `$ENV` (Ocean's
    /// `OCEAN__ALLOW_ENVIRONMENT_VARIABLES_JQ_ACCESS`; on by default, as Ocean; the
    /// integration's own secrets are never readable, see `redact::is_secret_variable`).
    pub allow_environment_variables_jq_access: bool,
    /// Send a few raw items of each kind to Port as mapping examples (`OCEAN__SEND_RAW_DATA_EXAMPLES`).
    pub send_raw_data_examples: bool,
    /// The integration's public URL (`OCEAN__BASE_URL`); Ocean registers webhooks with it. Kept
    /// for the log: the source's webhooks are set up by hand.
    pub base_url: Option<String>,
    /// TLS and the WEBHOOK listener's address (Ocean's names and defaults).
    pub ocean: OceanExtras,
    /// Where accepted live events wait until they reach Port (`OCEAN__JOURNAL__PATH`).
    pub journal_path: std::path::PathBuf,
    /// Most disk the journal may take; past it webhooks are refused with 507.
    pub journal_max_bytes: u64,
}

/// A stop's whole budget by default: inside Kubernetes' default grace period
/// of 30 s, with room for the kubelet's own margin.
pub const DEFAULT_SHUTDOWN_GRACE_SECS: u64 = 25;
/// Seconds between heartbeats while a resync runs, as Ocean 0.56's default.
pub const DEFAULT_HEARTBEAT_SECS: u64 = 10;
/// The HTTP server's port, as Ocean's.
pub const DEFAULT_HTTP_PORT: u16 = 8000;
/// The live-event journal's disk bound, in MiB.
pub const DEFAULT_JOURNAL_MAX_MB: u64 = 1024;

/// The schedule's interval: minutes, as Ocean's `OCEAN__SCHEDULED_RESYNC_INTERVAL`.
/// Ocean takes whole minutes; a decimal (`0.5`) is accepted here too, for
/// intervals under a minute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResyncInterval {
    /// As the user gave it (reported to Port as `intervalInMinuets`).
    pub minutes: f64,
}

/// Longest interval accepted: about 1,900 years, far past any timer's need.
const MAX_INTERVAL_MINUTES: f64 = 1e9;

impl ResyncInterval {
    /// `None` when unset or 0 (no schedule); a fault for anything but a positive number.
    fn read(value: Option<String>, errors: &mut Vec<SettingError>) -> Option<ResyncInterval> {
        let value = value?;
        let fault = |message: String| SettingError {
            variable: variable(&["scheduled_resync_interval"]),
            message,
        };
        match value.trim().parse::<f64>() {
            Ok(0.0) => None,
            Ok(minutes) if minutes.is_finite() && minutes > 0.0 && minutes <= MAX_INTERVAL_MINUTES => {
                Some(ResyncInterval { minutes })
            }
            Ok(minutes) if minutes > MAX_INTERVAL_MINUTES => {
                errors.push(fault(format!("{minutes} minutes is too long an interval")));
                None
            }
            _ => {
                errors.push(fault(format!("must be a number of minutes, got {value:?}")));
                None
            }
        }
    }

    /// The interval as a timer's period: at least one second.
    pub fn duration(&self) -> std::time::Duration {
        // At least 1 s: a timer of 0 would spin.
        std::time::Duration::from_secs_f64((self.minutes * 60.0).max(1.0))
    }

    /// The interval as Port's `intervalInMinuets` carries it: whole minutes as an integer.
    pub fn to_json(&self) -> Value {
        if self.minutes.fract() == 0.0 {
            Value::from(self.minutes as u64)
        } else {
            Value::from(self.minutes)
        }
    }
}

/// One fault in the settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct SettingError {
    /// The environment variable a user would set to fix it.
    pub variable: String,
    /// What is wrong and what it expects (a secret's value is never shown).
    pub message: String,
}

/// Every fault found, each naming its variable: one on one line, several one per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingErrors(pub Vec<SettingError>);

impl std::fmt::Display for SettingErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.as_slice() {
            [one] => write!(f, "invalid settings: {one}"),
            all => {
                write!(f, "invalid settings:")?;
                for fault in all {
                    write!(f, "\n  {fault}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for SettingErrors {}

impl Settings {
    /// Reads settings from `vars` (the process environment in production) over
    /// the optional config file.
    pub fn load(
        vars: &BTreeMap<String, String>,
        config_file: Option<&Path>,
        spec: &IntegrationSpec,
    ) -> Result<Settings, SettingErrors> {
        let mut errors = Vec::new();
        let tree = read_tree(vars, config_file, &mut errors);
        let mut r = Reader {
            tree: &tree,
            vars,
            errors,
        };
        let port_client_id = r.required(&["port", "client_id"], "the Port client ID (Port → Credentials)");
        let port_client_secret = Secret::new(r.required(
            &["port", "client_secret"],
            "the Port client secret (Port → Credentials)",
        ));
        let (integration_identifier, integration_type) = r.identity(spec);
        let scheduled_resync_interval =
            ResyncInterval::read(r.text(&["scheduled_resync_interval"]), &mut r.errors);
        let listener = match listener::read(&tree, vars, &mut r.errors) {
            Ok(listener) => listener,
            // A listener this host cannot run is the one fault shown, so the start fails with one line.
            Err(fault) => return Err(SettingErrors(vec![fault])),
        };
        let client_timeout_secs = r.number(&["client_timeout"], None).filter(|s| *s > 0);
        let status_heartbeat_interval_secs = r.positive(
            &["status_heartbeat_interval_seconds"],
            DEFAULT_HEARTBEAT_SECS,
            "seconds",
        );
        let shutdown_grace_secs = r.positive(
            &["shutdown_grace_seconds"],
            DEFAULT_SHUTDOWN_GRACE_SECS,
            "seconds",
        );
        let http_port = r.http_port();
        let retry = r.retry();
        // Ocean's default; the integration's own secrets stay out of `env` either way.
        let allow_environment_variables_jq_access = r.flag(&["allow_environment_variables_jq_access"], true);
        let initialize_port_resources = r.flag(&["initialize_port_resources"], true);
        let send_raw_data_examples = r.flag(&["send_raw_data_examples"], true);
        let integration_config = spec::integration_fields(&tree, spec, &mut r.errors);
        let ocean = ocean_extras::read(&tree, vars, &mut r.errors);
        if listener.kind == ListenerKind::Webhook && ocean.app_host.is_none() {
            r.fault(
                &["event_listener", "app_host"],
                "is required with the WEBHOOK listener: the URL Port calls to ask for a resync \
                 (OCEAN__BASE_URL also serves)",
            );
        }
        let journal_max_bytes = r
            .positive(&["journal", "max_mb"], 1024, "MiB")
            .saturating_mul(1024 * 1024);
        let journal_path = r.text(&["journal", "path"]).map_or_else(
            || crate::journal::default_journal_dir(&integration_identifier),
            std::path::PathBuf::from,
        );
        if !r.errors.is_empty() {
            return Err(SettingErrors(r.errors));
        }
        Ok(Settings {
            port_base_url: r
                .text(&["port", "base_url"])
                .unwrap_or_else(|| "https://api.getport.io".into()),
            port_client_id,
            port_client_secret,
            integration_identifier,
            integration_type,
            integration_config,
            listener: listener.kind,
            polling_interval_secs: listener.polling_interval_secs,
            resync_on_start: listener.resync_on_start,
            scheduled_resync_interval,
            status_heartbeat_interval_secs,
            shutdown_grace_secs,
            initialize_port_resources,
            http_host: r.text(&["http", "host"]).unwrap_or_else(|| "0.0.0.0".into()),
            http_port,
            webhook_secret: None,
            retry,
            client_timeout_secs,
            allow_environment_variables_jq_access,
            send_raw_data_examples,
            base_url: r.text(&["base_url"]),
            ocean,
            journal_path,
            journal_max_bytes,
        })
    }
}

/// Reads settings from the merged tree, collecting every fault (each names
/// its variable) so a start shows them all at once.
struct Reader<'a> {
    tree: &'a Map<String, Value>,
    vars: &'a BTreeMap<String, String>,
    errors: Vec<SettingError>,
}

impl Reader<'_> {
    fn text(&self, path: &[&str]) -> Option<String> {
        text(self.tree, path)
    }

    fn fault(&mut self, path: &[&str], message: impl Into<String>) {
        self.errors.push(SettingError {
            variable: variable(path),
            message: message.into(),
        });
    }

    fn required(&mut self, path: &[&str], what: &str) -> String {
        self.text(path).unwrap_or_else(|| {
            self.fault(path, format!("is required: {what}"));
            String::new()
        })
    }

    /// A whole number; `default` when unset, or (with a fault) when not a number.
    fn number(&mut self, path: &[&str], default: Option<u64>) -> Option<u64> {
        let Some(value) = self.text(path) else {
            return default;
        };
        match value.trim().parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => {
                self.fault(path, format!("must be a whole number, got {value:?}"));
                default
            }
        }
    }

    /// A whole number of `unit`, at least 1.
    fn positive(&mut self, path: &[&str], default: u64, unit: &str) -> u64 {
        let n = self.number(path, Some(default)).unwrap_or(default);
        if n == 0 {
            self.fault(path, format!("must be at least 1 ({unit})"));
        }
        n
    }

    fn flag(&mut self, path: &[&str], default: bool) -> bool {
        sources::flag(self.tree, path, default, &mut self.errors)
    }

    /// The integration's identifier and type (this build's type unless set, and only it).
    fn identity(&mut self, spec: &IntegrationSpec) -> (String, String) {
        let identifier = self
            .text(&["integration", "identifier"])
            .unwrap_or_else(|| spec.kind.clone());
        let integration_type = self
            .text(&["integration", "type"])
            .unwrap_or_else(|| spec.kind.clone());
        if integration_type != spec.kind {
            self.fault(
                &["integration", "type"],
                format!(
                    "this build is the {:?} integration, got {integration_type:?}",
                    spec.kind
                ),
            );
        }
        (identifier, integration_type)
    }

    /// `OCEAN__HTTP__PORT`, or Ocean's `APPLICATION__PORT` when ours is not set.
    fn http_port(&mut self) -> u16 {
        let port = match (self.text(&["http", "port"]), self.vars.get("APPLICATION__PORT")) {
            (None, Some(port)) => match port.trim().parse::<u64>() {
                Ok(port) => port,
                Err(_) => {
                    self.errors.push(SettingError {
                        variable: "APPLICATION__PORT".into(),
                        message: format!("must be a whole number, got {port:?}"),
                    });
                    u64::from(DEFAULT_HTTP_PORT)
                }
            },
            _ => self
                .number(&["http", "port"], Some(u64::from(DEFAULT_HTTP_PORT)))
                .unwrap_or(u64::from(DEFAULT_HTTP_PORT)),
        };
        u16::try_from(port).unwrap_or_else(|_| {
            self.fault(&["http", "port"], "must be a port number");
            DEFAULT_HTTP_PORT
        })
    }

    fn retry(&mut self) -> ocean_support::retry::RetryPolicy {
        let default = ocean_support::retry::RetryPolicy::default();
        ocean_support::retry::RetryPolicy {
            max_attempts: self
                .number(&["retry", "max_attempts"], Some(u64::from(default.max_attempts)))
                .map_or(default.max_attempts, |n| n.clamp(1, 100) as u32),
            base_delay: self
                .number(&["retry", "base_delay_ms"], None)
                .map_or(default.base_delay, std::time::Duration::from_millis),
            max_delay: default.max_delay,
            max_total_wait: self
                .number(&["retry", "max_total_wait_secs"], None)
                .map_or(default.max_total_wait, std::time::Duration::from_secs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A small plugin's spec: a secret, a URL with a default, a required list.
    const TEST_SPEC: &str = "type: example
configurations:
  - name: apiToken
    required: true
    type: string
    sensitive: true
    description: the API token
  - name: apiUrl
    type: url
    default: https://api.example.com
    description: the API's base URL
  - name: owners
    required: true
    type: array
    description: whose records to sync
";

    fn spec() -> IntegrationSpec {
        IntegrationSpec::parse(TEST_SPEC).expect("the test spec parses")
    }

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn minimal() -> Vec<(&'static str, &'static str)> {
        vec![
            ("OCEAN__PORT__CLIENT_ID", "id"),
            ("OCEAN__PORT__CLIENT_SECRET", "s3cret"),
            ("OCEAN__INTEGRATION__CONFIG__API_TOKEN", "tok3n"),
            ("OCEAN__INTEGRATION__CONFIG__OWNERS", r#"["a","b"]"#),
        ]
    }

    /// What `Settings::load` says of settings it refuses.
    fn refusal(pairs: &[(&str, &str)]) -> String {
        Settings::load(&vars(pairs), None, &spec())
            .expect_err("refused")
            .to_string()
    }

    #[test]
    fn oceans_extra_settings_take_oceans_names_and_defaults() {
        let settings = Settings::load(&vars(&minimal()), None, &spec()).expect("valid");
        assert!(settings.allow_environment_variables_jq_access, "Ocean's default");
        assert!(settings.send_raw_data_examples);
        assert!(settings.ocean.port_tls.verify);
        // No bundle was named (a machine's mounted CA directory may still add one).
        let origin = settings
            .ocean
            .port_tls
            .ca_bundle
            .as_ref()
            .map(|(origin, _)| origin.as_str());
        assert!(
            !origin.unwrap_or_default().contains("SSL_CERT_FILE"),
            "{origin:?}"
        );
        let mut pairs = minimal();
        pairs.extend([
            ("OCEAN__ALLOW_ENVIRONMENT_VARIABLES_JQ_ACCESS", "false"),
            ("OCEAN__SSL__THIRD_PARTY__VERIFY", "false"),
            ("OCEAN__EVENT_LISTENER__TYPE", "WEBHOOK"),
            ("OCEAN__BASE_URL", "https://integration.example.com/"),
            ("APPLICATION__PORT", "9000"),
        ]);
        let settings = Settings::load(&vars(&pairs), None, &spec()).expect("valid");
        assert!(!settings.allow_environment_variables_jq_access);
        assert!(settings.ocean.port_tls.verify && !settings.ocean.source_tls.verify);
        assert_eq!(
            settings.ocean.app_host.as_deref(),
            Some("https://integration.example.com")
        );
        assert_eq!(settings.http_port, 9000);
        let mut pairs = minimal();
        pairs.extend([
            ("OCEAN__EVENT_LISTENER__TYPE", "WEBHOOK"),
            ("OCEAN__ACTIONS_PROCESSOR__ENABLED", "true"),
        ]);
        let errors = Settings::load(&vars(&pairs), None, &spec())
            .expect_err("invalid")
            .to_string();
        assert!(
            errors.contains("OCEAN__EVENT_LISTENER__APP_HOST: is required"),
            "{errors}"
        );
        assert!(
            errors.contains("OCEAN__ACTIONS_PROCESSOR__ENABLED: this host does not process Port actions"),
            "{errors}"
        );
    }

    #[test]
    fn reads_oceans_variables_with_defaults() {
        let mut pairs = minimal();
        pairs.push(("OCEAN__EVENT_LISTENER__TYPE", "once"));
        pairs.push(("OCEAN__SCHEDULED_RESYNC_INTERVAL", "30"));
        let settings = Settings::load(&vars(&pairs), None, &spec()).expect("valid");
        assert_eq!(settings.listener, ListenerKind::Once);
        assert_eq!(
            settings.scheduled_resync_interval,
            Some(ResyncInterval { minutes: 30.0 })
        );
        assert_eq!(settings.integration_config["owners"], json!(["a", "b"]));
        assert_eq!(settings.integration_config["apiUrl"], "https://api.example.com");
        assert_eq!(settings.port_base_url, "https://api.getport.io");
        assert_eq!(settings.http_port, 8000);
        assert!(!format!("{settings:?}").contains("s3cret"));
    }

    #[test]
    fn an_interval_too_long_to_count_in_milliseconds_is_refused() {
        let mut pairs = minimal();
        let huge = (u64::MAX / 60_000 + 1).to_string();
        pairs.push(("OCEAN__SCHEDULED_RESYNC_INTERVAL", huge.as_str()));
        let errors = refusal(&pairs);
        assert!(errors.contains("OCEAN__SCHEDULED_RESYNC_INTERVAL: "), "{errors}");
    }

    #[test]
    fn lists_also_accept_commas() {
        let mut pairs = minimal();
        pairs[3] = ("OCEAN__INTEGRATION__CONFIG__OWNERS", "a, b");
        let settings = Settings::load(&vars(&pairs), None, &spec()).expect("valid");
        assert_eq!(settings.integration_config["owners"], json!(["a", "b"]));
    }

    #[test]
    fn faults_name_the_variable_and_hide_secrets() {
        let pairs = [
            ("OCEAN__PORT__CLIENT_ID", "id"),
            ("OCEAN__INTEGRATION__CONFIG__API_URL", "ftp://x"),
            ("OCEAN__EVENT_LISTENER__TYPE", "SOMETIMES"),
            ("OCEAN__INTEGRATION__CONFIG__API_TOKEN", "{\"not\": \"a string\"}"),
        ];
        let errors = refusal(&pairs);
        assert!(
            errors.contains("OCEAN__PORT__CLIENT_SECRET: is required"),
            "{errors}"
        );
        assert!(
            errors.contains("OCEAN__INTEGRATION__CONFIG__API_URL: must be an http(s) URL"),
            "{errors}"
        );
        assert!(
            errors.contains("OCEAN__INTEGRATION__CONFIG__OWNERS: is required"),
            "{errors}"
        );
        assert!(
            errors.contains("OCEAN__EVENT_LISTENER__TYPE: type must be ONCE"),
            "{errors}"
        );
        assert!(
            errors.contains("OCEAN__INTEGRATION__CONFIG__API_TOKEN: must be string, got (hidden)"),
            "{errors}"
        );
    }

    #[test]
    fn config_yaml_reads_env_templates_and_env_wins() {
        let dir = std::env::temp_dir().join(format!("ocean-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("config.yaml");
        std::fs::write(
            &file,
            "port:\n  clientId: \"{{ from env MY_ID }}\"\n  clientSecret: file-secret\nintegration:\n  identifier: from-file\n  config:\n    apiToken: t\n    owners: [\"x\"]\n",
        )
        .expect("write");
        let settings = Settings::load(
            &vars(&[
                ("MY_ID", "templated"),
                ("OCEAN__INTEGRATION__IDENTIFIER", "from-env"),
            ]),
            Some(&file),
            &spec(),
        )
        .expect("valid");
        assert_eq!(settings.port_client_id, "templated");
        assert_eq!(settings.integration_identifier, "from-env");
        assert_eq!(settings.integration_config["owners"], json!(["x"]));
        let _ = std::fs::remove_dir_all(dir);
    }
}
