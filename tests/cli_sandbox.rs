//! The README's first command: `ocean-codecov sandbox` runs the whole
//! integration on loopback and ends with Port's documented entity in Port.

use std::process::Command;

#[test]
fn the_sandbox_runs_everything_and_lands_the_seed_entity() {
    let output = Command::new(env!("CARGO_BIN_EXE_ocean-codecov"))
        .args(["sandbox", "--owners", "1", "--repos-per-owner", "8"])
        .env("RUST_LOG", "warn")
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("the entity in Port equals seed-expected-entity.json"),
        "{stdout}"
    );
    for blueprint in [
        "codecov_repository",
        "codecov_coverage",
        "codecov_commit",
        "codecov_pull",
        "codecov_flag",
    ] {
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(blueprint))
            .unwrap_or_default();
        let count: usize = line
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(count > 0, "{blueprint} has entities: {stdout}");
    }
    assert!(stdout.contains("3. Posting Codecov webhooks"), "{stdout}");
    assert!(
        !stdout.contains("sandbox-webhook-secret"),
        "the webhook secret is not printed"
    );
}

/// A mapping of one's own, set in Port as an edit in Port's UI would be: the
/// resync uses it, and the entities shown carry what it maps.
#[test]
fn the_sandbox_runs_a_mapping_of_ones_own() {
    let default =
        std::fs::read_to_string(".port/resources/port-app-config.yml").expect("the default mapping");
    let edited = default.replacen(
        "          title: .name\n          blueprint: '\"codecov_repository\"'",
        "          title: '\"repo \\(.name)\"'\n          blueprint: '\"codecov_repository\"'",
        1,
    );
    assert_ne!(
        edited, default,
        "the default mapping has the line this test edits"
    );
    let dir = std::env::temp_dir().join(format!("sandbox-mapping-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let file = dir.join("my-mapping.yml");
    std::fs::write(&file, edited).expect("writing the mapping");
    let output = Command::new(env!("CARGO_BIN_EXE_ocean-codecov"))
        .args(["sandbox", "--owners", "1", "--repos-per-owner", "3", "--mapping"])
        .arg(&file)
        .output()
        .expect("the sandbox runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "sandbox failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("as if edited in Port's UI"), "{stdout}");
    assert!(stdout.contains("\"title\": \"repo "), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}
