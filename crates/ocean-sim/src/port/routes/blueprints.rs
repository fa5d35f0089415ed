//! Blueprints: list, read, create.

use super::*;

pub(super) async fn list_blueprints(State(sim): State<Arc<PortSim>>) -> Reply {
    let blueprints: Vec<Value> = sim.store().blueprints.values().cloned().collect();
    ok(StatusCode::OK, json!({"ok": true, "blueprints": blueprints}))
}

pub(super) async fn get_blueprint(State(sim): State<Arc<PortSim>>, Path(identifier): Path<String>) -> Reply {
    let store = sim.store();
    let blueprint = store.blueprint(&identifier)?;
    ok(StatusCode::OK, json!({"ok": true, "blueprint": blueprint}))
}

pub(super) async fn create_blueprint(
    State(sim): State<Arc<PortSim>>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let body = json_object(&body)?;
    for required in ["identifier", "title", "schema"] {
        if !body.contains_key(required) {
            return Err(invalid(format!("body must have required property '{required}'")));
        }
    }
    let identifier = body.get("identifier").and_then(Value::as_str).unwrap_or_default();
    super::entity_rules::check_identifier(identifier)?;
    let created = sim
        .store()
        .create_blueprint(Value::Object(body), &writer(&headers))?;
    ok(StatusCode::CREATED, json!({"ok": true, "blueprint": created}))
}
