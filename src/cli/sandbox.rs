//! `ocean-codecov sandbox`: the whole integration on one machine, no accounts.
//! Both simulators on free loopback ports, the real integration against them:
//! registration, blueprints, a resync with progress, then Port's documented
//! Codecov webhook and a few generated ones through the HTTP server.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use serde_json::Value;

use super::runtime;
use ocean_host::lifecycle::Running;
use ocean_host::lifecycle::summary::summarise;
use ocean_host::resync::progress::Bars;
use ocean_sim::codecov::data::seed_example_payload;
use ocean_sim::codecov::{CodecovSim, CodecovSimConfig, DEFAULT_TOKEN};
use ocean_sim::port::{PortSim, PortSimConfig};
use ocean_testkit::harness::IntegrationEnv;

#[derive(Args)]
pub struct SandboxArgs {
    /// Generated Codecov owners (Port's example owner `slanks` is always there).
    #[arg(long, default_value_t = 2)]
    owners: usize,
    #[arg(long, default_value_t = 25)]
    repos_per_owner: usize,
    /// Stay up after the run, so you can post webhooks and call /resync; Ctrl-C stops.
    #[arg(long)]
    serve: bool,
    /// Print what the integration's /metrics route serves after the run.
    #[arg(long)]
    show_metrics: bool,
    /// The Port client secret the simulator expects and the integration sends.
    #[arg(
        long,
        env = "SANDBOX_PORT_CLIENT_SECRET",
        default_value = "test-secret",
        hide_env_values = true
    )]
    port_client_secret: String,
    /// The Codecov API token the simulator expects and the integration sends.
    #[arg(long, env = "SANDBOX_CODECOV_TOKEN", default_value = DEFAULT_TOKEN, hide_env_values = true)]
    codecov_token: String,
    /// The secret webhooks must carry.
    #[arg(
        long,
        env = "SANDBOX_WEBHOOK_SECRET",
        default_value = "sandbox-webhook-secret",
        hide_env_values = true
    )]
    webhook_secret: String,
    /// A port-app-config to run instead of the default: set as the integration's
    /// mapping in the Port simulator, as an edit in Port's UI would, before the resync.
    #[arg(long, value_name = "FILE")]
    mapping: Option<std::path::PathBuf>,
}

const SEED_ENTITY: &str = include_str!("../../resources/codecov/seed-expected-entity.json");
const IDENTIFIER: &str = "sandbox-codecov";

pub fn run(args: SandboxArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(tokio::task::LocalSet::new().run_until(sandbox(args)))
}

async fn sandbox(args: SandboxArgs) -> anyhow::Result<ExitCode> {
    let loopback = "127.0.0.1:0".parse()?;
    let port_config = PortSimConfig {
        client_secret: args.port_client_secret.clone(),
        ..PortSimConfig::default()
    };
    let (port, port_sim) = PortSim::start(port_config, loopback)
        .await
        .context("starting the Port simulator")?;
    let mut codecov_config = CodecovSimConfig::generated(args.owners, args.repos_per_owner, 7);
    codecov_config.token = args.codecov_token.clone();
    codecov_config.dataset.add_from_payload(&seed_example_payload());
    let owners: Vec<String> = codecov_config
        .dataset
        .owners
        .iter()
        .map(|o| o.username.clone())
        .collect();
    let (codecov, codecov_sim) = CodecovSim::start(codecov_config, loopback)
        .await
        .context("starting the Codecov simulator")?;
    println!("Port simulator:    {}  (GET /_admin/state)", port.url());
    println!(
        "Codecov simulator: {}  (owners {})",
        codecov.url(),
        owners.join(", ")
    );

    let env = IntegrationEnv::new(&port.url(), &codecov.url(), &owners, IDENTIFIER)
        .var("OCEAN__PORT__CLIENT_SECRET", args.port_client_secret.clone())
        .field("codecovToken", args.codecov_token.clone())
        .field("webhookSecret", args.webhook_secret.clone())
        .var("OCEAN__EVENT_LISTENER__TYPE", "WEBHOOKS_ONLY");
    let host = Arc::new(env.host()?);

    println!("\n1. Registering the integration and its blueprints in Port");
    // Log lines go to Port's logs view as in production (APPLICATION__ENABLE_HTTP_LOGGING).
    let shipping = ocean_host::logging::enable_shipping();
    host.set_up().await?;
    if let Some(file) = &args.mapping {
        install_mapping(&host, file).await?;
    }
    println!("2. Resyncing from Codecov");
    let progress = Bars::for_stderr();
    let report = host.resync(progress.as_ref(), false).await?;
    summarise(&report);

    let running = Running::start(host.clone(), loopback)
        .await
        .context("starting the HTTP server")?;
    let hook = format!(
        "{}/integration/webhook?token={}",
        running.url(),
        args.webhook_secret
    );
    println!(
        "3. Posting Codecov webhooks to {}/integration/webhook",
        running.url()
    );
    let mut payloads = vec![seed_example_payload()];
    for owner in owners.iter().filter(|o| *o != "slanks") {
        let dataset = codecov_sim.dataset();
        let repo = dataset
            .owner(owner)
            .and_then(|o| o.repos.iter().find(|r| r.active && !r.commits.is_empty()));
        if let Some(payload) = repo.and_then(|r| codecov_sim.webhook_payload(owner, &r.name, true)) {
            payloads.push(payload);
        }
    }
    let sent = ocean_sim::webhook_sender::send_all(&hook, &payloads).await?;
    println!("   {sent} webhook(s) accepted");

    if args.serve {
        println!(
            "\nServing. Try: curl -X POST '{}/resync?token=<the webhook secret>'   (Ctrl-C stops)",
            running.url()
        );
        tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    }
    if args.show_metrics {
        let metrics = reqwest::Client::builder()
            .no_proxy()
            .build()?
            .get(format!("{}/metrics", running.url()))
            .send()
            .await
            .context("reading /metrics")?
            .text()
            .await?;
        println!("\nThe integration's /metrics:\n{metrics}");
    }
    running.stop(&host).await;
    if shipping {
        ocean_host::logging::flush(&host.port).await;
    }

    println!("\nIn the Port simulator now:");
    let state = port_sim.store_counts();
    for (blueprint, count) in &state {
        println!("  {blueprint:<20} {count:>6} entities");
    }
    show_integration_page(&port_sim, &host.settings.integration_identifier);
    if args.mapping.is_some() {
        show_sample_entities(&port_sim, &state);
        // Port's example is the default mapping's contract; another mapping makes other entities.
        println!("\nPort's documented Codecov example: not checked (a mapping of your own is in force)");
        return Ok(if report.succeeded() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    let seed_ok = seed_entity_matches(&port_sim.entities("codecov_coverage"));
    println!(
        "\nPort's documented Codecov example: {}",
        if seed_ok {
            "the entity in Port equals seed-expected-entity.json (identifier qualified: github/slanks/...)"
        } else {
            "MISMATCH with seed-expected-entity.json"
        }
    );
    Ok(if seed_ok && report.succeeded() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Checks `file` as `validate` does, then makes it the integration's mapping in
/// Port (`PATCH /v1/integration/{identifier}/config`, what Port's UI sends).
async fn install_mapping(host: &ocean_host::Host, file: &std::path::Path) -> anyhow::Result<()> {
    if let Err(errors) =
        ocean_host::port_app_config::load_file(file, ocean_host::mapping::JqOptions::default())
    {
        anyhow::bail!("{} does not load:\n{errors}", file.display());
    }
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let config: Value =
        serde_norway::from_str(&text).with_context(|| format!("reading {}", file.display()))?;
    host.port
        .patch_integration_config(&config)
        .await
        .context("setting the mapping in the Port simulator")?;
    println!(
        "   mapping in Port: {} (as if edited in Port's UI)",
        file.display()
    );
    Ok(())
}

/// One entity of each blueprint, so the effect of a mapping edit shows.
fn show_sample_entities(port_sim: &ocean_sim::port::PortSim, counts: &[(String, usize)]) {
    println!("\nOne entity of each blueprint:");
    for (blueprint, _) in counts {
        if let Some(entity) = port_sim.entities(blueprint).into_iter().next() {
            let shown = serde_json::to_string_pretty(&entity).unwrap_or_default();
            println!("  {blueprint}:\n{}", indent(&shown, "    "));
        }
    }
}

fn indent(text: &str, by: &str) -> String {
    text.lines()
        .map(|l| format!("{by}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What Port's page for the integration would show: its resync state, the
/// last resync's per-kind sync metrics, the mapping editor's raw examples and
/// the logs view.
fn show_integration_page(port_sim: &ocean_sim::port::PortSim, identifier: &str) {
    println!("\nWhat Port shows about the integration:");
    if let Some(state) = port_sim
        .integration(identifier)
        .and_then(|i| i.get("resyncState").cloned())
    {
        let field = |name: &str| state.get(name).and_then(Value::as_str).unwrap_or("-").to_string();
        println!(
            "  resync state: {} (last started {}, ended {}, next scheduled {})",
            field("status"),
            field("lastResyncStart"),
            field("lastResyncEnd"),
            field("nextResync")
        );
    }
    let feed = port_sim.feed();
    let count = |phase: &Value, step: &str, kind: &str| {
        phase[step]["object_count_type"][kind]["object_count"]
            .as_u64()
            .unwrap_or(0)
    };
    for records in feed.sync_metrics.values() {
        let mut records: Vec<&Value> = records.values().collect();
        records.sort_by_key(|r| r["kindIndex"].as_u64().unwrap_or(0));
        for record in records {
            let phase = &record["metrics"]["phase"];
            println!(
                "  sync {:<22} {:<10} {:>6} extracted {:>6} loaded {:>6} unchanged {:>4} failed",
                record["kindIdentifier"].as_str().unwrap_or("-"),
                record["syncState"].as_str().unwrap_or("-"),
                count(phase, "extract", "raw_extracted"),
                count(phase, "load", "loaded"),
                count(phase, "load", "skipped"),
                count(phase, "load", "failed") + count(phase, "transform", "failed")
            );
        }
    }
    for ((_, kind), examples) in &feed.examples {
        println!("  mapping editor: {} raw example(s) of {kind}", examples.len());
    }
    let lines: usize = feed.logs.values().map(Vec::len).sum();
    println!("  logs view: {lines} line(s)");
}

fn seed_entity_matches(entities: &[Value]) -> bool {
    let Ok(expected) = serde_json::from_str::<Value>(SEED_ENTITY) else {
        return false;
    };
    // The default mapping qualifies the identifier with service and owner.
    let identifier = format!(
        "github/slanks/{}",
        expected["identifier"].as_str().unwrap_or_default()
    );
    entities.iter().any(|e| {
        e["identifier"] == identifier.as_str()
            && ["title", "properties", "relations"]
                .iter()
                .all(|field| e[field] == expected[field])
    })
}
