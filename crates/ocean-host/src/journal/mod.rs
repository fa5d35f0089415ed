//! The live-event journal: every accepted event is appended to an on-disk log
//! before it is acknowledged, and stays there until it reached its
//! destination, so a crash at any moment loses nothing that was accepted.
//!
//! A plain append-only log of checksummed records in numbered segment files.
//! One thread writes: it takes every append waiting, writes them at once and
//! syncs once (group commit), then answers each. Opening replays the segments,
//! cuts a torn tail, and yields the events not yet applied; failed events stay
//! as dead letters with their reason and attempts. Segments whose events are
//! all applied are deleted (the few still live are first copied forward), and
//! appends past the disk bound are refused, never silently dropped.

mod open;
mod place;
pub mod record;
mod segments;
mod state;
mod writer;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use tokio::sync::oneshot;

pub use place::{default_journal_dir, journal_dir_from_env, scratch_journal_dir};
use state::State;
use writer::Op;

/// How the journal is laid out and bounded.
#[derive(Debug, Clone)]
pub struct JournalOptions {
    /// Most bytes the segment files may take together; appends past it are refused.
    pub max_bytes: u64,
    /// A segment is closed and a new one started past this size.
    pub segment_bytes: u64,
    /// First wait before a failed event is tried again; it doubles per attempt.
    pub retry_base: Duration,
    /// Longest wait between two attempts.
    pub retry_max: Duration,
    /// Sync before answering appends. Off only where durability is not the
    /// point (the fuzz harness); `sail` always syncs.
    pub sync: bool,
}

impl Default for JournalOptions {
    fn default() -> Self {
        JournalOptions {
            max_bytes: 1024 * 1024 * 1024,
            segment_bytes: 64 * 1024 * 1024,
            retry_base: Duration::from_secs(30),
            retry_max: Duration::from_secs(3600),
            sync: true,
        }
    }
}

/// Why an event could not be appended; in every case it was not accepted and the sender should be
/// told so (the webhook route answers 507, so the source may send it again).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    /// The event would take the segment files past [`JournalOptions::max_bytes`].
    #[error("the journal is full: {used} of {max} bytes in use; the event was not accepted")]
    Full {
        /// Bytes the segment files take now.
        used: u64,
        /// The bound ([`JournalOptions::max_bytes`]).
        max: u64,
    },
    /// Writing or syncing failed; the message is the I/O error.
    #[error("the journal could not write: {0}")]
    Io(String),
    /// The journal's writer has stopped (the journal is shutting down).
    #[error("the journal is closed")]
    Closed,
}

/// Why a journal could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Another process holds the journal's lock: one process per journal.
    #[error("{path}: another process holds this journal (is `sail` running here?)")]
    Locked {
        /// The journal's directory.
        path: PathBuf,
    },
    /// A file or directory of the journal could not be created, read or locked.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// A failed event kept in the journal.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    /// The event's number in the journal.
    pub seq: u64,
    /// When it was accepted, in ms since the Unix epoch.
    pub received_ms: u64,
    /// Attempts made so far.
    pub attempts: u32,
    /// Its mapping failed: retried only when an operator asks.
    pub poison: bool,
    /// When it is due again, in ms since the Unix epoch (ignored while `poison`).
    pub retry_at_ms: u64,
    /// Why the last attempt failed.
    pub reason: String,
}

/// Figures for metrics and logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes the segment files take on disk.
    pub bytes: u64,
    /// Segment files on disk.
    pub segments: usize,
    /// Events not applied yet, dead letters included.
    pub live: usize,
    /// Dead letters among them.
    pub dead: usize,
    /// Syncs done since opening (group commit keeps this far below `appends`).
    pub syncs: u64,
    /// Events appended since opening.
    pub appends: u64,
}

/// Which dead letters an operator's command is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// The dead letter with this event number.
    One(u64),
    /// Every dead letter.
    All,
}

/// What opening found.
pub struct Opened {
    /// The open journal.
    pub journal: Journal,
    /// Events accepted before and not applied nor dead: to replay, oldest first.
    pub pending: Vec<u64>,
    /// Bytes cut from the end of the last segment (a write the crash tore).
    pub torn_bytes: u64,
}

/// A handle on an open journal; clones share it. The last handle dropped
/// stops the writer after it synced everything.
#[derive(Clone)]
pub struct Journal {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    ops: Mutex<Option<mpsc::Sender<Op>>>,
    state: Arc<Mutex<State>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Kept open so the lock holds for the journal's life.
    _lock: File,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.ops.lock().unwrap_or_else(|p| p.into_inner()).take();
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(writer) = writer {
            let _ = writer.join();
        }
    }
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Journal {
    /// Opens (or creates) the journal in `dir`, which one process holds at a time.
    pub fn open(dir: &Path, options: JournalOptions) -> Result<Opened, OpenError> {
        open::open(dir, options)
    }

    /// The directory the journal lives in.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    fn send(&self, op: Op) -> bool {
        let ops = self.inner.ops.lock().unwrap_or_else(|p| p.into_inner());
        ops.as_ref().is_some_and(|ops| ops.send(op).is_ok())
    }

    /// Appends an event; resolves once it is on disk (synced) with its number.
    pub async fn append(&self, body: Vec<u8>) -> Result<u64, AppendError> {
        let (done, answer) = oneshot::channel();
        if !self.send(Op::Append { body, done }) {
            return Err(AppendError::Closed);
        }
        answer.await.unwrap_or(Err(AppendError::Closed))
    }

    /// Records that the event reached its destination (or was superseded),
    /// with the ordering keys it set. Not waited for: losing it in a crash
    /// only replays the event, which is harmless.
    pub fn applied(&self, seq: u64, marks: Vec<(String, i64)>) {
        {
            // In memory at once, so the next batch already compares against it.
            let mut state = self.inner.state.lock().unwrap_or_else(|p| p.into_inner());
            for (key, order) in &marks {
                state.raise_mark(key, *order, None);
            }
        }
        self.send(Op::Applied { seq, marks });
    }

    /// Keeps a failed event as a dead letter, due again after a backoff
    /// (never on its own when `poison`).
    pub fn dead_letter(&self, seq: u64, poison: bool, reason: String) {
        self.send(Op::Dead { seq, poison, reason });
    }

    /// The newest order applied for each key (None: none recorded).
    pub fn marks(&self, keys: &[&str]) -> Vec<Option<i64>> {
        let state = self.inner.state.lock().unwrap_or_else(|p| p.into_inner());
        keys.iter().map(|k| state.mark(k)).collect()
    }

    /// Dead letters due for another attempt, at most `max`, oldest first;
    /// they are not offered again until their outcome is recorded.
    pub fn take_due(&self, now_ms: u64, max: usize) -> Vec<u64> {
        let mut state = self.inner.state.lock().unwrap_or_else(|p| p.into_inner());
        state.take_due(now_ms, max)
    }

    /// An event's body as it was accepted, read back from its segment.
    pub fn read(&self, seq: u64) -> std::io::Result<Option<Vec<u8>>> {
        for _ in 0..3 {
            let location = {
                let state = self.inner.state.lock().unwrap_or_else(|p| p.into_inner());
                state.location(seq)
            };
            let Some((segment, offset, len)) = location else {
                return Ok(None);
            };
            let path = segments::segment_path(&self.inner.dir, segment);
            // Compaction may have moved the event and deleted its segment; look again.
            let file = match File::open(&path) {
                Ok(file) => file,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let mut framed = vec![0; len as usize];
            std::os::unix::fs::FileExt::read_exact_at(&file, &mut framed, offset)?;
            let Some(payload) = record::payload(&framed) else {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("event {seq} in {}: checksum mismatch", path.display()),
                ));
            };
            let skip = record::Record::EVENT_BODY_OFFSET - 8;
            return Ok(payload.get(skip..).map(<[u8]>::to_vec));
        }
        Ok(None)
    }

    /// Every dead letter, oldest first, for an operator's listing.
    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        let state = self.inner.state.lock().unwrap_or_else(|p| p.into_inner());
        state.dead_letters()
    }

    /// Makes dead letters due now; returns how many.
    pub async fn revive(&self, which: Selection) -> usize {
        let (done, answer) = oneshot::channel();
        if !self.send(Op::Revive { which, done }) {
            return 0;
        }
        answer.await.unwrap_or(0)
    }

    /// Drops dead letters for good; returns how many.
    pub async fn discard(&self, which: Selection) -> usize {
        let (done, answer) = oneshot::channel();
        if !self.send(Op::Discard { which, done }) {
            return 0;
        }
        answer.await.unwrap_or(0)
    }

    /// Resolves once everything sent before is written and synced.
    pub async fn sync(&self) {
        let (done, answer) = oneshot::channel();
        if self.send(Op::Sync { done }) {
            let _ = answer.await;
        }
    }

    /// Current figures (size, segments, live and dead events).
    pub fn stats(&self) -> Stats {
        let state = self.inner.state.lock().unwrap_or_else(|p| p.into_inner());
        state.stats()
    }
}

#[cfg(test)]
mod tests;
