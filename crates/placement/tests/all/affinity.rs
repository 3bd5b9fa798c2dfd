//! Anti-affinity (symmetric, against new and deployed modules) and affinity (hard).

use silverline_placement::{DeployedModule, ModuleDemand, Rejection};

use crate::{demand, failed, host, host_of, placed, MIB};

fn anti(app: &str, module: &str, others: &[&str]) -> ModuleDemand {
    ModuleDemand {
        anti_affinity: others.iter().map(|s| s.to_string()).collect(),
        ..demand(app, module, 1)
    }
}

fn affine(app: &str, module: &str, mib: u64, others: &[&str]) -> ModuleDemand {
    ModuleDemand {
        affinity: others.iter().map(|s| s.to_string()).collect(),
        ..demand(app, module, mib)
    }
}

#[test]
fn anti_affinity_separates_modules() {
    let hosts = [host("h1", 256, 1), host("h2", 256, 1)];
    let p = placed(
        &hosts,
        &[
            demand("app", "sensor", 1),
            anti("app", "filter", &["sensor"]),
        ],
    );
    assert_ne!(host_of(&p, "app", "sensor"), host_of(&p, "app", "filter"));
}

#[test]
fn anti_affinity_is_symmetric() {
    // Only `b` names `a`. `b` is larger, so placed first, on h1 (most free memory). `a` would
    // also prefer h1 (still more free memory than h2), but must avoid `b`.
    let hosts = [host("h1", 1024, 1), host("h2", 256, 1)];
    let b = ModuleDemand {
        memory_bytes: 100 * MIB,
        ..anti("app", "b", &["a"])
    };
    let p = placed(&hosts, &[demand("app", "a", 1), b]);
    assert_eq!(host_of(&p, "app", "b"), "h1");
    assert_eq!(host_of(&p, "app", "a"), "h2");
}

#[test]
fn anti_affinity_rejects_with_the_partner_named() {
    let err = failed(
        &[host("h1", 256, 1)],
        &[
            demand("app", "sensor", 1),
            anti("app", "filter", &["sensor"]),
        ],
    );
    assert_eq!(err.unplaced.len(), 1);
    assert_eq!(err.unplaced[0].module, "filter");
    assert_eq!(
        err.unplaced[0].reasons[0].1,
        Rejection::AntiAffinity("sensor".into())
    );
}

#[test]
fn anti_affinity_counts_already_deployed_modules() {
    let mut h1 = host("h1", 256, 1);
    h1.deployed.push(DeployedModule::new("app", "sensor"));
    let hosts = [h1.clone(), host("h2", 256, 1)];
    let p = placed(&hosts, &[anti("app", "filter", &["sensor"])]);
    assert_eq!(host_of(&p, "app", "filter"), "h2");
    let err = failed(&[h1], &[anti("app", "filter", &["sensor"])]);
    assert_eq!(
        err.to_string(),
        "app/filter (replica 0): no host fits: h1: anti-affinity with sensor"
    );
}

#[test]
fn anti_affinity_is_within_one_app() {
    let hosts = [host("h1", 256, 1)];
    placed(
        &hosts,
        &[
            anti("app1", "filter", &["sensor"]),
            demand("app2", "sensor", 1),
        ],
    );
}

#[test]
fn affinity_keeps_modules_together() {
    let mut vss = host("vss", 256, 1);
    vss.apis = vec!["sl:vss".into()];
    let hosts = [host("plain", 256, 1), vss];
    let speed = ModuleDemand {
        apis: vec!["sl:vss".into()],
        ..demand("car", "speed", 1)
    };
    let p = placed(&hosts, &[affine("car", "logger", 1, &["speed"]), speed]);
    assert_eq!(host_of(&p, "car", "logger"), "vss");
    assert_eq!(host_of(&p, "car", "speed"), "vss");
}

#[test]
fn affinity_is_symmetric_and_needs_room_for_the_whole_group() {
    // Each 60 MiB fits a host alone; together they need 120 MiB, which only "big" has.
    let hosts = [host("small", 100, 1), host("big", 128, 1)];
    let p = placed(
        &hosts,
        &[demand("app", "a", 60), affine("app", "b", 60, &["a"])],
    );
    assert_eq!(host_of(&p, "app", "a"), "big");
    assert_eq!(host_of(&p, "app", "b"), "big");
    let err = failed(
        &hosts[..1],
        &[demand("app", "a", 60), affine("app", "b", 60, &["a"])],
    );
    assert_eq!(
        err.unplaced[0].reasons[0].1,
        Rejection::Memory {
            needed: 120 * MIB,
            free: 100 * MIB
        }
    );
}

#[test]
fn affinity_rejects_hosts_a_partner_cannot_use() {
    // The partner needs an API no host has: both are reported, the partner with the API.
    let speed = ModuleDemand {
        apis: vec!["sl:vss".into()],
        ..demand("car", "speed", 1)
    };
    let err = failed(
        &[host("h1", 256, 1)],
        &[affine("car", "logger", 1, &["speed"]), speed],
    );
    let text = err.to_string();
    assert!(
        text.contains("car/logger (replica 0): no host fits: h1: affinity with speed"),
        "{text}"
    );
    assert!(
        text.contains("car/speed (replica 0): no host fits: h1: missing API sl:vss"),
        "{text}"
    );
}

#[test]
fn affinity_with_a_deployed_module_follows_it() {
    let mut h2 = host("h2", 256, 1);
    h2.deployed.push(DeployedModule::new("app", "db"));
    let hosts = [host("h1", 256, 1), h2];
    let p = placed(&hosts, &[affine("app", "cache", 1, &["db"])]);
    assert_eq!(host_of(&p, "app", "cache"), "h2");
    let pinned = ModuleDemand {
        pinned_host: Some("h1".into()),
        ..affine("app", "cache", 1, &["db"])
    };
    let err = failed(&hosts, &[pinned]);
    assert_eq!(
        err.unplaced[0].reasons[0].1,
        Rejection::Affinity("db".into())
    );
}

#[test]
fn affinity_pairs_replicas_by_index() {
    let hosts = [host("h1", 256, 1), host("h2", 256, 1)];
    let a = ModuleDemand {
        replicas: 2,
        ..demand("app", "a", 1)
    };
    let b = ModuleDemand {
        replicas: 2,
        ..affine("app", "b", 1, &["a"])
    };
    let p = placed(&hosts, &[a, b]);
    for r in 0..2 {
        assert_eq!(p.host_of("app", "a", r), p.host_of("app", "b", r));
    }
    assert_ne!(p.host_of("app", "a", 0), p.host_of("app", "a", 1));
}

#[test]
fn affinity_and_anti_affinity_together_cannot_be_met() {
    let both = ModuleDemand {
        anti_affinity: vec!["a".into()],
        ..affine("app", "b", 1, &["a"])
    };
    let err = failed(
        &[host("h1", 256, 1), host("h2", 256, 1)],
        &[demand("app", "a", 1), both],
    );
    let text = err.to_string();
    assert!(text.contains("app/b (replica 0)"), "{text}");
    assert!(
        text.contains("h1: anti-affinity with a; h2: affinity with a"),
        "{text}"
    );
}
