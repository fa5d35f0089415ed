//! The Codecov plugin: API v2 client, the kinds it offers, and its webhook.

pub mod client;
pub mod coverage;
mod default_branch;
pub mod kinds;
pub mod listing;
pub mod payload;
pub mod probe;
pub mod settings;
pub mod webhook;
pub mod wiring;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

pub use client::{CodecovClient, CodecovError};
pub use kinds::{KINDS, Kind, KindSelector};
use ocean_host::plugin::{FetchError, PageStream, Plugin, SourceCheck, WebhookEvent};
pub use settings::{CodecovSettings, Rounding, Service};

pub struct CodecovPlugin {
    client: Arc<CodecovClient>,
    /// The `coverage` resource's `followBranches`, as the last resync read it:
    /// webhooks carry no selector, so they follow the mapping's last reading.
    follow_all_branches: AtomicBool,
    default_branches: default_branch::DefaultBranches,
}

impl CodecovPlugin {
    pub fn new(settings: CodecovSettings) -> Result<Self, CodecovError> {
        Ok(CodecovPlugin {
            client: Arc::new(CodecovClient::new(settings)?),
            follow_all_branches: AtomicBool::new(false),
            default_branches: Default::default(),
        })
    }

    pub fn client(&self) -> &Arc<CodecovClient> {
        &self.client
    }
}

impl Plugin for CodecovPlugin {
    fn name(&self) -> &'static str {
        "codecov"
    }

    fn kinds(&self) -> &'static [&'static str] {
        KINDS
    }

    fn fetch(self: Arc<Self>, kind: &str, selector: &Map<String, Value>) -> PageStream {
        let failed = |message: String| {
            PageStream::failed(FetchError {
                kind: kind.to_string(),
                scope: "selector".into(),
                message,
            })
        };
        let Some(parsed) = Kind::parse(kind) else {
            return failed(format!(
                "unknown kind {kind:?}; this integration offers {}",
                KINDS.join(", ")
            ));
        };
        let selector = match KindSelector::from_fields(selector) {
            Ok(selector) => selector,
            Err(fault) => return failed(fault.to_string()),
        };
        if parsed == Kind::Coverage {
            self.follow_all_branches
                .store(selector.follow_all_branches, Ordering::Relaxed);
        }
        let (pages, stream) = PageStream::channel();
        tokio::spawn(kinds::fetch(self.client.clone(), parsed, selector, pages));
        stream
    }

    fn recognises_webhook(&self, headers: &BTreeMap<String, String>, body: &[u8]) -> bool {
        webhook::is_codecov_webhook(headers, body)
    }

    fn webhook_events<'a>(&'a self, bodies: &'a [&'a RawValue]) -> BoxFuture<'a, Vec<WebhookEvent>> {
        let follow_all = self.follow_all_branches.load(Ordering::Relaxed);
        webhook::batch_events(&self.client, &self.default_branches, bodies, follow_all).boxed()
    }

    fn probe(&self) -> BoxFuture<'_, Vec<SourceCheck>> {
        probe::checks(&self.client).boxed()
    }
}
