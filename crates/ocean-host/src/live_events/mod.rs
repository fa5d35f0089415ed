//! Live events: webhook bodies the server accepted, kept in the journal until
//! they reach Port. Each is turned into raw items by the plugin, mapped with
//! the mapping in force and upserted in batches. For one entity the event
//! newest in the source wins (the plugin's ordering key), within a batch and
//! against what earlier batches, replays and retries already applied. An
//! event that fails is kept as a dead letter and retried with backoff; one
//! whose mapping fails is set aside with the reason; neither holds up others.

//!
//! Files: `intake` (journal and queue), `process` (the loop), `batch` (one
//! batch's mapping, ordering and writes), `queue` (events waiting).

mod batch;
mod intake;
mod process;
pub mod queue;

pub use intake::LiveEvents;
pub use process::process;
pub use queue::{EventQueue, Queued};

// Where the journal lives; kept here too for callers that name it by live events.
pub use crate::journal::{default_journal_dir, journal_dir_from_env, scratch_journal_dir};
