//! The simulator's own routes under `/_admin/` (not Port's): state, request log, faults, tokens.

use super::*;

pub(super) async fn admin_state(State(sim): State<Arc<PortSim>>) -> Reply {
    let store = sim.store();
    let entities: Map<String, Value> = store
        .entities
        .iter()
        .map(|(bp, bucket)| (bp.clone(), bucket.values().map(|e| e.to_admin_json(bp)).collect()))
        .collect();
    ok(
        StatusCode::OK,
        json!({
            "blueprints": store.blueprints.values().collect::<Vec<_>>(),
            "entities": entities,
            "integrations": store.integrations.values().collect::<Vec<_>>(),
            "resyncRequests": store.resync_requests,
        }),
    )
}

pub(super) async fn admin_requests(State(sim): State<Arc<PortSim>>) -> Reply {
    ok(StatusCode::OK, json!(sim.log.snapshot()))
}

pub(super) async fn admin_clear_requests(State(sim): State<Arc<PortSim>>) -> Reply {
    sim.log.clear();
    ok(StatusCode::OK, json!({"ok": true}))
}

pub(super) async fn admin_faults(State(sim): State<Arc<PortSim>>) -> Reply {
    ok(StatusCode::OK, json!(sim.faults.get()))
}

pub(super) async fn admin_set_faults(State(sim): State<Arc<PortSim>>, body: Bytes) -> Reply {
    let config: FaultConfig =
        serde_json::from_slice(&body).map_err(|e| invalid(format!("fault config: {e}")))?;
    sim.faults.set(config);
    ok(StatusCode::OK, json!(sim.faults.get()))
}

pub(super) async fn admin_add_blueprint(State(sim): State<Arc<PortSim>>, body: Bytes) -> Reply {
    let blueprint: Value = serde_json::from_slice(&body).map_err(|e| invalid(format!("blueprint: {e}")))?;
    let created = sim.store().create_blueprint(blueprint, "admin")?;
    ok(StatusCode::CREATED, created)
}

pub(super) async fn admin_expire_tokens(State(sim): State<Arc<PortSim>>) -> Reply {
    sim.expire_tokens();
    ok(StatusCode::OK, json!({"ok": true}))
}
