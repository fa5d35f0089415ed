//! What a resync did (or, in a dry run, would do): per kind and as a whole,
//! and why one could not run at all.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Deletion;
use super::plan::DeletionPlan;
use ocean_port::PortError;

/// One kind's figures in a resync (one per resource of the mapping, in order).
#[derive(Debug, Default, Clone, Serialize)]
pub struct KindReport {
    /// The resource's kind.
    pub kind: String,
    /// Raw items the source delivered.
    pub items: usize,
    /// Entities the items mapped to (an item may make none or several).
    pub entities: usize,
    /// Items the selector left out.
    pub skipped: usize,
    /// Items with at least one mapping error; their entities are held back (see `held`,
    /// `unidentified`).
    pub mapping_errors: usize,
    /// Entities Port created (as its bulk reply said).
    pub created: usize,
    /// Existing entities Port updated.
    pub updated: usize,
    /// Entities identical to Port's copy: not sent.
    pub unchanged: usize,
    /// Entities Port refused or never answered for.
    pub upsert_failures: usize,
    /// Items that mapped to an identifier another item already took this resync.
    pub duplicates: usize,
    /// Why parts of the kind could not be fetched; any entry makes the kind not reconcilable.
    pub fetch_errors: Vec<String>,
    /// Entities neither written nor deleted this resync (a held item, a
    /// property that failed to map, a refused upsert).
    pub held: usize,
    /// The first few of them, with the reason.
    pub held_samples: Vec<HeldBack>,
    /// Parts of the kind the source could not read (e.g. one repository's
    /// commits): their entities are held back, the rest reconciles.
    pub held_parts: usize,
    /// The first few of them: what the part's entities relate to, and why.
    pub held_part_samples: Vec<String>,
    /// Items whose entity could not be told (identifier or blueprint failed
    /// to map): nothing of the kind is deleted.
    pub unidentified: usize,
    /// Stale entities not deleted because this resource has `enableDelete: false`.
    pub kept_by_enable_delete: usize,
    /// The source's own lines for the summary.
    pub notes: Vec<String>,
    /// The first few mapping and upsert errors, for the log.
    pub error_samples: Vec<String>,
    /// Time spent in the mapper over the kind's items (all its JQ), and the
    /// items' size as the source sent them: the mapping throughput inside a
    /// real resync.
    pub mapping_nanos: u64,
    /// Bytes of the raw items as received (see `mapping_nanos`).
    pub item_bytes: u64,
}

/// An entity held back from this resync, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeldBack {
    /// Its blueprint.
    pub blueprint: String,
    /// Its identifier.
    pub identifier: String,
    /// Why it was held (the mapping or upsert error, or the unread part).
    pub reason: String,
}

/// Held-back entities named in a report, per kind; the rest are counted.
pub(super) const HELD_SAMPLES: usize = 20;

impl KindReport {
    /// Whether the kind's stale entities may be deleted: every part of it was
    /// fetched and every item's entity is known (written or held back).
    pub fn reconcilable(&self) -> bool {
        self.fetch_errors.is_empty() && self.unidentified == 0
    }

    /// Whether every item of the kind was fetched, mapped and written.
    pub fn complete(&self) -> bool {
        self.reconcilable()
            && self.mapping_errors == 0
            && self.upsert_failures == 0
            && self.held == 0
            && self.held_parts == 0
    }

    pub(super) fn sample(&mut self, message: String) {
        if self.error_samples.len() < 5 {
            self.error_samples.push(message);
        }
    }

    /// What the kind held back and the source's notes, one line each, for the summary.
    pub fn held_back_lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.notes.clone();
        if self.held_parts > 0 {
            lines.push(format!(
                "{} part(s) not read: their entities are held back (neither written nor deleted)",
                self.held_parts
            ));
        }
        for part in &self.held_part_samples {
            lines.push(format!("held part: {part}"));
        }
        if self.held > 0 {
            lines.push(format!(
                "{} entities held back (neither written nor deleted)",
                self.held
            ));
        }
        for held in &self.held_samples {
            lines.push(format!(
                "held {} {}: {}",
                held.blueprint, held.identifier, held.reason
            ));
        }
        if self.kept_by_enable_delete > 0 {
            lines.push(format!(
                "{} stale entities kept: this resource has enableDelete: false",
                self.kept_by_enable_delete
            ));
        }
        if self.unidentified > 0 {
            lines.push(format!(
                "{} items whose entity could not be told: nothing of this kind is deleted",
                self.unidentified
            ));
        }
        lines
    }

    pub(super) fn hold(&mut self, blueprint: &str, identifier: &str, reason: impl FnOnce() -> String) {
        self.held += 1;
        if self.held_samples.len() < HELD_SAMPLES {
            self.held_samples.push(HeldBack {
                blueprint: blueprint.to_string(),
                identifier: identifier.to_string(),
                reason: reason(),
            });
        }
    }
}

/// What a resync did (or, in a dry run, would do), per blueprint.
#[derive(Debug, Default, Clone, Serialize)]
pub struct BlueprintPlan {
    /// Identifiers that would be created.
    pub create: Vec<String>,
    /// Identifiers that would be updated.
    pub update: Vec<String>,
    /// Identifiers that would be deleted as stale.
    pub delete: Vec<String>,
}

/// What one resync did, whole: every kind's figures and the deletion phase (and, in a dry run,
/// the plan).
#[derive(Debug, Clone, Serialize)]
pub struct ResyncReport {
    /// When the resync began by Port's clock (its `Date` header), if Port said.
    pub started_at: String,
    /// One report per resource, in the mapping's order.
    pub kinds: Vec<KindReport>,
    /// What the deletion phase came to.
    pub deletion: Deletion,
    /// Why the resync stopped before its end (shutdown, a newer resync): it deleted nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<&'static str>,
    /// Filled by a dry run only.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub plan: BTreeMap<String, BlueprintPlan>,
    /// Every owned entity this resync did not produce, and what became of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_plan: Option<DeletionPlan>,
    /// What the resync kept to tell stale entities: (keys, heap bytes).
    pub seen_state: (usize, usize),
}

impl ResyncReport {
    /// Every kind complete and the deletion not failed (a skipped deletion still succeeds).
    pub fn succeeded(&self) -> bool {
        self.kinds.iter().all(KindReport::complete) && !matches!(self.deletion, Deletion::Failed { .. })
    }

    /// Stale entities kept over all kinds because their resource has `enableDelete: false`.
    pub fn kept_by_enable_delete(&self) -> usize {
        self.kinds.iter().map(|k| k.kept_by_enable_delete).sum()
    }

    /// Entities held back over all kinds.
    pub fn held(&self) -> usize {
        self.kinds.iter().map(|k| k.held).sum()
    }
}

/// Why a resync could not run, or stopped as a whole (per-entity failures are in the report instead).
#[derive(Debug, thiserror::Error)]
pub enum ResyncError {
    /// Port answered 401 (after a fresh token) or 403: nothing more can be done until the credentials are fixed.
    #[error("Port refused this integration's credentials: {0}")]
    Credentials(PortError),
    /// Any other Port error that ends the resync (e.g. a request that cannot be encoded); most
    /// Port failures are per entity and land in the report instead.
    #[error("a call to Port failed: {0}")]
    Port(PortError),
    /// The mapping lists no resources: the resync is refused, nothing is fetched and nothing deleted.
    #[error(
        "the mapping has no resources (Port's integration config lists none): nothing is fetched and nothing \
         is deleted; add resources to the integration's mapping in Port"
    )]
    EmptyMapping,
}

impl From<PortError> for ResyncError {
    fn from(error: PortError) -> Self {
        if error.is_fatal() {
            ResyncError::Credentials(error)
        } else {
            ResyncError::Port(error)
        }
    }
}
