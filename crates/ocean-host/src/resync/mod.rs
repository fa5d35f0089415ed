//! One resync: for each kind, in config order, stream the plugin's pages, map
//! each page, upsert only what changed, and remember the identifiers produced.
//! Then, only if every kind came through whole, delete the entities this
//! integration owns that the resync no longer produced.

mod compare;
pub mod deletion_plan;
pub mod held_back;
pub mod seen;
/// Whether an entity is this integration's: Port's `$datasource` rules, with the Port client.
pub use ocean_port::ownership;
pub mod plan;
pub mod progress;
mod stale;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::mapping::ResourceMapper;
use crate::plugin::{Delivery, HeldItem, Plugin};
use crate::port_app_config::model::PortAppConfig;
use ocean_port::{Entity, EntityFailure, PortClient, PortError, UpsertOptions};
use plan::{DeletionPlan, HeldPart, Kept, Key, PagePlan, Seen, Verdict};
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
    /// Parts of the kind the source could not read (e.g. one repository's
    /// commits): their entities are held back, the rest reconciles.
    pub held_parts: usize,
    /// The first few of them: what the part's entities relate to, and why.
    pub held_part_samples: Vec<String>,
    /// Items whose entity could not be told (identifier or blueprint failed
    /// to map): nothing of the kind is deleted.
    pub unidentified: usize,
    /// The source's own lines for the summary.
    pub notes: Vec<String>,
    /// The first few mapping and upsert errors, for the log.
    pub error_samples: Vec<String>,
    /// Time spent in the mapper over the kind's items (all its JQ), and the
    /// items' size as the source sent them: the mapping throughput inside a
    /// real resync.
    pub mapping_nanos: u64,
    pub item_bytes: u64,
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
        self.reconcilable()
            && self.mapping_errors == 0
            && self.upsert_failures == 0
            && self.held == 0
            && self.held_parts == 0
    }

    fn sample(&mut self, message: String) {
        if self.error_samples.len() < 5 {
            self.error_samples.push(message);
        }
    }

    /// What the kind held back and the source's notes, one line each, for the summary.
    pub fn held_back_lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.notes.clone();
        if self.held_parts > 0 {
            lines.push(format!(
                "{} part(s) not read: their entities are held back (neither written nor deleted)",
                self.held_parts
            ));
        }
        for part in &self.held_part_samples {
            lines.push(format!("held part: {part}"));
        }
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

/// What a resync did (or, in a dry run, would do), per blueprint.
#[derive(Debug, Default, Clone, Serialize)]
pub struct BlueprintPlan {
    pub create: Vec<String>,
    pub update: Vec<String>,
    pub delete: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResyncReport {
    /// When the resync began by Port's clock (its `Date` header), if Port said.
    pub started_at: String,
    pub kinds: Vec<KindReport>,
    pub deletion: Deletion,
    /// Why the resync stopped before its end (shutdown, a newer resync): it deleted nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<&'static str>,
    /// Filled by a dry run only.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub plan: BTreeMap<String, BlueprintPlan>,
    /// Every owned entity this resync did not produce, and what became of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_plan: Option<DeletionPlan>,
    /// What the resync kept to tell stale entities: (keys, heap bytes).
    pub seen_state: (usize, usize),
}

impl ResyncReport {
    pub fn succeeded(&self) -> bool {
        self.kinds.iter().all(KindReport::complete) && !matches!(self.deletion, Deletion::Failed { .. })
    }

    /// Entities held back over all kinds.
    pub fn held(&self) -> usize {
        self.kinds.iter().map(|k| k.held).sum()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ResyncError {
    #[error("Port refused this integration's credentials: {0}")]
    Credentials(PortError),
    #[error("a call to Port failed: {0}")]
    Port(PortError),
    #[error(
        "the mapping has no resources (Port's integration config lists none): nothing is fetched and nothing \
         is deleted; add resources to the integration's mapping in Port"
    )]
    EmptyMapping,
}

impl From<PortError> for ResyncError {
    fn from(error: PortError) -> Self {
        if error.is_fatal() {
            ResyncError::Credentials(error)
        } else {
            ResyncError::Port(error)
        }
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
    /// Asked before each page and before the deletion phase: once it says
    /// stop, no further page is fetched and nothing is deleted.
    pub stop: &'a dyn StopSignal,
}

/// Why a running resync should stop now, if it should (Ocean aborts a resync
/// on shutdown and when a newer one is requested).
pub trait StopSignal: Sync {
    fn stop_reason(&self) -> Option<&'static str>;
}

/// The process's shutdown flag.
impl StopSignal for std::sync::atomic::AtomicBool {
    fn stop_reason(&self) -> Option<&'static str> {
        self.load(std::sync::atomic::Ordering::SeqCst)
            .then_some("the integration is shutting down")
    }
}

/// How often a resync waiting for a page asks whether it should stop.
const STOP_POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// Resolves with the reason once `stop` says stop.
async fn stop_requested(stop: &dyn StopSignal) -> &'static str {
    loop {
        if let Some(reason) = stop.stop_reason() {
            return reason;
        }
        tokio::time::sleep(STOP_POLL).await;
    }
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

/// What outlives a page.
#[derive(Default)]
struct State {
    seen: Seen,
    /// Why each held-back entity was held.
    held: HashMap<Key, String>,
    /// Parts of kinds not read, with the index of their kind.
    parts: Vec<(usize, HeldPart)>,
    plan: BTreeMap<String, BlueprintPlan>,
    deferred: Vec<Deferred>,
}

impl State {
    fn hold(&mut self, report: &mut KindReport, blueprint: &str, identifier: &str, reason: String) {
        self.seen.add(blueprint, identifier);
        report.hold(blueprint, identifier, || reason.clone());
        self.held
            .insert((blueprint.to_string(), identifier.to_string()), reason);
    }
}

/// Port's refusal for a related entity that does not exist (yet).
fn missing_related(failure: &EntityFailure) -> bool {
    failure.status == Some(404) && failure.message.to_ascii_lowercase().contains("related")
}

impl Resync<'_> {
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
            let report = self
                .kind(kinds.len(), &resource.kind, mapper, &selector, &mut state)
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
        kind: &str,
        mapper: &ResourceMapper,
        selector: &Map<String, Value>,
        state: &mut State,
    ) -> Result<KindReport, ResyncError> {
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

/// A refused upsert: counted, and its entity held back (neither written nor deleted).
fn refused(report: &mut KindReport, state: &mut State, failure: &EntityFailure) {
    report.upsert_failures += 1;
    let status = failure
        .status
        .map_or_else(|| "unreachable".into(), |s| s.to_string());
    report.sample(format!(
        "{} {}: {status} {} {}",
        failure.blueprint, failure.identifier, failure.error, failure.message
    ));
    state.hold(
        report,
        &failure.blueprint,
        &failure.identifier,
        format!("upsert refused: {status} {} {}", failure.error, failure.message),
    );
}

/// A held item protects the entity it stands for; when the mapping cannot
/// tell which entity that is, the kind cannot be reconciled.
fn hold_item(mapper: &ResourceMapper, held: &HeldItem, report: &mut KindReport, state: &mut State) {
    let outcome = mapper.map_json(&held.item);
    let mut keys: Vec<Key> = Vec::new();
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
        state.hold(report, &blueprint, &identifier, held.reason.clone());
    }
}

/// A held part protects the owned entities of its blueprint that relate to
/// where its stand-in's relations point; when the mapping gives the stand-in
/// no relation, the kind cannot be reconciled.
fn hold_part(
    index: usize,
    mapper: &ResourceMapper,
    held: HeldItem,
    report: &mut KindReport,
    state: &mut State,
) {
    let Some((blueprint, related)) = mapper
        .relations_of(&held.item)
        .filter(|(_, related)| !related.is_empty())
    else {
        report.unidentified += 1;
        report.sample(format!(
            "a part not read ({}) maps to no relation that tells its entities; nothing of the kind is deleted",
            held.reason
        ));
        return;
    };
    let targets: Vec<String> = related.iter().map(|(name, id)| format!("{name} {id}")).collect();
    let line = format!("{blueprint} related to {}: {}", targets.join(", "), held.reason);
    tracing::warn!(kind = %report.kind, "part not read, its entities are held back: {line}");
    report.held_parts += 1;
    if report.held_part_samples.len() < HELD_SAMPLES {
        report.held_part_samples.push(line);
    }
    state.parts.push((
        index,
        HeldPart {
            blueprint,
            related,
            reason: held.reason,
        },
    ));
}

/// Entities a held part kept are counted, and named, with the part's kind.
fn count_part_holds(planned: &DeletionPlan, state: &State, kinds: &mut [KindReport]) {
    for decision in &planned.decisions {
        let Verdict::Keep(Kept::HeldBack { reason }) = &decision.verdict else {
            continue;
        };
        let key = (decision.blueprint.clone(), decision.identifier.clone());
        if state.held.contains_key(&key) {
            continue;
        }
        let part = state
            .parts
            .iter()
            .find(|(_, p)| p.blueprint == decision.blueprint && &p.reason == reason);
        if let Some(report) = part.and_then(|(index, _)| kinds.get_mut(*index)) {
            report.hold(&decision.blueprint, &decision.identifier, || reason.clone());
        }
    }
}
