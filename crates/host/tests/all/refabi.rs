//! Modules written for the reference runtime's ABI (module `env`) run unmodified next to
//! native-ABI modules and exchange messages with them.

use crate::common::*;
use silverline_host::EventKind;
use silverline_test_programs::{COUNTER_C, ECHO_C, REF_EARLY_UUID_CMD_C, REF_PRODUCER_CMD_C, REF_RELAY_CMD_C, REF_WATCH_CMD_C};

fn mixed_app() -> silverline_manifest::ApplicationManifest {
    app(&format!(
        r#"
name: mixed
modules:
  - name: producer-a
    file: {REF_PRODUCER_CMD_C}
    trigger: {{ type: periodic, periodInNs: 30000000 }}
    wasi: {{ args: ["ref/sensor/a", "a"] }}
  - name: producer-b
    file: {REF_PRODUCER_CMD_C}
    trigger: {{ type: periodic, periodInNs: 30000000 }}
    wasi: {{ args: ["ref/sensor/b", "b"] }}
  - name: relay
    file: {REF_RELAY_CMD_C}
    trigger: {{ type: command }}
  - name: watch
    file: {REF_WATCH_CMD_C}
    trigger: {{ type: command }}
  - name: counter
    file: {COUNTER_C}
    trigger: {{ type: periodic, periodInNs: 100000000 }}
    outputChannels: {{ channels: [{{ name: out, endpoint: native/count }}] }}
  - name: echo
    file: {ECHO_C}
    trigger: {{ type: event, channel: in }}
    inputChannels: {{ channels: [{{ name: in, endpoint: ref/relayed, queueDepth: 256 }}] }}
    outputChannels: {{ channels: [{{ name: out, endpoint: native/echoed }}] }}
"#
    ))
}

fn parse_report(s: &str) -> (u32, u32, u32) {
    let field = |k: &str| s.split(' ').find_map(|p| p.strip_prefix(k)).and_then(|v| v.parse().ok()).unwrap_or(0);
    (field("native="), field("ref="), field("timeouts="))
}

#[test]
fn reference_modules_interoperate_with_native_ones() {
    let (host, lines) = host();
    let report = observe(&host, "ref/report", 4096);
    let echoed = observe(&host, "native/echoed", 4096);
    let events = host.events();
    host.deploy_app(&mixed_app()).unwrap();

    // The watcher (ch_poll with a timeout) sees the native counter and the relay's output, and
    // some of its polls time out; the native echo sees both reference producers through the
    // wildcard relay (ch_poll without timeout).
    let done = {
        let (report, echoed) = (report.clone(), echoed.clone());
        let seen = parking_lot::Mutex::new((false, Vec::<String>::new()));
        host.wait_for(WAIT, move |_| {
            let mut s = seen.lock();
            while let Some(m) = report.pop() {
                let (n, r, t) = parse_report(std::str::from_utf8(&m).unwrap());
                s.0 |= n > 0 && r > 0 && t > 0;
            }
            while let Some(m) = echoed.pop() {
                s.1.push(String::from_utf8(m.to_vec()).unwrap());
            }
            s.0 && s.1.iter().any(|m| m.starts_with("a:")) && s.1.iter().any(|m| m.starts_with("b:"))
        })
    };
    assert!(done, "the mixed pipeline did not deliver: {:?}", host.status());

    // uuids are 36-character strings
    let hello = lines.of("mixed/producer-a");
    let line = hello.iter().find(|l| l.starts_with("producer a runtime=")).expect("producer printed its uuids");
    let (runtime, module) = uuids_in(line);
    assert_eq!((runtime.len(), module.len()), (36, 36), "{line}");

    // period_start/period_end feed the profile of a reference module
    assert!(host.wait_for(WAIT, |s| s.module("mixed/producer-a").unwrap().activations >= 3));

    // Deleting a module blocked forever in ch_poll stops it cleanly: its thread ends and its
    // wildcard subscription goes away.
    assert_eq!(host.router().local_subscribers("ref/sensor/a"), 1);
    assert!(host.remove(&id("mixed/relay")));
    expect_event(&events, "relay stopped", |e| e.module.0 == "mixed/relay" && e.kind == EventKind::Stopped);
    assert_eq!(host.router().local_subscribers("ref/sensor/a"), 0);
    // ... and a periodic one blocked in period_start too.
    assert!(host.remove(&id("mixed/producer-b")));
    expect_event(&events, "producer stopped", |e| e.module.0 == "mixed/producer-b" && e.kind == EventKind::Stopped);
    assert_eq!(host.status().modules.len(), 4);
}

/// The `runtime=` and `module=` values of a line a reference module printed.
fn uuids_in(line: &str) -> (String, String) {
    let value = |k: &str| line.split(k).nth(1).unwrap_or("").split(' ').next().unwrap_or("").trim().to_string();
    (value("runtime="), value("module="))
}

#[test]
fn modules_of_the_early_header_link_too_and_get_the_same_uuids() {
    // The producer is built against the published header (uuid calls return int), this one
    // against the early one (they return nothing); the Host links each its own way.
    let (host, lines) = host();
    let events = host.events();
    host.deploy_app(&app(&format!(
        r#"
name: early
modules:
  - name: early
    file: {REF_EARLY_UUID_CMD_C}
    trigger: {{ type: command }}
  - name: published
    file: {REF_PRODUCER_CMD_C}
    trigger: {{ type: periodic, periodInNs: 50000000 }}
    wasi: {{ args: ["ref/x", "p"] }}
"#
    )))
    .unwrap();
    expect_event(&events, "the early module ran to its end", |e| e.module.0 == "early/early" && e.kind == EventKind::Completed { exit_code: 0 });
    let early = lines.of("early/early");
    let line = early.iter().find(|l| l.starts_with("early runtime=")).expect("the early module printed its uuids");
    let (runtime, module) = uuids_in(line);
    assert_eq!((runtime.len(), module.len()), (36, 36), "{line}");
    assert!(host.wait_for(WAIT, |s| s.module("early/published").is_some_and(|m| m.activations >= 1)));
    let published = lines.of("early/published");
    let line = published.iter().find(|l| l.starts_with("producer p runtime=")).expect("the producer printed its uuids");
    let (same_runtime, other_module) = uuids_in(line);
    assert_eq!(same_runtime, runtime, "one Host, one runtime uuid");
    assert_ne!(other_module, module, "each module instance has its own uuid");
}
