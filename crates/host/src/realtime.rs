//! Real-time scheduling for real-time modules: each runs on a thread of its own under
//! SCHED_DEADLINE (runtime = budget, deadline, period from the manifest), else SCHED_FIFO with a
//! deadline-monotonic priority, pinned to a core by the same partitioning the Orchestrator's
//! admission analysed ([`silverline_placement::rta::partition`]), else — where the kernel or the
//! permissions refuse both — a normal thread, and the Host says so. Never silently: the policy a
//! module actually got is part of its status. `RealtimePolicy` lets an operator choose fixed
//! priorities (or none) where SCHED_DEADLINE would be granted.
//!
//! This is the only place that calls into the kernel's scheduler; it is Linux-specific and
//! degrades to "not available" elsewhere.

use silverline_proto::status::{BudgetSource, ReservationStatus};
use std::time::Duration;

/// Which real-time policy the Host offers real-time modules.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RealtimePolicy {
    /// SCHED_DEADLINE where the kernel grants it, else SCHED_FIFO (the default).
    #[default]
    Auto,
    /// SCHED_FIFO only: fixed priorities, real-time modules partitioned onto cores.
    Fifo,
    /// None: real-time modules run as best effort (reported as a fallback).
    Off,
}

impl std::str::FromStr for RealtimePolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(RealtimePolicy::Auto),
            "fifo" => Ok(RealtimePolicy::Fifo),
            "off" => Ok(RealtimePolicy::Off),
            other => Err(format!("`{other}`: expected auto, fifo or off")),
        }
    }
}

/// What a real-time thread asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Reservation {
    pub(crate) runtime: Duration,
    pub(crate) deadline: Duration,
    pub(crate) period: Duration,
    /// The module's own share of `runtime` and where it came from.
    pub(crate) budget: Duration,
    pub(crate) source: BudgetSource,
}

impl Reservation {
    /// From a module's period, its declared budget, else a `measured` one, else the default (a
    /// tenth of the period, at most 1 ms), and its deadline. The runtime adds the Host's
    /// per-activation overhead and a wake-up margin to the budget
    /// ([`silverline_placement::rta::reserved_runtime`], what admission charges too).
    pub(crate) fn of(period: Duration, declared: Option<Duration>, measured: Option<Duration>, deadline: Option<Duration>) -> Self {
        let deadline = deadline.unwrap_or(period).min(period);
        let (budget, source) = match (declared, measured) {
            (Some(b), _) => (b, BudgetSource::Declared),
            (None, Some(b)) => (b, BudgetSource::Measured),
            (None, None) => (silverline_placement::rta::default_budget(period), BudgetSource::Default),
        };
        let runtime = silverline_placement::rta::reserved_runtime(budget, deadline).max(Duration::from_micros(10));
        Reservation { runtime, deadline, period, budget: budget.min(runtime), source }
    }

    /// The same with `early` more runtime: the thread wakes that long before each activation
    /// and waits on the CPU.
    pub(crate) fn waking_early(mut self, early: Duration) -> Self {
        self.runtime = (self.runtime + early).min(self.deadline);
        self
    }

    /// As reported in the module's status.
    pub(crate) fn status(&self) -> ReservationStatus {
        ReservationStatus {
            runtime_ns: self.runtime.as_nanos() as u64,
            deadline_ns: self.deadline.as_nanos() as u64,
            period_ns: self.period.as_nanos() as u64,
            budget_ns: self.budget.as_nanos() as u64,
            sized_from: self.source,
        }
    }

    /// A first SCHED_FIFO priority, deadline monotonic: 1 ms → 89, 10 ms → 86, 100 ms → 82.
    /// The Host then replaces it by the task's rank among its real-time modules
    /// ([`fifo_priority_of_rank`]), so that no two share a priority.
    fn fifo_priority(&self) -> i32 {
        let us = self.deadline.as_micros().max(1) as f64;
        (99.0 - us.log2()).round().clamp(50.0, 89.0) as i32
    }

    /// The task response-time analysis sees.
    pub(crate) fn task(&self, name: &str) -> silverline_placement::RtTask {
        silverline_placement::RtTask {
            name: name.to_string(),
            period_ns: self.period.as_nanos() as u64,
            budget_ns: self.runtime.as_nanos() as u64,
            deadline_ns: self.deadline.as_nanos() as u64,
        }
    }
}

/// SCHED_FIFO priority of the task ranked `rank` (0 = highest) in deadline-monotonic order:
/// 89 downwards, never below 50 (the lower half is left to the system).
pub(crate) fn fifo_priority_of_rank(rank: usize) -> i32 {
    89 - (rank.min(39) as i32)
}

/// Give the calling thread the best policy `policy` allows for `r`; returns what it got, or why
/// it got nothing (both tries' errors).
pub(crate) fn apply(r: &Reservation, policy: RealtimePolicy) -> Result<String, String> {
    let deadline_err = match policy {
        RealtimePolicy::Off => return Err("real-time policies turned off (--realtime-policy off)".into()),
        RealtimePolicy::Fifo => "not asked for (--realtime-policy fifo)".to_string(),
        RealtimePolicy::Auto => match set_deadline(r) {
            Ok(()) => return Ok(describe_deadline(r)),
            Err(e) => e,
        },
    };
    let prio = r.fifo_priority();
    match set_fifo(prio) {
        Ok(()) => Ok(format!("SCHED_FIFO priority {prio} (SCHED_DEADLINE refused: {deadline_err})")),
        Err(fifo_err) => Err(format!("SCHED_DEADLINE refused: {deadline_err}; SCHED_FIFO refused: {fifo_err}")),
    }
}

/// Replace the calling SCHED_DEADLINE thread's reservation by `r` (the kernel re-runs its
/// admission test and may refuse).
pub(crate) fn resize(r: &Reservation) -> Result<(), String> {
    set_deadline(r)
}

/// CPU time the calling thread has used, as the scheduler accounts it.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub(crate) fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec into the valid, exclusively borrowed `ts`.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn thread_cpu_time() -> Duration {
    Duration::ZERO
}

/// A granted SCHED_DEADLINE reservation, as the module's `scheduling` says it.
pub(crate) fn describe_deadline(r: &Reservation) -> String {
    format!("SCHED_DEADLINE runtime={:?} deadline={:?} period={:?}", r.runtime, r.deadline, r.period)
}

/// Which real-time policy this process may use, tried on a throw-away thread at start-up.
pub(crate) fn probe(policy: RealtimePolicy) -> String {
    let r = Reservation::of(Duration::from_millis(10), Some(Duration::from_micros(100)), None, None);
    std::thread::spawn(move || match apply(&r, policy) {
        Ok(got) => got.split(' ').next().unwrap_or_default().to_string(), // the policy's name
        Err(why) => format!("none: {why}"),
    })
    .join()
    .unwrap_or_else(|_| "none: probe failed".into())
}

#[cfg(target_os = "linux")]
mod sys {
    /// `struct sched_attr` of sched_setattr(2); libc has the syscall number but not the struct.
    #[repr(C)]
    pub(super) struct SchedAttr {
        pub size: u32,
        pub policy: u32,
        pub flags: u64,
        pub nice: i32,
        pub priority: u32,
        pub runtime: u64,
        pub deadline: u64,
        pub period: u64,
    }
    pub(super) const SCHED_DEADLINE: u32 = 6;
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn set_deadline(r: &Reservation) -> Result<(), String> {
    let attr = sys::SchedAttr {
        size: std::mem::size_of::<sys::SchedAttr>() as u32,
        policy: sys::SCHED_DEADLINE,
        flags: 0,
        nice: 0,
        priority: 0,
        runtime: r.runtime.as_nanos() as u64,
        deadline: r.deadline.as_nanos() as u64,
        period: r.period.as_nanos() as u64,
    };
    // SAFETY: sched_setattr reads `size` bytes from a valid, initialised struct that outlives the
    // call; pid 0 is the calling thread.
    let rc = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const sys::SchedAttr, 0) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error().to_string())
    }
}

/// `SCHED_FIFO` at `priority` for the calling thread (one implementation for the whole Host).
fn set_fifo(priority: i32) -> Result<(), String> {
    silverline_channels::priority::raise_this_thread(priority)
}

/// Move the calling SCHED_FIFO thread to `priority` and pin it to `core` (`None`: any core).
pub(crate) fn set_slot(priority: i32, core: Option<u32>) -> Result<(), String> {
    set_fifo(priority)?;
    pin(core)
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn pin(core: Option<u32>) -> Result<(), String> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes inside it for indices
    // below CPU_SETSIZE (checked); sched_setaffinity reads it for the calling thread (pid 0).
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for c in (0..cores).filter(|c| core.is_none_or(|want| want as usize == *c)).filter(|c| *c < libc::CPU_SETSIZE as usize) {
            libc::CPU_SET(c, &mut set);
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error().to_string())
    }
}

#[cfg(not(target_os = "linux"))]
fn pin(_: Option<u32>) -> Result<(), String> {
    Err("not Linux".into())
}

#[cfg(not(target_os = "linux"))]
fn set_deadline(_: &Reservation) -> Result<(), String> {
    Err("not Linux".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_follow_the_manifest() {
        let ms = Duration::from_millis;
        let overhead = silverline_placement::rta::host_share();
        let r = Reservation::of(ms(10), Some(ms(2)), Some(ms(3)), Some(ms(5)));
        assert_eq!((r.runtime, r.deadline, r.period), (ms(2) + overhead, ms(5), ms(10)));
        assert_eq!((r.budget, r.source), (ms(2), BudgetSource::Declared), "declared beats measured");
        let r = Reservation::of(ms(100), None, None, None);
        assert_eq!((r.budget, r.runtime, r.source), (ms(1), ms(1) + overhead, BudgetSource::Default));
        let m = Reservation::of(ms(100), None, Some(Duration::from_micros(40)), None);
        assert_eq!((m.runtime, m.source), (Duration::from_micros(40) + overhead, BudgetSource::Measured));
        assert_eq!(Reservation::of(ms(1), Some(ms(5)), None, None).runtime, ms(1), "never more than the deadline");
        assert!(Reservation::of(ms(1), None, None, None).fifo_priority() > r.fifo_priority(), "deadline monotonic");
        assert!(Reservation::of(ms(100), None, None, Some(ms(1))).fifo_priority() > r.fifo_priority(), "deadline, not period");
        assert_eq!((fifo_priority_of_rank(0), fifo_priority_of_rank(1), fifo_priority_of_rank(100)), (89, 88, 50));
    }
}
