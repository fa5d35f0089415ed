//! Command-line interface: each command parses its flags and calls the library.

mod dead_letters;
mod exit_code;
mod integration;
mod map;
mod sandbox;
mod sim;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::runtime::mapping::JqOptions;
use crate::runtime::port_app_config::{self, model::PortAppConfig};

#[derive(Parser)]
#[command(
    name = "ocean-codecov",
    version,
    about = "Keeps Port's software catalog in sync with Codecov"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Map raw items (one JSON value, a JSON array, or JSON lines) to Port entities, one per line.
    Map(map::MapArgs),
    /// Check a port-app-config or Port webhook mapping: parse it and compile every expression.
    Validate {
        /// The mapping file (YAML or JSON).
        file: PathBuf,
    },
    /// Print the JSON Schema of port-app-config.
    Schema,
    /// Measure speed and memory; prints figures.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Run everything on this machine, no accounts: both simulators and the real integration.
    Sandbox(sandbox::SandboxArgs),
    /// Run the integration: set it up in Port, then resync as the event listener says.
    Sail(integration::SailArgs),
    /// Run one resync now (--once), or print what it would do (--dry-run).
    Resync(integration::ResyncArgs),
    /// List, replay or discard live events kept after failing (dead letters).
    DeadLetters(dead_letters::DeadLettersArgs),
    /// Run a loopback simulator of a service the integration talks to.
    #[command(subcommand)]
    Sim(sim::SimCommand),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Map generated Codecov items with the engine and with the jq binary.
    Mapping(crate::bench::mapping::MappingBenchArgs),
    /// A full resync of N repositories between the simulators: time, Port requests, peak RSS.
    Resync(crate::bench::resync::ResyncBenchArgs),
    /// Live-event load on a running integration: accepted events/s, latency, end-to-end events/s.
    Webhook(crate::bench::webhook::WebhookBenchArgs),
    /// SIGKILLs `sail` several times while webhooks arrive: every accepted event must reach Port.
    WebhookCrash(crate::bench::webhook::CrashBenchArgs),
    /// Seeded random schedules of resyncs and webhooks under faults on both
    /// simulators, checking every deletion and the final catalog.
    Soak(crate::bench::soak::SoakArgs),
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    // Commands that talk to services log to stderr; the others keep it for their own output.
    if matches!(
        cli.command,
        Command::Sandbox(_) | Command::Sail(_) | Command::Resync(_) | Command::Sim(_)
    ) {
        crate::logging::init();
    }
    let result = match cli.command {
        Command::Map(args) => map::run(&args),
        Command::Validate { file } => validate(&file),
        Command::Schema => schema(),
        Command::Bench(BenchCommand::Mapping(args)) => crate::bench::mapping::run(&args),
        Command::Bench(BenchCommand::Resync(args)) => crate::bench::resync::run(&args),
        Command::Bench(BenchCommand::Webhook(args)) => crate::bench::webhook::run(&args),
        Command::Bench(BenchCommand::WebhookCrash(args)) => crate::bench::webhook::crash(&args),
        Command::Bench(BenchCommand::Soak(args)) => crate::bench::soak::run(&args),
        Command::Sandbox(args) => sandbox::run(args),
        Command::Sail(args) => integration::sail(args),
        Command::Resync(args) => integration::resync(args),
        Command::Sim(command) => sim::run(command),
        Command::DeadLetters(args) => dead_letters::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit_code::for_error(&e))
        }
    }
}

fn validate(file: &std::path::Path) -> anyhow::Result<ExitCode> {
    match port_app_config::load_file(file, JqOptions::default()) {
        Ok(loaded) => {
            println!(
                "OK: {}: {} resource(s), {} expression(s) compiled",
                file.display(),
                loaded.mappers.len(),
                loaded.expression_count()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            for fault in &errors.0 {
                eprintln!("{fault}");
            }
            Ok(ExitCode::FAILURE)
        }
    }
}

fn schema() -> anyhow::Result<ExitCode> {
    let schema = schemars::schema_for!(PortAppConfig);
    println!("{}", serde_json::to_string_pretty(&schema)?);
    Ok(ExitCode::SUCCESS)
}

/// The multi-threaded async runtime the commands that talk to services use.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().context("starting the async runtime")
}
