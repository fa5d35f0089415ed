//! Live events: webhook bodies the server accepted, kept in the journal until
//! they reach Port. Each is turned into raw items by the plugin, mapped with
//! the mapping in force and upserted in batches. For one entity the event
//! newest in the source wins (the plugin's ordering key), within a batch and
//! against what earlier batches, replays and retries already applied. An
//! event that fails is kept as a dead letter and retried with backoff; one
//! whose mapping fails is set aside with the reason; neither holds up others.

pub mod queue;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::host::{Host, MappingInForce, compile};
use super::journal::{AppendError, Journal, JournalOptions, OpenError, now_ms};
use super::mapping::ResourceMapper;
use ocean_port::{Entity, UpsertOptions};
use ocean_support::metrics::metrics;
pub use queue::{EventQueue, Queued};

/// How long a mapping read from Port serves live events before it is read again.
const MAPPING_REFRESH: Duration = Duration::from_secs(60);
/// How often dead letters are checked for a due retry.
const RETRY_SCAN: Duration = Duration::from_secs(1);
/// Longest reason kept with a dead letter.
const REASON_MAX: usize = 2000;

// Where the journal lives; kept here too for callers that name it by live events.
pub use crate::journal::{default_journal_dir, journal_dir_from_env, scratch_journal_dir};

/// The live-event intake as it runs: the journal and the queue in front of the processor.
#[derive(Clone)]
pub struct LiveEvents {
    pub journal: Journal,
    pub queue: Arc<EventQueue>,
}

impl LiveEvents {
    /// Opens the journal in `dir` and queues every event it holds that was
    /// accepted and not applied (a replay after a stop or a crash).
    pub fn open(dir: &Path, options: JournalOptions, in_memory: usize) -> Result<LiveEvents, OpenError> {
        let opened = Journal::open(dir, options)?;
        let queue = Arc::new(EventQueue::new(in_memory));
        let stats = opened.journal.stats();
        if opened.torn_bytes > 0 {
            tracing::warn!(
                bytes = opened.torn_bytes,
                "the journal's last write was torn by a crash and cut; it had not been acknowledged"
            );
        }
        if !opened.pending.is_empty() {
            tracing::info!(
                events = opened.pending.len(),
                "replaying live events accepted before the last stop"
            );
            metrics()
                .webhook_events
                .get_or_create(&ocean_support::metrics::Outcome {
                    outcome: "replayed".into(),
                })
                .inc_by(opened.pending.len() as u64);
        }
        if stats.dead > 0 {
            tracing::warn!(
                dead_letters = stats.dead,
                "the journal holds failed live events; `{} dead-letters list` shows them",
                crate::program_name()
            );
        }
        queue.push_stored(opened.pending);
        let live = LiveEvents {
            journal: opened.journal,
            queue,
        };
        live.publish();
        Ok(live)
    }

    /// Accepts an event: once this returns its number, the event is on disk.
    pub async fn accept(&self, body: bytes::Bytes) -> Result<u64, AppendError> {
        let seq = self.journal.append(body.to_vec()).await?;
        if !self.queue.push(seq, body) {
            metrics().count_event("spilled");
        }
        Ok(seq)
    }

    /// Sets the journal's gauges.
    fn publish(&self) {
        let stats = self.journal.stats();
        let m = metrics();
        m.journal_bytes.set(stats.bytes as i64);
        m.dead_letters.set(stats.dead as i64);
        m.webhook_queue_depth.set(self.queue.len() as i64);
    }
}

/// Runs until the queue is closed and empty. Runs on one thread (a
/// `LocalSet`): it maps.
pub async fn process(host: Arc<Host>, live: LiveEvents, batch_max: usize) {
    let mut refreshed = Instant::now();
    let mut scanned = Instant::now();
    loop {
        if scanned.elapsed() >= RETRY_SCAN {
            scanned = Instant::now();
            let due = live.journal.take_due(now_ms(), batch_max * 10);
            if !due.is_empty() {
                tracing::info!(events = due.len(), "retrying dead letters");
                metrics()
                    .webhook_events
                    .get_or_create(&ocean_support::metrics::Outcome {
                        outcome: "retried".into(),
                    })
                    .inc_by(due.len() as u64);
                live.queue.push_stored(due);
            }
            live.publish();
        }
        // No mapping compiles: events stay queued (and journaled) until one does.
        if host.current_mapping().is_none() && !wait_for_mapping(&host, &live).await {
            break;
        }
        let Some(batch) = live.queue.take(batch_max, RETRY_SCAN).await else {
            break;
        };
        if batch.is_empty() {
            continue;
        }
        let events = bodies(&live.journal, batch);
        if refreshed.elapsed() > MAPPING_REFRESH {
            refreshed = Instant::now();
            if let Err(e) = host.refresh_mapping(false).await {
                tracing::warn!("re-reading the mapping for live events: {e}");
            }
        }
        let Some(mapping) = host.current_mapping() else {
            // Only a mapping in force is ever replaced, never removed: this cannot happen.
            tracing::error!(
                events = events.len(),
                "no mapping is in force; these live events wait as dead letters"
            );
            for (seq, _) in &events {
                set_aside(&live.journal, *seq, false, "no valid mapping is in force".into());
            }
            continue;
        };
        // Compiled once per thread and mapping (see `compile`).
        match compile(&mapping, host.jq_options()) {
            Ok(mappers) => write_batch(&host, &live.journal, &mapping, &mappers, events).await,
            Err(e) => {
                tracing::error!("the mapping in force does not compile: {e}");
                for (seq, _) in &events {
                    set_aside(
                        &live.journal,
                        *seq,
                        false,
                        format!("the mapping does not compile: {e}"),
                    );
                }
            }
        }
    }
    live.publish();
}

/// How often the mapping is read again while none compiles.
const MAPPING_RETRY: Duration = Duration::from_secs(5);
/// How often the wait for a mapping is said in the log.
const WAITING_LOG: Duration = Duration::from_secs(60);

/// Waits until a mapping that compiles is in force, reading Port's every
/// `MAPPING_RETRY`, while accepted events wait in the queue and the journal.
/// False when the queue closed meanwhile (a stop): the events stay in the
/// journal for the next start.
async fn wait_for_mapping(host: &Host, live: &LiveEvents) -> bool {
    let mut said: Option<Instant> = None;
    loop {
        if let Err(e) = host.refresh_mapping(false).await {
            tracing::debug!("reading the mapping for live events: {e}");
        }
        if host.current_mapping().is_some() {
            metrics().events_waiting_for_mapping.set(0);
            if said.is_some() {
                tracing::info!(
                    events = live.queue.len(),
                    "a valid mapping is in force: mapping the waiting live events"
                );
            }
            return true;
        }
        let waiting = live.queue.len();
        metrics().events_waiting_for_mapping.set(waiting as i64);
        if said.is_none_or(|at| at.elapsed() >= WAITING_LOG) {
            said = Some(Instant::now());
            tracing::error!(
                events = waiting,
                "no valid mapping is in force: live events are accepted and journaled, and wait; they are mapped \
                 once the mapping in Port compiles (the faults are in the log line above and in Port's resync state)"
            );
        }
        if live.queue.closed_after(MAPPING_RETRY).await {
            return false;
        }
    }
}

/// The batch's bodies, those that spilled read back from the journal; JSON
/// text checked, not parsed (the plugin and the mapper read what they need).
fn bodies(journal: &Journal, batch: Vec<Queued>) -> Vec<(u64, Box<RawValue>)> {
    let mut events = Vec::with_capacity(batch.len());
    let mut parse = |seq: u64, bytes: &[u8]| match serde_json::from_slice(bytes) {
        Ok(body) => events.push((seq, body)),
        Err(e) => set_aside(journal, seq, true, format!("the stored body is not JSON: {e}")),
    };
    for Queued { seq, body } in batch {
        if let Some(body) = body {
            parse(seq, &body);
            continue;
        }
        match journal.read(seq) {
            Ok(Some(bytes)) => parse(seq, &bytes),
            // Applied or discarded meanwhile.
            Ok(None) => {}
            Err(e) => {
                tracing::error!(seq, "reading a live event back from the journal: {e}");
                set_aside(journal, seq, false, format!("reading the journal: {e}"));
            }
        }
    }
    events
}

fn set_aside(journal: &Journal, seq: u64, poison: bool, mut reason: String) {
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

/// What became of one event of a batch.
struct Outcome {
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
fn replaces(outcomes: &[Outcome], (i, change): (usize, &Change), (j, earlier): (usize, &Change)) -> bool {
    if i == j {
        return matches!(change, Change::Upsert(_)) || matches!(earlier, Change::Delete);
    }
    outcomes[i].supersedes(&outcomes[j])
}

fn identifier_text(identifier: &Value) -> String {
    match identifier {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The key an entity's ordering mark is kept under.
fn entity_key(blueprint: &str, identifier: &str) -> String {
    format!("{blueprint}\u{1f}{identifier}")
}

/// What one event says about one entity.
enum Change {
    Upsert(Box<Entity>),
    /// The item no longer passes the selector: the entity goes, if this integration owns it.
    Delete,
}

async fn write_batch(
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
async fn upsert(
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
async fn delete_owned(
    host: &Host,
    config: &MappingInForce,
    outcomes: &mut [Outcome],
    blueprint: &str,
    members: Vec<(usize, String, String)>,
) {
    let settings = host.port.settings();
    let fragments = crate::resync::ownership::datasource_fragments(
        &settings.integration_type,
        &settings.integration_identifier,
    );
    let identifiers: Vec<&str> = members.iter().map(|(_, _, id)| id.as_str()).collect();
    let mut rules = vec![json!({"property": "$identifier", "operator": "in", "value": identifiers})];
    rules.extend(
        fragments
            .iter()
            .map(|f| json!({"property": "$datasource", "operator": "contains", "value": f})),
    );
    let query = json!({"combinator": "and", "rules": rules});
    let owned: Result<Vec<String>, String> = host
        .port
        .search_page(blueprint, &query, &["$identifier"], 1000, None)
        .await
        .map(|page| {
            page.entities
                .iter()
                .filter_map(|e| e.get("identifier")?.as_str().map(str::to_string))
                .collect()
        })
        .map_err(|e| e.to_string());
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
