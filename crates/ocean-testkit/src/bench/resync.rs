//! `bench resync`: a full resync of N repositories (the `coverage` kind, or
//! others) from the Codecov simulator into the Port simulator, each in its own
//! process, optionally under injected faults on both: timed, with Port's
//! requests counted by route and the integration's peak RSS.

use std::collections::BTreeMap;
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};
use serde_json::Value;

use super::{port_simulator, simulator};
use crate::harness::{CODECOV_SIM_ON_LOOPBACK, IntegrationEnv, PORT_CLIENT_ID, PORT_CLIENT_SECRET};
use ocean_port::{PortClient, PortSettings};
use ocean_support::secret::Secret;

#[derive(clap::Args)]
pub struct ResyncBenchArgs {
    /// Repositories in all, spread evenly over `--owners`.
    #[arg(long, default_value_t = 100_000)]
    repos: usize,
    /// Codecov owners (organisations) the repositories belong to.
    #[arg(long, default_value_t = 1)]
    owners: usize,
    /// Codecov API page size the integration asks for.
    #[arg(long, default_value_t = 100)]
    page_size: u32,
    /// Kinds of the default mapping to resync, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "coverage")]
    kinds: Vec<String>,
    /// Share of requests to each simulator that fail (429 without Retry-After,
    /// 502, 503, resets before and after applying, partial bulk replies, empty pages).
    #[arg(long, default_value_t = 0.0)]
    fault_rate: f64,
    /// Scale the simulated reports to about this many lines (230,000 makes a
    /// commit detail about 2 MB), to show what a resync reads from Codecov.
    #[arg(long)]
    report_lines: Option<i64>,
    /// The `coverage` resource's `totalsFrom` selector: `report` (the mapping's
    /// default: the totals route, exact) or `commit` (the commit list only).
    #[arg(long)]
    totals_from: Option<String>,
}

const PORT_FAULTS: &str = "429,502,503,reset,drop,partial";
const CODECOV_FAULTS: &str = "429,502,503,reset,drop,empty-page";

/// What the integration read from Codecov in a pass.
#[derive(Default)]
struct CodecovReads {
    requests: usize,
    bytes: u64,
    largest: u64,
}

struct Pass {
    codecov: CodecovReads,
    /// The resync's own line on what it kept for the deletion phase.
    deletion_state: Option<String>,
    seconds: f64,
    peak_rss_mib: Option<f64>,
    requests: BTreeMap<String, usize>,
    /// The resync's own mapping figures per kind (time inside the mapper).
    mapping: Vec<String>,
    ok: bool,
}

fn resync_pass(port_url: &str, codecov_url: &str, args: &ResyncBenchArgs) -> anyhow::Result<Pass> {
    let exe = std::env::current_exe()?;
    let started = Instant::now();
    // Under faults, short backoffs keep the run about the integration, not its sleeps.
    let base_delay = if args.fault_rate > 0.0 { "20" } else { "500" };
    let owners: Vec<String> = (1..=args.owners.max(1)).map(|n| format!("owner-{n}")).collect();
    let env = IntegrationEnv::new(port_url, codecov_url, &owners, "bench-codecov")
        .var("OCEAN__RETRY__BASE_DELAY_MS", base_delay)
        .field("codecovPageSize", args.page_size.to_string());
    let output = Command::new(exe)
        .args(["resync", "--once"])
        .envs(env.vars())
        .env("RUST_LOG", "warn")
        .stderr(Stdio::piped())
        .output()
        .context("running resync --once")?;
    let seconds = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let deletion_state = stderr
        .lines()
        .find(|l| l.starts_with("deletion state: "))
        .map(str::to_string);
    let peak_rss_mib = stderr.lines().find_map(|l| {
        l.strip_prefix("peak RSS ")?
            .strip_suffix(" MiB")?
            .parse::<f64>()
            .ok()
    });
    if !output.status.success() && args.fault_rate == 0.0 {
        eprintln!("{stderr}");
    }
    let mapping = stderr
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("mapping ") && l.contains(" inside the resync: "))
        .map(str::to_string)
        .collect();
    Ok(Pass {
        codecov: CodecovReads::default(),
        deletion_state,
        seconds,
        peak_rss_mib,
        requests: BTreeMap::new(),
        mapping,
        ok: output.status.success(),
    })
}

/// A simulator's request log (`/_admin/requests`), cleared once read.
async fn take_request_log(sim_url: &str) -> anyhow::Result<Vec<Value>> {
    let url = format!("{sim_url}/_admin/requests");
    let log: Vec<Value> = reqwest::get(&url).await?.json().await?;
    reqwest::Client::new().delete(&url).send().await?;
    Ok(log)
}

async fn port_requests(port_url: &str) -> anyhow::Result<BTreeMap<String, usize>> {
    let log = take_request_log(port_url).await?;
    let mut counts = BTreeMap::new();
    for entry in &log {
        let method = entry["method"].as_str().unwrap_or_default();
        let path = entry["path"].as_str().unwrap_or_default();
        *counts
            .entry(format!("{method} {}", ocean_support::metrics::route_of(path)))
            .or_insert(0) += 1;
    }
    Ok(counts)
}

/// Bytes of Codecov's replies in the simulator's log, then a clean log.
async fn codecov_reads(codecov_url: &str) -> anyhow::Result<CodecovReads> {
    let log = take_request_log(codecov_url).await?;
    let mut reads = CodecovReads::default();
    for entry in &log {
        let bytes = entry["replyBytes"].as_u64().unwrap_or(0);
        reads.requests += 1;
        reads.bytes += bytes;
        reads.largest = reads.largest.max(bytes);
    }
    Ok(reads)
}

pub fn run(args: &ResyncBenchArgs) -> anyhow::Result<ExitCode> {
    let owners = args.owners.max(1);
    let repos = args.repos.div_ceil(owners).to_string();
    let owner_count = owners.to_string();
    println!(
        "resync benchmark: {} repositories over {owners} owner(s), kinds {}, Codecov page size {}, fault rate {}, \
         coverage totals from {}",
        args.repos,
        args.kinds.join(","),
        args.page_size,
        args.fault_rate,
        args.totals_from.as_deref().unwrap_or("report")
    );
    let rate = args.fault_rate.to_string();
    let faults = |kinds: &'static str| -> Vec<&str> {
        vec![
            "--fault-rate",
            &rate,
            "--fault-kinds",
            kinds,
            "--retry-after",
            "0",
        ]
    };
    let mut codecov_args = CODECOV_SIM_ON_LOOPBACK.to_vec();
    codecov_args.extend([
        "--owners",
        &owner_count,
        "--repos-per-owner",
        &repos,
        "--seed",
        "5",
    ]);
    let report_lines = args.report_lines.map(|n| n.to_string());
    if let Some(lines) = &report_lines {
        codecov_args.extend(["--report-lines", lines.as_str()]);
    }
    codecov_args.extend(faults(CODECOV_FAULTS));
    let (_codecov, codecov_url) = simulator(&codecov_args)?;
    let (_port, port_url) = port_simulator(&faults(PORT_FAULTS))?;
    let runtime = tokio::runtime::Runtime::new()?;
    // The mapping in force is the integration's config in Port: the chosen kinds only.
    let default: Value =
        serde_norway::from_str(include_str!("../../../../.port/resources/port-app-config.yml"))?;
    let mut config = default.clone();
    if let Some(resources) = config["resources"].as_array_mut() {
        resources.retain(|r| args.kinds.iter().any(|k| r["kind"] == k.as_str()));
        if let Some(from) = &args.totals_from {
            for resource in resources.iter_mut().filter(|r| r["kind"] == "coverage") {
                resource["selector"]["totalsFrom"] = Value::String(from.clone());
            }
        }
    }
    runtime.block_on(async {
        let settings = PortSettings::new(
            &port_url,
            PORT_CLIENT_ID,
            Secret::new(PORT_CLIENT_SECRET),
            "codecov",
            "bench-codecov",
        );
        let client = PortClient::new(settings)?;
        client.create_integration(&config).await?;
        port_requests(&port_url).await?;
        anyhow::Ok(())
    })?;

    let mut passes = Vec::new();
    for name in ["first (creates)", "second (unchanged)"] {
        let mut pass = resync_pass(&port_url, &codecov_url, args)?;
        pass.requests = runtime.block_on(port_requests(&port_url))?;
        pass.codecov = runtime.block_on(codecov_reads(&codecov_url))?;
        if !pass.ok && args.fault_rate == 0.0 {
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
    let landed: usize = state["entities"].as_object().map_or(0, |all| {
        all.values().filter_map(Value::as_array).map(Vec::len).sum()
    });
    let bulk_bound = landed.div_ceil(20) + landed.div_ceil(20) / 100;
    for (name, pass) in &passes {
        println!(
            "\n{name} resync: {:.1} s wall, integration peak RSS {}, {}",
            pass.seconds,
            pass.peak_rss_mib
                .map_or("unknown".into(), |m| format!("{m:.1} MiB")),
            if pass.ok {
                "succeeded"
            } else {
                "reported failures (deletion withheld)"
            }
        );
        for (route, count) in &pass.requests {
            println!("  {count:>7}  {route}");
        }
        for line in &pass.mapping {
            println!("  {line}");
        }
        if let Some(line) = &pass.deletion_state {
            println!("  {line}");
        }
        println!(
            "  read from Codecov: {} requests, {:.1} KiB, {:.2} KiB per repository, largest reply {:.1} KiB",
            pass.codecov.requests,
            pass.codecov.bytes as f64 / 1024.0,
            pass.codecov.bytes as f64 / 1024.0 / args.repos.max(1) as f64,
            pass.codecov.largest as f64 / 1024.0
        );
    }
    let upserts = |pass: &Pass| {
        pass.requests
            .get("POST /v1/blueprints/{}/entities/bulk")
            .copied()
            .unwrap_or(0)
    };
    println!("\nentities in Port: {landed}");
    println!(
        "bulk upserts, first pass: {} (bound ⌈N/20⌉ + 1% = {bulk_bound})",
        upserts(&passes[0].1)
    );
    println!("bulk upserts, second pass: {} (target 0)", upserts(&passes[1].1));
    Ok(ExitCode::SUCCESS)
}
