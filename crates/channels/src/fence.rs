//! The Host's lease on its outputs: **fencing**, so that a module never runs twice.
//!
//! An Orchestrator re-places the modules of a Host it has lost. If that Host is in fact alive
//! (paused, overloaded, cut off), its modules would keep publishing next to their new copies.
//! The fence prevents that: a Host publishes only while it holds a lease, granted by the
//! Orchestrator in answer to each of its reports and counted **from the moment the Host sent
//! the report**, on the Host's own monotonic clock. A late or replayed grant therefore never
//! extends the lease past that bound, and no clocks need to agree. The Orchestrator, for its
//! part, re-places only after the last grant it gave plus the lease (and a margin) has passed.
//!
//! Checked on every publish (one clock read): a Host resumed after SIGSTOP drops its first
//! publish already, before any timer of its own had a chance to run.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Nanoseconds on this process's monotonic clock (the clock leases are counted on). The clock
/// keeps running while the process is stopped.
pub fn now_ns() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    // Starts at 1 so that 0 can mean "closed".
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64 + 1
}

/// Until when this Host may publish on fenced outputs.
#[derive(Debug)]
pub struct Fence {
    ends_ns: AtomicU64,
}

impl Default for Fence {
    /// Open for ever: a Host no Orchestrator governs (e.g. `silverline run`).
    fn default() -> Self {
        Fence { ends_ns: AtomicU64::new(u64::MAX) }
    }
}

impl Fence {
    /// Close the fence until the first lease: the Host answers to an Orchestrator from now on.
    pub fn arm(&self) {
        self.ends_ns.store(0, Ordering::Release);
    }

    /// Is the Host allowed to publish now?
    pub fn is_open(&self) -> bool {
        now_ns() < self.ends_ns.load(Ordering::Acquire)
    }

    /// A lease of `lease` counted from `from_ns` (a [`now_ns`] reading taken when the report it
    /// answers was made). Never shortens a longer lease. Returns whether the fence was closed.
    pub fn grant(&self, from_ns: u64, lease: Duration) -> bool {
        let was_open = self.is_open();
        let ends = from_ns.saturating_add(lease.as_nanos() as u64);
        self.ends_ns.fetch_max(ends, Ordering::AcqRel);
        !was_open
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_counts_from_the_report_not_from_its_arrival() {
        let fence = Fence::default();
        assert!(fence.is_open(), "open until armed");
        fence.arm();
        assert!(!fence.is_open());
        let sent = now_ns();
        assert!(fence.grant(sent, Duration::from_secs(60)), "it was closed");
        assert!(fence.is_open());
        // A stale grant (for a report made long ago) does not shorten or re-open anything.
        assert!(!fence.grant(1, Duration::from_millis(1)));
        assert!(fence.is_open());
        let stale = Fence::default();
        stale.arm();
        let made = now_ns();
        std::thread::sleep(Duration::from_millis(5)); // the report is older than its lease
        stale.grant(made, Duration::from_millis(1));
        assert!(!stale.is_open(), "a grant for a report older than the lease opens nothing");
    }
}
