//! Event triggers: a C sensor → filter → sink pipeline over loopback.

use crate::common::*;
use silverline_test_programs::{COUNTER_C, ECHO_C, FILTER_EMA_C, SENSOR_C, SINK_C};

fn c_pipeline(name: &str) -> silverline_manifest::ApplicationManifest {
    app(&format!(
        r#"
name: {name}
modules:
  - name: sensor
    file: {SENSOR_C}
    trigger: {{ type: periodic, periodInNs: 5000000 }}
    outputChannels:
      channels: [{{ name: out, endpoint: "{name}/raw", payloadSizeInBytes: 16 }}]
  - name: filter
    file: {FILTER_EMA_C}
    trigger: {{ type: event, channel: in }}
    inputChannels:
      channels: [{{ name: in, endpoint: "{name}/raw" }}]
    outputChannels:
      channels: [{{ name: out, endpoint: "{name}/filtered" }}]
  - name: sink
    file: {SINK_C}
    trigger: {{ type: event, channel: in }}
    inputChannels:
      channels: [{{ name: in, endpoint: "{name}/filtered" }}]
"#
    ))
}

#[test]
fn c_pipeline_runs_over_loopback() {
    let (host, lines) = host();
    host.deploy_app(&c_pipeline("cpipe")).unwrap();
    let lines2 = lines.clone();
    assert!(host.wait_for(WAIT, move |_| lines2.of("cpipe/sink").len() >= 10));
    let printed = lines.of("cpipe/sink");
    let seqs: Vec<u64> = printed
        .iter()
        .map(|l| l.strip_prefix("seq=").and_then(|r| r.split(' ').next()).and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("unexpected sink line {l:?}")))
        .collect();
    // Every sensor sample went through the filter to the sink, in order.
    assert!(seqs.windows(2).all(|w| w[1] > w[0]), "{seqs:?}");
    let status = host.status();
    let filter = status.module("cpipe/filter").unwrap();
    assert_eq!(filter.trigger, "event");
    assert!(filter.activations >= 10);
    assert_eq!(filter.messages_dropped, 0);
}

#[test]
fn one_event_activation_per_message() {
    let (host, _) = host();
    let manifest = app(&format!(
        r#"
name: chain
modules:
  - name: counter
    file: {COUNTER_C}
    trigger: {{ type: periodic, periodInNs: 2000000 }}
    outputChannels:
      channels: [{{ name: out, endpoint: chain/a }}]
  - name: echo
    file: {ECHO_C}
    trigger: {{ type: event, channel: in }}
    inputChannels:
      channels: [{{ name: in, endpoint: chain/a, queueDepth: 64 }}]
    outputChannels:
      channels: [{{ name: out, endpoint: chain/b }}]
"#
    ));
    let out = observe(&host, "chain/b", 1024);
    host.deploy_app(&manifest).unwrap();
    assert!(wait_messages(&host, &out, 20));
    let got: Vec<String> = std::iter::from_fn(|| out.pop()).map(|b| String::from_utf8(b.to_vec()).unwrap()).collect();
    let numbers: Vec<u64> = got.iter().map(|s| s.parse().unwrap()).collect();
    assert_eq!(numbers[..], (1..=numbers.len() as u64).collect::<Vec<_>>()[..], "echo must pass every message once, in order");
}
