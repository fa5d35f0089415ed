//! The journal's one writer thread. It takes every operation waiting, writes
//! them with one `write` and, when any append is among them, one sync (group
//! commit: a sync costs the same for one event as for a thousand), then
//! answers. It also rolls segments and deletes the ones no longer needed.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::time::Duration;

use tokio::sync::oneshot;

use super::record::Record;
use super::segments::{segment_path, sync_dir};
use super::state::{Dead, State};
use super::{AppendError, JournalOptions, Selection, now_ms};

pub enum Op {
    Append {
        body: Vec<u8>,
        done: oneshot::Sender<Result<u64, AppendError>>,
    },
    Applied {
        seq: u64,
        marks: Vec<(String, i64)>,
    },
    Dead {
        seq: u64,
        poison: bool,
        reason: String,
    },
    Revive {
        which: Selection,
        done: oneshot::Sender<usize>,
    },
    Discard {
        which: Selection,
        done: oneshot::Sender<usize>,
    },
    Sync {
        done: oneshot::Sender<()>,
    },
}

/// Operations written together at most (bounds one write's buffer).
const BATCH_OPS: usize = 4096;

pub struct Writer {
    file: File,
    id: u64,
    len: u64,
}

/// What a batch must do once its bytes are on disk.
enum Answer {
    Appended(oneshot::Sender<Result<u64, AppendError>>, u64),
    Refused(oneshot::Sender<Result<u64, AppendError>>, AppendError),
    Count(oneshot::Sender<usize>, usize),
    Synced(oneshot::Sender<()>),
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

fn backoff(options: &JournalOptions, attempts: u32) -> Duration {
    let factor = 1u32 << attempts.saturating_sub(1).min(20);
    options.retry_base.saturating_mul(factor).min(options.retry_max)
}

impl Writer {
    /// Creates segment `id`, starting with the next event number, durable before use.
    pub fn start_segment(dir: &Path, id: u64, state: &mut State) -> std::io::Result<Writer> {
        let path = segment_path(dir, id);
        let mut file = OpenOptions::new().create_new(true).append(true).open(&path)?;
        let mut bytes = Vec::new();
        Record::SegmentStart {
            next_seq: state.next_seq,
        }
        .encode(&mut bytes);
        file.write_all(&bytes)?;
        file.sync_data()?;
        sync_dir(dir)?;
        let len = bytes.len() as u64;
        state.segments.entry(id).or_default().bytes = len;
        Ok(Writer { file, id, len })
    }

    pub fn spawn(
        self,
        dir: PathBuf,
        options: JournalOptions,
        state: Arc<Mutex<State>>,
        ops: mpsc::Receiver<Op>,
    ) -> std::io::Result<std::thread::JoinHandle<()>> {
        std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || {
                let mut run = Run {
                    writer: self,
                    dir,
                    options,
                    state,
                };
                run.serve(&ops);
            })
    }
}

struct Run {
    writer: Writer,
    dir: PathBuf,
    options: JournalOptions,
    state: Arc<Mutex<State>>,
}

impl Run {
    fn serve(&mut self, ops: &mpsc::Receiver<Op>) {
        let mut batch = Vec::with_capacity(BATCH_OPS);
        let mut buf = Vec::new();
        while let Ok(first) = ops.recv() {
            batch.push(first);
            while batch.len() < BATCH_OPS {
                match ops.try_recv() {
                    Ok(op) => batch.push(op),
                    Err(_) => break,
                }
            }
            let refused = self.write_batch(&mut batch, &mut buf);
            // A full journal whose applied events sit in the open segment frees them by rolling.
            if self.writer.len >= self.options.segment_bytes || (refused && self.writer.len > 4096) {
                self.roll();
            }
            self.compact();
        }
        if let Err(e) = self.writer.file.sync_data() {
            tracing::error!("journal: the last sync failed: {e}");
        }
    }

    /// Writes one batch; true when an append was refused for the disk bound.
    fn write_batch(&mut self, batch: &mut Vec<Op>, buf: &mut Vec<u8>) -> bool {
        buf.clear();
        let mut answers = Vec::new();
        // (seq, offset in buf, framed size, received) of the events written.
        let mut placed = Vec::new();
        let mut finished = Vec::new();
        let mut marks_written = false;
        let mut sync = false;
        let start = self.writer.len;
        {
            let mut state = lock(&self.state);
            let mut used = state.total_bytes();
            for op in batch.drain(..) {
                match op {
                    Op::Append { body, done } => {
                        let size = Record::event_size(body.len()) as u64;
                        if used + size > self.options.max_bytes {
                            let refusal = AppendError::Full {
                                used,
                                max: self.options.max_bytes,
                            };
                            answers.push(Answer::Refused(done, refusal));
                            continue;
                        }
                        let seq = state.next_seq;
                        state.next_seq += 1;
                        let received_ms = now_ms();
                        let at = buf.len();
                        Record::Event {
                            seq,
                            received_ms,
                            body,
                        }
                        .encode(buf);
                        placed.push((seq, at, buf.len() - at, received_ms));
                        used += size;
                        answers.push(Answer::Appended(done, seq));
                        sync = true;
                    }
                    Op::Applied { seq, marks } => {
                        marks_written |= !marks.is_empty();
                        Record::Applied { seq, marks }.encode(buf);
                        finished.push(seq);
                    }
                    Op::Dead { seq, poison, reason } => {
                        let Some(attempts) = state.attempts(seq).map(|a| a.saturating_add(1)) else {
                            continue;
                        };
                        let retry_at_ms = if poison {
                            u64::MAX
                        } else {
                            now_ms().saturating_add(backoff(&self.options, attempts).as_millis() as u64)
                        };
                        let dead = Dead {
                            poison,
                            retry_at_ms,
                            reason,
                        };
                        Record::DeadLetter {
                            seq,
                            attempts,
                            dead: dead.clone(),
                        }
                        .encode(buf);
                        state.set_dead(seq, attempts, dead);
                    }
                    Op::Revive { which, done } => {
                        let chosen = state.selected(which);
                        for &seq in &chosen {
                            Record::Revived { seq }.encode(buf);
                            state.revive(seq);
                        }
                        answers.push(Answer::Count(done, chosen.len()));
                        sync = true;
                    }
                    Op::Discard { which, done } => {
                        let chosen = state.selected(which);
                        for &seq in &chosen {
                            Record::Discarded { seq }.encode(buf);
                        }
                        finished.extend(&chosen);
                        answers.push(Answer::Count(done, chosen.len()));
                        sync = true;
                    }
                    Op::Sync { done } => {
                        answers.push(Answer::Synced(done));
                        sync = true;
                    }
                }
            }
        }
        let written = self.writer.file.write_all(buf).and_then(|()| {
            if sync {
                self.writer.file.sync_data()
            } else {
                Ok(())
            }
        });
        let refused = answers.iter().any(|a| matches!(a, Answer::Refused(..)));
        if let Err(e) = written {
            self.fail(e, start, answers);
            return refused;
        }
        self.writer.len += buf.len() as u64;
        let mut state = lock(&self.state);
        if let Some(segment) = state.segments.get_mut(&self.writer.id) {
            segment.bytes = self.writer.len;
        }
        state.syncs += u64::from(sync);
        state.appends += placed.len() as u64;
        for (seq, at, size, received_ms) in placed {
            state.place(seq, self.writer.id, start + at as u64, size as u32, received_ms);
        }
        for seq in finished {
            state.finish(seq);
        }
        if marks_written {
            // Marks raised in memory before this write now have a record here.
            let id = self.writer.id;
            state.move_marks_unwritten(id);
        }
        drop(state);
        for answer in answers {
            match answer {
                Answer::Appended(done, seq) => {
                    let _ = done.send(Ok(seq));
                }
                Answer::Refused(done, refusal) => {
                    let _ = done.send(Err(refusal));
                }
                Answer::Count(done, n) => {
                    let _ = done.send(n);
                }
                Answer::Synced(done) => {
                    let _ = done.send(());
                }
            }
        }
        refused
    }

    /// A write or sync failed: nothing in the batch counts. The segment is
    /// cut back to its last good length so later records follow whole ones.
    fn fail(&mut self, error: std::io::Error, start: u64, answers: Vec<Answer>) {
        tracing::error!("journal: writing {} failed: {error}", self.dir.display());
        if let Err(e) = self.writer.file.set_len(start) {
            tracing::error!("journal: cutting back after a failed write: {e}");
        }
        for answer in answers {
            match answer {
                Answer::Appended(done, _) | Answer::Refused(done, _) => {
                    let _ = done.send(Err(AppendError::Io(error.to_string())));
                }
                Answer::Count(done, _) => {
                    let _ = done.send(0);
                }
                Answer::Synced(done) => {
                    let _ = done.send(());
                }
            }
        }
    }

    fn roll(&mut self) {
        let next = self.writer.id + 1;
        let mut state = lock(&self.state);
        match Writer::start_segment(&self.dir, next, &mut state) {
            Ok(writer) => self.writer = writer,
            Err(e) => tracing::error!("journal: starting segment {next}: {e}"),
        }
    }

    /// Deletes the oldest segments whose events are all applied. One that
    /// still holds a few live events (dead letters, typically) has them
    /// copied forward first, so a lingering failure does not pin the disk.
    fn compact(&mut self) {
        loop {
            let (oldest, live, live_bytes) = {
                let state = lock(&self.state);
                let Some((&oldest, segment)) = state.segments.iter().next() else {
                    return;
                };
                if oldest == self.writer.id {
                    return;
                }
                (oldest, segment.live, segment.live_bytes)
            };
            if live > 0 {
                if live_bytes > self.options.segment_bytes / 4 {
                    return;
                }
                if let Err(e) = self.carry_forward(oldest) {
                    tracing::error!("journal: copying live events out of segment {oldest}: {e}");
                    return;
                }
            }
            if let Err(e) = self.carry_marks(oldest) {
                tracing::error!("journal: copying ordering marks out of segment {oldest}: {e}");
                return;
            }
            let path = segment_path(&self.dir, oldest);
            if let Err(e) = std::fs::remove_file(&path).and_then(|()| sync_dir(&self.dir)) {
                tracing::error!("journal: deleting {}: {e}", path.display());
                return;
            }
            lock(&self.state).segments.remove(&oldest);
        }
    }

    fn append_synced(&mut self, buf: &[u8]) -> std::io::Result<u64> {
        let start = self.writer.len;
        let written = self
            .writer
            .file
            .write_all(buf)
            .and_then(|()| self.writer.file.sync_data());
        if let Err(e) = written {
            let _ = self.writer.file.set_len(start);
            return Err(e);
        }
        self.writer.len += buf.len() as u64;
        let mut state = lock(&self.state);
        if let Some(segment) = state.segments.get_mut(&self.writer.id) {
            segment.bytes = self.writer.len;
        }
        Ok(start)
    }

    fn carry_forward(&mut self, segment: u64) -> std::io::Result<()> {
        let seqs = lock(&self.state).live_in(segment);
        let source = File::open(segment_path(&self.dir, segment))?;
        let mut buf = Vec::new();
        let mut moved = Vec::new();
        for seq in seqs {
            let Some((_, offset, len)) = lock(&self.state).location(seq) else {
                continue;
            };
            let mut framed = vec![0; len as usize];
            std::os::unix::fs::FileExt::read_exact_at(&source, &mut framed, offset)?;
            let at = buf.len();
            buf.extend_from_slice(&framed);
            let state = lock(&self.state);
            let Some(entry) = state.events.get(&seq) else {
                continue;
            };
            if let Some(dead) = &entry.dead {
                Record::DeadLetter {
                    seq,
                    attempts: entry.attempts,
                    dead: dead.clone(),
                }
                .encode(&mut buf);
            }
            moved.push((seq, at, len, entry.received_ms));
        }
        let start = self.append_synced(&buf)?;
        let mut state = lock(&self.state);
        for (seq, at, len, received_ms) in moved {
            if state.events.contains_key(&seq) {
                state.place(seq, self.writer.id, start + at as u64, len, received_ms);
            }
        }
        Ok(())
    }

    fn carry_marks(&mut self, segment: u64) -> std::io::Result<()> {
        let marks = lock(&self.state).marks_in(segment);
        if marks.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::new();
        Record::Marks { marks }.encode(&mut buf);
        self.append_synced(&buf)?;
        let id = self.writer.id;
        lock(&self.state).move_marks(segment, id);
        Ok(())
    }
}
