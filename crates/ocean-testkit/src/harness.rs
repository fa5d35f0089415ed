//! The one test harness (feature `sim`): both simulators on loopback, the
//! integration's settings pointing at them, the binary spawned with those
//! settings, and helpers to read what Port holds. Tests (through
//! `tests/common`), benchmarks, the soak and the sandbox all use it.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Stdio};
use std::sync::Arc;

use anyhow::Context;
use tokio::io::AsyncBufReadExt;

use ocean_host::host::Host;
use ocean_host::settings::integration_variable;
use ocean_port::{PortClient, PortSettings};
use ocean_sim::Served;
use ocean_sim::codecov::data::Dataset;
use ocean_sim::codecov::{CodecovSim, CodecovSimConfig, DEFAULT_TOKEN, webhook_payload_for};
use ocean_sim::port::{PortSim, PortSimConfig};
use ocean_support::secret::Secret;

/// The Port simulator's default credentials.
pub const PORT_CLIENT_ID: &str = "test-client";
pub const PORT_CLIENT_SECRET: &str = "test-secret";

/// `ocean-codecov` arguments that start the Codecov simulator on loopback (add its flags).
pub const CODECOV_SIM_ON_LOOPBACK: [&str; 4] = ["sim", "codecov", "--addr", "127.0.0.1:0"];

/// An address on loopback with a port the system picks.
pub fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// The integration's settings, as the `OCEAN__*` variables a user would set,
/// for Port and Codecov at the given URLs with the simulators' credentials.
#[derive(Debug, Clone)]
pub struct IntegrationEnv {
    vars: BTreeMap<String, String>,
}

impl IntegrationEnv {
    /// The installation `identifier`, reading `owners` from Codecov.
    pub fn new(port_url: &str, codecov_url: &str, owners: &[String], identifier: &str) -> Self {
        let owners = serde_json::Value::from(owners.to_vec()).to_string();
        IntegrationEnv {
            vars: BTreeMap::new(),
        }
        .var("OCEAN__PORT__BASE_URL", port_url)
        .var("OCEAN__PORT__CLIENT_ID", PORT_CLIENT_ID)
        .var("OCEAN__PORT__CLIENT_SECRET", PORT_CLIENT_SECRET)
        .var("OCEAN__INTEGRATION__IDENTIFIER", identifier)
        // A fresh journal: these simulators know nothing of an earlier run's events.
        .var(
            "OCEAN__JOURNAL__PATH",
            ocean_host::journal::scratch_journal_dir(identifier)
                .display()
                .to_string(),
        )
        .field("codecovToken", DEFAULT_TOKEN)
        .field("codecovUrl", codecov_url)
        .field("codecovOwners", owners)
    }

    /// Sets (or replaces) one variable.
    pub fn var(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.insert(name.into(), value.into());
        self
    }

    /// Removes one variable.
    pub fn without(mut self, name: &str) -> Self {
        self.vars.remove(name);
        self
    }

    /// Sets one of the integration's own fields (`codecovPageSize` → `OCEAN__INTEGRATION__CONFIG__CODECOV_PAGE_SIZE`).
    pub fn field(self, field: &str, value: impl Into<String>) -> Self {
        self.var(integration_variable(field), value)
    }

    /// Quick retries, so fault runs are about the integration, not its sleeps.
    pub fn fast_retries(self, base_delay_ms: u64, max_attempts: u32) -> Self {
        self.var("OCEAN__RETRY__BASE_DELAY_MS", base_delay_ms.to_string())
            .var("OCEAN__RETRY__MAX_ATTEMPTS", max_attempts.to_string())
    }

    /// Serves webhooks on loopback, on a port the system picks, with no listener of its own.
    pub fn webhooks_only_on_loopback(self) -> Self {
        self.var("OCEAN__EVENT_LISTENER__TYPE", "WEBHOOKS_ONLY")
            .var("OCEAN__HTTP__HOST", "127.0.0.1")
            .var("OCEAN__HTTP__PORT", "0")
    }

    pub fn vars(&self) -> &BTreeMap<String, String> {
        &self.vars
    }

    /// The integration in this process, as `sail` would build it.
    pub fn host(&self) -> anyhow::Result<Host> {
        codecov::wiring::host_from(&self.vars, None)
    }

    /// `exe args...` with exactly these variables (nothing inherited), plus `RUST_LOG`.
    pub fn command(
        &self,
        exe: impl AsRef<std::ffi::OsStr>,
        args: &[&str],
        log: &str,
    ) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(exe);
        command
            .args(args)
            .env_clear()
            .envs(&self.vars)
            .env("RUST_LOG", log);
        command
    }

    /// Runs `exe args...` as [`IntegrationEnv::command`] does, to its end.
    pub async fn run_to_end(
        &self,
        exe: impl AsRef<std::ffi::OsStr>,
        args: &[&str],
        log: &str,
    ) -> anyhow::Result<Finished> {
        let output = self
            .command(exe, args, log)
            .output()
            .await
            .context("running the binary")?;
        Ok(Finished {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }
}

/// How a process run to its end went, and what it printed.
#[derive(Debug)]
pub struct Finished {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Port's `Date` header has whole seconds, so a resync's cutoff lags Port by
/// under one: what was written less than this before a resync starts counts
/// as written during it (rightly never stale). Tests that want an entity to
/// be older than a resync wait this long first.
pub const PORT_CLOCK_SETTLE: std::time::Duration = std::time::Duration::from_millis(1_100);

/// Waits [`PORT_CLOCK_SETTLE`]: what was written so far is older than the next resync.
pub async fn settle_port_clock() {
    tokio::time::sleep(PORT_CLOCK_SETTLE).await;
}

/// The world of an end-to-end test: both simulators and one installation of
/// the integration, whose runs of the binary each start at least
/// [`PORT_CLOCK_SETTLE`] after the last one ended (so what one run wrote is
/// older than the next one's cutoff). Derefs to its [`Simulators`].
pub struct TestWorld {
    pub sims: Simulators,
    pub identifier: String,
    last_run: std::sync::Mutex<Option<std::time::Instant>>,
}

impl std::ops::Deref for TestWorld {
    type Target = Simulators;

    fn deref(&self) -> &Simulators {
        &self.sims
    }
}

impl TestWorld {
    /// Both simulators started with these configs, for installation `identifier`.
    pub async fn start(
        port: PortSimConfig,
        codecov: CodecovSimConfig,
        identifier: &str,
    ) -> anyhow::Result<TestWorld> {
        Ok(TestWorld {
            sims: Simulators::start(port, codecov).await?,
            identifier: identifier.to_string(),
            last_run: std::sync::Mutex::new(None),
        })
    }

    /// The installation's settings, reading every owner the Codecov simulator holds.
    pub fn installation_env(&self) -> IntegrationEnv {
        self.sims.env(&self.identifier)
    }

    /// A Port client writing as this installation.
    pub fn installation_client(&self) -> anyhow::Result<PortClient> {
        self.sims.port_client(&self.identifier)
    }

    /// Waits until [`PORT_CLOCK_SETTLE`] has passed since the last run ended.
    pub async fn settle_since_last_run(&self) {
        let ended = *self.last_run.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(wait) = ended.and_then(|at| PORT_CLOCK_SETTLE.checked_sub(at.elapsed())) {
            tokio::time::sleep(wait).await;
        }
    }

    /// Runs `exe args...` with `env` to its end, settled after the last run.
    pub async fn run(
        &self,
        exe: impl AsRef<std::ffi::OsStr>,
        env: &IntegrationEnv,
        args: &[&str],
        log: &str,
    ) -> anyhow::Result<Finished> {
        self.settle_since_last_run().await;
        let finished = env.run_to_end(exe, args, log).await;
        *self.last_run.lock().unwrap_or_else(|p| p.into_inner()) = Some(std::time::Instant::now());
        finished
    }
}

/// Both simulators on loopback, serving until dropped.
pub struct Simulators {
    pub port: Served,
    pub port_sim: Arc<PortSim>,
    pub codecov: Served,
    pub codecov_sim: Arc<CodecovSim>,
}

impl Simulators {
    pub async fn start(port: PortSimConfig, codecov: CodecovSimConfig) -> anyhow::Result<Simulators> {
        let (port, port_sim) = PortSim::start(port, loopback())
            .await
            .context("starting the Port simulator")?;
        let (codecov, codecov_sim) = CodecovSim::start(codecov, loopback())
            .await
            .context("starting the Codecov simulator")?;
        Ok(Simulators {
            port,
            port_sim,
            codecov,
            codecov_sim,
        })
    }

    /// Every owner the Codecov simulator holds.
    pub fn owners(&self) -> Vec<String> {
        self.codecov_sim
            .dataset()
            .owners
            .iter()
            .map(|o| o.username.clone())
            .collect()
    }

    /// The settings for installation `identifier` reading every owner.
    pub fn env(&self, identifier: &str) -> IntegrationEnv {
        IntegrationEnv::new(&self.port.url(), &self.codecov.url(), &self.owners(), identifier)
    }

    /// A Port client acting as installation `identifier` (type `codecov`) with
    /// the simulator's credentials: what it writes is that installation's own.
    pub fn port_client(&self, identifier: &str) -> anyhow::Result<PortClient> {
        let settings = PortSettings::new(
            self.port.url(),
            PORT_CLIENT_ID,
            Secret::new(PORT_CLIENT_SECRET),
            "codecov",
            identifier,
        );
        PortClient::new(settings).context("building a Port client")
    }

    /// How many requests Port received with `method` on a path ending in `path_suffix`.
    pub fn port_requests(&self, method: &str, path_suffix: &str) -> usize {
        port_requests(&self.port_sim, method, path_suffix)
    }

    /// The identifiers of `blueprint`'s entities in Port, sorted.
    pub fn identifiers(&self, blueprint: &str) -> Vec<String> {
        identifiers(&self.port_sim, blueprint)
    }
}

/// The identifiers of `blueprint`'s entities in `sim`, sorted.
pub fn identifiers(sim: &PortSim, blueprint: &str) -> Vec<String> {
    let mut ids: Vec<String> = sim
        .entities(blueprint)
        .iter()
        .filter_map(|e| e["identifier"].as_str().map(String::from))
        .collect();
    ids.sort();
    ids
}

/// Codecov's notify payloads for at most `count` repositories of `dataset`'s
/// first owner (those with a report), as its dashboard at app.codecov.io sends them.
pub fn webhook_payloads(dataset: &Dataset, count: usize) -> Vec<serde_json::Value> {
    let Some(owner) = dataset.owners.first() else {
        return Vec::new();
    };
    owner
        .repos
        .iter()
        .filter_map(|r| {
            webhook_payload_for(dataset, "https://app.codecov.io", &owner.username, &r.name, false)
        })
        .take(count)
        .collect()
}

/// How many requests `sim` received with `method` on a path ending in `path_suffix`.
pub fn port_requests(sim: &PortSim, method: &str, path_suffix: &str) -> usize {
    sim.log()
        .snapshot()
        .iter()
        .filter(|r| r.method == method && r.path.ends_with(path_suffix))
        .count()
}

/// The URL in a process's `... listening on URL ...` line (the simulators and `sail` print one).
pub fn announced_url(line: &str) -> Option<String> {
    let (_, rest) = line.split_once("listening on ")?;
    let url = rest.split_whitespace().next()?;
    url.starts_with("http://").then(|| url.to_string())
}

/// A child process killed when dropped.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawns `command` and waits for the URL it announces on stderr.
pub fn spawn_announcing(mut command: std::process::Command) -> anyhow::Result<(Process, String)> {
    let mut child = Process(
        command
            .stderr(Stdio::piped())
            .spawn()
            .context("starting the process")?,
    );
    let stderr = child.0.stderr.take().context("the process's stderr")?;
    let mut lines = BufReader::new(stderr).lines();
    let url = loop {
        let line = lines.next().context("the process ended before it listened")??;
        if let Some(url) = announced_url(&line) {
            break url;
        }
    };
    Ok((child, url))
}

/// Stderr lines of a spawned process still to be read.
pub type StderrLines = tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStderr>>;

/// Spawns `command` (killed on drop) and waits for the URL it announces on
/// stderr, passing every line read to `seen` (to check it, e.g. for secrets).
/// Returns the rest of stderr, which the caller must keep reading.
pub async fn spawn_announcing_async(
    mut command: tokio::process::Command,
    seen: impl Fn(&str),
) -> anyhow::Result<(tokio::process::Child, String, StderrLines)> {
    let mut child = command
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting the process")?;
    let stderr = child.stderr.take().context("the process's stderr")?;
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    let url = loop {
        let line = lines
            .next_line()
            .await?
            .context("the process ended before it listened")?;
        seen(&line);
        if let Some(url) = announced_url(&line) {
            break url;
        }
    };
    Ok((child, url, lines))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_url_simulators_and_sail_announce() {
        assert_eq!(
            announced_url("Port simulator listening on http://127.0.0.1:4000 (admin: x); Ctrl-C stops it"),
            Some("http://127.0.0.1:4000".into())
        );
        assert_eq!(
            announced_url("listening on http://127.0.0.1:8000 (POST /integration/webhook)"),
            Some("http://127.0.0.1:8000".into())
        );
        assert_eq!(announced_url("registering the integration in Port"), None);
    }

    #[test]
    fn the_environment_builds_a_host() {
        let env = IntegrationEnv::new(
            "http://127.0.0.1:9",
            "http://127.0.0.1:9",
            &["o".into()],
            "harness",
        )
        .fast_retries(5, 2);
        let host = env.host().expect("valid settings");
        assert_eq!(host.settings.integration_identifier, "harness");
        assert_eq!(host.settings.retry.max_attempts, 2);
    }
}
