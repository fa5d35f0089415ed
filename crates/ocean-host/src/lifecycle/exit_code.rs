//! Exit codes of `sail` and `resync --once`, so that a scheduler can tell
//! whether running again can help. The Helm chart's CronJob retries a run only
//! on `TEMPORARY` (its Job's `podFailurePolicy`); README: "exit codes".
//!
//! - 0: the resync finished.
//! - 1 (`INCOMPLETE`): it ran but a kind failed (nothing of that kind was deleted);
//!   the next scheduled run is the retry.
//! - 75 (`TEMPORARY`, sysexits' EX_TEMPFAIL): Port could not be reached or was
//!   overloaded (network, timeout, 5xx, 429 after the retries) before a resync
//!   ran: a retry soon can help.
//! - 78 (`CONFIG`, EX_CONFIG): bad settings or mapping, or credentials Port
//!   refuses: a retry cannot help.
//! - 143 / 130: SIGTERM / SIGINT stopped a ONCE run part-way (128 + the
//!   signal): it deleted nothing and reported `aborted` to Port; the Job fails
//!   (a pod evicted is ignored by the Job's policy, and runs again).

use crate::host::HostError;
use crate::resync::ResyncError;
use crate::settings::SettingErrors;
use ocean_port::PortError;

/// A run that ended but did not complete (a kind failed): the next scheduled run is the retry.
pub const INCOMPLETE: u8 = 1;
/// Port unreachable or overloaded before a resync ran: a retry soon can help (EX_TEMPFAIL).
pub const TEMPORARY: u8 = 75;
/// Bad settings or mapping, or credentials Port refuses: a retry cannot help (EX_CONFIG).
pub const CONFIG: u8 = 78;

/// A fault in building the integration from its settings: always `CONFIG`.
#[derive(Debug, thiserror::Error)]
#[error("{0:#}")]
pub struct ConfigFault(pub anyhow::Error);

/// Marks a fault in building the integration (settings, clients, defaults).
pub fn config(error: anyhow::Error) -> anyhow::Error {
    anyhow::Error::new(ConfigFault(error))
}

/// The exit code for an error that ended a run.
pub fn for_error(error: &anyhow::Error) -> u8 {
    if error.downcast_ref::<ConfigFault>().is_some() || error.downcast_ref::<SettingErrors>().is_some() {
        return CONFIG;
    }
    if let Some(host) = error.downcast_ref::<HostError>() {
        return match host {
            HostError::Port(port)
            | HostError::Resync(ResyncError::Port(port) | ResyncError::Credentials(port)) => for_port(port),
            HostError::NoValidMapping(_)
            | HostError::BadDefault(_)
            | HostError::Resync(ResyncError::EmptyMapping) => CONFIG,
            HostError::StoppedBeforeItsReport => INCOMPLETE,
        };
    }
    if let Some(port) = error.downcast_ref::<PortError>() {
        return for_port(port);
    }
    INCOMPLETE
}

fn for_port(error: &PortError) -> u8 {
    match error {
        PortError::Transport { .. } => TEMPORARY,
        PortError::RetriesExhausted { last, .. } => match **last {
            PortError::Transport { .. } => TEMPORARY,
            ref other => for_port(other),
        },
        PortError::Api { status, .. } => match status.as_u16() {
            408 | 429 | 500..=599 => TEMPORARY,
            400 | 401 | 403 | 404 | 409 | 422 => CONFIG,
            _ => INCOMPLETE,
        },
        PortError::Setup(_) => CONFIG,
        PortError::UnexpectedReply { .. } => INCOMPLETE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    fn api(status: u16) -> PortError {
        PortError::Api {
            method: "GET".into(),
            path: "/v1/integration/x".into(),
            status: StatusCode::from_u16(status).expect("status"),
            body: Default::default(),
        }
    }

    #[test]
    fn a_retry_is_asked_for_only_when_it_can_help() {
        let transport = PortError::Transport {
            method: "POST".into(),
            path: "/v1/auth/access_token".into(),
            reason: "connection refused".into(),
        };
        let exhausted = |last: PortError| PortError::RetriesExhausted {
            method: "GET".into(),
            path: "/v1/integration/x".into(),
            attempts: 8,
            waited_ms: 300_000,
            last: Box::new(last),
        };
        let cases: Vec<(anyhow::Error, u8)> = vec![
            (anyhow::Error::new(HostError::Port(transport)), TEMPORARY),
            (
                anyhow::Error::new(HostError::Port(exhausted(api(503)))),
                TEMPORARY,
            ),
            (
                anyhow::Error::new(HostError::Port(exhausted(api(429)))),
                TEMPORARY,
            ),
            (anyhow::Error::new(HostError::Port(api(401))), CONFIG),
            (
                anyhow::Error::new(HostError::Resync(ResyncError::Port(api(403)))),
                CONFIG,
            ),
            (
                anyhow::Error::new(HostError::NoValidMapping("bad jq".into())),
                CONFIG,
            ),
            (config(anyhow::anyhow!("integration config: bad")), CONFIG),
            (anyhow::anyhow!("something else"), INCOMPLETE),
        ];
        for (error, code) in cases {
            assert_eq!(for_error(&error), code, "{error:#}");
        }
    }
}
