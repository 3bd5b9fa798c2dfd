//! The default [`Placer`]: depth-first assignment with chronological backtracking.

use serde::{Deserialize, Serialize};

use crate::choose::{self, Key};
use crate::error::PlacementError;
use crate::explain;
use crate::model::{Assignment, HostCapacity, ModuleDemand, Placement};
use crate::problem::Problem;
use crate::state::State;
use crate::Placer;

/// How [`Backtracking`] ranks the Hosts that can take a module.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Fit {
    /// Spread: the Host with the lowest utilization relative to its admission bound, then the
    /// most free memory, then the first in input order.
    #[default]
    LeastLoaded,
    /// Pack: the first Host in input order.
    FirstFit,
}

/// Backtracking-based mapping (paper, section IV-C): modules are taken most constrained first
/// and each is given the best Host by the [`Fit`] strategy; when one finds no Host, the last
/// choice is undone and its next-best Host tried, up to `max_backtracks` times.
///
/// With either strategy, a replica avoids a platform that already holds another replica of its
/// module whenever some other Host would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backtracking {
    max_backtracks: u64,
    strategy: Fit,
}

impl Default for Backtracking {
    fn default() -> Self {
        Backtracking {
            max_backtracks: Self::DEFAULT_MAX_BACKTRACKS,
            strategy: Fit::default(),
        }
    }
}

impl Backtracking {
    /// The default budget of undone choices.
    pub const DEFAULT_MAX_BACKTRACKS: u64 = 100_000;

    /// [`Fit::LeastLoaded`] with [`Self::DEFAULT_MAX_BACKTRACKS`].
    pub fn new() -> Self {
        Self::default()
    }

    /// How many choices the search may undo before giving up with
    /// [`Rejection::SearchExhausted`](crate::Rejection::SearchExhausted). 0 is a pure greedy
    /// pass.
    pub fn max_backtracks(&mut self, max: u64) -> &mut Self {
        self.max_backtracks = max;
        self
    }

    /// How Hosts are ranked.
    pub fn strategy(&mut self, fit: Fit) -> &mut Self {
        self.strategy = fit;
        self
    }
}

impl Placer for Backtracking {
    fn place(
        &self,
        hosts: &[HostCapacity],
        demands: &[ModuleDemand],
    ) -> Result<Placement, PlacementError> {
        let p = Problem::new(hosts, demands);
        let mut search = Search::new(&p, self.strategy);
        match search.run(self.max_backtracks) {
            Outcome::Placed => Ok(placement(&p, &search.state, search.backtracks)),
            failed => {
                let exhausted = failed == Outcome::Exhausted;
                Err(explain::explain(
                    &p,
                    self.strategy,
                    &search.best_prefix,
                    exhausted,
                ))
            }
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Placed,
    /// Proven: no placement exists.
    Infeasible,
    /// The backtracking budget ran out.
    Exhausted,
}

struct Search<'p, 'a> {
    p: &'p Problem<'a>,
    fit: Fit,
    state: State,
    /// Per position in the search order: the key of the Host tried last.
    tried: Vec<Option<Key>>,
    backtracks: u64,
    /// What is deployed, nothing more: to tell "cannot fit at all" from "not with the rest".
    initial: State,
    /// Per unit, memoised: can it be placed when nothing else of the request is?
    fits_alone: Vec<Option<bool>>,
    /// Hosts of the deepest partial placement reached, by position; the failure explanation
    /// starts from there.
    best_prefix: Vec<u32>,
    best_depth: Option<usize>,
    /// Positions before this one agree with `best_prefix`: keeps saving it cheap.
    dirty_from: usize,
}

impl<'p, 'a> Search<'p, 'a> {
    fn new(p: &'p Problem<'a>, fit: Fit) -> Self {
        let state = State::new(p);
        Search {
            p,
            fit,
            initial: state.clone(),
            state,
            tried: vec![None; p.order.len()],
            backtracks: 0,
            fits_alone: vec![None; p.units.len()],
            best_prefix: Vec::new(),
            best_depth: None,
            dirty_from: 0,
        }
    }

    fn run(&mut self, max_backtracks: u64) -> Outcome {
        let p = self.p;
        // Backtracking cannot prove an overcommitted cluster infeasible within any useful
        // budget (it would try arrangements until the budget is gone): check totals first.
        if !enough_in_total(p) {
            return Outcome::Infeasible;
        }
        let mut pos = 0;
        while pos < p.order.len() {
            let u = p.order[pos];
            if let Some(k) = choose::next(p, &self.state, self.fit, u, self.tried[pos]) {
                self.state.assign(p, u, k.host);
                self.tried[pos] = Some(k);
                pos += 1;
                continue;
            }
            self.remember(pos);
            self.tried[pos] = None;
            // A unit that fits nowhere even alone dooms every branch: stop now.
            if pos == 0 || !self.fits_alone(u) {
                return Outcome::Infeasible;
            }
            if self.backtracks >= max_backtracks {
                return Outcome::Exhausted;
            }
            self.backtracks += 1;
            pos -= 1;
            self.state.unassign(p, p.order[pos]);
            self.dirty_from = self.dirty_from.min(pos);
        }
        Outcome::Placed
    }

    /// Keeps the partial placement of positions `..depth` if it is the deepest so far.
    fn remember(&mut self, depth: usize) {
        if self.best_depth.is_some_and(|d| d >= depth) {
            return;
        }
        let order = &self.p.order;
        self.best_prefix.truncate(self.dirty_from);
        let changed = order[self.dirty_from..depth]
            .iter()
            .map(|&u| self.state.host_of[u as usize]);
        self.best_prefix.extend(changed);
        self.dirty_from = depth;
        self.best_depth = Some(depth);
    }

    fn fits_alone(&mut self, u: u32) -> bool {
        let (p, initial) = (self.p, &self.initial);
        *self.fits_alone[u as usize].get_or_insert_with(|| {
            let candidates = &p.candidates[p.units[u as usize].sig as usize];
            candidates.iter().any(|&h| initial.check(p, u, h).is_ok())
        })
    }
}

/// Do the free memory and utilization of all online Hosts together cover all units?
fn enough_in_total(p: &Problem) -> bool {
    let online = (0..p.hosts.len()).filter(|&h| p.hosts[h].online);
    let (mut mem, mut util) = (0u128, 0u128);
    for h in online {
        mem += p.mem_cap[h].saturating_sub(p.base_mem[h]) as u128;
        util += p.util_cap[h].saturating_sub(p.base_util[h]) as u128;
    }
    let need_mem: u128 = p.units.iter().map(|u| u.mem as u128).sum();
    let need_util: u128 = p.units.iter().map(|u| u.util as u128).sum();
    need_mem <= mem && need_util <= util
}

/// Assignments in input order: demand by demand, replica by replica.
fn placement(p: &Problem, state: &State, backtracks: u64) -> Placement {
    let assignments = p
        .units
        .iter()
        .zip(&state.host_of)
        .map(|(unit, &h)| {
            let d = &p.demands[unit.demand as usize];
            Assignment {
                app: d.app.clone(),
                module: d.module.clone(),
                replica: unit.replica,
                host: p.hosts[h as usize].host.clone(),
            }
        })
        .collect();
    Placement {
        assignments,
        backtracks,
    }
}
