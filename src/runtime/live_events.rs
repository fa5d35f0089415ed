//! Live events: webhook bodies the server accepted, turned into raw items by
//! the plugin, mapped with the mapping in force and upserted at once. Events
//! are taken in batches; several events for one entity collapse into the
//! newest, and the batch goes to Port in bulk.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use indexmap::IndexMap;
use serde_json::Value;
use tokio::sync::mpsc;

use super::host::{Host, MappingInForce, compile};
use super::mapping::ResourceMapper;
use crate::metrics::metrics;
use crate::port::Entity;
use crate::port::UpsertOptions;

/// One accepted webhook body, already recognised as the plugin's.
pub struct Event {
    pub body: Value,
}

/// How long a mapping read from Port serves live events before it is read again.
const MAPPING_REFRESH: Duration = Duration::from_secs(60);

/// Runs until every sender is gone and the queue is empty, so a shutdown
/// drains what was accepted. Runs on one thread (a `LocalSet`): it maps.
pub async fn process(host: Arc<Host>, mut events: mpsc::Receiver<Event>, batch_max: usize) {
    let mut refreshed = Instant::now();
    while let Some(first) = events.recv().await {
        let mut batch = vec![first];
        while batch.len() < batch_max {
            match events.try_recv() {
                Ok(event) => batch.push(event),
                Err(_) => break,
            }
        }
        metrics().webhook_queue_depth.set(events.len() as i64);
        if refreshed.elapsed() > MAPPING_REFRESH {
            refreshed = Instant::now();
            if let Err(e) = host.refresh_mapping(false).await {
                tracing::warn!("re-reading the mapping for live events: {e}");
            }
        }
        let Some(mapping) = host.current_mapping() else {
            tracing::error!(
                events = batch.len(),
                "no valid mapping is in force; these live events are not written"
            );
            metrics()
                .webhook_events
                .get_or_create(&crate::metrics::Outcome {
                    outcome: "unmapped".into(),
                })
                .inc_by(batch.len() as u64);
            continue;
        };
        // Compiled once per thread and mapping (see `compile`).
        match compile(&mapping, host.jq_options()) {
            Ok(mappers) => write_batch(&host, &mapping, &mappers, batch).await,
            Err(e) => tracing::error!("the mapping in force does not compile: {e}"),
        }
    }
}

async fn write_batch(host: &Host, config: &MappingInForce, mappers: &[ResourceMapper], batch: Vec<Event>) {
    let events = batch.len();
    let items = join_all(batch.iter().map(|event| host.plugin.webhook_items(&event.body))).await;
    // Later events win: an entity named twice keeps its newest state.
    let mut entities: IndexMap<(String, String), Entity> = IndexMap::new();
    for result in items.into_iter().flatten() {
        let (kind, raw) = match result {
            Ok(item) => item,
            Err(e) => {
                tracing::warn!("live event: {e}");
                continue;
            }
        };
        for mapper in mappers.iter().filter(|m| m.kind() == kind) {
            let outcome = mapper.map_json(&raw);
            for error in &outcome.errors {
                tracing::warn!(kind, "live event item not mapped: {error}");
            }
            for entity in outcome.entities {
                let key = (entity.blueprint.clone(), entity.identifier.to_string());
                entities.shift_remove(&key);
                entities.insert(key, entity);
            }
        }
    }
    if entities.is_empty() {
        return;
    }
    let list: Vec<Entity> = entities.into_values().collect();
    let options = UpsertOptions {
        merge: config.enable_merge_entity,
        create_missing_related_entities: config.create_missing_related_entities,
    };
    match host.port.upsert_entities(&list, options).await {
        Ok(report) => {
            metrics().count_entities("live", "upserted", report.landed.len());
            metrics().count_entities("live", "failed", report.failed.len());
            for failure in report.failed.iter().take(5) {
                tracing::warn!(blueprint = %failure.blueprint, identifier = %failure.identifier,
                    "live event entity refused: {} {}", failure.error, failure.message);
            }
            tracing::debug!(events, entities = report.landed.len(), "live events written");
        }
        Err(e) => tracing::error!(events, "live events could not be written: {e}"),
    }
}
