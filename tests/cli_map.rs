//! The seed contract and the `map` command, run through the real binary.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// `map` with the default port-app-config's `coverage` resource.
const MAP_COVERAGE_WITH_DEFAULT: [&str; 5] = [
    "map",
    "--mapping",
    ".port/resources/port-app-config.yml",
    "--kind",
    "coverage",
];

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ocean-codecov"))
}

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ocean-codecov");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.unwrap_or("").as_bytes())
        .expect("write stdin");
    drop(input);
    child.wait_with_output().expect("output")
}

fn expected_entity() -> Value {
    let text = std::fs::read_to_string("resources/codecov/seed-expected-entity.json").expect("seed entity");
    let mut v: Value = serde_json::from_str(&text).expect("seed is JSON");
    // The docs show the filter's result beside the entity; it is not part of it.
    v.as_object_mut().expect("object").remove("filter");
    v
}

fn single_entity(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one entity line expected, got: {stdout}");
    serde_json::from_str(lines[0]).expect("entity line is JSON")
}

/// The one entity Port's webhook mapping (the seed's) makes of `input`.
fn with_port_webhook_mapping(input: &str) -> Value {
    let mapping = "resources/codecov/port-webhook-mapping.json";
    single_entity(&run(&["map", "--mapping", mapping, "--input", input], None))
}

#[test]
fn port_webhook_mapping_reproduces_the_seed_entity() {
    assert_eq!(
        with_port_webhook_mapping("resources/codecov/codecov-webhook-payload.json"),
        expected_entity()
    );
}

#[test]
fn webhook_mapping_accepts_an_envelope_as_is() {
    assert_eq!(
        with_port_webhook_mapping("resources/codecov/port-webhook-envelope.json"),
        expected_entity()
    );
}

#[test]
fn default_port_app_config_reproduces_the_seed_entity() {
    let mut args = MAP_COVERAGE_WITH_DEFAULT.to_vec();
    args.extend(["--input", "resources/codecov/codecov-webhook-payload.json"]);
    let out = run(&args, None);
    // Every property, the title and the blueprint of the seed entity; the
    // identifier is qualified with service and owner.
    let mut expected = expected_entity();
    expected["identifier"] = serde_json::json!("github/slanks/codecov-example");
    assert_eq!(single_entity(&out), expected);
}

#[test]
fn reads_json_lines_and_arrays_from_stdin() {
    let payload = std::fs::read_to_string("resources/codecov/codecov-webhook-payload.json").expect("payload");
    let compact: Value = serde_json::from_str(&payload).expect("json");
    let lines = format!("{compact}\n{compact}\n");
    let args = MAP_COVERAGE_WITH_DEFAULT;
    let out = run(&args, Some(&lines));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
    let array = format!("[{compact}, {compact}, {compact}]");
    let out = run(&args, Some(&array));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 3);
}

#[test]
fn failing_items_are_reported_and_the_rest_still_map() {
    let payload = std::fs::read_to_string("resources/codecov/codecov-webhook-payload.json").expect("payload");
    let good: Value = serde_json::from_str(&payload).expect("json");
    let mut bad = good.clone();
    bad["head"]["timestamp"] = Value::from("not a date");
    let input = format!("{good}\n{bad}\n{good}\n");
    let out = run(&MAP_COVERAGE_WITH_DEFAULT, Some(&input));
    assert_eq!(out.status.code(), Some(1), "a failed item makes the exit code 1");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("item 1 (kind coverage): properties.createdAt:"),
        "{stderr}"
    );
}

#[test]
fn unknown_kind_is_an_error_naming_the_kinds() {
    let out = run(
        &[
            "map",
            "--mapping",
            ".port/resources/port-app-config.yml",
            "--kind",
            "nope",
        ],
        Some("{}"),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("its kinds are: coverage"));
}

#[test]
fn schema_describes_port_app_config() {
    let out = run(&["schema"], None);
    assert!(out.status.success());
    let schema: Value = serde_json::from_slice(&out.stdout).expect("schema is JSON");
    let props = &schema["properties"];
    for key in [
        "resources",
        "deleteDependentEntities",
        "createMissingRelatedEntities",
        "enableMergeEntity",
        "entityDeletionThreshold",
    ] {
        assert!(props.get(key).is_some(), "schema lacks {key}");
    }
}
