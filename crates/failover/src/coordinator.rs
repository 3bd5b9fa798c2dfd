//! The failover coordinator's decisions (docs/failover.md, "failover coordinator"), as a state
//! machine that makes exactly the decisions of `sidecars/coordinator.wat`. The sidecar runs the
//! WAT; the Orchestrator-based baseline feeds the same ALIVE/DOWN messages to a [`Coordinator`].
//!
//! - ALIVE(i): mark i up with its load (`t3`). Without a primary, promote the best Host up; else if
//!   i is the primary, LEASE(now + lease) to i. A new primary gets no LEASE on the ALIVE that
//!   elected it (its ACTIVATE carries the lease), and a Host that comes back stays a backup: there
//!   is no preemption.
//! - DOWN(i): mark i down. If i was the primary: DEACTIVATE(detected at = the DOWN's `t1`) to i,
//!   then promote with that `detected_at`.
//! - promote: the best Host up gets ACTIVATE(until = now + lease, not_before = last_until + skew,
//!   detected_at), and `notify` gets PROMOTED(index, until, 0, detected_at); when nobody is up,
//!   only PROMOTED([`NO_PRIMARY`], 0, 0, detected_at). `last_until` is the end of the last lease
//!   granted (0 before the first). The initial election has `detected_at` 0.
//! - Every command's `index` is its target replica. Other kinds and indices `>= n` are ignored.
//!
//! Time sums saturate at `i64::MAX`, as in the WAT.

use std::fmt;
use std::str::FromStr;

use crate::wire::{Msg, ACTIVATE, ALIVE, DEACTIVATE, DOWN, LEASE, NO_PRIMARY, PROMOTED};

/// Most replicas a coordinator tracks (the WAT's state arrays hold 8).
pub const MAX_REPLICAS: usize = 8;

/// How the next primary is chosen among the Hosts that are up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Policy {
    /// The lowest index (the list is in priority order).
    Priority,
    /// The lowest load in its last ALIVE; ties go to the lowest index.
    LeastLoaded,
}

impl Policy {
    /// The config word: `"priority"` or `"least-loaded"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Priority => "priority",
            Policy::LeastLoaded => "least-loaded",
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A policy word that is neither `priority` nor `least-loaded`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownPolicy(pub String);

impl fmt::Display for UnknownPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown failover policy {:?} (expected \"priority\" or \"least-loaded\")", self.0)
    }
}

impl std::error::Error for UnknownPolicy {}

impl FromStr for Policy {
    type Err = UnknownPolicy;
    fn from_str(s: &str) -> Result<Policy, UnknownPolicy> {
        match s {
            "priority" => Ok(Policy::Priority),
            "least-loaded" => Ok(Policy::LeastLoaded),
            _ => Err(UnknownPolicy(s.to_string())),
        }
    }
}

/// A message the coordinator sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Out {
    /// To replica `.0` (the coordinator's output `cmd{.0}`).
    Cmd(usize, Msg),
    /// To the Orchestrator (output `notify`).
    Notify(Msg),
}

/// The coordinator of one replicated module.
#[derive(Debug, Clone)]
pub struct Coordinator {
    policy: Policy,
    lease_ns: i64,
    skew_ns: i64,
    up: Vec<bool>,
    load: Vec<i64>,
    primary: Option<usize>,
    last_until: i64,
    /// The current primary's `not_before`, repeated in every LEASE.
    primary_from: i64,
}

impl Coordinator {
    /// A coordinator of `n` replica Hosts (indices `0..n`, in priority order), nobody up and no
    /// primary yet.
    ///
    /// # Panics
    /// If `n` is not in `1..=MAX_REPLICAS` or a duration is negative (the manifest rules these
    /// out; the WAT refuses such configs at `sl_init`).
    pub fn new(n: usize, policy: Policy, lease_ns: i64, skew_ns: i64) -> Coordinator {
        assert!((1..=MAX_REPLICAS).contains(&n), "a coordinator tracks 1 to {MAX_REPLICAS} replicas, not {n}");
        assert!(lease_ns >= 0 && skew_ns >= 0, "negative lease ({lease_ns} ns) or skew ({skew_ns} ns)");
        Coordinator { policy, lease_ns, skew_ns, up: vec![false; n], load: vec![0; n], primary: None, last_until: 0, primary_from: 0 }
    }

    /// The current primary, if any.
    pub fn primary(&self) -> Option<usize> {
        self.primary
    }

    /// Whether replica `i` is up (its last message was an ALIVE).
    pub fn is_up(&self, i: usize) -> bool {
        self.up.get(i).copied().unwrap_or(false)
    }

    /// End of the last lease granted (0 before the first).
    pub fn last_until(&self) -> i64 {
        self.last_until
    }

    /// Handles one message that arrived at `now_ns` (Unix ns, the coordinator's clock) and returns
    /// what to send, in order.
    pub fn on_message(&mut self, msg: &Msg, now_ns: i64) -> Vec<Out> {
        let mut out = Vec::new();
        let i = msg.index as usize;
        if i >= self.up.len() {
            return out;
        }
        match msg.kind {
            ALIVE => self.alive(i, msg.t3, now_ns, &mut out),
            DOWN => self.down(i, msg.t1, now_ns, &mut out),
            _ => {}
        }
        out
    }

    fn alive(&mut self, i: usize, load: i64, now: i64, out: &mut Vec<Out>) {
        self.up[i] = true;
        self.load[i] = load;
        match self.primary {
            None => self.promote(0, now, out),
            Some(p) if p == i => {
                self.last_until = now.saturating_add(self.lease_ns);
                out.push(Out::Cmd(i, Msg::new(LEASE, i as u32, self.last_until, self.primary_from, 0)));
            }
            Some(_) => {}
        }
    }

    fn down(&mut self, i: usize, detected_at: i64, now: i64, out: &mut Vec<Out>) {
        self.up[i] = false;
        if self.primary != Some(i) {
            return;
        }
        // Best effort: the old primary is probably unreachable; its lease runs out anyway.
        out.push(Out::Cmd(i, Msg::new(DEACTIVATE, i as u32, 0, 0, detected_at)));
        self.promote(detected_at, now, out);
    }

    fn promote(&mut self, detected_at: i64, now: i64, out: &mut Vec<Out>) {
        self.primary = self.best();
        let Some(b) = self.primary else {
            out.push(Out::Notify(Msg::new(PROMOTED, NO_PRIMARY, 0, 0, detected_at)));
            return;
        };
        let until = now.saturating_add(self.lease_ns);
        // The old primary may publish until last_until on its own clock: wait that plus the skew.
        let not_before = self.last_until.saturating_add(self.skew_ns);
        self.last_until = until;
        self.primary_from = not_before;
        out.push(Out::Cmd(b, Msg::new(ACTIVATE, b as u32, until, not_before, detected_at)));
        out.push(Out::Notify(Msg::new(PROMOTED, b as u32, until, 0, detected_at)));
    }

    /// The best Host up by the policy; the lowest index wins ties.
    fn best(&self) -> Option<usize> {
        let up = (0..self.up.len()).filter(|&i| self.up[i]);
        match self.policy {
            Policy::Priority => up.min(),
            // min_by_key returns the first of equal minima, i.e. the lowest index.
            Policy::LeastLoaded => up.min_by_key(|&i| self.load[i]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE_NS: i64 = 10_000;
    const SKEW_NS: i64 = 1_000;

    fn alive(i: u32, load: i64) -> Msg {
        Msg::new(ALIVE, i, 0, 0, load)
    }
    fn down(i: u32, detected_at: i64) -> Msg {
        Msg::new(DOWN, i, detected_at, 0, 0)
    }
    /// A coordinator with all of `0..n` up (equal loads) and 0 elected at time 0.
    fn all_up(n: usize, policy: Policy) -> Coordinator {
        let mut c = Coordinator::new(n, policy, LEASE_NS, SKEW_NS);
        for i in 0..n as u32 {
            c.on_message(&alive(i, 500), 0);
        }
        assert_eq!(c.primary(), Some(0));
        c
    }

    #[test]
    fn policy_words() {
        assert_eq!("priority".parse(), Ok(Policy::Priority));
        assert_eq!("least-loaded".parse(), Ok(Policy::LeastLoaded));
        assert!("Priority".parse::<Policy>().is_err());
        assert_eq!(Policy::LeastLoaded.to_string(), "least-loaded");
    }

    #[test]
    fn first_alive_elects_its_sender() {
        let mut c = Coordinator::new(3, Policy::Priority, LEASE_NS, SKEW_NS);
        assert_eq!(c.primary(), None);
        let out = c.on_message(&alive(2, 700), 100);
        assert_eq!(
            out,
            vec![
                // No lease granted yet: not_before = 0 + skew, no disconnect behind it.
                Out::Cmd(2, Msg::new(ACTIVATE, 2, 100 + LEASE_NS, SKEW_NS, 0)),
                Out::Notify(Msg::new(PROMOTED, 2, 100 + LEASE_NS, 0, 0)),
            ]
        );
        assert_eq!(c.primary(), Some(2));
        assert_eq!(c.last_until(), 100 + LEASE_NS);
        // A higher-priority Host showing up later does not preempt.
        assert_eq!(c.on_message(&alive(0, 0), 200), vec![]);
        assert_eq!(c.primary(), Some(2));
        assert!(c.is_up(0));
    }

    #[test]
    fn only_the_primarys_alive_renews_the_lease() {
        let mut c = all_up(3, Policy::Priority);
        assert_eq!(c.on_message(&alive(1, 500), 50), vec![]);
        assert_eq!(c.on_message(&alive(2, 500), 50), vec![]);
        assert_eq!(c.on_message(&alive(0, 500), 60), vec![Out::Cmd(0, Msg::new(LEASE, 0, 60 + LEASE_NS, SKEW_NS, 0))], "with the not_before of its promotion");
        assert_eq!(c.last_until(), 60 + LEASE_NS);
    }

    #[test]
    fn primary_down_promotes_by_priority() {
        let mut c = all_up(3, Policy::Priority);
        c.on_message(&alive(0, 500), 60); // lease until 60 + LEASE_NS
        let out = c.on_message(&down(0, 900), 1_000);
        assert_eq!(
            out,
            vec![
                Out::Cmd(0, Msg::new(DEACTIVATE, 0, 0, 0, 900)),
                Out::Cmd(1, Msg::new(ACTIVATE, 1, 1_000 + LEASE_NS, 60 + LEASE_NS + SKEW_NS, 900)),
                Out::Notify(Msg::new(PROMOTED, 1, 1_000 + LEASE_NS, 0, 900)),
            ]
        );
        assert_eq!(c.primary(), Some(1));
        assert_eq!(c.last_until(), 1_000 + LEASE_NS);
    }

    #[test]
    fn primary_down_promotes_the_least_loaded() {
        let mut c = Coordinator::new(4, Policy::LeastLoaded, LEASE_NS, SKEW_NS);
        c.on_message(&alive(0, 100), 0); // elected: first one up
        for (i, load) in [(1, 800), (2, 300), (3, 300)] {
            c.on_message(&alive(i, load), 10);
        }
        let out = c.on_message(&down(0, 20), 30);
        // 2 and 3 tie at 300: the lower index wins.
        assert_eq!(out[1], Out::Cmd(2, Msg::new(ACTIVATE, 2, 30 + LEASE_NS, LEASE_NS + SKEW_NS, 20)));
        assert_eq!(c.primary(), Some(2));
        // The load in the latest ALIVE counts.
        c.on_message(&alive(1, 50), 40);
        c.on_message(&down(2, 45), 50);
        assert_eq!(c.primary(), Some(1));
    }

    #[test]
    fn nobody_left_reports_no_primary_and_next_alive_elects() {
        let mut c = all_up(2, Policy::Priority);
        assert_eq!(c.on_message(&down(1, 5), 6), vec![]);
        let out = c.on_message(&down(0, 7), 8);
        assert_eq!(
            out,
            vec![
                Out::Cmd(0, Msg::new(DEACTIVATE, 0, 0, 0, 7)),
                Out::Notify(Msg::new(PROMOTED, NO_PRIMARY, 0, 0, 7)),
            ]
        );
        assert_eq!(c.primary(), None);
        // The next ALIVE elects; not_before still honours the last lease granted (at time 0).
        let out = c.on_message(&alive(1, 0), 100);
        assert_eq!(out[0], Out::Cmd(1, Msg::new(ACTIVATE, 1, 100 + LEASE_NS, LEASE_NS + SKEW_NS, 0)));
        assert_eq!(c.primary(), Some(1));
    }

    #[test]
    fn reconnected_old_primary_stays_backup() {
        let mut c = all_up(2, Policy::Priority);
        c.on_message(&down(0, 10), 10);
        assert_eq!(c.primary(), Some(1));
        assert_eq!(c.on_message(&alive(0, 0), 20), vec![]);
        assert_eq!(c.primary(), Some(1));
        assert!(c.is_up(0));
    }

    #[test]
    fn backup_down_only_marks_it_down() {
        let mut c = all_up(3, Policy::Priority);
        let before = c.last_until();
        assert_eq!(c.on_message(&down(2, 10), 10), vec![]);
        assert_eq!(c.on_message(&down(2, 11), 11), vec![]);
        assert!(!c.is_up(2));
        assert_eq!((c.primary(), c.last_until()), (Some(0), before));
        // ... and it is no longer a candidate.
        c.on_message(&down(1, 12), 12);
        assert_eq!(c.on_message(&down(0, 13), 13)[1], Out::Notify(Msg::new(PROMOTED, NO_PRIMARY, 0, 0, 13)));
    }

    #[test]
    fn ignores_other_kinds_and_foreign_indices() {
        let mut c = Coordinator::new(2, Policy::Priority, LEASE_NS, SKEW_NS);
        assert_eq!(c.on_message(&alive(2, 0), 1), vec![]);
        assert_eq!(c.on_message(&Msg::new(crate::wire::HEARTBEAT, 0, 0, 0, 0), 1), vec![]);
        assert_eq!(c.on_message(&Msg::new(LEASE, 0, 0, 0, 0), 1), vec![]);
        assert_eq!(c.primary(), None);
    }

    #[test]
    fn lease_end_saturates() {
        let mut c = Coordinator::new(1, Policy::Priority, i64::MAX, 0);
        let out = c.on_message(&alive(0, 0), 5);
        assert_eq!(out[0], Out::Cmd(0, Msg::new(ACTIVATE, 0, i64::MAX, 0, 0)));
    }

    #[test]
    #[should_panic(expected = "1 to 8 replicas")]
    fn refuses_more_than_eight() {
        Coordinator::new(9, Policy::Priority, 1, 0);
    }
}
