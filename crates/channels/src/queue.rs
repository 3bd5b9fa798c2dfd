//! Bounded input queues with a drop-oldest overflow policy.

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

type Waker = Box<dyn Fn() + Send + Sync>;

/// The receiving side of one input channel of one module.
///
/// Bounded: when a message arrives at a full queue the oldest message is dropped and counted in
/// [`InputQueue::dropped`]. Real-time consumers want the freshest sample, not a backlog.
pub struct InputQueue {
    messages: Mutex<VecDeque<Bytes>>,
    capacity: usize,
    received: AtomicU64,
    dropped: AtomicU64,
    wakers: RwLock<Vec<Waker>>,
}

impl InputQueue {
    /// A queue holding at most `capacity` messages (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        InputQueue {
            messages: Mutex::new(VecDeque::with_capacity(capacity.min(64))),
            capacity,
            received: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            wakers: RwLock::new(Vec::new()),
        }
    }

    /// Call `waker` after every message pushed (the Host uses it for event triggers and for
    /// waking a module blocked in a poll).
    pub fn add_waker(&self, waker: impl Fn() + Send + Sync + 'static) {
        self.wakers.write().push(Box::new(waker));
    }

    /// Enqueue a message, dropping the oldest one if the queue is full.
    pub fn push(&self, payload: Bytes) {
        {
            let mut messages = self.messages.lock();
            if messages.len() == self.capacity {
                messages.pop_front();
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
            messages.push_back(payload);
        }
        self.received.fetch_add(1, Ordering::Relaxed);
        for wake in self.wakers.read().iter() {
            wake();
        }
    }

    /// Take the oldest message, if any.
    pub fn pop(&self) -> Option<Bytes> {
        self.messages.lock().pop_front()
    }

    /// Number of messages waiting.
    pub fn len(&self) -> usize {
        self.messages.lock().len()
    }

    /// True when nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most messages this queue holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Messages ever pushed (including those later dropped).
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Messages dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for InputQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InputQueue")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .field("dropped", &self.dropped())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_drops_the_oldest_and_counts() {
        let q = InputQueue::new(2);
        for i in 0..5u8 {
            q.push(Bytes::from(vec![i]));
        }
        assert_eq!(q.dropped(), 3);
        assert_eq!(q.received(), 5);
        assert_eq!(q.pop().unwrap()[0], 3);
        assert_eq!(q.pop().unwrap()[0], 4);
        assert!(q.pop().is_none());
    }
}
