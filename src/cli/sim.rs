//! `ocean-codecov sim port`: the Port simulator as a process.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};

use ocean_sim::codecov::data::{Dataset, seed_example_payload};
use ocean_sim::codecov::{CodecovSim, CodecovSimConfig, webhook_payload_for};
use ocean_sim::faults::{Fault, FaultConfig};
use ocean_sim::port::{PortSim, PortSimConfig};

#[derive(Subcommand)]
pub enum SimCommand {
    /// Serve a loopback Port API (token, blueprints, entities, search, delete, integration).
    Port(PortSimArgs),
    /// Serve a loopback Codecov API v2 over generated, deterministic records.
    Codecov(CodecovSimArgs),
    /// Post Codecov notify-webhook payloads to a URL, as Codecov's worker does.
    Webhook(WebhookArgs),
}

/// Faults to inject, shared by the simulators' commands.
#[derive(Args)]
pub struct FaultArgs {
    /// Probability that a request fails with one of --fault-kinds.
    #[arg(long, default_value_t = 0.0)]
    fault_rate: f64,
    /// Faults to draw from, comma-separated: statuses (429, 503, ...), reset,
    /// drop, slow, and partial/expire-token (Port) or empty-page/empty-list (Codecov).
    #[arg(long, value_delimiter = ',', default_value = "429,503,reset")]
    fault_kinds: Vec<String>,
    /// Latency added to every answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Latency a "slow" fault adds, in milliseconds.
    #[arg(long, default_value_t = 1_500)]
    spike_ms: u64,
    /// `Retry-After` seconds sent with an injected 429; 0 sends none.
    #[arg(long, default_value_t = 1)]
    retry_after: u64,
    /// Requests served at once at most, the rest queued (0: no cap).
    #[arg(long, default_value_t = 0)]
    max_in_flight: usize,
}

impl FaultArgs {
    fn config(&self) -> anyhow::Result<FaultConfig> {
        let kinds = self
            .fault_kinds
            .iter()
            .map(|k| Fault::try_from(k.clone()).map_err(anyhow::Error::msg))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(FaultConfig {
            rate: self.fault_rate,
            kinds,
            latency_ms: self.latency_ms,
            retry_after_secs: self.retry_after,
            spike_ms: self.spike_ms,
            max_in_flight: self.max_in_flight,
            ..Default::default()
        })
    }
}

#[derive(Args)]
pub struct CodecovSimArgs {
    /// Address to listen on; keep it on loopback.
    #[arg(long, default_value = "127.0.0.1:5556")]
    addr: SocketAddr,
    #[command(flatten)]
    records: RecordArgs,
    /// The API token the simulator accepts.
    #[arg(long, default_value = ocean_sim::codecov::DEFAULT_TOKEN)]
    token: String,
    /// Also serve the repository of Port's documented example payload (owner slanks).
    #[arg(long)]
    with_seed_example: bool,
    #[command(flatten)]
    faults: FaultArgs,
}

#[derive(Args)]
pub struct WebhookArgs {
    /// Where to post, e.g. the integration's http://127.0.0.1:8000/webhook.
    #[arg(long)]
    to: String,
    /// Payload files to post as they are.
    #[arg(long)]
    payload: Vec<std::path::PathBuf>,
    /// Post Port's documented example payload.
    #[arg(long)]
    seed_example: bool,
    /// Post payloads for this many generated repositories (same data as `sim codecov`).
    #[arg(long, default_value_t = 0)]
    generate: usize,
    #[command(flatten)]
    records: RecordArgs,
}

/// The simulated Codecov's records; the same flags give the same records.
#[derive(Args)]
pub struct RecordArgs {
    #[arg(long, default_value_t = 3)]
    owners: usize,
    #[arg(long, default_value_t = 250)]
    repos_per_owner: usize,
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Scale every report to about this many lines, so commit details weigh
    /// what a large repository's do (230,000 lines: about 2 MB).
    #[arg(long)]
    report_lines: Option<i64>,
}

impl RecordArgs {
    fn dataset(&self) -> Dataset {
        let dataset = Dataset::generate(self.owners, self.repos_per_owner, self.seed);
        match self.report_lines {
            Some(lines) => dataset.with_report_lines(lines),
            None => dataset,
        }
    }
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
    #[command(flatten)]
    faults: FaultArgs,
    /// Blueprint files (JSON array or object) to create at start, e.g. .port/resources/blueprints.json.
    #[arg(long)]
    blueprints: Vec<std::path::PathBuf>,
}

pub fn run(command: SimCommand) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    match command {
        SimCommand::Port(args) => runtime.block_on(port(args)),
        SimCommand::Codecov(args) => runtime.block_on(codecov(args)),
        SimCommand::Webhook(args) => runtime.block_on(webhook(args)),
    }
}

fn loopback_only(addr: SocketAddr) -> anyhow::Result<()> {
    if !addr.ip().is_loopback() {
        anyhow::bail!("--addr {addr} is not a loopback address; the simulator serves this machine only");
    }
    Ok(())
}

async fn serve_until_ctrl_c(served: ocean_sim::Served, what: &str) -> anyhow::Result<ExitCode> {
    eprintln!(
        "{what} simulator listening on {} (admin: {}/_admin/state); Ctrl-C stops it",
        served.url(),
        served.url()
    );
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    served.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

async fn codecov(args: CodecovSimArgs) -> anyhow::Result<ExitCode> {
    loopback_only(args.addr)?;
    let mut config = CodecovSimConfig::generated(0, 0, 0);
    config.dataset = args.records.dataset();
    config.token = args.token;
    config.faults = args.faults.config()?;
    if args.with_seed_example {
        config.dataset.add_from_payload(&seed_example_payload());
    }
    let (served, _sim) = CodecovSim::start(config, args.addr)
        .await
        .with_context(|| format!("binding {}", args.addr))?;
    serve_until_ctrl_c(served, "Codecov").await
}

async fn webhook(args: WebhookArgs) -> anyhow::Result<ExitCode> {
    let mut payloads = Vec::new();
    for path in &args.payload {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        payloads.push(serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?);
    }
    if args.seed_example {
        payloads.push(seed_example_payload());
    }
    if args.generate > 0 {
        let dataset = args.records.dataset();
        let repos = dataset
            .owners
            .iter()
            .flat_map(|o| o.repos.iter().map(move |r| (o, r)));
        for (owner, repo) in repos.take(args.generate) {
            let payload = webhook_payload_for(
                &dataset,
                "https://app.codecov.io",
                &owner.username,
                &repo.name,
                true,
            );
            payloads.extend(payload);
        }
    }
    if payloads.is_empty() {
        anyhow::bail!("nothing to send: give --payload FILE, --seed-example or --generate N");
    }
    let sent = ocean_sim::webhook_sender::send_all(&args.to, &payloads).await?;
    eprintln!("posted {sent} payload(s) to {}", args.to);
    Ok(ExitCode::SUCCESS)
}

async fn port(args: PortSimArgs) -> anyhow::Result<ExitCode> {
    loopback_only(args.addr)?;
    let config = PortSimConfig {
        client_id: args.client_id,
        client_secret: args.client_secret,
        token_ttl: Duration::from_secs(args.token_ttl_secs),
        rate_limit: args.rate_limit,
        rate_period: Duration::from_secs(args.rate_period_secs.max(1)),
        faults: args.faults.config()?,
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
    let (served, sim) = PortSim::start(config, args.addr)
        .await
        .with_context(|| format!("binding {}", args.addr))?;
    for blueprint in blueprints {
        sim.add_blueprint(blueprint);
    }
    serve_until_ctrl_c(served, "Port").await
}
