//! Secrets never reach logs, error messages or metrics: the sandbox runs at
//! trace level with recognisable credentials, and the failure paths that
//! involve a credential (a refused client secret, a refused Codecov token)
//! run too. None of the values, nor Port's access token, may appear.

use std::process::Command;

use ocean_sim::codecov::CodecovSimConfig;
use ocean_sim::port::PortSimConfig;
use ocean_testkit::harness::TestWorld;

const PORT_SECRET: &str = "port-secret-CANARY-7f3a91";
const CODECOV_TOKEN: &str = "codecov-token-CANARY-52be07";
const WEBHOOK_SECRET: &str = "webhook-secret-CANARY-c8d214";

/// Port's simulator issues `sim-` and 32 hex digits; Port's tokens are JWTs (`eyJ...`).
fn access_tokens_in(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (at, _) in text.match_indices("sim-") {
        let candidate: String = text[at + 4..].chars().take(32).collect();
        if candidate.len() == 32 && candidate.chars().all(|c| c.is_ascii_hexdigit()) {
            found.push(format!("sim-{candidate}"));
        }
    }
    found
}

fn assert_clean(output: &str, secrets: &[&str]) {
    for secret in secrets {
        let at = output.find(secret);
        assert!(
            at.is_none(),
            "{secret} leaked: ...{}...",
            at.map(|i| &output[i.saturating_sub(200)..(i + 60).min(output.len())])
                .unwrap_or_default()
        );
    }
    let tokens = access_tokens_in(output);
    assert!(tokens.is_empty(), "Port access tokens leaked: {tokens:?}");
}

#[test]
fn the_sandbox_at_trace_level_prints_no_secret_anywhere() {
    let output = Command::new(env!("CARGO_BIN_EXE_ocean-codecov"))
        .args([
            "sandbox",
            "--owners",
            "1",
            "--repos-per-owner",
            "4",
            "--show-metrics",
        ])
        .env("RUST_LOG", "trace")
        .env("SANDBOX_PORT_CLIENT_SECRET", PORT_SECRET)
        .env("SANDBOX_CODECOV_TOKEN", CODECOV_TOKEN)
        .env("SANDBOX_WEBHOOK_SECRET", WEBHOOK_SECRET)
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    // The run really was at trace level, and really served metrics.
    assert!(stderr.contains("TRACE"), "no trace lines:\n{stderr}");
    assert!(
        stdout.contains("ocean_source_requests_total{source=\"codecov\""),
        "no metrics:\n{stdout}"
    );
    let all = format!("{stdout}\n{stderr}");
    assert_clean(&all, &[PORT_SECRET, CODECOV_TOKEN, WEBHOOK_SECRET]);
}

/// `resync --once` with a credential the service refuses, at trace level.
async fn refused_run(port_secret: &str, codecov_token: &str) -> (bool, String) {
    let sims = TestWorld::start(
        PortSimConfig::default(),
        CodecovSimConfig::generated(1, 3, 5),
        "hygiene",
    )
    .await
    .expect("simulators");
    let env = sims
        .installation_env()
        .var("OCEAN__PORT__CLIENT_SECRET", port_secret)
        .field("codecovToken", codecov_token)
        .fast_retries(5, 2);
    let output = env
        .command(
            env!("CARGO_BIN_EXE_ocean-codecov"),
            &["resync", "--once"],
            "trace",
        )
        .output()
        .await
        .expect("the binary runs");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[tokio::test]
async fn a_refused_port_secret_is_reported_without_the_secret() {
    let (succeeded, output) = refused_run(PORT_SECRET, ocean_sim::codecov::DEFAULT_TOKEN).await;
    assert!(!succeeded, "{output}");
    assert!(
        output.contains("401") || output.to_lowercase().contains("credentials"),
        "{output}"
    );
    assert_clean(&output, &[PORT_SECRET]);
}

#[tokio::test]
async fn a_refused_codecov_token_is_reported_without_the_token() {
    let (succeeded, output) = refused_run("test-secret", CODECOV_TOKEN).await;
    assert!(!succeeded, "{output}");
    assert!(output.contains("Codecov token rejected"), "{output}");
    assert_clean(&output, &[CODECOV_TOKEN]);
}
