//! Error messages: module, host and constraint named; large clusters summarised.

use silverline_placement::{DeployedModule, HostCapacity, ModuleDemand};

use crate::{demand, failed, host, MIB};

#[test]
fn every_host_gets_its_reason() {
    let mut edge1 = host("edge-1", 128, 2);
    edge1.used_memory_bytes = 116 * MIB;
    edge1.apis = vec!["sl:vss".into()];
    let edge2 = host("edge-2", 1024, 2);
    let mut edge3 = HostCapacity {
        apis: vec!["sl:vss".into()],
        ..host("edge-3", 1024, 2)
    };
    edge3.deployed.push(DeployedModule::new("plant", "filter"));
    let mut edge4 = edge3.clone();
    edge4.host = "edge-4".into();
    edge4.online = false;
    let d = ModuleDemand {
        apis: vec!["sl:vss".into()],
        anti_affinity: vec!["filter".into()],
        ..demand("plant", "fusion", 64)
    };
    let err = failed(&[edge1, edge2, edge3, edge4], &[d]);
    assert_eq!(
        err.to_string(),
        "plant/fusion (replica 0): no host fits: edge-1: memory (needs 64 MiB, 12 MiB free); \
         edge-2: missing API sl:vss; edge-3: anti-affinity with filter; edge-4: offline"
    );
}

#[test]
fn one_line_per_unplaced_module() {
    let hosts = [host("h1", 10, 1)];
    let err = failed(
        &hosts,
        &[
            demand("a1", "x", 20),
            demand("a2", "y", 1),
            demand("a3", "z", 30),
        ],
    );
    let text = err.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with("a1/x (replica 0): no host fits: h1: memory"),
        "{text}"
    );
    assert!(
        lines[1].starts_with("a3/z (replica 0): no host fits: h1: memory"),
        "{text}"
    );
}

#[test]
fn large_clusters_are_summarised() {
    let mut hosts: Vec<HostCapacity> = (0..997).map(|i| host(&format!("h{i}"), 16, 1)).collect();
    for i in 997..1000 {
        hosts.push(HostCapacity {
            online: false,
            ..host(&format!("h{i}"), 1024, 1)
        });
    }
    let err = failed(&hosts, &[demand("app", "big", 64)]);
    assert_eq!(
        err.unplaced[0].reasons.len(),
        1000,
        "the data keeps every host"
    );
    assert_eq!(
        err.to_string(),
        "app/big (replica 0): no host fits: memory on 997 hosts (e.g. h0: needs 64 MiB, \
         16 MiB free; h1: needs 64 MiB, 16 MiB free; h2: needs 64 MiB, 16 MiB free; ...); \
         offline on 3 hosts (h997, h998, h999)"
    );
}

#[test]
fn no_hosts_at_all() {
    let err = failed(&[], &[demand("app", "a", 1)]);
    assert_eq!(err.to_string(), "app/a (replica 0): no host fits: no hosts");
}
