//! The signals that stop the process, and the exit code each leaves.

/// The signal that asked the process to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopRequest {
    /// SIGTERM: Kubernetes stopping the pod (rollout, `concurrencyPolicy: Replace`, deadline, eviction).
    Terminate,
    /// SIGINT: Ctrl-C.
    Interrupt,
}

impl StopRequest {
    /// The shell's convention, 128 + the signal's number: what a run stopped
    /// part-way exits with, so a CronJob's history shows it failed.
    pub fn exit_code(self) -> u8 {
        match self {
            StopRequest::Terminate => 143,
            StopRequest::Interrupt => 130,
        }
    }
}

/// SIGTERM and Ctrl-C, caught from the moment this is made (until then the
/// default applies: the process ends at once).
pub struct StopSignals {
    #[cfg(unix)]
    signals: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl StopSignals {
    /// Starts catching SIGTERM and SIGINT; if they cannot be caught, [`StopSignals::recv`] waits for Ctrl-C only.
    pub fn install() -> StopSignals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let signals = match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
                (Ok(term), Ok(int)) => Some((term, int)),
                _ => None,
            };
            StopSignals { signals }
        }
        #[cfg(not(unix))]
        StopSignals {}
    }

    /// The next stop signal.
    pub async fn recv(&mut self) -> StopRequest {
        #[cfg(unix)]
        if let Some((term, int)) = &mut self.signals {
            return tokio::select! {
                _ = term.recv() => StopRequest::Terminate,
                _ = int.recv() => StopRequest::Interrupt,
            };
        }
        let _ = tokio::signal::ctrl_c().await;
        StopRequest::Interrupt
    }
}
