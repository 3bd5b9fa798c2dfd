//! Event triggers: a C sensor → filter → sink pipeline over loopback.

use crate::common::*;
use silverline_test_programs::{COUNTER_C, ECHO_C, FILTER_EMA_C, SENSOR_C, SINK_C};

fn c_pipeline(name: &str) -> silverline_manifest::ApplicationManifest {
    c_pipeline_with(name, "")
}

/// The pipeline with `filter_extra` (indented manifest lines) added to the filter.
fn c_pipeline_with(name: &str, filter_extra: &str) -> silverline_manifest::ApplicationManifest {
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
{filter_extra}    inputChannels:
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
    // The filter's profile records an activation after its step returns, which may be after the
    // sink printed what that step published: wait for the accounting, not just the output.
    assert!(host.wait_for(WAIT, |s| s.module("cpipe/filter").unwrap().activations >= 10), "the filter counted its activations");
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

/// Issue 7: a real-time event-triggered module runs on its own real-time thread, woken by its
/// messages, and loses none of them; removing it ends the thread.
#[test]
fn a_realtime_event_module_runs_on_its_own_thread_and_misses_nothing() {
    let _heavy = HEAVY.read(); // holds the wake-up latency request
    let (host, lines) = host();
    host.deploy_app(&c_pipeline_with("rtev", "    criticality: realtime\n    resources: { deadlineInNs: 2000000 }\n")).unwrap();
    let lines2 = lines.clone();
    assert!(host.wait_for(WAIT, move |_| lines2.of("rtev/sink").len() >= 20));
    let status = host.status();
    let filter = status.module("rtev/filter").unwrap();
    if status.realtime.starts_with("SCHED") {
        assert!(filter.scheduling.contains("sporadic (woken by its messages)"), "{}", filter.scheduling);
        // The default budget (a tenth of the deadline) plus the Host's share of each period.
        let ms2 = std::time::Duration::from_millis(2);
        let runtime = silverline_placement::rta::reserved_runtime(ms2 / 10, ms2);
        assert!(filter.scheduling.starts_with(&format!("SCHED_DEADLINE runtime={runtime:?} deadline=2ms period=2ms")) || filter.scheduling.starts_with("SCHED_FIFO"), "{}", filter.scheduling);
    } else {
        assert!(filter.scheduling.contains("fallback"), "{}", filter.scheduling);
    }
    let seqs: Vec<u64> = lines.of("rtev/sink").iter().filter_map(|l| l.strip_prefix("seq=")?.split(' ').next()?.parse().ok()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "every sample reached the sink through the real-time filter: {seqs:?}");
    assert_eq!(filter.messages_dropped, 0);
    let thread_alive = || {
        std::fs::read_dir("/proc/self/task").unwrap().any(|t| std::fs::read_to_string(t.unwrap().path().join("comm")).is_ok_and(|c| c.trim() == "rt-rtev/filter"))
    };
    assert!(thread_alive(), "the filter runs on a thread of its own");
    let events = host.events();
    assert!(host.remove(&id("rtev/filter")));
    expect_event(&events, "stopped", |e| e.module.0 == "rtev/filter" && matches!(e.kind, silverline_host::EventKind::Stopped));
    let deadline = std::time::Instant::now() + WAIT;
    while thread_alive() {
        assert!(std::time::Instant::now() < deadline, "the module's thread did not end");
        std::thread::yield_now();
    }
}
