//! `bench webhook` and `bench webhook-crash`: live-event load on a running
//! integration (`sail`, journal on), all on loopback. The load generator sends
//! each event once and never again, whatever the answer, as Codecov does.
//!
//! `webhook`: accepted events/s, latency, end-to-end events/s into the Port
//! simulator (its default rate limit), with `--per-entity K` events for each
//! entity sent out of order to show coalescing and that the newest wins.
//! `webhook-crash`: SIGKILLs `sail` several times while events arrive, restarts
//! it on the same journal, and checks every accepted event reached Port.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::Mutex;

use super::{load, simulator};
use ocean_sim::codecov::DEFAULT_TOKEN;
use ocean_sim::codecov::data::Dataset;
use ocean_sim::rng::SplitMix;

#[derive(clap::Args)]
pub struct WebhookBenchArgs {
    /// Events to send.
    #[arg(long, default_value_t = 20_000)]
    events: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Events per entity (repository), sent shuffled with distinct head
    /// timestamps: the newest must win. 1: every event a different entity.
    #[arg(long, default_value_t = 1)]
    per_entity: usize,
}

#[derive(clap::Args)]
pub struct CrashBenchArgs {
    /// Events to send, each for a different repository.
    #[arg(long, default_value_t = 20_000)]
    events: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// SIGKILLs while events arrive.
    #[arg(long, default_value_t = 5)]
    kills: usize,
    /// Seed of the kill times.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

const SECRET: &str = "bench-secret";
const BLUEPRINT: &str = "codecov_coverage";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One webhook payload per repository of a generated owner, `count` of them.
/// Repositories the generated owner holds for `count` events.
fn repos_for(count: usize) -> usize {
    count * 3 / 2 + 10
}

/// The Codecov simulator holding the same records as `payloads(count)`: the
/// plugin reads each event's repository (its default branch) from it.
fn codecov_simulator(count: usize) -> anyhow::Result<(crate::harness::Process, String)> {
    let repos = repos_for(count).to_string();
    simulator(&[
        "sim",
        "codecov",
        "--addr",
        "127.0.0.1:0",
        "--owners",
        "1",
        "--repos-per-owner",
        &repos,
        "--seed",
        "9",
    ])
}

fn payloads(count: usize) -> anyhow::Result<Vec<Value>> {
    let dataset = Dataset::generate(1, repos_for(count), 9);
    let payloads = crate::harness::webhook_payloads(&dataset, count);
    if payloads.len() < count {
        bail!("generated only {} payloads", payloads.len());
    }
    Ok(payloads)
}

fn repo_of(payload: &Value) -> String {
    payload
        .pointer("/repo/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// A fresh directory for one run's journal.
fn journal_dir(name: &str) -> anyhow::Result<PathBuf> {
    let dir = ocean_host::journal::scratch_journal_dir(name);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// `sail` as a child process on a given journal (and port, 0 for any).
struct Sail {
    child: tokio::process::Child,
    url: String,
    replayed: Arc<AtomicUsize>,
}

async fn start_sail(
    port_url: &str,
    codecov_url: &str,
    journal: &Path,
    http_port: u16,
) -> anyhow::Result<Sail> {
    let exe = std::env::current_exe()?;
    let mut child = tokio::process::Command::new(exe)
        .arg("sail")
        .env("OCEAN__PORT__BASE_URL", port_url)
        .env("OCEAN__PORT__CLIENT_ID", "test-client")
        .env("OCEAN__PORT__CLIENT_SECRET", "test-secret")
        .env("OCEAN__INTEGRATION__IDENTIFIER", "bench-live")
        .env("OCEAN__INTEGRATION__CONFIG__CODECOV_TOKEN", DEFAULT_TOKEN)
        .env("OCEAN__INTEGRATION__CONFIG__CODECOV_URL", codecov_url)
        .env("OCEAN__INTEGRATION__CONFIG__CODECOV_OWNERS", "owner-1")
        .env("OCEAN__INTEGRATION__CONFIG__WEBHOOK_SECRET", SECRET)
        .env("OCEAN__EVENT_LISTENER__TYPE", "WEBHOOKS_ONLY")
        .env("OCEAN__HTTP__HOST", "127.0.0.1")
        .env("OCEAN__HTTP__PORT", http_port.to_string())
        .env("OCEAN__JOURNAL__PATH", journal)
        .env("RUST_LOG", "warn,ocean_host::live_events=info")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting sail")?;
    let mut lines = BufReader::new(child.stderr.take().context("stderr")?).lines();
    let replayed = Arc::new(AtomicUsize::new(0));
    let url = loop {
        let line = lines.next_line().await?.context("sail ended before listening")?;
        count_replayed(&line, &replayed);
        if let Some(rest) = line.strip_prefix("listening on ") {
            break rest.split_whitespace().next().context("a URL")?.to_string();
        }
    };
    let counter = replayed.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            count_replayed(&line, &counter);
        }
    });
    Ok(Sail { child, url, replayed })
}

/// Reads `events=N` from the "replaying live events" log line.
fn count_replayed(line: &str, replayed: &AtomicUsize) {
    if !line.contains("replaying live events") {
        return;
    }
    // Without terminal colours (escape sequences end with a letter).
    let mut plain = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(char::is_ascii_alphabetic);
        } else {
            plain.push(c);
        }
    }
    let n = plain
        .split_whitespace()
        .find_map(|w| w.strip_prefix("events=")?.parse::<usize>().ok());
    if let Some(n) = n {
        replayed.fetch_add(n, Ordering::SeqCst);
    }
}

/// What sending once produced.
#[derive(Default)]
struct Sent {
    latencies: Vec<Duration>,
    /// Indices of events answered 202.
    accepted: Vec<usize>,
    /// Status (or "unreachable") → count of events not accepted.
    refused: BTreeMap<String, usize>,
}

/// Sends each body once from `concurrency` workers, each on its own
/// keep-alive connection (`load`); never resends.
async fn send_once(url: &str, bodies: Arc<Vec<Vec<u8>>>, concurrency: usize) -> anyhow::Result<Sent> {
    let addr = url
        .strip_prefix("http://")
        .context("sail listens on plain HTTP")?
        .trim_end_matches('/')
        .to_string();
    let path = format!("/integration/webhook?token={SECRET}");
    let headers = [("Content-Type", "application/json"), ("User-Agent", "Codecov")];
    // Built before the clock starts: the generator measures the server, not itself.
    let requests: Arc<Vec<Vec<u8>>> = Arc::new(
        bodies
            .iter()
            .map(|body| load::post_request(&addr, &path, &headers, body))
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let sent = Arc::new(Mutex::new(Sent::default()));
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (requests, next, sent) = (requests.clone(), next.clone(), sent.clone());
        let mut connection = load::Connection::new(&addr);
        workers.push(tokio::spawn(async move {
            let mut mine = Sent::default();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(request) = requests.get(i) else { break };
                let started = Instant::now();
                match connection.send(request).await {
                    Ok(202) => {
                        mine.latencies.push(started.elapsed());
                        mine.accepted.push(i);
                    }
                    Ok(status) => {
                        mine.latencies.push(started.elapsed());
                        *mine.refused.entry(status.to_string()).or_default() += 1;
                    }
                    Err(_) => *mine.refused.entry("unreachable".into()).or_default() += 1,
                }
            }
            let mut all = sent.lock().await;
            all.latencies.append(&mut mine.latencies);
            all.accepted.append(&mut mine.accepted);
            for (k, v) in mine.refused {
                *all.refused.entry(k).or_default() += v;
            }
        }));
    }
    for worker in workers {
        worker.await?;
    }
    let mut sent = std::mem::take(&mut *sent.lock().await);
    sent.latencies.sort();
    Ok(sent)
}

/// The coverage entities in Port, by identifier.
async fn port_entities(port_url: &str) -> anyhow::Result<BTreeMap<String, Value>> {
    let state: Value = reqwest::get(format!("{port_url}/_admin/state"))
        .await?
        .json()
        .await?;
    Ok(state["entities"][BLUEPRINT]
        .as_array()
        .into_iter()
        .flatten()
        // Identifiers are `{service}/{owner}/{repo}`; the events are told apart by repository.
        .filter_map(|e| {
            Some((
                e["identifier"].as_str()?.rsplit('/').next()?.to_string(),
                e.clone(),
            ))
        })
        .collect())
}

/// Waits until Port holds `expected` coverage entities (or 300 s pass).
async fn wait_for_port(
    port_url: &str,
    expected: usize,
) -> anyhow::Result<(BTreeMap<String, Value>, Instant)> {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let entities = port_entities(port_url).await?;
        if entities.len() >= expected || Instant::now() > deadline {
            return Ok((entities, Instant::now()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn stop(mut sail: Sail) {
    if let Some(pid) = sail.child.id() {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
    }
    let _ = tokio::time::timeout(Duration::from_secs(30), sail.child.wait()).await;
}

/// `per_entity` copies of each payload with increasing head timestamps and
/// distinct coverage, shuffled; the coverage each entity must end with.
fn versions(base: Vec<Value>, per_entity: usize, seed: u64) -> (Vec<Value>, BTreeMap<String, Value>) {
    let mut events = Vec::new();
    let mut newest = BTreeMap::new();
    for payload in base {
        for k in 0..per_entity {
            let mut event = payload.clone();
            let coverage = json!(format!("{}.5", 10 + k));
            event["head"]["timestamp"] = json!(format!("2026-01-01T00:{:02}:{:02}", k / 60 % 60, k % 60));
            event["head"]["totals"]["coverage"] = coverage.clone();
            if k + 1 == per_entity {
                newest.insert(repo_of(&event), coverage);
            }
            events.push(event);
        }
    }
    let mut rng = SplitMix(seed);
    for i in (1..events.len()).rev() {
        events.swap(i, rng.below(i as u64 + 1) as usize);
    }
    (events, newest)
}

pub fn run(args: &WebhookBenchArgs) -> anyhow::Result<ExitCode> {
    let per_entity = args.per_entity.max(1);
    let entities = args.events.div_ceil(per_entity);
    println!(
        "webhook benchmark: {} events for {entities} entities ({per_entity} each, shuffled), {} in flight, \
         journal on, loopback; each event sent once (no resend on any answer)",
        entities * per_entity,
        args.concurrency
    );
    let (_codecov, codecov_url) = codecov_simulator(entities)?;
    // The simulator's default rate limit, Port's own (35,000 requests per 5 minutes).
    let (_port, port_url) = simulator(&["sim", "port", "--addr", "127.0.0.1:0"])?;
    let (events, newest) = versions(payloads(entities)?, per_entity, 7);
    let bodies: Vec<Vec<u8>> = events.iter().map(serde_json::to_vec).collect::<Result<_, _>>()?;
    let journal = journal_dir("webhook")?;
    let runtime = tokio::runtime::Runtime::new()?;
    let outcome = runtime.block_on(async {
        let sail = start_sail(&port_url, &codecov_url, &journal, 0).await?;
        let started = Instant::now();
        let sent = send_once(&sail.url, Arc::new(bodies), args.concurrency).await?;
        let accepting = started.elapsed();
        let accepted_entities: BTreeSet<String> =
            sent.accepted.iter().map(|&i| repo_of(&events[i])).collect();
        let (in_port, done) = wait_for_port(&port_url, accepted_entities.len()).await?;
        // Coalesced entities land before their last event was applied; wait for the newest to win.
        let mut in_port = in_port;
        let mut done = done;
        let deadline = Instant::now() + Duration::from_secs(60);
        while accepted_entities
            .iter()
            .any(|r| in_port.get(r).map(|e| &e["properties"]["coverage"]) != newest.get(r))
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
            in_port = port_entities(&port_url).await?;
            done = Instant::now();
        }
        let end_to_end = done - started;
        let n = sent.accepted.len() as f64;
        println!(
            "accepted {} of {} events in {:.2} s: {:.0} events/s; refused: {:?}",
            sent.accepted.len(),
            events.len(),
            accepting.as_secs_f64(),
            n / accepting.as_secs_f64(),
            sent.refused
        );
        println!(
            "webhook latency (answer after the durable append): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            ms(percentile(&sent.latencies, 0.50)),
            ms(percentile(&sent.latencies, 0.99)),
            ms(sent.latencies.last().copied().unwrap_or_default()),
        );
        let wrong = accepted_entities
            .iter()
            .filter(|r| in_port.get(*r).map(|e| &e["properties"]["coverage"]) != newest.get(*r))
            .count();
        println!(
            "in Port: {} entities of {} accepted, {} not at their newest event's state; \
             {:.2} s end to end: {:.0} events/s applied ({:.0} entities/s)",
            in_port.len(),
            accepted_entities.len(),
            wrong,
            end_to_end.as_secs_f64(),
            n / end_to_end.as_secs_f64(),
            in_port.len() as f64 / end_to_end.as_secs_f64()
        );
        stop(sail).await;
        if in_port.len() != accepted_entities.len() || wrong > 0 || !sent.refused.is_empty() {
            bail!("Port does not hold exactly the accepted events' newest states");
        }
        anyhow::Ok(())
    });
    let _ = std::fs::remove_dir_all(&journal);
    outcome?;
    Ok(ExitCode::SUCCESS)
}

pub fn crash(args: &CrashBenchArgs) -> anyhow::Result<ExitCode> {
    println!(
        "crash benchmark: {} events, {} in flight, {} SIGKILLs while they arrive, journal on, loopback",
        args.events, args.concurrency, args.kills
    );
    let (_codecov, codecov_url) = codecov_simulator(args.events)?;
    let (_port, port_url) = simulator(&["sim", "port", "--addr", "127.0.0.1:0"])?;
    let events = payloads(args.events)?;
    let bodies: Vec<Vec<u8>> = events.iter().map(serde_json::to_vec).collect::<Result<_, _>>()?;
    let journal = journal_dir("crash")?;
    let runtime = tokio::runtime::Runtime::new()?;
    let outcome = runtime.block_on(async {
        // One port for every run, so the load generator's URL stays valid.
        let http_port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut sail = start_sail(&port_url, &codecov_url, &journal, http_port).await?;
        let url = sail.url.clone();
        let started = Instant::now();
        let concurrency = args.concurrency;
        let load = tokio::spawn(async move { send_once(&url, Arc::new(bodies), concurrency).await });
        let mut rng = SplitMix(args.seed);
        let mut replayed = 0;
        let mut kills = 0;
        while kills < args.kills && !load.is_finished() {
            tokio::time::sleep(Duration::from_millis(150 + rng.below(500))).await;
            sail.child.start_kill().context("SIGKILL")?;
            let _ = sail.child.wait().await;
            kills += 1;
            replayed += sail.replayed.load(Ordering::SeqCst);
            sail = start_sail(&port_url, &codecov_url, &journal, http_port).await?;
        }
        let sent = load.await??;
        let accepted: BTreeSet<String> = sent.accepted.iter().map(|&i| repo_of(&events[i])).collect();
        let unreachable = sent.refused.get("unreachable").copied().unwrap_or(0);
        // Events whose answer a kill cut off may be in the journal too: they reach Port, harmlessly.
        let (in_port, done) = wait_for_port(&port_url, accepted.len()).await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let in_port_final = port_entities(&port_url).await?;
        replayed += sail.replayed.load(Ordering::SeqCst);
        let missing = accepted.iter().filter(|r| !in_port_final.contains_key(*r)).count();
        println!(
            "sent {}: accepted {}, not accepted {:?} (sail was down or the kill cut the answer off)",
            events.len(),
            accepted.len(),
            sent.refused
        );
        println!(
            "{kills} SIGKILLs, {replayed} events replayed from the journal at restarts; all accepted in Port after {:.2} s",
            (done - started).as_secs_f64()
        );
        println!(
            "in Port: {} entities; accepted and missing: {missing}; beyond the accepted: {} \
             (durable events whose 202 the kill cut off; at most the {unreachable} unanswered)",
            in_port_final.len(),
            in_port_final.len().saturating_sub(accepted.len() - missing)
        );
        drop(in_port);
        stop(sail).await;
        if missing > 0 {
            bail!("{missing} accepted events never reached Port");
        }
        anyhow::Ok(())
    });
    let _ = std::fs::remove_dir_all(&journal);
    outcome?;
    Ok(ExitCode::SUCCESS)
}
