//! The resync against the Port simulator with a scripted source: what one
//! item the source could not read, one item that failed to map, or one
//! refused upsert holds back, and what still reconciles around it.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use ocean_codecov::port::PortClient;
use ocean_codecov::runtime::mapping::{JqOptions, ResourceMapper};
use ocean_codecov::runtime::plugin::{Delivery, FetchError, PageStream, Plugin, WebhookItem};
use ocean_codecov::runtime::port_app_config::{self, MappingSource, model::PortAppConfig};
use ocean_codecov::runtime::resync::progress::Quiet;
use ocean_codecov::runtime::resync::{Deletion, Resync, ResyncReport};
use ocean_codecov::sim::Served;
use ocean_codecov::sim::port::{PortSim, PortSimConfig};
use serde_json::{Map, Value, json};

/// A source that delivers, per kind, what the test scripted for this resync.
#[derive(Default)]
struct Scripted {
    script: Mutex<BTreeMap<String, Vec<Delivery>>>,
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
        let (tx, stream) = PageStream::channel();
        tokio::spawn(async move {
            for delivery in deliveries {
                let open = match delivery {
                    Delivery::Page(page) => tx.page(page).await,
                    Delivery::Held(held) => tx.held(held.item, held.reason).await,
                    Delivery::Note(note) => tx.note(note).await,
                    Delivery::Incomplete(e) => tx.error(e).await,
                };
                if !open {
                    return;
                }
            }
        });
        stream
    }

    fn recognises_webhook(&self, _headers: &BTreeMap<String, String>, _body: &Value) -> bool {
        false
    }

    fn webhook_items<'a>(&'a self, _body: &'a Value) -> BoxFuture<'a, Vec<Result<WebhookItem, FetchError>>> {
        Box::pin(async { Vec::new() })
    }
}

const THING: &str = r#"
deleteDependentEntities: false
createMissingRelatedEntities: false
entityDeletionThreshold: 1
resources:
  - kind: thing
    selector:
      query: "true"
    port:
      entity:
        mappings:
          identifier: .id
          title: .id
          blueprint: '"thing"'
          properties:
            size: .size | if . == "bad" then error("size is bad") else . end
"#;

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
    let loopback = common::LOOPBACK.parse().expect("loopback");
    let (served, sim) = PortSim::start(PortSimConfig::default(), loopback)
        .await
        .expect("Port simulator");
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
        resync.run().await.expect("the resync runs")
    }

    fn identifiers(&self, blueprint: &str) -> Vec<String> {
        let mut ids: Vec<String> = self
            .sim
            .entities(blueprint)
            .iter()
            .filter_map(|e| e["identifier"].as_str().map(String::from))
            .collect();
        ids.sort();
        ids
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
            .map(|(id, size)| json!({"id": id, "size": size}))
            .collect(),
    )
}

fn held(item: Value, reason: &str) -> Delivery {
    Delivery::Held(ocean_codecov::runtime::plugin::HeldItem {
        item,
        reason: reason.into(),
    })
}

/// Port holds a, b, c, d (size 1 each), written by this integration.
async fn seeded() -> World {
    let world = world(&[thing_blueprint()]).await;
    world.plugin.set(
        "thing",
        vec![things(&[
            ("a", json!(1)),
            ("b", json!(1)),
            ("c", json!(1)),
            ("d", json!(1)),
        ])],
    );
    let first = world.resync(THING).await;
    assert!(first.succeeded(), "{first:?}");
    assert_eq!(world.identifiers("thing"), ["a", "b", "c", "d"]);
    world
}

#[tokio::test]
async fn a_held_item_protects_its_entity_alone_and_is_not_written() {
    let world = seeded().await;
    world.plugin.set(
        "thing",
        vec![
            things(&[("a", json!(2))]),
            held(json!({"id": "b", "size": 9}), "403: not activated"),
            Delivery::Note("listing re-read once".into()),
        ],
    );
    let report = world.resync(THING).await;
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
    world.served.shutdown().await;
}

#[tokio::test]
async fn a_held_item_whose_entity_cannot_be_told_blocks_its_kinds_deletion() {
    let world = seeded().await;
    world.plugin.set(
        "thing",
        vec![
            things(&[("a", json!(1))]),
            held(json!({"name": "no id here"}), "404: vanished after listing"),
        ],
    );
    let report = world.resync(THING).await;
    assert_eq!(world.identifiers("thing"), ["a", "b", "c", "d"]);
    assert_eq!(report.kinds[0].unidentified, 1);
    assert!(
        matches!(report.deletion, Deletion::Skipped { .. }),
        "{:?}",
        report.deletion
    );
    world.served.shutdown().await;
}

#[tokio::test]
async fn a_property_that_fails_to_map_protects_only_its_entity() {
    let world = seeded().await;
    world.plugin.set(
        "thing",
        vec![things(&[("a", json!(1)), ("b", json!("bad")), ("c", json!(1))])],
    );
    let report = world.resync(THING).await;
    assert_eq!(world.identifiers("thing"), ["a", "b", "c"], "d deleted, b kept");
    let kind = &report.kinds[0];
    assert_eq!((kind.mapping_errors, kind.held, kind.unidentified), (1, 1, 0));
    assert!(kind.held_samples[0].reason.contains("size is bad"), "{kind:?}");
    world.served.shutdown().await;
}

#[tokio::test]
async fn an_identifier_that_fails_to_map_blocks_its_kinds_deletion() {
    let world = seeded().await;
    world.plugin.set(
        "thing",
        vec![
            things(&[("a", json!(1)), ("b", json!(1))]),
            Delivery::Page(vec![json!({"size": 1})]),
        ],
    );
    let report = world.resync(THING).await;
    assert_eq!(world.identifiers("thing"), ["a", "b", "c", "d"]);
    assert_eq!(report.kinds[0].unidentified, 1);
    assert!(
        matches!(report.deletion, Deletion::Skipped { .. }),
        "{:?}",
        report.deletion
    );
    world.served.shutdown().await;
}

#[tokio::test]
async fn a_refused_upsert_protects_only_its_entity() {
    let world = seeded().await;
    // A string where the blueprint wants a number: Port refuses c alone.
    world.plugin.set(
        "thing",
        vec![things(&[("a", json!(1)), ("b", json!(1)), ("c", json!("ten"))])],
    );
    let report = world.resync(THING).await;
    assert_eq!(world.identifiers("thing"), ["a", "b", "c"], "d deleted, c kept");
    assert_eq!(world.property("thing", "c", "size"), json!(1));
    let kind = &report.kinds[0];
    assert_eq!((kind.upsert_failures, kind.held), (1, 1));
    assert!(kind.held_samples[0].reason.contains("upsert refused"), "{kind:?}");
    world.served.shutdown().await;
}
