//! `validate` names the file, line and column of each fault.

use std::process::Command;

fn validate(name: &str, text: &str) -> (bool, String) {
    let dir = std::env::temp_dir().join(format!("ocean-codecov-validate-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_ocean-codecov"))
        .arg("validate")
        .arg(&path)
        .output()
        .expect("run");
    std::fs::remove_dir_all(&dir).ok();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.success(),
        all.replace(&format!("{}/", dir.display()), ""),
    )
}

const GOOD: &str = "resources:
  - kind: coverage
    selector:
      query: 'true'
    port:
      entity:
        mappings:
          identifier: .repo.name
          blueprint: '\"codecov_coverage\"'
          properties:
            coverage: .head.totals.coverage
";

#[test]
fn the_shipped_files_are_valid() {
    for file in [
        ".port/resources/port-app-config.yml",
        "resources/codecov/port-webhook-mapping.json",
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_ocean-codecov"))
            .args(["validate", file])
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("OK"));
    }
}

#[test]
fn a_good_file_is_ok() {
    let (ok, out) = validate("good.yml", GOOD);
    assert!(ok, "{out}");
    assert!(out.contains("OK: good.yml: 1 resource(s)"), "{out}");
}

#[test]
fn a_bad_jq_expression_points_at_its_line_and_column() {
    let text = GOOD.replace(
        "coverage: .head.totals.coverage",
        "coverage: .head.totals | nosuch(1)",
    );
    let (ok, out) = validate("badjq.yml", &text);
    assert!(!ok);
    assert!(
        out.contains(
            "badjq.yml:11:38: resources[0].port.entity.mappings.properties.coverage: JQ compile error"
        ),
        "{out}"
    );
    assert!(out.contains("undefined filter nosuch/1"), "{out}");
}

#[test]
fn every_bad_expression_is_reported() {
    let text = GOOD
        .replace("identifier: .repo.name", "identifier: .repo.name |")
        .replace("coverage: .head.totals.coverage", "coverage: ((");
    let (ok, out) = validate("two.yml", &text);
    assert!(!ok);
    assert!(
        out.contains("two.yml:8:35: resources[0].port.entity.mappings.identifier"),
        "{out}"
    );
    assert!(
        out.contains("two.yml:11:25: resources[0].port.entity.mappings.properties.coverage"),
        "{out}"
    );
}

#[test]
fn broken_yaml_points_at_its_line_and_column() {
    let text = GOOD.replace("    selector:\n", "    selector:\n   bad indent: [\n");
    let (ok, out) = validate("broken.yml", &text);
    assert!(!ok);
    let first = out.lines().next().unwrap_or_default();
    assert!(first.starts_with("broken.yml:4:"), "{out}");
}

#[test]
fn a_wrong_type_names_its_place() {
    let text = GOOD.replace("    selector:\n      query: 'true'\n", "    selector: 3\n");
    let (ok, out) = validate("type.yml", &text);
    assert!(!ok);
    assert!(out.starts_with("type.yml:3:15:"), "{out}");
    assert!(out.contains("selector"), "{out}");
}

#[test]
fn webhook_mapping_faults_point_into_the_json() {
    let text = "[\n  {\n    \"blueprint\": \"b\",\n    \"entity\": {\n      \"identifier\": \".body.x | ]\"\n    }\n  }\n]\n";
    let (ok, out) = validate("hook.json", text);
    assert!(!ok);
    assert!(
        out.contains("hook.json:5:32: [0].entity.identifier: JQ compile error"),
        "{out}"
    );
}

#[test]
fn threshold_out_of_range_is_rejected() {
    let text = format!("entityDeletionThreshold: 1.5\n{GOOD}");
    let (ok, out) = validate("threshold.yml", &text);
    assert!(!ok);
    assert!(out.contains("threshold.yml:1:"), "{out}");
    assert!(
        out.contains("entityDeletionThreshold: must be between 0 and 1"),
        "{out}"
    );
}
