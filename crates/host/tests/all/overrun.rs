//! The manifest's `onOverrun` policy. One worker and a 30 ms hog on it make a 10 ms
//! victim with a 5 ms deadline start late — a deadline miss whatever the machine's speed (a
//! slower machine only misses more) — and each policy must do what it says.

use crate::common::*;
use silverline_host::{EventKind, Failure, Host, HostConfig, HostEvent, ModuleState, SkipReason};
use silverline_proto::ModuleId;
use silverline_test_programs::{BUSY_WAT, TICK_WAT};

/// A one-worker Host running the hog and the victim with `policy`; its event stream.
fn overloaded(policy: &str) -> (Host, crossbeam_channel::Receiver<HostEvent>) {
    let (host, _) = host_with(HostConfig::new().workers(1).clone());
    let events = host.events();
    host.deploy_app(&periodic("hog", "busy", BUSY_WAT, 40, "")).unwrap();
    let victim = format!(
        "    resources: {{ deadlineInNs: 5000000, onOverrun: {policy} }}\n    outputChannels:\n      channels: [{{ name: out, endpoint: v/t }}]\n"
    );
    host.deploy_app(&periodic("v", "victim", TICK_WAT, 10, &victim)).unwrap();
    (host, events)
}

fn is_victim(e: &HostEvent) -> bool {
    e.module.0 == "v/victim"
}

fn first_miss(events: &crossbeam_channel::Receiver<HostEvent>) -> i64 {
    let e = expect_event(events, "deadline-miss", |e| is_victim(e) && matches!(e.kind, EventKind::DeadlineMiss { .. }));
    let EventKind::DeadlineMiss { activation, .. } = e.kind else { unreachable!() };
    activation
}

#[test]
fn skip_next_skips_the_activation_after_a_miss() {
    let _heavy = HEAVY.read();
    let (host, events) = overloaded("skip-next");
    let missed = first_miss(&events);
    // (A very slow machine may also skip activations because the victim fell behind: not these.)
    let e = expect_event(&events, "skipped (skip-next)", |e| is_victim(e) && matches!(&e.kind, EventKind::Skipped { reason: SkipReason::SkipNext, .. }));
    let EventKind::Skipped { activation, count, .. } = e.kind else { unreachable!() };
    assert_eq!(count, 1);
    assert!(activation > missed, "skipped {activation} after the miss of {missed}");
    assert_eq!(host.status().module("v/victim").unwrap().state, ModuleState::Running);
    let victim = host.status().module("v/victim").unwrap().clone();
    assert!(victim.overruns >= 1 && victim.skipped.skip_next >= 1, "skips are counted by reason: {:?}", victim.skipped);
    assert_eq!(victim.overruns, victim.skipped.behind + victim.skipped.skip_next + victim.skipped.degrade);
}

#[test]
fn degrade_halves_the_rate_and_recovers_when_the_hog_goes() {
    let _heavy = HEAVY.read();
    let (host, events) = overloaded("degrade");
    let e = expect_event(&events, "degraded", |e| is_victim(e) && matches!(e.kind, EventKind::Degraded { .. }));
    let EventKind::Degraded { activation: from } = e.kind else { unreachable!() };
    let e = expect_event(&events, "skipped (degrade)", |e| is_victim(e) && matches!(&e.kind, EventKind::Skipped { reason: SkipReason::Degrade, .. }));
    let EventKind::Skipped { activation, .. } = e.kind else { unreachable!() };
    assert!(activation > from && activation % 2 == 1, "degraded modules skip the odd activations: {activation}");
    assert!(host.remove(&ModuleId("hog/busy".into())));
    let e = expect_event(&events, "recovered", |e| is_victim(e) && matches!(e.kind, EventKind::Recovered { .. }));
    let EventKind::Recovered { activation: back } = e.kind else { unreachable!() };
    assert!(back > activation);
    assert_eq!(host.status().module("v/victim").unwrap().state, ModuleState::Running);
}

#[test]
fn stop_stops_the_module_and_says_why() {
    let _heavy = HEAVY.read();
    let (host, events) = overloaded("stop");
    let missed = first_miss(&events);
    let e = expect_event(&events, "failed", |e| is_victim(e) && matches!(e.kind, EventKind::Failed { .. }));
    let EventKind::Failed { failure: Failure::DeadlineMissed { activation, late_ns } } = e.kind else { panic!("{:?}", e.kind) };
    assert_eq!(activation, missed);
    assert!(late_ns > 0);
    assert!(matches!(host.status().module("v/victim").unwrap().state, ModuleState::Failed { .. }));
    assert_eq!(host.status().module("hog/busy").unwrap().state, ModuleState::Running, "the neighbour is untouched");
}
