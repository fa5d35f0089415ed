//! Entity calls: bulk and single upsert, paged search, the integration's own
//! entities, and bulk delete. Results are reported per entity: nothing is
//! dropped silently and nothing is retried blindly.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::Entity;
use super::batch::{bulk_body, plan_batches};
use super::client::{Call, PORT_MAX_BULK_DELETE, PortClient, api_path};
use super::error::PortError;

/// Query flags of the upsert routes; the default replaces whole entities and creates no missing
/// related entity.
#[derive(Debug, Clone, Copy, Default)]
pub struct UpsertOptions {
    /// `merge=true`: update only the fields sent instead of replacing the entity.
    pub merge: bool,
    /// `create_missing_related_entities=true`: a relation to an entity that does not exist creates
    /// it, bare, instead of failing the upsert.
    pub create_missing_related_entities: bool,
}

/// An entity Port took.
#[derive(Debug, Clone, PartialEq)]
pub struct Landed {
    /// The blueprint it was upserted under.
    pub blueprint: String,
    /// Its identifier as Port reported it.
    pub identifier: String,
    /// Port's `created`: `true` for a new entity, `false` when an existing one was updated.
    pub created: bool,
}

/// An entity Port did not take, with Port's own reason.
#[derive(Debug, Clone, PartialEq)]
pub struct EntityFailure {
    /// The blueprint it was sent under.
    pub blueprint: String,
    /// Its identifier as sent (a search-query identifier is its JSON text).
    pub identifier: String,
    /// Port's status for this entity; `None` when Port could not be reached.
    pub status: Option<u16>,
    /// Port's error code (e.g. `not_found`), or the client's own: `unreachable`,
    /// `unexpected_reply`, `missing_from_reply`.
    pub error: String,
    /// Port's message, or the client's description of what went wrong.
    pub message: String,
}

/// Every entity's fate in one [`PortClient::upsert_entities`] call: each one is either landed or failed.
#[derive(Debug, Default)]
pub struct UpsertReport {
    /// Entities Port created or updated.
    pub landed: Vec<Landed>,
    /// Entities Port refused or never answered for, with the reason.
    pub failed: Vec<EntityFailure>,
    /// Bulk requests sent, splits after a 413 included.
    pub requests: usize,
}

/// What [`PortClient::delete_entities`] came to, per identifier.
#[derive(Debug, Default)]
pub struct DeleteReport {
    /// Identifiers Port said it deleted.
    pub deleted: Vec<String>,
    /// Identifiers whose request failed, with the reason; they may still exist.
    pub failed: Vec<EntityFailure>,
}

/// The entity as the upsert routes take it: the blueprint is in the path.
#[derive(Serialize)]
struct EntityBody<'a> {
    identifier: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    team: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    icon: Option<&'a Value>,
    properties: &'a Map<String, Value>,
    relations: &'a Map<String, Value>,
}

impl<'a> From<&'a Entity> for EntityBody<'a> {
    fn from(e: &'a Entity) -> Self {
        EntityBody {
            identifier: &e.identifier,
            title: e.title.as_ref(),
            team: e.team.as_ref(),
            icon: e.icon.as_ref(),
            properties: &e.properties,
            relations: &e.relations,
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct BulkReply {
    #[serde(default)]
    entities: Vec<BulkLanded>,
    #[serde(default)]
    errors: Vec<BulkError>,
}

#[derive(Deserialize)]
struct BulkLanded {
    created: bool,
    identifier: String,
    index: f64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BulkError {
    index: f64,
    status_code: f64,
    error: String,
    message: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeleteReply {
    deleted_entities: Vec<String>,
}

/// One page of a search ([`PortClient::search_page`]).
pub struct SearchPage {
    /// The entities as Port returned them (only the `include`d fields, when some were asked for).
    pub entities: Vec<Value>,
    /// The cursor for the next page, to pass as `from`; `None` on the last page.
    pub next: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct SearchReply {
    #[serde(default)]
    entities: Vec<Value>,
    #[serde(default)]
    next: Option<String>,
}

fn identifier_text(identifier: &Value) -> String {
    match identifier {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl EntityFailure {
    fn from_error(blueprint: &str, identifier: String, error: &PortError) -> Self {
        let body = error.body();
        EntityFailure {
            blueprint: blueprint.to_string(),
            identifier,
            status: error.status().map(|s| s.as_u16()),
            error: match body {
                Some(b) => b.error.clone(),
                None if error.is_unexpected_reply() => "unexpected_reply".into(),
                None => "unreachable".into(),
            },
            message: body
                .map(|b| b.message.clone())
                .unwrap_or_else(|| error.to_string()),
        }
    }
}

/// Which of this integration's entities a query asks for.
#[derive(Debug, Clone, Copy, Default)]
pub struct OwnedFilter<'a> {
    /// Only those last updated before this instant (RFC 3339).
    pub updated_before: Option<&'a str>,
    /// Only these identifiers (at most 1,000: Port's page).
    pub identifiers: Option<&'a [&'a str]>,
}

impl PortClient {
    /// Upserts entities of any blueprints in bulk requests of at most the
    /// configured count and body size. A 413 splits the request in halves down
    /// to single entities; a 207's per-entity errors are reported as they are.
    /// Returns every entity's fate: `landed` (created or updated, as Port said)
    /// or `failed` (with Port's error, or `missing_from_reply`), and the bulk
    /// requests sent. Only a credentials failure (401 after a fresh token, or
    /// 403) is an `Err`.
    pub async fn upsert_entities(
        &self,
        entities: &[Entity],
        options: UpsertOptions,
    ) -> Result<UpsertReport, PortError> {
        let mut report = UpsertReport::default();
        let mut blueprints: Vec<&str> = Vec::new();
        for entity in entities {
            if !blueprints.contains(&entity.blueprint.as_str()) {
                blueprints.push(&entity.blueprint);
            }
        }
        for blueprint in blueprints {
            let members: Vec<&Entity> = entities.iter().filter(|e| e.blueprint == blueprint).collect();
            self.upsert_blueprint(blueprint, &members, options, &mut report)
                .await?;
        }
        Ok(report)
    }

    async fn upsert_blueprint(
        &self,
        blueprint: &str,
        entities: &[&Entity],
        options: UpsertOptions,
        report: &mut UpsertReport,
    ) -> Result<(), PortError> {
        let mut encoded = Vec::with_capacity(entities.len());
        for entity in entities {
            let bytes = serde_json::to_vec(&EntityBody::from(*entity))
                .map_err(|e| PortError::Setup(format!("encoding an entity: {e}")))?;
            encoded.push(bytes);
        }
        let sizes: Vec<usize> = encoded.iter().map(Vec::len).collect();
        let settings = &self.settings;
        let mut pending = plan_batches(&sizes, settings.max_bulk_entities, settings.max_body_bytes);
        pending.reverse();
        let path = api_path(&["blueprints", blueprint, "entities", "bulk"]);
        while let Some(batch) = pending.pop() {
            let body = bulk_body(batch.iter().map(|&i| encoded[i].as_slice()));
            let call = Call::new(Method::POST, path.clone())
                .query("upsert", true)
                .query("merge", options.merge)
                .query(
                    "create_missing_related_entities",
                    options.create_missing_related_entities,
                )
                .in_current_event()
                .raw_json(body);
            report.requests += 1;
            match self.send(&call).await {
                // A reply that does not read fails this request's entities, not the resync.
                Ok(reply) => match reply.json::<BulkReply>(&call) {
                    Ok(parsed) => record_bulk_reply(blueprint, &batch, entities, parsed, report),
                    Err(e) => {
                        tracing::warn!(blueprint, entities = batch.len(), "bulk upsert: {e}");
                        fail_batch(report, blueprint, &batch, entities, &e);
                    }
                },
                Err(e) if e.status().map(|s| s.as_u16()) == Some(413) && batch.len() > 1 => {
                    let (first, second) = batch.split_at(batch.len() / 2);
                    pending.push(second.to_vec());
                    pending.push(first.to_vec());
                }
                Err(e) if e.is_fatal() => return Err(e),
                Err(e) => {
                    tracing::warn!(blueprint, entities = batch.len(), "bulk upsert failed: {e}");
                    fail_batch(report, blueprint, &batch, entities, &e);
                }
            }
        }
        Ok(())
    }

    /// One entity, for live events: returns the entity as Port stored it.
    pub async fn upsert_entity(&self, entity: &Entity, options: UpsertOptions) -> Result<Value, PortError> {
        let call = Call::new(
            Method::POST,
            api_path(&["blueprints", &entity.blueprint, "entities"]),
        )
        .query("upsert", true)
        .query("merge", options.merge)
        .query(
            "create_missing_related_entities",
            options.create_missing_related_entities,
        )
        .in_current_event()
        .json(&EntityBody::from(entity))?;
        self.send_for(&call, "entity").await
    }

    /// One page of a blueprint's entities matching `query`; pass the previous
    /// page's `next` as `from`.
    pub async fn search_page(
        &self,
        blueprint: &str,
        query: &Value,
        include: &[&str],
        limit: u32,
        from: Option<&str>,
    ) -> Result<SearchPage, PortError> {
        let mut body = json!({ "query": query, "limit": limit.clamp(1, 1000) });
        if !include.is_empty() {
            body["include"] = json!(include);
        }
        if let Some(from) = from {
            body["from"] = json!(from);
        }
        let call = Call::new(
            Method::POST,
            api_path(&["blueprints", blueprint, "entities", "search"]),
        )
        .json(&body)?;
        let reply: SearchReply = self.send(&call).await?.json(&call)?;
        Ok(SearchPage {
            entities: reply.entities,
            next: reply.next.filter(|n| !n.is_empty()),
        })
    }

    /// The one query for "this integration's entities" (Port's `$datasource`
    /// is the writer's User-Agent, matched as Ocean's stale-entity search
    /// matches it), narrowed by `filter`.
    fn owned_query(&self, filter: &OwnedFilter<'_>) -> Value {
        let settings = &self.settings;
        let fragments = super::ownership::datasource_fragments(
            &settings.integration_type,
            &settings.integration_identifier,
        );
        let mut rules: Vec<Value> = fragments
            .iter()
            .map(|fragment| json!({"property": "$datasource", "operator": "contains", "value": fragment}))
            .collect();
        if let Some(before) = filter.updated_before {
            rules.push(json!({"property": "$updatedAt", "operator": "<", "value": before}));
        }
        if let Some(identifiers) = filter.identifiers {
            rules.push(json!({"property": "$identifier", "operator": "in", "value": identifiers}));
        }
        json!({"combinator": "and", "rules": rules})
    }

    /// Identifiers of the blueprint's entities this integration wrote,
    /// narrowed by `filter` (e.g. those last updated before an instant).
    pub async fn owned_identifiers(
        &self,
        blueprint: &str,
        filter: &OwnedFilter<'_>,
    ) -> Result<Vec<String>, PortError> {
        let mut identifiers = Vec::new();
        self.each_owned_page(blueprint, filter, &[], |page| {
            identifiers.extend(
                page.iter()
                    .filter_map(|e| e.get("identifier")?.as_str().map(str::to_string)),
            );
        })
        .await?;
        Ok(identifiers)
    }

    /// The blueprint's entities this integration wrote, as `owned_identifiers`
    /// finds them, each with its identifier and the properties or relations
    /// named in `include`: a page (up to 1,000 entities) at a time, so a caller
    /// that keeps a little of each never holds them all as documents.
    pub async fn each_owned_page(
        &self,
        blueprint: &str,
        filter: &OwnedFilter<'_>,
        include: &[&str],
        mut each: impl FnMut(Vec<Value>),
    ) -> Result<(), PortError> {
        let query = self.owned_query(filter);
        let mut fields = vec!["$identifier"];
        fields.extend_from_slice(include);
        let mut from: Option<String> = None;
        loop {
            let page = self
                .search_page(blueprint, &query, &fields, 1000, from.as_deref())
                .await?;
            each(page.entities);
            match page.next {
                Some(next) if from.as_deref() != Some(next.as_str()) => from = Some(next),
                _ => break,
            }
        }
        Ok(())
    }

    /// Deletes by identifier, at most 100 per request as Port allows. With
    /// `delete_dependents` false Port refuses a whole request if any entity in
    /// it has dependents; those entities are reported, the other requests go on.
    pub async fn delete_entities(
        &self,
        blueprint: &str,
        identifiers: &[String],
        delete_dependents: bool,
    ) -> Result<DeleteReport, PortError> {
        let mut report = DeleteReport::default();
        let path = api_path(&["blueprints", blueprint, "bulk", "entities", "delete"]);
        for chunk in identifiers.chunks(PORT_MAX_BULK_DELETE) {
            let call = Call::new(Method::POST, path.clone())
                .query("delete_dependents", delete_dependents)
                .in_current_event()
                .json(&json!({ "entities": chunk }))?;
            match self.send(&call).await {
                Ok(reply) => match reply.json::<DeleteReply>(&call) {
                    Ok(value) => report.deleted.extend(value.deleted_entities),
                    // Port took the request but its answer does not say what went: reported per entity.
                    Err(e) => {
                        tracing::warn!(blueprint, entities = chunk.len(), "bulk delete: {e}");
                        for identifier in chunk {
                            report
                                .failed
                                .push(EntityFailure::from_error(blueprint, identifier.clone(), &e));
                        }
                    }
                },
                Err(e) if e.is_fatal() => return Err(e),
                Err(e) => {
                    tracing::warn!(blueprint, entities = chunk.len(), "bulk delete failed: {e}");
                    for identifier in chunk {
                        report
                            .failed
                            .push(EntityFailure::from_error(blueprint, identifier.clone(), &e));
                    }
                }
            }
        }
        Ok(report)
    }
}

/// Every entity of `batch` failed with `error` (the request, not Port's reply to each).
fn fail_batch(
    report: &mut UpsertReport,
    blueprint: &str,
    batch: &[usize],
    entities: &[&Entity],
    error: &PortError,
) {
    for &i in batch {
        let identifier = identifier_text(&entities[i].identifier);
        report
            .failed
            .push(EntityFailure::from_error(blueprint, identifier, error));
    }
}

pub(crate) fn record_bulk_reply(
    blueprint: &str,
    batch: &[usize],
    entities: &[&Entity],
    reply: BulkReply,
    report: &mut UpsertReport,
) {
    let mut answered = vec![false; batch.len()];
    for landed in reply.entities {
        if let Some(seen) = answered.get_mut(landed.index as usize) {
            *seen = true;
        }
        report.landed.push(Landed {
            blueprint: blueprint.to_string(),
            identifier: landed.identifier,
            created: landed.created,
        });
    }
    for error in reply.errors {
        let position = error.index as usize;
        let Some(&member) = batch.get(position) else {
            continue;
        };
        answered[position] = true;
        report.failed.push(EntityFailure {
            blueprint: blueprint.to_string(),
            identifier: identifier_text(&entities[member].identifier),
            status: Some(error.status_code as u16),
            error: error.error,
            message: error.message,
        });
    }
    // Port answers for every entity; one it skipped is reported, not assumed landed.
    for (position, _) in answered.iter().enumerate().filter(|(_, seen)| !**seen) {
        report.failed.push(EntityFailure {
            blueprint: blueprint.to_string(),
            identifier: identifier_text(&entities[batch[position]].identifier),
            status: None,
            error: "missing_from_reply".into(),
            message: "Port's bulk reply did not mention this entity".into(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entity(identifier: &str) -> Entity {
        serde_json::from_value(json!({"identifier": identifier, "blueprint": "bp"})).expect("an entity")
    }

    fn reply(value: Value) -> BulkReply {
        serde_json::from_value(value).expect("a bulk reply")
    }

    #[test]
    fn each_entity_of_a_batch_is_counted_once_as_landed_or_failed() {
        let all = [entity("a"), entity("b"), entity("c"), entity("d")];
        let entities: Vec<&Entity> = all.iter().collect();
        // The batch sends entities 1, 2 and 3; Port's indexes are positions in the batch.
        let batch = [1, 2, 3];
        let mut report = UpsertReport::default();
        let answer = reply(json!({
            "entities": [{"created": true, "identifier": "b", "index": 0}],
            "errors": [{"index": 2, "statusCode": 422, "error": "invalid", "message": "bad d"}]
        }));
        record_bulk_reply("bp", &batch, &entities, answer, &mut report);
        let landed: Vec<_> = report
            .landed
            .iter()
            .map(|l| (l.identifier.as_str(), l.created))
            .collect();
        assert_eq!(landed, [("b", true)]);
        let failed: Vec<_> = report
            .failed
            .iter()
            .map(|f| (f.identifier.as_str(), f.status, f.error.as_str()))
            .collect();
        assert_eq!(
            failed,
            [("d", Some(422), "invalid"), ("c", None, "missing_from_reply")],
            "an error names the batch member; one Port skipped is reported, not assumed landed"
        );
    }

    #[test]
    fn indexes_outside_the_batch_are_not_counted_against_it() {
        let all = [entity("a")];
        let entities: Vec<&Entity> = all.iter().collect();
        let mut report = UpsertReport::default();
        let answer = reply(json!({
            "entities": [{"created": false, "identifier": "a", "index": 0}],
            "errors": [{"index": 7, "statusCode": 500, "error": "x", "message": "y"}]
        }));
        record_bulk_reply("bp", &[0], &entities, answer, &mut report);
        assert_eq!(report.landed.len(), 1);
        assert!(report.failed.is_empty(), "{:?}", report.failed);
    }
}
