//! The fuzz entry point of the client's reply decoders (feature `fuzzing`,
//! enabled by the test rig only): arbitrary bytes must never panic them.

use std::time::SystemTime;

use reqwest::header::{self, HeaderMap, HeaderValue};
use serde_json::{Value, json};

use crate::Entity;
use crate::entities::{BulkReply, SearchReply, UpsertReport, record_bulk_reply};

fn batch_entities() -> Vec<Entity> {
    (0..3)
        .map(|n| Entity {
            identifier: json!(format!("e{n}")),
            title: None,
            blueprint: "bp".into(),
            team: None,
            icon: None,
            properties: serde_json::Map::new(),
            relations: serde_json::Map::new(),
        })
        .collect()
}

/// Feeds `reply` to every decoder of Port's replies: the error body, the
/// bulk upsert reply (for a batch of three), the search page, the token
/// reply, and the retry hints read from headers.
pub fn port_reply(reply: &[u8]) {
    let _ = crate::PortErrorBody::parse(reply);
    if let Ok(bulk) = serde_json::from_slice::<BulkReply>(reply) {
        let entities = batch_entities();
        let members: Vec<&Entity> = entities.iter().collect();
        let mut report = UpsertReport::default();
        record_bulk_reply("bp", &[0, 1, 2], &members, bulk, &mut report);
        assert!(
            report.failed.len() + report.landed.len() >= 3,
            "every entity of the batch is accounted for"
        );
    }
    let _ = serde_json::from_slice::<SearchReply>(reply);
    let _ = crate::client::read_token_reply(reply);
    if let Ok(value) = HeaderValue::from_bytes(reply) {
        for name in [header::RETRY_AFTER.as_str(), "x-ratelimit-reset"] {
            let mut headers = HeaderMap::new();
            headers.insert(name, value.clone());
            let _ = ocean_support::retry::server_hint(&headers, SystemTime::now());
        }
    }
    let _: Option<Value> = serde_json::from_slice(reply).ok();
}
