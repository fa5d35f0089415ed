//! Opening a journal: take its lock, read every segment back in order (cutting
//! a torn tail), rebuild what is live, and start a fresh segment to append to.

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};

use super::record::{self, Record, Torn};
use super::segments::{segment_ids, segment_path};
use super::state::State;
use super::writer::Writer;
use super::{Inner, Journal, JournalOptions, OpenError, Opened};

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OpenError + '_ {
    move |source| OpenError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub fn open(dir: &Path, mut options: JournalOptions) -> Result<Opened, OpenError> {
    // Several segments fit under the bound, so applied ones can always be deleted.
    options.segment_bytes = options.segment_bytes.min(options.max_bytes / 4).max(4096);
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let lock_path = dir.join("LOCK");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io(&lock_path))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(OpenError::Locked {
                path: dir.to_path_buf(),
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io(&lock_path)(e)),
    }
    let ids = segment_ids(dir).map_err(io(dir))?;
    let mut state = State::default();
    state.next_seq = 1;
    let mut torn_bytes = 0;
    for (i, &id) in ids.iter().enumerate() {
        let path = segment_path(dir, id);
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        let whole = replay_segment(&mut state, id, &bytes);
        if whole < bytes.len() {
            let cut = (bytes.len() - whole) as u64;
            if i + 1 == ids.len() {
                // The last write before a crash: never acknowledged, so cut it.
                tracing::warn!(segment = %path.display(), bytes = cut, "journal: cutting a torn tail");
                let file = OpenOptions::new().write(true).open(&path).map_err(io(&path))?;
                file.set_len(whole as u64).map_err(io(&path))?;
                file.sync_all().map_err(io(&path))?;
                torn_bytes += cut;
            } else {
                tracing::error!(segment = %path.display(), bytes = cut,
                    "journal: an older segment is damaged; the records after the damage are unreadable");
            }
        }
        state.segments.entry(id).or_default().bytes = whole as u64;
    }
    let pending = state
        .events
        .iter()
        .filter(|(_, e)| e.dead.is_none())
        .map(|(seq, _)| *seq)
        .collect();
    let next_id = ids.last().map_or(1, |id| id + 1);
    let writer = Writer::start_segment(dir, next_id, &mut state).map_err(io(dir))?;
    let state = Arc::new(Mutex::new(state));
    let (ops, received) = mpsc::channel();
    let thread = writer
        .spawn(dir.to_path_buf(), options, state.clone(), received)
        .map_err(io(dir))?;
    let journal = Journal {
        inner: Arc::new(Inner {
            dir: dir.to_path_buf(),
            ops: Mutex::new(Some(ops)),
            state,
            writer: Mutex::new(Some(thread)),
            _lock: lock,
        }),
    };
    Ok(Opened {
        journal,
        pending,
        torn_bytes,
    })
}

/// Applies a segment's records to `state`; returns how many bytes were whole.
fn replay_segment(state: &mut State, id: u64, bytes: &[u8]) -> usize {
    let mut at = 0;
    while at < bytes.len() {
        let (record, size) = match record::decode(&bytes[at..]) {
            Ok(read) => read,
            Err(Torn::Short | Torn::BadLength | Torn::BadChecksum | Torn::Unreadable) => break,
        };
        apply(state, id, at as u64, size as u32, record);
        at += size;
    }
    at
}

fn apply(state: &mut State, segment: u64, offset: u64, size: u32, record: Record) {
    match record {
        Record::SegmentStart { next_seq } => state.next_seq = state.next_seq.max(next_seq),
        Record::Event { seq, received_ms, .. } => {
            state.next_seq = state.next_seq.max(seq + 1);
            state.place(seq, segment, offset, size, received_ms);
        }
        Record::Applied { seq, marks } => {
            state.finish(seq);
            for (key, order) in marks {
                state.raise_mark(&key, order, Some(segment));
            }
        }
        Record::Marks { marks } => {
            for (key, order) in marks {
                state.raise_mark(&key, order, Some(segment));
            }
        }
        Record::DeadLetter { seq, attempts, dead } => state.set_dead(seq, attempts, dead),
        Record::Revived { seq } => {
            state.revive(seq);
        }
        Record::Discarded { seq } => {
            state.finish(seq);
        }
    }
}
