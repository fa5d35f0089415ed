//! One resync: for each kind, in config order, stream the plugin's pages, map
//! each page, upsert only what changed, and remember the identifiers produced.
//! Then, only if every kind came through whole, delete the entities this
//! integration owns that the resync no longer produced.

//!
//! Files: `report` (what a resync did, per kind), `holds` (entities held
//! back and why), `stop` (when a running resync stops), `plan` and
//! `deletion_plan` (the pure decisions), `seen` (what it produced, compact),
//! `stale` (the guarded deletion), `held_back` (the report sent to Port).

mod compare;
pub mod deletion_plan;
pub mod held_back;
mod holds;
pub mod plan;
pub mod progress;
mod report;
pub mod seen;
mod stale;
mod stop;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use serde_json::{Map, Value, json};

use crate::mapping::ResourceMapper;
use crate::plugin::{Delivery, Plugin};
use crate::port_app_config::model::{PortAppConfig, ResourceConfig};
use holds::{State, count_delete_disabled, count_part_holds, hold_item, hold_part, missing_related, refused};
use ocean_port::{Entity, PortClient, UpsertOptions};
use plan::{HeldPart, Key, PagePlan};
use progress::Progress;
pub use report::{BlueprintPlan, HeldBack, KindReport, ResyncError, ResyncReport};
pub use stale::Deletion;
pub use stop::StopSignal;
use stop::stop_requested;

/// One resync, ready to [`run`](Resync::run): everything it reads and writes, borrowed.
pub struct Resync<'a> {
    /// The source of the raw items.
    pub plugin: Arc<dyn Plugin>,
    /// Where the entities are written and the owned ones read for deletion.
    pub port: &'a PortClient,
    /// The mapping's settings and resources (its kinds, in order).
    pub config: &'a PortAppConfig,
    /// One per resource of `config`, in the same order.
    pub mappers: &'a [ResourceMapper],
    /// Told as each kind starts, after each page, and as each kind ends.
    pub progress: &'a dyn Progress,
    /// Write nothing: fill the report's `plan` with what would be created, updated and deleted.
    pub dry_run: bool,
    /// Asked before each page and before the deletion phase: once it says
    /// stop, no further page is fetched and nothing is deleted.
    pub stop: &'a dyn StopSignal,
}

fn rfc3339(at: SystemTime) -> String {
    jiff::Timestamp::try_from(at)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// An upsert refused because an entity it relates to does not exist yet:
/// tried once more after everything else.
struct Deferred {
    kind: usize,
    entity: Entity,
}

impl Resync<'_> {
    /// Runs the resync to its end (or until `stop` says stop) and reports what it did. Per-entity
    /// failures are in the report; `Err` when the mapping is empty, Port refuses the credentials,
    /// or a request cannot be sent at all.
    pub async fn run(&self) -> Result<ResyncReport, ResyncError> {
        // With no resources every owned entity would look stale: refuse, as Ocean does.
        if self.config.resources.is_empty() {
            return Err(ResyncError::EmptyMapping);
        }
        // Port's clock, not the host's, says what was written before this resync:
        // entities written after this instant (by live events too) are never stale.
        let blueprints_at_start = match self.port.list_blueprints().await {
            Ok(blueprints) => blueprints,
            Err(e) if e.is_fatal() => return Err(e.into()),
            Err(e) => {
                tracing::warn!("reading Port's blueprints at the start of the resync: {e}");
                Vec::new()
            }
        };
        let cutoff = self.port.port_time();
        let started_at = cutoff.map(rfc3339).unwrap_or_default();
        let mut state = State::default();
        let mut kinds = Vec::new();
        let mut mapped: HashSet<String> = HashSet::new();
        for (resource, mapper) in self.config.resources.iter().zip(self.mappers) {
            if let Some(reason) = self.stop.stop_reason() {
                kinds.push(KindReport {
                    kind: resource.kind.clone(),
                    fetch_errors: vec![format!("not fetched: {reason}")],
                    ..KindReport::default()
                });
                continue;
            }
            if let Some(bp) = mapper.static_blueprint() {
                mapped.insert(bp.to_string());
            }
            let selector: Map<String, Value> = resource.selector.extra.clone().into_iter().collect();
            if !resource.enable_delete
                && let Some(bp) = mapper.static_blueprint()
            {
                state
                    .delete_disabled
                    .entry(bp.to_string())
                    .or_insert_with(|| resource.kind.clone());
            }
            let report = self
                .kind(kinds.len(), resource, mapper, &selector, &mut state)
                .await?;
            kinds.push(report);
        }
        if !state.deferred.is_empty() {
            self.retry_deferred(&blueprints_at_start, &mut kinds, &mut state)
                .await?;
        }
        mapped.extend(state.seen.blueprints().cloned());
        let incomplete: Vec<&str> = kinds
            .iter()
            .filter(|k| !k.reconcilable())
            .map(|k| k.kind.as_str())
            .collect();
        let mut deletion_plan = None;
        // A stop is for good, so asking once more tells whether one came at any point.
        let stopped = self.stop.stop_reason();
        let deletion = if let Some(reason) = stopped {
            Deletion::Skipped {
                reason: format!("{reason}; nothing is deleted"),
            }
        } else if !incomplete.is_empty() {
            Deletion::Skipped {
                reason: format!(
                    "kind(s) {} did not come through whole (a fetch failed, or an item's entity could not be told); \
                     nothing is deleted",
                    incomplete.join(", ")
                ),
            }
        } else if let Some(cutoff) = cutoff {
            let guard = stale::Guard {
                port: self.port,
                threshold: self.config.entity_deletion_threshold,
                delete_dependents: self.config.delete_dependent_entities,
                dry_run: self.dry_run,
                delete_disabled: state.delete_disabled.clone(),
            };
            let parts: Vec<HeldPart> = state.parts.iter().map(|(_, part)| part.clone()).collect();
            let (deletion, planned) = guard
                .delete_stale(
                    &mapped,
                    &state.seen,
                    &state.held,
                    &parts,
                    &rfc3339(cutoff),
                    &mut state.plan,
                )
                .await?;
            if let Some(planned) = &planned {
                count_part_holds(planned, &state, &mut kinds);
                count_delete_disabled(planned, &mut kinds);
            }
            deletion_plan = planned;
            deletion
        } else {
            Deletion::Skipped {
                reason: "Port's replies carried no Date header, so what was written before this resync is \
                         unknown; nothing is deleted"
                    .into(),
            }
        };
        Ok(ResyncReport {
            started_at,
            kinds,
            deletion,
            stopped,
            seen_state: (state.seen.len(), state.seen.heap_bytes()),
            plan: state.plan,
            deletion_plan,
        })
    }

    async fn kind(
        &self,
        index: usize,
        resource: &ResourceConfig,
        mapper: &ResourceMapper,
        selector: &Map<String, Value>,
        state: &mut State,
    ) -> Result<KindReport, ResyncError> {
        let kind = resource.kind.as_str();
        let mut report = KindReport {
            kind: kind.to_string(),
            ..KindReport::default()
        };
        self.progress.kind_started(kind);
        let mut pages = self.plugin.clone().fetch(kind, selector);
        loop {
            // A stop is heard while the next page is still being read, not only once it arrives.
            let delivery = tokio::select! {
                delivery = pages.next() => delivery,
                reason = stop_requested(self.stop) => {
                    report.fetch_errors.push(format!("stopped part-way: {reason}"));
                    break;
                }
            };
            let Some(delivery) = delivery else { break };
            if let Some(reason) = self.stop.stop_reason() {
                report.fetch_errors.push(format!("stopped part-way: {reason}"));
                break;
            }
            let items = match delivery {
                Delivery::Page(items) => items,
                Delivery::Incomplete(e) => {
                    tracing::warn!(kind, "{e}");
                    report.fetch_errors.push(e.to_string());
                    continue;
                }
                Delivery::Note(note) => {
                    tracing::info!(kind, "{note}");
                    report.notes.push(note);
                    continue;
                }
                Delivery::Held(held) => {
                    hold_item(mapper, &held, &mut report, state);
                    continue;
                }
                Delivery::HeldPart(held) => {
                    hold_part(index, mapper, held, &mut report, state);
                    continue;
                }
            };
            report.items += items.len();
            let mut entities = Vec::new();
            for (n, item) in items.iter().enumerate() {
                let started = Instant::now();
                let outcome = mapper.map_raw(item.raw());
                report.mapping_nanos += started.elapsed().as_nanos() as u64;
                report.item_bytes += item.get().len() as u64;
                report.skipped += outcome.skipped;
                if !outcome.errors.is_empty() {
                    report.mapping_errors += 1;
                    let first = outcome
                        .errors
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ");
                    report.sample(format!("item {n} of a page: {first}"));
                    for key in &outcome.failed {
                        match key {
                            Some((blueprint, identifier)) => state.hold(
                                &mut report,
                                blueprint,
                                identifier,
                                format!("mapping failed: {first}"),
                            ),
                            None => report.unidentified += 1,
                        }
                    }
                }
                entities.extend(outcome.entities);
            }
            if !resource.enable_delete {
                // A computed blueprint is known only from what the resource wrote.
                for entity in &entities {
                    if !state.delete_disabled.contains_key(&entity.blueprint) {
                        state
                            .delete_disabled
                            .insert(entity.blueprint.clone(), kind.to_string());
                    }
                }
            }
            report.entities += entities.len();
            let existing = self.existing(&entities).await;
            let page = plan::plan_page(
                entities,
                existing.as_ref(),
                &state.seen,
                self.config.enable_merge_entity,
            );
            self.apply_page(index, page, &mut report, state).await?;
            self.progress.page_done(&report);
        }
        self.progress.kind_finished(&report);
        Ok(report)
    }

    fn options(&self) -> UpsertOptions {
        UpsertOptions {
            merge: self.config.enable_merge_entity,
            create_missing_related_entities: self.config.create_missing_related_entities,
        }
    }

    /// Writes the page's new and changed entities (a dry run records them instead).
    async fn apply_page(
        &self,
        index: usize,
        page: PagePlan,
        report: &mut KindReport,
        state: &mut State,
    ) -> Result<(), ResyncError> {
        for (blueprint, identifier) in &page.duplicates {
            report.duplicates += 1;
            report.sample(format!(
                "{blueprint} {identifier}: another item already mapped to this identifier; the last one wins \
                 (make the identifier unique, e.g. include the owner)"
            ));
        }
        for (blueprint, identifier) in page.unchanged {
            report.unchanged += 1;
            state.seen.add(&blueprint, &identifier);
        }
        if self.dry_run {
            for (entities, create) in [(&page.create, true), (&page.update, false)] {
                for entity in entities {
                    let identifier = entity
                        .identifier
                        .as_str()
                        .map_or_else(|| entity.identifier.to_string(), String::from);
                    let slot = state.plan.entry(entity.blueprint.clone()).or_default();
                    if create {
                        slot.create.push(identifier.clone());
                    } else {
                        slot.update.push(identifier.clone());
                    }
                    state.seen.add(&entity.blueprint, &identifier);
                }
            }
            return Ok(());
        }
        let mut batch = page.create;
        batch.extend(page.update);
        if batch.is_empty() {
            return Ok(());
        }
        let outcome = self.port.upsert_entities(&batch, self.options()).await?;
        for landed in outcome.landed {
            if landed.created {
                report.created += 1
            } else {
                report.updated += 1
            }
            state.seen.add(&landed.blueprint, &landed.identifier);
        }
        for failure in outcome.failed {
            // Kept out of deletion whatever happens: a failed write is not a stale entity.
            state.seen.add(&failure.blueprint, &failure.identifier);
            if missing_related(&failure)
                && let Some(entity) = batch.iter().find(|e| {
                    e.blueprint == failure.blueprint && e.identifier.as_str() == Some(&failure.identifier)
                })
            {
                state.deferred.push(Deferred {
                    kind: index,
                    entity: entity.clone(),
                });
                continue;
            }
            refused(report, state, &failure);
        }
        Ok(())
    }

    /// Upserts refused for a related entity that did not exist yet, once more,
    /// blueprints whose entities others relate to first.
    async fn retry_deferred(
        &self,
        blueprints: &[Value],
        kinds: &mut [KindReport],
        state: &mut State,
    ) -> Result<(), ResyncError> {
        let order: Vec<String> = ocean_port::order_by_relations(blueprints)
            .iter()
            .filter_map(|b| b.get("identifier").and_then(Value::as_str).map(String::from))
            .collect();
        let rank = |blueprint: &str| order.iter().position(|b| b == blueprint).unwrap_or(usize::MAX);
        let mut deferred = std::mem::take(&mut state.deferred);
        deferred.sort_by_key(|d| rank(&d.entity.blueprint));
        tracing::info!(
            entities = deferred.len(),
            "retrying upserts refused for a related entity that did not exist yet"
        );
        for group in deferred.chunk_by(|a, b| a.entity.blueprint == b.entity.blueprint) {
            let entities: Vec<Entity> = group.iter().map(|d| d.entity.clone()).collect();
            let outcome = self.port.upsert_entities(&entities, self.options()).await?;
            let kind_of = |blueprint: &str, identifier: &str| {
                group
                    .iter()
                    .find(|d| {
                        d.entity.blueprint == blueprint && d.entity.identifier.as_str() == Some(identifier)
                    })
                    .map_or(0, |d| d.kind)
            };
            for landed in outcome.landed {
                let Some(report) = kinds.get_mut(kind_of(&landed.blueprint, &landed.identifier)) else {
                    continue;
                };
                if landed.created {
                    report.created += 1
                } else {
                    report.updated += 1
                }
            }
            for failure in outcome.failed {
                if let Some(report) = kinds.get_mut(kind_of(&failure.blueprint, &failure.identifier)) {
                    refused(report, state, &failure);
                }
            }
        }
        Ok(())
    }

    /// The page's entities as Port holds them, by (blueprint, identifier);
    /// `None` when Port could not be asked (then everything is written).
    async fn existing(&self, entities: &[Entity]) -> Option<HashMap<Key, Value>> {
        let mut by_blueprint: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for entity in entities {
            if let Some(id) = entity.identifier.as_str() {
                by_blueprint.entry(&entity.blueprint).or_default().push(id);
            }
        }
        let mut found = HashMap::new();
        for (blueprint, identifiers) in by_blueprint {
            for chunk in identifiers.chunks(1000) {
                let query = json!({"combinator": "and",
                    "rules": [{"property": "$identifier", "operator": "in", "value": chunk}]});
                match self.port.search_page(blueprint, &query, &[], 1000, None).await {
                    Ok(page) => {
                        for entity in page.entities {
                            if let Some(id) = entity.get("identifier").and_then(Value::as_str) {
                                found.insert((blueprint.to_string(), id.to_string()), entity.clone());
                            }
                        }
                    }
                    // No such blueprint yet: none of its entities exist.
                    Err(e) if e.status().map(|s| s.as_u16()) == Some(404) => {}
                    Err(e) => {
                        tracing::warn!(
                            blueprint,
                            "looking up existing entities failed, writing them all: {e}"
                        );
                        return None;
                    }
                }
            }
        }
        Some(found)
    }
}
