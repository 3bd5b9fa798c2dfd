//! Deterministic synthetic clusters, shared by `examples/bench.rs` and the large test
//! (`tests/all/main.rs` includes this file with `#[path]`). No `rand` crate: xorshift64*.

// Each includer uses a different subset.
#![allow(dead_code)]

use silverline_placement::{DeployedModule, HostCapacity, ModuleDemand};

/// xorshift64* (Vigna 2014): tiny, fast, and the same sequence everywhere.
pub struct Rng(u64);

impl Rng {
    /// Any seed; 0 is mapped to a fixed non-zero state (xorshift would stay at 0).
    pub fn new(seed: u64) -> Self {
        Rng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0; the modulo bias is irrelevant here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in `[lo, hi)`.
    pub fn between(&mut self, lo: f64, hi: f64) -> f64 {
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        lo + unit * (hi - lo)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.between(0.0, 1.0) < p
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// A cluster and a request to place on it.
pub struct Scenario {
    pub hosts: Vec<HostCapacity>,
    pub demands: Vec<ModuleDemand>,
}

const MIB: u64 = 1 << 20;
const ZONES: [&str; 3] = ["zone-a", "zone-b", "zone-c"];

/// `apps` applications of `modules` modules each onto `hosts` Hosts.
///
/// Hosts: 128/256/512 MiB, 1-4 cores, EDF (1.0) or RM (0.69) bound, 2 per platform, all with
/// `sl:channels` and `wasm:wasi_preview1`, 30% `sl:vss`, 20% `sl:gpio`, one zone tag, 10% `gpu`,
/// 2% offline, up to 32 MiB and 0.3 utilization already used, 10% running a `legacy` module of
/// some app.
///
/// Modules: 1-16 MiB, utilization 0.01-0.05; 10% need `sl:vss`, 5% `sl:gpio`, 2% `gpu`; 20%
/// need their app's zone; `m1` is anti-affine with `m0`, in half the apps `m3` with `m2`;
/// `m9` with the deployed `legacy`; in 20% of the apps `m5` goes with `m4`; in 30% `m0` has
/// 2 replicas; 1% of the `m7`s are pinned to a random online Host.
pub fn cluster(apps: usize, modules: usize, hosts: usize, seed: u64) -> Scenario {
    let mut rng = Rng::new(seed);
    let hosts: Vec<HostCapacity> = (0..hosts).map(|i| host(&mut rng, i, apps)).collect();
    let online: Vec<&str> = hosts
        .iter()
        .filter(|h| h.online)
        .map(|h| h.host.as_str())
        .collect();
    let mut demands = Vec::with_capacity(apps * modules);
    for a in 0..apps {
        demands.extend(app(&mut rng, a, modules, &online));
    }
    Scenario { hosts, demands }
}

fn host(rng: &mut Rng, i: usize, apps: usize) -> HostCapacity {
    let mut h = HostCapacity::new(
        format!("h{i:04}"),
        [128, 256, 512][rng.below(3) as usize] * MIB,
        1 + rng.below(4) as u32,
    );
    h.platform = Some(format!("p{:04}", i / 2));
    h.max_utilization_per_core = if rng.chance(0.5) { 1.0 } else { 0.69 };
    h.apis = vec!["wasm:wasi_preview1".into(), "sl:channels".into()];
    if rng.chance(0.3) {
        h.apis.push("sl:vss".into());
    }
    if rng.chance(0.2) {
        h.apis.push("sl:gpio".into());
    }
    h.tags = vec![rng.pick(&ZONES).into()];
    if rng.chance(0.1) {
        h.tags.push("gpu".into());
    }
    h.online = rng.chance(0.98);
    h.used_memory_bytes = rng.below(33) * MIB;
    h.used_utilization = rng.between(0.0, 0.3);
    if rng.chance(0.1) && apps > 0 {
        h.deployed.push(DeployedModule::new(
            app_name(rng.below(apps as u64) as usize),
            "legacy",
        ));
    }
    h
}

pub fn app_name(a: usize) -> String {
    format!("app-{a:04}")
}

fn app(rng: &mut Rng, a: usize, modules: usize, online: &[&str]) -> Vec<ModuleDemand> {
    let zone = rng.pick(&ZONES);
    let second_pair = rng.chance(0.5);
    let grouped = rng.chance(0.2);
    let replicated = rng.chance(0.3);
    (0..modules)
        .map(|m| {
            let mut d = ModuleDemand::new(app_name(a), format!("m{m}"));
            d.memory_bytes = (1 + rng.below(16)) * MIB;
            d.utilization = rng.between(0.01, 0.05);
            d.apis = vec!["sl:channels".into()];
            // One special requirement at most, so no combination is empty by construction.
            match rng.below(100) {
                0..=9 => d.apis.push("sl:vss".into()),
                10..=14 => d.apis.push("sl:gpio".into()),
                15..=16 => d.tags.push("gpu".into()),
                _ if rng.chance(0.2) => d.tags.push(zone.into()),
                _ => {}
            }
            match m {
                1 => d.anti_affinity.push("m0".into()),
                3 if second_pair => d.anti_affinity.push("m2".into()),
                5 if grouped => d.affinity.push("m4".into()),
                9 => d.anti_affinity.push("legacy".into()),
                0 if replicated => d.replicas = 2,
                7 if rng.chance(0.01) && !online.is_empty() => {
                    d.apis.truncate(1);
                    d.tags.clear();
                    d.pinned_host = Some(online[rng.below(online.len() as u64) as usize].into());
                }
                _ => {}
            }
            d
        })
        .collect()
}
