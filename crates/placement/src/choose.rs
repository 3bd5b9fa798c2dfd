//! Which Host to try next for a unit: the [`Fit`] strategy as an order over Hosts.
//!
//! A choice point is resumed by asking for the best feasible Host *strictly after* the key
//! tried last. Backtracking restores the state exactly (integer loads), so the keys are the
//! same as when the choice point was created and no Host is skipped or tried twice.

use std::cmp::Ordering;

use crate::problem::Problem;
use crate::search::Fit;
use crate::state::State;

/// Rank of a Host for one unit; smaller is better. Ties end at the Host index, so the order is
/// total and the result deterministic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Key {
    /// A replica of the same module already runs on this platform (soft constraint).
    clash: bool,
    /// Committed utilization as a fraction of the admission bound (0 for first fit).
    load: f64,
    /// Modules on the Host: among equally loaded Hosts the emptier one wins (0 for first fit).
    count: u32,
    /// `u64::MAX - free memory`, so more free memory ranks first (0 for first fit).
    full: u64,
    /// Host index.
    pub host: u32,
}

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, o: &Self) -> Ordering {
        self.clash
            .cmp(&o.clash)
            .then(self.load.total_cmp(&o.load))
            .then(self.count.cmp(&o.count))
            .then(self.full.cmp(&o.full))
            .then(self.host.cmp(&o.host))
    }
}

/// The best Host for unit `u` that satisfies every constraint and ranks after `after`.
///
/// A linear scan over the unit's candidates: on the 10k-module × 1k-Host benchmark it costs
/// tens of milliseconds in total (see docs/placement.md), because the full feasibility check
/// only runs for Hosts that would beat the best found so far.
pub(crate) fn next(p: &Problem, s: &State, fit: Fit, u: u32, after: Option<Key>) -> Option<Key> {
    let unit = &p.units[u as usize];
    let siblings: Vec<u32> = s.new_on[unit.module as usize]
        .iter()
        .filter_map(|&h| p.platform[h as usize])
        .collect();
    let key = |h: u32| rank(p, s, fit, &siblings, h);
    let later = |k: &Key| after.is_none_or(|a| *k > a);
    if let Some(h) = s.forced_host(p, u) {
        let k = key(h);
        return (later(&k) && s.check(p, u, h).is_ok()).then_some(k);
    }
    let mut best: Option<Key> = None;
    for &h in &p.candidates[unit.sig as usize] {
        let k = key(h);
        if !later(&k) || best.is_some_and(|b| k >= b) || s.check(p, u, h).is_err() {
            continue;
        }
        if fit == Fit::FirstFit && !k.clash {
            // Candidates come in Host order: nothing later can rank before this one.
            return Some(k);
        }
        best = Some(k);
    }
    best
}

fn rank(p: &Problem, s: &State, fit: Fit, siblings: &[u32], h: u32) -> Key {
    let hi = h as usize;
    let clash = p.platform[hi].is_some_and(|pl| siblings.contains(&pl));
    match fit {
        Fit::FirstFit => Key {
            clash,
            load: 0.0,
            count: 0,
            full: 0,
            host: h,
        },
        Fit::LeastLoaded => {
            let free = p.mem_cap[hi].saturating_sub(s.mem[hi]);
            Key {
                clash,
                load: s.load[hi],
                count: s.count[hi],
                full: u64::MAX - free,
                host: h,
            }
        }
    }
}
