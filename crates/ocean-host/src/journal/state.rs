//! What the journal knows in memory: where each live event sits, which are
//! dead letters, the segments and their live counts, and the ordering marks.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{DeadLetter, Selection, Stats};

#[derive(Debug, Clone, PartialEq)]
pub struct Dead {
    pub poison: bool,
    pub retry_at_ms: u64,
    pub reason: String,
}

/// An event not applied yet.
pub struct Entry {
    pub segment: u64,
    pub offset: u64,
    /// Framed record size.
    pub len: u32,
    pub received_ms: u64,
    pub attempts: u32,
    pub dead: Option<Dead>,
    /// Handed to the processor and not answered yet.
    pub in_flight: bool,
}

#[derive(Default)]
pub struct Segment {
    pub bytes: u64,
    /// Events whose newest copy is here and not applied.
    pub live: usize,
    pub live_bytes: u64,
}

#[derive(Default)]
pub struct State {
    pub events: BTreeMap<u64, Entry>,
    pub dead: BTreeSet<u64>,
    /// By id; the last is the one appended to.
    pub segments: BTreeMap<u64, Segment>,
    /// Entity key → (newest order applied, segment holding that record).
    marks: HashMap<String, (i64, Option<u64>)>,
    pub next_seq: u64,
    /// Syncs done since opening (group commit makes this far below appends).
    pub syncs: u64,
    pub appends: u64,
}

impl State {
    pub fn total_bytes(&self) -> u64 {
        self.segments.values().map(|s| s.bytes).sum()
    }

    pub fn stats(&self) -> Stats {
        Stats {
            bytes: self.total_bytes(),
            segments: self.segments.len(),
            live: self.events.len(),
            dead: self.dead.len(),
            syncs: self.syncs,
            appends: self.appends,
        }
    }

    /// Records an event's (newest) copy at a place.
    pub fn place(&mut self, seq: u64, segment: u64, offset: u64, len: u32, received_ms: u64) {
        let previous = self.events.insert(
            seq,
            Entry {
                segment,
                offset,
                len,
                received_ms,
                attempts: 0,
                dead: None,
                in_flight: false,
            },
        );
        if let Some(previous) = previous {
            self.unlive(previous.segment, previous.len);
            if let Some(entry) = self.events.get_mut(&seq) {
                entry.attempts = previous.attempts;
                entry.dead = previous.dead;
                entry.in_flight = previous.in_flight;
            }
        }
        let target = self.segments.entry(segment).or_default();
        target.live += 1;
        target.live_bytes += u64::from(len);
    }

    fn unlive(&mut self, segment: u64, len: u32) {
        if let Some(s) = self.segments.get_mut(&segment) {
            s.live = s.live.saturating_sub(1);
            s.live_bytes = s.live_bytes.saturating_sub(u64::from(len));
        }
    }

    /// The event is done with (applied or discarded).
    pub fn finish(&mut self, seq: u64) -> bool {
        self.dead.remove(&seq);
        match self.events.remove(&seq) {
            Some(entry) => {
                self.unlive(entry.segment, entry.len);
                true
            }
            None => false,
        }
    }

    pub fn set_dead(&mut self, seq: u64, attempts: u32, dead: Dead) {
        if let Some(entry) = self.events.get_mut(&seq) {
            entry.attempts = attempts;
            entry.dead = Some(dead);
            entry.in_flight = false;
            self.dead.insert(seq);
        }
    }

    pub fn attempts(&self, seq: u64) -> Option<u32> {
        self.events.get(&seq).map(|e| e.attempts)
    }

    pub fn revive(&mut self, seq: u64) -> bool {
        match self.events.get_mut(&seq) {
            Some(entry) if entry.dead.is_some() => {
                if let Some(dead) = entry.dead.as_mut() {
                    dead.poison = false;
                    dead.retry_at_ms = 0;
                }
                entry.in_flight = false;
                true
            }
            _ => false,
        }
    }

    pub fn selected(&self, which: Selection) -> Vec<u64> {
        match which {
            Selection::All => self.dead.iter().copied().collect(),
            Selection::One(seq) => self.dead.contains(&seq).then_some(seq).into_iter().collect(),
        }
    }

    pub fn raise_mark(&mut self, key: &str, order: i64, segment: Option<u64>) {
        match self.marks.get_mut(key) {
            Some(mark) => {
                if order >= mark.0 {
                    mark.0 = order;
                    if segment.is_some() {
                        mark.1 = segment;
                    }
                }
            }
            None => {
                self.marks.insert(key.to_string(), (order, segment));
            }
        }
    }

    pub fn mark(&self, key: &str) -> Option<i64> {
        self.marks.get(key).map(|m| m.0)
    }

    /// Marks whose newest record is in `segment` (or not written yet), to copy forward.
    pub fn marks_in(&self, segment: u64) -> Vec<(String, i64)> {
        self.marks
            .iter()
            .filter(|(_, m)| m.1.is_none_or(|s| s == segment))
            .map(|(k, m)| (k.clone(), m.0))
            .collect()
    }

    pub fn move_marks(&mut self, from: u64, to: u64) {
        for mark in self.marks.values_mut() {
            if mark.1.is_none_or(|s| s == from) {
                mark.1 = Some(to);
            }
        }
    }

    /// Marks raised in memory whose record has just been written to `segment`.
    pub fn move_marks_unwritten(&mut self, segment: u64) {
        for mark in self.marks.values_mut() {
            if mark.1.is_none() {
                mark.1 = Some(segment);
            }
        }
    }

    pub fn location(&self, seq: u64) -> Option<(u64, u64, u32)> {
        self.events.get(&seq).map(|e| (e.segment, e.offset, e.len))
    }

    pub fn take_due(&mut self, now_ms: u64, max: usize) -> Vec<u64> {
        let mut due = Vec::new();
        for seq in &self.dead {
            if due.len() >= max {
                break;
            }
            let Some(entry) = self.events.get_mut(seq) else {
                continue;
            };
            let ready = entry
                .dead
                .as_ref()
                .is_some_and(|d| !d.poison && d.retry_at_ms <= now_ms);
            if ready && !entry.in_flight {
                entry.in_flight = true;
                due.push(*seq);
            }
        }
        due
    }

    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.dead
            .iter()
            .filter_map(|seq| {
                let entry = self.events.get(seq)?;
                let dead = entry.dead.as_ref()?;
                Some(DeadLetter {
                    seq: *seq,
                    received_ms: entry.received_ms,
                    attempts: entry.attempts,
                    poison: dead.poison,
                    retry_at_ms: dead.retry_at_ms,
                    reason: dead.reason.clone(),
                })
            })
            .collect()
    }

    /// Live events, not dead, in `segment` (for copying forward).
    pub fn live_in(&self, segment: u64) -> Vec<u64> {
        self.events
            .iter()
            .filter(|(_, e)| e.segment == segment)
            .map(|(seq, _)| *seq)
            .collect()
    }
}
