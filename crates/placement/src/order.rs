//! Static candidates and the search order.
//!
//! Units that must share a Host (affinity) form a group and are placed one after the other. A
//! group's static requirements are the union of its members' (APIs, tags, pin), so every member
//! only looks at Hosts the whole group could use. Requirements are cached by signature: 10,000
//! modules with a few dozen distinct (APIs, tags, pin) combinations cost a few dozen host scans.

use std::cmp::Ordering;
use std::collections::HashMap;

use crate::model::HostCapacity;
use crate::problem::Problem;

/// Fills `groups`, `candidates`, every unit's `group`, `sig` and tail, and `order`.
pub(crate) fn arrange(p: &mut Problem) {
    let groups = affinity_groups(p);
    let mut cache = Signatures::default();
    let means = means(p);
    let keys: Vec<GroupKey> = groups
        .iter()
        .map(|g| group_key(p, g, means, &mut cache))
        .collect();
    p.candidates = cache.candidates;
    let mut by_key: Vec<usize> = (0..groups.len()).collect();
    by_key.sort_by(|&a, &b| keys[a].cmp(&keys[b]));
    for (g, &i) in by_key.iter().enumerate() {
        let members = &groups[i];
        let (mut tail_mem, mut tail_util) = (0u64, 0u64);
        // Walk backwards so each member knows what its later partners still need.
        for &u in members.iter().rev() {
            let unit = &mut p.units[u as usize];
            unit.group = g as u32;
            unit.sig = keys[i].sig;
            unit.tail_mem = tail_mem;
            unit.tail_util = tail_util;
            tail_mem = tail_mem.saturating_add(unit.mem);
            tail_util = tail_util.saturating_add(unit.util);
        }
        p.order.extend_from_slice(members);
    }
    p.groups = by_key.into_iter().map(|i| groups[i].clone()).collect();
}

/// Connected components of the affinity relation over units, members in input order.
fn affinity_groups(p: &Problem) -> Vec<Vec<u32>> {
    let n = p.units.len();
    let mut parent: Vec<u32> = (0..n as u32).collect();
    for (u, unit) in p.units.iter().enumerate() {
        for &v in &unit.affine_units {
            let (a, b) = (root(&mut parent, u as u32), root(&mut parent, v));
            // The smaller id becomes the root so a group is named by its first member.
            parent[a.max(b) as usize] = a.min(b);
        }
    }
    let mut index: HashMap<u32, usize> = HashMap::new();
    let mut groups: Vec<Vec<u32>> = Vec::new();
    for u in 0..n as u32 {
        let r = root(&mut parent, u);
        let g = *index.entry(r).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(u);
    }
    groups
}

fn root(parent: &mut [u32], mut u: u32) -> u32 {
    while parent[u as usize] != u {
        // Path halving keeps the trees flat without recursion.
        parent[u as usize] = parent[parent[u as usize] as usize];
        u = parent[u as usize];
    }
    u
}

/// Most constrained first: pinned, then affinity groups, then fewest candidate Hosts, then
/// largest demand; ties in input order (which keeps the replicas of a module together).
#[derive(PartialEq)]
struct GroupKey {
    unpinned: bool,
    single: bool,
    candidates: usize,
    size: f64,
    first: u32,
    sig: u32,
}

impl Eq for GroupKey {}

impl PartialOrd for GroupKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for GroupKey {
    fn cmp(&self, o: &Self) -> Ordering {
        (self.unpinned, self.single, self.candidates)
            .cmp(&(o.unpinned, o.single, o.candidates))
            .then(o.size.total_cmp(&self.size))
            .then(self.first.cmp(&o.first))
    }
}

fn group_key<'a>(
    p: &Problem<'a>,
    members: &[u32],
    (mean_mem, mean_util): (f64, f64),
    cache: &mut Signatures<'a>,
) -> GroupKey {
    let sig = signature(p, members);
    let unpinned = sig.pin == Pin::Any;
    let id = cache.id(sig, p.hosts);
    let size: f64 = members
        .iter()
        .map(|&u| {
            let unit = &p.units[u as usize];
            // Dominant share: memory and CPU in the same currency, a fraction of an average Host.
            (unit.mem as f64 / mean_mem).max(unit.util as f64 / mean_util)
        })
        .sum();
    GroupKey {
        unpinned,
        single: members.len() == 1,
        candidates: cache.candidates[id as usize].len(),
        size,
        first: members[0],
        sig: id,
    }
}

/// Mean capacity of the online Hosts, never 0 so it can divide.
fn means(p: &Problem) -> (f64, f64) {
    let online = p.hosts.iter().enumerate().filter(|(_, h)| h.online);
    let (mut n, mut mem, mut util) = (0.0, 0.0, 0.0);
    for (i, _) in online {
        n += 1.0;
        mem += p.mem_cap[i] as f64;
        util += p.util_cap[i] as f64;
    }
    let mean = |total: f64| {
        if n > 0.0 && total > 0.0 {
            total / n
        } else {
            1.0
        }
    };
    (mean(mem), mean(util))
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Pin<'a> {
    Any,
    Host(&'a str),
    /// Members pinned to different Hosts: nothing fits.
    Conflict,
}

/// What a group requires statically, normalised so equal requirements hash equal.
#[derive(PartialEq, Eq, Hash)]
struct Signature<'a> {
    apis: Vec<&'a str>,
    tags: Vec<&'a str>,
    pin: Pin<'a>,
}

fn signature<'a>(p: &Problem<'a>, members: &[u32]) -> Signature<'a> {
    let mut sig = Signature {
        apis: Vec::new(),
        tags: Vec::new(),
        pin: Pin::Any,
    };
    for &u in members {
        let d = p.demand(u);
        sig.apis.extend(d.apis.iter().map(String::as_str));
        sig.tags.extend(d.tags.iter().map(String::as_str));
        sig.pin = match (sig.pin, d.pinned_host.as_deref()) {
            (pin, None) => pin,
            (Pin::Any, Some(h)) => Pin::Host(h),
            (Pin::Host(a), Some(h)) if a == h => Pin::Host(a),
            _ => Pin::Conflict,
        };
    }
    for list in [&mut sig.apis, &mut sig.tags] {
        list.sort_unstable();
        list.dedup();
    }
    sig
}

/// Signature → id, and per id the Hosts that pass its static checks, in input order.
#[derive(Default)]
struct Signatures<'a> {
    ids: HashMap<Signature<'a>, u32>,
    candidates: Vec<Vec<u32>>,
}

impl<'a> Signatures<'a> {
    fn id(&mut self, sig: Signature<'a>, hosts: &[HostCapacity]) -> u32 {
        if let Some(&id) = self.ids.get(&sig) {
            return id;
        }
        let fits = hosts
            .iter()
            .enumerate()
            .filter(|(_, h)| statically_fits(&sig, h));
        self.candidates.push(fits.map(|(i, _)| i as u32).collect());
        let id = self.candidates.len() as u32 - 1;
        self.ids.insert(sig, id);
        id
    }
}

fn statically_fits(sig: &Signature, host: &HostCapacity) -> bool {
    let pin_ok = match sig.pin {
        Pin::Any => true,
        Pin::Host(h) => host.host == h,
        Pin::Conflict => false,
    };
    host.online
        && pin_ok
        && sig.apis.iter().all(|a| host.apis.iter().any(|x| x == a))
        && sig.tags.iter().all(|t| host.tags.iter().any(|x| x == t))
}
