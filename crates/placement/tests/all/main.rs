//! Integration tests of silverline-placement: one binary, one module per topic.
//!
//! Every successful placement in these tests is verified by `checker::violations`, written
//! from the documented rules and sharing no code with the solver.

mod affinity;
mod backtracking;
mod checker;
mod determinism;
mod errors;
mod exhaustive;
mod large;
mod placer;
mod realtime;
mod replicas;
mod requirements;
mod resources;

/// The benchmark's synthetic clusters (deterministic), shared with `examples/bench.rs`.
#[path = "../../examples/common/scenario.rs"]
mod scenario;

use silverline_placement::{
    Backtracking, HostCapacity, ModuleDemand, Placement, PlacementError, Placer,
};

pub const MIB: u64 = 1 << 20;

/// An online host with `mib` MiB and `cores` cores, nothing else.
pub fn host(name: &str, mib: u64, cores: u32) -> HostCapacity {
    HostCapacity::new(name, mib * MIB, cores)
}

/// A demand of `mib` MiB and no other requirement.
pub fn demand(app: &str, module: &str, mib: u64) -> ModuleDemand {
    ModuleDemand {
        memory_bytes: mib * MIB,
        ..ModuleDemand::new(app, module)
    }
}

/// Places with the default [`Backtracking`], asserts success and that the checker agrees.
pub fn placed(hosts: &[HostCapacity], demands: &[ModuleDemand]) -> Placement {
    placed_with(&Backtracking::new(), hosts, demands)
}

pub fn placed_with(
    placer: &dyn Placer,
    hosts: &[HostCapacity],
    demands: &[ModuleDemand],
) -> Placement {
    match placer.place(hosts, demands) {
        Ok(p) => {
            let bad = checker::violations(hosts, demands, &p);
            assert!(
                bad.is_empty(),
                "placement violates constraints: {bad:#?}\n{p:#?}"
            );
            p
        }
        Err(e) => panic!("expected a placement, got:\n{e}"),
    }
}

/// Places with the default [`Backtracking`] and expects an error.
pub fn failed(hosts: &[HostCapacity], demands: &[ModuleDemand]) -> PlacementError {
    failed_with(&Backtracking::new(), hosts, demands)
}

pub fn failed_with(
    placer: &dyn Placer,
    hosts: &[HostCapacity],
    demands: &[ModuleDemand],
) -> PlacementError {
    match placer.place(hosts, demands) {
        Ok(p) => panic!("expected an error, got {p:#?}"),
        Err(e) => e,
    }
}

/// Host of replica 0 of `app/module`.
pub fn host_of<'a>(p: &'a Placement, app: &str, module: &str) -> &'a str {
    p.host_of(app, module, 0).expect("placed")
}
