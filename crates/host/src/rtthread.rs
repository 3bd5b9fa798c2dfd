//! A real-time module's own thread: the scheduling it got (policy, SCHED_DEADLINE reservation,
//! SCHED_FIFO slot), the loops it runs — periodic (sleep until each activation's absolute time)
//! or sporadic (woken by its messages) — and what it costs: CPU time per period, and whether the
//! kernel throttled it for using up its runtime.
//!
//! It must not choose the policy a Host offers (realtime.rs), run activations itself (the Host's
//! `activate_and_report` does, with the same containment as on the worker pool), or decide the
//! partitioning (the Host's `repartition`, with admission's algorithm).

use crate::host::Shared;
use crate::module::{ModuleRuntime, PeriodicClock};
use crate::realtime::Reservation;
use crate::stats::Stats;
use parking_lot::Mutex;
use silverline_proto::status::{EventKind, ModuleState, SkipReason};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// Activations measured before a reservation sized by default is resized to what the module
/// measurably needs, and between later re-sizings.
const MEASURE_AFTER: u64 = 64;
const RESIZE_EVERY: u64 = 4096;

/// A real-time module's place under fixed priorities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RtSlot {
    pub(crate) priority: i32,
    /// `None` when the partitioning failed (the thread then runs on any core).
    pub(crate) core: Option<u32>,
}

/// The real-time state of one module.
#[derive(Default)]
pub(crate) struct RtThread {
    /// The scheduling this module got (see `ModuleStatus::scheduling`).
    pub(crate) scheduling: Mutex<String>,
    /// Under SCHED_FIFO: the priority and core the Host's partitioning gave this module, and a
    /// generation so its thread notices a change without locking every period.
    slot: Mutex<Option<RtSlot>>,
    slot_gen: AtomicU64,
    /// A sporadic module's thread: kicked when a message (or a wake-up) arrives; dropped to end
    /// the thread.
    kick: Mutex<Option<crossbeam_channel::Sender<()>>>,
    /// The SCHED_DEADLINE reservation the kernel granted, if it did.
    granted: Mutex<Option<Reservation>>,
    throttled: AtomicU64,
    cpu: Mutex<Stats>,
    /// The thread's share of the Host's wake-up latency request, tagged with the thread that
    /// took it: released when the thread ends, the module is removed or the Host goes —
    /// whichever comes first, so the request never outlives the module by a sleeping period.
    hold: Mutex<Option<(std::thread::ThreadId, crate::pmqos::Hold)>>,
}

impl RtThread {
    pub(crate) fn new(scheduling: &str) -> Self {
        RtThread { scheduling: Mutex::new(scheduling.into()), ..Default::default() }
    }

    /// Give this module a new SCHED_FIFO slot; its thread takes it before its next activation.
    pub(crate) fn assign(&self, slot: RtSlot) {
        let mut current = self.slot.lock();
        if *current != Some(slot) {
            *current = Some(slot);
            self.slot_gen.fetch_add(1, Ordering::Release);
        }
    }

    /// Wake a sporadic module's thread; false when the module has none.
    pub(crate) fn kick(&self) -> bool {
        let Some(kick) = self.kick.lock().as_ref().cloned() else { return false };
        let _ = kick.try_send(()); // full: a kick is already pending, and one is enough
        true
    }

    /// The module stops: end a sporadic module's thread, release the wake-up latency request.
    pub(crate) fn end(&self) {
        drop(self.kick.lock().take());
        drop(self.hold.lock().take());
    }

    /// The calling thread takes its share of the wake-up latency request until it ends.
    pub(crate) fn hold_for_this_thread(&self, hold: crate::pmqos::Hold) -> ReleaseOnExit<'_> {
        let me = std::thread::current().id();
        *self.hold.lock() = Some((me, hold));
        ReleaseOnExit { rt: self, thread: me }
    }

    /// Throttled periods so far.
    pub(crate) fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }

    /// The granted SCHED_DEADLINE reservation.
    pub(crate) fn reservation(&self) -> Option<Reservation> {
        *self.granted.lock()
    }

    /// CPU time per period of the thread.
    pub(crate) fn cpu(&self) -> silverline_proto::status::Summary {
        self.cpu.lock().summary()
    }

    /// The thread got this reservation from the kernel.
    pub(crate) fn granted(&self, r: Reservation) {
        *self.granted.lock() = Some(r);
    }
}

/// Releases a thread's wake-up latency hold when the thread's body returns, unless a newer
/// thread of the same module (a restart) took over.
pub(crate) struct ReleaseOnExit<'a> {
    rt: &'a RtThread,
    thread: std::thread::ThreadId,
}

impl Drop for ReleaseOnExit<'_> {
    fn drop(&mut self) {
        let mut hold = self.rt.hold.lock();
        if hold.as_ref().is_some_and(|(t, _)| *t == self.thread) {
            *hold = None;
        }
    }
}

/// CPU time of the calling thread between calls.
struct Meter {
    last: Duration,
}

impl Meter {
    fn start() -> Self {
        Meter { last: crate::realtime::thread_cpu_time() }
    }

    /// CPU time since the previous lap.
    fn lap(&mut self) -> Duration {
        let now = crate::realtime::thread_cpu_time();
        now.saturating_sub(std::mem::replace(&mut self.last, now))
    }
}

/// Account one period's CPU time; a period that used up the granted runtime was throttled by
/// the kernel (it enforces the runtime, so reaching it means the thread was stopped there).
fn account(host: &Shared, m: &ModuleRuntime, k: i64, used: Duration) {
    let rt = &m.rt;
    rt.cpu.lock().add(used.as_nanos() as u64);
    let Some(r) = rt.reservation() else { return };
    if used >= r.runtime {
        rt.throttled.fetch_add(1, Ordering::Relaxed);
        host.emit(&m.id, EventKind::Throttled { activation: k, used_ns: used.as_nanos() as u64, runtime_ns: r.runtime.as_nanos() as u64 });
    }
}

/// A reservation sized by default grows to what the module and its thread measurably use: the
/// module's p99 execution time plus 20%, and never less than the thread's p99 CPU time per
/// period plus 20% (the Host's own share included). It never shrinks below what it started
/// with: on a machine whose per-period CPU time has a long tail (a VM), a reservation cut to the
/// p99 is throttled in the other 1% of periods, and those activations start a period late.
fn resize_from_measurements(m: &ModuleRuntime, activations: u64) {
    if m.spec.resources.budget.is_some() || activations < MEASURE_AFTER || (activations != MEASURE_AFTER && activations % RESIZE_EVERY != 0) {
        return;
    }
    let Some(current) = m.rt.reservation() else { return };
    let exec = m.profile.timing.lock().exec.summary().p99;
    let cpu = m.rt.cpu().p99;
    let margin = |ns: u64| Duration::from_nanos(ns + ns / 5);
    let budget = margin(exec).max(margin(cpu).saturating_sub(silverline_placement::rta::host_share()));
    let next = Reservation::of(current.period, None, Some(budget), Some(current.deadline));
    if next.runtime < current.runtime + current.runtime / 10 {
        return;
    }
    match crate::realtime::resize(&next) {
        Ok(()) => {
            tracing::info!(module = %m.id, "SCHED_DEADLINE runtime resized from {:?} to {:?} (measured)", current.runtime, next.runtime);
            m.rt.granted(next);
            *m.rt.scheduling.lock() = crate::realtime::describe_deadline(&next);
        }
        Err(e) => tracing::warn!(module = %m.id, "keeping SCHED_DEADLINE runtime {:?}: {:?} refused ({e})", current.runtime, next.runtime),
    }
}

/// Sleep until `at`. With `early` > 0, sleep until `early` before it and wait out the rest on
/// the CPU: the core does not go idle just before the activation, so its start does not pay a
/// cold wake-up (on a VM: the hypervisor resuming the virtual CPU).
fn sleep_until(at: Instant, early: Duration) {
    if let Some(wait) = at.checked_sub(early).and_then(|t| t.checked_duration_since(Instant::now())) {
        std::thread::sleep(wait);
    }
    while Instant::now() < at {
        std::hint::spin_loop();
    }
}

/// The loop of a real-time periodic module's thread.
pub(crate) fn periodic_loop(host: &Weak<Shared>, m: &Arc<ModuleRuntime>, clock: PeriodicClock, early: Duration) {
    let mut k = clock.first();
    let mut slot_seen = 0;
    let mut meter = Meter::start();
    loop {
        take_slot(m, &mut slot_seen);
        let at = clock.at(k);
        sleep_until(at, early);
        let Some(shared) = host.upgrade() else { return };
        if m.removed.load(Ordering::Acquire) || *m.state.lock() != ModuleState::Running {
            return;
        }
        m.busy.store(true, Ordering::Release);
        let result = shared.activate_and_report(m, k, Some(at));
        m.busy.store(false, Ordering::Release);
        if let Err(failure) = result {
            shared.fail(m, failure); // a restart starts a new thread
            return;
        }
        account(&shared, m, k, meter.lap());
        resize_from_measurements(m, m.profile.activations.load(Ordering::Relaxed));
        shared.notify_changed();
        let (next, skipped) = next_index(&clock, k);
        if skipped > 0 {
            shared.skipped(m, k + 1, skipped, SkipReason::Behind);
        }
        k = next;
    }
}

/// Start a sporadic module's thread's kick channel (a message may already wait).
pub(crate) fn arm_kick(m: &ModuleRuntime) -> crossbeam_channel::Receiver<()> {
    let (kick, kicked) = crossbeam_channel::bounded(1);
    let _ = kick.try_send(());
    *m.rt.kick.lock() = Some(kick);
    kicked
}

/// The loop of a real-time event module's thread: one activation per waiting message (or
/// wake-up), until the module is removed (its kick sender dropped) or fails.
pub(crate) fn event_loop(host: &Weak<Shared>, m: &Arc<ModuleRuntime>, kicked: &crossbeam_channel::Receiver<()>) {
    let mut slot_seen = 0;
    let mut meter = Meter::start();
    loop {
        match kicked.recv_timeout(Duration::from_millis(500)) {
            Ok(()) => {}
            // The thread holds the module, and the module the kick's sender: look now and then
            // whether the Host is gone, so that dropping it without a shutdown ends the thread.
            Err(crossbeam_channel::RecvTimeoutError::Timeout) if host.strong_count() > 0 => continue,
            Err(_) => return,
        }
        take_slot(m, &mut slot_seen);
        loop {
            let Some(shared) = host.upgrade() else { return };
            let (queued, woken) = (m.trigger_queue.as_ref().map_or(0, |q| q.len()), m.wake_pending.load(Ordering::Acquire));
            if (queued == 0 && !woken) || m.removed.load(Ordering::Acquire) || *m.state.lock() != ModuleState::Running {
                break;
            }
            m.busy.store(true, Ordering::Release);
            let k = m.next_event_index.fetch_add(1, Ordering::Relaxed);
            let result = shared.activate_and_report(m, k, None);
            m.busy.store(false, Ordering::Release);
            if let Err(failure) = result {
                m.rt.end();
                shared.fail(m, failure); // a restart starts a new thread
                return;
            }
            account(&shared, m, k, meter.lap());
            shared.notify_changed();
            // A module that leaves its message unread is not run again until the next one
            // arrives: at a real-time priority, retrying at once would starve its core.
            if !woken && m.trigger_queue.as_ref().map_or(0, |q| q.len()) >= queued {
                break;
            }
        }
    }
}

/// Move this real-time thread to the priority and core the Host's partitioning gave it, if that
/// changed since `seen`.
fn take_slot(m: &ModuleRuntime, seen: &mut u64) {
    let generation = m.rt.slot_gen.load(Ordering::Acquire);
    if generation == *seen {
        return;
    }
    *seen = generation;
    let Some(slot) = *m.rt.slot.lock() else { return };
    let mut scheduling = m.rt.scheduling.lock();
    if !scheduling.starts_with("SCHED_FIFO") {
        return;
    }
    let tail = scheduling.split_once(" (").map(|(_, t)| format!(" ({t}")).unwrap_or_default();
    *scheduling = match crate::realtime::set_slot(slot.priority, slot.core) {
        Ok(()) => match slot.core {
            Some(c) => format!("SCHED_FIFO priority {} on core {c}{tail}", slot.priority),
            None => format!("SCHED_FIFO priority {} on any core, as the real-time modules do not partition onto the cores{tail}", slot.priority),
        },
        Err(e) => format!("SCHED_FIFO, but priority {} / core {:?} refused: {e}{tail}", slot.priority, slot.core),
    };
}

/// The next activation and how many are skipped to get there: k + 1, unless the module fell
/// more than 4 periods behind, in which case the missed ones are skipped rather than run in a
/// burst.
fn next_index(clock: &PeriodicClock, k: i64) -> (i64, u64) {
    let behind = Instant::now().saturating_duration_since(clock.at(k + 1)).as_nanos() / clock.period.as_nanos().max(1);
    if behind > 4 {
        return (k + 1 + behind as i64, behind as u64);
    }
    (k + 1, 0)
}
