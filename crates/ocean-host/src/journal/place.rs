//! Where a journal lives: the default directory per integration, one named by
//! the environment, or a fresh scratch one.

use std::path::PathBuf;

/// Where `sail` keeps its journal unless `OCEAN__JOURNAL__PATH` says: under
/// the working directory, one per integration, so a `sail` stopped and started
/// again in the same place finds it.
pub fn default_journal_dir(identifier: &str) -> PathBuf {
    let name: String = identifier
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    PathBuf::from(".ocean-journal").join(name)
}

/// A fresh, empty journal directory under the system's temporary directory,
/// for runs that must not replay an earlier run's events (sandbox, soak,
/// benchmarks, fuzzing).
pub fn scratch_journal_dir(tag: &str) -> PathBuf {
    static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("ocean-journal-{tag}-{}-{run}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The journal directory from the environment alone (for commands that do not
/// need Port's credentials); `default_identifier` when none is set.
pub fn journal_dir_from_env(
    vars: &std::collections::BTreeMap<String, String>,
    default_identifier: &str,
) -> PathBuf {
    match vars.get("OCEAN__JOURNAL__PATH").filter(|p| !p.is_empty()) {
        Some(path) => PathBuf::from(path),
        None => default_journal_dir(
            vars.get("OCEAN__INTEGRATION__IDENTIFIER")
                .map_or(default_identifier, String::as_str),
        ),
    }
}
