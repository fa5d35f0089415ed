//! Changes to Codecov's records between resyncs, as its users make them:
//! repositories added, removed and (de)activated, new commits, pulls opened
//! and closed, flags dropped. The soak draws them; property tests generate them.

use super::data::{Dataset, sha};
use crate::rng::SplitMix;

/// Owner and repository positions are taken modulo what exists, so any numbers are valid.
#[derive(Debug, Clone)]
pub enum Change {
    AddRepo { owner: usize, seed: u64 },
    RemoveRepo { owner: usize, repo: usize },
    ToggleActive { owner: usize, repo: usize },
    NewCommit { owner: usize, repo: usize, seed: u64 },
    TogglePull { owner: usize, repo: usize },
    DropFlag { owner: usize, repo: usize },
}

impl Change {
    /// A random change (for the soak).
    pub fn draw(rng: &mut SplitMix) -> Change {
        let (owner, repo) = (rng.next_u64() as usize, rng.next_u64() as usize);
        match rng.below(6) {
            0 => Change::AddRepo {
                owner,
                seed: rng.next_u64(),
            },
            1 => Change::RemoveRepo { owner, repo },
            2 => Change::ToggleActive { owner, repo },
            3 => Change::NewCommit {
                owner,
                repo,
                seed: rng.next_u64(),
            },
            4 => Change::TogglePull { owner, repo },
            _ => Change::DropFlag { owner, repo },
        }
    }
}

impl Dataset {
    /// Applies `change` and says what it did.
    pub fn apply(&mut self, change: &Change) -> String {
        let (owner_at, repo_at) = match *change {
            Change::AddRepo { owner, seed } => return self.add_repo(owner, seed),
            Change::RemoveRepo { owner, repo }
            | Change::ToggleActive { owner, repo }
            | Change::NewCommit { owner, repo, .. }
            | Change::TogglePull { owner, repo }
            | Change::DropFlag { owner, repo } => (owner, repo),
        };
        if self.owners.is_empty() {
            return "nothing (no owners)".into();
        }
        let owners = self.owners.len();
        let owner = &mut self.owners[owner_at % owners];
        if owner.repos.is_empty() {
            return format!("nothing ({} has no repositories)", owner.username);
        }
        let at = repo_at % owner.repos.len();
        let name = format!("{}/{}", owner.username, owner.repos[at].name);
        if let Change::RemoveRepo { .. } = change {
            owner.repos.remove(at);
            return format!("removed {name}");
        }
        let repo = &mut owner.repos[at];
        match *change {
            Change::ToggleActive { .. } => {
                repo.active = !repo.active;
                format!("set {name} active={}", repo.active)
            }
            Change::NewCommit { seed, .. } => {
                let mut rng = SplitMix(seed);
                let Some(mut commit) = repo.commits.first().cloned() else {
                    return format!("nothing ({name} has no commits)");
                };
                commit.parent = Some(commit.commitid.clone());
                commit.commitid = sha(&mut rng);
                commit.state = "complete".into();
                if let Some(totals) = commit.totals.as_mut() {
                    totals.lines += 1 + rng.below(20) as i64;
                    totals.hits = (totals.hits + rng.below(20) as i64).min(totals.lines);
                }
                repo.commits.insert(0, commit);
                format!("new commit on {name}")
            }
            Change::TogglePull { .. } => match repo.pulls.first_mut() {
                Some(pull) => {
                    pull.state = if pull.state == "open" { "closed" } else { "open" }.into();
                    format!("pull {} of {name} is {}", pull.pullid, pull.state)
                }
                None => format!("nothing ({name} has no pulls)"),
            },
            // DropFlag (the others have returned): Codecov marks a flag deleted and
            // keeps listing it; the reports no longer carry it.
            _ => match repo.flags.iter_mut().rev().find(|f| !f.deleted) {
                Some(flag) => {
                    flag.deleted = true;
                    flag.coverage = None;
                    format!("marked flag {} of {name} deleted (still listed)", flag.name)
                }
                None => format!("nothing ({name} has no live flags)"),
            },
        }
    }

    fn add_repo(&mut self, owner: usize, seed: u64) -> String {
        if self.owners.is_empty() {
            return "nothing (no owners)".into();
        }
        let owner_at = owner % self.owners.len();
        let Some(mut repo) = Dataset::generate(1, 1, seed)
            .owners
            .pop()
            .and_then(|mut o| o.repos.pop())
        else {
            return "nothing".into();
        };
        repo.repoid = self.next_repoid();
        let owner = &mut self.owners[owner_at];
        // Kept in name order; owners may share names.
        let name = |n: usize| format!("repo-9{n:05}");
        let free = (0..)
            .find(|n| owner.repo(&name(*n)).is_none())
            .unwrap_or_default();
        repo.name = name(free);
        let at = owner.repos.partition_point(|r| r.name < repo.name);
        let said = format!("added {}/{}", owner.username, repo.name);
        owner.repos.insert(at, repo);
        said
    }
}
