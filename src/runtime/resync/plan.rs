//! The pure half of a resync: what to do with a page of mapped entities
//! given what Port holds, and at the end which owned entities to delete and
//! why each candidate is kept or dropped. No I/O here: the resync feeds in
//! what it read from Port and applies (or, in a dry run, prints) the plan.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use serde_json::{Map, Value};

use super::compare;
use crate::port::Entity;

/// (blueprint, identifier)
pub type Key = (String, String);

/// Identifiers this resync produced (written, unchanged or held back), per
/// blueprint: all that outlives a page.
#[derive(Default)]
pub struct Seen(HashMap<String, HashSet<String>>);

impl Seen {
    pub fn add(&mut self, blueprint: &str, identifier: String) {
        self.0
            .entry(blueprint.to_string())
            .or_default()
            .insert(identifier);
    }

    pub fn contains(&self, blueprint: &str, identifier: &str) -> bool {
        self.0.get(blueprint).is_some_and(|ids| ids.contains(identifier))
    }

    pub fn blueprints(&self) -> impl Iterator<Item = &String> {
        self.0.keys()
    }
}

/// What to do with one page of mapped entities.
#[derive(Debug, Default)]
pub struct PagePlan {
    /// Not in Port (or Port could not be asked, or the identifier is a search
    /// query Port resolves): written.
    pub create: Vec<Entity>,
    /// In Port with other content: written.
    pub update: Vec<Entity>,
    /// In Port as this resync would write it: nothing to send.
    pub unchanged: Vec<Key>,
    /// Identifiers another item already took: inside the page the last item
    /// wins and the earlier ones are dropped; across pages the later page
    /// is written again (the last one wins there too).
    pub duplicates: Vec<Key>,
}

fn key_of(entity: &Entity) -> Option<Key> {
    let identifier = entity.identifier.as_str()?;
    Some((entity.blueprint.clone(), identifier.to_string()))
}

/// Plans one page. `existing` is Port's copy of the page's entities by key,
/// or `None` when Port could not be asked (then everything is written: an
/// upsert is safe either way). `seen` holds what earlier pages produced.
pub fn plan_page(
    entities: Vec<Entity>,
    existing: Option<&HashMap<Key, Value>>,
    seen: &Seen,
    merge: bool,
) -> PagePlan {
    let mut last_at: HashMap<Key, usize> = HashMap::new();
    for (at, entity) in entities.iter().enumerate() {
        if let Some(key) = key_of(entity) {
            last_at.insert(key, at);
        }
    }
    let mut plan = PagePlan::default();
    for (at, entity) in entities.into_iter().enumerate() {
        let Some(key) = key_of(&entity) else {
            plan.create.push(entity);
            continue;
        };
        if last_at.get(&key) != Some(&at) {
            plan.duplicates.push(key);
            continue;
        }
        if seen.contains(&key.0, &key.1) {
            plan.duplicates.push(key.clone());
        }
        match existing.map(|found| found.get(&key)) {
            Some(Some(stored)) if compare::unchanged(&entity, stored, merge) => plan.unchanged.push(key),
            Some(Some(_)) => plan.update.push(entity),
            _ => plan.create.push(entity),
        }
    }
    plan
}

/// A part of a kind the source could not read (e.g. one repository's
/// commits), as the mapping names it from the part's stand-in item: every
/// owned entity of `blueprint` with a relation in `related` is held back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeldPart {
    pub blueprint: String,
    /// (relation, identifier it points at), as computed for the stand-in.
    pub related: Vec<(String, String)>,
    pub reason: String,
}

impl HeldPart {
    /// Whether an entity of `blueprint` with `relations` (as Port's search
    /// returns them: an identifier or a list of them) belongs to this part.
    pub fn holds(&self, blueprint: &str, relations: Option<&Map<String, Value>>) -> bool {
        if blueprint != self.blueprint {
            return false;
        }
        let Some(relations) = relations else {
            return false;
        };
        self.related
            .iter()
            .any(|(name, target)| match relations.get(name) {
                Some(Value::String(id)) => id == target,
                Some(Value::Array(ids)) => ids.iter().any(|id| id.as_str() == Some(target)),
                _ => false,
            })
    }
}

/// An entity this integration owns in Port, as the deletion phase reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Owned {
    pub key: Key,
    /// Last written before this resync began, by Port's clock: only these can be stale.
    pub before_cutoff: bool,
    /// What its relations point at, as (blueprint, identifier).
    pub relates_to: Vec<Key>,
}

/// Why an owned entity stays.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kept", rename_all = "camelCase")]
pub enum Kept {
    /// This resync wrote it or found it unchanged.
    Produced,
    /// Held back this resync (a held item, a property that failed to map, a refused upsert).
    HeldBack { reason: String },
    /// Written after this resync began (a live event): not stale.
    WrittenSince,
    /// An entity that stays relates to it: deleting it would break that
    /// relation (and, with deleteDependentEntities, delete the entity too).
    RelatedTo { blueprint: String, identifier: String },
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

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Verdict {
    Keep(Kept),
    Delete(Dropped),
}

/// A candidate the plan says something about beyond "produced".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub blueprint: String,
    pub identifier: String,
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
            };
            lines.push(format!("  {} {}: {why}", d.blueprint, d.identifier));
        }
        if let Some(refused) = &self.refused {
            lines.push(format!("nothing is deleted: {refused}"));
        }
        lines
    }

    pub fn deletions(&self) -> usize {
        self.decisions
            .iter()
            .filter(|d| matches!(d.verdict, Verdict::Delete(_)))
            .count()
    }
}

pub struct DeletionInput<'a> {
    pub owned: &'a [Owned],
    /// Produced or held back this resync.
    pub seen: &'a Seen,
    /// Why an entity was held back, for those that were.
    pub held: &'a HashMap<Key, String>,
    /// Blueprints the mapping in force writes to.
    pub mapped_blueprints: &'a HashSet<String>,
    pub threshold: f64,
}

/// Decides each owned entity's fate. An entity goes only when it was
/// written before the resync began, this resync did not produce or hold it,
/// and nothing that stays relates to it (followed transitively, since Port's
/// dependent deletion cascades). Then the share to delete is held to the threshold.
pub fn plan_deletion(input: &DeletionInput) -> DeletionPlan {
    let mut plan = DeletionPlan {
        owned: input.owned.len(),
        ..DeletionPlan::default()
    };
    let mut verdicts: HashMap<&Key, Verdict> = HashMap::new();
    for owned in input.owned {
        let (blueprint, identifier) = &owned.key;
        let verdict = if let Some(reason) = input.held.get(&owned.key) {
            Verdict::Keep(Kept::HeldBack {
                reason: reason.clone(),
            })
        } else if input.seen.contains(blueprint, identifier) {
            Verdict::Keep(Kept::Produced)
        } else if !owned.before_cutoff {
            Verdict::Keep(Kept::WrittenSince)
        } else if input.mapped_blueprints.contains(blueprint) {
            Verdict::Delete(Dropped::NotProduced)
        } else {
            Verdict::Delete(Dropped::BlueprintNotMapped)
        };
        verdicts.insert(&owned.key, verdict);
    }
    // What stays protects what it relates to, and so on down the chain.
    let by_key: HashMap<&Key, &Owned> = input.owned.iter().map(|o| (&o.key, o)).collect();
    let mut pending: Vec<&Owned> = input
        .owned
        .iter()
        .filter(|o| matches!(verdicts.get(&o.key), Some(Verdict::Keep(_))))
        .collect();
    while let Some(keeper) = pending.pop() {
        for target in &keeper.relates_to {
            let Some(slot) = verdicts.get_mut(target) else {
                continue;
            };
            if matches!(slot, Verdict::Delete(_)) {
                *slot = Verdict::Keep(Kept::RelatedTo {
                    blueprint: keeper.key.0.clone(),
                    identifier: keeper.key.1.clone(),
                });
                if let Some(next) = by_key.get(target) {
                    pending.push(next);
                }
            }
        }
    }
    for owned in input.owned {
        match verdicts.remove(&owned.key) {
            Some(Verdict::Keep(Kept::Produced)) | None => plan.produced += 1,
            Some(verdict) => plan.decisions.push(Decision {
                blueprint: owned.key.0.clone(),
                identifier: owned.key.1.clone(),
                verdict,
            }),
        }
    }
    plan.decisions
        .sort_by(|a, b| (&a.blueprint, &a.identifier).cmp(&(&b.blueprint, &b.identifier)));
    let going = plan.deletions();
    let share = going as f64 / plan.owned.max(1) as f64;
    if going > 0 && share > input.threshold {
        plan.refused = Some(format!(
            "{going} of {} owned entities ({:.1}%) would go, above entityDeletionThreshold {:.0}%; nothing is deleted",
            plan.owned,
            share * 100.0,
            input.threshold * 100.0
        ));
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entity(blueprint: &str, id: &str, size: i64) -> Entity {
        serde_json::from_value(json!({"identifier": id, "title": id, "blueprint": blueprint,
            "properties": {"size": size}, "relations": {}}))
        .expect("entity")
    }

    fn stored(id: &str, size: i64) -> Value {
        json!({"identifier": id, "title": id, "properties": {"size": size}, "relations": {}})
    }

    fn key(blueprint: &str, id: &str) -> Key {
        (blueprint.to_string(), id.to_string())
    }

    fn ids(entities: &[Entity]) -> Vec<&str> {
        entities.iter().filter_map(|e| e.identifier.as_str()).collect()
    }

    #[test]
    fn a_page_splits_into_create_update_and_unchanged() {
        let existing: HashMap<Key, Value> = [
            (key("t", "same"), stored("same", 1)),
            (key("t", "changed"), stored("changed", 1)),
        ]
        .into();
        let page = vec![
            entity("t", "new", 1),
            entity("t", "same", 1),
            entity("t", "changed", 2),
        ];
        let plan = plan_page(page, Some(&existing), &Seen::default(), true);
        assert_eq!(ids(&plan.create), ["new"]);
        assert_eq!(ids(&plan.update), ["changed"]);
        assert_eq!(plan.unchanged, [key("t", "same")]);
        assert!(plan.duplicates.is_empty());
    }

    #[test]
    fn without_ports_answer_everything_is_written() {
        let plan = plan_page(vec![entity("t", "a", 1)], None, &Seen::default(), true);
        assert_eq!(ids(&plan.create), ["a"]);
    }

    #[test]
    fn duplicates_inside_a_page_are_written_once_and_the_last_wins() {
        let page = vec![entity("t", "a", 1), entity("t", "b", 1), entity("t", "a", 2)];
        let plan = plan_page(page, Some(&HashMap::new()), &Seen::default(), true);
        assert_eq!(ids(&plan.create), ["b", "a"]);
        assert_eq!(plan.create[1].properties["size"], json!(2));
        assert_eq!(plan.duplicates, [key("t", "a")]);
    }

    #[test]
    fn duplicates_across_pages_are_counted_like_those_inside_one() {
        let mut seen = Seen::default();
        seen.add("t", "a".into());
        let plan = plan_page(vec![entity("t", "a", 2)], Some(&HashMap::new()), &seen, true);
        assert_eq!(plan.duplicates, [key("t", "a")]);
        assert_eq!(ids(&plan.create), ["a"], "the later page still wins");
    }

    #[test]
    fn the_same_identifier_in_two_blueprints_is_no_duplicate() {
        let plan = plan_page(
            vec![entity("t", "a", 1), entity("u", "a", 1)],
            Some(&HashMap::new()),
            &Seen::default(),
            true,
        );
        assert!(plan.duplicates.is_empty());
        assert_eq!(plan.create.len(), 2);
    }

    fn owned(blueprint: &str, id: &str, before_cutoff: bool, relates_to: &[(&str, &str)]) -> Owned {
        Owned {
            key: key(blueprint, id),
            before_cutoff,
            relates_to: relates_to.iter().map(|(b, i)| key(b, i)).collect(),
        }
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
                seen.add(b, i.to_string());
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
            plan_deletion(&DeletionInput {
                owned: &self.owned,
                seen: &self.seen,
                held: &self.held,
                mapped_blueprints: &self.mapped,
                threshold: self.threshold,
            })
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
    fn a_held_part_holds_its_blueprints_entities_that_relate_to_it() {
        let part = HeldPart {
            blueprint: "commit".into(),
            related: vec![("repository".into(), "gh/o/r".into())],
            reason: "403".into(),
        };
        let relations = |v: Value| v.as_object().cloned();
        let mine = relations(json!({"repository": "gh/o/r"}));
        assert!(part.holds("commit", mine.as_ref()));
        assert!(part.holds(
            "commit",
            relations(json!({"repository": ["x", "gh/o/r"]})).as_ref()
        ));
        assert!(!part.holds("pull", mine.as_ref()), "another blueprint");
        assert!(!part.holds("commit", relations(json!({"repository": "gh/o/r2"})).as_ref()));
        assert!(!part.holds("commit", relations(json!({"author": "gh/o/r"})).as_ref()));
        assert!(!part.holds("commit", None));
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
