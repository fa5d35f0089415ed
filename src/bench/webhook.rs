//! `bench webhook`: live-event load on a running integration (`sail`), all on
//! loopback and bounded: how many Codecov webhooks/s the route accepts, its
//! p50/p99 latency, and end-to-end events/s until every entity is in Port.

use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

use super::{port_simulator, simulator};
use crate::harness::{IntegrationEnv, spawn_announcing_async};
use crate::sim::codecov::data::Dataset;
use crate::sim::codecov::webhook_payload_for;

#[derive(clap::Args)]
pub struct WebhookBenchArgs {
    /// Events to send, each for a different repository.
    #[arg(long, default_value_t = 20_000)]
    events: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
}

const SECRET: &str = "bench-secret";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

pub fn run(args: &WebhookBenchArgs) -> anyhow::Result<ExitCode> {
    println!(
        "webhook benchmark: {} events, {} in flight, loopback",
        args.events, args.concurrency
    );
    let (_codecov, codecov_url) = simulator(&["sim", "codecov", "--addr", "127.0.0.1:0", "--owners", "0"])?;
    let (_port, port_url) = port_simulator(&[])?;
    let dataset = Dataset::generate(1, args.events * 3 / 2 + 10, 9);
    let payloads: Vec<Vec<u8>> = dataset.owners[0]
        .repos
        .iter()
        .filter_map(|r| webhook_payload_for(&dataset, "https://app.codecov.io", "owner-1", &r.name, false))
        .take(args.events)
        .map(|p| serde_json::to_vec(&p))
        .collect::<Result<_, _>>()?;
    if payloads.len() < args.events {
        bail!("generated only {} payloads", payloads.len());
    }
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let exe = std::env::current_exe()?;
        let env = IntegrationEnv::new(&port_url, &codecov_url, &["owner-1".into()], "bench-live")
            .field("webhookSecret", SECRET)
            .webhooks_only_on_loopback();
        let mut command = tokio::process::Command::new(exe);
        command.arg("sail").envs(env.vars()).env("RUST_LOG", "warn");
        let (mut child, url, mut lines) = spawn_announcing_async(command, |_| {})
            .await
            .context("starting sail")?;
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let target = Arc::new(format!("{url}/integration/webhook?token={SECRET}"));
        let http = reqwest::Client::new();
        let payloads = Arc::new(payloads);
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let started = Instant::now();
        let mut workers = Vec::new();
        for _ in 0..args.concurrency.max(1) {
            let (http, target, payloads, next) = (http.clone(), target.clone(), payloads.clone(), next.clone());
            workers.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut busy = 0usize;
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(body) = payloads.get(i) else { break };
                    // A 503 asks to come back; the event is sent again, never dropped.
                    loop {
                        let sent = Instant::now();
                        let reply = http
                            .post(target.as_str())
                            .header("Content-Type", "application/json")
                            .header("User-Agent", "Codecov")
                            .body(body.clone())
                            .send()
                            .await?;
                        latencies.push(sent.elapsed());
                        match reply.status().as_u16() {
                            202 => break,
                            503 => {
                                busy += 1;
                                tokio::time::sleep(Duration::from_millis(50)).await;
                            }
                            other => anyhow::bail!("webhook answered {other}"),
                        }
                    }
                }
                anyhow::Ok((latencies, busy))
            }));
        }
        let mut latencies = Vec::new();
        let mut busy = 0;
        for worker in workers {
            let (mut l, b) = worker.await??;
            latencies.append(&mut l);
            busy += b;
        }
        let accepting = started.elapsed();
        latencies.sort();
        let count_url = format!("{port_url}/_admin/state");
        let deadline = Instant::now() + Duration::from_secs(300);
        let landed = loop {
            let state: Value = reqwest::get(&count_url).await?.json().await?;
            let landed = state["entities"]["codecov_coverage"].as_array().map_or(0, Vec::len);
            if landed >= args.events || Instant::now() > deadline {
                break landed;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let end_to_end = started.elapsed();
        let n = args.events as f64;
        println!("accepted {} events in {:.2} s: {:.0} events/s", args.events, accepting.as_secs_f64(), n / accepting.as_secs_f64());
        println!("webhook latency: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} answers, {} of them 503 and resent)",
            percentile(&latencies, 0.50).as_secs_f64() * 1e3,
            percentile(&latencies, 0.99).as_secs_f64() * 1e3,
            latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
            latencies.len(), busy);
        println!("in Port: {landed} of {} after {:.2} s: {:.0} events/s end to end", args.events, end_to_end.as_secs_f64(), landed as f64 / end_to_end.as_secs_f64());
        let _ = Command::new("kill").args(["-TERM", &child.id().unwrap_or_default().to_string()]).status();
        let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
        if landed != args.events {
            bail!("{} events were lost", args.events - landed);
        }
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
