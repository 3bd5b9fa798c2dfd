//! Static requirements: APIs, tags, pins, online.

use silverline_placement::{ModuleDemand, Rejection};

use crate::{demand, failed, host, host_of, placed};

fn with_apis(name: &str, apis: &[&str]) -> silverline_placement::HostCapacity {
    let mut h = host(name, 256, 1);
    h.apis = apis.iter().map(|a| a.to_string()).collect();
    h
}

#[test]
fn api_accepts_only_hosts_offering_it() {
    let hosts = [
        with_apis("plain", &["sl:channels"]),
        with_apis("vss", &["sl:channels", "sl:vss"]),
    ];
    let d = ModuleDemand {
        apis: vec!["sl:channels".into(), "sl:vss".into()],
        ..demand("car", "speed", 1)
    };
    assert_eq!(
        host_of(&placed(&hosts, std::slice::from_ref(&d)), "car", "speed"),
        "vss"
    );
    let err = failed(&hosts[..1], &[d]);
    assert_eq!(
        err.unplaced[0].reasons,
        vec![("plain".to_string(), Rejection::MissingApi("sl:vss".into()))]
    );
}

#[test]
fn tag_accepts_only_hosts_carrying_it() {
    let mut gpu = host("gpu", 256, 1);
    gpu.tags = vec!["gpu".into(), "edge_node".into()];
    let hosts = [host("cpu", 256, 1), gpu];
    let d = ModuleDemand {
        tags: vec!["gpu".into()],
        ..demand("vision", "detect", 1)
    };
    assert_eq!(
        host_of(&placed(&hosts, std::slice::from_ref(&d)), "vision", "detect"),
        "gpu"
    );
    let err = failed(&hosts[..1], &[d]);
    assert_eq!(
        err.unplaced[0].reasons[0].1,
        Rejection::MissingTag("gpu".into())
    );
}

#[test]
fn pin_wins_over_load() {
    let mut loaded = host("loaded", 256, 1);
    loaded.used_utilization = 0.8;
    let hosts = [host("idle", 256, 1), loaded];
    let d = ModuleDemand {
        pinned_host: Some("loaded".into()),
        ..demand("app", "a", 1)
    };
    assert_eq!(host_of(&placed(&hosts, &[d]), "app", "a"), "loaded");
}

#[test]
fn pin_to_a_host_that_cannot_take_it_is_reported() {
    let hosts = [host("h1", 256, 1), host("h2", 8, 1)];
    let d = ModuleDemand {
        pinned_host: Some("h2".into()),
        ..demand("app", "a", 64)
    };
    let err = failed(&hosts, std::slice::from_ref(&d));
    assert_eq!(
        err.unplaced[0].reasons[0].1,
        Rejection::PinnedElsewhere("h2".into())
    );
    assert!(matches!(
        err.unplaced[0].reasons[1].1,
        Rejection::Memory { .. }
    ));
    let unknown = ModuleDemand {
        pinned_host: Some("nowhere".into()),
        ..d
    };
    let err = failed(&hosts, &[unknown]);
    assert!(
        err.to_string()
            .contains("h1: pinned to nowhere; h2: pinned to nowhere"),
        "{err}"
    );
}

#[test]
fn offline_hosts_get_nothing() {
    let mut down = host("down", 1024, 4);
    down.online = false;
    let hosts = [down.clone(), host("up", 64, 1)];
    assert_eq!(
        host_of(&placed(&hosts, &[demand("app", "a", 1)]), "app", "a"),
        "up"
    );
    let err = failed(&[down], &[demand("app", "a", 1)]);
    assert_eq!(err.unplaced[0].reasons[0].1, Rejection::Offline);
}

#[test]
fn zero_replicas_is_read_as_one() {
    let d = ModuleDemand {
        replicas: 0,
        ..demand("app", "a", 1)
    };
    let p = placed(&[host("h1", 64, 1)], &[d]);
    assert_eq!(p.assignments.len(), 1);
}
