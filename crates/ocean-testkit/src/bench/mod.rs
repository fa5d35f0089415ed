//! Benchmarks that print figures (`ocean-codecov bench ...`); tests never time anything.

pub mod corpus;
mod load;
pub mod mapping;
pub mod resync;
pub mod soak;
pub mod webhook;

use std::process::Command;

use anyhow::Context;

pub use crate::harness::Process;
use crate::harness::spawn_announcing;

pub use ocean_host::lifecycle::summary::peak_rss_bytes;

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Starts `ocean-codecov sim ...` and returns it with the URL it announced.
pub fn simulator(args: &[&str]) -> anyhow::Result<(Process, String)> {
    let exe = std::env::current_exe().context("finding this binary")?;
    let mut command = Command::new(exe);
    command.args(args);
    spawn_announcing(command).context("starting a simulator")
}

/// The Port simulator as a process, with a budget no benchmark reaches, and `extra` flags.
pub fn port_simulator(extra: &[&str]) -> anyhow::Result<(Process, String)> {
    let mut args = vec![
        "sim",
        "port",
        "--addr",
        "127.0.0.1:0",
        "--rate-limit",
        "100000000",
    ];
    args.extend_from_slice(extra);
    simulator(&args)
}
