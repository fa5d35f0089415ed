//! The organisation (`GET /v1/organization`) and the connection probe's
//! status reports (`PATCH /v1/org/{org_id}/integration/probe/{probe_id}`).
//! Port documents no reply for either beyond `ok`; the probe's body is the one
//! Ocean 0.56.2's `PortProbeReporter` sends (`ProbeContext.build_request_body`
//! without `probeId`), the only account of that route there is.

use super::*;

/// The simulated organisation's id (Port's are `org_` and 16 characters).
pub const ORGANIZATION_ID: &str = "org_s1mu1at0rP0rt1";

pub(super) async fn get_organization() -> Reply {
    ok(
        StatusCode::OK,
        json!({"ok": true, "organization": {"id": ORGANIZATION_ID, "name": "Simulated organization"}}),
    )
}

/// Ocean's `ProbeStatus` and `ProbeCheckStatus` values.
const PROBE_STATUSES: &[&str] = &["IN_PROGRESS", "COMPLETED", "FAILED", "INTERNAL_FAILURE"];
const CHECK_STATUSES: &[&str] = &["PENDING", "SUCCESS", "FAILURE", "UNKNOWN"];

pub(super) async fn patch_probe_result(
    Path((org_id, _probe_id)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    if org_id != ORGANIZATION_ID {
        return Err(Refusal::new(
            404,
            "not_found",
            format!("Organization \"{org_id}\" was not found"),
        ));
    }
    let body = json_object(&body)?;
    only_keys(
        &body,
        &["status", "probeMode", "startedAt", "endedAt", "message", "checks"],
    )?;
    let text = |name: &str| body.get(name).and_then(Value::as_str);
    if !text("status").is_some_and(|s| PROBE_STATUSES.contains(&s)) {
        return Err(invalid(format!("body/status must be one of {PROBE_STATUSES:?}")));
    }
    for name in ["probeMode", "startedAt"] {
        if text(name).is_none() {
            return Err(invalid(format!(
                "body must have required property '{name}' (string)"
            )));
        }
    }
    let Some(Value::Array(checks)) = body.get("checks") else {
        return Err(invalid("body must have required property 'checks' (array)"));
    };
    for (at, check) in checks.iter().enumerate() {
        let Some(check) = check.as_object() else {
            return Err(invalid(format!("body/checks/{at} must be object")));
        };
        only_keys(check, &["kind", "scopes", "status", "message"])?;
        let good = check.get("kind").is_some_and(Value::is_string)
            && check.get("scopes").is_some_and(Value::is_object)
            && check
                .get("status")
                .and_then(Value::as_str)
                .is_some_and(|s| CHECK_STATUSES.contains(&s));
        if !good {
            return Err(invalid(format!(
                "body/checks/{at} must have kind (string), scopes (object) and status (one of {CHECK_STATUSES:?})"
            )));
        }
    }
    ok(StatusCode::OK, json!({"ok": true}))
}
