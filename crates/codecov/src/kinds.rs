//! The kinds this plugin offers, each fetched owner by owner and page by page.
//! A failure is scoped to the owner or repository it hit: it is reported on
//! the stream and the fetch goes on with the rest.

use std::sync::Arc;

use futures_util::{StreamExt, stream};
use serde_json::{Map, Value, json};

use super::client::{CodecovClient, CodecovError};
use super::listing::{Rereads, StableListing, key_of};
use super::payload::RepoContext;
use super::settings::FieldError;
use ocean_host::plugin::{FetchError, PageSender};
use ocean_host::raw_item::RawItem;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Repository,
    Coverage,
    Commit,
    Pull,
    Flag,
    Branch,
}

/// The one table of kinds and their names in port-app-config.
const TABLE: [(Kind, &str); 6] = [
    (Kind::Repository, "repository"),
    (Kind::Coverage, "coverage"),
    (Kind::Commit, "commit"),
    (Kind::Pull, "pull"),
    (Kind::Flag, "flag"),
    (Kind::Branch, "branch"),
];

/// The kinds' names, in the table's order.
pub const KINDS: &[&str] = &{
    let mut names = [""; TABLE.len()];
    let mut i = 0;
    while i < TABLE.len() {
        names[i] = TABLE[i].1;
        i += 1;
    }
    names
};

impl Kind {
    pub fn parse(name: &str) -> Option<Kind> {
        TABLE.iter().find(|(_, n)| *n == name).map(|(kind, _)| *kind)
    }

    pub fn name(self) -> &'static str {
        TABLE
            .iter()
            .find(|(kind, _)| *kind == self)
            .map_or("", |(_, name)| name)
    }
}

/// Why a repository the listing named cannot be read, when that is the
/// repository's own state rather than a failure: Codecov answers 403 on every
/// route under a private repository the token's user is not activated on, and
/// 404 "Not found." under one removed since the listing.
fn unreadable(error: &CodecovError) -> Option<&'static str> {
    match error {
        CodecovError::Api { status: 403, .. } => {
            Some("403: private, and the token's user is not activated on the owner's plan")
        }
        CodecovError::Api {
            status: 404, detail, ..
        } if detail == "Not found." => Some("404: removed from Codecov after it was listed"),
        _ => None,
    }
}

/// Selector fields besides `query`, with their defaults.
#[derive(Debug, Clone)]
pub struct KindSelector {
    /// Repositories that never received an upload are left out unless set.
    pub include_inactive: bool,
    /// `commit`: how many of the newest default-branch commits per repository.
    pub commits_per_repo: u32,
    /// `pull`: `open`, `merged`, `closed`, or `all`.
    pub pull_state: String,
    /// `coverage`: whether webhooks for any branch update the entity (`all`),
    /// or only those for the default branch, as resyncs build it (`default`).
    pub follow_all_branches: bool,
    /// `coverage`: where the head's totals come from: the totals route, exact
    /// as the webhook's (`report`), or the commit list (`commit`), whose size
    /// does not grow with the repository's files but which lacks `messages`
    /// and `diff`.
    pub totals_from_commit_list: bool,
}

impl KindSelector {
    pub fn from_fields(fields: &Map<String, Value>) -> Result<Self, FieldError> {
        let include_inactive = match fields.get("includeInactive") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(FieldError::new(
                    "selector.includeInactive",
                    format!("must be true or false, got {other}"),
                ));
            }
        };
        let commits_per_repo = match fields.get("commitsPerRepo") {
            None => 10,
            Some(v) => match v.as_u64() {
                Some(n @ 1..=1000) => n as u32,
                _ => {
                    return Err(FieldError::new(
                        "selector.commitsPerRepo",
                        format!("must be a whole number from 1 to 1000, got {v}"),
                    ));
                }
            },
        };
        let pull_state = match fields.get("pullState") {
            None => "open".to_string(),
            Some(Value::String(s)) if ["open", "merged", "closed", "all"].contains(&s.as_str()) => s.clone(),
            Some(other) => {
                return Err(FieldError::new(
                    "selector.pullState",
                    format!("must be open, merged, closed or all, got {other}"),
                ));
            }
        };
        Ok(KindSelector {
            include_inactive,
            commits_per_repo,
            pull_state,
            follow_all_branches: either(fields, "followBranches", "default", "all")?,
            totals_from_commit_list: either(fields, "totalsFrom", "report", "commit")?,
        })
    }
}

/// A selector field that is one of two words: false for the first (the
/// default), true for the second.
fn either(fields: &Map<String, Value>, name: &str, first: &str, second: &str) -> Result<bool, FieldError> {
    match fields.get(name) {
        None => Ok(false),
        Some(Value::String(s)) if s == first => Ok(false),
        Some(Value::String(s)) if s == second => Ok(true),
        Some(other) => Err(FieldError::new(
            format!("selector.{name}"),
            format!("must be {first} or {second}, got {other}"),
        )),
    }
}

struct KindFetch {
    client: Arc<CodecovClient>,
    kind: Kind,
    selector: KindSelector,
    pages: PageSender,
    /// What re-reading lists that changed while paged found, over the whole kind.
    rereads: std::sync::Mutex<Rereads>,
}

pub async fn fetch(client: Arc<CodecovClient>, kind: Kind, selector: KindSelector, pages: PageSender) {
    let owners = client.settings().owners.clone();
    let fetch = KindFetch {
        client,
        kind,
        selector,
        pages,
        rereads: std::sync::Mutex::default(),
    };
    for owner in &owners {
        if !fetch.owner(owner).await {
            return;
        }
    }
    let found = *fetch
        .rereads
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if found.recovered > 0 || found.unsettled > 0 {
        let note = format!(
            "Codecov lists changed while paged: {} list(s) needed more than two whole reads to agree, \
             {} record(s) recovered that paging had skipped (none of them taken as deleted)",
            found.unsettled, found.recovered
        );
        tracing::warn!(kind = kind.name(), "{note}");
        fetch.pages.note(note).await;
    }
}

impl KindFetch {
    fn failure(&self, scope: String, error: &CodecovError) -> FetchError {
        FetchError {
            kind: self.kind.name().into(),
            scope,
            message: error.to_string(),
        }
    }

    /// One owner's items; false when the consumer has gone.
    async fn owner(&self, owner: &str) -> bool {
        let path = self.client.repos_path(owner, &[]);
        let mut query = Vec::new();
        if !self.selector.include_inactive {
            query.push(("active", "true".to_string()));
        }
        let page_size = self.client.settings().page_size;
        let mut listing = StableListing::new(&self.client, owner, &path, &query, page_size, key_of("name"))
            .confirming_empty();
        loop {
            let repos = match listing.next().await {
                Ok(Some(repos)) => repos,
                Ok(None) => break,
                Err(e) => {
                    self.count(listing.rereads);
                    return self.pages.error(self.failure(format!("owner {owner}"), &e)).await;
                }
            };
            let delivered = match self.kind {
                Kind::Repository => {
                    let items = repos.into_iter().map(|repo| self.tag(owner, repo)).collect();
                    self.pages.page(items).await
                }
                _ => self.per_repo(owner, repos).await,
            };
            if !delivered {
                return false;
            }
        }
        self.count(listing.rereads);
        true
    }

    fn count(&self, found: Rereads) {
        let mut total = self
            .rereads
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        total.unsettled += found.unsettled;
        total.recovered += found.recovered;
    }

    /// The kind's items for one page of repositories, fetched a few at a time.
    async fn per_repo(&self, owner: &str, repos: Vec<RawItem>) -> bool {
        let concurrency = self.client.settings().concurrency.max(1);
        let results: Vec<(RawItem, String, Result<Vec<RawItem>, CodecovError>)> = stream::iter(repos)
            .map(|repo: RawItem| async move {
                let name = repo.field_str("name").unwrap_or_default();
                let items = self.repo_items(owner, &repo, &name).await;
                (repo, name, items)
            })
            .buffered(concurrency)
            .collect()
            .await;
        let mut page = Vec::new();
        for (repo, name, items) in results {
            let error = match items {
                Ok(items) => {
                    page.extend(items);
                    continue;
                }
                Err(e) => e,
            };
            let delivered = match (self.kind, unreadable(&error)) {
                // One entity per repository: that one is held, the rest reconcile.
                (Kind::Coverage, Some(why)) => {
                    let reason = format!("repository {owner}/{name}: {why}");
                    tracing::warn!(kind = self.kind.name(), "{reason}; its entity is kept as it is");
                    self.pages
                        .held(self.held_coverage(owner, &name, &repo), reason)
                        .await
                }
                // Many entities per repository, which the listing cannot name: the
                // repository stands in for them, so those relating to it are kept.
                (_, Some(why)) => {
                    let reason = format!("repository {owner}/{name}: {why}");
                    tracing::warn!(
                        kind = self.kind.name(),
                        "{reason}; its {} entities are kept as they are",
                        self.kind.name()
                    );
                    let stand_in = json!({"__repository": self.repository_tag(owner, &name)});
                    self.pages.held_part(stand_in, reason).await
                }
                // A failure, not the repository's state: nothing of the kind is deleted.
                (_, None) => {
                    let scope = format!("repository {owner}/{name}");
                    self.pages.error(self.failure(scope, &error)).await
                }
            };
            if !delivered {
                return false;
            }
        }
        self.pages.page(page).await
    }

    /// What a `coverage` item of an unreadable repository can hold: the
    /// payload's repository and owner, as the listing gives them, so the
    /// mapping names the entity to keep.
    fn held_coverage(&self, owner: &str, name: &str, repo: &RawItem) -> Value {
        let settings = self.client.settings();
        let context = RepoContext::new(settings, owner, name);
        let private = repo
            .field("private")
            .and_then(|raw| serde_json::from_str::<Value>(raw.get()).ok());
        json!({
            "repo": {"url": context.repo_url(), "service_id": Value::Null, "name": name, "private": private},
            "head": Value::Null,
            "base": Value::Null,
            "compare": Value::Null,
            "owner": {"username": owner, "service_id": Value::Null, "service": settings.service.long()},
            "pull": Value::Null,
        })
    }

    /// Adds `__repository` (service, owner, name, dashboard URL) to a repository,
    /// so mappings can build identifiers and relations that never collide.
    fn tag(&self, owner: &str, item: RawItem) -> RawItem {
        let name = item.field_str("name").unwrap_or_default();
        item.with_member("__repository", &self.repository_tag(owner, &name))
    }

    /// The `__repository` member: added to the item's text, not rebuilt.
    fn repository_tag(&self, owner: &str, name: &str) -> Value {
        let settings = self.client.settings();
        let context = RepoContext::new(settings, owner, name);
        json!({"service": settings.service.long(), "owner": owner, "name": name, "url": context.repo_url()})
    }

    async fn repo_items(
        &self,
        owner: &str,
        repo: &RawItem,
        name: &str,
    ) -> Result<Vec<RawItem>, CodecovError> {
        let client = &self.client;
        let default_branch = repo.field_str("branch");
        let repository = self.repository_tag(owner, name);
        let tag = |item: RawItem| item.with_member("__repository", &repository);
        let items = match self.kind {
            Kind::Repository => vec![tag(repo.clone())],
            // Built from several reads: the one kind whose item is a new document.
            Kind::Coverage => super::coverage::resync_item(
                client,
                owner,
                &repo.to_value(),
                name,
                self.selector.totals_from_commit_list,
            )
            .await?
            .iter()
            .map(RawItem::from_value)
            .collect(),
            Kind::Commit => match default_branch {
                Some(branch) => {
                    let path = client.repos_path(owner, &[name, "commits"]);
                    let query = [("branch", branch)];
                    client
                        .first_page::<RawItem>(owner, &path, &query, self.selector.commits_per_repo)
                        .await?
                        .into_iter()
                        .map(tag)
                        .collect()
                }
                None => Vec::new(),
            },
            Kind::Pull => {
                let mut query = Vec::new();
                if self.selector.pull_state != "all" {
                    query.push(("state", self.selector.pull_state.clone()));
                }
                self.all_pages(owner, &[name, "pulls"], &query, "pullid")
                    .await?
                    .into_iter()
                    .map(tag)
                    .collect()
            }
            Kind::Flag => self
                .all_pages(owner, &[name, "flags"], &[], "flag_name")
                .await?
                .into_iter()
                .map(tag)
                .collect(),
            Kind::Branch => self
                .all_pages(owner, &[name, "branches"], &[], "name")
                .await?
                .into_iter()
                .map(tag)
                .collect(),
        };
        Ok(items)
    }

    async fn all_pages(
        &self,
        owner: &str,
        segments: &[&str],
        query: &[(&str, String)],
        key: &'static str,
    ) -> Result<Vec<RawItem>, CodecovError> {
        let path = self.client.repos_path(owner, segments);
        let page_size = self.client.settings().page_size;
        let mut listing = StableListing::new(&self.client, owner, &path, query, page_size, key_of(key));
        let mut items = Vec::new();
        loop {
            match listing.next().await {
                Ok(Some(records)) => items.extend(records),
                Ok(None) => break,
                Err(e) => {
                    self.count(listing.rereads);
                    return Err(e);
                }
            }
        }
        self.count(listing.rereads);
        Ok(items)
    }
}
#[cfg(test)]
mod table_tests {
    use super::*;

    #[test]
    fn every_kind_has_one_name_and_parses_back() {
        assert_eq!(KINDS.len(), TABLE.len());
        for (kind, name) in TABLE {
            assert_eq!(kind.name(), name);
            assert_eq!(Kind::parse(name), Some(kind));
        }
        assert_eq!(Kind::parse("tag"), None);
    }
}
