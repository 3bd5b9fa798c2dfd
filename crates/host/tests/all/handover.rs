//! Output activity switched at an agreed activation index: the basis of zero-downtime update.

use crate::common::*;
use silverline_test_programs::{TICK_WAT, IDLE_WAT};

fn index_of(msg: &[u8]) -> u64 {
    u64::from_le_bytes(msg[..8].try_into().unwrap())
}

#[test]
fn two_versions_hand_over_on_an_index_without_gap_or_duplicate() {
    let (host, _) = host();
    let seen = observe(&host, "ho/t", 4096);
    let old = "    outputChannels:\n      channels: [{ name: out, endpoint: ho/t }]\n";
    let new = "    outputChannels:\n      active: false\n      channels: [{ name: out, endpoint: ho/t }]\n";
    host.deploy_app(&periodic("old", "tick", TICK_WAT, 5, old)).unwrap();
    host.deploy_app(&periodic("new", "tick", TICK_WAT, 5, new)).unwrap();
    assert!(wait_messages(&host, &seen, 3));
    let now = index_of(&seen.pop().unwrap()) as i64;
    let k = now + 20;
    host.set_channel_active_from(&id("old/tick"), "out", false, k).unwrap();
    host.set_channel_active_from(&id("new/tick"), "out", true, k).unwrap();
    let s2 = seen.clone();
    assert!(host.wait_for(WAIT, move |_| s2.len() >= 40));
    let got: Vec<u64> = std::iter::from_fn(|| seen.pop()).map(|m| index_of(&m)).collect();
    assert!(got.windows(2).all(|w| w[1] == w[0] + 1), "one message per period across the handover: {got:?}");
    assert!(*got.last().unwrap() as i64 >= k + 10);
    let status = host.status();
    assert!(!status.module("old/tick").unwrap().channels[0].active);
    assert!(status.module("new/tick").unwrap().channels[0].active);

    // Too late is refused, and so is a module that is not periodic... or has no such channel.
    let err = host.set_channel_active_from(&id("new/tick"), "out", false, k).unwrap_err();
    assert!(format!("{err}").contains("too late"), "{err}");
    assert!(host.set_channel_active_from(&id("new/tick"), "nope", false, k + 1000).is_err());
    host.deploy_app(&periodic("idle", "m", IDLE_WAT, 5, "")).unwrap();
    assert!(host.set_channel_active_from(&id("idle/m"), "out", false, k + 1000).is_err());
}
