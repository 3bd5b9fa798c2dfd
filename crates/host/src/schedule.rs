//! The timer of a Host: one thread, one heap of due times.
//!
//! Periodic activations are scheduled at absolute instants computed from the activation index
//! (`anchor + k·period`), never as "now + period", so lateness of one activation never shifts
//! the next one: the schedule does not drift.

use crate::module::ModuleRuntime;
use parking_lot::{Condvar, Mutex};
use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

/// What a timer does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimerKind {
    /// Periodic activation k is due.
    Tick(i64),
    /// A failed module's back-off has elapsed.
    Restart,
    /// A wake-up the module asked for with `sl.wake_at` (only the latest, by sequence, counts).
    Wake(u64),
}

struct Entry {
    at: Instant,
    seq: u64,
    module: Weak<ModuleRuntime>,
    kind: TimerKind,
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        self.at == o.at && self.seq == o.seq
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    /// Reversed: `BinaryHeap` is a max-heap and we want the earliest first.
    fn cmp(&self, o: &Self) -> CmpOrdering {
        o.at.cmp(&self.at).then(o.seq.cmp(&self.seq))
    }
}

/// A heap of timers served by one thread.
#[derive(Default)]
pub(crate) struct TimerQueue {
    heap: Mutex<BinaryHeap<Entry>>,
    cond: Condvar,
    seq: AtomicU64,
    stop: AtomicBool,
}

impl TimerQueue {
    /// Fire `kind` for `module` at `at`.
    pub(crate) fn push(&self, at: Instant, module: &Arc<ModuleRuntime>, kind: TimerKind) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let mut heap = self.heap.lock();
        let earliest = heap.peek().is_none_or(|e| at < e.at);
        heap.push(Entry { at, seq, module: Arc::downgrade(module), kind });
        drop(heap);
        if earliest {
            self.cond.notify_one();
        }
    }

    /// Stop the timer thread.
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        let _guard = self.heap.lock();
        self.cond.notify_all();
    }

    /// Serve timers until [`TimerQueue::stop`]; `fire` runs on the timer thread and must be short.
    pub(crate) fn run(&self, fire: impl Fn(Arc<ModuleRuntime>, TimerKind, Instant)) {
        let mut heap = self.heap.lock();
        while !self.stop.load(Ordering::Relaxed) {
            let Some(next) = heap.peek() else {
                self.cond.wait(&mut heap);
                continue;
            };
            let at = next.at;
            if at > Instant::now() {
                self.cond.wait_until(&mut heap, at);
                continue;
            }
            let Some(entry) = heap.pop() else { continue };
            drop(heap);
            if let Some(module) = entry.module.upgrade() {
                fire(module, entry.kind, entry.at);
            }
            heap = self.heap.lock();
        }
    }
}
