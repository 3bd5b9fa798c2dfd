//! Turning a failed search into a [`PlacementError`] a person can act on.
//!
//! The explanation starts from the deepest partial placement the search reached, then goes on
//! greedily (no backtracking) through the rest of the order, so one call reports every module
//! that did not fit in that attempt, not just the first. For each, every Host gets one reason:
//!
//! 1. a static one (offline, pin, API, tag, or an affinity partner's requirement), else
//! 2. one that holds with nothing else of the request placed (deployed load, deployed
//!    anti-affinity partners), else
//! 3. the conflict with the attempt (memory taken by other new modules, anti-affinity with a
//!    new module, ...), reported as `SearchExhausted` instead when the backtracking budget ran
//!    out: then the conflict is an artefact of an unfinished search, not a proof.

use crate::choose;
use crate::error::{PlacementError, Rejection, Unplaced};
use crate::model::{HostCapacity, ModuleDemand};
use crate::problem::Problem;
use crate::search::Fit;
use crate::state::{Conflict, State, Victim};

pub(crate) fn explain(p: &Problem, fit: Fit, prefix: &[u32], exhausted: bool) -> PlacementError {
    let initial = State::new(p);
    let mut state = initial.clone();
    for (&u, &h) in p.order.iter().zip(prefix) {
        state.assign(p, u, h);
    }
    let mut stuck = Vec::new();
    let mut more_unplaced = 0;
    for &u in &p.order[prefix.len()..] {
        match choose::next(p, &state, fit, u, None) {
            Some(k) => state.assign(p, u, k.host),
            // The first ones in search order are the most constrained: explain those.
            None if stuck.len() < PlacementError::MAX_EXPLAINED => {
                stuck.push((u, unplaced(p, &initial, &state, u, exhausted)))
            }
            None => more_unplaced += 1,
        }
    }
    // Input order reads better than search order.
    stuck.sort_by_key(|(u, _)| *u);
    PlacementError {
        unplaced: stuck.into_iter().map(|(_, x)| x).collect(),
        more_unplaced,
    }
}

fn unplaced(p: &Problem, initial: &State, state: &State, u: u32, exhausted: bool) -> Unplaced {
    let d = p.demand(u);
    let reasons = (0..p.hosts.len() as u32)
        .map(|h| {
            (
                p.hosts[h as usize].host.clone(),
                reason(p, initial, state, u, h, exhausted),
            )
        })
        .collect();
    Unplaced {
        app: d.app.clone(),
        module: d.module.clone(),
        replica: p.units[u as usize].replica,
        reasons,
    }
}

fn reason(
    p: &Problem,
    initial: &State,
    state: &State,
    u: u32,
    h: u32,
    exhausted: bool,
) -> Rejection {
    if let Some(r) = static_reason(p, u, h) {
        return r;
    }
    if let Err(c) = initial.check(p, u, h) {
        return rejection(p, c);
    }
    match state.check(p, u, h) {
        Err(c) if !exhausted => rejection(p, c),
        // Ok cannot happen (the Host would have been chosen); say the least that is true.
        _ => Rejection::SearchExhausted,
    }
}

/// The checks the candidate lists encode: the unit's own, then its affinity partners'.
fn static_reason(p: &Problem, u: u32, h: u32) -> Option<Rejection> {
    let host = &p.hosts[h as usize];
    if !host.online {
        return Some(Rejection::Offline);
    }
    if let Some(r) = own_static(p.demand(u), host) {
        return Some(r);
    }
    let group = &p.groups[p.units[u as usize].group as usize];
    let partner = group
        .iter()
        .find(|&&v| v != u && own_static(p.demand(v), host).is_some())?;
    Some(Rejection::Affinity(p.demand(*partner).module.clone()))
}

fn own_static(d: &ModuleDemand, host: &HostCapacity) -> Option<Rejection> {
    if let Some(pin) = d.pinned_host.as_ref().filter(|pin| **pin != host.host) {
        return Some(Rejection::PinnedElsewhere(pin.clone()));
    }
    if let Some(api) = d.apis.iter().find(|a| !host.apis.contains(a)) {
        return Some(Rejection::MissingApi(api.clone()));
    }
    let tag = d.tags.iter().find(|t| !host.tags.contains(t))?;
    Some(Rejection::MissingTag(tag.clone()))
}

fn rejection(p: &Problem, c: Conflict) -> Rejection {
    let name = |id: u32| p.module_name(id).to_string();
    match c {
        Conflict::Replica => Rejection::ReplicaOnSameHost,
        Conflict::Anti(id) => Rejection::AntiAffinity(name(id)),
        Conflict::Affinity(id) => Rejection::Affinity(name(id)),
        Conflict::Memory { needed, free } => Rejection::Memory { needed, free },
        Conflict::Slots(slots) => Rejection::Slots { slots },
        Conflict::Util { needed, free } => Rejection::Utilization {
            needed: needed as f64 / 1e9,
            free: free as f64 / 1e9,
        },
        Conflict::Response { victim, response_ns, deadline_ns } => Rejection::ResponseTime {
            task: match victim {
                Victim::Deployed { host, index } => p.hosts[host as usize].realtime[index as usize].name.clone(),
                Victim::Unit(u) => p.demand(u).realtime.as_ref().map_or_else(|| p.demand(u).module.clone(), |t| t.name.clone()),
            },
            response_ns,
            deadline_ns,
        },
    }
}
