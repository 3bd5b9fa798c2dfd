//! Topology manifests.

use std::time::Duration;

use silverline_manifest::TopologyManifest;

use crate::assert_error;

const TOPO: &str = r#"
kind: topology
platforms: [IPC1, IPC2, IPC3]
links:
  - between: [IPC1, IPC2]
    latencyInNs: 200000
    bandwidthBitsPerSecond: 1000000000
  - { between: [IPC3, IPC2], latencyInNs: 1000000, bandwidthBitsPerSecond: 100000000 }
"#;

fn topo_err(text: &str) -> silverline_manifest::ManifestErrors {
    text.parse::<TopologyManifest>()
        .expect_err("a bad topology manifest was accepted")
}

#[test]
fn parses_and_round_trips() {
    let t: TopologyManifest = TOPO.parse().unwrap();
    assert_eq!(t.platforms, ["IPC1", "IPC2", "IPC3"]);
    let l = t.link("IPC2", "IPC1").unwrap();
    assert_eq!(l.latency, Duration::from_micros(200));
    assert_eq!(l.bandwidth_bits_per_second, 1_000_000_000);
    assert!(t.link("IPC1", "IPC3").is_none());
    assert_eq!(t.to_json().parse::<TopologyManifest>().unwrap(), t);
}

#[test]
fn link_to_unknown_platform() {
    let errs = topo_err(&TOPO.replace("[IPC1, IPC2]", "[IPC1, IPC9]"));
    assert_error(&errs, "links[0].between[1]", "listed in `platforms`");
}

#[test]
fn link_to_itself_and_wrong_arity() {
    let errs = topo_err(&TOPO.replace("[IPC1, IPC2]", "[IPC1, IPC1]"));
    assert_error(&errs, "links[0].between[1]", "other than the first end");
    let errs = topo_err(&TOPO.replace("[IPC1, IPC2]", "[IPC1, IPC2, IPC3]"));
    assert_error(&errs, "links[0].between", "exactly two");
}

#[test]
fn duplicate_link_and_platform() {
    let errs = topo_err(&TOPO.replace("[IPC3, IPC2]", "[IPC2, IPC1]"));
    assert_error(&errs, "links[1].between", "already at links[0]");
    let errs = topo_err(&TOPO.replace("[IPC1, IPC2, IPC3]", "[IPC1, IPC2, IPC1]"));
    assert_error(&errs, "platforms[2]", "already at platforms[0]");
}

#[test]
fn non_positive_latency_and_bandwidth() {
    let errs = topo_err(
        &TOPO
            .replace("latencyInNs: 200000", "latencyInNs: 0")
            .replace("100000000 }", "-1 }"),
    );
    assert_error(&errs, "links[0].latencyInNs", "positive");
    assert_error(&errs, "links[1].bandwidthBitsPerSecond", "positive");
}
