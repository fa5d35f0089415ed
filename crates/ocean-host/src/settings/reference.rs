//! Every setting as the manual's configuration reference shows it (name,
//! variable, Helm value, default, meaning), made from the same constants the
//! reader uses and from the integration's `.port/spec.yaml`. `ocean-codecov
//! settings` prints it; a test holds the manual's page to it.

use serde_json::Value;

use super::{
    DEFAULT_HEARTBEAT_SECS, DEFAULT_HTTP_PORT, DEFAULT_JOURNAL_MAX_MB, DEFAULT_SHUTDOWN_GRACE_SECS,
    IntegrationSpec, NOT_USED, integration_variable,
};
use crate::settings::listener::DEFAULT_POLLING_INTERVAL_SECS;

/// One setting, as one row of the reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingDoc {
    /// The variable, e.g. `OCEAN__PORT__CLIENT_ID`.
    pub variable: String,
    /// The value of this repository's Helm chart that sets it, if one does.
    pub helm: Option<String>,
    /// What applies when it is not set (`required` when the start fails without it).
    pub default: Option<String>,
    /// What it does, in a sentence or two.
    pub meaning: String,
}

impl SettingDoc {
    /// The name in `config.yaml`: the variable without `OCEAN__`, parts in camelCase joined by `.`.
    pub fn name(&self) -> String {
        let variable = self.variable.strip_prefix("OCEAN__").unwrap_or(&self.variable);
        variable.split("__").map(camel_case).collect::<Vec<_>>().join(".")
    }
}

/// A titled group of settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingGroup {
    /// The group's heading in the manual.
    pub title: String,
    /// Its settings, in the manual's order.
    pub rows: Vec<SettingDoc>,
}

fn camel_case(part: &str) -> String {
    let mut out = String::new();
    for (i, word) in part.split('_').filter(|w| !w.is_empty()).enumerate() {
        let word = word.to_ascii_lowercase();
        if i == 0 {
            out.push_str(&word);
        } else {
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                out.extend(first.to_uppercase());
                out.push_str(chars.as_str());
            }
        }
    }
    out
}

fn row(variable: &str, helm: Option<&str>, default: Option<String>, meaning: &str) -> SettingDoc {
    SettingDoc {
        variable: variable.to_string(),
        helm: helm.map(str::to_string),
        default,
        meaning: meaning.to_string(),
    }
}

fn code(text: impl std::fmt::Display) -> Option<String> {
    Some(format!("`{text}`"))
}

/// The integration's own fields, from its spec.
fn integration_fields(spec: &IntegrationSpec) -> SettingGroup {
    let rows = spec
        .configurations
        .iter()
        .map(|field| {
            let helm = if field.sensitive {
                format!("integration.secrets.{}", field.name)
            } else {
                format!("integration.config.{}", field.name)
            };
            let default = match &field.default {
                Some(Value::String(text)) => code(text),
                Some(other) => code(other),
                None if field.required => Some("required".into()),
                None => None,
            };
            let mut meaning = field.description.clone();
            if field.sensitive {
                meaning.push_str(" Never printed.");
            }
            SettingDoc {
                variable: integration_variable(&field.name),
                helm: Some(helm),
                default,
                meaning,
            }
        })
        .collect();
    SettingGroup {
        title: spec.title.clone().unwrap_or_else(|| spec.kind.clone()),
        rows,
    }
}

/// Every setting, grouped, in the manual's order.
pub fn reference(spec: &IntegrationSpec) -> Vec<SettingGroup> {
    let retry = ocean_support::retry::RetryPolicy::default();
    let group = |title: &str, rows: Vec<SettingDoc>| SettingGroup {
        title: title.to_string(),
        rows,
    };
    let not_used_meaning = |variable: &str| -> &'static str {
        match variable {
            "OCEAN__PROCESS_EXECUTION_MODE" => {
                "Accepted and not used: one process serves everything. Logged once at start."
            }
            "OCEAN__STREAMING__ENABLED" => "Accepted and not used: no streaming mode. Logged once at start.",
            "OCEAN__CREATE_PORT_RESOURCES_ORIGIN" => {
                "Accepted and not used: resources are created from the built-in defaults. Logged once at start."
            }
            "OCEAN__OAUTH_ACCESS_TOKEN_FILE_PATH" => {
                "Accepted and not used: the source is reached with the integration's own credentials. Logged once at start."
            }
            "OCEAN__LIVE_EVENTS__IS_REDIS_STREAM_CONSUMER_ENABLED" => {
                "Accepted and not used: no Redis. Logged once at start."
            }
            _ => "Accepted and not used. Logged once at start.",
        }
    };
    let mut not_supported = vec![row(
        "OCEAN__ACTIONS_PROCESSOR__ENABLED",
        None,
        code(false),
        "`true` stops the start: this host does not process Port actions. Set it to `false` (Port's chart: \
         `actionsProcessor.enabled=false`).",
    )];
    not_supported.extend(
        NOT_USED
            .iter()
            .map(|variable| row(variable, None, None, not_used_meaning(variable))),
    );
    vec![
        group(
            "Port",
            vec![
                row(
                    "OCEAN__PORT__CLIENT_ID",
                    Some("port.clientId"),
                    Some("required".into()),
                    "The Port client ID (Port → Credentials).",
                ),
                row(
                    "OCEAN__PORT__CLIENT_SECRET",
                    Some("port.clientSecret"),
                    Some("required".into()),
                    "The Port client secret (Port → Credentials). Never printed.",
                ),
                row(
                    "OCEAN__PORT__BASE_URL",
                    Some("port.baseUrl"),
                    code("https://api.getport.io"),
                    "Port's API: `https://api.getport.io` (EU) or `https://api.us.getport.io` (US).",
                ),
                row(
                    "OCEAN__INITIALIZE_PORT_RESOURCES",
                    Some("initializePortResources"),
                    code(true),
                    "At first start, create the default blueprints if none of them exists (Ocean's rule; the record is then marked `arePortResourcesInitialized`). Existing blueprints are never changed.",
                ),
                row(
                    "OCEAN__SEND_RAW_DATA_EXAMPLES",
                    Some("sendRawDataExamples"),
                    code(true),
                    "Send each kind's first five raw items per resync to Port's mapping editor, secrets masked.",
                ),
            ],
        ),
        group(
            "Integration",
            vec![
                row(
                    "OCEAN__INTEGRATION__IDENTIFIER",
                    Some("integration.identifier"),
                    code(&spec.kind),
                    "The integration's identifier in Port (the chart's default is `my-<type>-integration`).",
                ),
                row(
                    "OCEAN__INTEGRATION__TYPE",
                    Some("integration.type"),
                    code(&spec.kind),
                    "The integration's type in Port; this build's type is the only one accepted.",
                ),
            ],
        ),
        integration_fields(spec),
        group(
            "Event listener and schedule",
            vec![
                row(
                    "OCEAN__EVENT_LISTENER",
                    Some("integration.eventListener"),
                    code(r#"{"type":"POLLING"}"#),
                    "The listener as one JSON object, as Port's chart passes it, e.g. \
                     `{\"type\":\"POLLING\",\"resyncOnStart\":true,\"interval\":60}`. Keys in snake_case or camelCase; \
                     other listeners' fields such as `brokers` are ignored.",
                ),
                row(
                    "OCEAN__EVENT_LISTENER__TYPE",
                    Some("integration.eventListener.type"),
                    code("POLLING"),
                    "`POLLING`, `ONCE`, `WEBHOOKS_ONLY` or `WEBHOOK`; wins over the JSON. `KAFKA` stops the start with \
                     one line naming the fix.",
                ),
                row(
                    "OCEAN__EVENT_LISTENER__INTERVAL",
                    Some("integration.eventListener.interval"),
                    code(DEFAULT_POLLING_INTERVAL_SECS),
                    "POLLING: seconds between polls of Port's resync requests.",
                ),
                row(
                    "OCEAN__EVENT_LISTENER__RESYNC_ON_START",
                    Some("integration.eventListener.resyncOnStart"),
                    code(true),
                    "POLLING: resync when starting.",
                ),
                row(
                    "OCEAN__EVENT_LISTENER__APP_HOST",
                    Some("integration.eventListener.appHost"),
                    code("OCEAN__BASE_URL"),
                    "WEBHOOK: Port is told to call `<app host>/resync` (the integration's `changelogDestination`). \
                     Required with that listener.",
                ),
                row(
                    "OCEAN__BASE_URL",
                    Some("liveEvents.baseUrl"),
                    None,
                    "Where the integration is reachable from outside; the WEBHOOK listener's default address. Other \
                     listeners only log it.",
                ),
                row(
                    "OCEAN__SCHEDULED_RESYNC_INTERVAL",
                    Some("scheduledResyncInterval"),
                    None,
                    "Minutes between scheduled resyncs, with any listener. A tick never aborts a running resync: it \
                     waits, and one resync follows. A decimal (`0.5`) is accepted for intervals under a minute. With \
                     the chart's CronJob the value is a cron schedule instead.",
                ),
                row(
                    "OCEAN__STATUS_HEARTBEAT_INTERVAL_SECONDS",
                    None,
                    code(DEFAULT_HEARTBEAT_SECS),
                    "Seconds between heartbeats to Port while a resync runs, as Ocean 0.56 sends them. At least 1.",
                ),
            ],
        ),
        group(
            "HTTP server and stopping",
            vec![
                row(
                    "OCEAN__HTTP__HOST",
                    None,
                    code("0.0.0.0"),
                    "Address the HTTP server listens on.",
                ),
                row(
                    "OCEAN__HTTP__PORT",
                    Some("service.port"),
                    code(DEFAULT_HTTP_PORT),
                    "Port the HTTP server listens on.",
                ),
                row(
                    "APPLICATION__PORT",
                    None,
                    code(DEFAULT_HTTP_PORT),
                    "Ocean's name for the HTTP port, used when `OCEAN__HTTP__PORT` is not set.",
                ),
                row(
                    "OCEAN__SHUTDOWN_GRACE_SECONDS",
                    Some("terminationGracePeriodSeconds"),
                    code(DEFAULT_SHUTDOWN_GRACE_SECS),
                    "A stop's whole budget (SIGTERM, Ctrl-C): drain live events, let the running resync report \
                     `aborted`, ship the last log lines. Keep it under the pod's `terminationGracePeriodSeconds`; the \
                     chart sets it 5 s under.",
                ),
            ],
        ),
        group(
            "Live-event journal",
            vec![
                row(
                    "OCEAN__JOURNAL__PATH",
                    None,
                    code(".ocean-journal/<integration identifier>"),
                    "Folder of the live-event journal. Webhooks are answered 2xx only once written there; replayed \
                     at start. The image and the chart set `/tmp/ocean/journal`.",
                ),
                row(
                    "OCEAN__JOURNAL__MAX_MB",
                    Some("journal.maxMb"),
                    code(DEFAULT_JOURNAL_MAX_MB),
                    "Disk bound of the journal in MiB. At the bound webhooks are refused with 507, logged and counted. \
                     At least 1.",
                ),
            ],
        ),
        group(
            "Outgoing requests",
            vec![
                row(
                    "OCEAN__CLIENT_TIMEOUT",
                    Some("clientTimeout"),
                    code(ocean_support::http::DEFAULT_REQUEST_TIMEOUT.as_secs()),
                    "Seconds each HTTP request to Port or the source may take.",
                ),
                row(
                    "OCEAN__RETRY__MAX_ATTEMPTS",
                    None,
                    code(retry.max_attempts),
                    "Attempts per call to Port or the source, the first included (1 to 100).",
                ),
                row(
                    "OCEAN__RETRY__BASE_DELAY_MS",
                    None,
                    code(retry.base_delay.as_millis()),
                    &format!(
                        "First backoff ceiling in milliseconds; doubles per attempt up to {} s, with full jitter.",
                        retry.max_delay.as_secs()
                    ),
                ),
                row(
                    "OCEAN__RETRY__MAX_TOTAL_WAIT_SECS",
                    None,
                    code(retry.max_total_wait.as_secs()),
                    "Most seconds one call may spend waiting between attempts.",
                ),
                row(
                    "OCEAN__SSL__PORT__VERIFY",
                    None,
                    code(true),
                    "Check Port's TLS certificates. `false` is warned about at start.",
                ),
                row(
                    "OCEAN__SSL__THIRD_PARTY__VERIFY",
                    None,
                    code(true),
                    "Check the source's TLS certificates. `false` is warned about at start.",
                ),
                row(
                    "SSL_CERT_FILE",
                    Some("selfSignedCertificate.enabled"),
                    None,
                    "A PEM bundle trusted besides the platform's roots, for Port and the source.",
                ),
                row(
                    "REQUESTS_CA_BUNDLE",
                    None,
                    None,
                    "The same, used when `SSL_CERT_FILE` is not set.",
                ),
            ],
        ),
        group(
            "Mapping",
            vec![row(
                "OCEAN__ALLOW_ENVIRONMENT_VARIABLES_JQ_ACCESS",
                Some("allowEnvironmentVariablesJqAccess"),
                code(true),
                "Mappings may read the environment through `env` and `$ENV`, never the integration's secrets: \
                 variables naming a credential (`CLIENT_SECRET`, `SECRET`, `PASSWORD`, `…TOKEN`, `…API_KEY`, …) and \
                 any variable holding a secret's value are left out.",
            )],
        ),
        group(
            "Logging",
            vec![
                row(
                    "APPLICATION__LOG_LEVEL",
                    None,
                    code("INFO"),
                    "`DEBUG`, `INFO`, `WARNING` or `ERROR`.",
                ),
                row(
                    "OCEAN__LOG_LEVEL",
                    None,
                    code("INFO"),
                    "The same, when `APPLICATION__LOG_LEVEL` is not set.",
                ),
                row(
                    "RUST_LOG",
                    Some("integration.extraConfig.rustLog"),
                    None,
                    "A filter directive (`info`, `ocean_host=debug`); wins over both log levels.",
                ),
                row(
                    "APPLICATION__LOG_FORMAT",
                    None,
                    code("text"),
                    "`text` (colours only on a terminal) or `json` (one object per line: `message`, `level`, \
                     `timestamp`, `extra`).",
                ),
                row(
                    "APPLICATION__ENABLE_HTTP_LOGGING",
                    None,
                    code(true),
                    "Ship the integration's log lines to Port's logs view: batched by 100 or 5 s, at most 5,000 \
                     waiting, secrets masked.",
                ),
                row(
                    "NO_COLOR",
                    None,
                    None,
                    "Set to anything: no colours in text logs, even on a terminal.",
                ),
            ],
        ),
        group("Not supported", not_supported),
    ]
}

/// The reference as the manual's markdown: one table per group.
pub fn render(groups: &[SettingGroup]) -> String {
    let cell = |text: &Option<String>| text.clone().unwrap_or_else(|| "—".into());
    let mut out = String::new();
    for group in groups {
        out.push_str(&format!("### {}\n\n", group.title));
        out.push_str("| name | variable | Helm value | default | meaning |\n|---|---|---|---|---|\n");
        for row in &group.rows {
            let helm = row.helm.as_ref().map(|h| format!("`{h}`"));
            out.push_str(&format!(
                "| `{}` | `{}` | {} | {} | {} |\n",
                row.name(),
                row.variable,
                cell(&helm),
                cell(&row.default),
                row.meaning.replace('|', "\\|")
            ));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::VARIABLES;

    const SPEC: &str = "type: example\ntitle: Example\nconfigurations:\n  - name: apiToken\n    required: true\n    \
                        sensitive: true\n    description: The token.\n  - name: pageSize\n    type: integer\n    \
                        default: 100\n    description: Items per page.\n";

    #[test]
    fn names_are_the_variables_in_camel_case() {
        let doc = row("OCEAN__SSL__THIRD_PARTY__VERIFY", None, None, "");
        assert_eq!(doc.name(), "ssl.thirdParty.verify");
        assert_eq!(
            row("APPLICATION__LOG_LEVEL", None, None, "").name(),
            "application.logLevel"
        );
        assert_eq!(row("SSL_CERT_FILE", None, None, "").name(), "sslCertFile");
    }

    #[test]
    fn every_variable_the_settings_read_is_in_the_reference() {
        let spec = IntegrationSpec::parse(SPEC).expect("spec");
        let documented: Vec<String> = reference(&spec)
            .iter()
            .flat_map(|g| g.rows.iter().map(|r| r.variable.clone()))
            .collect();
        for variable in VARIABLES.iter().chain(NOT_USED) {
            assert!(
                documented.iter().any(|d| d == variable),
                "{variable} is not in the reference"
            );
        }
        assert!(documented.contains(&"OCEAN__INTEGRATION__CONFIG__API_TOKEN".to_string()));
    }

    #[test]
    fn the_integrations_fields_come_from_its_spec() {
        let spec = IntegrationSpec::parse(SPEC).expect("spec");
        let text = render(&reference(&spec));
        assert!(text.contains(
            "| `integration.config.apiToken` | `OCEAN__INTEGRATION__CONFIG__API_TOKEN` | \
             `integration.secrets.apiToken` | required | The token. Never printed. |"
        ));
        assert!(text.contains(
            "| `integration.config.pageSize` | `OCEAN__INTEGRATION__CONFIG__PAGE_SIZE` | \
             `integration.config.pageSize` | `100` | Items per page. |"
        ));
        assert!(text.contains("### Example\n"));
    }
}
