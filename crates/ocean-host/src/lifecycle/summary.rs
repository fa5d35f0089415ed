//! What a resync did, on stderr at its end (and, for a dry run, its plan on
//! stdout): one line per kind, what was held back, the deletion, peak RSS.

use crate::resync::{Deletion, ResyncReport};

/// Peak resident set size of this process so far, in bytes (Linux; `None` elsewhere).
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Prints the report's summary on stderr.
pub fn summarise(report: &ResyncReport) {
    for kind in &report.kinds {
        eprintln!(
            "{:>12}: {} items, {} entities ({} created, {} updated, {} unchanged, {} duplicate), {} skipped, \
             {} mapping errors, {} upsert failures, {} fetch errors",
            kind.kind,
            kind.items,
            kind.entities,
            kind.created,
            kind.updated,
            kind.unchanged,
            kind.duplicates,
            kind.skipped,
            kind.mapping_errors,
            kind.upsert_failures,
            kind.fetch_errors.len()
        );
        if kind.items > 0 && kind.mapping_nanos > 0 {
            let seconds = kind.mapping_nanos as f64 / 1e9;
            eprintln!(
                "{:>12}  mapping {} inside the resync: {} items ({:.1} KiB) in {:.1} ms: {:.0} items/s, {:.1} MiB/s",
                "",
                kind.kind,
                kind.items,
                kind.item_bytes as f64 / 1024.0,
                seconds * 1e3,
                kind.items as f64 / seconds,
                kind.item_bytes as f64 / 1048576.0 / seconds
            );
        }
        for error in kind.fetch_errors.iter().take(5).chain(kind.error_samples.iter()) {
            eprintln!("{:>12}  ! {error}", "");
        }
        for line in kind.held_back_lines() {
            eprintln!("{:>12}  ~ {line}", "");
        }
    }
    let deletion = match &report.deletion {
        Deletion::Skipped { reason } => format!("deletion skipped: {reason}"),
        Deletion::Done { deleted, owned } => format!("deleted {deleted} stale of {owned} owned entities"),
        Deletion::Failed { deleted, failed } => format!("deleted {deleted}; Port refused {failed}"),
        Deletion::Planned { would_delete, owned } => {
            format!("would delete {would_delete} of {owned} owned entities")
        }
    };
    eprintln!("{deletion}");
    let kept = report.kept_by_enable_delete();
    if kept > 0 {
        eprintln!("kept {kept} stale entities whose resource has enableDelete: false");
    }
    let (keys, bytes) = report.seen_state;
    if keys > 0 {
        eprintln!(
            "deletion state: {keys} entities produced, kept in {:.1} KiB ({:.1} bytes per entity)",
            bytes as f64 / 1024.0,
            bytes as f64 / keys as f64
        );
    }
    if let Some(peak) = peak_rss_bytes() {
        eprintln!("peak RSS {:.1} MiB", peak as f64 / (1024.0 * 1024.0));
    }
}

/// Prints a dry run's plan on stdout: per blueprint what would be created, updated and deleted,
/// then why each owned entity not produced stays or goes.
pub fn print_plan(report: &ResyncReport) {
    for (blueprint, plan) in &report.plan {
        println!(
            "{blueprint}: create {}, update {}, delete {}",
            plan.create.len(),
            plan.update.len(),
            plan.delete.len()
        );
        for (verb, ids) in [
            ("create", &plan.create),
            ("update", &plan.update),
            ("delete", &plan.delete),
        ] {
            for id in ids {
                println!("  {verb} {id}");
            }
        }
    }
    // Why each owned entity this resync did not produce stays or goes.
    if let Some(deletion) = &report.deletion_plan {
        for line in deletion.lines() {
            println!("{line}");
        }
    }
}
