//! Containment: a module that traps, loops, exhausts memory or overflows its stack is stopped and
//! reported with the reason, while a neighbour keeps activating.

use crate::common::*;
use silverline_host::{EventKind, Failure, Host, ModuleState};
use silverline_test_programs::{GROW_WAT, LOOP_WAT, RECURSE_WAT, TICK_WAT, TRAP_WAT};
use std::time::Instant;

fn neighbour(host: &Host) {
    let extra = "    outputChannels:\n      channels: [{ name: out, endpoint: n/t }]\n";
    host.deploy_app(&periodic("n", "tick", TICK_WAT, 5, extra)).unwrap();
}

fn activations(host: &Host, module: &str) -> u64 {
    host.status().module(module).map_or(0, |m| m.activations)
}

/// Deploy `file` next to a 5 ms neighbour, wait for its failure and return it; assert the
/// neighbour kept activating meanwhile.
fn fails_with(file: &str, period_ms: u64, resources: &str) -> Failure {
    let _shared = HEAVY.read();
    let (host, _) = host();
    neighbour(&host);
    assert!(host.wait_for(WAIT, |s| s.module("n/tick").unwrap().activations >= 3));
    let events = host.events();
    let (start, before) = (Instant::now(), activations(&host, "n/tick"));
    host.deploy_app(&periodic("bad", "m", file, period_ms, resources)).unwrap();
    let event = expect_event(&events, "failed", |e| e.module.0 == "bad/m" && matches!(e.kind, EventKind::Failed { .. }));
    // The neighbour must have kept activating through the failure; wait for a few more anyway.
    assert!(host.wait_for(WAIT, |s| s.module("n/tick").unwrap().activations >= before + 20));
    let (elapsed, ran) = (start.elapsed(), activations(&host, "n/tick") - before);
    let expected = elapsed.as_millis() as u64 / 5;
    assert!(ran * 4 >= expected, "neighbour ran {ran} activations in {elapsed:?} (period 5 ms)");
    assert_eq!(host.status().module("n/tick").unwrap().state, ModuleState::Running);
    match (event.kind, host.status().module("bad/m").unwrap().state.clone()) {
        (EventKind::Failed { failure }, ModuleState::Failed { failure: f2 }) => {
            assert_eq!(failure, f2);
            failure
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn a_trap_is_reported() {
    let failure = fails_with(TRAP_WAT, 5, "");
    assert!(matches!(&failure, Failure::Trap { message } if message.contains("unreachable")), "{failure}");
}

#[test]
fn an_endless_loop_is_interrupted_at_its_deadline() {
    let failure = fails_with(LOOP_WAT, 100, "    resources: { deadlineInNs: 50000000 }\n");
    assert_eq!(failure, Failure::DeadlineExceeded { deadline_ns: 50_000_000 });
}

#[test]
fn an_endless_loop_runs_out_of_fuel() {
    let failure = fails_with(LOOP_WAT, 5, "    resources: { fuel: 1000000 }\n");
    assert_eq!(failure, Failure::FuelExhausted { budget: 1_000_000 });
}

#[test]
fn growing_past_the_memory_limit_is_stopped() {
    let failure = fails_with(GROW_WAT, 5, "    resources: { memoryBytes: 4194304 }\n");
    assert_eq!(failure, Failure::MemoryLimit { limit_bytes: 4 << 20 });
}

#[test]
fn runaway_recursion_overflows_the_stack() {
    assert_eq!(fails_with(RECURSE_WAT, 5, ""), Failure::StackOverflow);
}

#[test]
fn restarts_follow_the_policy_with_doubling_backoff() {
    let (host, _) = host();
    let events = host.events();
    let restart = "    restart: { policy: on-failure, maxRestarts: 2, backoffInNs: 10000000 }\n";
    host.deploy_app(&periodic("r", "trap", TRAP_WAT, 2, restart)).unwrap();
    let mut backoffs = Vec::new();
    loop {
        let e = expect_event(&events, "restart or final failure", |e| e.module.0 == "r/trap");
        match e.kind {
            EventKind::Restarting { attempt, backoff_ns } => backoffs.push((attempt, backoff_ns)),
            EventKind::Failed { .. } if backoffs.len() == 2 => break,
            _ => {}
        }
    }
    assert_eq!(backoffs, vec![(1, 10_000_000), (2, 20_000_000)]);
    assert!(host.wait_for(WAIT, |s| matches!(s.module("r/trap").unwrap().state, ModuleState::Failed { .. })));
    let status = host.status();
    let m = status.module("r/trap").unwrap();
    assert_eq!(m.restarts, 2);
    assert_eq!(m.traps, 3);
}

#[test]
fn a_crash_loop_waits_at_least_four_times_what_each_attempt_held_a_worker() {
    let (host, _) = host();
    let events = host.events();
    // No back-off asked for: the Host still waits 10 ms after a trap, and four deadlines after
    // a loop stopped by its 5 ms deadline.
    let restart = "    restart: { policy: always, maxRestarts: 2, backoffInNs: 0 }\n";
    host.deploy_app(&periodic("crash", "trap", TRAP_WAT, 2, restart)).unwrap();
    let looping = format!("{restart}    resources: {{ deadlineInNs: 5000000 }}\n");
    host.deploy_app(&periodic("crash", "loop", LOOP_WAT, 10, &looping)).unwrap();
    let mut backoffs = std::collections::BTreeMap::<String, Vec<u64>>::new();
    while backoffs.values().map(Vec::len).sum::<usize>() < 4 {
        let e = expect_event(&events, "restarts of both", |e| matches!(e.kind, EventKind::Restarting { .. }));
        if let EventKind::Restarting { backoff_ns, .. } = e.kind {
            backoffs.entry(e.module.0.clone()).or_default().push(backoff_ns);
        }
    }
    assert_eq!(backoffs["crash/trap"], vec![10_000_000, 10_000_000]);
    assert_eq!(backoffs["crash/loop"], vec![20_000_000, 20_000_000]);
}

#[test]
fn only_modules_with_a_fuel_budget_run_metered_code() {
    // The same bytes twice: with a budget the loop is stopped by fuel, without one by its
    // deadline, and a module without a budget counts no fuel at all.
    let _shared = HEAVY.read();
    let (host, _) = host();
    let events = host.events();
    host.deploy_app(&periodic("fuel", "m", LOOP_WAT, 5, "    resources: { fuel: 1000000 }\n")).unwrap();
    host.deploy_app(&periodic("wall", "m", LOOP_WAT, 5, "    resources: { deadlineInNs: 4000000 }\n")).unwrap();
    host.deploy_app(&periodic("free", "tick", TICK_WAT, 5, "    outputChannels:\n      channels: [{ name: out, endpoint: free/t }]\n")).unwrap();
    let mut failures = std::collections::BTreeMap::new();
    while failures.len() < 2 {
        let e = expect_event(&events, "both loops stopped", |e| matches!(e.kind, EventKind::Failed { .. }));
        if let EventKind::Failed { failure } = e.kind {
            failures.insert(e.module.0.clone(), failure);
        }
    }
    assert_eq!(failures["fuel/m"], Failure::FuelExhausted { budget: 1_000_000 });
    assert_eq!(failures["wall/m"], Failure::DeadlineExceeded { deadline_ns: 4_000_000 });
    assert!(host.wait_for(WAIT, |s| s.module("free/tick").is_some_and(|m| m.activations >= 3)));
    let free = host.status().module("free/tick").unwrap().clone();
    assert_eq!((free.fuel_last, free.fuel_total), (0, 0), "unmetered code counts no fuel");
}
