//! The Helm chart, its values and the binary agree.
//!
//! Text checks (always): every value in values.yaml is read by a template and
//! every value a template reads is defined; the defaults are those of Port's
//! `port-ocean` chart; every variable the chart sets is one the binary reads.
//!
//! Rendered checks (with the real `helm`, path in `HELM`; `.ci/run` installs it): every values file in the chart's `ci/`
//! renders, and the environment each rendered container gets (its ConfigMap,
//! Secret and own variables) is read by the binary's settings as intended.
//! Manifest schemas, `helm lint` and the refused values are checked by
//! `.ci/helm-check.sh`.
//!
//! Port's chart with this image: the environment Port's `port-ocean` chart
//! renders (tests/data/helm/port-ocean-0.21.0-env.json) is read as intended,
//! its default KAFKA listener stops the binary with one line, and its CronJob's
//! environment runs a resync against the simulators.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use ocean_host::settings::{
    IntegrationSpec, ListenerKind, NOT_USED, Settings, VARIABLES, integration_variable,
};
use serde::Deserialize;
use serde_json::{Value, json};

const CHART: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/helm/ocean-codecov");

/// Template variables that stand for a values subtree (`$le := .Values.liveEvents`).
const ALIASES: &[(&str, &str)] = &[
    ("$le.", ".Values.liveEvents."),
    ("$cron.", ".Values.workload.cron."),
];

/// Values a template reads that values.yaml leaves out on purpose, as Port's chart does
/// (commented examples there and here).
const OPTIONAL: &[&str] = &[
    "createPortResourcesOrigin",
    "livenessProbe.initialDelaySeconds",
    "livenessProbe.periodSeconds",
    "livenessProbe.timeoutSeconds",
    "livenessProbe.failureThreshold",
    "readinessProbe.initialDelaySeconds",
    "readinessProbe.periodSeconds",
    "readinessProbe.timeoutSeconds",
    "readinessProbe.successThreshold",
    "readinessProbe.failureThreshold",
    "integration.eventListener.brokers",
];

fn spec() -> IntegrationSpec {
    IntegrationSpec::parse(include_str!("../.port/spec.yaml")).expect("spec")
}

fn values() -> Value {
    let text = std::fs::read_to_string(Path::new(CHART).join("values.yaml")).expect("values.yaml");
    serde_norway::from_str(&text).expect("values.yaml is YAML")
}

fn templates() -> String {
    let mut all = String::new();
    for entry in std::fs::read_dir(Path::new(CHART).join("templates")).expect("templates") {
        let path = entry.expect("entry").path();
        all.push_str(&std::fs::read_to_string(&path).expect("template"));
        all.push('\n');
    }
    for (alias, path) in ALIASES {
        all = all.replace(alias, path);
    }
    all
}

fn leaves(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                leaves(child, &path, out);
            }
        }
        _ => {
            out.insert(prefix.to_string());
        }
    }
}

/// `.Values.a.b` paths the templates read (alias definitions themselves excluded).
fn references(templates: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, marker) in templates.match_indices(".Values.") {
        let before = &templates[..at];
        let path: String = templates[at + marker.len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '_')
            .collect();
        let path = path.trim_end_matches('.').to_string();
        let defines_alias = before.trim_end().ends_with(":=")
            && ALIASES
                .iter()
                .any(|(_, full)| full.trim_end_matches('.') == format!(".Values.{path}"));
        if !defines_alias {
            found.insert(path);
        }
    }
    found
}

#[test]
fn every_value_is_used_and_every_use_has_a_value() {
    let mut defined = BTreeSet::new();
    leaves(&values(), "", &mut defined);
    let used = references(&templates());
    let covers =
        |reference: &str, leaf: &str| leaf == reference || leaf.starts_with(&format!("{reference}."));
    for leaf in &defined {
        assert!(
            used.iter().any(|r| covers(r, leaf)),
            "values.yaml has {leaf}, but no template reads it"
        );
    }
    for reference in &used {
        assert!(
            defined
                .iter()
                .any(|l| covers(reference, l) || covers(l, reference))
                || OPTIONAL.contains(&reference.as_str()),
            "a template reads .Values.{reference}, which values.yaml does not define"
        );
    }
}

/// Variable names the chart sets: ConfigMap/Secret keys and container env names.
fn variables_set_by_the_chart(templates: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in templates.lines() {
        let line = line.trim();
        let name = if let Some(rest) = line.strip_prefix("- name: ") {
            rest
        } else if line.starts_with("OCEAN__") {
            line.split(':').next().unwrap_or_default()
        } else {
            continue;
        };
        if name.starts_with("OCEAN__") && !name.contains("{{") {
            names.insert(name.to_string());
        }
    }
    for quoted in templates.split("\"name\" \"").skip(1) {
        if let Some(name) = quoted.split('"').next().filter(|n| n.starts_with("OCEAN__")) {
            names.insert(name.to_string());
        }
    }
    names
}

#[test]
fn every_variable_the_chart_sets_is_one_the_binary_reads() {
    let templates = templates();
    let set = variables_set_by_the_chart(&templates);
    for required in [
        "OCEAN__PORT__CLIENT_ID",
        "OCEAN__PORT__CLIENT_SECRET",
        "OCEAN__PORT__BASE_URL",
        "OCEAN__INTEGRATION__IDENTIFIER",
        "OCEAN__EVENT_LISTENER",
        "OCEAN__INITIALIZE_PORT_RESOURCES",
        "OCEAN__SCHEDULED_RESYNC_INTERVAL",
        "OCEAN__HTTP__PORT",
    ] {
        assert!(
            set.contains(required),
            "the chart does not set {required}: {set:?}"
        );
    }
    for name in &set {
        assert!(
            VARIABLES.contains(&name.as_str()),
            "the chart sets {name}, which the binary does not read"
        );
    }
    // integration.config and integration.secrets: each key becomes a variable by sprig's snakecase.
    assert_eq!(
        templates
            .matches("OCEAN__INTEGRATION__CONFIG__{{ $key | snakecase | upper }}")
            .count(),
        4,
        "config and secrets, each as text or as JSON"
    );
    for field in &spec().configurations {
        let from_chart = format!(
            "OCEAN__INTEGRATION__CONFIG__{}",
            sprig_snakecase(&field.name).to_uppercase()
        );
        assert_eq!(from_chart, integration_variable(&field.name), "{}", field.name);
    }
}

/// Sprig's `snakecase` for camelCase names, as the chart applies it.
fn sprig_snakecase(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// Defaults of Port's port-ocean chart (0.21.0) that mean the same here.
#[test]
fn defaults_are_port_oceans() {
    let values = values();
    let at = |path: &str| path.split('.').fold(&values, |node, key| &node[key]).clone();
    for (path, port_default) in [
        ("port.baseUrl", json!("https://api.getport.io")),
        ("port.ingestUrl", json!("https://ingest.getport.io")),
        ("workload.kind", json!("Deployment")),
        ("workload.deployment.replicas", json!(1)),
        ("workload.deployment.rolloutStrategy", json!("Recreate")),
        ("workload.cron.resyncTimeoutMinutes", Value::Null),
        ("workload.cron.resyncOnInstall", json!(true)),
        ("workload.cron.resyncOnUpgrade", json!(true)),
        ("workload.cron.suspend", json!(false)),
        ("workload.cron.failedJobsHistoryLimit", json!(1)),
        ("workload.cron.successfulJobsHistoryLimit", json!(1)),
        ("resources.requests.memory", json!("512Mi")),
        ("resources.requests.cpu", json!("200m")),
        ("resources.limits.memory", json!("1024Mi")),
        ("resources.limits.cpu", json!("500m")),
        ("imagePullPolicy", json!("Always")),
        ("image", json!("")),
        ("initializePortResources", json!(true)),
        ("allowEnvironmentVariablesJqAccess", json!(true)),
        ("scheduledResyncInterval", Value::Null),
        ("scheduleConcurrencyPolicy", json!("Replace")),
        ("terminationGracePeriodSeconds", json!(30)),
        ("clientTimeout", Value::Null),
        ("sendRawDataExamples", json!(true)),
        ("secret.create", json!(true)),
        ("secret.name", json!("")),
        ("dnsPolicy", json!("ClusterFirst")),
        ("service.enabled", json!(true)),
        ("service.type", json!("ClusterIP")),
        ("service.port", json!(8000)),
        ("service.portName", json!("ocean-port")),
        ("ingress.enabled", json!(false)),
        ("ingress.path", json!("/")),
        ("ingress.pathType", json!("Prefix")),
        ("podServiceAccount.create", json!(false)),
        ("selfSignedCertificate.enabled", json!(false)),
        ("selfSignedCertificate.secret.key", json!("crt")),
        ("selfSignedCertificate.secret.useExistingSecret", json!(false)),
        ("liveEvents.worker.enabled", json!(false)),
        ("liveEvents.worker.replicaCount", json!(1)),
        ("liveEvents.service.port", json!(8000)),
        ("livenessProbe.enabled", json!(true)),
        ("readinessProbe.enabled", json!(true)),
    ] {
        assert_eq!(
            at(path),
            port_default,
            "{path}: Port's chart defaults to {port_default}"
        );
    }
    // Port's chart defaults to KAFKA, which this integration refuses; POLLING is what Port's install command sets.
    assert_eq!(at("integration.eventListener.type"), "POLLING");
    assert_eq!(at("integration.type"), Value::String(spec().kind));
    for key in at("integration.config").as_object().expect("config").keys() {
        assert!(
            spec().configurations.iter().any(|f| &f.name == key),
            "integration.config.{key} is not in spec.yaml"
        );
    }
}

/// The manual's configuration reference (generated from the settings; the README sends readers there).
#[test]
fn the_manual_documents_every_variable() {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/src/configuration.md"))
        .expect("docs/src/configuration.md");
    for name in VARIABLES {
        assert!(
            page.contains(name),
            "docs/src/configuration.md does not document {name}"
        );
    }
    for field in &spec().configurations {
        let name = integration_variable(&field.name);
        assert!(
            page.contains(&name),
            "docs/src/configuration.md does not document {name}"
        );
    }
}

// ---- Rendered by the real helm ----

/// The helm binary, or None (printed) when there is none.
fn helm() -> Option<PathBuf> {
    let helm = std::env::var_os("HELM")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from);
    if helm.is_none() {
        eprintln!(
            "SKIP rendered checks: no helm (set HELM to its path; .ci/run installs it and says when it cannot)"
        );
    }
    helm
}

fn render(helm: &Path, values_file: Option<&Path>) -> Vec<Value> {
    let mut command = Command::new(helm);
    command.args(["template", "ocean-codecov", CHART]);
    if let Some(file) = values_file {
        command.arg("-f").arg(file);
    }
    let output = command.output().expect("run helm");
    assert!(
        output.status.success(),
        "helm template {values_file:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("utf-8");
    serde_norway::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).expect("a rendered manifest is YAML"))
        .filter(|doc| !doc.is_null())
        .collect()
}

/// Each integration container with the environment Kubernetes would give it.
fn containers_with_env(manifests: &[Value]) -> Vec<(String, BTreeMap<String, String>)> {
    let named = |kind: &str, name: &str| {
        manifests
            .iter()
            .find(|m| m["kind"] == kind && m["metadata"]["name"] == name)
    };
    let mut found = Vec::new();
    for manifest in manifests {
        let pod = match manifest["kind"].as_str() {
            Some("Deployment") | Some("Job") => &manifest["spec"]["template"]["spec"],
            Some("CronJob") => &manifest["spec"]["jobTemplate"]["spec"]["template"]["spec"],
            _ => continue,
        };
        for container in pod["containers"].as_array().into_iter().flatten() {
            if container["args"] != json!(["sail"]) {
                continue; // a user's sidecar
            }
            let mut env = BTreeMap::new();
            for source in container["envFrom"].as_array().into_iter().flatten() {
                let (kind, field, name) = if let Some(name) = source["configMapRef"]["name"].as_str() {
                    ("ConfigMap", "data", name)
                } else {
                    (
                        "Secret",
                        "stringData",
                        source["secretRef"]["name"].as_str().expect("secret name"),
                    )
                };
                // A Secret the user keeps (secret.create=false) is not rendered: stand in for it.
                let Some(object) = named(kind, name) else {
                    env.insert("OCEAN__PORT__CLIENT_ID".into(), "id".into());
                    env.insert("OCEAN__PORT__CLIENT_SECRET".into(), "secret".into());
                    env.insert("OCEAN__INTEGRATION__CONFIG__CODECOV_TOKEN".into(), "token".into());
                    continue;
                };
                for (key, value) in object[field].as_object().into_iter().flatten() {
                    env.insert(key.clone(), value.as_str().expect("string data").to_string());
                }
            }
            for var in container["env"].as_array().into_iter().flatten() {
                if let Some(value) = var["value"].as_str() {
                    env.insert(var["name"].as_str().expect("name").to_string(), value.to_string());
                }
            }
            let what = format!("{} {}", manifest["kind"], manifest["metadata"]["name"]);
            found.push((what, env));
        }
    }
    found
}

fn settings(env: &BTreeMap<String, String>, what: &str) -> Settings {
    let mut env = env.clone();
    // The default values file leaves credentials empty, as an install must set them.
    for (name, stand_in) in [
        ("OCEAN__PORT__CLIENT_ID", "id"),
        ("OCEAN__PORT__CLIENT_SECRET", "secret"),
        ("OCEAN__INTEGRATION__CONFIG__CODECOV_TOKEN", "token"),
    ] {
        if env.get(name).is_none_or(|v| v.is_empty()) {
            env.insert(name.into(), stand_in.into());
        }
    }
    if env
        .get("OCEAN__INTEGRATION__CONFIG__CODECOV_OWNERS")
        .is_none_or(|v| v == "[]")
    {
        env.insert(
            "OCEAN__INTEGRATION__CONFIG__CODECOV_OWNERS".into(),
            "[\"o\"]".into(),
        );
    }
    // The CA bundle is a file the pod mounts from the chart's Secret: stand in a
    // real PEM at the same variable, so the bundle is still read and checked.
    if let Some(path) = env
        .get("SSL_CERT_FILE")
        .filter(|p| !Path::new(p.as_str()).exists())
    {
        assert!(
            path.starts_with("/usr/local/share/ca-certificates/"),
            "{what}: SSL_CERT_FILE points outside the CA mount: {path}"
        );
        env.insert(
            "SSL_CERT_FILE".into(),
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/test-ca.pem").into(),
        );
    }
    Settings::load(&env, None, &spec())
        .unwrap_or_else(|e| panic!("{what}: the binary refuses its environment: {e}"))
}

fn values_file(name: &str) -> PathBuf {
    Path::new(CHART).join("ci").join(name)
}

#[test]
fn every_rendered_workload_starts_with_the_settings_its_values_mean() {
    let Some(helm) = helm() else { return };
    // Default values: one long-running Deployment that polls Port.
    let default = containers_with_env(&render(&helm, None));
    assert_eq!(default.len(), 1, "{default:?}");
    let s = settings(&default[0].1, &default[0].0);
    assert_eq!(s.listener, ListenerKind::Polling);
    assert_eq!(s.port_base_url, "https://api.getport.io");
    assert_eq!(s.http_port, 8000);
    assert!(s.initialize_port_resources);
    assert_eq!(s.integration_identifier, "my-codecov-integration");

    // Port's install command: scheduled resync every 360 minutes, the token from the Secret.
    let port = containers_with_env(&render(&helm, Some(&values_file("port-install-command.yaml"))));
    assert_eq!(port.len(), 1);
    let (what, env) = &port[0];
    assert_eq!(env["OCEAN__PORT__CLIENT_ID"], "my-client-id");
    let s = settings(env, what);
    assert_eq!(s.listener, ListenerKind::Polling);
    assert_eq!(s.scheduled_resync_interval.map(|i| i.minutes), Some(360.0));
    assert_eq!(s.integration_config["codecovOwners"], json!(["my-org"]));
    assert_eq!(s.integration_config["codecovToken"], "my-codecov-token");

    // A CronJob (and its install hook) runs ONCE; the webhook worker is WEBHOOKS_ONLY
    // and never schedules resyncs.
    let cron = containers_with_env(&render(&helm, Some(&values_file("cronjob-with-webhooks.yaml"))));
    assert_eq!(
        cron.len(),
        3,
        "{:?}",
        cron.iter().map(|c| &c.0).collect::<Vec<_>>()
    );
    for (what, env) in &cron {
        let s = settings(env, what);
        assert_eq!(s.scheduled_resync_interval, None, "{what}");
        if what.contains("Deployment") {
            assert_eq!(s.listener, ListenerKind::WebhooksOnly, "{what}");
            assert!(
                !s.initialize_port_resources,
                "{what}: only the resync creates Port resources"
            );
        } else {
            assert_eq!(s.listener, ListenerKind::Once, "{what}");
            assert!(s.initialize_port_resources, "{what}");
        }
        assert_eq!(s.integration_config["codecovOwners"], json!(["a", "b"]), "{what}");
        assert_eq!(s.integration_config["webhookSecret"], "w", "{what}");
    }

    // Every knob: the service port moves the listener; config values of every type arrive typed.
    let knobs = containers_with_env(&render(&helm, Some(&values_file("every-knob.yaml"))));
    assert_eq!(knobs.len(), 1);
    let (what, env) = &knobs[0];
    let s = settings(env, what);
    assert_eq!(s.listener, ListenerKind::WebhooksOnly);
    assert_eq!(s.http_port, 9000);
    assert_eq!(s.scheduled_resync_interval.map(|i| i.minutes), Some(120.0));
    assert!(!s.initialize_port_resources);
    assert_eq!(s.integration_identifier, "codecov-prod");
    assert_eq!(s.integration_config["codecovPageSize"], json!(200));
    assert_eq!(s.integration_config["codecovService"], "gitlab");
    assert_eq!(
        env["RUST_LOG"], "info",
        "integration.extraConfig keys are plain variables"
    );

    // Port-only values are accepted and change nothing the binary reads.
    for (what, env) in containers_with_env(&render(&helm, Some(&values_file("port-only-values.yaml")))) {
        let s = settings(&env, &what);
        assert_eq!(s.listener, ListenerKind::Polling, "{what}: brokers are dropped");
    }
}

/// The first element of a manifest's list (containers, mounts, volumes) that `pick` takes.
fn find_in(list: &Value, pick: impl Fn(&Value) -> bool) -> Option<&Value> {
    list.as_array().into_iter().flatten().find(|v| pick(v))
}

/// The serving pod's journal volume: its mount, the variable naming it, and the volume behind it.
fn journal_volume(manifests: &[Value]) -> (String, Value) {
    let workload = manifests
        .iter()
        .find(|m| m["kind"] == "Deployment")
        .expect("a serving Deployment");
    let pod = &workload["spec"]["template"]["spec"];
    let container =
        find_in(&pod["containers"], |c| c["args"] == json!(["sail"])).expect("the integration's container");
    let mount = find_in(&container["volumeMounts"], |m| m["name"] == "ocean-journal")
        .expect("the journal is mounted");
    let volume = find_in(&pod["volumes"], |v| v["name"] == "ocean-journal")
        .expect("the journal volume")
        .clone();
    (mount["mountPath"].as_str().expect("path").to_string(), volume)
}

#[test]
fn the_journal_lives_on_its_own_volume_an_empty_dir_or_a_claim() {
    let Some(helm) = helm() else { return };
    let default = render(&helm, None);
    let (path, volume) = journal_volume(&default);
    let (what, env) = &containers_with_env(&default)[0];
    assert_eq!(
        settings(env, what).journal_path,
        Path::new(&path),
        "the binary writes where the volume is"
    );
    assert_eq!(volume["emptyDir"], json!({}), "emptyDir by default: {volume}");
    assert!(!default.iter().any(|m| m["kind"] == "PersistentVolumeClaim"));

    let knobs = render(&helm, Some(&values_file("every-knob.yaml")));
    let (path, volume) = journal_volume(&knobs);
    let (what, env) = &containers_with_env(&knobs)[0];
    let s = settings(env, what);
    assert_eq!(s.journal_path, Path::new(&path));
    assert_eq!(s.journal_max_bytes, 512 * 1024 * 1024, "journal.maxMb");
    let claim = knobs
        .iter()
        .find(|m| m["kind"] == "PersistentVolumeClaim")
        .expect("persistence.enabled makes a claim");
    assert_eq!(
        volume["persistentVolumeClaim"]["claimName"],
        claim["metadata"]["name"]
    );
    assert_eq!(claim["spec"]["resources"]["requests"]["storage"], "2Gi");
    assert_eq!(claim["spec"]["storageClassName"], "fast-ssd");
    assert_eq!(
        claim["metadata"]["annotations"]["helm.sh/resource-policy"], "keep",
        "queued events outlive an uninstall"
    );
}

// ---- Port's port-ocean chart with this image ----

fn port_chart_case(name: &str) -> (BTreeMap<String, String>, Value) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/helm/port-ocean-0.21.0-env.json"
    ))
    .expect("fixture");
    let all: Value = serde_json::from_str(&text).expect("JSON");
    let case = all["cases"][name].clone();
    let env = case["env"]
        .as_object()
        .expect("env")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("text").to_string()))
        .collect();
    (env, case)
}

#[test]
fn port_charts_environment_is_read_as_intended() {
    let (env, case) = port_chart_case("install_command");
    // Port's chart passes no arguments: the image's command must be `sail`.
    assert!(case["args"].is_null());
    let dockerfile = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/Dockerfile"))
        .expect("Dockerfile");
    assert!(dockerfile.contains("CMD [\"sail\"]"));
    let s = Settings::load(&env, None, &spec()).expect("Port's install command starts");
    assert_eq!(
        s.listener,
        ListenerKind::Polling,
        "OCEAN__EVENT_LISTENER's type, brokers ignored"
    );
    assert!(s.resync_on_start);
    assert_eq!(s.scheduled_resync_interval.map(|i| i.minutes), Some(360.0));
    assert_eq!(s.port_base_url, "https://api.getport.io");
    assert_eq!(s.port_client_id, "my-client-id");
    assert_eq!(s.integration_identifier, "my-codecov-integration");
    assert_eq!(
        s.integration_type, "codecov",
        "Port's chart does not set it: the build's own type"
    );
    assert!(s.initialize_port_resources);
    assert!(s.send_raw_data_examples);
    assert!(s.allow_environment_variables_jq_access);
    assert_eq!(s.client_timeout_secs, None);
    assert_eq!(s.integration_config["codecovOwners"], json!(["my-org"]));
    assert_eq!(s.integration_config["codecovToken"], "my-codecov-token");
    assert_eq!(s.http_port, 8000, "the port Port's chart probes");
    // Every variable Port's chart sets is read, or known to mean a feature this host lacks.
    for name in env.keys() {
        assert!(
            VARIABLES.contains(&name.as_str())
                || NOT_USED.contains(&name.as_str())
                || name.starts_with("OCEAN__INTEGRATION__CONFIG__"),
            "Port's chart sets {name}, which the binary neither reads nor knows"
        );
    }

    let (env, _) = port_chart_case("cronjob");
    let s = Settings::load(&env, None, &spec()).expect("Port's CronJob starts");
    assert_eq!(s.listener, ListenerKind::Once, "a CronJob run is ONCE");
    assert_eq!(
        s.scheduled_resync_interval, None,
        "the cron schedule is the CronJob's, not the binary's"
    );
    assert_eq!(s.client_timeout_secs, Some(45));
    assert!(!s.allow_environment_variables_jq_access);
    assert_eq!(env["SSL_CERT_FILE"], "/etc/ssl/certs/ca-certificates.crt");
}

/// `sail` run to its end with exactly the variables `env` (as the chart's pod gets them).
fn sail_with(env: &BTreeMap<String, String>) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ocean-codecov"))
        .arg("sail")
        .env_clear()
        .envs(env)
        .output()
        .expect("the binary runs")
}

#[test]
fn port_charts_default_listener_stops_the_binary_with_one_line() {
    let (env, _) = port_chart_case("chart_defaults");
    let output = sail_with(&env);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(78),
        "a bad setting: no retry helps\n{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("OCEAN__EVENT_LISTENER: KAFKA is not supported by ocean-codecov"),
        "{stderr}"
    );
    assert!(
        stderr
            .trim_end()
            .ends_with("set integration.eventListener.type=POLLING"),
        "{stderr}"
    );
    assert!(!stderr.contains("my-client-secret") && !stderr.contains("my-codecov-token"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_charts_cronjob_runs_a_resync_against_the_simulators() {
    use ocean_sim::codecov::{CodecovSim, CodecovSimConfig, DEFAULT_TOKEN};
    use ocean_sim::port::{PortSim, PortSimConfig};

    let loopback = "127.0.0.1:0".parse().expect("loopback");
    let (port, port_sim) = PortSim::start(PortSimConfig::default(), loopback)
        .await
        .expect("Port simulator");
    let (codecov, codecov_sim) = CodecovSim::start(CodecovSimConfig::generated(1, 4, 5), loopback)
        .await
        .expect("Codecov simulator");
    let owners: Vec<String> = codecov_sim
        .dataset()
        .owners
        .iter()
        .map(|o| o.username.clone())
        .collect();
    let (mut env, _) = port_chart_case("cronjob");
    // Only where the services are, and the simulators' credentials, differ from Port's rendering.
    env.insert("OCEAN__PORT__BASE_URL".into(), port.url().to_string());
    env.insert("OCEAN__PORT__CLIENT_ID".into(), "test-client".into());
    env.insert("OCEAN__PORT__CLIENT_SECRET".into(), "test-secret".into());
    env.insert(
        "OCEAN__INTEGRATION__CONFIG__CODECOV_URL".into(),
        codecov.url().to_string(),
    );
    env.insert(
        "OCEAN__INTEGRATION__CONFIG__CODECOV_TOKEN".into(),
        DEFAULT_TOKEN.into(),
    );
    env.insert(
        "OCEAN__INTEGRATION__CONFIG__CODECOV_OWNERS".into(),
        serde_json::to_string(&owners).expect("JSON"),
    );
    env.insert("RUST_LOG".into(), "warn".into());
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_ocean-codecov"))
        .arg("sail")
        .env_clear()
        .envs(&env)
        .output()
        .await
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        !port_sim.entities("codecov_repository").is_empty(),
        "the resync wrote repositories\n{stderr}"
    );
}

#[test]
fn a_cronjob_run_that_cannot_reach_port_asks_for_a_retry() {
    // Nothing listens on this loopback port: Port cannot be reached before anything is written.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let (mut env, _) = port_chart_case("cronjob");
    env.insert("OCEAN__PORT__BASE_URL".into(), url);
    env.insert("OCEAN__RETRY__MAX_ATTEMPTS".into(), "2".into());
    env.insert("OCEAN__RETRY__BASE_DELAY_MS".into(), "5".into());
    env.insert("RUST_LOG".into(), "off".into());
    let output = sail_with(&env);
    assert_eq!(
        output.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
