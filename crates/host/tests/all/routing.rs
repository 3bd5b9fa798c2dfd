//! Channel routing: relinking by manifest, inactive outputs, queue overflow.

use crate::common::*;
use silverline_test_programs::{COUNTER_C, FLOOD_WAT, IDLE_WAT, TICK_WAT};

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

#[test]
fn a_module_over_its_publish_budget_is_told_and_counted_and_its_neighbour_is_untouched() {
    let (host, _) = host();
    let flood = observe(&host, "rate/flood", 100_000);
    let refused = observe(&host, "rate/refused", 1_000);
    let calm = observe(&host, "rate/tick", 1_000);
    let manifest = app(&format!(
        r#"
name: rate
modules:
  - name: flood
    file: {FLOOD_WAT}
    trigger: {{ type: periodic, periodInNs: 10000000 }}
    resources: {{ maxPublishPerSecond: 1000 }}
    outputChannels:
      channels: [{{ name: out, endpoint: rate/flood }}, {{ name: refused, endpoint: rate/refused }}]
  - name: tick
    file: {TICK_WAT}
    trigger: {{ type: periodic, periodInNs: 10000000 }}
    outputChannels:
      channels: [{{ name: out, endpoint: rate/tick }}]
"#
    ));
    host.deploy_app(&manifest).unwrap();
    // 200 publishes a step against a burst of 100 and 10 more a step: most are refused.
    assert!(host.wait_for(WAIT, |s| s.module("rate/flood").unwrap().channels.iter().any(|c| c.rate_limited >= 1_000)));
    let status = host.status();
    let out = status.module("rate/flood").unwrap().channels.iter().find(|c| c.name == "out").unwrap().clone();
    assert!(out.dropped >= out.rate_limited, "refusals count as drops: {out:?}");
    // The module was told: its own count of SL_ERATE answers keeps up with the Host's.
    assert!(wait_messages(&host, &refused, 1));
    let told = std::iter::from_fn(|| refused.pop()).map(|m| u64::from_le_bytes(m[..8].try_into().unwrap())).max().unwrap();
    assert!(told >= 500, "the module saw {told} refusals, the Host counted {}", out.rate_limited);
    // Delivered: at most the budget (a burst of 100, then 1,000 a second) since the start.
    let delivered = std::iter::from_fn(|| flood.pop()).count() as u64;
    let ran = status.module("rate/flood").unwrap().activations;
    assert!(delivered <= out.messages && out.messages <= 100 + ran * 10 + 20, "{} published over {ran} steps", out.messages);
    // The neighbour on its own budget publishes every one of its messages.
    let tick = host.status().module("rate/tick").unwrap().channels[0].clone();
    assert_eq!(tick.rate_limited, 0, "{tick:?}");
    assert!(wait_messages(&host, &calm, 5));
}
