//! Accepted events waiting for the processor. Bodies stay in memory up to a
//! bound; past it only the event's number is queued and the body is read back
//! from the journal when its turn comes (a spill), so a burst is never refused.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Notify;

/// One accepted event: its journal number and, unless it spilled, its body
/// as it arrived (parsed when processed; a spilled one is read back first).
pub struct Queued {
    /// The event's number in the journal.
    pub seq: u64,
    /// The body as received; `None` when it spilled (or is a replay) and must be read from the journal.
    pub body: Option<Bytes>,
}

/// Accepted events waiting for the processor, in arrival order; never refuses an event, only
/// spills its body to the journal past the in-memory bound. Shared by the intake and the processor.
pub struct EventQueue {
    inner: Mutex<Inner>,
    ready: Notify,
    /// Bodies held in memory at most.
    capacity: usize,
}

#[derive(Default)]
struct Inner {
    items: VecDeque<Queued>,
    in_memory: usize,
    spilled: u64,
    closed: bool,
}

impl EventQueue {
    /// A queue holding at most `capacity` bodies in memory.
    pub fn new(capacity: usize) -> Self {
        EventQueue {
            inner: Mutex::new(Inner::default()),
            ready: Notify::new(),
            capacity,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues an accepted event; returns false when its body spilled.
    pub fn push(&self, seq: u64, body: Bytes) -> bool {
        let kept = {
            let mut inner = self.lock();
            let kept = inner.in_memory < self.capacity;
            if kept {
                inner.in_memory += 1;
                inner.items.push_back(Queued {
                    seq,
                    body: Some(body),
                });
            } else {
                inner.spilled += 1;
                inner.items.push_back(Queued { seq, body: None });
            }
            kept
        };
        self.ready.notify_one();
        kept
    }

    /// Queues events whose bodies are in the journal only (replays, retries).
    pub fn push_stored(&self, seqs: impl IntoIterator<Item = u64>) {
        {
            let mut inner = self.lock();
            inner
                .items
                .extend(seqs.into_iter().map(|seq| Queued { seq, body: None }));
        }
        self.ready.notify_one();
    }

    /// No more events will come: `take` returns what is left, then `None`.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_one();
    }

    /// Waits up to `wait`; true once the queue is closed (checked at least every 50 ms).
    pub async fn closed_after(&self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if self.lock().closed {
                return true;
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return false;
            }
            tokio::time::sleep((deadline - now).min(Duration::from_millis(50))).await;
        }
    }

    /// Events queued, spilled ones included.
    pub fn len(&self) -> usize {
        self.lock().items.len()
    }

    /// Whether no event is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bodies that did not fit in memory since start.
    pub fn spilled(&self) -> u64 {
        self.lock().spilled
    }

    /// Up to `max` events, waiting at most `wait` for the first; `None` once
    /// closed and empty.
    pub async fn take(&self, max: usize, wait: Duration) -> Option<Vec<Queued>> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.ready.notified();
            {
                let mut inner = self.lock();
                if !inner.items.is_empty() {
                    let n = inner.items.len().min(max);
                    let batch: Vec<Queued> = inner.items.drain(..n).collect();
                    inner.in_memory -= batch.iter().filter(|q| q.body.is_some()).count();
                    if !inner.items.is_empty() {
                        self.ready.notify_one();
                    }
                    return Some(batch);
                }
                if inner.closed {
                    return None;
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Some(Vec::new());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(n: u8) -> Bytes {
        Bytes::from(vec![b'0' + n])
    }

    #[tokio::test]
    async fn bodies_past_the_bound_spill_and_order_holds() {
        let queue = EventQueue::new(2);
        assert!(queue.push(1, body(1)));
        assert!(queue.push(2, body(2)));
        assert!(!queue.push(3, body(3)), "the third body spills");
        queue.push_stored([4]);
        let batch = queue.take(10, Duration::from_millis(1)).await.expect("events");
        let seen: Vec<(u64, bool)> = batch.iter().map(|q| (q.seq, q.body.is_some())).collect();
        assert_eq!(seen, [(1, true), (2, true), (3, false), (4, false)]);
        assert_eq!(queue.spilled(), 1);
        assert!(queue.push(5, body(5)), "taking frees room in memory");
        queue.close();
        assert_eq!(
            queue.take(10, Duration::from_millis(1)).await.map(|b| b.len()),
            Some(1)
        );
        assert!(queue.take(10, Duration::from_millis(1)).await.is_none());
    }

    #[tokio::test]
    async fn an_idle_wait_ends_empty() {
        let queue = EventQueue::new(2);
        let batch = queue.take(10, Duration::from_millis(5)).await;
        assert!(batch.is_some_and(|b| b.is_empty()));
    }
}
