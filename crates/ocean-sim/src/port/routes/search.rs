//! Entity search: rules, `include` projection, cursor paging.

use super::*;

/// `next` is opaque to clients; here it is the hex of the last identifier sent.
pub(super) fn encode_cursor(identifier: &str) -> String {
    identifier.bytes().map(|b| format!("{b:02x}")).collect()
}

pub(super) fn decode_cursor(cursor: &str) -> Option<String> {
    let bytes: Option<Vec<u8>> = (0..cursor.len())
        .step_by(2)
        .map(|i| {
            cursor
                .get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect();
    String::from_utf8(bytes?).ok()
}

pub(super) fn project(entity: &Value, include: &[String]) -> Value {
    if include.is_empty() {
        return entity.clone();
    }
    let mut out = json!({});
    for name in include {
        match name.strip_prefix('$') {
            Some(meta) => {
                if let Some(value) = entity.get(meta) {
                    out[meta] = value.clone();
                }
            }
            None => {
                for section in ["properties", "relations"] {
                    if let Some(value) = entity.get(section).and_then(|s| s.get(name)) {
                        out[section][name] = value.clone();
                    }
                }
            }
        }
    }
    out
}

pub(super) async fn search(
    State(sim): State<Arc<PortSim>>,
    Path(blueprint): Path<String>,
    body: Bytes,
) -> Reply {
    let body = json_object(&body)?;
    only_keys(&body, &["query", "include", "exclude", "limit", "from"])?;
    let limit = match body.get("limit") {
        None => 200,
        Some(Value::Number(n)) if n.as_f64().is_some_and(|n| (1.0..=1000.0).contains(&n)) => {
            n.as_f64().unwrap_or(200.0) as usize
        }
        Some(_) => return Err(invalid("body/limit must be a number from 1 to 1000")),
    };
    let rule = body.get("query").map(Rule::parse).transpose()?;
    let include: Vec<String> = body
        .get("include")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).map(String::from).collect())
        .unwrap_or_default();
    let after = match body.get("from").and_then(Value::as_str) {
        Some(cursor) => {
            Some(decode_cursor(cursor).ok_or_else(|| invalid("body/from is not a cursor this API issued"))?)
        }
        None => None,
    };
    let store = sim.store();
    store.blueprint(&blueprint)?;
    let mut page = Vec::new();
    let mut more = false;
    let mut last = String::new();
    let bucket = store.entities.get(&blueprint);
    let start = after
        .as_deref()
        .map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
    let scan: Box<dyn Iterator<Item = (&String, &super::store::StoredEntity)>> =
        match rule.as_ref().and_then(Rule::identifier_limit) {
            // Port answers identifier lookups from its index; so does the simulator.
            Some(mut ids) => {
                ids.sort();
                ids.dedup();
                let after = after.clone();
                Box::new(
                    ids.into_iter()
                        .filter(move |id| after.as_ref().is_none_or(|a| id > a))
                        .filter_map(move |id| bucket.and_then(|b| b.get_key_value(&id))),
                )
            }
            None => Box::new(
                bucket
                    .into_iter()
                    .flat_map(move |e| e.range::<str, _>((start, std::ops::Bound::Unbounded))),
            ),
        };
    for (identifier, entity) in scan {
        let view = entity.to_admin_json(&blueprint);
        if rule.as_ref().is_some_and(|r| !r.matches(&view)) {
            continue;
        }
        if page.len() == limit {
            more = true;
            break;
        }
        // Meta-properties (`$updatedAt`, ...) come when asked for by name, as Port's include does.
        let whole = if include.is_empty() {
            entity.to_json()
        } else {
            view
        };
        page.push(project(&whole, &include));
        last = identifier.clone();
    }
    let mut reply = json!({"ok": true, "entities": page});
    if more {
        reply["next"] = json!(encode_cursor(&last));
    }
    ok(StatusCode::OK, reply)
}
