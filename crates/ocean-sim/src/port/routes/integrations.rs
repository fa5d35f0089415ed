//! The integration record: create, read, patch, its config, resync state and requests.

use super::*;

pub(super) async fn create_integration(
    State(sim): State<Arc<PortSim>>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Reply {
    let body = json_object(&body)?;
    let Some(identifier) = body
        .get("installationId")
        .and_then(Value::as_str)
        .map(String::from)
    else {
        return Err(invalid("body must have required property 'installationId'"));
    };
    let mut store = sim.store();
    if store.integrations.contains_key(&identifier) {
        return Err(Refusal::new(
            409,
            "identifier_taken",
            format!("Integration \"{identifier}\" already exists"),
        ));
    }
    let now = rfc3339(jiff::Timestamp::now());
    let mut integration = body;
    integration.insert("identifier".into(), json!(identifier));
    integration.entry("config").or_insert(json!({}));
    integration.insert("createdAt".into(), json!(now));
    integration.insert("updatedAt".into(), json!(now));
    crate::port::feed::attach_ingest(&sim, &mut integration, &headers);
    let integration = Value::Object(integration);
    store.integrations.insert(identifier, integration.clone());
    ok(StatusCode::OK, json!({"ok": true, "integration": integration}))
}

pub(super) fn integration_mut<'a>(
    store: &'a mut super::store::Store,
    identifier: &str,
) -> Result<&'a mut Map<String, Value>, Refusal> {
    store
        .integrations
        .get_mut(identifier)
        .and_then(Value::as_object_mut)
        .ok_or_else(|| {
            Refusal::new(
                404,
                "not_found",
                format!("Integration \"{identifier}\" was not found"),
            )
        })
}

pub(super) async fn get_integration(
    State(sim): State<Arc<PortSim>>,
    Path(identifier): Path<String>,
) -> Reply {
    let mut store = sim.store();
    let integration = integration_mut(&mut store, &identifier)?.clone();
    ok(StatusCode::OK, json!({"ok": true, "integration": integration}))
}

pub(super) async fn patch_integration(
    State(sim): State<Arc<PortSim>>,
    Path(identifier): Path<String>,
    body: Bytes,
) -> Reply {
    let body = if body.is_empty() {
        Map::new()
    } else {
        json_object(&body)?
    };
    let mut store = sim.store();
    let integration = integration_mut(&mut store, &identifier)?;
    for (key, value) in &body {
        integration.insert(key.clone(), value.clone());
    }
    integration.insert("updatedAt".into(), json!(rfc3339(jiff::Timestamp::now())));
    let integration = integration.clone();
    if body.is_empty() {
        store.record_resync_request(&identifier);
    }
    ok(StatusCode::OK, json!({"ok": true, "integration": integration}))
}

pub(super) async fn patch_integration_config(
    State(sim): State<Arc<PortSim>>,
    Path(identifier): Path<String>,
    body: Bytes,
) -> Reply {
    let body = json_object(&body)?;
    only_keys(&body, &["config"])?;
    let config = body.get("config").cloned().unwrap_or(Value::Null);
    let mut store = sim.store();
    let integration = integration_mut(&mut store, &identifier)?;
    integration.insert("config".into(), config);
    ok(
        StatusCode::OK,
        json!({"ok": true, "integration": integration.clone()}),
    )
}

pub(super) async fn patch_resync_state(
    State(sim): State<Arc<PortSim>>,
    Path(identifier): Path<String>,
    body: Bytes,
) -> Reply {
    let patch = json_object(&body)?;
    let mut store = sim.store();
    let integration = integration_mut(&mut store, &identifier)?;
    // A patch: fields not sent keep their value (Ocean's end-of-resync state
    // leaves out lastResyncStart, and Port still shows it).
    let mut state = match integration.remove("resyncState") {
        Some(Value::Object(state)) => state,
        _ => Map::new(),
    };
    state.extend(patch);
    state.insert("updatedAt".into(), json!(rfc3339(jiff::Timestamp::now())));
    integration.insert("resyncState".into(), Value::Object(state));
    ok(
        StatusCode::OK,
        json!({"ok": true, "integration": integration.clone()}),
    )
}

pub(super) async fn get_resync_request(
    State(sim): State<Arc<PortSim>>,
    Path(identifier): Path<String>,
) -> Reply {
    let mut store = sim.store();
    integration_mut(&mut store, &identifier)?;
    let request = store
        .resync_request
        .get(&identifier)
        .cloned()
        .unwrap_or(Value::Null);
    ok(StatusCode::OK, json!({"ok": true, "request": request}))
}
