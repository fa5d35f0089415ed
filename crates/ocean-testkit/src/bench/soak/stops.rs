//! A round whose resync is the binary's own `resync --once`, stopped with
//! SIGTERM while it runs (as Kubernetes stops a CronJob run), sometimes
//! with a mapping in Port that does not compile. However it ends, Port's
//! resync state must be true: `aborted`, `failed` or `completed`, never a
//! dead `running`; and a run stopped part-way deletes nothing.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::IntegrationEnv;
use ocean_sim::port::PortSim;

/// A run's end: its exit code, and the resync state it left in Port.
pub struct StoppedRun {
    pub exit: Option<i32>,
    pub status: String,
    /// Whether the SIGTERM reached the run while its resync was running.
    pub signalled: bool,
}

impl StoppedRun {
    /// Whether the run may have deleted (it finished its resync on its own).
    pub fn may_have_deleted(&self) -> bool {
        matches!(self.exit, Some(0 | 1))
    }

    /// The run's end as its exit code and Port's state must agree.
    pub fn consistent(&self) -> Result<(), String> {
        // A run that failed may have failed before it reported anything
        // (Port unreachable): Port then keeps the last run's end, or none.
        let ended_or_none = matches!(self.status.as_str(), "completed" | "aborted" | "failed" | "");
        let fine = match self.exit {
            Some(143 | 130) => self.status == "aborted",
            Some(0) => self.status == "completed",
            Some(1 | 75 | 78) => ended_or_none,
            _ => false,
        };
        if fine {
            Ok(())
        } else {
            Err(format!(
                "a run stopped by SIGTERM exited {:?} and left Port's resync state {:?}",
                self.exit, self.status
            ))
        }
    }
}

fn resync_state(port: &PortSim, identifier: &str) -> (String, Value) {
    let state = port
        .integration(identifier)
        .map(|i| i["resyncState"].clone())
        .unwrap_or(Value::Null);
    let status = state["status"].as_str().unwrap_or_default().to_string();
    (status, state["lastResyncStart"].clone())
}

/// A copy of `config` whose first resource's identifier does not compile.
pub fn broken(config: &Value) -> Value {
    let mut config = config.clone();
    if let Some(resource) = config
        .get_mut("resources")
        .and_then(Value::as_array_mut)
        .and_then(|all| all.first_mut())
    {
        resource["port"]["entity"]["mappings"]["identifier"] = json!(".name | (");
    }
    config
}

/// Runs `exe resync --once` with `env`, sends SIGTERM once Port shows its
/// resync running, and returns how it ended.
pub async fn sigterm_a_run(
    exe: &Path,
    env: &IntegrationEnv,
    port: &PortSim,
    identifier: &str,
) -> Result<StoppedRun, String> {
    let before = resync_state(port, identifier).1;
    let mut child = env
        .command(exe, &["resync", "--once"], "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("starting {}: {e}", exe.display()))?;
    let started = Instant::now();
    let mut signalled = false;
    while started.elapsed() < Duration::from_secs(120) {
        if child.try_wait().map_err(|e| e.to_string())?.is_some() {
            break;
        }
        let (status, start) = resync_state(port, identifier);
        if status == "running" && start != before {
            let pid = child.id().ok_or("the run has no pid")?;
            let sent = tokio::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await
                .map_err(|e| format!("kill: {e}"))?;
            signalled = sent.success();
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let exit = tokio::time::timeout(Duration::from_secs(120), child.wait())
        .await
        .map_err(|_| "a run SIGTERMed did not exit within 120 s".to_string())?
        .map_err(|e| e.to_string())?;
    let status = resync_state(port, identifier).0;
    Ok(StoppedRun {
        exit: exit.code(),
        status,
        signalled,
    })
}
