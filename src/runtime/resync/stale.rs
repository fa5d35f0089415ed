//! Deleting what a resync no longer produced, and only when it is safe: the
//! caller skips this when any kind failed. Here every blueprint is searched
//! for entities this integration owns (as Ocean searches by data source, so
//! a resource removed from the mapping leaves nothing behind), the pure
//! planner decides each one's fate, and the deletes go dependents first.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use serde_json::Value;

use super::plan::{self, DeletionInput, DeletionPlan, HeldPart, Key, Owned, Seen};
use super::{BlueprintPlan, ResyncError};
use crate::port::{PortClient, PortError};

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum Deletion {
    Skipped {
        reason: String,
    },
    Done {
        deleted: usize,
        owned: usize,
    },
    /// Port refused some deletes; the rest went through.
    Failed {
        deleted: usize,
        failed: usize,
    },
    /// A dry run: what would go.
    Planned {
        would_delete: usize,
        owned: usize,
    },
}

pub struct Guard<'a> {
    pub port: &'a PortClient,
    pub threshold: f64,
    pub delete_dependents: bool,
    pub dry_run: bool,
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
fn relates_to(entity: &Value, targets: &HashMap<String, String>) -> Vec<Key> {
    let mut out = Vec::new();
    let relations = entity.get("relations").and_then(Value::as_object);
    for (name, value) in relations.into_iter().flatten() {
        let Some(target) = targets.get(name) else {
            continue;
        };
        let ids: Vec<&str> = match value {
            Value::String(id) => vec![id.as_str()],
            Value::Array(ids) => ids.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        out.extend(ids.into_iter().map(|id| (target.clone(), id.to_string())));
    }
    out
}

fn identifier(entity: &Value) -> Option<String> {
    entity.get("identifier")?.as_str().map(String::from)
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
        let mut owned: Vec<Owned> = Vec::new();
        let mut held = held.clone();
        for blueprint in &blueprints {
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
            let relation_names: Vec<&str> = targets.keys().map(String::as_str).collect();
            // Page by page: each entity is kept as its key and relations only,
            // never the whole owned set as documents.
            let first = owned.len();
            let listed = self
                .port
                .each_owned_page(name, None, &relation_names, |page| {
                    for entity in &page {
                        let Some(id) = identifier(entity) else {
                            continue;
                        };
                        let key = (name.to_string(), id);
                        let relations = entity.get("relations").and_then(Value::as_object);
                        if let Some(part) = parts.iter().find(|p| p.holds(name, relations)) {
                            held.entry(key.clone()).or_insert_with(|| part.reason.clone());
                        }
                        owned.push(Owned {
                            before_cutoff: false,
                            relates_to: relates_to(entity, &targets),
                            key,
                        });
                    }
                })
                .await;
            match listed {
                Ok(()) => {}
                Err(e) if e.is_fatal() => return Err(e.into()),
                Err(e) => return Ok((skipped(&format!("listing owned {name} entities"), &e), None)),
            }
            if owned.len() == first {
                continue;
            }
            let older: HashSet<String> = match self.port.owned_identifiers(name, Some(cutoff)).await {
                Ok(older) => older.into_iter().collect(),
                Err(e) if e.is_fatal() => return Err(e.into()),
                Err(e) => return Ok((skipped(&format!("listing stale {name} entities"), &e), None)),
            };
            for entity in &mut owned[first..] {
                entity.before_cutoff = older.contains(&entity.key.1);
            }
        }
        let plan = plan::plan_deletion(&DeletionInput {
            owned: &owned,
            seen,
            held: &held,
            mapped_blueprints: mapped,
            threshold: self.threshold,
        });
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
        let mut order: Vec<String> = crate::port::order_by_relations(blueprints)
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
