//! `chains`: end-to-end latency bounds on chains of modules.

use std::path::Path;
use std::time::Duration;

use silverline_manifest::ApplicationManifest;

use crate::{app_err, assert_error};

fn app(chains: &str) -> String {
    format!(
        r#"
name: loop
modules:
  - name: sensor
    file: sensor.wasm
    trigger: {{ type: periodic, periodInNs: 10000000 }}
    outputChannels: {{ channels: [{{ name: out, endpoint: loop/raw, payloadSizeInBytes: 128 }}] }}
  - name: filter
    file: filter.wasm
    trigger: {{ type: event, channel: in }}
    inputChannels: {{ channels: [{{ name: in, endpoint: loop/+ }}] }}
    outputChannels: {{ channels: [{{ name: out, endpoint: filtered/x }}] }}
  - name: sink
    file: sink.wasm
    trigger: {{ type: event, channel: in }}
    inputChannels: {{ channels: [{{ name: in, endpoint: "filtered/#" }}] }}
{chains}"#
    )
}

#[test]
fn a_chain_is_read_and_round_trips() {
    let text = app("chains:\n  - name: control-loop\n    modules: [sensor, filter, sink]\n    boundInNs: 50000000\n");
    let m = ApplicationManifest::from_str(&text, Path::new("/base")).unwrap();
    assert_eq!(m.chains.len(), 1);
    let c = &m.chains[0];
    assert_eq!(c.name, "control-loop");
    assert_eq!(
        c.modules.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
        ["sensor", "filter", "sink"]
    );
    assert_eq!(c.bound, Duration::from_millis(50));
    let json = m.to_json();
    assert!(json.contains("\"boundInNs\": 50000000"), "{json}");
    let back = ApplicationManifest::from_str(&json, Path::new("/base")).unwrap();
    assert_eq!(back, m);
    let back = ApplicationManifest::from_str(&m.to_yaml(), Path::new("/base")).unwrap();
    assert_eq!(back, m);
    // The connecting channel, wildcards matched.
    let (s, f) = (m.module("sensor").unwrap(), m.module("filter").unwrap());
    assert_eq!(s.feeds(f).unwrap().payload_size, Some(128));
    assert!(f.feeds(s).is_none());
}

#[test]
fn no_chains_is_the_default_and_is_not_written() {
    let m = ApplicationManifest::from_str(&app(""), Path::new("/base")).unwrap();
    assert!(m.chains.is_empty());
    assert!(!m.to_json().contains("chains"));
}

#[test]
fn unknown_and_unconnected_modules_are_reported_at_their_index() {
    let errs = app_err(&app("chains:\n  - name: a\n    modules: [sensor, nope]\n    boundInNs: 1000\n  - name: b\n    modules: [sensor, sink]\n    boundInNs: 1000\n  - name: c\n    modules: [sink, sensor]\n    boundInNs: 1000\n"));
    assert_error(
        &errs,
        "chains[0].modules[1]",
        "a module of this application",
    );
    assert_error(&errs, "chains[1].modules[1]", "reads what `sensor` writes");
    assert_error(&errs, "chains[2].modules[1]", "it has none");
    assert!(errs.at("chains[0].modules[0]").is_none());
}

#[test]
fn names_lengths_and_bounds_are_checked() {
    let errs = app_err(&app(
        "chains:\n  - name: a\n    modules: [sensor]\n    boundInNs: 0\n  - name: a\n    modules: [sensor, filter]\n  - name: \"bad name\"\n    modules: [filter, sink]\n    boundInNs: -3\n",
    ));
    assert_error(&errs, "chains[0].modules", "at least two modules");
    assert_error(&errs, "chains[0].boundInNs", "positive");
    assert_error(&errs, "chains[1].name", "already used at chains[0].name");
    assert_error(&errs, "chains[1].boundInNs", "positive");
    assert_eq!(errs.at("chains[1].boundInNs").unwrap().found, "nothing");
    assert!(errs.at("chains[2].name").is_some());
    assert_error(&errs, "chains[2].boundInNs", "positive");
}

#[test]
fn unknown_keys_in_a_chain_are_refused() {
    let text = app(
        "chains:\n  - name: a\n    modules: [sensor, filter]\n    boundInNs: 5\n    boundMs: 3\n",
    );
    assert!(ApplicationManifest::from_str(&text, Path::new("/base")).is_err());
}
