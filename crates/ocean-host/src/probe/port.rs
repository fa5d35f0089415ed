//! Port's side: do the credentials get a token, and can the integration's
//! record be read (and what `sail` would do without one).

use reqwest::StatusCode;
use serde_json::Value;

use super::check::Check;
use crate::host::Host;
use ocean_port::PortError;

const CREDENTIALS: &str = "Port credentials";
const RECORD: &str = "Port integration record";

/// The fix for a Port error: credentials, the region's URL, or Port's side.
fn fix_for(error: &PortError) -> String {
    let status = error.status();
    if matches!(status, Some(StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)) {
        return "set OCEAN__PORT__CLIENT_ID and OCEAN__PORT__CLIENT_SECRET to a pair from Port's \
                Credentials page, for the organisation OCEAN__PORT__BASE_URL points to"
            .into();
    }
    if status.is_some_and(|s| s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS) {
        return "Port is failing or busy: run the probe again later (OCEAN__RETRY__* set how long calls are retried)"
            .into();
    }
    "check OCEAN__PORT__BASE_URL (https://api.getport.io, or https://api.us.getport.io for the US \
     region), the network to it, and OCEAN__SSL__PORT__VERIFY / SSL_CERT_FILE for a proxy's certificate"
        .into()
}

pub async fn credentials(host: &Host) -> Check {
    match host.port.authenticate().await {
        Ok(()) => Check::ok(
            CREDENTIALS,
            format!("a token obtained from {}", host.settings.port_base_url),
        ),
        Err(e) => Check::fail(CREDENTIALS, e.to_string(), fix_for(&e)),
    }
}

/// Only asked once the credentials got a token.
pub async fn integration_record(host: &Host) -> Check {
    let settings = &host.settings;
    let identifier = &settings.integration_identifier;
    let record = match host.port.get_integration().await {
        Ok(record) => record,
        Err(e) => {
            let fix = match e.status() {
                Some(StatusCode::FORBIDDEN) => format!(
                    "give the credentials' user the right to read and edit integration {identifier} in Port \
                     (or set OCEAN__PORT__CLIENT_ID / OCEAN__PORT__CLIENT_SECRET to an admin's)"
                ),
                _ => fix_for(&e),
            };
            return Check::fail(RECORD, e.to_string(), fix);
        }
    };
    let Some(record) = record else {
        let blueprints = if settings.initialize_port_resources {
            " and create the default blueprints Port lacks"
        } else {
            " (OCEAN__INITIALIZE_PORT_RESOURCES=false: no blueprints are created)"
        };
        return Check::warn(
            RECORD,
            format!(
                "integration {identifier} is not in Port yet; `sail` would register it \
                 (type {}) with the default mapping{blueprints}",
                settings.integration_type
            ),
        );
    };
    let found_type = record
        .get("installationAppType")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let resources = record
        .pointer("/config/resources")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if found_type != settings.integration_type {
        return Check::warn(
            RECORD,
            format!(
                "integration {identifier} exists with type {found_type:?}; `sail` would change it to {:?}",
                settings.integration_type
            ),
        );
    }
    Check::ok(
        RECORD,
        format!(
            "integration {identifier} exists and is readable (type {found_type}, {resources} resource(s) in its mapping)"
        ),
    )
}
