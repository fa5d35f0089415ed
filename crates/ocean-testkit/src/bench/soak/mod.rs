//! `bench soak`: seeded random schedules of resyncs and webhooks against both
//! simulators while they misbehave. After every resync, each deletion is
//! checked against Codecov's records (and none may follow a failed fetch or
//! write); at the end, once faults stop and one clean resync runs, Port must
//! hold exactly the expected catalog. A failing schedule prints its seed.

pub mod catalog;
mod chaos;
pub mod mapping_edits;
mod schedule;
pub mod setup;
mod stops;

use std::collections::BTreeMap;
use std::fmt;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

#[derive(clap::Args)]
pub struct SoakArgs {
    /// Schedules to run; CI runs 50 (`cargo test`), the long mode 1000 or more.
    #[arg(long, default_value_t = 1_000)]
    schedules: u64,
    /// Seed of the first schedule; schedule n uses seed + n.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Schedules run at once, each on its own thread (they mostly wait on retries).
    #[arg(long, default_value_t = 4)]
    parallel: usize,
    /// Run one schedule (a seed a failing run printed) with its log on stderr.
    #[arg(long, conflicts_with_all = ["schedules", "seed", "parallel"])]
    replay: Option<u64>,
}

/// What the soak did, summed over its schedules.
#[derive(Debug, Default, Clone)]
pub struct SoakTotals {
    pub schedules: u64,
    pub resyncs: u64,
    /// Resyncs that reported a failed fetch or write, and so deleted nothing.
    pub failed_resyncs: u64,
    pub webhooks: u64,
    pub codecov_changes: u64,
    /// Deletions checked against Codecov's records.
    pub deletions: u64,
    /// Entities compared with the expected catalog at the end of a schedule.
    pub entities_checked: u64,
    /// Faults drawn, per simulator and kind (`port 503`, `codecov empty-page`, ...).
    pub faults: BTreeMap<String, u64>,
    pub vanished_owners: u64,
    /// Resources removed from the mapping in Port during a schedule.
    pub resources_removed: u64,
    /// Coverage selectors narrowed in Port to leave some repositories out.
    pub selectors_narrowed: u64,
    /// Deletions a webhook made at once, of an entity the selector left out.
    pub live_deletes: u64,
    /// Schedule ticks that fell during a resync (each waited; none aborted it).
    pub ticks_absorbed: u64,
    /// Stops while a resync ran: the binary SIGTERMed, or the server stopped as SIGTERM stops it.
    pub stops: u64,
    /// Runs of the binary with a mapping in Port that does not compile.
    pub broken_mappings: u64,
}

impl SoakTotals {
    pub fn faults_injected(&self) -> u64 {
        self.faults.values().sum()
    }
}

/// A broken promise, with the seed that replays it.
#[derive(Debug)]
pub struct Violation {
    pub seed: u64,
    pub message: String,
    /// What the schedule did up to the failure.
    pub journal: Vec<String>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "schedule seed {} failed: {}", self.seed, self.message)?;
        for line in &self.journal {
            writeln!(f, "  {line}")?;
        }
        write!(
            f,
            "replay it with: ocean-codecov bench soak --replay {}",
            self.seed
        )
    }
}

impl SoakTotals {
    fn add(&mut self, other: SoakTotals) {
        self.schedules += other.schedules;
        self.resyncs += other.resyncs;
        self.failed_resyncs += other.failed_resyncs;
        self.webhooks += other.webhooks;
        self.codecov_changes += other.codecov_changes;
        self.deletions += other.deletions;
        self.entities_checked += other.entities_checked;
        self.vanished_owners += other.vanished_owners;
        self.resources_removed += other.resources_removed;
        self.selectors_narrowed += other.selectors_narrowed;
        self.live_deletes += other.live_deletes;
        self.ticks_absorbed += other.ticks_absorbed;
        self.stops += other.stops;
        self.broken_mappings += other.broken_mappings;
        for (kind, n) in other.faults {
            *self.faults.entry(kind).or_default() += n;
        }
    }
}

/// Runs `count` schedules from `first_seed`, `parallel` at a time (each on
/// its own thread: they mostly wait on retries), calling `done` after each.
/// Stops at the first violation; the lowest failing seed is reported.
/// `binary` is this project's binary, for rounds that run and SIGTERM it
/// (none: those rounds are left out).
pub fn soak(
    first_seed: u64,
    count: u64,
    parallel: usize,
    binary: Option<&std::path::Path>,
    done: impl Fn(&SoakTotals) + Sync,
) -> Result<SoakTotals, Violation> {
    let next = AtomicU64::new(first_seed);
    let end = first_seed.saturating_add(count);
    let totals = Mutex::new(SoakTotals::default());
    let violations = Mutex::new(Vec::<Violation>::new());
    let failed = || !violations.lock().unwrap_or_else(|p| p.into_inner()).is_empty();
    std::thread::scope(|scope| {
        for _ in 0..parallel.max(1) {
            scope.spawn(|| {
                loop {
                    if failed() {
                        return;
                    }
                    let seed = next.fetch_add(1, Ordering::SeqCst);
                    if seed >= end {
                        return;
                    }
                    let mut mine = SoakTotals::default();
                    match schedule::run(seed, &mut mine, binary) {
                        Ok(()) => {
                            mine.schedules = 1;
                            let mut all = totals.lock().unwrap_or_else(|p| p.into_inner());
                            all.add(mine);
                            done(&all);
                        }
                        Err(violation) => violations
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(violation),
                    }
                }
            });
        }
    });
    let mut violations = violations.into_inner().unwrap_or_else(|p| p.into_inner());
    violations.sort_by_key(|v| v.seed);
    match violations.into_iter().next() {
        Some(first) => Err(first),
        None => Ok(totals.into_inner().unwrap_or_else(|p| p.into_inner())),
    }
}

pub fn run(args: &SoakArgs) -> anyhow::Result<ExitCode> {
    let (first, count) = match args.replay {
        Some(seed) => {
            ocean_host::logging::init();
            (seed, 1)
        }
        None => (args.seed, args.schedules),
    };
    println!(
        "soak: {count} schedule(s) from seed {first}, {} at a time: resyncs and webhooks under faults on Port and Codecov",
        args.parallel
    );
    let bar = ProgressBar::new(count).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} schedules, {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let binary = std::env::current_exe().ok();
    let outcome = soak(first, count, args.parallel, binary.as_deref(), |totals| {
        bar.set_message(format!(
            "{} resyncs, {} faults",
            totals.resyncs,
            totals.faults_injected()
        ));
        bar.set_position(totals.schedules);
    });
    bar.finish_and_clear();
    match outcome {
        Ok(totals) => {
            print_totals(&totals, started.elapsed().as_secs_f64());
            Ok(ExitCode::SUCCESS)
        }
        Err(violation) => {
            eprintln!("{violation}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn print_totals(totals: &SoakTotals, secs: f64) {
    println!(
        "{} schedules in {secs:.1} s: {} resyncs ({} withheld deletion after a failure), {} webhooks, {} Codecov changes, {} vanished owners, {} resources removed from the mapping, {} coverage selectors narrowed",
        totals.schedules,
        totals.resyncs,
        totals.failed_resyncs,
        totals.webhooks,
        totals.codecov_changes,
        totals.vanished_owners,
        totals.resources_removed,
        totals.selectors_narrowed
    );
    println!(
        "faults injected: {} ({})",
        totals.faults_injected(),
        totals
            .faults
            .iter()
            .map(|(kind, n)| format!("{kind} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "lifecycle: {} schedule ticks absorbed by running resyncs (none aborted), {} stops during a resync, {} runs with a broken mapping in Port; Port's state after every round: completed, aborted or failed",
        totals.ticks_absorbed, totals.stops, totals.broken_mappings
    );
    println!(
        "checked: {} deletions ({} of them live deletes by a webhook) against Codecov's records and the mapping in force, {} entities against the expected catalog; 0 lost, 0 spurious deletions",
        totals.deletions, totals.live_deletes, totals.entities_checked
    );
}
