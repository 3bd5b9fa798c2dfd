//! End-to-end latency of chains: the Orchestrator bounds a chain's worst case
//! with the placement it chose and the topology, refuses a placement that misses the declared
//! bound, and reports the computed bound in `get apps`.

use crate::common::*;
use crate::orchestrated::System;
use serde_json::Value;
use silverline_manifest::{ApplicationManifest, TopologyManifest};
use silverline_orchestrator::latency::{chain_bound, fmt_duration, Site};
use silverline_test_programs::{COUNTER_C, ECHO_C};
use std::path::{Path, PathBuf};
use std::time::Duration;

const TOPOLOGY: &str = "platforms: [edge-1, edge-2]\nlinks:\n  - between: [edge-1, edge-2]\n    latencyInNs: 5000000\n    bandwidthBitsPerSecond: 1000000\n";

/// counter (every 20 ms, budget 1 ms) → echo (event, budget 2 ms), on different Hosts.
fn app(dir: &Path, bound_ns: u64) -> PathBuf {
    let file = dir.join(format!("lat{bound_ns}.yaml"));
    std::fs::write(
        &file,
        format!(
            r#"name: lat
modules:
  - name: counter
    file: {COUNTER_C}
    trigger: {{ type: periodic, periodInNs: 20000000 }}
    resources: {{ budgetInNs: 1000000 }}
    outputChannels: {{ channels: [{{ name: out, endpoint: lat/count }}] }}
    placement: {{ antiAffinity: [echo] }}
  - name: echo
    file: {ECHO_C}
    trigger: {{ type: event, channel: in }}
    resources: {{ budgetInNs: 2000000 }}
    inputChannels: {{ channels: [{{ name: in, endpoint: lat/count }}] }}
    outputChannels: {{ channels: [{{ name: out, endpoint: lat/echoed }}] }}
chains:
  - name: control-loop
    modules: [counter, echo]
    boundInNs: {bound_ns}
"#
        ),
    )
    .unwrap();
    file
}

/// Hosts h1 and h2 on platforms edge-1 and edge-2, an Orchestrator with [`TOPOLOGY`].
fn two_edges() -> System {
    System::start_with(
        &["h1", "h2"],
        |data| {
            let file = data.join("topology.yaml");
            std::fs::write(&file, TOPOLOGY).unwrap();
            vec!["--topology".into(), file.to_str().unwrap().into()]
        },
        |name, _| vec!["--platform-id".into(), if name == "h1" { "edge-1" } else { "edge-2" }.into()],
    )
}

#[test]
fn a_violated_bound_is_refused_and_a_larger_one_accepted_and_reported() {
    let _serial = serial();
    let sys = two_edges();
    let (rest, dir) = (&sys.rest, sys.data.path());
    // 20 ms sampling + 1 ms + (5 ms link + 64 B at 1 Mbit/s = 512 µs) + 2 ms = 28.512 ms > 25 ms.
    let out = run(&["deploy", app(dir, 25_000_000).to_str().unwrap(), "--api", &rest.0]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    for part in ["(422)", "control-loop", "28.512ms", "25ms", "counter: sampling 20ms", "counter→echo on edge-", "link 5ms + 64 B at 1 Mbit/s (512µs)", "echo: response 2ms"] {
        assert!(err.contains(part), "the refusal names {part:?}: {err}");
    }
    assert_eq!(rest.get("/v1/apps").as_array().unwrap().len(), 0, "nothing was created");
    assert!(rest.get("/v1/hosts").as_array().unwrap().iter().all(|h| h["assigned"].as_array().unwrap().is_empty()), "nothing was assigned");

    // The same application with a larger bound is accepted and reports the computed bound.
    let out = run(&["deploy", app(dir, 50_000_000).to_str().unwrap(), "--wait", "--api", &rest.0]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&["get", "apps", "-o", "json", "--api", &rest.0]);
    let apps: Value = serde_json::from_slice(&out.stdout).unwrap();
    let chain = &apps[0]["chains"][0];
    assert_eq!(chain["name"], "control-loop");
    assert_eq!(chain["bound_ns"], 50_000_000);
    assert_eq!(chain["computed_ns"], 28_512_000, "{chain}");
    assert_eq!(chain["terms"].as_array().unwrap().len(), 4, "{chain}");
    let out = run(&["get", "app", "lat", "-o", "json", "--api", &rest.0]);
    let one: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(one["chains"][0]["computed_ns"], 28_512_000);
    let out = run(&["get", "apps", "--api", &rest.0]);
    let table = stdout(&out);
    assert!(table.contains("E2E") && table.contains("28.512ms/50ms"), "{table}");

    // An update that tightens the bound below what the placement gives is refused; nothing changes.
    let mut manifest = one["manifest"].clone();
    manifest["chains"][0]["boundInNs"] = 10_000_000.into();
    let (status, e) = rest.call("PUT", "/v1/apps/lat", Some(&manifest.to_string()));
    assert_eq!(status, 422, "{e}");
    assert_eq!(e["error"]["code"], "latency-bound");
    assert!(e["error"]["message"].as_str().unwrap().contains("28.512ms exceeds its bound 10ms"), "{e}");
    let after = rest.get("/v1/apps/lat");
    assert_eq!(after["generation"], one["generation"]);
    assert_eq!(after["chains"][0]["bound_ns"], 50_000_000);
}

/// The placer spreads modules that reserve nothing; when that misses a chain's bound, the
/// latency search co-locates the hop instead of refusing, and says so.
#[test]
fn the_search_colocates_a_hop_to_meet_a_bound() {
    let _serial = serial();
    let sys = two_edges();
    let (rest, dir) = (&sys.rest, sys.data.path());
    let file = app(dir, 25_000_000);
    let free = std::fs::read_to_string(&file).unwrap().replace("    placement: { antiAffinity: [echo] }\n", "");
    std::fs::write(&file, free).unwrap();
    let out = run(&["deploy", file.to_str().unwrap(), "--wait", "--api", &rest.0]);
    assert!(out.status.success(), "{}", stderr(&out));
    let one = rest.get("/v1/apps/lat");
    let hosts: Vec<&str> = one["modules"].as_array().unwrap().iter().map(|m| m["host"].as_str().unwrap()).collect();
    assert_eq!(hosts[0], hosts[1], "counter and echo share a Host: {one}");
    // 20 ms sampling + 1 ms + loopback 0 + 2 ms.
    assert_eq!(one["chains"][0]["computed_ns"], 23_000_000, "{}", one["chains"]);
    let events = stdout(&run(&["logs", "--app", "lat", "--api", &rest.0]));
    assert!(events.contains("colocated") && events.contains("counter→echo placed on one Host"), "{events}");
}

/// The ```yaml block of docs/timing.md that starts with `# {what}`.
fn doc_block(doc: &str, what: &str) -> String {
    let start = format!("# {what}\n");
    doc.split("```yaml\n").skip(1).map(|b| b.split("```").next().unwrap_or_default()).find(|b| b.starts_with(&start)).unwrap_or_else(|| panic!("no `{start}` block")).to_string()
}

#[test]
fn the_worked_example_of_the_docs_adds_up() {
    let doc = std::fs::read_to_string(repo_root().join("docs/timing.md")).unwrap();
    let app = ApplicationManifest::from_str(&doc_block(&doc, "application"), Path::new("/")).unwrap();
    let topology: TopologyManifest = doc_block(&doc, "topology").parse().unwrap();
    let site = |m: &str| {
        let (host, platform) = if m == "sensor" { ("h1", "edge-1") } else { ("h2", "edge-2") };
        Some(Site { host: host.into(), platform: platform.into() })
    };
    let b = chain_bound(&app, &app.chains[0], &site, Some(&topology)).unwrap();
    assert_eq!(b.computed, Duration::from_nanos(18_200_512));
    assert!(doc.contains(&format!("**18 200 512** ({} ms)", fmt_duration(b.computed).trim_end_matches("ms"))));
    assert!(doc.contains(&format!("`{}/{}`", fmt_duration(b.computed), fmt_duration(b.bound))));
    for term in &b.terms {
        assert!(doc.contains(&format!("| `{term}` |")), "docs/timing.md lists the term {term:?}");
    }
    assert!(b.holds());
}
