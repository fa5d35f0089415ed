//! `ocean-codecov sim port` runs as its own process and serves Port's routes.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_port_simulator_runs_as_a_process() {
    let child = Command::new(env!("CARGO_BIN_EXE_ocean-codecov"))
        .args([
            "sim",
            "port",
            "--addr",
            "127.0.0.1:0",
            "--blueprints",
            ".port/resources/blueprints.json",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut child = Killed(child);
    let stderr = child.0.stderr.take().expect("stderr is piped");
    let mut first_line = String::new();
    BufReader::new(stderr)
        .read_line(&mut first_line)
        .expect("the simulator says where it listens");
    let url = first_line
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no URL in {first_line:?}"))
        .to_string();

    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{url}/v1/auth/access_token"))
        .json(&json!({"clientId": "test-client", "clientSecret": "test-secret"}))
        .send()
        .await
        .expect("token call")
        .json()
        .await
        .expect("token JSON");
    assert_eq!(token["tokenType"], "Bearer");
    let bearer = format!("Bearer {}", token["accessToken"].as_str().expect("a token"));

    let reply = http
        .get(format!("{url}/v1/blueprints/codecov_coverage"))
        .header("Authorization", &bearer)
        .send()
        .await
        .expect("blueprint call");
    assert_eq!(reply.status(), 200);
    assert!(reply.headers().contains_key("x-ratelimit-remaining"));

    let denied = http
        .get(format!("{url}/v1/blueprints/codecov_coverage"))
        .send()
        .await
        .expect("call");
    assert_eq!(denied.status(), 401);
    let body: Value = denied.json().await.expect("Port's error body");
    assert_eq!(body["ok"], false);

    let log: Value = http
        .get(format!("{url}/_admin/requests"))
        .send()
        .await
        .expect("log")
        .json()
        .await
        .expect("JSON");
    assert_eq!(log.as_array().map(Vec::len), Some(3));
}
