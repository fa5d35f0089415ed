//! Ocean settings about how the integration reaches servers (TLS) and where
//! Port reaches it (the WEBHOOK listener's address), read with Ocean's names
//! and defaults; and actions processing, which this host cannot honour,
//! refused at start with what to set instead.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::SettingError;
use super::sources::{text, variable};
use ocean_support::http::Tls;

/// Ocean's TLS and WEBHOOK-listener settings, as [`Settings::ocean`](super::Settings::ocean) holds them.
#[derive(Debug, Clone)]
pub struct OceanExtras {
    /// Certificate checks for Port (`OCEAN__SSL__PORT__VERIFY`, `SSL_CERT_FILE`).
    pub port_tls: Tls,
    /// Certificate checks for the source (`OCEAN__SSL__THIRD_PARTY__VERIFY`, `SSL_CERT_FILE`).
    pub source_tls: Tls,
    /// Where Port calls the WEBHOOK listener: `OCEAN__EVENT_LISTENER__APP_HOST`, else `OCEAN__BASE_URL`.
    pub app_host: Option<String>,
}

fn http_url(value: &str) -> bool {
    value.starts_with("http://") || value.starts_with("https://")
}

pub(super) fn read(
    tree: &Map<String, Value>,
    vars: &BTreeMap<String, String>,
    errors: &mut Vec<SettingError>,
) -> OceanExtras {
    let mut flag = |path: &[&str], default: bool| super::sources::flag(tree, path, default, errors);
    let verify_port = flag(&["ssl", "port", "verify"], true);
    let verify_source = flag(&["ssl", "third_party", "verify"], true);
    let actions = flag(&["actions_processor", "enabled"], false);
    if actions {
        errors.push(SettingError {
            variable: variable(&["actions_processor", "enabled"]),
            message: "this host does not process Port actions; set it to false (Helm: actionsProcessor.enabled=false)"
                .into(),
        });
    }
    for (verify, label) in [(verify_port, "Port"), (verify_source, "the source")] {
        if !verify {
            tracing::warn!("TLS certificates of {label} are not verified (SSL verify=false)");
        }
    }
    let mut tls = |verify: bool| {
        Tls::from_vars(vars, verify).unwrap_or_else(|fault| {
            let text = fault.to_string();
            let variable = fault.variable().unwrap_or("SSL_CERT_FILE").to_string();
            // The message without the variable it starts with (the fault names it apart).
            let message = text
                .strip_prefix(&variable)
                .map(|rest| rest.trim_start_matches([':', '=', ' ']).to_string())
                .unwrap_or(text);
            errors.push(SettingError { variable, message });
            Tls::default()
        })
    };
    let port_tls = tls(verify_port);
    let source_tls = Tls {
        verify: verify_source,
        ..port_tls.clone()
    };
    let mut url = |path: &[&str]| {
        let value = text(tree, path)?;
        if http_url(&value) {
            Some(value.trim_end_matches('/').to_string())
        } else {
            errors.push(SettingError {
                variable: variable(path),
                message: format!("must be an http(s) URL, got {value:?}"),
            });
            None
        }
    };
    let base_url = url(&["base_url"]);
    let app_host = url(&["event_listener", "app_host"])
        .or_else(|| url(&["event_listener", "appHost"]))
        .or(base_url);
    OceanExtras {
        port_tls,
        source_tls,
        app_host,
    }
}
