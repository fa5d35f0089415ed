//! One resync: for each kind, in config order, stream the plugin's pages, map
//! each page, upsert only what changed, and remember the identifiers produced.
//! Then, only if every kind came through whole, delete the entities this
//! integration owns that the resync no longer produced.

mod compare;
pub mod ownership;
pub mod progress;
mod stale;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::port::Entity;
use crate::port::{PortClient, PortError, UpsertOptions};
use crate::runtime::mapping::ResourceMapper;
use crate::runtime::plugin::{Delivery, HeldItem, Plugin};
use crate::runtime::port_app_config::model::PortAppConfig;
use progress::Progress;
pub use stale::Deletion;

#[derive(Debug, Default, Clone, Serialize)]
pub struct KindReport {
    pub kind: String,
    pub items: usize,
    pub entities: usize,
    /// Items the selector left out.
    pub skipped: usize,
    pub mapping_errors: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub upsert_failures: usize,
    /// Items that mapped to an identifier another item already took this resync.
    pub duplicates: usize,
    pub fetch_errors: Vec<String>,
    /// Entities neither written nor deleted this resync (a held item, a
    /// property that failed to map, a refused upsert).
    pub held: usize,
    /// The first few of them, with the reason.
    pub held_samples: Vec<HeldBack>,
    /// Items whose entity could not be told (identifier or blueprint failed
    /// to map): nothing of the kind is deleted.
    pub unidentified: usize,
    /// The source's own lines for the summary.
    pub notes: Vec<String>,
    /// The first few mapping and upsert errors, for the log.
    pub error_samples: Vec<String>,
}

/// An entity held back from this resync, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeldBack {
    pub blueprint: String,
    pub identifier: String,
    pub reason: String,
}

/// Held-back entities named in a report, per kind; the rest are counted.
const HELD_SAMPLES: usize = 20;

impl KindReport {
    /// Whether the kind's stale entities may be deleted: every part of it was
    /// fetched and every item's entity is known (written or held back).
    pub fn reconcilable(&self) -> bool {
        self.fetch_errors.is_empty() && self.unidentified == 0
    }

    /// Whether every item of the kind was fetched, mapped and written.
    pub fn complete(&self) -> bool {
        self.reconcilable() && self.mapping_errors == 0 && self.upsert_failures == 0 && self.held == 0
    }

    fn sample(&mut self, message: String) {
        if self.error_samples.len() < 5 {
            self.error_samples.push(message);
        }
    }

    /// What the kind held back and the source's notes, one line each, for the summary.
    pub fn held_back_lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.notes.clone();
        if self.held > 0 {
            lines.push(format!(
                "{} entities held back (neither written nor deleted)",
                self.held
            ));
        }
        for held in &self.held_samples {
            lines.push(format!(
                "held {} {}: {}",
                held.blueprint, held.identifier, held.reason
            ));
        }
        if self.unidentified > 0 {
            lines.push(format!(
                "{} items whose entity could not be told: nothing of this kind is deleted",
                self.unidentified
            ));
        }
        lines
    }

    fn hold(&mut self, blueprint: &str, identifier: &str, reason: impl FnOnce() -> String) {
        self.held += 1;
        if self.held_samples.len() < HELD_SAMPLES {
            self.held_samples.push(HeldBack {
                blueprint: blueprint.to_string(),
                identifier: identifier.to_string(),
                reason: reason(),
            });
        }
    }
}

/// What a dry run would do, per blueprint.
#[derive(Debug, Default, Clone, Serialize)]
pub struct BlueprintPlan {
    pub create: Vec<String>,
    pub update: Vec<String>,
    pub delete: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResyncReport {
    pub started_at: String,
    pub kinds: Vec<KindReport>,
    pub deletion: Deletion,
    /// Filled by a dry run only.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub plan: BTreeMap<String, BlueprintPlan>,
}

impl ResyncReport {
    pub fn succeeded(&self) -> bool {
        self.kinds.iter().all(KindReport::complete) && !matches!(self.deletion, Deletion::Failed { .. })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ResyncError {
    #[error("Port rejected this integration's credentials: {0}")]
    Port(#[from] PortError),
}

/// Identifiers produced by this resync, per blueprint: all that outlives a page.
#[derive(Default)]
pub struct Seen(HashMap<String, HashSet<String>>);

impl Seen {
    fn add(&mut self, blueprint: &str, identifier: String) {
        self.0
            .entry(blueprint.to_string())
            .or_default()
            .insert(identifier);
    }

    pub fn contains(&self, blueprint: &str, identifier: &str) -> bool {
        self.0.get(blueprint).is_some_and(|ids| ids.contains(identifier))
    }

    fn blueprints(&self) -> impl Iterator<Item = &String> {
        self.0.keys()
    }
}

pub struct Resync<'a> {
    pub plugin: Arc<dyn Plugin>,
    pub port: &'a PortClient,
    pub config: &'a PortAppConfig,
    /// One per resource of `config`, in the same order.
    pub mappers: &'a [ResourceMapper],
    pub progress: &'a dyn Progress,
    pub dry_run: bool,
    /// Set when the process is stopping: no further kind, and no deletion.
    pub stop: &'a std::sync::atomic::AtomicBool,
}

fn now_rfc3339() -> String {
    OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default()
}

impl Resync<'_> {
    pub async fn run(&self) -> Result<ResyncReport, ResyncError> {
        // Entities written after this instant (by live events too) are never stale.
        let started_at = now_rfc3339();
        let mut seen = Seen::default();
        let mut plan = BTreeMap::new();
        let mut kinds = Vec::new();
        let mut blueprints: Vec<String> = Vec::new();
        let stopping = || self.stop.load(std::sync::atomic::Ordering::SeqCst);
        for (resource, mapper) in self.config.resources.iter().zip(self.mappers) {
            if stopping() {
                kinds.push(KindReport {
                    kind: resource.kind.clone(),
                    fetch_errors: vec!["not fetched: the integration is shutting down".into()],
                    ..KindReport::default()
                });
                continue;
            }
            if let Some(bp) = mapper.static_blueprint()
                && !blueprints.iter().any(|b| b == bp)
            {
                blueprints.push(bp.to_string());
            }
            let selector: Map<String, Value> = resource.selector.extra.clone().into_iter().collect();
            let report = self
                .kind(&resource.kind, mapper, &selector, &mut seen, &mut plan)
                .await?;
            kinds.push(report);
        }
        for bp in seen.blueprints() {
            if !blueprints.contains(bp) {
                blueprints.push(bp.clone());
            }
        }
        let incomplete: Vec<&str> = kinds
            .iter()
            .filter(|k| !k.reconcilable())
            .map(|k| k.kind.as_str())
            .collect();
        let deletion = if stopping() {
            Deletion::Skipped {
                reason: "the integration is shutting down; nothing is deleted".into(),
            }
        } else if !incomplete.is_empty() {
            Deletion::Skipped {
                reason: format!(
                    "kind(s) {} did not come through whole (a fetch failed, or an item's entity could not be told); nothing is deleted",
                    incomplete.join(", ")
                ),
            }
        } else {
            let guard = stale::Guard {
                port: self.port,
                threshold: self.config.entity_deletion_threshold,
                delete_dependents: self.config.delete_dependent_entities,
                dry_run: self.dry_run,
            };
            guard
                .delete_stale(&blueprints, &seen, &started_at, &mut plan)
                .await?
        };
        Ok(ResyncReport {
            started_at,
            kinds,
            deletion,
            plan,
        })
    }

    async fn kind(
        &self,
        kind: &str,
        mapper: &ResourceMapper,
        selector: &Map<String, Value>,
        seen: &mut Seen,
        plan: &mut BTreeMap<String, BlueprintPlan>,
    ) -> Result<KindReport, ResyncError> {
        let mut report = KindReport {
            kind: kind.to_string(),
            ..KindReport::default()
        };
        self.progress.kind_started(kind);
        let mut pages = self.plugin.clone().fetch(kind, selector);
        while let Some(delivery) = pages.next().await {
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
                    hold_item(mapper, &held, &mut report, seen);
                    continue;
                }
            };
            report.items += items.len();
            let mut entities = Vec::new();
            for (n, item) in items.iter().enumerate() {
                let outcome = mapper.map_json(item);
                report.skipped += outcome.skipped;
                if !outcome.errors.is_empty() {
                    report.mapping_errors += 1;
                    let first = outcome
                        .errors
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ");
                    report.sample(format!("item {} of a page: {first}", n));
                    for key in &outcome.failed {
                        match key {
                            Some((blueprint, identifier)) => {
                                report.hold(blueprint, identifier, || format!("mapping failed: {first}"));
                                seen.add(blueprint, identifier.clone());
                            }
                            None => report.unidentified += 1,
                        }
                    }
                }
                entities.extend(outcome.entities);
            }
            report.entities += entities.len();
            for entity in &entities {
                if let Some(id) = entity.identifier.as_str()
                    && seen.contains(&entity.blueprint, id)
                {
                    report.duplicates += 1;
                    report.sample(format!(
                        "{} {id}: another item already mapped to this identifier; the last one wins \
                         (make the identifier unique, e.g. include the owner)",
                        entity.blueprint
                    ));
                }
            }
            self.write_page(entities, &mut report, seen, plan).await?;
            self.progress.page_done(&report);
        }
        self.progress.kind_finished(&report);
        Ok(report)
    }

    /// Upserts the page's new and changed entities; unchanged ones cost nothing.
    async fn write_page(
        &self,
        entities: Vec<Entity>,
        report: &mut KindReport,
        seen: &mut Seen,
        plan: &mut BTreeMap<String, BlueprintPlan>,
    ) -> Result<(), ResyncError> {
        let merge = self.config.enable_merge_entity;
        let existing = self.existing(&entities).await;
        let mut to_write = Vec::new();
        for entity in entities {
            let Value::String(identifier) = &entity.identifier else {
                // A search-query identifier resolves in Port; it is written every time.
                to_write.push((entity, false));
                continue;
            };
            match existing
                .as_ref()
                .map(|found| found.get(&(entity.blueprint.clone(), identifier.clone())))
            {
                Some(Some(stored)) if compare::unchanged(&entity, stored, merge) => {
                    report.unchanged += 1;
                    seen.add(&entity.blueprint, identifier.clone());
                }
                Some(Some(_)) => to_write.push((entity, true)),
                // Not found, or the lookup failed: write it; an upsert is safe either way.
                _ => to_write.push((entity, false)),
            }
        }
        if self.dry_run {
            for (entity, exists) in &to_write {
                let identifier = entity
                    .identifier
                    .as_str()
                    .map_or_else(|| entity.identifier.to_string(), String::from);
                let slot = plan.entry(entity.blueprint.clone()).or_default();
                if *exists {
                    slot.update.push(identifier.clone())
                } else {
                    slot.create.push(identifier.clone())
                }
                seen.add(&entity.blueprint, identifier);
            }
            return Ok(());
        }
        if to_write.is_empty() {
            return Ok(());
        }
        let options = UpsertOptions {
            merge,
            create_missing_related_entities: self.config.create_missing_related_entities,
        };
        let batch: Vec<Entity> = to_write.into_iter().map(|(e, _)| e).collect();
        let outcome = self.port.upsert_entities(&batch, options).await?;
        for landed in outcome.landed {
            if landed.created {
                report.created += 1
            } else {
                report.updated += 1
            }
            seen.add(&landed.blueprint, landed.identifier);
        }
        for failure in outcome.failed {
            report.upsert_failures += 1;
            report.sample(format!(
                "{} {}: {} {} {}",
                failure.blueprint,
                failure.identifier,
                failure
                    .status
                    .map_or_else(|| "unreachable".into(), |s| s.to_string()),
                failure.error,
                failure.message
            ));
            // Kept out of deletion whatever happens: a failed write is not a stale entity.
            report.hold(&failure.blueprint, &failure.identifier, || {
                format!("upsert refused: {} {}", failure.error, failure.message)
            });
            seen.add(&failure.blueprint, failure.identifier);
        }
        Ok(())
    }

    /// The page's entities as Port holds them, by (blueprint, identifier);
    /// `None` when Port could not be asked (then everything is written).
    async fn existing(&self, entities: &[Entity]) -> Option<HashMap<(String, String), Value>> {
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

/// A held item protects the entity it stands for; when the mapping cannot
/// tell which entity that is, the kind cannot be reconciled.
fn hold_item(mapper: &ResourceMapper, held: &HeldItem, report: &mut KindReport, seen: &mut Seen) {
    let outcome = mapper.map_json(&held.item);
    let mut keys: Vec<(String, String)> = Vec::new();
    // What the source could read may not pass the selector; that entity is then unknown.
    let mut unknown = outcome.skipped;
    for entity in outcome.entities {
        match entity.identifier {
            Value::String(identifier) => keys.push((entity.blueprint, identifier)),
            _ => unknown += 1,
        }
    }
    for key in outcome.failed {
        match key {
            Some(key) => keys.push(key),
            None => unknown += 1,
        }
    }
    if keys.is_empty() && unknown == 0 {
        unknown = 1;
    }
    if unknown > 0 {
        report.unidentified += unknown;
        report.sample(format!(
            "a held item ({}) maps to no entity the mapping can name; nothing of the kind is deleted",
            held.reason
        ));
    }
    for (blueprint, identifier) in keys {
        tracing::warn!(kind = %report.kind, blueprint, identifier, "held back: {}", held.reason);
        report.hold(&blueprint, &identifier, || held.reason.clone());
        seen.add(&blueprint, identifier);
    }
}
