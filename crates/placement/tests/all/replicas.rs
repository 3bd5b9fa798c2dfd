//! Replicas: distinct Hosts (hard), distinct platforms when possible (soft).

use silverline_placement::{Backtracking, Fit, HostCapacity, ModuleDemand, Rejection};

use crate::{demand, failed, host, placed, placed_with};

fn on(name: &str, platform: &str) -> HostCapacity {
    HostCapacity {
        platform: Some(platform.into()),
        ..host(name, 256, 1)
    }
}

fn replicated(n: u32) -> ModuleDemand {
    ModuleDemand {
        replicas: n,
        ..demand("app", "ctl", 1)
    }
}

#[test]
fn replicas_go_to_distinct_hosts() {
    let hosts = [host("h1", 256, 1), host("h2", 256, 1), host("h3", 256, 1)];
    let p = placed(&hosts, &[replicated(3)]);
    let mut used: Vec<&str> = (0..3)
        .map(|r| p.host_of("app", "ctl", r).unwrap())
        .collect();
    used.sort();
    assert_eq!(used, ["h1", "h2", "h3"]);
}

#[test]
fn more_replicas_than_hosts_is_rejected() {
    let hosts = [host("h1", 256, 1), host("h2", 256, 1)];
    let err = failed(&hosts, &[replicated(3)]);
    assert_eq!(err.unplaced.len(), 1);
    assert_eq!(err.unplaced[0].replica, 2);
    assert!(err.unplaced[0]
        .reasons
        .iter()
        .all(|(_, r)| *r == Rejection::ReplicaOnSameHost));
    assert!(err
        .to_string()
        .starts_with("app/ctl (replica 2): no host fits: h1: another replica already there"));
}

#[test]
fn replicas_prefer_distinct_platforms() {
    // h1 and h2 share a platform; h3 is alone on its own. With either strategy, replica 1
    // skips h2 (which would be next by load or by order) for h3.
    let hosts = [on("h1", "rack-a"), on("h2", "rack-a"), on("h3", "rack-b")];
    for fit in [Fit::LeastLoaded, Fit::FirstFit] {
        let p = placed_with(Backtracking::new().strategy(fit), &hosts, &[replicated(2)]);
        let platforms: Vec<&str> = (0..2)
            .map(|r| {
                let h = p.host_of("app", "ctl", r).unwrap();
                hosts
                    .iter()
                    .find(|x| x.host == h)
                    .unwrap()
                    .platform
                    .as_deref()
                    .unwrap()
            })
            .collect();
        assert_ne!(platforms[0], platforms[1], "{fit:?}: {p:?}");
    }
}

#[test]
fn replicas_share_a_platform_when_nothing_else_fits() {
    let hosts = [on("h1", "rack-a"), on("h2", "rack-a")];
    let p = placed(&hosts, &[replicated(2)]);
    assert_ne!(p.host_of("app", "ctl", 0), p.host_of("app", "ctl", 1));
}

#[test]
fn hosts_without_platform_never_clash() {
    let hosts = [host("h1", 256, 1), host("h2", 256, 1), on("h3", "rack-b")];
    let p = placed_with(
        Backtracking::new().strategy(Fit::FirstFit),
        &hosts,
        &[replicated(2)],
    );
    assert_eq!(p.host_of("app", "ctl", 0), Some("h1"));
    assert_eq!(p.host_of("app", "ctl", 1), Some("h2"));
}
