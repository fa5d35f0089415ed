//! Command-line interface: each command parses its flags and calls the library.

mod dead_letters;
mod integration;
mod map;
mod probe;
#[cfg(feature = "rig")]
mod sandbox;
#[cfg(feature = "rig")]
mod sim;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use ocean_host::mapping::JqOptions;
use ocean_host::port_app_config::{self, model::PortAppConfig};

/// The version, and whether this build carries the test rig (CI checks the
/// production image's says it does not).
#[cfg(feature = "rig")]
const BUILD: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (with the test rig: sandbox, sim, bench)"
);
#[cfg(not(feature = "rig"))]
const BUILD: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (production build: no simulators, benchmarks or fuzz entry points)"
);

#[derive(Parser)]
#[command(
    name = "ocean-codecov",
    version = BUILD,
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
    /// Print every setting (name, variable, Helm value, default, meaning) as the manual's tables.
    Settings,
    #[cfg(feature = "rig")]
    /// Measure speed and memory; prints figures.
    #[command(subcommand)]
    Bench(BenchCommand),
    #[cfg(feature = "rig")]
    /// Run everything on this machine, no accounts: both simulators and the real integration.
    Sandbox(sandbox::SandboxArgs),
    /// Run the integration: set it up in Port, then resync as the event listener says.
    Sail(integration::SailArgs),
    /// Run one resync now (--once), or print what it would do (--dry-run).
    Resync(integration::ResyncArgs),
    /// Test the connections with the settings `sail` reads: Port, the source, the webhook secret, the
    /// journal. One line per check; exits 1 when one fails (Ocean's `ocean probe`).
    Probe(probe::ProbeArgs),
    /// List, replay or discard live events kept after failing (dead letters).
    DeadLetters(dead_letters::DeadLettersArgs),
    #[cfg(feature = "rig")]
    /// Run a loopback simulator of a service the integration talks to.
    #[command(subcommand)]
    Sim(sim::SimCommand),
}

#[cfg(feature = "rig")]
#[derive(Subcommand)]
enum BenchCommand {
    /// Map generated Codecov items with the engine and with the jq binary.
    Mapping(ocean_testkit::bench::mapping::MappingBenchArgs),
    /// A full resync of N repositories between the simulators: time, Port requests, peak RSS.
    Resync(ocean_testkit::bench::resync::ResyncBenchArgs),
    /// Live-event load on a running integration: accepted events/s, latency, end-to-end events/s.
    Webhook(ocean_testkit::bench::webhook::WebhookBenchArgs),
    /// SIGKILLs `sail` several times while webhooks arrive: every accepted event must reach Port.
    WebhookCrash(ocean_testkit::bench::webhook::CrashBenchArgs),
    /// Seeded random schedules of resyncs and webhooks under faults on both
    /// simulators, checking every deletion and the final catalog.
    Soak(ocean_testkit::bench::soak::SoakArgs),
}

impl Command {
    /// Commands that talk to services log to stderr; the others keep it for their own output.
    fn talks_to_services(&self) -> bool {
        match self {
            Command::Sail(_) | Command::Resync(_) | Command::Probe(_) => true,
            #[cfg(feature = "rig")]
            Command::Sandbox(_) | Command::Sim(_) => true,
            _ => false,
        }
    }
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    if cli.command.talks_to_services() {
        ocean_host::logging::init();
    }
    let result = match cli.command {
        Command::Map(args) => map::run(&args),
        Command::Validate { file } => validate(&file),
        Command::Schema => schema(),
        Command::Settings => settings_reference(),
        #[cfg(feature = "rig")]
        Command::Bench(BenchCommand::Mapping(args)) => ocean_testkit::bench::mapping::run(&args),
        #[cfg(feature = "rig")]
        Command::Bench(BenchCommand::Resync(args)) => ocean_testkit::bench::resync::run(&args),
        #[cfg(feature = "rig")]
        Command::Bench(BenchCommand::Webhook(args)) => ocean_testkit::bench::webhook::run(&args),
        #[cfg(feature = "rig")]
        Command::Bench(BenchCommand::WebhookCrash(args)) => ocean_testkit::bench::webhook::crash(&args),
        #[cfg(feature = "rig")]
        Command::Bench(BenchCommand::Soak(args)) => ocean_testkit::bench::soak::run(&args),
        #[cfg(feature = "rig")]
        Command::Sandbox(args) => sandbox::run(args),
        Command::Sail(args) => integration::sail(args),
        Command::Resync(args) => integration::resync(args),
        Command::Probe(args) => probe::run(args),
        #[cfg(feature = "rig")]
        Command::Sim(command) => sim::run(command),
        Command::DeadLetters(args) => dead_letters::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(ocean_host::lifecycle::exit_code::for_error(&e))
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

fn settings_reference() -> anyhow::Result<ExitCode> {
    let spec = ocean_host::settings::IntegrationSpec::parse(codecov::wiring::SPEC)?;
    let groups = ocean_host::settings::reference::reference(&spec);
    print!("{}", ocean_host::settings::reference::render(&groups));
    Ok(ExitCode::SUCCESS)
}

fn schema() -> anyhow::Result<ExitCode> {
    let schema = schemars::schema_for!(PortAppConfig);
    println!("{}", serde_json::to_string_pretty(&schema)?);
    Ok(ExitCode::SUCCESS)
}

pub(crate) use ocean_host::lifecycle::runtime;
