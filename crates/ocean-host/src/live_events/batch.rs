//! One batch of live events: each turned into raw items by the plugin and
//! mapped; for one entity the event newest in the source wins; the winners
//! are upserted in bulk and deselected owned entities deleted.

use std::collections::HashMap;

use indexmap::IndexMap;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::host::{Host, MappingInForce};
use crate::journal::Journal;
use crate::mapping::ResourceMapper;
use ocean_port::{Entity, UpsertOptions};
use ocean_support::metrics::metrics;

/// What became of one event of a batch.
pub(super) struct Outcome {
    seq: u64,
    order: Option<i64>,
    /// Mapping errors: retrying cannot help until the mapping changes.
    poison: Vec<String>,
    /// Failures a later attempt may not meet (the source or Port).
    failures: Vec<String>,
    /// Ordering keys of the entities it wrote.
    marks: Vec<(String, i64)>,
}

impl Outcome {
    /// Whether this event's state of an entity replaces `other`'s: the newer
    /// in the source, or on a tie (or with no order) the later accepted.
    fn supersedes(&self, other: &Outcome) -> bool {
        match (self.order, other.order) {
            (Some(a), Some(b)) if a != b => a > b,
            _ => self.seq > other.seq,
        }
    }
}

/// Whether event `i`'s `change` of an entity replaces the change event `j`
/// made of it earlier in the batch: within one event, another resource's upsert
/// outweighs this one's deselection; across events, the superseding event wins.
pub(super) fn replaces(
    outcomes: &[Outcome],
    (i, change): (usize, &Change),
    (j, earlier): (usize, &Change),
) -> bool {
    if i == j {
        return matches!(change, Change::Upsert(_)) || matches!(earlier, Change::Delete);
    }
    outcomes[i].supersedes(&outcomes[j])
}

pub(super) fn identifier_text(identifier: &Value) -> String {
    match identifier {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The key an entity's ordering mark is kept under.
pub(super) fn entity_key(blueprint: &str, identifier: &str) -> String {
    format!("{blueprint}\u{1f}{identifier}")
}

/// What one event says about one entity.
pub(super) enum Change {
    Upsert(Box<Entity>),
    /// The item no longer passes the selector: the entity goes, if this integration owns it.
    Delete,
}

pub(super) async fn write_batch(
    host: &Host,
    journal: &Journal,
    config: &MappingInForce,
    mappers: &[ResourceMapper],
    events: Vec<(u64, Box<RawValue>)>,
) {
    let bodies: Vec<&RawValue> = events.iter().map(|(_, body)| &**body).collect();
    let read = host.plugin.webhook_events(&bodies).await;
    let mut outcomes: Vec<Outcome> = events
        .iter()
        .zip(&read)
        .map(|((seq, _), event)| Outcome {
            seq: *seq,
            order: event.order,
            poison: Vec::new(),
            failures: Vec::new(),
            marks: Vec::new(),
        })
        .collect();
    drop(events);
    let items = read.into_iter().map(|event| event.items);
    // Entity key → (the event whose change wins, its blueprint and identifier, the change).
    let mut chosen: IndexMap<String, (usize, (String, String), Change)> = IndexMap::new();
    let mut superseded = 0usize;
    for (i, results) in items.enumerate() {
        for result in results {
            let (kind, raw) = match result {
                Ok(item) => item,
                Err(e) => {
                    outcomes[i].failures.push(e.to_string());
                    continue;
                }
            };
            for mapper in mappers.iter().filter(|m| m.kind() == kind) {
                let mapped = mapper.map_raw(raw.raw());
                for error in &mapped.errors {
                    outcomes[i].poison.push(format!("{kind}: {error}"));
                }
                let mut changes: Vec<((String, String), Change)> = mapped
                    .entities
                    .into_iter()
                    .map(|e| {
                        (
                            (e.blueprint.clone(), identifier_text(&e.identifier)),
                            Change::Upsert(Box::new(e)),
                        )
                    })
                    .collect();
                if changes.is_empty() && mapped.errors.is_empty() && mapped.skipped > 0 {
                    changes.extend(mapper.identity(raw.raw()).map(|id| (id, Change::Delete)));
                }
                for (id, change) in changes {
                    let key = entity_key(&id.0, &id.1);
                    let wins = match chosen.get(&key) {
                        None => true,
                        Some((j, _, earlier)) => replaces(&outcomes, (i, &change), (*j, earlier)),
                    };
                    if chosen.contains_key(&key) {
                        superseded += 1;
                    }
                    if wins {
                        chosen.insert(key, (i, id, change));
                    }
                }
            }
        }
    }
    // Older than what an earlier batch, replay or retry already applied.
    let marks = {
        let keys: Vec<&str> = chosen.keys().map(String::as_str).collect();
        journal.marks(&keys)
    };
    let mut upserts = Vec::with_capacity(chosen.len());
    let mut upserted_by = Vec::with_capacity(chosen.len());
    let mut deletes: IndexMap<String, Vec<(usize, String, String)>> = IndexMap::new();
    for ((key, (i, (blueprint, identifier), change)), mark) in chosen.into_iter().zip(marks) {
        if let (Some(order), Some(mark)) = (outcomes[i].order, mark)
            && order < mark
        {
            superseded += 1;
            continue;
        }
        match change {
            Change::Upsert(entity) => {
                upserted_by.push((i, key));
                upserts.push(*entity);
            }
            Change::Delete => deletes.entry(blueprint).or_default().push((i, key, identifier)),
        }
    }
    if superseded > 0 {
        metrics().count_entities("live", "superseded", superseded);
    }
    upsert(host, config, &mut outcomes, upserts, upserted_by).await;
    for (blueprint, members) in deletes {
        delete_owned(host, config, &mut outcomes, &blueprint, members).await;
    }
    let mut applied = 0;
    for outcome in outcomes {
        if !outcome.poison.is_empty() {
            let mut reasons = outcome.poison;
            reasons.extend(outcome.failures);
            tracing::warn!(
                seq = outcome.seq,
                "live event set aside, its mapping failed: {}",
                reasons.join("; ")
            );
            set_aside(journal, outcome.seq, true, reasons.join("; "));
        } else if !outcome.failures.is_empty() {
            tracing::warn!(
                seq = outcome.seq,
                "live event kept for a retry: {}",
                outcome.failures.join("; ")
            );
            set_aside(journal, outcome.seq, false, outcome.failures.join("; "));
        } else {
            applied += 1;
            journal.applied(outcome.seq, outcome.marks);
        }
    }
    metrics()
        .webhook_events
        .get_or_create(&ocean_support::metrics::Outcome {
            outcome: "applied".into(),
        })
        .inc_by(applied);
}

/// Upserts the winning states; each entity's failure is its event's.
pub(super) async fn upsert(
    host: &Host,
    config: &MappingInForce,
    outcomes: &mut [Outcome],
    list: Vec<Entity>,
    writers: Vec<(usize, String)>,
) {
    if list.is_empty() {
        return;
    }
    let options = UpsertOptions {
        merge: config.enable_merge_entity,
        create_missing_related_entities: config.create_missing_related_entities,
    };
    match host.port.upsert_entities(&list, options).await {
        Ok(report) => {
            metrics().count_entities("live", "upserted", report.landed.len());
            metrics().count_entities("live", "failed", report.failed.len());
            let refused: HashMap<(&str, &str), String> = report
                .failed
                .iter()
                .map(|f| {
                    let why = match f.status {
                        Some(status) => format!(
                            "Port refused {}/{} ({status} {}): {}",
                            f.blueprint, f.identifier, f.error, f.message
                        ),
                        None => format!(
                            "Port unreachable for {}/{}: {}",
                            f.blueprint, f.identifier, f.message
                        ),
                    };
                    ((f.blueprint.as_str(), f.identifier.as_str()), why)
                })
                .collect();
            for ((i, key), entity) in writers.into_iter().zip(&list) {
                let identifier = identifier_text(&entity.identifier);
                match refused.get(&(entity.blueprint.as_str(), identifier.as_str())) {
                    Some(why) => outcomes[i].failures.push(why.clone()),
                    None => {
                        if let Some(order) = outcomes[i].order {
                            outcomes[i].marks.push((key, order));
                        }
                    }
                }
            }
        }
        Err(e) => {
            tracing::error!(entities = list.len(), "live events could not be written: {e}");
            for (i, _) in writers {
                outcomes[i].failures.push(format!("writing to Port: {e}"));
            }
        }
    }
}

/// Deletes the entities whose items the selector now leaves out, only those
/// this integration owns (Port's `$datasource`, as a resync's deletion asks).
pub(super) async fn delete_owned(
    host: &Host,
    config: &MappingInForce,
    outcomes: &mut [Outcome],
    blueprint: &str,
    members: Vec<(usize, String, String)>,
) {
    let identifiers: Vec<&str> = members.iter().map(|(_, _, id)| id.as_str()).collect();
    let filter = ocean_port::OwnedFilter {
        identifiers: Some(&identifiers),
        ..Default::default()
    };
    let owned = host.port.owned_identifiers(blueprint, &filter).await;
    let owned = match owned {
        Ok(owned) => owned,
        Err(e) => {
            for (i, ..) in &members {
                outcomes[*i]
                    .failures
                    .push(format!("finding which {blueprint} entities to delete: {e}"));
            }
            return;
        }
    };
    let report = if owned.is_empty() {
        Ok(ocean_port::DeleteReport::default())
    } else {
        host.port
            .delete_entities(blueprint, &owned, config.delete_dependent_entities)
            .await
    };
    match report {
        Ok(report) => {
            metrics().count_entities("live", "deleted", report.deleted.len());
            let failed: HashMap<&str, String> = report
                .failed
                .iter()
                .map(|f| {
                    (
                        f.identifier.as_str(),
                        format!(
                            "Port refused deleting {blueprint}/{}: {}",
                            f.identifier, f.message
                        ),
                    )
                })
                .collect();
            for (i, key, identifier) in members {
                match failed.get(identifier.as_str()) {
                    Some(why) => outcomes[i].failures.push(why.clone()),
                    None => {
                        if let Some(order) = outcomes[i].order {
                            outcomes[i].marks.push((key, order));
                        }
                    }
                }
            }
        }
        Err(e) => {
            for (i, ..) in members {
                outcomes[i]
                    .failures
                    .push(format!("deleting {blueprint} entities: {e}"));
            }
        }
    }
}

/// Longest reason kept with a dead letter.
const REASON_MAX: usize = 2000;

/// Keeps an event that cannot be applied now as a dead letter (poison: not until an operator acts), with why.
pub(super) fn set_aside(journal: &Journal, seq: u64, poison: bool, mut reason: String) {
    if reason.len() > REASON_MAX {
        let mut cut = REASON_MAX;
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        reason.truncate(cut);
    }
    metrics().count_event(if poison { "poison" } else { "dead_letter" });
    journal.dead_letter(seq, poison, reason);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(seq: u64, order: Option<i64>) -> Outcome {
        Outcome {
            seq,
            order,
            poison: Vec::new(),
            failures: Vec::new(),
            marks: Vec::new(),
        }
    }

    fn upsert() -> Change {
        Change::Upsert(Box::new(Entity {
            identifier: Value::from("e"),
            title: None,
            blueprint: "b".into(),
            team: None,
            icon: None,
            properties: serde_json::Map::new(),
            relations: serde_json::Map::new(),
        }))
    }

    #[test]
    fn the_newer_event_in_the_source_wins_whatever_the_arrival() {
        // Event 0 arrived first but is newer in the source.
        let outcomes = [outcome(1, Some(20)), outcome(2, Some(10))];
        assert!(!replaces(&outcomes, (1, &upsert()), (0, &upsert())));
        assert!(replaces(&outcomes, (0, &upsert()), (1, &upsert())));
        // A deselection obeys the same order.
        assert!(!replaces(&outcomes, (1, &Change::Delete), (0, &upsert())));
    }

    #[test]
    fn without_an_order_or_on_a_tie_the_later_accepted_wins() {
        let tied = [outcome(1, Some(5)), outcome(2, Some(5))];
        assert!(replaces(&tied, (1, &upsert()), (0, &upsert())));
        assert!(!replaces(&tied, (0, &upsert()), (1, &upsert())));
        let unordered = [outcome(1, None), outcome(2, Some(1))];
        assert!(replaces(&unordered, (1, &upsert()), (0, &upsert())));
    }

    #[test]
    fn within_one_event_an_upsert_outweighs_a_deselection() {
        let one = [outcome(1, Some(1))];
        assert!(replaces(&one, (0, &upsert()), (0, &Change::Delete)));
        assert!(!replaces(&one, (0, &Change::Delete), (0, &upsert())));
        assert!(
            replaces(&one, (0, &upsert()), (0, &upsert())),
            "the last resource's state"
        );
    }
}
