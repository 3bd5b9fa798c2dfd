//! Real-time tasks on fixed-priority Hosts: response-time analysis per core decides, on top of
//! the utilization bound that EDF Hosts use alone.

use silverline_placement::{Backtracking, HostCapacity, ModuleDemand, Placer, Rejection, RtTask, Scheduler};

fn task(name: &str, period_ms: u64, budget_ms: u64, deadline_ms: u64) -> RtTask {
    RtTask { name: name.into(), period_ns: period_ms * 1_000_000, budget_ns: budget_ms * 1_000_000, deadline_ns: deadline_ms * 1_000_000 }
}

fn demand(module: &str, t: RtTask) -> ModuleDemand {
    ModuleDemand { utilization: t.utilization(), realtime: Some(t), ..ModuleDemand::new("ctl", module) }
}

fn one_core(scheduler: Scheduler, running: Vec<RtTask>) -> HostCapacity {
    let mut h = HostCapacity::new("ecu", 1 << 30, 1);
    h.scheduler = scheduler;
    h.used_utilization = running.iter().map(RtTask::utilization).sum();
    h.realtime = running;
    h
}

#[test]
fn fixed_priority_refuses_what_edf_accepts_and_names_the_victim() {
    // U = 0.5 + 0.45 = 0.95: the EDF bound holds. Under fixed priorities the running 20 ms task
    // (deadline 14 ms) is preempted twice by the newcomer: R = 9 + 2·5 = 19 > 14.
    let running = vec![task("ctl/slow", 20, 9, 14)];
    let new = demand("fast", task("ctl/fast", 10, 5, 10));
    assert!(Backtracking::new().place(&[one_core(Scheduler::Edf, running.clone())], &[new.clone()]).is_ok());
    let err = Backtracking::new().place(&[one_core(Scheduler::FixedPriority, running)], &[new]).unwrap_err();
    let (_, why) = &err.unplaced[0].reasons[0];
    assert_eq!(why, &Rejection::ResponseTime { task: "ctl/slow".into(), response_ns: 19_000_000, deadline_ns: 14_000_000 });
    assert!(err.to_string().contains("response time (ctl/slow would respond in 19.000 ms or more, deadline 14.000 ms, on every core)"), "{err}");
}

#[test]
fn a_longer_period_is_accepted() {
    let running = vec![task("ctl/slow", 20, 9, 14)];
    let new = demand("fast", task("ctl/fast", 20, 5, 20));
    assert!(Backtracking::new().place(&[one_core(Scheduler::FixedPriority, running)], &[new]).is_ok(), "R(slow) = 9 + 5 = 14 ≤ 14");
}

#[test]
fn a_second_core_takes_what_the_first_cannot() {
    let mut two = one_core(Scheduler::FixedPriority, vec![task("ctl/slow", 20, 9, 14)]);
    two.cores = 2;
    let news = vec![demand("fast", task("ctl/fast", 10, 5, 10)), demand("mid", task("ctl/mid", 10, 4, 10))];
    assert!(Backtracking::new().place(&[two], &news).is_ok());
}
