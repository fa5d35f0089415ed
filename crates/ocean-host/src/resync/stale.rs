//! Deleting what a resync no longer produced, and only when it is safe: the
//! caller skips this when any kind failed. Here every blueprint is searched
//! for entities this integration owns (as Ocean searches by data source, so
//! a resource removed from the mapping leaves nothing behind), the pure
//! planner decides each one's fate, and the deletes go dependents first.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use serde_json::Value;

use super::deletion_plan::{DeletionPlan, DeletionPlanner, OwnedEntity};
use super::plan::{HeldPart, Key, Seen};
use super::{BlueprintPlan, ResyncError};
use ocean_port::{OwnedFilter, PortClient, PortError};

/// What a resync's deletion phase came to (in the report's JSON, tagged by `outcome`).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum Deletion {
    /// Nothing was deleted: a kind was incomplete, a read failed, or the plan was refused.
    Skipped {
        /// Why, for the summary.
        reason: String,
    },
    /// Every planned delete went through.
    Done {
        /// Entities deleted.
        deleted: usize,
        /// Entities this integration owned in Port before the deletions.
        owned: usize,
    },
    /// Port refused some deletes; the rest went through.
    Failed {
        /// Entities deleted.
        deleted: usize,
        /// Deletes refused, or not attempted after a request failed.
        failed: usize,
    },
    /// A dry run: what would go.
    Planned {
        /// Entities that would be deleted.
        would_delete: usize,
        /// Entities this integration owns in Port.
        owned: usize,
    },
}

pub struct Guard<'a> {
    pub port: &'a PortClient,
    pub threshold: f64,
    pub delete_dependents: bool,
    pub dry_run: bool,
    /// Blueprints whose stale entities stay (`enableDelete: false`), with the resource's kind.
    pub delete_disabled: HashMap<String, String>,
}

/// A blueprint's relations: name -> target blueprint.
fn relation_targets(blueprint: &Value) -> HashMap<String, String> {
    blueprint
        .get("relations")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(name, spec)| {
            let target = spec.get("target")?.as_str()?;
            Some((name.clone(), target.to_string()))
        })
        .collect()
}

/// Where an entity's relations (as Port's search returns them) point.
fn relates_to<'a>(entity: &'a Value, targets: &'a HashMap<String, String>) -> Vec<(&'a str, &'a str)> {
    let mut out = Vec::new();
    let relations = entity.get("relations").and_then(Value::as_object);
    for (name, value) in relations.into_iter().flatten() {
        let Some(target) = targets.get(name) else {
            continue;
        };
        match value {
            Value::String(id) => out.push((target.as_str(), id.as_str())),
            Value::Array(ids) => out.extend(
                ids.iter()
                    .filter_map(Value::as_str)
                    .map(|id| (target.as_str(), id)),
            ),
            _ => {}
        }
    }
    out
}

/// Whether Port last wrote the entity before `cutoff`, by its `updatedAt`.
/// Unknown (no date, or none Port could give) counts as written since: such
/// an entity is never stale.
fn written_before(entity: &Value, cutoff: Option<jiff::Timestamp>) -> bool {
    let updated = entity
        .get("updatedAt")
        .and_then(Value::as_str)
        .and_then(|at| at.parse::<jiff::Timestamp>().ok());
    matches!((updated, cutoff), (Some(updated), Some(cutoff)) if updated < cutoff)
}

impl Guard<'_> {
    /// Reads what this integration owns in Port, plans, and deletes (or, in
    /// a dry run, records the plan). Any read that fails skips the deletion.
    /// Owned entities that belong to a held part are held back with it.
    pub async fn delete_stale(
        &self,
        mapped: &HashSet<String>,
        seen: &Seen,
        held: &HashMap<Key, String>,
        parts: &[HeldPart],
        cutoff: &str,
        report_plan: &mut BTreeMap<String, BlueprintPlan>,
    ) -> Result<(Deletion, Option<DeletionPlan>), ResyncError> {
        let skipped = |what: &str, e: &PortError| Deletion::Skipped {
            reason: format!("{what}: {e}; nothing is deleted"),
        };
        let blueprints = match self.port.list_blueprints().await {
            Ok(blueprints) => blueprints,
            Err(e) if e.is_fatal() => return Err(e.into()),
            Err(e) => return Ok((skipped("listing Port's blueprints", &e), None)),
        };
        let cutoff_at: Option<jiff::Timestamp> = cutoff.parse().ok();
        let mut planner = DeletionPlanner::new(seen, held, mapped, self.threshold)
            .with_delete_disabled(self.delete_disabled.clone());
        // Targets first, so a kept entity's relation finds its target already decided.
        let ordered = ocean_port::order_by_relations(&blueprints);
        for blueprint in &ordered {
            let Some(name) = blueprint.get("identifier").and_then(Value::as_str) else {
                continue;
            };
            let targets = relation_targets(blueprint);
            // A part told by relations the blueprint lacks could not be found among its entities.
            if let Some(part) = parts
                .iter()
                .find(|p| p.blueprint == name && !p.related.iter().any(|(r, _)| targets.contains_key(r)))
            {
                let reason = format!(
                    "a held part of {name} ({}) relates through relations the blueprint does not have, so its \
                     entities cannot be told; nothing is deleted",
                    part.reason
                );
                return Ok((Deletion::Skipped { reason }, None));
            }
            let mut fields: Vec<&str> = vec!["$updatedAt"];
            fields.extend(targets.keys().map(String::as_str));
            // Page by page: each entity is decided as it passes, never held as a document.
            let listed = self
                .port
                .each_owned_page(name, &OwnedFilter::default(), &fields, |page| {
                    for entity in &page {
                        let Some(id) = entity.get("identifier").and_then(Value::as_str) else {
                            continue;
                        };
                        let relations = entity.get("relations").and_then(Value::as_object);
                        let held_with_part = parts
                            .iter()
                            .find(|p| p.holds(name, relations))
                            .map(|p| p.reason.as_str());
                        planner.add(&OwnedEntity {
                            blueprint: name,
                            identifier: id,
                            before_cutoff: written_before(entity, cutoff_at),
                            relates_to: relates_to(entity, &targets),
                            held_with_part,
                        });
                    }
                })
                .await;
            match listed {
                Ok(()) => planner.blueprint_done(name),
                Err(e) if e.is_fatal() => return Err(e.into()),
                Err(e) => return Ok((skipped(&format!("listing owned {name} entities"), &e), None)),
            }
        }
        let plan = planner.finish();
        let deletion = self.apply(&plan, &blueprints, report_plan).await?;
        Ok((deletion, Some(plan)))
    }

    async fn apply(
        &self,
        plan: &DeletionPlan,
        blueprints: &[Value],
        report_plan: &mut BTreeMap<String, BlueprintPlan>,
    ) -> Result<Deletion, ResyncError> {
        if let Some(reason) = &plan.refused {
            tracing::warn!("{reason}");
            return Ok(Deletion::Skipped {
                reason: reason.clone(),
            });
        }
        let to_delete = plan.to_delete();
        let total = plan.deletions();
        if self.dry_run {
            for (blueprint, ids) in &to_delete {
                report_plan.entry(blueprint.to_string()).or_default().delete =
                    ids.iter().map(|id| id.to_string()).collect();
            }
            return Ok(Deletion::Planned {
                would_delete: total,
                owned: plan.owned,
            });
        }
        if total == 0 {
            return Ok(Deletion::Done {
                deleted: 0,
                owned: plan.owned,
            });
        }
        // Dependents first, so a delete never waits on (or cascades from) its target.
        let mut order: Vec<String> = ocean_port::order_by_relations(blueprints)
            .iter()
            .filter_map(|b| b.get("identifier").and_then(Value::as_str).map(String::from))
            .collect();
        order.reverse();
        let mut batches: Vec<(&str, Vec<String>)> = Vec::new();
        for blueprint in &order {
            if let Some(ids) = to_delete.get(blueprint.as_str()) {
                batches.push((blueprint, ids.iter().map(|id| id.to_string()).collect()));
            }
        }
        let (mut deleted, mut failed) = (0, 0);
        for (at, (blueprint, ids)) in batches.iter().enumerate() {
            let report = match self
                .port
                .delete_entities(blueprint, ids, self.delete_dependents)
                .await
            {
                Ok(report) => report,
                // Some entities may already be gone: the deletion failed part way, which the report says.
                Err(e) => {
                    tracing::error!(blueprint, "deleting stale entities stopped: {e}");
                    failed += batches[at..].iter().map(|(_, ids)| ids.len()).sum::<usize>();
                    break;
                }
            };
            deleted += report.deleted.len();
            failed += report.failed.len();
            for failure in report.failed.iter().take(5) {
                tracing::warn!(blueprint, identifier = %failure.identifier, "delete refused: {} {}", failure.error, failure.message);
            }
        }
        tracing::info!(deleted, owned = plan.owned, "stale entities deleted");
        Ok(if failed > 0 {
            Deletion::Failed { deleted, failed }
        } else {
            Deletion::Done {
                deleted,
                owned: plan.owned,
            }
        })
    }
}
