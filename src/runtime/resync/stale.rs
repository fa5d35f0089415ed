//! Deleting what a resync no longer produced, and only when it is safe: the
//! caller skips this when any kind failed; here the share to delete is held
//! to `entityDeletionThreshold`, and entities written since the resync began
//! (live events) are never candidates.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{BlueprintPlan, ResyncError, Seen};
use crate::port::PortClient;

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

impl Guard<'_> {
    pub async fn delete_stale(
        &self,
        blueprints: &[String],
        seen: &Seen,
        started_at: &str,
        plan: &mut BTreeMap<String, BlueprintPlan>,
    ) -> Result<Deletion, ResyncError> {
        let mut owned = 0;
        let mut stale: Vec<(String, Vec<String>)> = Vec::new();
        for blueprint in blueprints {
            let all = match self.port.owned_identifiers(blueprint, None).await {
                Ok(all) => all,
                Err(e) if e.is_fatal() => return Err(e.into()),
                Err(e) => {
                    return Ok(Deletion::Skipped {
                        reason: format!("listing owned {blueprint} entities: {e}"),
                    });
                }
            };
            owned += all.len();
            // A dry run wrote nothing, so nothing is newer than its start.
            let before = if self.dry_run { None } else { Some(started_at) };
            let candidates = match before {
                None => all,
                Some(before) => match self.port.owned_identifiers(blueprint, Some(before)).await {
                    Ok(older) => older,
                    Err(e) if e.is_fatal() => return Err(e.into()),
                    Err(e) => {
                        return Ok(Deletion::Skipped {
                            reason: format!("listing stale {blueprint} entities: {e}"),
                        });
                    }
                },
            };
            let gone: Vec<String> = candidates
                .into_iter()
                .filter(|id| !seen.contains(blueprint, id))
                .collect();
            if !gone.is_empty() {
                stale.push((blueprint.clone(), gone));
            }
        }
        let to_delete: usize = stale.iter().map(|(_, ids)| ids.len()).sum();
        if to_delete == 0 {
            return Ok(Deletion::Done { deleted: 0, owned });
        }
        let share = to_delete as f64 / owned.max(1) as f64;
        if share > self.threshold {
            let reason = format!(
                "{to_delete} of {owned} owned entities ({:.1}%) would go, above entityDeletionThreshold {:.0}%; \
                 nothing is deleted",
                share * 100.0,
                self.threshold * 100.0
            );
            tracing::warn!("{reason}");
            return Ok(Deletion::Skipped { reason });
        }
        if self.dry_run {
            for (blueprint, ids) in stale {
                plan.entry(blueprint).or_default().delete = ids;
            }
            return Ok(Deletion::Planned {
                would_delete: to_delete,
                owned,
            });
        }
        let (mut deleted, mut failed) = (0, 0);
        for (at, (blueprint, ids)) in stale.iter().enumerate() {
            let report = match self
                .port
                .delete_entities(blueprint, ids, self.delete_dependents)
                .await
            {
                Ok(report) => report,
                // Some entities may already be gone: the deletion failed part way, which the report says.
                Err(e) => {
                    tracing::error!(blueprint, "deleting stale entities stopped: {e}");
                    failed += stale[at..].iter().map(|(_, ids)| ids.len()).sum::<usize>();
                    break;
                }
            };
            deleted += report.deleted.len();
            failed += report.failed.len();
            for failure in report.failed.iter().take(5) {
                tracing::warn!(blueprint, identifier = %failure.identifier, "delete refused: {} {}", failure.error, failure.message);
            }
        }
        tracing::info!(deleted, owned, "stale entities deleted");
        Ok(if failed > 0 {
            Deletion::Failed { deleted, failed }
        } else {
            Deletion::Done { deleted, owned }
        })
    }
}
