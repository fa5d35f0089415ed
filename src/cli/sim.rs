//! `ocean-codecov sim port`: the Port simulator as a process.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::sim::faults::{Fault, FaultConfig};
use crate::sim::port::{PortSim, PortSimConfig};

#[derive(Subcommand)]
pub enum SimCommand {
    /// Serve a loopback Port API (token, blueprints, entities, search, delete, integration).
    Port(PortSimArgs),
}

#[derive(Args)]
pub struct PortSimArgs {
    /// Address to listen on; keep it on loopback.
    #[arg(long, default_value = "127.0.0.1:5555")]
    addr: SocketAddr,
    #[arg(long, default_value = "test-client")]
    client_id: String,
    #[arg(long, default_value = "test-secret")]
    client_secret: String,
    /// Seconds an access token lives (Port: 3 hours).
    #[arg(long, default_value_t = 3 * 3600)]
    token_ttl_secs: u64,
    /// Requests allowed per rate period before 429s.
    #[arg(long, default_value_t = 35_000)]
    rate_limit: u64,
    #[arg(long, default_value_t = 300)]
    rate_period_secs: u64,
    /// Probability that a request fails with one of --fault-kinds.
    #[arg(long, default_value_t = 0.0)]
    fault_rate: f64,
    /// Faults to draw from: statuses (429, 503, ...) and "reset", comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "429,503,reset")]
    fault_kinds: Vec<String>,
    /// Latency added to every answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Blueprint files (JSON array or object) to create at start, e.g. .port/resources/blueprints.json.
    #[arg(long)]
    blueprints: Vec<std::path::PathBuf>,
}

pub fn run(command: SimCommand) -> anyhow::Result<ExitCode> {
    let SimCommand::Port(args) = command;
    if !args.addr.ip().is_loopback() {
        anyhow::bail!(
            "--addr {} is not a loopback address; the simulator serves this machine only",
            args.addr
        );
    }
    let kinds = args
        .fault_kinds
        .iter()
        .map(|k| Fault::try_from(k.clone()).map_err(anyhow::Error::msg))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let config = PortSimConfig {
        client_id: args.client_id,
        client_secret: args.client_secret,
        token_ttl: Duration::from_secs(args.token_ttl_secs),
        rate_limit: args.rate_limit,
        rate_period: Duration::from_secs(args.rate_period_secs.max(1)),
        faults: FaultConfig {
            rate: args.fault_rate,
            kinds,
            latency_ms: args.latency_ms,
            retry_after_secs: 1,
            ..Default::default()
        },
        ..PortSimConfig::default()
    };
    let mut blueprints = Vec::new();
    for path in &args.blueprints {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        match serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))? {
            serde_json::Value::Array(list) => blueprints.extend(list),
            one => blueprints.push(one),
        }
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let (served, sim) = PortSim::start(config, args.addr)
            .await
            .with_context(|| format!("binding {}", args.addr))?;
        for blueprint in blueprints {
            sim.add_blueprint(blueprint);
        }
        eprintln!(
            "Port simulator listening on {} (admin: {}/_admin/state); Ctrl-C stops it",
            served.url(),
            served.url()
        );
        tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
        served.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}
