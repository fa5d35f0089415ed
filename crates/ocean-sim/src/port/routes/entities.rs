//! Entities: single and bulk upserts, reads, single and bulk deletes.

use super::*;

pub(super) fn write_mode(params: &HashMap<String, String>) -> Result<WriteMode, Refusal> {
    Ok(WriteMode {
        upsert: flag(params, "upsert", true)?,
        merge: flag(params, "merge", false)?,
        create_missing_related_entities: flag(params, "create_missing_related_entities", false)?,
    })
}

pub(super) async fn create_entity(
    State(sim): State<Arc<PortSim>>,
    Path(blueprint): Path<String>,
    Query(params): Params,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let mode = write_mode(&params)?;
    let body = Value::Object(json_object(&body)?);
    sim.record_write("upsert", &blueprint, &params);
    // The spec documents 201 for a create and an update alike.
    let (entity, _created) = sim
        .store()
        .write_entity(&blueprint, &body, mode, &writer(&headers))?;
    ok(
        StatusCode::CREATED,
        json!({"ok": true, "entity": entity.to_json()}),
    )
}

pub(super) async fn bulk_upsert(
    State(sim): State<Arc<PortSim>>,
    Path(blueprint): Path<String>,
    Query(params): Params,
    headers: HeaderMap,
    injected: Option<Extension<InjectedFault>>,
    body: Bytes,
) -> Reply {
    let partial = injected.is_some_and(|Extension(InjectedFault(fault))| fault == Fault::Partial);
    let mode = write_mode(&params)?;
    let body = json_object(&body)?;
    only_keys(&body, &["entities"])?;
    let Some(Value::Array(entities)) = body.get("entities") else {
        return Err(invalid("body must have required property 'entities' (an array)"));
    };
    if entities.is_empty() || entities.len() > MAX_BULK_ENTITIES {
        return Err(invalid(
            "body/entities must NOT have fewer than 1 items or more than 20 items",
        ));
    }
    sim.record_write("bulk_upsert", &blueprint, &params);
    let mut store = sim.store();
    store.blueprint(&blueprint)?;
    let who = writer(&headers);
    let (mut landed, mut errors) = (Vec::new(), Vec::new());
    for (index, entity) in entities.iter().enumerate() {
        let written = if partial && index % 2 == 1 {
            Err(Refusal::new(500, "internal_error", "Injected partial failure"))
        } else {
            store.write_entity(&blueprint, entity, mode, &who)
        };
        match written {
            Ok((stored, created)) => {
                landed.push(json!({"created": created, "identifier": stored.identifier, "index": index}))
            }
            Err(refusal) => {
                let identifier = match entity.get("identifier") {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => String::new(),
                };
                errors.push(
                    json!({"identifier": identifier, "index": index, "statusCode": refusal.status,
                    "error": refusal.error, "message": refusal.message}),
                );
            }
        }
    }
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::MULTI_STATUS
    };
    ok(
        status,
        json!({"ok": errors.is_empty(), "entities": landed, "errors": errors}),
    )
}

pub(super) async fn get_entity(
    State(sim): State<Arc<PortSim>>,
    Path((blueprint, identifier)): Path<(String, String)>,
) -> Reply {
    let store = sim.store();
    store.blueprint(&blueprint)?;
    match store.entities.get(&blueprint).and_then(|e| e.get(&identifier)) {
        Some(entity) => ok(StatusCode::OK, json!({"ok": true, "entity": entity.to_json()})),
        None => Err(Refusal::new(
            404,
            "not_found",
            format!("Entity with identifier \"{identifier}\" was not found in blueprint \"{blueprint}\""),
        )),
    }
}

pub(super) async fn delete_entity(
    State(sim): State<Arc<PortSim>>,
    Path((blueprint, identifier)): Path<(String, String)>,
    Query(params): Params,
) -> Reply {
    let delete_dependents = flag(&params, "delete_dependents", true)?;
    sim.record_write("delete", &blueprint, &params);
    let deleted =
        sim.store()
            .delete_entities(&blueprint, std::slice::from_ref(&identifier), delete_dependents)?;
    if deleted.is_empty() {
        return Err(Refusal::new(
            404,
            "not_found",
            format!("Entity \"{identifier}\" was not found"),
        ));
    }
    ok(StatusCode::OK, json!({"ok": true}))
}

pub(super) async fn bulk_delete(
    State(sim): State<Arc<PortSim>>,
    Path(blueprint): Path<String>,
    Query(params): Params,
    body: Bytes,
) -> Reply {
    let delete_dependents = flag(&params, "delete_dependents", true)?;
    let body = json_object(&body)?;
    only_keys(&body, &["entities"])?;
    let identifiers: Vec<String> = match body.get("entities") {
        Some(Value::Array(ids)) if ids.iter().all(Value::is_string) => {
            ids.iter().filter_map(Value::as_str).map(String::from).collect()
        }
        _ => {
            return Err(invalid(
                "body must have required property 'entities' (an array of strings)",
            ));
        }
    };
    if identifiers.is_empty() || identifiers.len() > MAX_BULK_DELETE {
        return Err(invalid(
            "body/entities must NOT have fewer than 1 items or more than 100 items",
        ));
    }
    sim.record_write("bulk_delete", &blueprint, &params);
    let deleted = sim
        .store()
        .delete_entities(&blueprint, &identifiers, delete_dependents)?;
    ok(StatusCode::OK, json!({"ok": true, "deletedEntities": deleted}))
}
