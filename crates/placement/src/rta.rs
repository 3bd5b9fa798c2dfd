//! Response-time analysis for fixed-priority preemptive scheduling, and partitioning real-time
//! tasks onto cores (one fixed-priority scheduler per core, no migration).
//!
//! A Host whose kernel gives real-time modules `SCHED_FIFO` but not `SCHED_DEADLINE` schedules
//! them by fixed priority, each pinned to one core. The Orchestrator (admission) and the Host
//! (pinning) call the same [`partition`], so the cores the analysis assumed are the cores the
//! threads get.
//!
//! Priorities are deadline monotonic (shorter deadline first; optimal among fixed priorities
//! when deadlines do not exceed periods), ties broken by period, then name, so the order is
//! total and every caller agrees on it. The response time of a task on its core is the least
//! fixed point of `R = C + Σ_{j ∈ hp} ⌈R / T_j⌉ · C_j` (Joseph & Pandya); the task set is
//! schedulable when every `R ≤ D`.

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::time::Duration;

/// What a Host reserves, and admission assumes, for a real-time module that declares no
/// budget (and has no measured one): a tenth of its period, at most 1 ms, at least 10 µs.
pub fn default_budget(period: Duration) -> Duration {
    (period / 10).min(Duration::from_millis(1)).max(Duration::from_micros(10))
}

/// CPU time a Host's real-time thread uses per activation beyond the module's own execution:
/// the wake-up, taking the inputs, publishing the outputs, recording the profile and going back
/// to sleep (measured: docs/timing.md, "Reservations").
pub const ACTIVATION_OVERHEAD: Duration = Duration::from_micros(25);

/// Slack for activations that run cold: after an idle period the module's code and data are out
/// of the caches and TLBs and the same work takes longer (measured: docs/timing.md).
pub const WAKEUP_MARGIN: Duration = Duration::from_micros(25);

/// The runtime a Host reserves per period for a real-time module whose own execution needs
/// `budget`, and the CPU time admission charges for it: the budget plus the Host's
/// per-activation overhead and a wake-up margin, never more than the deadline. A reservation of
/// the bare budget is throttled by the kernel whenever the Host's own share pushes a period's
/// CPU time past it, and the activation then starts up to a period late.
pub fn reserved_runtime(budget: Duration, deadline: Duration) -> Duration {
    (budget + host_share()).min(deadline)
}

/// What a real-time reservation holds beyond the module's budget: the Host's per-activation
/// overhead and the wake-up margin.
pub fn host_share() -> Duration {
    ACTIVATION_OVERHEAD + WAKEUP_MARGIN
}

/// Deadline, and assumed minimum inter-arrival time, of a real-time event-triggered module
/// that declares no deadline: such a module is analysed as a sporadic task with T = D.
pub const SPORADIC_DEADLINE: Duration = Duration::from_millis(10);

/// A periodic real-time task: a module with a period, a budget (declared, or measured) and a
/// relative deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RtTask {
    /// `app/module`, for messages and as the final tie-break.
    pub name: String,
    /// Period T, in nanoseconds.
    pub period_ns: u64,
    /// Worst-case execution time C per activation, in nanoseconds.
    pub budget_ns: u64,
    /// Relative deadline D ≤ T, in nanoseconds.
    pub deadline_ns: u64,
}

impl RtTask {
    /// C / T.
    pub fn utilization(&self) -> f64 {
        self.budget_ns as f64 / self.period_ns.max(1) as f64
    }
}

/// Deadline-monotonic priority order: `Less` means `a` has the higher priority.
pub fn priority(a: &RtTask, b: &RtTask) -> Ordering {
    (a.deadline_ns, a.period_ns, &a.name).cmp(&(b.deadline_ns, b.period_ns, &b.name))
}

/// A task that would miss its deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Miss {
    /// The task that misses (`app/module`).
    pub task: String,
    /// Its response time, or where the iteration first passed the deadline (a lower bound).
    pub response_ns: u64,
    /// Its deadline.
    pub deadline_ns: u64,
}

/// Worst-case response time of `task` preempted by `higher`: `Ok(R)` with `R ≤ D`, or
/// `Err(r)` with the first iterate `r > D`.
pub fn response_time(task: &RtTask, higher: &[&RtTask]) -> Result<u64, u64> {
    let mut r = task.budget_ns;
    loop {
        let interference: u64 = higher
            .iter()
            .map(|h| r.div_ceil(h.period_ns.max(1)).saturating_mul(h.budget_ns))
            .fold(0, u64::saturating_add);
        let next = task.budget_ns.saturating_add(interference);
        if next > task.deadline_ns {
            return Err(next);
        }
        if next == r {
            return Ok(r);
        }
        r = next;
    }
}

/// Response times of one core's tasks, in priority order, or the first task that misses.
pub fn check_core(tasks: &[&RtTask]) -> Result<Vec<(String, u64)>, Miss> {
    let mut sorted: Vec<&RtTask> = tasks.to_vec();
    sorted.sort_by(|a, b| priority(a, b));
    let mut out = Vec::with_capacity(sorted.len());
    for (i, t) in sorted.iter().enumerate() {
        match response_time(t, &sorted[..i]) {
            Ok(r) => out.push((t.name.clone(), r)),
            Err(r) => return Err(Miss { task: t.name.clone(), response_ns: r, deadline_ns: t.deadline_ns }),
        }
    }
    Ok(out)
}

/// Assigns each task a core in `0..cores`: first fit, tasks by decreasing utilization (ties in
/// priority order), each to the first core that stays schedulable. Returns the core of each
/// task in input order, or the miss that made the first unplaceable task fit nowhere (on the
/// core where it came closest).
pub fn partition(cores: u32, tasks: &[RtTask]) -> Result<Vec<u32>, Miss> {
    let mut order: Vec<usize> = (0..tasks.len()).collect();
    order.sort_by(|&a, &b| {
        tasks[b].utilization().total_cmp(&tasks[a].utilization()).then_with(|| priority(&tasks[a], &tasks[b]))
    });
    let mut on_core: Vec<Vec<&RtTask>> = vec![Vec::new(); cores.max(1) as usize];
    let mut core_of = vec![0u32; tasks.len()];
    for i in order {
        let mut closest: Option<Miss> = None;
        let mut placed = false;
        for (c, core) in on_core.iter_mut().enumerate() {
            core.push(&tasks[i]);
            match check_core(core) {
                Ok(_) => {
                    core_of[i] = c as u32;
                    placed = true;
                    break;
                }
                Err(miss) => {
                    core.pop();
                    let over = |m: &Miss| m.response_ns.saturating_sub(m.deadline_ns);
                    if closest.as_ref().is_none_or(|best| over(&miss) < over(best)) {
                        closest = Some(miss);
                    }
                }
            }
        }
        if !placed {
            return Err(closest.expect("at least one core"));
        }
    }
    Ok(core_of)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, period_ms: u64, budget_ms: u64, deadline_ms: u64) -> RtTask {
        RtTask { name: name.into(), period_ns: period_ms * 1_000_000, budget_ns: budget_ms * 1_000_000, deadline_ns: deadline_ms * 1_000_000 }
    }

    /// The textbook example (Burns & Wellings): C/T = 3/7, 3/12, 5/20 — R = 3, 6, 20.
    #[test]
    fn response_times_match_the_textbook() {
        let (a, b, c) = (t("a", 7, 3, 7), t("b", 12, 3, 12), t("c", 20, 5, 20));
        let r = check_core(&[&c, &a, &b]).unwrap();
        assert_eq!(r, vec![("a".into(), 3_000_000), ("b".into(), 6_000_000), ("c".into(), 20_000_000)]);
        // One more millisecond for c and it misses: its iteration passes the deadline.
        let c2 = t("c", 20, 6, 20);
        let miss = check_core(&[&a, &b, &c2]).unwrap_err();
        assert_eq!(miss.task, "c");
        assert!(miss.response_ns > miss.deadline_ns);
    }

    #[test]
    fn deadline_monotonic_order_is_total() {
        let (a, b) = (t("a", 10, 1, 5), t("b", 5, 1, 5));
        assert_eq!(priority(&b, &a), Ordering::Less, "same deadline: shorter period first");
        assert_eq!(priority(&t("x", 5, 1, 5), &t("y", 5, 1, 5)), Ordering::Less, "then the name");
    }

    #[test]
    fn partitioning_spreads_what_one_core_cannot_hold() {
        // Three tasks of 0.6 each: one per core on three cores, impossible on two.
        let tasks: Vec<RtTask> = (0..3).map(|i| t(&format!("m{i}"), 10, 6, 10)).collect();
        let cores = partition(3, &tasks).unwrap();
        let mut sorted = cores.clone();
        sorted.sort();
        assert_eq!(sorted, vec![0, 1, 2]);
        let miss = partition(2, &tasks).unwrap_err();
        assert_eq!(miss.deadline_ns, 10_000_000);
        assert_eq!(miss.response_ns, 12_000_000, "two 6 ms tasks on a core: the second ends at 12 ms");
    }

    #[test]
    fn utilization_below_one_can_still_miss_under_fixed_priorities() {
        // U = 0.5 + 0.45 = 0.95 ≤ 1, and EDF would accept both; under fixed priorities the
        // 9 ms task is preempted twice by the 5 ms one: R = 9 + 2·5 = 19, fine for a 20 ms
        // deadline, a miss for a 14 ms one.
        let tasks = vec![t("fast", 10, 5, 10), t("slow", 20, 9, 20)];
        assert!(partition(1, &tasks).is_ok(), "R(slow) = 9 + 2·5 = 19 ≤ 20");
        let tight = vec![t("fast", 10, 5, 10), t("slow", 20, 9, 14)];
        let miss = partition(1, &tight).unwrap_err();
        assert_eq!(miss.task, "slow");
        assert_eq!(partition(2, &tight).unwrap().len(), 2, "two cores hold both");
    }
}
