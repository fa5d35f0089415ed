//! Repositories' default branches, for webhooks: a notify payload names its
//! branch but not the repository's default one. Read in bulk (the repository
//! list's `names` filter, up to a page of repositories per request) for every
//! repository a batch of events names, and kept for a while: one request per
//! event was most of what applying a burst of events cost.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::client::CodecovClient;

/// How long a default branch read from Codecov is believed. A repository's
/// default branch changes rarely; a change is seen within this time.
const FRESH_FOR: Duration = Duration::from_secs(300);
/// Repositories named in one list request (Codecov's largest page).
const NAMES_PER_REQUEST: usize = 100;
/// Repositories remembered at most; past it the cache starts over.
const REMEMBERED_MAX: usize = 100_000;

/// `(owner, repository)` → its default branch (none: listed without one) and when it was read.
type Known = HashMap<(String, String), (Option<String>, Instant)>;

#[derive(Default)]
pub struct DefaultBranches {
    known: Mutex<Known>,
}

impl DefaultBranches {
    fn lock(&self) -> std::sync::MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The default branch remembered for `owner/repo`, if still fresh
    /// (`Some(None)`: Codecov lists the repository without one).
    pub fn remembered(&self, owner: &str, repo: &str) -> Option<Option<String>> {
        let known = self.lock();
        let (branch, read_at) = known.get(&(owner.to_string(), repo.to_string()))?;
        (read_at.elapsed() < FRESH_FOR).then(|| branch.clone())
    }

    pub fn remember(&self, owner: &str, repo: &str, branch: Option<String>) {
        let mut known = self.lock();
        if known.len() >= REMEMBERED_MAX {
            known.clear();
        }
        known.insert((owner.to_string(), repo.to_string()), (branch, Instant::now()));
    }

    /// Reads the default branches of the repositories not remembered, a page
    /// of names per request. A repository the list leaves out (gone, or not
    /// visible to the token) is not remembered: its event reads it alone,
    /// which reports why.
    pub async fn read_missing(&self, client: &CodecovClient, repos: &[(&str, &str)]) {
        let mut wanted: HashMap<&str, Vec<&str>> = HashMap::new();
        let mut seen = HashSet::new();
        for &(owner, repo) in repos {
            if seen.insert((owner, repo)) && self.remembered(owner, repo).is_none() {
                wanted.entry(owner).or_default().push(repo);
            }
        }
        for (owner, names) in wanted {
            for chunk in names.chunks(NAMES_PER_REQUEST) {
                let path = client.repos_path(owner, &[]);
                let query: Vec<(&str, String)> = chunk.iter().map(|n| ("names", n.to_string())).collect();
                match client
                    .list_page::<Value>(owner, &path, &query, 1, NAMES_PER_REQUEST as u32)
                    .await
                {
                    Ok(page) => self.remember_listed(owner, chunk, &page.results),
                    Err(e) => tracing::debug!(
                        owner,
                        "reading default branches in bulk: {e}; each event reads its own"
                    ),
                }
            }
        }
    }

    fn remember_listed(&self, owner: &str, asked: &[&str], records: &[Value]) {
        for record in records {
            let Some(name) = record.get("name").and_then(Value::as_str) else {
                continue;
            };
            // Only names asked for: the filter is Codecov's, not trusted blindly.
            if asked.contains(&name) {
                let branch = record.get("branch").and_then(Value::as_str).map(str::to_string);
                self.remember(owner, name, branch);
            }
        }
    }
}
