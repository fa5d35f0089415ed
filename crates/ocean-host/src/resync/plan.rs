//! The pure half of a resync: what to do with a page of mapped entities
//! given what Port holds (here), and at the end which owned entities to
//! delete and why each candidate is kept or dropped (`deletion_plan`). No I/O
//! here: the resync feeds in what it read from Port and applies (or, in a dry
//! run, prints) the plan.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Map, Value};

use super::compare;
use ocean_port::Entity;

pub use super::deletion_plan::{
    Decision, DeletionPlan, DeletionPlanner, Dropped, Kept, OwnedEntity, Verdict,
};
pub use super::seen::Seen;

/// (blueprint, identifier)
pub type Key = (String, String);

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
    /// The blueprint whose entities it holds.
    pub blueprint: String,
    /// (relation, identifier it points at), as computed for the stand-in.
    pub related: Vec<(String, String)>,
    /// Why the part could not be read.
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
        seen.add("t", "a");
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
}
