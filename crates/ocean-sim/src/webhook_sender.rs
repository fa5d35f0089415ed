//! Posts notify payloads the way Codecov's worker does: one POST each, JSON,
//! `User-Agent: Codecov`, no signature, a 10 s timeout, success below 400.

use std::time::Duration;

use anyhow::Context;
use serde_json::Value;

pub async fn send_all(url: &str, payloads: &[Value]) -> anyhow::Result<usize> {
    let http =
        ocean_support::http::build_client("Codecov", Duration::from_secs(10)).map_err(anyhow::Error::msg)?;
    for (n, payload) in payloads.iter().enumerate() {
        let reply = http
            .post(url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .body(serde_json::to_vec(payload)?)
            .send()
            .await
            .with_context(|| format!("posting payload {} to {url}", n + 1))?;
        let status = reply.status();
        if status.as_u16() >= 400 {
            let body = reply.text().await.unwrap_or_default();
            anyhow::bail!(
                "{url} answered payload {} with {status}: {}",
                n + 1,
                body.chars().take(300).collect::<String>()
            );
        }
    }
    Ok(payloads.len())
}
