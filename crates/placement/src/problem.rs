//! The input compiled once into indices: interned module names, symmetric relations, one unit
//! per (module, replica), affinity groups, static candidates and the search order.
//!
//! Everything the search touches per step is an array lookup; strings are only compared here.

use std::collections::HashMap;

use crate::model::{HostCapacity, ModuleDemand};
use crate::order;

/// Utilization is kept in billionths so that assigning and then unassigning restores the exact
/// same value: with f64 sums, `a + b - b != a` would make backtracking revisit or skip hosts.
pub(crate) fn nano(x: f64) -> u64 {
    // `as` saturates: NaN and negatives give 0, +inf gives u64::MAX.
    (x * 1e9).round() as u64
}

/// Marks "no host" in `u32` host slots.
pub(crate) const NONE: u32 = u32::MAX;

/// One replica of one module: what the search places.
pub(crate) struct Unit {
    /// Index into the demands.
    pub demand: u32,
    pub replica: u32,
    /// Interned (app, module).
    pub module: u32,
    pub mem: u64,
    pub util: u64,
    /// Needs of the affinity partners placed after this unit: they must fit on the same Host.
    pub tail_mem: u64,
    pub tail_util: u64,
    /// Index into [`Problem::candidates`].
    pub sig: u32,
    /// Index into [`Problem::groups`].
    pub group: u32,
    /// Units (same replica index) it must share a Host with.
    pub affine_units: Vec<u32>,
}

/// The compiled problem. Hosts are referred to by their index in the input.
pub(crate) struct Problem<'a> {
    pub hosts: &'a [HostCapacity],
    pub demands: &'a [ModuleDemand],
    pub mem_cap: Vec<u64>,
    pub util_cap: Vec<u64>,
    pub base_mem: Vec<u64>,
    pub base_util: Vec<u64>,
    /// Interned platform per Host.
    pub platform: Vec<Option<u32>>,
    /// Interned module → (app, module) names.
    pub names: Vec<(&'a str, &'a str)>,
    /// Per demand: its interned module.
    pub module_of: Vec<u32>,
    /// Interned module → Hosts where it is already deployed.
    pub deployed_on: Vec<Vec<u32>>,
    /// Per demand: interned modules it must not share a Host with (symmetric closure).
    pub anti: Vec<Vec<u32>>,
    /// Per demand: interned modules outside the request, deployed, it must share a Host with.
    pub affine_deployed: Vec<Vec<u32>>,
    /// Per demand: its first unit; replica r is `first_unit[d] + r`.
    pub first_unit: Vec<u32>,
    pub units: Vec<Unit>,
    /// Per signature: the Hosts that pass the static checks (online, APIs, tags, pin).
    pub candidates: Vec<Vec<u32>>,
    /// Affinity groups: unit ids, in search order.
    pub groups: Vec<Vec<u32>>,
    /// Unit ids in search order.
    pub order: Vec<u32>,
}

impl<'a> Problem<'a> {
    /// Compiles the input: names, relations, units, then the ordering module does the rest.
    pub fn new(hosts: &'a [HostCapacity], demands: &'a [ModuleDemand]) -> Self {
        let mut p = Problem {
            hosts,
            demands,
            mem_cap: hosts.iter().map(|h| h.memory_bytes).collect(),
            util_cap: hosts.iter().map(util_capacity).collect(),
            base_mem: hosts.iter().map(|h| h.used_memory_bytes).collect(),
            base_util: hosts.iter().map(|h| nano(h.used_utilization)).collect(),
            platform: intern_platforms(hosts),
            names: Vec::new(),
            module_of: Vec::new(),
            deployed_on: Vec::new(),
            anti: vec![Vec::new(); demands.len()],
            affine_deployed: vec![Vec::new(); demands.len()],
            first_unit: Vec::with_capacity(demands.len()),
            units: Vec::new(),
            candidates: Vec::new(),
            groups: Vec::new(),
            order: Vec::new(),
        };
        let edges = p.relations();
        p.make_units();
        p.link_affinity(&edges);
        order::arrange(&mut p);
        p
    }

    /// Interns every module named anywhere in the request, finds where they are deployed, and
    /// records anti-affinity (made symmetric) and affinity. Returns the in-request affinity
    /// edges between demands.
    fn relations(&mut self) -> Vec<(u32, u32)> {
        let mut ids: HashMap<(&'a str, &'a str), u32> = HashMap::new();
        let mut demand_of: Vec<Option<u32>> = Vec::new();
        let demands = self.demands;
        let mut intern = |app: &'a str, module: &'a str, names: &mut Vec<(&'a str, &'a str)>| {
            *ids.entry((app, module)).or_insert_with(|| {
                names.push((app, module));
                names.len() as u32 - 1
            })
        };
        let own: Vec<u32> = demands
            .iter()
            .map(|d| intern(&d.app, &d.module, &mut self.names))
            .collect();
        demand_of.resize(self.names.len(), None);
        for (d, &id) in own.iter().enumerate() {
            demand_of[id as usize].get_or_insert(d as u32);
        }
        let mut edges = Vec::new();
        for (d, dem) in demands.iter().enumerate() {
            for other in dem.anti_affinity.iter().filter(|m| **m != dem.module) {
                let id = intern(&dem.app, other, &mut self.names);
                self.anti[d].push(id);
                // Symmetric: the partner, if part of the request, stays away from us too.
                if let Some(&Some(e)) = demand_of.get(id as usize) {
                    self.anti[e as usize].push(own[d]);
                }
            }
            for other in dem.affinity.iter().filter(|m| **m != dem.module) {
                let id = intern(&dem.app, other, &mut self.names);
                match demand_of.get(id as usize) {
                    Some(&Some(e)) => edges.push((d as u32, e)),
                    _ => self.affine_deployed[d].push(id),
                }
            }
        }
        self.anti.iter_mut().for_each(|v| {
            v.sort_unstable();
            v.dedup();
        });
        self.find_deployed(&ids);
        self.module_of = own;
        edges
    }

    /// Only modules the request names matter, so deployed lists are looked up, not interned.
    fn find_deployed(&mut self, ids: &HashMap<(&'a str, &'a str), u32>) {
        self.deployed_on = vec![Vec::new(); self.names.len()];
        for (h, host) in self.hosts.iter().enumerate() {
            for dep in &host.deployed {
                if let Some(&id) = ids.get(&(dep.app.as_str(), dep.module.as_str())) {
                    let on = &mut self.deployed_on[id as usize];
                    if on.last() != Some(&(h as u32)) {
                        on.push(h as u32);
                    }
                }
            }
        }
        // Affinity with a module that runs nowhere constrains nothing.
        let deployed_on = &self.deployed_on;
        for list in &mut self.affine_deployed {
            list.retain(|&id| !deployed_on[id as usize].is_empty());
            list.sort_unstable();
            list.dedup();
        }
    }

    fn make_units(&mut self) {
        for (d, dem) in self.demands.iter().enumerate() {
            self.first_unit.push(self.units.len() as u32);
            let module = self.module_of[d];
            for replica in 0..dem.replicas.max(1) {
                self.units.push(Unit {
                    demand: d as u32,
                    replica,
                    module,
                    mem: dem.memory_bytes,
                    util: nano(dem.utilization),
                    tail_mem: 0,
                    tail_util: 0,
                    sig: 0,
                    group: 0,
                    affine_units: Vec::new(),
                });
            }
        }
    }

    /// Replica r of a module goes with replica r of each partner that has one.
    fn link_affinity(&mut self, edges: &[(u32, u32)]) {
        for &(d, e) in edges {
            let shared = self.replicas(d).min(self.replicas(e));
            for r in 0..shared {
                let (a, b) = (self.unit_of(d, r), self.unit_of(e, r));
                self.units[a as usize].affine_units.push(b);
                self.units[b as usize].affine_units.push(a);
            }
        }
        for unit in &mut self.units {
            unit.affine_units.sort_unstable();
            unit.affine_units.dedup();
        }
    }

    /// Number of replicas of a demand (0 read as 1).
    pub fn replicas(&self, demand: u32) -> u32 {
        self.demands[demand as usize].replicas.max(1)
    }

    /// The unit of replica `r` of a demand.
    pub fn unit_of(&self, demand: u32, r: u32) -> u32 {
        self.first_unit[demand as usize] + r
    }

    /// The demand behind a unit.
    pub fn demand(&self, unit: u32) -> &'a ModuleDemand {
        &self.demands[self.units[unit as usize].demand as usize]
    }

    /// The module name of an interned module.
    pub fn module_name(&self, id: u32) -> &'a str {
        self.names[id as usize].1
    }
}

fn util_capacity(h: &HostCapacity) -> u64 {
    nano(h.cores as f64 * h.max_utilization_per_core)
}

fn intern_platforms(hosts: &[HostCapacity]) -> Vec<Option<u32>> {
    let mut ids: HashMap<&str, u32> = HashMap::new();
    hosts
        .iter()
        .map(|h| {
            let next = ids.len() as u32;
            h.platform.as_deref().map(|p| *ids.entry(p).or_insert(next))
        })
        .collect()
}
