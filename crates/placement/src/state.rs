//! The mutable side of the search: load per Host and who is where, with exact undo.

use crate::model::Scheduler;
use crate::problem::{Problem, NONE};
use crate::rta::{self, RtTask};

/// Why a Host cannot take a unit in the current state; ids, not names, so the search can ask
/// thousands of times without allocating. Turned into a [`Rejection`](crate::Rejection) only
/// when explaining a failure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Conflict {
    Replica,
    /// Interned module it must not meet.
    Anti(u32),
    /// Interned module it must meet.
    Affinity(u32),
    Memory {
        needed: u64,
        free: u64,
    },
    /// Every module slot of the Host is taken.
    Slots(u32),
    /// In billionths.
    Util {
        needed: u64,
        free: u64,
    },
    /// Response-time analysis on a fixed-priority Host: `victim` would miss its deadline.
    Response {
        victim: Victim,
        response_ns: u64,
        deadline_ns: u64,
    },
}

/// A real-time task named without allocating: one already on Host `host` (index into its
/// `realtime`), or the task of a unit of the request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Victim {
    Deployed { host: u32, index: u32 },
    Unit(u32),
}

/// Committed load per Host (deployed plus newly placed) and the placement so far.
#[derive(Clone)]
pub(crate) struct State {
    pub mem: Vec<u64>,
    pub util: Vec<u64>,
    /// `util / util_cap` per Host, kept up to date so ranking a Host is a lookup, not a
    /// division. Always recomputed from the integers, so undo restores it exactly.
    pub load: Vec<f64>,
    /// Interned module → Hosts holding a newly placed replica of it.
    pub new_on: Vec<Vec<u32>>,
    /// Unit → Host, or [`NONE`].
    pub host_of: Vec<u32>,
    /// Modules per Host, deployed and newly placed: spreads modules that reserve nothing.
    pub count: Vec<u32>,
}

impl State {
    /// Only what is already deployed.
    pub fn new(p: &Problem) -> Self {
        let load = (0..p.hosts.len())
            .map(|h| load(p, &p.base_util, h))
            .collect();
        State {
            mem: p.base_mem.clone(),
            util: p.base_util.clone(),
            load,
            new_on: vec![Vec::new(); p.names.len()],
            host_of: vec![NONE; p.units.len()],
            count: p.hosts.iter().map(|h| h.deployed.len() as u32).collect(),
        }
    }

    pub fn assign(&mut self, p: &Problem, u: u32, h: u32) {
        let unit = &p.units[u as usize];
        self.mem[h as usize] += unit.mem;
        self.util[h as usize] += unit.util;
        self.load[h as usize] = load(p, &self.util, h as usize);
        self.new_on[unit.module as usize].push(h);
        self.host_of[u as usize] = h;
        self.count[h as usize] += 1;
    }

    /// Exact inverse of [`State::assign`]: integers only, so loads come back bit for bit.
    pub fn unassign(&mut self, p: &Problem, u: u32) {
        let unit = &p.units[u as usize];
        let h = std::mem::replace(&mut self.host_of[u as usize], NONE);
        self.count[h as usize] -= 1;
        self.mem[h as usize] -= unit.mem;
        self.util[h as usize] -= unit.util;
        self.load[h as usize] = load(p, &self.util, h as usize);
        let on = &mut self.new_on[unit.module as usize];
        if let Some(i) = on.iter().rposition(|&x| x == h) {
            on.swap_remove(i);
        }
    }

    /// The Host of an already placed affinity partner: the only Host left for `u`.
    pub fn forced_host(&self, p: &Problem, u: u32) -> Option<u32> {
        let unit = &p.units[u as usize];
        unit.affine_units
            .iter()
            .map(|&v| self.host_of[v as usize])
            .find(|&h| h != NONE)
    }

    /// The dynamic constraints (static ones are settled by the candidate lists): replicas
    /// apart, anti-affinity, affinity, then memory and utilization including the affinity
    /// partners still to come.
    pub fn check(&self, p: &Problem, u: u32, h: u32) -> Result<(), Conflict> {
        let unit = &p.units[u as usize];
        let hi = h as usize;
        if self.new_on[unit.module as usize].contains(&h) {
            return Err(Conflict::Replica);
        }
        for &other in &p.anti[unit.demand as usize] {
            let o = other as usize;
            if p.deployed_on[o].contains(&h) || self.new_on[o].contains(&h) {
                return Err(Conflict::Anti(other));
            }
        }
        for &v in &unit.affine_units {
            let there = self.host_of[v as usize];
            if there != NONE && there != h {
                return Err(Conflict::Affinity(p.units[v as usize].module));
            }
        }
        for &other in &p.affine_deployed[unit.demand as usize] {
            if !p.deployed_on[other as usize].contains(&h) {
                return Err(Conflict::Affinity(other));
            }
        }
        if let Some(slots) = p.hosts[hi].module_slots.filter(|&s| self.count[hi] >= s) {
            return Err(Conflict::Slots(slots));
        }
        let needed = unit.mem.saturating_add(unit.tail_mem);
        let free = p.mem_cap[hi].saturating_sub(self.mem[hi]);
        if needed > free {
            return Err(Conflict::Memory { needed, free });
        }
        let needed = unit.util.saturating_add(unit.tail_util);
        let free = p.util_cap[hi].saturating_sub(self.util[hi]);
        if needed > free {
            return Err(Conflict::Util { needed, free });
        }
        self.check_response(p, u, h)
    }

    /// On a fixed-priority Host, the real-time tasks there (deployed, newly placed, and this
    /// unit's) must still partition onto its cores with every deadline met.
    fn check_response(&self, p: &Problem, u: u32, h: u32) -> Result<(), Conflict> {
        let host = &p.hosts[h as usize];
        let Some(task) = p.demand(u).realtime.as_ref() else { return Ok(()) };
        if host.scheduler != Scheduler::FixedPriority {
            return Ok(());
        }
        let mut tasks: Vec<RtTask> = host.realtime.clone();
        let mut who: Vec<Victim> = (0..tasks.len() as u32).map(|index| Victim::Deployed { host: h, index }).collect();
        for (v, _) in self.host_of.iter().enumerate().filter(|(_, &on)| on == h) {
            if let Some(t) = &p.demand(v as u32).realtime {
                tasks.push(t.clone());
                who.push(Victim::Unit(v as u32));
            }
        }
        tasks.push(task.clone());
        who.push(Victim::Unit(u));
        let Err(miss) = rta::partition(host.cores, &tasks) else { return Ok(()) };
        let at = tasks.iter().position(|t| t.name == miss.task).unwrap_or(tasks.len() - 1);
        Err(Conflict::Response { victim: who[at], response_ns: miss.response_ns, deadline_ns: miss.deadline_ns })
    }
}

/// Committed utilization as a fraction of the admission bound; a Host with no CPU to give
/// ranks last.
fn load(p: &Problem, util: &[u64], h: usize) -> f64 {
    match p.util_cap[h] {
        0 => f64::INFINITY,
        cap => util[h] as f64 / cap as f64,
    }
}
