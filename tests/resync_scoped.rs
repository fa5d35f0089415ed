//! The resync against the Port simulator with a scripted source: what one
//! item the source could not read, one item that failed to map, or one
//! refused upsert holds back, and what still reconciles around it; resources
//! removed from the mapping, relations, Port's clock, Port's unreadable
//! replies, duplicates inside a page.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use ocean_host::mapping::{JqOptions, ResourceMapper};
use ocean_host::plugin::{Delivery, FetchError, PageStream, Plugin, RawItem, WebhookEvent};
use ocean_host::port_app_config::{self, MappingSource, model::PortAppConfig};
use ocean_host::resync::plan::{Kept, Verdict};
use ocean_host::resync::progress::Quiet;
use ocean_host::resync::{Deletion, Resync, ResyncError, ResyncReport};
use ocean_port::{Entity, PortClient, UpsertOptions};
use ocean_sim::Served;
use ocean_sim::port::{PortSim, PortSimConfig};
use ocean_testkit::harness;
use serde_json::{Map, Value, json};

/// A source that delivers, per kind, what the test scripted for this resync.
#[derive(Default)]
struct Scripted {
    script: Mutex<BTreeMap<String, Vec<Delivery>>>,
    /// Written to Port while the next fetch runs, as a live event would.
    live_write: Mutex<Option<(Arc<PortClient>, Entity)>>,
}

impl Scripted {
    fn set(&self, kind: &str, deliveries: Vec<Delivery>) {
        self.script
            .lock()
            .expect("script")
            .insert(kind.to_string(), deliveries);
    }
}

impl Plugin for Scripted {
    fn name(&self) -> &'static str {
        "scripted"
    }

    fn kinds(&self) -> &'static [&'static str] {
        &["thing", "part"]
    }

    fn fetch(self: Arc<Self>, kind: &str, _selector: &Map<String, Value>) -> PageStream {
        let deliveries = self
            .script
            .lock()
            .expect("script")
            .get(kind)
            .cloned()
            .unwrap_or_default();
        let live = self.live_write.lock().expect("live write").take();
        let (tx, stream) = PageStream::channel();
        tokio::spawn(async move {
            if let Some((port, entity)) = live {
                let options = UpsertOptions {
                    merge: true,
                    create_missing_related_entities: false,
                };
                port.upsert_entity(&entity, options)
                    .await
                    .expect("the live write lands");
            }
            for delivery in deliveries {
                if !tx.forward(delivery).await {
                    return;
                }
            }
        });
        stream
    }

    fn recognises_webhook(&self, _headers: &BTreeMap<String, String>, _body: &[u8]) -> bool {
        false
    }

    fn webhook_events<'a>(
        &'a self,
        bodies: &'a [&'a serde_json::value::RawValue],
    ) -> BoxFuture<'a, Vec<WebhookEvent>> {
        Box::pin(async { vec![WebhookEvent::default(); bodies.len()] })
    }
}

/// The `thing` kind alone, every guard but the threshold off.
fn thing() -> String {
    two_kinds(&["thing"], false, false)
}

fn thing_blueprint() -> Value {
    json!({"identifier": "thing", "title": "Thing",
        "schema": {"properties": {"size": {"type": "number"}}}, "relations": {}})
}

struct World {
    served: Served,
    sim: Arc<PortSim>,
    port: PortClient,
    plugin: Arc<Scripted>,
}

async fn world(blueprints: &[Value]) -> World {
    world_with(PortSimConfig::default(), blueprints).await
}

async fn world_with(config: PortSimConfig, blueprints: &[Value]) -> World {
    let loopback = common::LOOPBACK.parse().expect("loopback");
    let (served, sim) = PortSim::start(config, loopback).await.expect("Port simulator");
    for blueprint in blueprints {
        sim.add_blueprint(blueprint.clone());
    }
    let port = common::client_for(&served);
    World {
        served,
        sim,
        port,
        plugin: Arc::new(Scripted::default()),
    }
}

fn mapping(yaml: &str) -> (PortAppConfig, Vec<ResourceMapper>) {
    let loaded =
        port_app_config::parse_str(yaml, "test mapping", JqOptions::default()).expect("mapping loads");
    let MappingSource::AppConfig(config) = loaded.source else {
        panic!("a port-app-config")
    };
    (config, loaded.mappers)
}

impl World {
    async fn resync(&self, yaml: &str) -> ResyncReport {
        self.resync_with(yaml, false).await
    }

    async fn resync_with(&self, yaml: &str, dry_run: bool) -> ResyncReport {
        self.try_resync(yaml, dry_run).await.expect("the resync runs")
    }

    async fn try_resync(&self, yaml: &str, dry_run: bool) -> Result<ResyncReport, ResyncError> {
        let (config, mappers) = mapping(yaml);
        let stop = std::sync::atomic::AtomicBool::new(false);
        let resync = Resync {
            plugin: self.plugin.clone(),
            port: &self.port,
            config: &config,
            mappers: &mappers,
            progress: &Quiet,
            dry_run,
            stop: &stop,
        };
        resync.run().await
    }

    fn identifiers(&self, blueprint: &str) -> Vec<String> {
        harness::identifiers(&self.sim, blueprint)
    }

    /// What the source lists for `thing` in the next resync: one page.
    fn list_things(&self, items: &[(&str, Value)]) {
        self.plugin.set("thing", vec![things(items)]);
    }

    /// What the source lists for `part` in the next resync: one page.
    fn list_parts(&self, items: &[(&str, &str)]) {
        self.plugin.set("part", vec![parts(items)]);
    }

    fn property(&self, blueprint: &str, identifier: &str, name: &str) -> Value {
        self.sim
            .entities(blueprint)
            .into_iter()
            .find(|e| e["identifier"] == identifier)
            .map(|e| e["properties"][name].clone())
            .unwrap_or(Value::Null)
    }
}

fn things(items: &[(&str, Value)]) -> Delivery {
    Delivery::Page(
        items
            .iter()
            .map(|(id, size)| RawItem::from_value(&json!({"id": id, "size": size})))
            .collect(),
    )
}

fn assert_deletion_skipped(report: &ResyncReport) {
    assert!(
        matches!(report.deletion, Deletion::Skipped { .. }),
        "{:?}",
        report.deletion
    );
}

fn held(item: Value, reason: &str) -> Delivery {
    Delivery::Held(ocean_host::plugin::HeldItem {
        item,
        reason: reason.into(),
    })
}

/// Port holds a, b, c, d (size 1 each), written by this integration.
async fn seeded() -> World {
    let world = world(&[thing_blueprint()]).await;
    world.list_things(&[("a", json!(1)), ("b", json!(1)), ("c", json!(1)), ("d", json!(1))]);
    let first = world.resync(&thing()).await;
    assert!(first.succeeded(), "{first:?}");
    assert_eq!(world.identifiers("thing"), ["a", "b", "c", "d"]);
    settle().await;
    world
}

/// Port seeded with a, b, c, d, then one resync of what `deliveries` list for `thing`.
async fn resync_after_seed(deliveries: Vec<Delivery>) -> (World, ResyncReport) {
    let world = seeded().await;
    world.plugin.set("thing", deliveries);
    let report = world.resync(&thing()).await;
    (world, report)
}

/// Port's `Date` has whole seconds, so the resync's cutoff lags Port by
/// under one: what was written just before may not count as older yet.
use ocean_testkit::harness::settle_port_clock as settle;

#[tokio::test]
async fn a_held_item_protects_its_entity_alone_and_is_not_written() {
    let (world, report) = resync_after_seed(vec![
        things(&[("a", json!(2))]),
        held(json!({"id": "b", "size": 9}), "403: not activated"),
        Delivery::Note("listing re-read once".into()),
    ])
    .await;
    // b is kept as it was (size 1, not 9); c and d are gone from the source and deleted.
    assert_eq!(world.identifiers("thing"), ["a", "b"]);
    assert_eq!(world.property("thing", "b", "size"), json!(1));
    assert_eq!(world.property("thing", "a", "size"), json!(2));
    let kind = &report.kinds[0];
    assert_eq!(kind.held, 1);
    assert_eq!(kind.held_samples[0].identifier, "b");
    assert_eq!(kind.held_samples[0].reason, "403: not activated");
    assert_eq!(kind.notes, ["listing re-read once"]);
    assert!(
        matches!(report.deletion, Deletion::Done { deleted: 2, .. }),
        "{:?}",
        report.deletion
    );
    assert!(!report.succeeded(), "a held-back entity is reported");
}

#[tokio::test]
async fn an_item_whose_entity_cannot_be_told_blocks_its_kinds_deletion() {
    // Held back by the source with no identifier, or one that fails to map.
    for unidentified in [
        held(json!({"name": "no id here"}), "404: vanished after listing"),
        Delivery::Page(vec![RawItem::from_value(&json!({"size": 1}))]),
    ] {
        let (world, report) = resync_after_seed(vec![things(&[("a", json!(1))]), unidentified]).await;
        assert_eq!(world.identifiers("thing"), ["a", "b", "c", "d"]);
        assert_eq!(report.kinds[0].unidentified, 1);
        assert_deletion_skipped(&report);
    }
}

#[tokio::test]
async fn a_property_that_fails_to_map_protects_only_its_entity() {
    let (world, report) = resync_after_seed(vec![things(&[
        ("a", json!(1)),
        ("b", json!("bad")),
        ("c", json!(1)),
    ])])
    .await;
    assert_eq!(world.identifiers("thing"), ["a", "b", "c"], "d deleted, b kept");
    let kind = &report.kinds[0];
    assert_eq!((kind.mapping_errors, kind.held, kind.unidentified), (1, 1, 0));
    assert!(kind.held_samples[0].reason.contains("size is bad"), "{kind:?}");
}

#[tokio::test]
async fn a_refused_upsert_protects_only_its_entity() {
    // A string where the blueprint wants a number: Port refuses c alone.
    let (world, report) = resync_after_seed(vec![things(&[
        ("a", json!(1)),
        ("b", json!(1)),
        ("c", json!("ten")),
    ])])
    .await;
    assert_eq!(world.identifiers("thing"), ["a", "b", "c"], "d deleted, c kept");
    assert_eq!(world.property("thing", "c", "size"), json!(1));
    let kind = &report.kinds[0];
    assert_eq!((kind.upsert_failures, kind.held), (1, 1));
    assert!(kind.held_samples[0].reason.contains("upsert refused"), "{kind:?}");
}

/// Two kinds in two blueprints: `part` relates to `thing`.
fn two_kinds(kinds: &[&str], create_missing: bool, delete_dependents: bool) -> String {
    let mut yaml = format!(
        "deleteDependentEntities: {delete_dependents}\ncreateMissingRelatedEntities: {create_missing}\nentityDeletionThreshold: 1\nresources:\n"
    );
    for kind in kinds {
        let mappings = if *kind == "thing" {
            THING_MAPPINGS
        } else {
            PART_MAPPINGS
        };
        yaml.push_str(&format!(
            "  - kind: {kind}\n    selector:\n      query: \"true\"\n    port:\n      entity:\n        mappings:\n          identifier: .id\n          blueprint: '\"{kind}\"'\n{mappings}"
        ));
    }
    yaml
}

/// A resource's mappings after its identifier and blueprint.
const THING_MAPPINGS: &str = r#"          title: .id
          properties:
            size: .size | if . == "bad" then error("size is bad") else . end
"#;

const PART_MAPPINGS: &str = r#"          relations:
            of: .of
"#;

fn part_blueprint() -> Value {
    json!({"identifier": "part", "title": "Part", "schema": {"properties": {}},
        "relations": {"of": {"target": "thing", "many": false, "required": false}}})
}

/// Port holding what one resync of `yaml` wrote for these things and parts, settled.
async fn synced_two_kinds(things: &[(&str, Value)], parts: &[(&str, &str)], yaml: &str) -> World {
    let world = world(&[thing_blueprint(), part_blueprint()]).await;
    world.list_things(things);
    world.list_parts(parts);
    let report = world.resync(yaml).await;
    assert!(report.succeeded(), "{report:?}");
    settle().await;
    world
}

fn parts(items: &[(&str, &str)]) -> Delivery {
    Delivery::Page(
        items
            .iter()
            .map(|(id, of)| RawItem::from_value(&json!({"id": id, "of": of})))
            .collect(),
    )
}

#[tokio::test]
async fn a_resource_removed_from_the_mapping_leaves_nothing_behind() {
    let both = two_kinds(&["thing", "part"], false, false);
    let world = synced_two_kinds(&[("t1", json!(1))], &[("p1", "t1"), ("p2", "t1")], &both).await;
    assert_eq!(world.identifiers("part"), ["p1", "p2"]);
    // The `part` resource is removed in Port's UI: its entities go too.
    let report = world.resync(&two_kinds(&["thing"], false, false)).await;
    assert!(world.identifiers("part").is_empty(), "{report:?}");
    assert_eq!(world.identifiers("thing"), ["t1"]);
    let plan = report.deletion_plan.expect("a deletion plan");
    assert_eq!(plan.deletions(), 2);
    assert!(
        plan.decisions
            .iter()
            .all(|d| d.verdict == Verdict::Delete(ocean_host::resync::plan::Dropped::BlueprintNotMapped)),
        "{plan:?}"
    );
}

#[tokio::test]
async fn removed_resources_stay_under_the_same_guards() {
    let both = two_kinds(&["thing", "part"], false, false);
    let world = synced_two_kinds(&[("t1", json!(1))], &[("p1", "t1"), ("p2", "t1")], &both).await;
    // Two of three owned entities would go: above a threshold of one half.
    let guarded = two_kinds(&["thing"], false, false)
        .replace("entityDeletionThreshold: 1", "entityDeletionThreshold: 0.5");
    let report = world.resync(&guarded).await;
    assert_deletion_skipped(&report);
    assert_eq!(world.identifiers("part"), ["p1", "p2"]);
    // A kind that did not come through whole: nothing is deleted either.
    world.plugin.set(
        "thing",
        vec![Delivery::Incomplete(FetchError {
            kind: "thing".into(),
            scope: "owner o".into(),
            message: "503".into(),
        })],
    );
    let report = world.resync(&two_kinds(&["thing"], false, false)).await;
    assert_deletion_skipped(&report);
    assert_eq!(world.identifiers("part"), ["p1", "p2"]);
}

#[tokio::test]
async fn an_empty_mapping_fails_and_deletes_nothing() {
    let world = seeded().await;
    let empty = "deleteDependentEntities: false\nentityDeletionThreshold: 1\nresources: []\n";
    let outcome = world.try_resync(empty, false).await;
    let error = outcome.expect_err("an empty mapping is an error").to_string();
    assert!(error.contains("no resources"), "{error}");
    assert_eq!(world.identifiers("thing"), ["a", "b", "c", "d"]);
}

#[tokio::test]
async fn duplicates_inside_a_page_are_written_once_and_counted() {
    let world = world(&[thing_blueprint()]).await;
    world.list_things(&[("a", json!(1)), ("b", json!(1)), ("a", json!(2))]);
    let report = world.resync(&thing()).await;
    let kind = &report.kinds[0];
    assert_eq!(
        (kind.created, kind.updated, kind.duplicates),
        (2, 0, 1),
        "{kind:?}"
    );
    assert_eq!(
        world.property("thing", "a", "size"),
        json!(2),
        "the last one wins"
    );
}

#[tokio::test]
async fn a_dry_run_prints_the_plan_it_would_apply() {
    let world = seeded().await;
    world.list_things(&[("a", json!(1)), ("b", json!(5)), ("e", json!(1))]);
    let report = world.resync_with(&thing(), true).await;
    let plan = &report.plan["thing"];
    assert_eq!(
        (&plan.create, &plan.update),
        (&vec!["e".to_string()], &vec!["b".to_string()])
    );
    assert_eq!(plan.delete, ["c", "d"]);
    assert!(matches!(
        report.deletion,
        Deletion::Planned {
            would_delete: 2,
            owned: 4
        }
    ));
    assert_eq!(
        world.identifiers("thing"),
        ["a", "b", "c", "d"],
        "a dry run writes nothing"
    );
}

#[tokio::test]
async fn ports_clock_decides_what_is_older_than_the_resync() {
    // The host's clock runs an hour ahead of Port's.
    let config = PortSimConfig {
        clock_offset: jiff::SignedDuration::from_hours(-1),
        ..PortSimConfig::default()
    };
    let world = world_with(config, &[thing_blueprint()]).await;
    world.list_things(&[("a", json!(1)), ("b", json!(1))]);
    assert!(world.resync(&thing()).await.succeeded());
    settle().await;
    // A live event writes `late` while the next resync runs; b is gone from the source.
    let live: Entity = serde_json::from_value(json!({"identifier": "late", "title": "late",
        "blueprint": "thing", "properties": {"size": 3}, "relations": {}}))
    .expect("entity");
    *world.plugin.live_write.lock().expect("live write") =
        Some((Arc::new(common::client_for(&world.served)), live));
    world.list_things(&[("a", json!(1))]);
    let report = world.resync(&thing()).await;
    assert_eq!(world.identifiers("thing"), ["a", "late"], "{report:?}");
    let plan = report.deletion_plan.expect("a deletion plan");
    assert!(
        plan.decisions
            .iter()
            .any(|d| d.identifier == "late" && d.verdict == Verdict::Keep(Kept::WrittenSince)),
        "{plan:?}"
    );
}

#[tokio::test]
async fn an_unreadable_reply_from_port_fails_that_request_only() {
    use ocean_sim::faults::{Fault, FaultConfig};
    let world = seeded().await;
    world.list_things(&[("a", json!(7)), ("b", json!(1)), ("c", json!(1))]);
    // The resync's calls: the blueprints, the page's lookup, then the bulk upsert, answered 200 but cut short.
    world.sim.faults().set(FaultConfig {
        script: [Fault::Pass, Fault::Pass, Fault::Garbled].into(),
        ..FaultConfig::default()
    });
    let report = world.resync(&thing()).await;
    let kind = &report.kinds[0];
    assert_eq!((kind.upsert_failures, kind.held), (1, 1), "{kind:?}");
    let sample = kind.error_samples.join("\n");
    assert!(sample.contains("unexpected_reply"), "{sample}");
    assert!(!sample.contains("credentials"), "{sample}");
    assert_eq!(world.identifiers("thing"), ["a", "b", "c"], "d is still deleted");
}

#[tokio::test]
async fn upserts_refused_for_a_missing_related_entity_are_retried_after_the_rest() {
    let world = world(&[thing_blueprint(), part_blueprint()]).await;
    world.list_things(&[("t1", json!(1))]);
    world.list_parts(&[("p1", "t1")]);
    // Parts come first, so p1 names a thing Port does not have yet.
    let report = world.resync(&two_kinds(&["part", "thing"], false, false)).await;
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(world.identifiers("part"), ["p1"]);
    assert_eq!(report.kinds[0].created, 1);
}

#[tokio::test]
async fn what_a_kept_entity_relates_to_is_not_deleted_from_under_it() {
    // Port creates the missing `ghost` thing, owned by this integration.
    let yaml = two_kinds(&["thing", "part"], true, true);
    let world = synced_two_kinds(&[("t1", json!(1))], &[("p1", "t1"), ("p2", "ghost")], &yaml).await;
    assert_eq!(world.identifiers("thing"), ["ghost", "t1"]);
    let report = world.resync(&yaml).await;
    assert_eq!(world.identifiers("thing"), ["ghost", "t1"], "{report:?}");
    assert_eq!(
        world.identifiers("part"),
        ["p1", "p2"],
        "no cascade into what this resync wrote"
    );
}

#[tokio::test]
async fn a_deletion_never_cascades_into_an_entity_this_resync_wrote() {
    let yaml = two_kinds(&["thing", "part"], false, true);
    let world = synced_two_kinds(
        &[("t1", json!(1)), ("t2", json!(1))],
        &[("p1", "t1"), ("p2", "t2")],
        &yaml,
    )
    .await;
    // The source drops t2 but still lists p2, which relates to it.
    world.list_things(&[("t1", json!(1))]);
    let report = world.resync(&yaml).await;
    assert_eq!(world.identifiers("part"), ["p1", "p2"], "{report:?}");
    assert_eq!(world.identifiers("thing"), ["t1", "t2"]);
    settle().await;
    // Once p2 is gone as well, both go.
    world.list_parts(&[("p1", "t1")]);
    world.resync(&yaml).await;
    assert_eq!(world.identifiers("part"), ["p1"]);
    assert_eq!(world.identifiers("thing"), ["t1"]);
}

fn held_part(stand_in: Value, reason: &str) -> Delivery {
    Delivery::HeldPart(ocean_host::plugin::HeldItem {
        item: stand_in,
        reason: reason.into(),
    })
}

/// Things t1 and t2, and parts p1, p2 of t1 and p3, p4 of t2, all in Port;
/// then a resync where t1's parts are `held` and of t2's only p3 is listed.
async fn resync_with_held_part(held: Delivery) -> (World, ResyncReport) {
    let both = two_kinds(&["thing", "part"], false, false);
    let things = [("t1", json!(1)), ("t2", json!(1))];
    let all_parts = [("p1", "t1"), ("p2", "t1"), ("p3", "t2"), ("p4", "t2")];
    let world = synced_two_kinds(&things, &all_parts, &both).await;
    world.list_things(&things);
    world.plugin.set("part", vec![held, parts(&[("p3", "t2")])]);
    let report = world.resync(&both).await;
    (world, report)
}

#[tokio::test]
async fn a_held_part_protects_the_entities_related_to_its_stand_in_and_the_rest_reconciles() {
    let (world, report) = resync_with_held_part(held_part(json!({"of": "t1"}), "403 under t1")).await;
    // t1's parts are kept; of t2's, p4 is gone from the source and deleted.
    assert_eq!(world.identifiers("part"), ["p1", "p2", "p3"], "{report:?}");
    assert!(
        matches!(report.deletion, Deletion::Done { deleted: 1, .. }),
        "{:?}",
        report.deletion
    );
    let kind = &report.kinds[1];
    assert_eq!((kind.held_parts, kind.held), (1, 2), "{kind:?}");
    assert!(
        kind.held_part_samples[0].contains("of t1: 403 under t1"),
        "{kind:?}"
    );
    let held: Vec<&str> = kind.held_samples.iter().map(|h| h.identifier.as_str()).collect();
    assert_eq!(held, ["p1", "p2"]);
    assert!(!report.succeeded(), "a held part is reported");
}

#[tokio::test]
async fn a_held_part_the_mapping_relates_to_nothing_blocks_its_kinds_deletion() {
    let (world, report) = resync_with_held_part(held_part(json!({"name": "t1"}), "403 under t1")).await;
    assert_eq!(world.identifiers("part"), ["p1", "p2", "p3", "p4"]);
    assert_eq!(report.kinds[1].unidentified, 1);
    assert_deletion_skipped(&report);
}
