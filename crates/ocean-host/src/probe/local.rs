//! This process's own side: the webhook secret, and the directories it
//! writes being writable (checked by creating and removing a file, as a
//! write there would).

use std::path::{Path, PathBuf};

use super::check::Check;
use crate::settings::{ListenerKind, Settings};

const SECRET: &str = "webhook secret";
const JOURNAL: &str = "live-event journal";

/// Set or not; missing is a failure when the listener serves webhooks and
/// `POST /resync` (every listener but ONCE), as then anyone who reaches the
/// server can post events and ask for resyncs.
pub fn webhook_secret(settings: &Settings, variable: &str) -> Check {
    match (&settings.webhook_secret, settings.listener) {
        (Some(_), ListenerKind::Once) => Check::ok(SECRET, "set (the ONCE listener serves no webhooks)"),
        (Some(_), _) => Check::ok(
            SECRET,
            "set: webhooks, POST /resync and /dead-letters must carry it",
        ),
        (None, ListenerKind::Once) => Check::ok(
            SECRET,
            "not set; not needed: the ONCE listener serves no webhooks",
        ),
        (None, listener) => Check::fail(
            SECRET,
            format!(
                "not set, and the {listener:?} listener serves webhooks and POST /resync to anyone who reaches it"
            ),
            format!(
                "set {variable} and give it to the webhook's sender as ?token=<secret> or the X-Webhook-Secret header"
            ),
        ),
    }
}

pub fn journal(settings: &Settings) -> Check {
    let dir = &settings.journal_path;
    if settings.listener == ListenerKind::Once {
        return Check::ok(
            JOURNAL,
            format!("{}: not used by the ONCE listener", dir.display()),
        );
    }
    match writable(dir) {
        Ok(()) => Check::ok(
            JOURNAL,
            format!("{} is writable (a file created and removed)", dir.display()),
        ),
        Err(e) => Check::fail(
            JOURNAL,
            format!("{} is not writable: {e}", dir.display()),
            "set OCEAN__JOURNAL__PATH to a directory this process can write (the image and the chart use \
             /tmp/ocean/journal), or make that one writable for its user",
        ),
    }
}

/// Creates what is missing of `dir` (as the journal does), then a file in it,
/// and removes all it created.
pub fn writable(dir: &Path) -> std::io::Result<()> {
    let created = missing_ancestors(dir);
    let outcome = std::fs::create_dir_all(dir).and_then(|()| {
        let probe = dir.join(format!(".probe-{}", std::process::id()));
        std::fs::write(&probe, b"probe")?;
        std::fs::remove_file(&probe)
    });
    // Innermost first: each is empty once what it held is gone.
    for made in created.iter().rev() {
        let _ = std::fs::remove_dir(made);
    }
    outcome
}

/// `dir` and its ancestors that do not exist yet, outermost first.
fn missing_ancestors(dir: &Path) -> Vec<PathBuf> {
    let mut missing: Vec<PathBuf> = dir
        .ancestors()
        .take_while(|p| !p.as_os_str().is_empty() && !p.exists())
        .map(Path::to_path_buf)
        .collect();
    missing.reverse();
    missing
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ocean-probe-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_missing_directory_is_created_checked_and_removed_again() {
        let root = scratch("missing");
        let dir = root.join("a").join("b");
        writable(&dir).expect("writable");
        assert!(!root.exists(), "every directory the check made is gone");
    }

    #[test]
    fn a_file_in_the_way_makes_the_directory_unwritable() {
        let root = scratch("blocked");
        std::fs::create_dir_all(&root).expect("root");
        let file = root.join("file");
        std::fs::write(&file, b"x").expect("file");
        assert!(writable(&file.join("journal")).is_err());
        assert!(file.is_file(), "the file is left as it was");
        let _ = std::fs::remove_dir_all(&root);
    }
}
