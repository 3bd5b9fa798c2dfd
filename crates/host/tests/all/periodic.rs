//! Periodic triggers: the schedule does not drift and activations never run early.

use crate::common::*;
use silverline_test_programs::{IDLE_WAT, TICK_WAT};

#[test]
fn schedule_is_start_plus_k_periods() {
    let (host, _) = host();
    let period_ns = 2_000_000u64;
    let manifest = periodic("drift", "tick", TICK_WAT, 2, "    outputChannels:\n      channels: [{ name: out, endpoint: drift/t }]\n");
    host.deploy_app(&manifest).unwrap();
    let tick = id("drift/tick");
    assert!(host.wait_for(WAIT, |s| s.module("drift/tick").unwrap().activations >= 200));
    let log = host.activation_log(&tick);
    assert!(log.len() >= 200);
    let first = log[0];
    for r in &log {
        // The Host computed activation k's time from k, never from the previous activation.
        let periods = (r.index - first.index) as u64;
        assert_eq!(r.scheduled_ns - first.scheduled_ns, periods * period_ns, "activation {} drifted", r.index);
        assert!(r.started_ns >= r.scheduled_ns, "activation {} started early", r.index);
    }
    // Indices strictly increase: an overrun skips an index, it never reuses one.
    assert!(log.windows(2).all(|w| w[1].index > w[0].index));
}

#[test]
fn activation_index_counts_periods_since_the_unix_epoch() {
    let (host, _) = host();
    let manifest = periodic("epoch", "tick", TICK_WAT, 10, "    outputChannels:\n      channels: [{ name: out, endpoint: epoch/t }]\n");
    let q = observe(&host, "epoch/t", 64);
    host.deploy_app(&manifest).unwrap();
    assert!(wait_messages(&host, &q, 3));
    let k = u64::from_le_bytes(q.pop().unwrap()[..8].try_into().unwrap());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let now_k = (now.as_nanos() / 10_000_000) as u64;
    assert!(k <= now_k && now_k - k < 1000, "index {k} is not a period count since the epoch (now {now_k})");
    // The guest sees the same index the Host logged.
    let logged: Vec<i64> = host.activation_log(&id("epoch/tick")).iter().map(|r| r.index).collect();
    assert!(logged.contains(&(k as i64)));
}

#[test]
fn many_modules_share_the_worker_pool() {
    let (host, _) = host();
    for i in 0..50 {
        host.deploy_app(&periodic(&format!("many{i}"), "idle", IDLE_WAT, 5, "")).unwrap();
    }
    assert!(host.wait_for(WAIT, |s| s.modules.len() == 50 && s.modules.iter().all(|m| m.activations >= 10)));
    let status = host.status();
    assert_eq!(status.cached_modules, 1, "one compiled module serves all 50 instances");
}
