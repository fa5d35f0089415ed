//! `ocean-codecov sim port` runs as its own process and serves Port's routes.

use std::process::Command;

use ocean_testkit::harness::{CODECOV_SIM_ON_LOOPBACK, Process, spawn_announcing};

use serde_json::{Value, json};

#[tokio::test]
async fn the_port_simulator_runs_as_a_process() {
    let args = [
        "sim",
        "port",
        "--addr",
        "127.0.0.1:0",
        "--blueprints",
        ".port/resources/blueprints.json",
    ];
    let (_child, url) = spawn_sim(&args);

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

fn spawn_sim(args: &[&str]) -> (Process, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ocean-codecov"));
    command.args(args);
    spawn_announcing(command).expect("the simulator says where it listens")
}

#[tokio::test]
async fn the_codecov_simulator_runs_as_a_process() {
    let mut args = CODECOV_SIM_ON_LOOPBACK.to_vec();
    args.extend(["--owners", "1", "--repos-per-owner", "3"]);
    let (_child, url) = spawn_sim(&args);
    let http = reqwest::Client::new();
    let token = format!("Bearer {}", ocean_sim::codecov::DEFAULT_TOKEN);

    let page: Value = http
        .get(format!("{url}/api/v2/github/owner-1/repos"))
        .query(&[("page_size", "2")])
        .header("Authorization", &token)
        .send()
        .await
        .expect("repos call")
        .json()
        .await
        .expect("JSON");
    assert_eq!(page["count"], 3);
    assert_eq!(page["total_pages"], 2);
    assert_eq!(page["results"].as_array().map(Vec::len), Some(2));
    let next = page["next"].as_str().expect("a next link");
    let second: Value = http
        .get(next)
        .header("Authorization", &token)
        .send()
        .await
        .expect("next")
        .json()
        .await
        .expect("JSON");
    assert_eq!(second["results"].as_array().map(Vec::len), Some(1));
    assert!(second["next"].is_null());

    let past = http
        .get(format!("{url}/api/v2/gh/owner-1/repos/?page=3&page_size=2"))
        .header("Authorization", &token)
        .send()
        .await
        .expect("call");
    assert_eq!(past.status(), 404);
    assert_eq!(
        past.json::<Value>().await.expect("JSON"),
        json!({"detail": "Invalid page."})
    );

    let refused = http
        .get(format!("{url}/api/v2/github/owner-1/repos/"))
        .header("Authorization", "Bearer wrong")
        .send()
        .await
        .expect("call");
    assert_eq!(refused.status(), 401);
    assert_eq!(
        refused.headers().get("www-authenticate").map(|v| v.as_bytes()),
        Some(&b"Bearer"[..])
    );
}

#[tokio::test]
async fn the_webhook_sender_posts_as_codecov_does() {
    use std::sync::{Arc, Mutex};
    let received: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let store = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::Json<Value>| {
            let store = store.clone();
            async move {
                let agent = headers
                    .get("user-agent")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                store.lock().expect("lock").push((agent, body.0));
                "ok"
            }
        }),
    );
    let served = ocean_sim::serve("127.0.0.1:0".parse().expect("loopback"), app)
        .await
        .expect("binds");
    let to = format!("{}/hook", served.url());

    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_ocean-codecov"))
        .args([
            "sim",
            "webhook",
            "--to",
            &to,
            "--seed-example",
            "--generate",
            "3",
            "--owners",
            "1",
        ])
        .args(["--repos-per-owner", "5", "--seed", "7"])
        .output()
        .await
        .expect("the sender runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let received = received.lock().expect("lock").clone();
    assert!(
        received.len() >= 2,
        "the seed example and at least one generated payload"
    );
    assert!(received.iter().all(|(agent, _)| agent == "Codecov"));
    let seed: Value = serde_json::from_str(
        &std::fs::read_to_string("resources/codecov/codecov-webhook-payload.json").expect("seed payload"),
    )
    .expect("JSON");
    assert_eq!(received[0].1, seed);
    assert!(received[1..].iter().all(|(_, p)| {
        p["repo"]["url"]
            .as_str()
            .is_some_and(|u| u.contains("/gh/owner-1/"))
    }));
}
