//! Codecov's paged lists over live data: repositories newest first, pulls by
//! id, branches by a timestamp that moves. A record added or removed between
//! two page reads shifts the later pages, so one record is skipped or
//! repeated while `count` still matches what arrived. A list read in one
//! request is a snapshot; a longer one is read again, whole, until two
//! consecutive reads name the same records, and any record an earlier read
//! skipped is delivered then. A list that will not hold still is reported
//! incomplete, so nothing it lacks is taken as deleted.

use std::collections::HashSet;
use std::time::Duration;

use super::client::{CodecovClient, CodecovError, ListPage, ListingTally};
use ocean_host::raw_item::RawItem;

/// Whole reads of a multi-page list before it is given up as unstable.
const MAX_READS: u32 = 4;
/// Extra reads of a list whose first page came back empty, before it is believed.
const EMPTY_REREADS: u32 = 3;

/// How a list's records are told apart: by `field` (repository name, pull id, ...).
pub fn key_of(field: &'static str) -> impl Fn(&RawItem) -> Option<String> {
    move |record| {
        let raw = record.field(field)?;
        // A string by its value (escapes decoded), anything else by its text.
        serde_json::from_str::<String>(raw.get())
            .ok()
            .or_else(|| Some(raw.get().to_string()))
    }
}

/// What re-reading found, for the kind's summary.
#[derive(Debug, Default, Clone, Copy)]
pub struct Rereads {
    /// Lists that took more than the two reads a multi-page list always gets.
    pub unsettled: u64,
    /// Records a read skipped and a later read delivered.
    pub recovered: u64,
}

pub struct StableListing<'a, K: Fn(&RawItem) -> Option<String>> {
    client: &'a CodecovClient,
    owner: &'a str,
    path: &'a str,
    query: &'a [(&'a str, String)],
    page_size: u32,
    key: K,
    /// An empty first answer is read again before it is believed (an owner's
    /// repositories: believed at once, it would delete them all).
    confirm_empty: bool,
    delivered: HashSet<String>,
    previous: Option<HashSet<String>>,
    current: HashSet<String>,
    tally: ListingTally,
    read: u32,
    page: u32,
    done: bool,
    pub rereads: Rereads,
}

impl<'a, K: Fn(&RawItem) -> Option<String>> StableListing<'a, K> {
    pub fn new(
        client: &'a CodecovClient,
        owner: &'a str,
        path: &'a str,
        query: &'a [(&'a str, String)],
        page_size: u32,
        key: K,
    ) -> Self {
        StableListing {
            client,
            owner,
            path,
            query,
            page_size,
            key,
            confirm_empty: false,
            delivered: HashSet::new(),
            previous: None,
            current: HashSet::new(),
            tally: ListingTally::default(),
            read: 1,
            page: 1,
            done: false,
            rereads: Rereads::default(),
        }
    }

    pub fn confirming_empty(mut self) -> Self {
        self.confirm_empty = true;
        self
    }

    /// The next records not delivered before; `None` once the list is settled.
    pub async fn next(&mut self) -> Result<Option<Vec<RawItem>>, CodecovError> {
        while !self.done {
            let mut listed = self
                .client
                .list_page(self.owner, self.path, self.query, self.page, self.page_size)
                .await?;
            if self.confirm_empty && self.read == 1 && self.page == 1 && listed.results.is_empty() {
                listed = self.confirm_empty_first_page(listed).await?;
            }
            self.tally.add(&listed);
            let last = listed.next.is_none() || listed.results.is_empty();
            let mut fresh = Vec::new();
            for record in listed.results {
                match (self.key)(&record) {
                    Some(key) => {
                        self.current.insert(key.clone());
                        if self.delivered.insert(key) {
                            if self.read > 1 {
                                self.rereads.recovered += 1;
                            }
                            fresh.push(record);
                        }
                    }
                    // Nothing to tell it by: delivered on the first read only.
                    None if self.read == 1 => fresh.push(record),
                    None => {}
                }
            }
            if last {
                self.end_read()?;
            } else {
                self.page += 1;
            }
            if !fresh.is_empty() {
                return Ok(Some(fresh));
            }
        }
        Ok(None)
    }

    /// A whole read ended: settled when it was one request, or when it named
    /// the same records as the read before; else read again (bounded).
    fn end_read(&mut self) -> Result<(), CodecovError> {
        let whole = self.tally.check(self.path);
        let current = std::mem::take(&mut self.current);
        let snapshot = self.read == 1 && self.page == 1;
        if whole.is_ok() && (snapshot || self.previous.as_ref() == Some(&current)) {
            if self.read > 2 {
                self.rereads.unsettled += 1;
            }
            self.done = true;
            return Ok(());
        }
        if self.read == MAX_READS {
            return Err(whole.err().unwrap_or(CodecovError::Unsettled {
                path: self.path.to_string(),
                reads: self.read,
            }));
        }
        // An incomplete read cannot vouch for the next one.
        self.previous = whole.is_ok().then_some(current);
        self.read += 1;
        self.page = 1;
        self.tally = ListingTally::default();
        Ok(())
    }

    /// Codecov has answered with an empty repository list during outages. The
    /// first page is read again, with the retry policy's backoff, before an
    /// empty list is believed.
    async fn confirm_empty_first_page(&self, empty: ListPage) -> Result<ListPage, CodecovError> {
        let policy = &self.client.settings().retry;
        let mut listed = empty;
        for attempt in 0..EMPTY_REREADS {
            let delay = policy
                .next_delay(attempt, Duration::ZERO, None, 1.0)
                .unwrap_or(policy.base_delay);
            tokio::time::sleep(delay).await;
            listed = self
                .client
                .list_page(self.owner, self.path, self.query, 1, self.page_size)
                .await?;
            if !listed.results.is_empty() {
                tracing::warn!(
                    owner = self.owner,
                    "Codecov listed no records at {}, then some: a transient empty answer was ignored",
                    self.path
                );
                return Ok(listed);
            }
        }
        tracing::warn!(
            owner = self.owner,
            "Codecov lists nothing at {} (read {} times); entities it named before will be deleted as stale",
            self.path,
            EMPTY_REREADS + 1
        );
        Ok(listed)
    }
}
