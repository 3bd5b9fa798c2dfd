//! Completeness: on small random instances, an exhaustive enumeration (judged by the
//! independent checker) and the backtracking search with an unlimited budget must agree on
//! whether a placement exists.

use crate::scenario::Rng;
use silverline_placement::{
    Assignment, Backtracking, DeployedModule, Fit, HostCapacity, ModuleDemand, Placement, Placer,
};

use crate::checker::violations;

const MODULES: [&str; 4] = ["m0", "m1", "m2", "m3"];

fn some<'a>(rng: &mut Rng, items: &[&'a str], p: f64) -> Vec<String> {
    items
        .iter()
        .filter(|_| rng.chance(p))
        .map(|s| s.to_string())
        .collect()
}

fn instance(rng: &mut Rng) -> (Vec<HostCapacity>, Vec<ModuleDemand>) {
    let hosts: Vec<HostCapacity> = (0..1 + rng.below(4))
        .map(|i| {
            let mut h = HostCapacity::new(format!("h{i}"), 2 + rng.below(5), 1);
            h.platform = Some(format!("p{}", rng.below(2)));
            h.max_utilization_per_core = rng.between(0.5, 1.0);
            h.apis = some(rng, &["x"], 0.7);
            h.tags = some(rng, &["t"], 0.7);
            h.used_memory_bytes = rng.below(2);
            h.online = rng.chance(0.9);
            if rng.chance(0.2) {
                h.deployed
                    .push(DeployedModule::new("a", rng.pick(&["m3", "legacy"])));
            }
            h
        })
        .collect();
    let mut units = 0;
    let mut demands = Vec::new();
    for m in MODULES.iter().take(1 + rng.below(3) as usize) {
        let mut d = ModuleDemand::new("a", *m);
        d.memory_bytes = rng.below(4);
        d.utilization = rng.between(0.0, 0.5);
        d.apis = some(rng, &["x"], 0.3);
        d.tags = some(rng, &["t"], 0.3);
        d.anti_affinity = some(rng, &MODULES, 0.2);
        d.anti_affinity.extend(some(rng, &["legacy"], 0.2));
        d.affinity = some(rng, &MODULES, 0.15);
        d.replicas = 1 + u32::from(rng.chance(0.3) && units < 4);
        if rng.chance(0.1) {
            d.pinned_host = Some(format!("h{}", rng.below(hosts.len() as u64)));
        }
        units += d.replicas;
        demands.push(d);
    }
    (hosts, demands)
}

/// Tries every host for every (module, replica): hosts^units candidates.
fn exhaustive(hosts: &[HostCapacity], demands: &[ModuleDemand]) -> Option<Placement> {
    let slots: Vec<(&ModuleDemand, u32)> = demands
        .iter()
        .flat_map(|d| (0..d.replicas.max(1)).map(move |r| (d, r)))
        .collect();
    let total = (hosts.len() as u64).pow(slots.len() as u32);
    (0..total).find_map(|mut code| {
        let assignments = slots
            .iter()
            .map(|(d, r)| {
                let h = (code % hosts.len() as u64) as usize;
                code /= hosts.len() as u64;
                Assignment {
                    app: d.app.clone(),
                    module: d.module.clone(),
                    replica: *r,
                    host: hosts[h].host.clone(),
                }
            })
            .collect();
        let p = Placement {
            assignments,
            backtracks: 0,
        };
        violations(hosts, demands, &p).is_empty().then_some(p)
    })
}

#[test]
fn backtracking_finds_a_placement_whenever_one_exists() {
    let mut rng = Rng::new(2024);
    let (mut feasible, mut infeasible) = (0, 0);
    for round in 0..400 {
        let (hosts, demands) = instance(&mut rng);
        let truth = exhaustive(&hosts, &demands);
        for fit in [Fit::LeastLoaded, Fit::FirstFit] {
            let got = Backtracking::new()
                .max_backtracks(u64::MAX)
                .strategy(fit)
                .place(&hosts, &demands);
            match (&truth, got) {
                (Some(_), Ok(p)) => assert!(violations(&hosts, &demands, &p).is_empty(), "round {round}"),
                (None, Err(e)) => {
                    assert!(!e.unplaced.is_empty(), "round {round}");
                    let every_host = e.unplaced.iter().all(|u| u.reasons.len() == hosts.len());
                    assert!(every_host, "round {round}: {e:?}");
                }
                (Some(t), Err(e)) => panic!(
                    "round {round} {fit:?}: missed a placement\n{e}\nexists: {t:#?}\n{hosts:#?}\n{demands:#?}"
                ),
                (None, Ok(p)) => panic!("round {round} {fit:?}: placement the checker rejects: {p:#?}"),
            }
        }
        if truth.is_some() {
            feasible += 1
        } else {
            infeasible += 1
        }
    }
    // The generator must exercise both outcomes, or the test proves little.
    assert!(
        feasible > 50 && infeasible > 50,
        "feasible {feasible}, infeasible {infeasible}"
    );
}
