//! Memory and utilization, including what is already committed on a Host.

use silverline_placement::{Rejection, Unplaced};

use crate::{demand, failed, host, host_of, placed, MIB};

fn reason<'a>(u: &'a Unplaced, host: &str) -> &'a Rejection {
    &u.reasons
        .iter()
        .find(|(h, _)| h == host)
        .expect("host listed")
        .1
}

#[test]
fn memory_up_to_the_last_byte_is_accepted() {
    let hosts = [host("h1", 64, 1)];
    let p = placed(&hosts, &[demand("app", "a", 40), demand("app", "b", 24)]);
    assert_eq!(p.on_host("h1").count(), 2);
}

#[test]
fn memory_beyond_capacity_is_rejected() {
    let hosts = [host("h1", 64, 1)];
    let err = failed(&hosts, &[demand("app", "a", 65)]);
    assert_eq!(err.unplaced.len(), 1);
    assert_eq!(
        *reason(&err.unplaced[0], "h1"),
        Rejection::Memory {
            needed: 65 * MIB,
            free: 64 * MIB
        }
    );
}

#[test]
fn memory_goes_where_it_fits() {
    let hosts = [host("small", 16, 1), host("large", 128, 1)];
    let p = placed(&hosts, &[demand("app", "a", 100)]);
    assert_eq!(host_of(&p, "app", "a"), "large");
}

#[test]
fn utilization_is_bounded_per_core_by_the_admission_bound() {
    // Rate-monotonic bound: one core admits 0.69.
    let mut rm = host("rm", 1024, 1);
    rm.max_utilization_per_core = 0.69;
    let a = silverline_placement::ModuleDemand {
        utilization: 0.5,
        ..demand("app", "a", 1)
    };
    let b = silverline_placement::ModuleDemand {
        utilization: 0.2,
        ..demand("app", "b", 1)
    };
    let err = failed(&[rm.clone()], &[a.clone(), b]);
    let r = reason(&err.unplaced[0], "rm");
    match r {
        Rejection::Utilization { needed, free } => {
            assert!(
                (needed - 0.5).abs() < 1e-9 || (needed - 0.2).abs() < 1e-9,
                "{r:?}"
            );
            assert!(*free < *needed, "{r:?}");
        }
        other => panic!("expected utilization, got {other:?}"),
    }
    // 0.4 + 0.29 is 0.69000000000000006 in f64; the solver counts exactly and admits it.
    let c = silverline_placement::ModuleDemand {
        utilization: 0.29,
        ..demand("app", "c", 1)
    };
    let d = silverline_placement::ModuleDemand {
        utilization: 0.4,
        ..demand("app", "d", 1)
    };
    let p = placed(&[rm], &[c, d]);
    assert_eq!(p.on_host("rm").count(), 2);
}

#[test]
fn utilization_scales_with_cores() {
    let hosts = [host("one", 1024, 1), host("four", 1024, 4)];
    let big = silverline_placement::ModuleDemand {
        utilization: 2.5,
        ..demand("app", "big", 1)
    };
    let p = placed(&hosts, &[big]);
    assert_eq!(host_of(&p, "app", "big"), "four");
}

#[test]
fn existing_load_is_respected() {
    // 100 of 128 MiB and 0.9 of 1.0 already committed by deployed modules.
    let mut busy = host("busy", 128, 1);
    busy.used_memory_bytes = 100 * MIB;
    busy.used_utilization = 0.9;
    let too_big = demand("app", "a", 32);
    let err = failed(&[busy.clone()], &[too_big]);
    assert_eq!(
        *reason(&err.unplaced[0], "busy"),
        Rejection::Memory {
            needed: 32 * MIB,
            free: 28 * MIB
        }
    );
    let too_busy = silverline_placement::ModuleDemand {
        utilization: 0.2,
        ..demand("app", "b", 1)
    };
    let err = failed(&[busy.clone()], &[too_busy]);
    assert!(matches!(
        reason(&err.unplaced[0], "busy"),
        Rejection::Utilization { .. }
    ));
    let fits = silverline_placement::ModuleDemand {
        utilization: 0.1,
        ..demand("app", "c", 28)
    };
    placed(&[busy], &[fits]);
}

#[test]
fn least_loaded_spreads_and_first_fit_packs() {
    use silverline_placement::{Backtracking, Fit};
    let hosts = [
        host("h1", 1024, 1),
        host("h2", 1024, 1),
        host("h3", 1024, 1),
    ];
    let demands: Vec<_> = (0..3)
        .map(|i| silverline_placement::ModuleDemand {
            utilization: 0.1,
            ..demand("app", &format!("m{i}"), 10)
        })
        .collect();
    let spread = placed(&hosts, &demands);
    let used: std::collections::HashSet<_> = spread.assignments.iter().map(|a| &a.host).collect();
    assert_eq!(used.len(), 3, "{spread:?}");
    let packed = crate::placed_with(
        Backtracking::new().strategy(Fit::FirstFit),
        &hosts,
        &demands,
    );
    assert!(
        packed.assignments.iter().all(|a| a.host == "h1"),
        "{packed:?}"
    );
}

#[test]
fn modules_that_reserve_nothing_are_spread_by_count() {
    let mut busy = crate::host("busy", 1024, 2);
    busy.deployed.push(silverline_placement::DeployedModule { app: "other".into(), module: "x".into() });
    let hosts = [crate::host("a", 1024, 2), crate::host("b", 1024, 2), busy];
    let demands: Vec<_> = ["m1", "m2", "m3"].iter().map(|m| crate::demand("app", m, 0)).collect();
    let placement = silverline_placement::Placer::place(&silverline_placement::Backtracking::new(), &hosts, &demands).unwrap();
    let on = |h: &str| placement.on_host(h).count();
    let totals = [on("a"), on("b"), on("busy") + 1];
    assert!(totals.iter().max().unwrap() - totals.iter().min().unwrap() <= 1, "least loaded spreads zero-demand modules: {totals:?}");
    let placement = silverline_placement::Placer::place(&silverline_placement::Backtracking::new(), &hosts, &demands[..2]).unwrap();
    assert_eq!(placement.on_host("busy").count(), 0, "the host already running a module is used last");
}

#[test]
fn module_slots_are_a_resource_and_module_10001_is_refused_naming_host_and_limit() {
    let mut full = host("full", 1 << 20, 2);
    full.module_slots = Some(10_000);
    full.deployed = (0..9_999).map(|i| silverline_placement::DeployedModule::new("dens", format!("m{i}"))).collect();
    let mut spare = host("spare", 1 << 20, 2);
    spare.module_slots = Some(1);
    // Slot 10,000 of `full` and the one slot of `spare` take two newcomers...
    let p = placed(&[full.clone(), spare.clone()], &[demand("more", "a", 0), demand("more", "b", 0)]);
    assert_eq!((p.on_host("full").count(), p.on_host("spare").count()), (1, 1));
    // ...and with `full` at 10,000, module 10,001 fits nowhere.
    full.deployed.push(silverline_placement::DeployedModule::new("dens", "m9999"));
    let err = failed(&[full], &[demand("more", "a", 0)]);
    assert_eq!(*reason(&err.unplaced[0], "full"), Rejection::Slots { slots: 10_000 });
    let text = err.to_string();
    assert!(text.contains("full: module slots (all 10000 in use)"), "{text}");
}
