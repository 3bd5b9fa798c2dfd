//! An independent checker of the documented placement rules: brute force over the input, no
//! code shared with the solver. Returns one line per violation.

use std::collections::{HashMap, HashSet};

use silverline_placement::{HostCapacity, ModuleDemand, Placement};

pub fn violations(hosts: &[HostCapacity], demands: &[ModuleDemand], p: &Placement) -> Vec<String> {
    let mut bad = Vec::new();
    let by_name: HashMap<&str, &HostCapacity> =
        hosts.iter().map(|h| (h.host.as_str(), h)).collect();
    let mut where_: HashMap<(&str, &str, u32), &str> = HashMap::new();
    for a in &p.assignments {
        let key = (a.app.as_str(), a.module.as_str(), a.replica);
        if where_.insert(key, a.host.as_str()).is_some() {
            bad.push(format!("{key:?} assigned twice"));
        }
        match by_name.get(a.host.as_str()) {
            None => bad.push(format!("{key:?} on unknown host {}", a.host)),
            Some(h) if !h.online => bad.push(format!("{key:?} on offline host {}", a.host)),
            Some(_) => {}
        }
    }
    let expected: usize = demands.iter().map(|d| d.replicas.max(1) as usize).sum();
    if p.assignments.len() != expected {
        bad.push(format!(
            "{} assignments, expected {expected}",
            p.assignments.len()
        ));
    }
    let present = present_on_hosts(hosts, demands, &where_);
    for d in demands {
        for r in 0..d.replicas.max(1) {
            match where_.get(&(d.app.as_str(), d.module.as_str(), r)) {
                None => bad.push(format!("{}/{} replica {r} not placed", d.app, d.module)),
                Some(h) => check_one(
                    d, r, by_name[h], &where_, &present, hosts, demands, &mut bad,
                ),
            }
        }
    }
    check_capacity(hosts, demands, &where_, &mut bad);
    bad
}

fn check_one(
    d: &ModuleDemand,
    r: u32,
    host: &HostCapacity,
    where_: &HashMap<(&str, &str, u32), &str>,
    present: &HashMap<&str, HashSet<(&str, &str)>>,
    hosts: &[HostCapacity],
    demands: &[ModuleDemand],
    bad: &mut Vec<String>,
) {
    let me = format!("{}/{} replica {r} on {}", d.app, d.module, host.host);
    for api in d.apis.iter().filter(|a| !host.apis.contains(a)) {
        bad.push(format!("{me}: missing API {api}"));
    }
    for tag in d.tags.iter().filter(|t| !host.tags.contains(t)) {
        bad.push(format!("{me}: missing tag {tag}"));
    }
    if d.pinned_host.as_ref().is_some_and(|pin| *pin != host.host) {
        bad.push(format!("{me}: pinned elsewhere"));
    }
    for other in 0..d.replicas.max(1) {
        if other != r
            && where_.get(&(d.app.as_str(), d.module.as_str(), other)) == Some(&host.host.as_str())
        {
            bad.push(format!("{me}: replica {other} on the same host"));
        }
    }
    let present = &present[host.host.as_str()];
    for partner in d.anti_affinity.iter().filter(|m| **m != d.module) {
        if present.contains(&(d.app.as_str(), partner.as_str())) {
            bad.push(format!("{me}: anti-affinity with {partner} violated"));
        }
    }
    for partner in d.affinity.iter().filter(|m| **m != d.module) {
        let in_request = demands
            .iter()
            .find(|e| e.app == d.app && e.module == *partner);
        let ok = match in_request {
            Some(e) if r < e.replicas.max(1) => {
                where_.get(&(e.app.as_str(), e.module.as_str(), r)) == Some(&host.host.as_str())
            }
            Some(_) => true,
            None => {
                let deployed = |h: &HostCapacity| {
                    h.deployed
                        .iter()
                        .any(|m| m.app == d.app && m.module == *partner)
                };
                !hosts.iter().any(deployed) || deployed(host)
            }
        };
        if !ok {
            bad.push(format!("{me}: affinity with {partner} violated"));
        }
    }
}

/// Per host, (app, module) of everything on it, deployed or newly placed.
fn present_on_hosts<'a>(
    hosts: &'a [HostCapacity],
    demands: &'a [ModuleDemand],
    where_: &HashMap<(&'a str, &'a str, u32), &'a str>,
) -> HashMap<&'a str, HashSet<(&'a str, &'a str)>> {
    let mut present: HashMap<&str, HashSet<(&str, &str)>> = HashMap::new();
    for h in hosts {
        let set = present.entry(h.host.as_str()).or_default();
        set.extend(
            h.deployed
                .iter()
                .map(|m| (m.app.as_str(), m.module.as_str())),
        );
    }
    for d in demands {
        for r in 0..d.replicas.max(1) {
            if let Some(h) = where_.get(&(d.app.as_str(), d.module.as_str(), r)) {
                present
                    .entry(h)
                    .or_default()
                    .insert((d.app.as_str(), d.module.as_str()));
            }
        }
    }
    present
}

fn check_capacity(
    hosts: &[HostCapacity],
    demands: &[ModuleDemand],
    where_: &HashMap<(&str, &str, u32), &str>,
    bad: &mut Vec<String>,
) {
    let mut mem: HashMap<&str, u64> = HashMap::new();
    let mut util: HashMap<&str, f64> = HashMap::new();
    for d in demands {
        for r in 0..d.replicas.max(1) {
            if let Some(h) = where_.get(&(d.app.as_str(), d.module.as_str(), r)) {
                *mem.entry(h).or_default() += d.memory_bytes;
                *util.entry(h).or_default() += d.utilization;
            }
        }
    }
    for h in hosts {
        let m = h.used_memory_bytes + mem.get(h.host.as_str()).copied().unwrap_or(0);
        if m > h.memory_bytes {
            bad.push(format!("{}: memory {m} > {}", h.host, h.memory_bytes));
        }
        let u = h.used_utilization + util.get(h.host.as_str()).copied().unwrap_or(0.0);
        let bound = h.cores as f64 * h.max_utilization_per_core;
        // The solver counts in billionths; allow for f64 summation error only.
        if u > bound + 1e-6 {
            bad.push(format!("{}: utilization {u} > {bound}", h.host));
        }
    }
}

#[test]
fn the_checker_catches_violations() {
    let hosts = vec![super::host("h1", 10, 1)];
    let mut a = super::demand("app", "a", 8);
    a.anti_affinity = vec!["b".into()];
    let b = super::demand("app", "b", 8);
    let bad = silverline_placement::Placement {
        assignments: ["a", "b"]
            .iter()
            .map(|m| silverline_placement::Assignment {
                app: "app".into(),
                module: m.to_string(),
                replica: 0,
                host: "h1".into(),
            })
            .collect(),
        backtracks: 0,
    };
    let found = violations(&hosts, &[a, b], &bad);
    assert!(found.iter().any(|v| v.contains("memory")), "{found:?}");
    assert!(
        found.iter().any(|v| v.contains("anti-affinity")),
        "{found:?}"
    );
}
