//! Entities a resync holds back (neither written nor deleted) and why: a
//! held item, a part of a kind not read, a refused upsert. What outlives a
//! page lives here too.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::plan::{DeletionPlan, HeldPart, Kept, Key, Seen, Verdict};
use super::report::HELD_SAMPLES;
use super::{BlueprintPlan, Deferred, KindReport};
use crate::mapping::ResourceMapper;
use crate::plugin::HeldItem;
use ocean_port::EntityFailure;

/// What outlives a page.
#[derive(Default)]
pub(super) struct State {
    pub(super) seen: Seen,
    /// Why each held-back entity was held.
    pub(super) held: HashMap<Key, String>,
    /// Parts of kinds not read, with the index of their kind.
    pub(super) parts: Vec<(usize, HeldPart)>,
    pub(super) plan: BTreeMap<String, BlueprintPlan>,
    pub(super) deferred: Vec<Deferred>,
    /// Blueprints written by resources with `enableDelete: false`, with the resource's kind.
    pub(super) delete_disabled: HashMap<String, String>,
}

impl State {
    pub(super) fn hold(
        &mut self,
        report: &mut KindReport,
        blueprint: &str,
        identifier: &str,
        reason: String,
    ) {
        self.seen.add(blueprint, identifier);
        report.hold(blueprint, identifier, || reason.clone());
        self.held
            .insert((blueprint.to_string(), identifier.to_string()), reason);
    }
}

/// Port's refusal for a related entity that does not exist (yet).
pub(super) fn missing_related(failure: &EntityFailure) -> bool {
    failure.status == Some(404) && failure.message.to_ascii_lowercase().contains("related")
}

/// A refused upsert: counted, and its entity held back (neither written nor deleted).
pub(super) fn refused(report: &mut KindReport, state: &mut State, failure: &EntityFailure) {
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
pub(super) fn hold_item(
    mapper: &ResourceMapper,
    held: &HeldItem,
    report: &mut KindReport,
    state: &mut State,
) {
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
pub(super) fn hold_part(
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

/// Stale entities kept by `enableDelete: false` are counted with their resource's kind.
pub(super) fn count_delete_disabled(planned: &DeletionPlan, kinds: &mut [KindReport]) {
    for decision in &planned.decisions {
        if let Verdict::Keep(Kept::DeleteDisabled { kind }) = &decision.verdict
            && let Some(report) = kinds.iter_mut().find(|k| &k.kind == kind)
        {
            report.kept_by_enable_delete += 1;
        }
    }
}

/// Entities a held part kept are counted, and named, with the part's kind.
pub(super) fn count_part_holds(planned: &DeletionPlan, state: &State, kinds: &mut [KindReport]) {
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
