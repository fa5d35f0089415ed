//! Entry points of the fuzz targets (`fuzz/`, run with cargo fuzz) and of
//! their regression tests: each takes arbitrary bytes and must not panic.
//! The webhook target drives the real HTTP handler and maps what it accepts;
//! the config target parses and compiles a port-app-config; the Port target
//! feeds every reply decoder the client has.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::json;
use tower::ServiceExt;

use crate::harness::IntegrationEnv;
use ocean_host::journal::JournalOptions;
use ocean_host::live_events::LiveEvents;
use ocean_host::mapping::{JqOptions, ResourceMapper};
use ocean_host::port_app_config::{self, MappingSource};
use ocean_host::server::{ServerState, router};

/// What the webhook route may answer; anything else is a finding.
const WEBHOOK_STATUSES: &[StatusCode] = &[
    StatusCode::ACCEPTED,
    StatusCode::BAD_REQUEST,
    StatusCode::PAYLOAD_TOO_LARGE,
    StatusCode::UNPROCESSABLE_ENTITY,
    StatusCode::INSUFFICIENT_STORAGE,
];

struct WebhookHarness {
    runtime: tokio::runtime::Runtime,
    app: axum::Router,
    live: LiveEvents,
    /// Each kind's mapper from the default port-app-config.
    mappers: Vec<(String, ResourceMapper)>,
}

fn webhook_harness() -> WebhookHarness {
    // Nothing listens on port 9: the harness never reaches either service.
    let host = IntegrationEnv::new(
        "http://127.0.0.1:9",
        "http://127.0.0.1:9",
        &["fuzz".into()],
        "codecov",
    )
    .host()
    .expect("the fuzz harness's settings are valid");
    // A journal of its own per process, bounded so a long run cannot fill the disk.
    let dir = ocean_host::journal::scratch_journal_dir("fuzz");
    let options = JournalOptions {
        max_bytes: 64 * 1024 * 1024,
        // Fuzzing checks the route, not the disk: a sync per input would cap it at the disk's pace.
        sync: false,
        ..JournalOptions::default()
    };
    let live = LiveEvents::open(&dir, options, 16).expect("the fuzz harness's journal opens");
    let state = ServerState {
        host: Arc::new(host),
        live: live.clone(),
        resyncs: Arc::default(),
        secret: None,
    };
    let loaded =
        port_app_config::parse_str(codecov::wiring::PORT_APP_CONFIG, "default", JqOptions::default())
            .expect("the default port-app-config compiles");
    let MappingSource::AppConfig(config) = loaded.source else {
        panic!("the default mapping is a port-app-config");
    };
    let kinds = config.resources.iter().map(|r| r.kind.clone());
    WebhookHarness {
        runtime: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime"),
        app: router(state),
        live,
        mappers: kinds.zip(loaded.mappers).collect(),
    }
}

thread_local! {
    static WEBHOOK: WebhookHarness = webhook_harness();
}

/// Posts `body` to the webhook route as JSON and maps whatever it accepts
/// with every kind of the default mapping (a live event maps the kinds the
/// plugin names; every kind is the stricter test).
pub fn webhook_body(body: &[u8]) {
    WEBHOOK.with(|harness| {
        let request = Request::post("/integration/webhook")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_vec()))
            .expect("a valid request");
        let response = harness
            .runtime
            .block_on(harness.app.clone().oneshot(request))
            .expect("the router is infallible");
        assert!(
            WEBHOOK_STATUSES.contains(&response.status()),
            "the webhook route answered {}",
            response.status()
        );
        let live = &harness.live;
        let taken = harness
            .runtime
            .block_on(live.queue.take(64, std::time::Duration::ZERO));
        for event in taken.into_iter().flatten() {
            let bytes = match event.body {
                Some(body) => body.to_vec(),
                None => match live.journal.read(event.seq) {
                    Ok(Some(bytes)) => bytes,
                    _ => continue,
                },
            };
            let body: serde_json::Value = serde_json::from_slice(&bytes).expect("an accepted event is JSON");
            for (_, mapper) in &harness.mappers {
                let _ = mapper.map_json(&body);
            }
            // Applied: the journal's segments are deleted as the run goes on.
            live.journal.applied(event.seq, Vec::new());
        }
    });
}

/// Parses `text` as a port-app-config (YAML or JSON) and compiles every expression.
pub fn port_app_config(text: &[u8]) {
    let text = String::from_utf8_lossy(text);
    if let Ok(loaded) = port_app_config::parse_str(&text, "fuzz.yml", JqOptions::default()) {
        // What compiled must also run: each mapper on a small Codecov-like item.
        let item = json!({"repo": {"name": "r"}, "head": {"totals": {"c": "1"}}, "owner": {"username": "o"}});
        for mapper in &loaded.mappers {
            let _ = mapper.map_json(&item);
        }
    }
}

/// Feeds `reply` to every decoder of Port's replies (see `ocean_port::fuzzing`).
pub fn port_reply(reply: &[u8]) {
    ocean_port::fuzzing::port_reply(reply);
}
