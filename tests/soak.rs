//! The quick soak CI runs: seeded schedules of resyncs and webhooks while both
//! simulators misbehave (`ocean-codecov bench soak` is the long mode). Every
//! deletion is checked against Codecov's records, and each schedule ends with
//! Port equal to the expected catalog. `SOAK_SEED`/`SOAK_SCHEDULES` change the run.

use ocean_testkit::bench::soak::soak;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn schedules_under_faults_lose_nothing_and_delete_nothing_wrongly() {
    let first = env_number("SOAK_SEED", 1);
    let schedules = env_number("SOAK_SCHEDULES", 50);
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_ocean-codecov"));
    let totals = match soak(first, schedules, 4, Some(binary), |_| {}) {
        Ok(totals) => totals,
        Err(violation) => panic!("{violation}"),
    };
    eprintln!(
        "{} schedules, {} resyncs ({} failed), {} webhooks, {} faults injected, {} resources removed, {} selectors narrowed, {} deletions ({} live) and {} entities checked",
        totals.schedules,
        totals.resyncs,
        totals.failed_resyncs,
        totals.webhooks,
        totals.faults_injected(),
        totals.resources_removed,
        totals.selectors_narrowed,
        totals.deletions,
        totals.live_deletes,
        totals.entities_checked
    );
    eprintln!(
        "{} schedule ticks absorbed, {} stops during a resync, {} runs with a broken mapping",
        totals.ticks_absorbed, totals.stops, totals.broken_mappings
    );
    assert_eq!(totals.schedules, schedules);
    // The run must have exercised what it claims to: faults on both sides,
    // failed resyncs that withheld deletion, real deletions that were allowed.
    assert!(totals.faults.keys().any(|k| k.starts_with("port ")));
    assert!(totals.faults.keys().any(|k| k.starts_with("codecov ")));
    assert!(totals.failed_resyncs > 0);
    assert!(totals.deletions > 0);
    if schedules >= 20 {
        // Mapping edits in Port and the live deletes they lead to.
        assert!(totals.resources_removed > 0);
        assert!(totals.live_deletes > 0);
        // Schedules shorter than resyncs, stops during resyncs, broken mappings in Port.
        assert!(totals.ticks_absorbed > 0);
        assert!(totals.stops > 0);
        assert!(totals.broken_mappings > 0);
    }
    assert!(totals.entities_checked > 0);
}
