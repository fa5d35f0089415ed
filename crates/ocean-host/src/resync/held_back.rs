//! What a resync held back and why, in one small object: the part of the
//! resync state it sends to Port, so the reasons are in Port beside the
//! status and not only in the log. Bounded, whatever the catalog's size.

use serde::Serialize;

use super::plan::{Kept, Verdict};
use super::{Deletion, ResyncReport};

/// Entities named per list; the rest are counted.
const NAMED: usize = 20;
/// Reasons named per incomplete kind.
const REASONS: usize = 5;
/// Longest reason kept, in characters.
const REASON_CHARS: usize = 300;

/// One entity neither written nor deleted, or kept from deletion, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntityReason {
    /// The kind whose resource produced it; `None` for an entity kept from deletion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Its blueprint.
    pub blueprint: String,
    /// Its identifier.
    pub identifier: String,
    /// Why, cut to 300 characters.
    pub reason: String,
}

/// A kind that did not come through whole, so nothing was deleted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncompleteKind {
    /// The resource's kind.
    pub kind: String,
    /// Its fetch errors (and unidentified items), at most 5, each cut to 300 characters.
    pub reasons: Vec<String>,
}

/// What a resync held back and why, bounded (20 names per list) whatever the catalog's size:
/// sent to Port with the resync's state, so the reasons show beside the status.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeldBackReport {
    /// Entities neither written nor deleted this resync.
    pub entities: usize,
    /// The first of them, with their kind and reason.
    pub samples: Vec<EntityReason>,
    /// Parts of kinds the source could not read (e.g. one repository's
    /// commits), whose entities are held back.
    pub held_parts: usize,
    /// The first of them: kind, what the part's entities relate to, and why.
    pub part_samples: Vec<String>,
    /// Kinds whose fetch failed or whose items' entities could not be told.
    pub incomplete_kinds: Vec<IncompleteKind>,
    /// Why nothing was deleted, when the deletion was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_skipped: Option<String>,
    /// Owned entities not produced by this resync that stayed (a live
    /// event wrote them since it began, or a kept entity relates to them).
    pub kept_from_deletion: usize,
    /// The first of those, with the reason.
    pub kept_samples: Vec<EntityReason>,
    /// The resync failed before reconciling at all (a mapping that does not
    /// load, an empty mapping, Port unreachable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

fn clip(text: &str) -> String {
    match text.char_indices().nth(REASON_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

impl HeldBackReport {
    /// What `report` held back, and why.
    pub fn of(report: &ResyncReport) -> HeldBackReport {
        let mut held = HeldBackReport::default();
        for kind in &report.kinds {
            held.entities += kind.held;
            let room = NAMED.saturating_sub(held.samples.len());
            held.samples
                .extend(kind.held_samples.iter().take(room).map(|h| EntityReason {
                    kind: Some(kind.kind.clone()),
                    blueprint: h.blueprint.clone(),
                    identifier: h.identifier.clone(),
                    reason: clip(&h.reason),
                }));
            held.held_parts += kind.held_parts;
            let room = NAMED.saturating_sub(held.part_samples.len());
            held.part_samples.extend(
                kind.held_part_samples
                    .iter()
                    .take(room)
                    .map(|part| clip(&format!("{}: {part}", kind.kind))),
            );
            if !kind.reconcilable() {
                let mut reasons: Vec<String> = kind.fetch_errors.iter().map(|e| clip(e)).collect();
                if kind.unidentified > 0 {
                    reasons.push(format!(
                        "{} items whose entity could not be told (identifier or blueprint failed to map)",
                        kind.unidentified
                    ));
                }
                reasons.truncate(REASONS);
                held.incomplete_kinds.push(IncompleteKind {
                    kind: kind.kind.clone(),
                    reasons,
                });
            }
        }
        if let Deletion::Skipped { reason } = &report.deletion {
            held.deletion_skipped = Some(clip(reason));
        }
        let kept = report.deletion_plan.iter().flat_map(|plan| {
            plan.decisions.iter().filter_map(|d| {
                let reason = match &d.verdict {
                    Verdict::Keep(Kept::WrittenSince) => "written since this resync began".to_string(),
                    Verdict::Keep(Kept::RelatedTo {
                        blueprint,
                        identifier,
                    }) => format!("{blueprint} {identifier}, which stays, relates to it"),
                    Verdict::Keep(Kept::DeleteDisabled { kind }) => {
                        format!("stale, but resource {kind} has enableDelete: false")
                    }
                    // Held-back entities are listed above; deletions are not held back.
                    _ => return None,
                };
                Some(EntityReason {
                    kind: None,
                    blueprint: d.blueprint.clone(),
                    identifier: d.identifier.clone(),
                    reason,
                })
            })
        });
        for entity in kept {
            held.kept_from_deletion += 1;
            if held.kept_samples.len() < NAMED {
                held.kept_samples.push(entity);
            }
        }
        held
    }

    /// A resync that failed before it could reconcile.
    pub fn failed(error: &str) -> HeldBackReport {
        HeldBackReport {
            failure: Some(clip(error)),
            deletion_skipped: Some("the resync failed; nothing is deleted".into()),
            ..HeldBackReport::default()
        }
    }

    /// Whether there is anything to say.
    pub fn is_empty(&self) -> bool {
        *self == HeldBackReport::default()
    }
}

#[cfg(test)]
mod tests {
    use super::super::plan::{Decision, DeletionPlan, Dropped};
    use super::super::{HeldBack as Held, KindReport};
    use super::*;

    fn report(kinds: Vec<KindReport>, deletion: Deletion, plan: Option<DeletionPlan>) -> ResyncReport {
        ResyncReport {
            started_at: String::new(),
            kinds,
            deletion,
            plan: Default::default(),
            deletion_plan: plan,
            stopped: None,
            seen_state: (0, 0),
        }
    }

    #[test]
    fn names_held_entities_incomplete_kinds_and_the_skipped_deletion() {
        let coverage = KindReport {
            kind: "coverage".into(),
            held: 1,
            held_samples: vec![Held {
                blueprint: "service_coverage".into(),
                identifier: "github/o/r".into(),
                reason: "403: not activated".into(),
            }],
            ..KindReport::default()
        };
        let commit = KindReport {
            kind: "commit".into(),
            fetch_errors: vec!["repository o/r: 403".into()],
            unidentified: 2,
            ..KindReport::default()
        };
        let skipped = Deletion::Skipped {
            reason: "kind(s) commit did not come through whole".into(),
        };
        let pull = KindReport {
            kind: "pull".into(),
            held_parts: 1,
            held_part_samples: vec!["service_pull related to repository o/r: 403".into()],
            ..KindReport::default()
        };
        let held = HeldBackReport::of(&report(vec![coverage, commit, pull], skipped, None));
        assert_eq!(held.entities, 1);
        assert_eq!(held.held_parts, 1);
        assert!(held.part_samples[0].starts_with("pull: service_pull related to"));
        assert_eq!(held.samples[0].kind.as_deref(), Some("coverage"));
        assert_eq!(held.samples[0].reason, "403: not activated");
        assert_eq!(held.incomplete_kinds.len(), 1);
        assert_eq!(held.incomplete_kinds[0].kind, "commit");
        assert_eq!(held.incomplete_kinds[0].reasons.len(), 2);
        assert!(held.deletion_skipped.is_some());
    }

    #[test]
    fn names_what_the_planner_kept_but_not_what_it_deleted() {
        let decision = |id: &str, verdict| Decision {
            blueprint: "repo".into(),
            identifier: id.into(),
            verdict,
        };
        let plan = DeletionPlan {
            owned: 3,
            produced: 0,
            decisions: vec![
                decision("a", Verdict::Delete(Dropped::NotProduced)),
                decision("b", Verdict::Keep(Kept::WrittenSince)),
                decision(
                    "c",
                    Verdict::Keep(Kept::RelatedTo {
                        blueprint: "commit".into(),
                        identifier: "x".into(),
                    }),
                ),
            ],
            refused: None,
            kept_by_enable_delete: 0,
        };
        let done = Deletion::Done { deleted: 1, owned: 3 };
        let held = HeldBackReport::of(&report(Vec::new(), done, Some(plan)));
        assert_eq!(held.kept_from_deletion, 2);
        let ids: Vec<&str> = held.kept_samples.iter().map(|k| k.identifier.as_str()).collect();
        assert_eq!(ids, ["b", "c"]);
        assert!(held.kept_samples[1].reason.contains("commit x"));
        assert!(held.deletion_skipped.is_none());
    }

    #[test]
    fn a_clean_resync_has_nothing_to_say_and_reasons_are_bounded() {
        let done = Deletion::Done { deleted: 0, owned: 0 };
        assert!(HeldBackReport::of(&report(Vec::new(), done, None)).is_empty());
        let long = "x".repeat(10_000);
        assert!(clip(&long).chars().count() <= REASON_CHARS + 1);
        let many = KindReport {
            kind: "k".into(),
            held: 500,
            held_samples: (0..20)
                .map(|n| Held {
                    blueprint: "b".into(),
                    identifier: n.to_string(),
                    reason: long.clone(),
                })
                .collect(),
            ..KindReport::default()
        };
        let skipped = Deletion::Skipped { reason: long };
        let held = HeldBackReport::of(&report(vec![many.clone(), many], skipped, None));
        assert_eq!((held.entities, held.samples.len()), (1000, NAMED));
    }
}
