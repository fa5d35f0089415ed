//! What a data source implements for the runtime: its kinds, a paged fetch per
//! kind, and how a webhook it sent becomes raw items. Nothing here knows any
//! particular source.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde_json::{Map, Value};
use tokio::sync::mpsc;

/// One page of raw items, as the source returned them.
pub type Page = Vec<Value>;

/// A part of a kind that could not be fetched (an owner, a repository). The
/// runtime treats the kind as incomplete and so deletes nothing for it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{kind}: {scope}: {message}")]
pub struct FetchError {
    pub kind: String,
    pub scope: String,
    pub message: String,
}

/// Pages of one kind, in order, as the source produces them. The channel is
/// bounded, so a slow consumer slows the fetch instead of growing memory.
pub struct PageStream {
    pages: mpsc::Receiver<Result<Page, FetchError>>,
}

#[derive(Clone)]
pub struct PageSender {
    pages: mpsc::Sender<Result<Page, FetchError>>,
}

/// Pages a fetch may run ahead of its consumer.
const PAGES_IN_FLIGHT: usize = 2;

impl PageStream {
    pub fn channel() -> (PageSender, PageStream) {
        let (tx, rx) = mpsc::channel(PAGES_IN_FLIGHT);
        (PageSender { pages: tx }, PageStream { pages: rx })
    }

    /// A stream that holds just one error, e.g. for a kind the source lacks.
    pub fn failed(error: FetchError) -> PageStream {
        let (tx, rx) = mpsc::channel(1);
        let _ = tx.try_send(Err(error));
        PageStream { pages: rx }
    }

    pub async fn next(&mut self) -> Option<Result<Page, FetchError>> {
        self.pages.recv().await
    }
}

impl PageSender {
    /// Returns false when the consumer has gone, so the fetch can stop early.
    pub async fn page(&self, page: Page) -> bool {
        page.is_empty() || self.pages.send(Ok(page)).await.is_ok()
    }

    pub async fn error(&self, error: FetchError) -> bool {
        self.pages.send(Err(error)).await.is_ok()
    }
}

/// The kind a webhook item belongs to, and the item.
pub type WebhookItem = (String, Value);

pub trait Plugin: Send + Sync + 'static {
    /// The integration type, e.g. `codecov`.
    fn name(&self) -> &'static str;

    fn kinds(&self) -> &'static [&'static str];

    /// Starts fetching `kind` in the background; `selector` holds the
    /// resource's selector fields other than `query`.
    fn fetch(self: Arc<Self>, kind: &str, selector: &Map<String, Value>) -> PageStream;

    /// Whether a webhook request came from this source (headers lower-cased).
    fn recognises_webhook(&self, headers: &BTreeMap<String, String>, body: &Value) -> bool;

    /// The raw items a webhook body stands for. Items that need a further
    /// call to the source may fail alone; the others still count.
    fn webhook_items<'a>(&'a self, body: &'a Value) -> BoxFuture<'a, Vec<Result<WebhookItem, FetchError>>>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn pages_arrive_in_order_and_empty_pages_are_skipped() {
        let (tx, mut rx) = PageStream::channel();
        tokio::spawn(async move {
            tx.page(vec![json!(1)]).await;
            tx.page(vec![]).await;
            tx.error(FetchError {
                kind: "k".into(),
                scope: "owner a".into(),
                message: "401".into(),
            })
            .await;
            tx.page(vec![json!(2), json!(3)]).await;
        });
        assert_eq!(rx.next().await, Some(Ok(vec![json!(1)])));
        assert!(matches!(rx.next().await, Some(Err(e)) if e.scope == "owner a"));
        assert_eq!(rx.next().await, Some(Ok(vec![json!(2), json!(3)])));
        assert_eq!(rx.next().await, None);
    }
}
