//! Channel routing: relinking by manifest, inactive outputs, queue overflow.

use crate::common::*;
use silverline_test_programs::{COUNTER_C, IDLE_WAT, TICK_WAT};

#[test]
fn the_same_binary_is_relinked_by_the_manifest() {
    let (host, _) = host();
    let a = observe(&host, "relink/a", 64);
    let b = observe(&host, "relink/b", 64);
    for (name, endpoint) in [("one", "relink/a"), ("two", "relink/b")] {
        let extra = format!("    outputChannels:\n      channels: [{{ name: out, endpoint: {endpoint} }}]\n");
        host.deploy_app(&periodic(name, "counter", COUNTER_C, 5, &extra)).unwrap();
    }
    assert!(wait_messages(&host, &a, 3));
    assert!(wait_messages(&host, &b, 3));
    let status = host.status();
    assert_eq!(status.module("one/counter").unwrap().sha256, status.module("two/counter").unwrap().sha256);
    assert_eq!(status.module("one/counter").unwrap().channels[0].endpoint, "relink/a");
}

#[test]
fn inactive_output_drops_and_counts_until_activated() {
    let (host, _) = host();
    let q = observe(&host, "inactive/t", 64);
    let extra = "    outputChannels:\n      active: false\n      channels: [{ name: out, endpoint: inactive/t }]\n";
    host.deploy_app(&periodic("inactive", "tick", TICK_WAT, 2, extra)).unwrap();
    assert!(host.wait_for(WAIT, |s| s.module("inactive/tick").unwrap().messages_dropped >= 5));
    assert!(q.is_empty(), "an inactive channel must not deliver");
    let was = host.set_channel_active(&id("inactive/tick"), "out", true).unwrap();
    assert!(!was);
    assert!(wait_messages(&host, &q, 3));
    let status = host.status();
    let out = &status.module("inactive/tick").unwrap().channels[0];
    assert!(out.active);
    assert!(out.messages >= 3);
    assert!(host.set_channel_active(&id("inactive/tick"), "nope", true).is_err());
}

#[test]
fn a_full_queue_drops_the_oldest_and_counts() {
    let (host, _) = host();
    let manifest = app(&format!(
        r#"
name: overflow
modules:
  - name: tick
    file: {TICK_WAT}
    trigger: {{ type: periodic, periodInNs: 1000000 }}
    outputChannels:
      channels: [{{ name: out, endpoint: overflow/t }}]
  - name: slow
    file: {IDLE_WAT}
    trigger: {{ type: periodic, periodInNs: 10000000000 }}
    inputChannels:
      channels: [{{ name: in, endpoint: overflow/t, queueDepth: 2 }}]
"#
    ));
    host.deploy_app(&manifest).unwrap();
    assert!(host.wait_for(WAIT, |s| s.module("overflow/slow").unwrap().messages_dropped >= 10));
    let status = host.status();
    let input = &status.module("overflow/slow").unwrap().channels[0];
    assert_eq!(input.queued, 2, "the queue holds at most queueDepth messages");
    assert!(input.messages - input.dropped <= 2 + 1);
}
