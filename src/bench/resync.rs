//! `bench resync`: a full resync of N repositories (the `coverage` kind) from
//! the Codecov simulator into the Port simulator, each in its own process,
//! timed, with Port's requests counted by route and the integration's peak RSS.

use std::collections::BTreeMap;
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};
use serde_json::Value;

use super::{port_simulator, simulator};
use crate::port::{PortClient, PortSettings};
use crate::secret::Secret;
use crate::sim::codecov::DEFAULT_TOKEN;

#[derive(clap::Args)]
pub struct ResyncBenchArgs {
    /// Repositories in the simulated Codecov owner.
    #[arg(long, default_value_t = 100_000)]
    repos: usize,
    /// Codecov API page size the integration asks for.
    #[arg(long, default_value_t = 100)]
    page_size: u32,
}

struct Pass {
    seconds: f64,
    peak_rss_mib: Option<f64>,
    requests: BTreeMap<String, usize>,
    ok: bool,
}

fn resync_pass(port_url: &str, codecov_url: &str, page_size: u32) -> anyhow::Result<Pass> {
    let exe = std::env::current_exe()?;
    let started = Instant::now();
    let output = Command::new(exe)
        .args(["resync", "--once"])
        .env("OCEAN__PORT__BASE_URL", port_url)
        .env("OCEAN__PORT__CLIENT_ID", "test-client")
        .env("OCEAN__PORT__CLIENT_SECRET", "test-secret")
        .env("OCEAN__INTEGRATION__IDENTIFIER", "bench-codecov")
        .env("OCEAN__INTEGRATION__CONFIG__CODECOV_TOKEN", DEFAULT_TOKEN)
        .env("OCEAN__INTEGRATION__CONFIG__CODECOV_URL", codecov_url)
        .env("OCEAN__INTEGRATION__CONFIG__CODECOV_OWNERS", "owner-1")
        .env(
            "OCEAN__INTEGRATION__CONFIG__CODECOV_PAGE_SIZE",
            page_size.to_string(),
        )
        .env("RUST_LOG", "warn")
        .stderr(Stdio::piped())
        .output()
        .context("running resync --once")?;
    let seconds = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let peak_rss_mib = stderr.lines().find_map(|l| {
        l.strip_prefix("peak RSS ")?
            .strip_suffix(" MiB")?
            .parse::<f64>()
            .ok()
    });
    if !output.status.success() {
        eprintln!("{stderr}");
    }
    Ok(Pass {
        seconds,
        peak_rss_mib,
        requests: BTreeMap::new(),
        ok: output.status.success(),
    })
}

async fn port_requests(port_url: &str) -> anyhow::Result<BTreeMap<String, usize>> {
    let log: Vec<Value> = reqwest::get(format!("{port_url}/_admin/requests"))
        .await?
        .json()
        .await?;
    let mut counts = BTreeMap::new();
    for entry in &log {
        let method = entry["method"].as_str().unwrap_or_default();
        let path = entry["path"].as_str().unwrap_or_default();
        *counts
            .entry(format!("{method} {}", crate::metrics::route_of(path)))
            .or_insert(0) += 1;
    }
    reqwest::Client::new()
        .delete(format!("{port_url}/_admin/requests"))
        .send()
        .await?;
    Ok(counts)
}

pub fn run(args: &ResyncBenchArgs) -> anyhow::Result<ExitCode> {
    let repos = args.repos.to_string();
    println!(
        "resync benchmark: {} repositories, kind coverage, Codecov page size {}",
        args.repos, args.page_size
    );
    let (_codecov, codecov_url) = simulator(&[
        "sim",
        "codecov",
        "--addr",
        "127.0.0.1:0",
        "--owners",
        "1",
        "--repos-per-owner",
        &repos,
        "--seed",
        "5",
    ])?;
    let (_port, port_url) = port_simulator()?;
    let runtime = tokio::runtime::Runtime::new()?;
    // The mapping in force is the integration's config in Port: coverage only.
    let default: Value = serde_norway::from_str(include_str!("../../.port/resources/port-app-config.yml"))?;
    let mut config = default.clone();
    if let Some(resources) = config["resources"].as_array_mut() {
        resources.retain(|r| r["kind"] == "coverage");
    }
    runtime.block_on(async {
        let mut settings = PortSettings::new(&port_url, "test-client", Secret::new("test-secret"));
        settings.integration_identifier = "bench-codecov".into();
        let client = PortClient::new(settings)?;
        client.create_integration(&config).await?;
        port_requests(&port_url).await?;
        anyhow::Ok(())
    })?;

    let mut passes = Vec::new();
    for name in ["first (creates)", "second (unchanged)"] {
        let mut pass = resync_pass(&port_url, &codecov_url, args.page_size)?;
        pass.requests = runtime.block_on(port_requests(&port_url))?;
        if !pass.ok {
            bail!("the {name} resync failed");
        }
        passes.push((name, pass));
    }
    let state: Value = runtime.block_on(async {
        anyhow::Ok(
            reqwest::get(format!("{port_url}/_admin/state"))
                .await?
                .json::<Value>()
                .await?,
        )
    })?;
    let landed = state["entities"]["codecov_coverage"]
        .as_array()
        .map_or(0, Vec::len);
    let bulk_bound = args.repos.div_ceil(20) + args.repos.div_ceil(20) / 100;
    for (name, pass) in &passes {
        println!(
            "\n{name} resync: {:.1} s wall, integration peak RSS {}",
            pass.seconds,
            pass.peak_rss_mib
                .map_or("unknown".into(), |m| format!("{m:.1} MiB"))
        );
        for (route, count) in &pass.requests {
            println!("  {count:>7}  {route}");
        }
    }
    let upserts = |pass: &Pass| {
        pass.requests
            .get("POST /v1/blueprints/{}/entities/bulk")
            .copied()
            .unwrap_or(0)
    };
    println!("\ncoverage entities in Port: {landed}");
    println!(
        "bulk upserts, first pass: {} (bound ⌈N/20⌉ + 1% = {bulk_bound})",
        upserts(&passes[0].1)
    );
    println!("bulk upserts, second pass: {} (target 0)", upserts(&passes[1].1));
    Ok(ExitCode::SUCCESS)
}
