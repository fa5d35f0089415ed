//! The simulated Codecov's records: owners, repositories, commits with their
//! report totals, pulls, flags and branches. Generated deterministically from
//! a seed, and able to take in a real notify payload (the seed's example).

use jiff::SignedDuration;
use serde_json::{Value, json};

use crate::rng::SplitMix;

#[derive(Debug, Clone)]
pub struct Person {
    pub username: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub service_id: String,
}

/// A report's totals as Codecov stores them (`ReportTotals`).
#[derive(Debug, Clone)]
pub struct Totals {
    pub files: i64,
    pub lines: i64,
    pub hits: i64,
    pub misses: i64,
    pub partials: i64,
    pub branches: i64,
    pub methods: i64,
    pub messages: i64,
    pub sessions: i64,
    pub complexity: f64,
    pub complexity_total: f64,
    pub diff: Value,
}

#[derive(Debug, Clone)]
pub struct Commit {
    pub commitid: String,
    pub message: String,
    /// Naive UTC, as Codecov stores it: `2024-02-02T14:21:35`.
    pub timestamp: String,
    pub ci_passed: bool,
    pub author: Person,
    pub branch: String,
    pub totals: Option<Totals>,
    pub state: String,
    pub parent: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Pull {
    pub pullid: i64,
    pub title: String,
    pub state: String,
    pub base: String,
    pub head: String,
    pub head_totals: Option<Totals>,
    pub updatestamp: String,
    pub ci_passed: bool,
    pub author: Person,
    /// hits, misses, partials of the patch, once Codecov has compared it.
    pub patch: Option<(i64, i64, i64)>,
}

#[derive(Debug, Clone)]
pub struct Flag {
    pub name: String,
    /// The flag's coverage in the head report, as the report's 5-decimal string.
    pub coverage: Option<String>,
    /// Deleted in Codecov's UI: `RepositoryFlag.deleted`. The API lists it
    /// still (`repo.flags.all()`); the report no longer carries it.
    pub deleted: bool,
}

#[derive(Debug, Clone)]
pub struct Branch {
    pub name: String,
    pub updatestamp: String,
}

/// What a repository's Codecov YAML says about rounding; unset keys take the
/// site defaults (`numbers::SITE_ROUND`, `numbers::SITE_PRECISION`).
#[derive(Debug, Clone, Default)]
pub struct RepoYaml {
    pub round: Option<String>,
    pub precision: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct Repo {
    /// Codecov's primary key: the API lists repositories by it, newest first.
    pub repoid: u64,
    pub name: String,
    pub service_id: String,
    pub private: bool,
    pub active: bool,
    pub activated: bool,
    pub language: Option<String>,
    pub branch: Option<String>,
    pub updatestamp: String,
    /// Newest first, as the API lists them.
    pub commits: Vec<Commit>,
    pub pulls: Vec<Pull>,
    pub flags: Vec<Flag>,
    pub branches: Vec<Branch>,
    pub yaml: RepoYaml,
    /// Private, and the token's user is not activated on the owner's plan:
    /// listed, but every route under it answers 403.
    pub not_activated: bool,
}

#[derive(Debug, Clone)]
pub struct Owner {
    pub username: String,
    pub name: Option<String>,
    pub service_id: String,
    pub repos: Vec<Repo>,
}

#[derive(Debug, Clone)]
pub struct Dataset {
    /// The long service name every owner here belongs to, e.g. `github`.
    pub service: String,
    pub owners: Vec<Owner>,
}

/// Codecov's naive UTC timestamps.
const NAIVE: &str = "%Y-%m-%dT%H:%M:%S";
const LANGUAGES: &[&str] = &["rust", "python", "go", "typescript", "java"];
const FLAGS: &[&str] = &["unit", "integration", "e2e", "backend", "frontend"];

impl Totals {
    /// Codecov's coverage string for these totals.
    pub fn coverage(&self) -> Option<String> {
        super::numbers::coverage_string(self.hits, self.lines)
    }

    fn generate(rng: &mut SplitMix) -> Totals {
        let lines = 10 + rng.below(20_000) as i64;
        let hits = lines * (30 + rng.below(71) as i64) / 100;
        let partials = (lines - hits) / (2 + rng.below(5) as i64);
        let diff = if rng.below(4) == 0 {
            json!([0, 1, 1, 0, 0, "100", 0, 0, 0, 0, null, null, 0])
        } else {
            json!(0)
        };
        Totals {
            files: 1 + rng.below(200) as i64,
            lines,
            hits,
            misses: lines - hits - partials,
            partials,
            branches: rng.below(50) as i64,
            methods: rng.below(30) as i64,
            messages: 0,
            sessions: 1 + rng.below(4) as i64,
            complexity: 0.0,
            complexity_total: 0.0,
            diff,
        }
    }

    fn from_payload(totals: &Value) -> Option<Totals> {
        let int = |k: &str| totals.get(k).and_then(Value::as_i64).unwrap_or(0);
        let float = |k: &str| totals.get(k).and_then(Value::as_f64).unwrap_or(0.0);
        totals.is_object().then(|| Totals {
            files: int("files"),
            lines: int("lines"),
            hits: int("hits"),
            misses: int("misses"),
            partials: int("partials"),
            branches: int("branches"),
            methods: int("methods"),
            messages: int("messages"),
            sessions: int("sessions"),
            complexity: float("complexity"),
            complexity_total: float("complexity_total"),
            diff: totals.get("diff").cloned().unwrap_or(json!(0)),
        })
    }
}

/// A commit SHA: 40 hex digits.
pub(crate) fn sha(rng: &mut SplitMix) -> String {
    format!(
        "{:016x}{:016x}{:08x}",
        rng.next_u64(),
        rng.next_u64(),
        rng.next_u64() as u32
    )
}

fn person(rng: &mut SplitMix) -> Person {
    let n = rng.below(500);
    Person {
        username: format!("dev-{n}"),
        name: Some(format!("Developer {n}")),
        email: Some(format!("dev-{n}@example.com")),
        service_id: (1_000_000 + n).to_string(),
    }
}

impl Owner {
    /// Repositories are kept sorted by name, so this is a binary search.
    pub fn repo(&self, name: &str) -> Option<&Repo> {
        let at = self.repos.partition_point(|r| r.name.as_str() < name);
        self.repos.get(at).filter(|r| r.name == name)
    }
}

impl Dataset {
    /// `owners` × `repos_per_owner` repositories; the same seed gives the same data.
    pub fn generate(owners: usize, repos_per_owner: usize, seed: u64) -> Dataset {
        let mut rng = SplitMix(seed);
        let epoch = jiff::civil::date(2026, 1, 1).at(0, 0, 0, 0);
        let stamp = |minutes_ago: u64| -> String {
            (epoch - SignedDuration::from_mins(minutes_ago as i64))
                .strftime(NAIVE)
                .to_string()
        };
        let owners = (1..=owners)
            .map(|o| {
                let repos = (1..=repos_per_owner)
                    .map(|r| {
                        let active = rng.below(10) != 0;
                        let commit_count = if active { 2 + rng.below(5) as usize } else { 0 };
                        let mut minutes = rng.below(100_000);
                        let mut commits: Vec<Commit> = Vec::new();
                        for i in 0..commit_count {
                            minutes += 1 + rng.below(3000);
                            let pending = i == 0 && rng.below(10) == 0;
                            commits.push(Commit {
                                commitid: sha(&mut rng),
                                message: format!("Change {i} in o{o}-repo-{r:06}"),
                                timestamp: stamp(minutes),
                                ci_passed: rng.below(5) != 0,
                                author: person(&mut rng),
                                branch: "main".into(),
                                totals: (!pending).then(|| Totals::generate(&mut rng)),
                                state: if pending { "pending" } else { "complete" }.into(),
                                parent: None,
                            });
                        }
                        for i in 0..commits.len().saturating_sub(1) {
                            commits[i].parent = Some(commits[i + 1].commitid.clone());
                        }
                        let pulls = (0..if active { rng.below(4) } else { 0 })
                            .map(|p| {
                                let state = ["open", "merged", "closed"][rng.below(3) as usize];
                                let hits = rng.below(50) as i64;
                                Pull {
                                    pullid: 1 + p as i64 + rng.below(3) as i64 * 10,
                                    title: format!("Pull request {p} of o{o}-repo-{r:06}"),
                                    state: state.into(),
                                    base: commits.last().map(|c| c.commitid.clone()).unwrap_or_default(),
                                    head: sha(&mut rng),
                                    head_totals: Some(Totals::generate(&mut rng)),
                                    updatestamp: stamp(rng.below(10_000)),
                                    ci_passed: rng.below(3) != 0,
                                    author: person(&mut rng),
                                    patch: (rng.below(5) != 0).then(|| (hits, rng.below(10) as i64, 0)),
                                }
                            })
                            .collect::<Vec<_>>();
                        let mut pulls = pulls;
                        pulls.sort_by_key(|p| p.pullid);
                        pulls.dedup_by_key(|p| p.pullid);
                        let flags = (0..if active { rng.below(4) as usize } else { 0 })
                            .map(|f| {
                                let lines = 10 + rng.below(5_000) as i64;
                                Flag {
                                    name: FLAGS[f].into(),
                                    coverage: super::numbers::coverage_string(
                                        rng.below(lines as u64 + 1) as i64,
                                        lines,
                                    ),
                                    deleted: false,
                                }
                            })
                            .collect();
                        let mut branches = vec![Branch {
                            name: "main".into(),
                            updatestamp: stamp(minutes),
                        }];
                        for b in 0..rng.below(3) {
                            branches.push(Branch {
                                name: format!("feature/{b}"),
                                updatestamp: stamp(minutes + 10 + b),
                            });
                        }
                        Repo {
                            repoid: (o * 1_000_000 + r) as u64,
                            // The same names under every owner, as real organisations have
                            // (`api`, `web`); zero-padded so the records stay sorted by name.
                            name: format!("repo-{r:06}"),
                            service_id: (500_000_000 + o as u64 * 1000 + r as u64).to_string(),
                            private: rng.below(10) < 3,
                            active,
                            activated: true,
                            language: Some(LANGUAGES[rng.below(LANGUAGES.len() as u64) as usize].into()),
                            branch: Some("main".into()),
                            updatestamp: stamp(minutes),
                            commits,
                            pulls,
                            flags,
                            branches,
                            yaml: RepoYaml::default(),
                            not_activated: false,
                        }
                    })
                    .collect();
                Owner {
                    username: format!("owner-{o}"),
                    name: Some(format!("Owner {o}")),
                    service_id: (10_000 + o).to_string(),
                    repos,
                }
            })
            .collect();
        Dataset {
            service: "github".into(),
            owners,
        }
    }

    pub fn owner(&self, username: &str) -> Option<&Owner> {
        self.owners.iter().find(|o| o.username == username)
    }

    pub fn owner_mut(&mut self, username: &str) -> Option<&mut Owner> {
        self.owners.iter_mut().find(|o| o.username == username)
    }

    pub fn repo_mut(&mut self, owner: &str, repo: &str) -> Option<&mut Repo> {
        self.owner_mut(owner)?.repos.iter_mut().find(|r| r.name == repo)
    }

    /// A repository id above every one in use: a new repository lists first.
    pub fn next_repoid(&self) -> u64 {
        self.owners
            .iter()
            .flat_map(|o| o.repos.iter().map(|r| r.repoid))
            .max()
            .unwrap_or(0)
            + 1
    }

    /// Scales every report to about `lines` lines (keeping each one's
    /// coverage), so commit details weigh what a large repository's do:
    /// about 9 bytes of `line_coverage` per line.
    pub fn with_report_lines(mut self, lines: i64) -> Dataset {
        let scale = |t: &mut Totals| {
            if t.lines == 0 {
                return;
            }
            let factor = lines as f64 / t.lines as f64;
            let hits = (t.hits as f64 * factor) as i64;
            let partials = (t.partials as f64 * factor) as i64;
            t.lines = lines;
            t.hits = hits.min(lines);
            t.partials = partials.min(lines - t.hits);
            t.misses = lines - t.hits - t.partials;
        };
        for repo in self.owners.iter_mut().flat_map(|o| o.repos.iter_mut()) {
            repo.commits
                .iter_mut()
                .filter_map(|c| c.totals.as_mut())
                .for_each(scale);
            repo.pulls
                .iter_mut()
                .filter_map(|p| p.head_totals.as_mut())
                .for_each(scale);
        }
        self
    }

    /// Adds the repository, its head and base commits and its pull from a real
    /// notify payload, so the simulator serves what that payload describes.
    pub fn add_from_payload(&mut self, payload: &Value) {
        let text = |pointer: &str| payload.pointer(pointer).and_then(Value::as_str).map(String::from);
        let person_at = |pointer: &str| {
            let a = payload.pointer(pointer).cloned().unwrap_or(Value::Null);
            Person {
                username: a
                    .get("username")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .into(),
                name: a.get("name").and_then(Value::as_str).map(String::from),
                email: a.get("email").and_then(Value::as_str).map(String::from),
                service_id: a
                    .get("service_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .into(),
            }
        };
        let commit_at = |side: &str, parent: Option<String>| -> Option<Commit> {
            payload.pointer(&format!("/{side}")).filter(|v| v.is_object())?;
            Some(Commit {
                commitid: text(&format!("/{side}/commitid"))?,
                message: text(&format!("/{side}/message")).unwrap_or_default(),
                timestamp: text(&format!("/{side}/timestamp")).unwrap_or_default(),
                ci_passed: true,
                author: person_at(&format!("/{side}/author")),
                branch: text(&format!("/{side}/branch")).unwrap_or_default(),
                totals: payload
                    .pointer(&format!("/{side}/totals"))
                    .and_then(Totals::from_payload),
                state: "complete".into(),
                parent,
            })
        };
        let base = commit_at("base", None);
        let Some(head) = commit_at("head", base.as_ref().map(|b| b.commitid.clone())) else {
            return;
        };
        let pulls = payload
            .get("pull")
            .filter(|p| p.is_object())
            .map(|p| Pull {
                pullid: p.get("id").and_then(Value::as_i64).unwrap_or(1),
                title: head.message.clone(),
                state: if p.get("merged") == Some(&json!(true)) {
                    "merged"
                } else if p.get("open") == Some(&json!(true)) {
                    "open"
                } else {
                    "closed"
                }
                .into(),
                base: text("/pull/base/commit").unwrap_or_default(),
                head: text("/pull/head/commit").unwrap_or_default(),
                head_totals: head.totals.clone(),
                updatestamp: head.timestamp.clone(),
                ci_passed: true,
                author: head.author.clone(),
                patch: None,
            })
            .into_iter()
            .collect();
        let owner_name = text("/owner/username").unwrap_or_default();
        let repo = Repo {
            repoid: self.next_repoid(),
            name: text("/repo/name").unwrap_or_default(),
            service_id: text("/repo/service_id").unwrap_or_default(),
            private: payload.pointer("/repo/private") == Some(&json!(true)),
            active: true,
            activated: true,
            language: None,
            branch: Some(head.branch.clone()),
            updatestamp: head.timestamp.clone(),
            branches: vec![Branch {
                name: head.branch.clone(),
                updatestamp: head.timestamp.clone(),
            }],
            commits: std::iter::once(head).chain(base).collect(),
            pulls,
            flags: Vec::new(),
            yaml: RepoYaml::default(),
            not_activated: false,
        };
        match self.owners.iter_mut().find(|o| o.username == owner_name) {
            Some(owner) => {
                let at = owner.repos.partition_point(|r| r.name < repo.name);
                owner.repos.insert(at, repo);
            }
            None => self.owners.push(Owner {
                username: owner_name,
                name: None,
                service_id: text("/owner/service_id").unwrap_or_default(),
                repos: vec![repo],
            }),
        }
    }
}

/// Port's documented example payload, shipped with the crate.
pub fn seed_example_payload() -> Value {
    serde_json::from_str(include_str!(
        "../../../../resources/codecov/codecov-webhook-payload.json"
    ))
    .unwrap_or(Value::Null)
}
