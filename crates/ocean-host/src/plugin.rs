//! What a data source implements for the runtime: its kinds, a paged fetch per
//! kind, and how a webhook it sent becomes raw items. Nothing here knows any
//! particular source.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use tokio::sync::mpsc;

pub use super::probe::{Check, SourceCheck};
pub use super::raw_item::RawItem;

/// One page of raw items, as the source returned them.
pub type Page = Vec<RawItem>;

/// A part of a kind that could not be fetched (an owner, a repository). The
/// runtime treats the kind as incomplete and so deletes nothing for it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{kind}: {scope}: {message}")]
pub struct FetchError {
    /// The kind being fetched.
    pub kind: String,
    /// What part of it failed, e.g. `repository acme/api`.
    pub scope: String,
    /// Why, as the source said it.
    pub message: String,
}

/// A raw item the source listed but could not read in full (e.g. a 403 for a
/// repository not activated, a 404 for one that vanished after the listing).
/// The runtime maps it only to learn its entity's blueprint and identifier:
/// that entity is neither written nor deleted this resync. When the mapping
/// cannot tell which entity it is, nothing of the kind is deleted.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldItem {
    /// The item as far as the source could read it (the listing's record).
    pub item: Value,
    /// Why it is held, for the summary, e.g. `403 on coverage: not activated`.
    pub reason: String,
}

/// What a fetch delivers, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// Raw items, each mapped and written (an empty page is never delivered).
    Page(Page),
    /// An item listed but not read in full: its entity is neither written nor deleted (see [`HeldItem`]).
    Held(HeldItem),
    /// A part of the kind the source could not read (e.g. all of one
    /// repository's commits, under a 403). The item stands in for the part's
    /// items and carries only what they share (e.g. their repository). The
    /// runtime maps it for its blueprint and relations, and keeps every owned
    /// entity of that blueprint that relates to where the stand-in's
    /// relations point; the rest of the kind reconciles. When the mapping
    /// gives the stand-in no relation, nothing of the kind is deleted.
    HeldPart(HeldItem),
    /// A line for the kind's summary, e.g. "listing re-read twice: 1 record
    /// recovered that paging skipped". It changes nothing that is written.
    Note(String),
    /// A part of the kind could not be fetched: nothing of the kind is deleted.
    Incomplete(FetchError),
}

/// Deliveries of one kind, in order, as the source produces them. The channel
/// is bounded, so a slow consumer slows the fetch instead of growing memory.
pub struct PageStream {
    pages: mpsc::Receiver<Delivery>,
}

/// The plugin's end of a [`PageStream`]: what a fetch sends its deliveries through. Every send
/// waits while the consumer is two pages behind and returns false once it has gone.
#[derive(Clone)]
pub struct PageSender {
    pages: mpsc::Sender<Delivery>,
}

/// Pages a fetch may run ahead of its consumer.
const PAGES_IN_FLIGHT: usize = 2;

impl PageStream {
    /// A connected sender and stream, for a plugin's `fetch` to hand the stream back and fill it
    /// from a task.
    pub fn channel() -> (PageSender, PageStream) {
        let (tx, rx) = mpsc::channel(PAGES_IN_FLIGHT);
        (PageSender { pages: tx }, PageStream { pages: rx })
    }

    /// A stream that holds just one error, e.g. for a kind the source lacks.
    pub fn failed(error: FetchError) -> PageStream {
        let (tx, rx) = mpsc::channel(1);
        let _ = tx.try_send(Delivery::Incomplete(error));
        PageStream { pages: rx }
    }

    /// The next delivery; `None` once every sender is dropped (the fetch is over).
    pub async fn next(&mut self) -> Option<Delivery> {
        self.pages.recv().await
    }
}

impl PageSender {
    /// Returns false when the consumer has gone, so the fetch can stop early.
    pub async fn page(&self, page: Page) -> bool {
        page.is_empty() || self.pages.send(Delivery::Page(page)).await.is_ok()
    }

    /// The kind is incomplete: nothing of it is deleted.
    pub async fn error(&self, error: FetchError) -> bool {
        self.pages.send(Delivery::Incomplete(error)).await.is_ok()
    }

    /// An item listed but not read in full: its entity is kept as it is.
    pub async fn held(&self, item: Value, reason: impl Into<String>) -> bool {
        let held = HeldItem {
            item,
            reason: reason.into(),
        };
        self.pages.send(Delivery::Held(held)).await.is_ok()
    }

    /// A part of the kind not read: its entities are kept as they are (see
    /// [`Delivery::HeldPart`]).
    pub async fn held_part(&self, stand_in: Value, reason: impl Into<String>) -> bool {
        let held = HeldItem {
            item: stand_in,
            reason: reason.into(),
        };
        self.pages.send(Delivery::HeldPart(held)).await.is_ok()
    }

    /// A line for the kind's summary.
    pub async fn note(&self, note: impl Into<String>) -> bool {
        self.pages.send(Delivery::Note(note.into())).await.is_ok()
    }

    /// Passes on what another stream delivered (a plugin wrapping another).
    pub async fn forward(&self, delivery: Delivery) -> bool {
        match delivery {
            Delivery::Page(page) => self.page(page).await,
            other => self.pages.send(other).await.is_ok(),
        }
    }
}

/// The kind a webhook item belongs to, and the item as JSON text (a payload
/// that is itself an item reaches the mapper as it arrived, never re-encoded).
pub type WebhookItem = (String, RawItem);

/// What one webhook body stands for, read from it once.
#[derive(Debug, Clone, Default)]
pub struct WebhookEvent {
    /// Where what the body describes stands in the source's own history
    /// (e.g. its head commit's time in microseconds). For one entity the event
    /// with the greatest order wins, whatever order events arrived, were
    /// replayed or retried in. `None`: arrival order decides.
    pub order: Option<i64>,
    /// Its raw items. Items that need a further call to the source may fail
    /// alone; the others still count.
    pub items: Vec<Result<WebhookItem, FetchError>>,
}

/// A data source: what a plugin implements so the host can resync its kinds and take its webhooks.
/// Shared across tasks (`Arc<dyn Plugin>`); calls may run concurrently.
pub trait Plugin: Send + Sync + 'static {
    /// The integration type, the spec's `type`.
    fn name(&self) -> &'static str;

    /// The kinds `fetch` serves (the spec's kinds).
    fn kinds(&self) -> &'static [&'static str];

    /// Starts fetching `kind` in the background; `selector` holds the
    /// resource's selector fields other than `query`.
    fn fetch(self: Arc<Self>, kind: &str, selector: &Map<String, Value>) -> PageStream;

    /// Whether a webhook request came from this source (headers lower-cased).
    /// `body` is JSON the server has already checked; it is read here without
    /// building a document, as most requests are accepted and parsed later.
    fn recognises_webhook(&self, headers: &BTreeMap<String, String>, body: &[u8]) -> bool;

    /// What each of a batch of webhook bodies stands for, in the bodies'
    /// order (a batch lets the source read what they share at once).
    fn webhook_events<'a>(&'a self, bodies: &'a [&'a RawValue]) -> BoxFuture<'a, Vec<WebhookEvent>>;

    /// For `probe`: whether the source answers with the configured
    /// credentials, and what would stop a resync reading it, each check with
    /// the kinds and scope it covers and, for a failure, the setting that
    /// fixes it. Never a secret in them. The default: a warning that this
    /// plugin has no such check.
    fn probe(&self) -> BoxFuture<'_, Vec<SourceCheck>> {
        let check = Check::warn(
            format!("{} source", self.name()),
            "this plugin offers no connection check; a resync is the test",
        );
        Box::pin(std::future::ready(vec![SourceCheck::whole(check)]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn raw(items: &[Value]) -> Page {
        items.iter().map(RawItem::from_value).collect()
    }

    #[tokio::test]
    async fn deliveries_arrive_in_order_and_empty_pages_are_skipped() {
        let (tx, mut rx) = PageStream::channel();
        tokio::spawn(async move {
            tx.page(raw(&[json!(1)])).await;
            tx.page(vec![]).await;
            tx.error(FetchError {
                kind: "k".into(),
                scope: "owner a".into(),
                message: "401".into(),
            })
            .await;
            tx.held(json!({"name": "r"}), "403: not activated").await;
            tx.held_part(json!({"repo": "r"}), "404: gone").await;
            tx.note("listing re-read once").await;
            tx.page(raw(&[json!(2), json!(3)])).await;
        });
        assert_eq!(rx.next().await, Some(Delivery::Page(raw(&[json!(1)]))));
        assert!(matches!(rx.next().await, Some(Delivery::Incomplete(e)) if e.scope == "owner a"));
        assert!(matches!(rx.next().await, Some(Delivery::Held(h)) if h.reason == "403: not activated"));
        assert!(matches!(rx.next().await, Some(Delivery::HeldPart(h)) if h.reason == "404: gone"));
        assert_eq!(
            rx.next().await,
            Some(Delivery::Note("listing re-read once".into()))
        );
        assert_eq!(rx.next().await, Some(Delivery::Page(raw(&[json!(2), json!(3)]))));
        assert_eq!(rx.next().await, None);
    }
}
