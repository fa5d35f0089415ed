//! Which owned entities a resync deletes, and why each candidate stays or
//! goes, decided as Port's owned entities stream past a page at a time. What
//! is kept per entity is small: nothing for one this resync produced (the
//! common case: a hash lookup in `Seen`), the key and relations for the few
//! that are candidates. Pure: no I/O.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use super::plan::Key;
use super::seen::{KeyHash, Seen, key_hash};

/// One owned entity as the deletion phase reads it from Port.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnedEntity<'a> {
    /// Its blueprint's identifier.
    pub blueprint: &'a str,
    /// Its identifier.
    pub identifier: &'a str,
    /// Last written before this resync began, by Port's clock: only these can be stale.
    pub before_cutoff: bool,
    /// What its relations point at, as (blueprint, identifier).
    pub relates_to: Vec<(&'a str, &'a str)>,
    /// Held back with a part of its kind that was not read (the part's reason).
    pub held_with_part: Option<&'a str>,
}

/// Why an owned entity stays.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kept", rename_all = "camelCase")]
pub enum Kept {
    /// This resync wrote it or found it unchanged.
    Produced,
    /// Held back this resync (a held item, a property that failed to map, a refused upsert).
    HeldBack {
        /// Why it was held (the mapping or upsert error, or the unread part).
        reason: String,
    },
    /// Written after this resync began (a live event): not stale.
    WrittenSince,
    /// An entity that stays relates to it: deleting it would break that
    /// relation (and, with deleteDependentEntities, delete the entity too).
    RelatedTo {
        /// The blueprint of the entity that stays and relates to it.
        blueprint: String,
        /// That entity's identifier.
        identifier: String,
    },
    /// Stale, but the resource that maps its blueprint says `enableDelete: false`.
    DeleteDisabled {
        /// The kind of that resource.
        kind: String,
    },
}

/// Why an owned entity goes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Dropped {
    /// Its blueprint is mapped, and this resync no longer produced it.
    NotProduced,
    /// Its blueprint is no longer in the mapping (a resource removed or renamed).
    BlueprintNotMapped,
}

/// A candidate's fate.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Verdict {
    /// It stays, and why.
    Keep(Kept),
    /// It goes (unless the plan is refused), and why.
    Delete(Dropped),
}

/// A candidate the plan says something about beyond "produced".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// Its blueprint.
    pub blueprint: String,
    /// Its identifier.
    pub identifier: String,
    /// Whether it stays or goes, and why.
    pub verdict: Verdict,
}

/// What the deletion phase would do.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DeletionPlan {
    /// Entities this integration owns in Port, over every blueprint.
    pub owned: usize,
    /// Owned entities this resync produced (the common case, only counted).
    pub produced: usize,
    /// Every other owned entity, with its verdict, in blueprint order.
    pub decisions: Vec<Decision>,
    /// Set when the share to delete is above `entityDeletionThreshold`:
    /// then nothing is deleted.
    pub refused: Option<String>,
    /// Stale entities kept because their resource has `enableDelete: false`.
    pub kept_by_enable_delete: usize,
}

impl DeletionPlan {
    /// What goes, per blueprint (empty when the plan is refused).
    pub fn to_delete(&self) -> BTreeMap<&str, Vec<&str>> {
        let mut out: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        if self.refused.is_some() {
            return out;
        }
        for d in &self.decisions {
            if matches!(d.verdict, Verdict::Delete(_)) {
                out.entry(&d.blueprint).or_default().push(&d.identifier);
            }
        }
        out
    }

    /// One line per decision, and the refusal if any, for a dry run's output.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "owned in Port: {}, produced by this resync: {}",
            self.owned, self.produced
        )];
        for d in &self.decisions {
            let why = match &d.verdict {
                Verdict::Delete(Dropped::NotProduced) => "delete: not produced by this resync".to_string(),
                Verdict::Delete(Dropped::BlueprintNotMapped) => {
                    "delete: its blueprint is no longer in the mapping".to_string()
                }
                Verdict::Keep(Kept::Produced) => "keep: produced by this resync".to_string(),
                Verdict::Keep(Kept::HeldBack { reason }) => format!("keep: held back ({reason})"),
                Verdict::Keep(Kept::WrittenSince) => "keep: written since this resync began".to_string(),
                Verdict::Keep(Kept::RelatedTo {
                    blueprint,
                    identifier,
                }) => format!("keep: {blueprint} {identifier}, which stays, relates to it"),
                Verdict::Keep(Kept::DeleteDisabled { kind }) => {
                    format!("keep: stale, but resource {kind} has enableDelete: false")
                }
            };
            lines.push(format!("  {} {}: {why}", d.blueprint, d.identifier));
        }
        if let Some(refused) = &self.refused {
            lines.push(format!("nothing is deleted: {refused}"));
        }
        lines
    }

    /// How many entities the plan deletes (counted even when the plan is refused).
    pub fn deletions(&self) -> usize {
        self.decisions
            .iter()
            .filter(|d| matches!(d.verdict, Verdict::Delete(_)))
            .count()
    }
}

/// A candidate kept for the plan: an owned entity this resync did not produce.
struct Candidate {
    blueprint: String,
    identifier: String,
    verdict: Verdict,
    /// Where its relations point: (the target's blueprint, its key hash).
    relates_to: Vec<(String, KeyHash)>,
}

/// Decides each owned entity's fate as they arrive. An entity goes only when
/// it was written before the resync began, this resync did not produce or
/// hold it, and nothing that stays relates to it (followed transitively,
/// since Port's dependent deletion cascades). Then the share to delete is
/// held to the threshold.
///
/// Feed blueprints targets first (`order_by_relations`) and say when each is
/// done: then a kept entity's relation finds its target already decided. A
/// relation to an entity not yet read (a self-relation, a cycle) is
/// remembered until it arrives.
pub struct DeletionPlanner<'a> {
    seen: &'a Seen,
    held: HashMap<KeyHash, &'a str>,
    mapped_blueprints: &'a HashSet<String>,
    threshold: f64,
    /// Blueprints of resources with `enableDelete: false`, with the resource's kind.
    delete_disabled: HashMap<String, String>,
    owned: usize,
    produced: usize,
    candidates: Vec<Candidate>,
    by_key: HashMap<KeyHash, usize>,
    /// Kept entities' targets not read yet, with the keeper's (blueprint, identifier).
    ahead: HashMap<KeyHash, (String, String)>,
    done: HashSet<String>,
}

impl<'a> DeletionPlanner<'a> {
    /// `held`: why each held-back entity was held; `mapped_blueprints`: those
    /// the mapping in force writes to.
    pub fn new(
        seen: &'a Seen,
        held: &'a HashMap<Key, String>,
        mapped_blueprints: &'a HashSet<String>,
        threshold: f64,
    ) -> Self {
        DeletionPlanner {
            seen,
            held: held
                .iter()
                .map(|((b, i), reason)| (key_hash(b, i), reason.as_str()))
                .collect(),
            mapped_blueprints,
            threshold,
            delete_disabled: HashMap::new(),
            owned: 0,
            produced: 0,
            candidates: Vec::new(),
            by_key: HashMap::new(),
            ahead: HashMap::new(),
            done: HashSet::new(),
        }
    }

    /// Stale entities of these blueprints stay: the resource (kind) that maps
    /// each has `enableDelete: false`.
    pub fn with_delete_disabled(mut self, blueprints: HashMap<String, String>) -> Self {
        self.delete_disabled = blueprints;
        self
    }

    /// Every owned entity of `blueprint` has been added.
    pub fn blueprint_done(&mut self, blueprint: &str) {
        self.done.insert(blueprint.to_string());
    }

    /// Decides one owned entity; call for every one of a blueprint, then [`DeletionPlanner::blueprint_done`].
    pub fn add(&mut self, entity: &OwnedEntity) {
        self.owned += 1;
        let key = key_hash(entity.blueprint, entity.identifier);
        let keeper_ahead = self.ahead.remove(&key);
        let mut verdict = if let Some(reason) = entity.held_with_part.or_else(|| self.held.get(&key).copied())
        {
            Verdict::Keep(Kept::HeldBack {
                reason: reason.to_string(),
            })
        } else if self.seen.contains_hash(key) {
            Verdict::Keep(Kept::Produced)
        } else if !entity.before_cutoff {
            Verdict::Keep(Kept::WrittenSince)
        } else if self.mapped_blueprints.contains(entity.blueprint) {
            Verdict::Delete(Dropped::NotProduced)
        } else {
            Verdict::Delete(Dropped::BlueprintNotMapped)
        };
        if let (Verdict::Delete(_), Some(kind)) = (&verdict, self.delete_disabled.get(entity.blueprint)) {
            verdict = Verdict::Keep(Kept::DeleteDisabled { kind: kind.clone() });
        }
        if let (Verdict::Delete(_), Some((blueprint, identifier))) = (&verdict, keeper_ahead) {
            verdict = Verdict::Keep(Kept::RelatedTo {
                blueprint,
                identifier,
            });
        }
        let relates_to = entity
            .relates_to
            .iter()
            .map(|(b, i)| (b.to_string(), key_hash(b, i)));
        let keeps = matches!(verdict, Verdict::Keep(_));
        if verdict == Verdict::Keep(Kept::Produced) {
            self.produced += 1;
            let targets: Vec<(String, KeyHash)> = relates_to.collect();
            if !targets.is_empty() {
                self.protect(targets, entity.blueprint, entity.identifier);
            }
            return;
        }
        let candidate = Candidate {
            blueprint: entity.blueprint.to_string(),
            identifier: entity.identifier.to_string(),
            verdict,
            relates_to: relates_to.collect(),
        };
        let targets = keeps.then(|| candidate.relates_to.clone());
        self.by_key.insert(key, self.candidates.len());
        self.candidates.push(candidate);
        if let Some(targets) = targets {
            self.protect(targets, entity.blueprint, entity.identifier);
        }
    }

    /// What a kept entity relates to stays, and so on down the chain.
    fn protect(&mut self, targets: Vec<(String, KeyHash)>, blueprint: &str, identifier: &str) {
        let mut pending: Vec<(String, KeyHash, String, String)> = targets
            .into_iter()
            .map(|(target_blueprint, target)| {
                (
                    target_blueprint,
                    target,
                    blueprint.to_string(),
                    identifier.to_string(),
                )
            })
            .collect();
        while let Some((target_blueprint, target, keeper_blueprint, keeper_identifier)) = pending.pop() {
            match self.by_key.get(&target) {
                Some(&at) => {
                    let candidate = &mut self.candidates[at];
                    if matches!(candidate.verdict, Verdict::Delete(_)) {
                        candidate.verdict = Verdict::Keep(Kept::RelatedTo {
                            blueprint: keeper_blueprint,
                            identifier: keeper_identifier,
                        });
                        for (next_blueprint, next) in &candidate.relates_to {
                            pending.push((
                                next_blueprint.clone(),
                                *next,
                                candidate.blueprint.clone(),
                                candidate.identifier.clone(),
                            ));
                        }
                    }
                }
                // Read already and not a candidate: it stays anyway (or Port does not have it).
                None if self.done.contains(&target_blueprint) => {}
                None => {
                    self.ahead
                        .entry(target)
                        .or_insert((keeper_blueprint, keeper_identifier));
                }
            }
        }
    }

    /// The plan: decisions sorted by blueprint and identifier, refused when the share to delete
    /// exceeds the threshold.
    pub fn finish(self) -> DeletionPlan {
        let mut plan = DeletionPlan {
            owned: self.owned,
            produced: self.produced,
            ..DeletionPlan::default()
        };
        plan.decisions = self
            .candidates
            .into_iter()
            .map(|c| Decision {
                blueprint: c.blueprint,
                identifier: c.identifier,
                verdict: c.verdict,
            })
            .collect();
        plan.decisions
            .sort_by(|a, b| (&a.blueprint, &a.identifier).cmp(&(&b.blueprint, &b.identifier)));
        plan.kept_by_enable_delete = plan
            .decisions
            .iter()
            .filter(|d| matches!(d.verdict, Verdict::Keep(Kept::DeleteDisabled { .. })))
            .count();
        let going = plan.deletions();
        let share = going as f64 / plan.owned.max(1) as f64;
        if going > 0 && share > self.threshold {
            plan.refused = Some(format!(
                "{going} of {} owned entities ({:.1}%) would go, above entityDeletionThreshold {:.0}%; nothing is deleted",
                plan.owned,
                share * 100.0,
                self.threshold * 100.0
            ));
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An owned entity, as (blueprint, identifier, written before the cutoff, relations).
    type Owned = (
        &'static str,
        &'static str,
        bool,
        Vec<(&'static str, &'static str)>,
    );

    fn owned(
        blueprint: &'static str,
        id: &'static str,
        before_cutoff: bool,
        relates_to: &[(&'static str, &'static str)],
    ) -> Owned {
        (blueprint, id, before_cutoff, relates_to.to_vec())
    }

    fn key(blueprint: &str, id: &str) -> Key {
        (blueprint.to_string(), id.to_string())
    }

    /// Passes every owned entity through the planner, as Port's pages would.
    fn add_all(planner: &mut DeletionPlanner<'_>, owned: &[Owned]) {
        for (blueprint, identifier, before_cutoff, relates_to) in owned {
            planner.add(&OwnedEntity {
                blueprint,
                identifier,
                before_cutoff: *before_cutoff,
                relates_to: relates_to.clone(),
                held_with_part: None,
            });
        }
    }

    fn plan_deletion(
        owned: &[Owned],
        seen: &Seen,
        held: &HashMap<Key, String>,
        mapped: &HashSet<String>,
        threshold: f64,
    ) -> DeletionPlan {
        let mut planner = DeletionPlanner::new(seen, held, mapped, threshold);
        add_all(&mut planner, owned);
        planner.finish()
    }
    fn verdicts(plan: &DeletionPlan) -> Vec<(String, Verdict)> {
        plan.decisions
            .iter()
            .map(|d| (format!("{} {}", d.blueprint, d.identifier), d.verdict.clone()))
            .collect()
    }

    struct Case {
        owned: Vec<Owned>,
        seen: Seen,
        held: HashMap<Key, String>,
        mapped: HashSet<String>,
        threshold: f64,
    }

    impl Case {
        fn new(owned: Vec<Owned>, produced: &[(&str, &str)]) -> Self {
            let mut seen = Seen::default();
            for (b, i) in produced {
                seen.add(b, i);
            }
            Case {
                owned,
                seen,
                held: HashMap::new(),
                mapped: ["repo".to_string(), "commit".to_string()].into(),
                threshold: 1.0,
            }
        }

        fn plan(&self) -> DeletionPlan {
            plan_deletion(&self.owned, &self.seen, &self.held, &self.mapped, self.threshold)
        }
    }

    #[test]
    fn stale_means_not_produced_written_before_the_cutoff() {
        let case = Case::new(
            vec![
                owned("repo", "kept", true, &[]),
                owned("repo", "gone", true, &[]),
                owned("repo", "live", false, &[]),
            ],
            &[("repo", "kept")],
        );
        let plan = case.plan();
        assert_eq!((plan.owned, plan.produced), (3, 1));
        assert_eq!(
            verdicts(&plan),
            [
                ("repo gone".into(), Verdict::Delete(Dropped::NotProduced)),
                ("repo live".into(), Verdict::Keep(Kept::WrittenSince)),
            ]
        );
        assert_eq!(plan.to_delete(), BTreeMap::from([("repo", vec!["gone"])]));
    }

    #[test]
    fn blueprints_no_longer_mapped_are_stale_too() {
        let case = Case::new(vec![owned("flag", "f1", true, &[])], &[]);
        let plan = case.plan();
        assert_eq!(
            verdicts(&plan),
            [("flag f1".into(), Verdict::Delete(Dropped::BlueprintNotMapped))]
        );
    }

    #[test]
    fn held_back_entities_stay_with_their_reason() {
        let mut case = Case::new(vec![owned("repo", "r", true, &[])], &[("repo", "r")]);
        case.held.insert(key("repo", "r"), "403: not activated".into());
        assert_eq!(
            verdicts(&case.plan()),
            [(
                "repo r".into(),
                Verdict::Keep(Kept::HeldBack {
                    reason: "403: not activated".into()
                })
            )]
        );
    }

    #[test]
    fn what_a_kept_entity_relates_to_stays_transitively() {
        // commit c1 stays and relates to repo r1, which relates to repo r0; r2 is simply gone.
        let case = Case::new(
            vec![
                owned("commit", "c1", true, &[("repo", "r1")]),
                owned("repo", "r1", true, &[("repo", "r0")]),
                owned("repo", "r0", true, &[]),
                owned("repo", "r2", true, &[]),
                owned("commit", "c2", true, &[("repo", "r2")]),
            ],
            &[("commit", "c1")],
        );
        let plan = case.plan();
        let related = |b: &str, i: &str| {
            Verdict::Keep(Kept::RelatedTo {
                blueprint: b.into(),
                identifier: i.into(),
            })
        };
        assert_eq!(
            verdicts(&plan),
            [
                ("commit c2".into(), Verdict::Delete(Dropped::NotProduced)),
                ("repo r0".into(), related("repo", "r1")),
                ("repo r1".into(), related("commit", "c1")),
                ("repo r2".into(), Verdict::Delete(Dropped::NotProduced)),
            ]
        );
    }

    #[test]
    fn stale_entities_of_an_enable_delete_false_resource_stay_and_are_counted() {
        // repo's resource says enableDelete: false; commit's does not.
        let case = Case::new(
            vec![
                owned("repo", "stale-repo", true, &[]),
                owned("commit", "stale-commit", true, &[("repo", "r9")]),
                owned("repo", "r9", true, &[]),
            ],
            &[],
        );
        let mut planner = DeletionPlanner::new(&case.seen, &case.held, &case.mapped, 1.0)
            .with_delete_disabled(HashMap::from([("repo".to_string(), "repository".to_string())]));
        add_all(&mut planner, &case.owned);
        let plan = planner.finish();
        let disabled = Verdict::Keep(Kept::DeleteDisabled {
            kind: "repository".into(),
        });
        assert_eq!(
            verdicts(&plan),
            [
                (
                    "commit stale-commit".into(),
                    Verdict::Delete(Dropped::NotProduced)
                ),
                ("repo r9".into(), disabled.clone()),
                ("repo stale-repo".into(), disabled),
            ]
        );
        assert_eq!(plan.kept_by_enable_delete, 2);
        assert_eq!(
            plan.to_delete(),
            BTreeMap::from([("commit", vec!["stale-commit"])])
        );
        assert!(
            plan.lines()
                .iter()
                .any(|l| l.contains("resource repository has enableDelete: false")),
            "{:?}",
            plan.lines()
        );
    }

    #[test]
    fn above_the_threshold_nothing_is_deleted() {
        let mut case = Case::new(
            vec![owned("repo", "a", true, &[]), owned("repo", "b", true, &[])],
            &[("repo", "a")],
        );
        case.threshold = 0.4;
        let plan = case.plan();
        assert!(
            plan.refused.as_deref().is_some_and(|r| r.contains("1 of 2")),
            "{plan:?}"
        );
        assert!(plan.to_delete().is_empty());
        case.threshold = 0.5;
        assert!(case.plan().refused.is_none());
    }
}
