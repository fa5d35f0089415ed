//! A loopback Codecov API v2 over generated records, with the same JSON
//! shapes, paging and errors as Codecov, and the same fault injection as the
//! Port simulator. It can also produce Codecov's notify payloads.

pub mod changes;
pub mod data;
pub mod numbers;
mod routes;
pub mod shapes;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock, RwLockReadGuard};

use serde_json::Value;

use super::faults::{FaultConfig, Faults};
use super::request_log::RequestLog;
use super::{Served, serve};
use data::Dataset;

/// The token the simulator accepts unless told otherwise (Codecov tokens are UUIDs).
pub const DEFAULT_TOKEN: &str = "0d5f6a8e-3c1b-4f7a-9e2d-6b8c4a1f0e73";

#[derive(Debug, Clone)]
pub struct CodecovSimConfig {
    pub token: String,
    pub dataset: Dataset,
    pub faults: FaultConfig,
    pub capture_bodies: bool,
    /// Dashboard base used in generated webhook payloads.
    pub dashboard_url: String,
}

impl CodecovSimConfig {
    pub fn generated(owners: usize, repos_per_owner: usize, seed: u64) -> Self {
        CodecovSimConfig {
            token: DEFAULT_TOKEN.into(),
            dataset: Dataset::generate(owners, repos_per_owner, seed),
            faults: FaultConfig::default(),
            capture_bodies: false,
            dashboard_url: "https://app.codecov.io".into(),
        }
    }
}

/// A change to the records made right after the `nth` answered request whose
/// path ends with `path_suffix` (final slash ignored) and whose query holds
/// `query_part`: a deterministic "the data changed between two page reads".
struct Scheduled {
    path_suffix: String,
    query_part: String,
    remaining: usize,
    change: Box<dyn FnOnce(&mut Dataset) + Send + Sync>,
}

pub struct CodecovSim {
    config: CodecovSimConfig,
    scheduled: std::sync::Mutex<Vec<Scheduled>>,
    /// The records, editable while serving (tests remove repositories).
    dataset: RwLock<Dataset>,
    /// Owners whose every request fails with this status.
    broken_owners: RwLock<HashMap<String, u16>>,
    faults: Faults,
    log: RequestLog,
}

impl CodecovSim {
    pub fn new(mut config: CodecovSimConfig) -> Arc<Self> {
        // The records live behind the lock only; the config keeps an empty shell.
        let empty = Dataset {
            service: config.dataset.service.clone(),
            owners: Vec::new(),
        };
        let dataset = std::mem::replace(&mut config.dataset, empty);
        Arc::new(CodecovSim {
            faults: Faults::new(config.faults.clone()),
            dataset: RwLock::new(dataset),
            broken_owners: RwLock::default(),
            scheduled: std::sync::Mutex::default(),
            config,
            log: RequestLog::default(),
        })
    }

    pub async fn start(
        config: CodecovSimConfig,
        addr: SocketAddr,
    ) -> std::io::Result<(Served, Arc<CodecovSim>)> {
        let sim = CodecovSim::new(config);
        let served = serve(addr, routes::router(sim.clone())).await?;
        Ok((served, sim))
    }

    pub fn dataset(&self) -> RwLockReadGuard<'_, Dataset> {
        self.dataset
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Changes the records while serving, e.g. to remove a repository.
    pub fn edit(&self, change: impl FnOnce(&mut Dataset)) {
        change(
            &mut self
                .dataset
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
    }

    /// Applies `change` right after the `nth` (from 1) answered request whose
    /// path ends with `path_suffix` and whose query contains `query_part`.
    pub fn change_after(
        &self,
        path_suffix: &str,
        query_part: &str,
        nth: usize,
        change: impl FnOnce(&mut Dataset) + Send + Sync + 'static,
    ) {
        self.scheduled
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(Scheduled {
                path_suffix: path_suffix.trim_end_matches('/').to_string(),
                query_part: query_part.to_string(),
                remaining: nth.max(1),
                change: Box::new(change),
            });
    }

    /// Counts an answered request against the scheduled changes and applies those due.
    pub(crate) fn served(&self, path: &str, query: &str) {
        let due: Vec<Scheduled> = {
            let mut scheduled = self
                .scheduled
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if scheduled.is_empty() {
                return;
            }
            let path = path.trim_end_matches('/');
            for entry in scheduled.iter_mut() {
                if path.ends_with(&entry.path_suffix) && query.contains(&entry.query_part) {
                    entry.remaining -= 1;
                }
            }
            let (due, waiting) = std::mem::take(&mut *scheduled)
                .into_iter()
                .partition(|entry| entry.remaining == 0);
            *scheduled = waiting;
            due
        };
        for entry in due {
            self.edit(entry.change);
        }
    }

    /// Makes every request about `owner` fail with `status` (`None` heals it).
    pub fn break_owner(&self, owner: &str, status: Option<u16>) {
        let mut broken = self
            .broken_owners
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match status {
            Some(status) => broken.insert(owner.to_string(), status),
            None => broken.remove(owner),
        };
    }

    pub(crate) fn is_broken(&self, owner: &str) -> Option<u16> {
        self.broken_owners
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(owner)
            .copied()
    }

    pub fn log(&self) -> &RequestLog {
        &self.log
    }

    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The notify payload Codecov would post for the repository's newest
    /// processed default-branch commit (and its first pull, if `with_pull`).
    pub fn webhook_payload(&self, owner: &str, repo: &str, with_pull: bool) -> Option<Value> {
        webhook_payload_for(
            &self.dataset(),
            &self.config.dashboard_url,
            owner,
            repo,
            with_pull,
        )
    }
}

pub fn webhook_payload_for(
    dataset: &Dataset,
    dashboard: &str,
    owner: &str,
    repo: &str,
    with_pull: bool,
) -> Option<Value> {
    let owner = dataset.owner(owner)?;
    let repo = owner.repo(repo)?;
    let head = repo
        .commits
        .iter()
        .find(|c| c.state == "complete" && Some(&c.branch) == repo.branch.as_ref())?;
    let pull = if with_pull { repo.pulls.first() } else { None };
    Some(shapes::webhook_payload(
        dataset, dashboard, owner, repo, head, pull,
    ))
}
