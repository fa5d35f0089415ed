//! `dead-letters list|replay|discard`: the live events kept after failing.
//! With `sail` stopped it opens the journal itself; while `sail` runs (it
//! holds the journal) it asks the running integration over HTTP.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::Value;

use ocean_host::journal::journal_dir_from_env;
use ocean_host::journal::{DeadLetter, Journal, JournalOptions, OpenError, Selection};

#[derive(Args)]
pub struct DeadLettersArgs {
    #[command(subcommand)]
    action: Action,
    /// The journal's directory [default: OCEAN__JOURNAL__PATH, else `sail`'s default for this integration].
    #[arg(long, global = true)]
    journal: Option<PathBuf>,
    /// The running integration, asked when it holds the journal
    /// [default: http://127.0.0.1:<OCEAN__HTTP__PORT or 8000>].
    #[arg(long, global = true)]
    url: Option<String>,
}

#[derive(Subcommand)]
enum Action {
    /// Every dead letter: number, attempts, next retry, reason.
    List {
        /// One JSON document instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Try dead letters again now (poison ones too, e.g. after fixing the mapping).
    Replay(Which),
    /// Drop dead letters for good.
    Discard(Which),
}

#[derive(Args)]
struct Which {
    /// The event number (from `list`).
    #[arg(required_unless_present = "all")]
    seq: Option<u64>,
    /// Every dead letter.
    #[arg(long, conflicts_with = "seq")]
    all: bool,
}

impl Which {
    fn selection(&self) -> Selection {
        match self.seq {
            Some(seq) if !self.all => Selection::One(seq),
            _ => Selection::All,
        }
    }
    fn query(&self) -> String {
        match self.selection() {
            Selection::One(seq) => format!("seq={seq}"),
            Selection::All => "all=true".into(),
        }
    }
}

fn time(ms: u64) -> String {
    if ms == u64::MAX {
        return "when replayed".into();
    }
    jiff::Timestamp::from_millisecond(ms as i64).map_or_else(|_| ms.to_string(), |t| t.to_string())
}

fn print(letters: &[DeadLetter], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(letters)?);
        return Ok(());
    }
    if letters.is_empty() {
        println!("no dead letters");
        return Ok(());
    }
    for d in letters {
        let kind = if d.poison { "poison" } else { "failed" };
        println!(
            "#{:<8} {kind:<7} attempts {:<3} received {}  next try {}\n          {}",
            d.seq,
            d.attempts,
            time(d.received_ms),
            time(d.retry_at_ms),
            d.reason
        );
    }
    Ok(())
}

pub fn run(args: DeadLettersArgs) -> anyhow::Result<ExitCode> {
    let vars: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    let spec =
        ocean_host::settings::IntegrationSpec::parse(codecov::wiring::SPEC).map_err(anyhow::Error::msg)?;
    let dir = args
        .journal
        .clone()
        .unwrap_or_else(|| journal_dir_from_env(&vars, &spec.kind));
    match Journal::open(&dir, JournalOptions::default()) {
        Ok(opened) => {
            let runtime = super::runtime()?;
            let journal = opened.journal;
            match &args.action {
                Action::List { json } => print(&journal.dead_letters(), *json)?,
                Action::Replay(which) => {
                    let n = runtime.block_on(journal.revive(which.selection()));
                    println!("{n} dead letter(s) will be tried again when `sail` starts");
                }
                Action::Discard(which) => {
                    let n = runtime.block_on(journal.discard(which.selection()));
                    println!("{n} dead letter(s) discarded");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(OpenError::Locked { .. }) => over_http(&args, &vars),
        Err(e) => Err(e).context("opening the journal"),
    }
}

/// `sail` holds the journal: ask it.
fn over_http(
    args: &DeadLettersArgs,
    vars: &std::collections::BTreeMap<String, String>,
) -> anyhow::Result<ExitCode> {
    let url = args.url.clone().unwrap_or_else(|| {
        let port = vars.get("OCEAN__HTTP__PORT").map_or("8000", String::as_str);
        format!("http://127.0.0.1:{port}")
    });
    let secret = vars
        .get(&ocean_host::settings::integration_variable(
            codecov::wiring::WEBHOOK_SECRET_FIELD,
        ))
        .cloned();
    let http = ocean_support::http::build_client("ocean-codecov", std::time::Duration::from_secs(30))
        .map_err(anyhow::Error::msg)?;
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let (method, path) = match &args.action {
            Action::List { .. } => (reqwest::Method::GET, "/dead-letters".to_string()),
            Action::Replay(which) => (
                reqwest::Method::POST,
                format!("/dead-letters/replay?{}", which.query()),
            ),
            Action::Discard(which) => (
                reqwest::Method::POST,
                format!("/dead-letters/discard?{}", which.query()),
            ),
        };
        let mut request = http.request(method, format!("{url}{path}"));
        if let Some(secret) = &secret {
            request = request.header("X-Webhook-Secret", secret);
        }
        let reply = request
            .send()
            .await
            .with_context(|| format!("the journal is held by a running integration; asking it at {url}"))?;
        let status = reply.status();
        let body: Value = reply
            .json()
            .await
            .with_context(|| format!("{url}{path} answered {status}"))?;
        if !status.is_success() {
            anyhow::bail!("{url}{path} answered {status}: {}", body["message"]);
        }
        match &args.action {
            Action::List { json } => {
                let letters: Vec<DeadLetter> = serde_json::from_value(body["deadLetters"].clone())
                    .context("reading the dead letters the integration listed")?;
                print(&letters, *json)?;
            }
            Action::Replay(_) => println!(
                "{} dead letter(s) will be tried again within a second",
                body["count"]
            ),
            Action::Discard(_) => println!("{} dead letter(s) discarded", body["count"]),
        }
        anyhow::Ok(ExitCode::SUCCESS)
    })
}
