//! One module instance on a Host: its compiled code, channels, Wasm instance, state and profile.

use crate::abi::{ChannelCtx, ChannelTable};
use crate::ctx::ModuleCtx;
use crate::output::{LineWriter, OutputSink, Stream};
use crate::stats::Stats;
use silverline_proto::status::*;
use parking_lot::Mutex;
use silverline_channels::{InputQueue, OutputPort};
use silverline_manifest::{ModuleSpec, Trigger};
use crate::refabi::{Notify, RefState};
use silverline_channels::Router;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use wasmtime::{InstancePre, Store, StoreLimitsBuilder, Trap, TypedFunc, UpdateDeadline};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

/// A live Wasm instance ready to be activated.
pub(crate) struct Live {
    pub(crate) store: Store<ModuleCtx>,
    step: Option<TypedFunc<(), i32>>,
    start: Option<TypedFunc<(), ()>>,
}

/// Where periodic activation k is scheduled: `anchor + (k - anchor_k) * period`.
///
/// k counts periods since the Unix epoch (shifted by the offset), so two Hosts with synchronised
/// clocks agree on which activation is which: handovers (zero-downtime update, failover) can be
/// agreed on an index.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PeriodicClock {
    pub(crate) period: Duration,
    anchor: Instant,
    anchor_k: i64,
}

impl PeriodicClock {
    /// The first activation strictly after now.
    pub(crate) fn starting_now(period: Duration, offset: Duration) -> Self {
        let now_inst = Instant::now();
        let since_epoch = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        let p = period.as_nanos().max(1);
        let t = since_epoch.as_nanos().saturating_sub(offset.as_nanos());
        let k = t / p + 1;
        let wait = Duration::from_nanos((k * p - t) as u64);
        PeriodicClock { period, anchor: now_inst + wait, anchor_k: k as i64 }
    }

    /// Scheduled instant of activation k.
    pub(crate) fn at(&self, k: i64) -> Instant {
        let n = (k - self.anchor_k).max(0) as u32;
        self.anchor + self.period * n
    }

    /// The first index.
    pub(crate) fn first(&self) -> i64 {
        self.anchor_k
    }
}

/// Counters and statistics of one module instance.
#[derive(Default)]
pub(crate) struct Profile {
    pub(crate) activations: AtomicU64,
    pub(crate) step_errors: AtomicU64,
    /// Skipped periodic activations by reason (their sum is the status's `overruns`).
    pub(crate) skips: Mutex<Skips>,
    pub(crate) deadline_misses: AtomicU64,
    pub(crate) traps: AtomicU64,
    pub(crate) fuel_last: AtomicU64,
    pub(crate) fuel_total: AtomicU64,
    pub(crate) memory_bytes: AtomicU64,
    pub(crate) timing: Mutex<Timing>,
}

#[derive(Default)]
pub(crate) struct Timing {
    pub(crate) exec: Stats,
    pub(crate) lateness: Stats,
    pub(crate) log: std::collections::VecDeque<ActivationRecord>,
}

/// One activation's measurements.
pub(crate) struct Sample {
    pub(crate) k: i64,
    pub(crate) scheduled: Option<Instant>,
    pub(crate) started: Instant,
    pub(crate) exec: Duration,
    pub(crate) fuel: u64,
    pub(crate) memory: u64,
}

impl Profile {
    /// Account one activation: counters, timing statistics, and the schedule log.
    pub(crate) fn record(&self, s: &Sample, deadline: Option<Duration>, host_epoch: Instant) {
        self.activations.fetch_add(1, Ordering::Relaxed);
        self.fuel_last.store(s.fuel, Ordering::Relaxed);
        self.fuel_total.fetch_add(s.fuel, Ordering::Relaxed);
        if s.memory > 0 {
            self.memory_bytes.store(s.memory, Ordering::Relaxed);
        }
        let released = s.scheduled.unwrap_or(s.started);
        if deadline.is_some_and(|d| s.started + s.exec > released + d) {
            self.deadline_misses.fetch_add(1, Ordering::Relaxed);
        }
        let mut t = self.timing.lock();
        t.exec.add(s.exec.as_nanos() as u64);
        if let Some(at) = s.scheduled {
            t.lateness.add(s.started.saturating_duration_since(at).as_nanos() as u64);
            if t.log.len() == 1024 {
                t.log.pop_front();
            }
            let since = |i: Instant| i.saturating_duration_since(host_epoch).as_nanos() as u64;
            t.log.push_back(ActivationRecord { index: s.k, scheduled_ns: since(at), started_ns: since(s.started), exec_ns: s.exec.as_nanos() as u64 });
        }
    }
}

/// Everything the Host keeps about one module instance.
pub(crate) struct ModuleRuntime {
    pub(crate) id: ModuleId,
    pub(crate) app: String,
    pub(crate) spec: ModuleSpec,
    pub(crate) sha256: String,
    pre: InstancePre<ModuleCtx>,
    pub(crate) live: Mutex<Option<Live>>,
    /// Set while an activation is queued or running: activations of one module never overlap.
    pub(crate) busy: AtomicBool,
    pub(crate) state: Mutex<ModuleState>,
    pub(crate) inputs: Vec<(String, Arc<InputQueue>)>,
    pub(crate) outputs: Vec<(String, Arc<OutputPort>)>,
    pub(crate) trigger_queue: Option<Arc<InputQueue>>,
    pub(crate) clock: Mutex<Option<PeriodicClock>>,
    pub(crate) profile: Arc<Profile>,
    pub(crate) removed: AtomicBool,
    pub(crate) restarts: AtomicU32,
    pub(crate) next_event_index: AtomicI64,
    sink: OutputSink,
    host_epoch: Instant,
    watchdog: Duration,
    /// The most memory the engine gives this module: its limit when the manifest sets none.
    memory_ceiling: u64,
    router: Arc<Router>,
    host_uuid: String,
    /// This instance's uuid (reference ABI `module_get_uuid`).
    pub(crate) uuid: String,
    /// Set on removal: a long-running command module checks it at every epoch tick and in
    /// blocking calls, and ends.
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) notify: Arc<Notify>,
    /// True while `_start` runs on the module's own thread.
    pub(crate) running_command: AtomicBool,
    /// Output activity changes waiting for an activation index: (output index, active, from).
    switches: Mutex<Vec<(usize, bool, i64)>>,
    /// The index of the latest activation that started (periodic modules).
    last_started: AtomicI64,
    /// Periodic activations that came due while the previous one was still queued or running.
    deferred: Mutex<std::collections::VecDeque<(i64, Instant)>>,
    /// A real-time module's thread: scheduling, reservation, slot, CPU time, throttling.
    pub(crate) rt: crate::rtthread::RtThread,
    /// The sidecar API's view of the Host.
    services: Arc<dyn crate::sidecar::HostServices>,
    /// The APIs the Host offers: each makes its state for a new instance.
    apis: silverline_hostapi::ApiSet<ModuleCtx>,
    /// Sequence of the latest `wake_at` (older wake timers are ignored).
    pub(crate) wake_seq: AtomicU64,
    /// A wake timer fired and its activation has not started yet.
    pub(crate) wake_pending: AtomicBool,
    /// The subscription of an API trigger; dropping it ends the subscription.
    pub(crate) api_watch: Mutex<Option<Box<dyn std::any::Any + Send + Sync>>>,
    /// The output gate of a replica managed by sidecars; `None` = outputs as the manifest and
    /// zero-downtime update say.
    pub(crate) gate: Mutex<Option<crate::sidecar::Gate>>,
    /// Where the manifest's `onOverrun` policy stands.
    pub(crate) overrun: Mutex<crate::overrun::Overrun>,
}


/// How many overdue activations a module may owe before the oldest are skipped. A short hiccup
/// (a starved worker, a page fault) is absorbed without losing activations; a module that is
/// always too slow loses them, counted as overruns, instead of falling ever further behind.
const MAX_DEFERRED: usize = 4;

/// What [`ModuleRuntime::claim_or_defer`] decided.
pub(crate) enum Claim {
    /// Run it now.
    Run,
    /// Queued; `dropped` is the oldest overdue activation pushed out to make room (the caller
    /// counts and reports it).
    Deferred { dropped: Option<i64> },
}

/// Parts a [`ModuleRuntime`] is built from.
pub(crate) struct ModuleParts {
    pub(crate) id: ModuleId,
    pub(crate) app: String,
    pub(crate) spec: ModuleSpec,
    pub(crate) sha256: String,
    pub(crate) pre: InstancePre<ModuleCtx>,
    pub(crate) inputs: Vec<(String, Arc<InputQueue>)>,
    pub(crate) outputs: Vec<(String, Arc<OutputPort>)>,
    pub(crate) sink: OutputSink,
    pub(crate) host_epoch: Instant,
    pub(crate) watchdog: Duration,
    pub(crate) router: Arc<Router>,
    pub(crate) host_uuid: String,
    pub(crate) services: Arc<dyn crate::sidecar::HostServices>,
    pub(crate) apis: silverline_hostapi::ApiSet<ModuleCtx>,
    /// The most memory the engine gives a module, the limit when its manifest sets none.
    pub(crate) memory_ceiling: u64,
}

impl ModuleRuntime {
    pub(crate) fn new(p: ModuleParts) -> ModuleRuntime {
        let trigger_queue = match &p.spec.trigger {
            Trigger::Event { channel } => {
                p.inputs.iter().find(|(n, _)| n == channel.as_str()).map(|(_, q)| q.clone())
            }
            _ => None,
        };
        ModuleRuntime {
            id: p.id,
            app: p.app,
            spec: p.spec,
            sha256: p.sha256,
            pre: p.pre,
            live: Mutex::new(None),
            busy: AtomicBool::new(false),
            state: Mutex::new(ModuleState::Starting),
            inputs: p.inputs,
            outputs: p.outputs,
            trigger_queue,
            clock: Mutex::new(None),
            profile: Arc::default(),
            removed: AtomicBool::new(false),
            restarts: AtomicU32::new(0),
            next_event_index: AtomicI64::new(0),
            sink: p.sink,
            host_epoch: p.host_epoch,
            watchdog: p.watchdog,
            memory_ceiling: p.memory_ceiling,
            router: p.router,
            host_uuid: p.host_uuid,
            uuid: silverline_manifest::HostUuid::new_v4().as_str().to_string(),
            stop: Arc::default(),
            notify: Arc::default(),
            running_command: AtomicBool::new(false),
            switches: Mutex::new(Vec::new()),
            last_started: AtomicI64::new(i64::MIN),
            deferred: Mutex::new(std::collections::VecDeque::new()),
            rt: crate::rtthread::RtThread::new("best effort (shared worker pool)"),
            services: p.services,
            apis: p.apis,
            wake_seq: AtomicU64::new(0),
            wake_pending: AtomicBool::new(false),
            api_watch: Mutex::new(None),
            gate: Mutex::new(None),
            overrun: Mutex::default(),
        }
    }

    pub(crate) fn is_command(&self) -> bool {
        matches!(self.spec.trigger, Trigger::Command)
    }

    /// Let a long-running command run past epoch deadlines, but end it once the module is stopped.
    fn run_until_stopped(&self, store: &mut Store<ModuleCtx>) {
        let stop = self.stop.clone();
        store.epoch_deadline_callback(move |_| {
            if stop.load(Ordering::Acquire) {
                Err(wasmtime::Error::msg("module stopped"))
            } else {
                Ok(UpdateDeadline::Continue(10))
            }
        });
    }

    /// The wall-clock limit of one activation: the manifest's deadline, else the Host's watchdog.
    fn deadline(&self) -> Duration {
        self.spec.resources.deadline.unwrap_or(self.watchdog)
    }

    /// Only modules that declare a fuel budget run metered code (see `engine`); the others
    /// are stopped by their wall-clock deadline.
    fn fuel_budget(&self) -> Option<u64> {
        self.spec.resources.fuel
    }

    /// The manifest's memory limit, else (and at most) what the engine gives a module.
    fn memory_limit(&self) -> u64 {
        self.spec.resources.memory_bytes.map_or(self.memory_ceiling, |l| l.min(self.memory_ceiling))
    }

    /// Create a fresh instance: WASI context as granted, limits, `_initialize` and `sl_init`.
    pub(crate) fn instantiate(&self, engine: &crate::engine::SlEngine, inherit_stdio: bool) -> Result<Live, Failure> {
        let init_failed = |e: wasmtime::Error| Failure::InitFailed { message: format!("{e:#}") };
        let ctx = self.context(inherit_stdio).map_err(|e| Failure::InitFailed { message: format!("{e:#}") })?;
        // The store follows the engine the module was compiled for (metered or not).
        let mut store = Store::new(self.pre.module().engine(), ctx);
        store.limiter(|c| &mut c.limits);
        if let Some(fuel) = self.fuel_budget() {
            store.set_fuel(fuel).map_err(init_failed)?;
        }
        store.set_epoch_deadline(engine.ticks_for(self.deadline()));
        let instance = self.pre.instantiate(&mut store).map_err(|e| self.classify(e, true))?;
        store.data_mut().memory = instance.get_memory(&mut store, "memory");
        // A WASI command (`_start`, no `sl_step`) runs once on its own thread, whatever its
        // trigger: that is how reference-runtime modules, which loop in `main`, are run.
        let start = instance.get_typed_func::<(), ()>(&mut store, "_start").ok();
        let has_step = instance.get_export(&mut store, "sl_step").is_some();
        if self.is_command() || (start.is_some() && !has_step) {
            let start = start.ok_or_else(|| Failure::InitFailed { message: "a command module must export `_start`".into() })?;
            self.run_until_stopped(&mut store);
            return Ok(Live { store, step: None, start: Some(start) });
        }
        if let Ok(init) = instance.get_typed_func::<(), ()>(&mut store, "_initialize") {
            init.call(&mut store, ()).map_err(|e| self.classify(e, true))?;
        }
        if let Ok(init) = instance.get_typed_func::<(), i32>(&mut store, "sl_init") {
            match init.call(&mut store, ()) {
                Ok(0) => {}
                Ok(rc) => return Err(Failure::InitFailed { message: format!("sl_init returned {rc}") }),
                Err(e) => return Err(self.classify(e, true)),
            }
        }
        let step = instance
            .get_typed_func::<(), i32>(&mut store, "sl_step")
            .map_err(|_| Failure::InitFailed { message: "the module exports no `sl_step: () -> i32`".into() })?;
        Ok(Live { store, step: Some(step), start: None })
    }

    fn context(&self, inherit_stdio: bool) -> anyhow::Result<ModuleCtx> {
        let name: Arc<str> = Arc::from(self.id.as_str());
        let mut b = WasiCtxBuilder::new();
        if inherit_stdio {
            b.inherit_stdio();
        } else {
            b.stdout(LineWriter::new(name.clone(), Stream::Stdout, self.sink.clone()));
            b.stderr(LineWriter::new(name.clone(), Stream::Stderr, self.sink.clone()));
        }
        let grants = &self.spec.wasi;
        b.arg(self.spec.name.as_str());
        b.args(&grants.args);
        for (k, v) in &grants.env {
            b.env(k, v);
        }
        for dir in &grants.dirs {
            let perms = if dir.readonly { FsPerms::ReadOnly } else { FsPerms::ReadWrite };
            b.preopened_dir(&dir.host, &dir.guest, perms)
                .map_err(|e| anyhow::anyhow!("preopening {} as {}: {e}", dir.host.display(), dir.guest))?;
        }
        let limits = StoreLimitsBuilder::new().instances(1).trap_on_grow_failure(true).memory_size(self.memory_limit() as usize);
        Ok(ModuleCtx {
            wasi: b.build_p1(),
            limits: limits.build(),
            memory: None,
            channels: ChannelCtx {
                // The API-writes gate is not a channel a module can open.
                table: ChannelTable::new(self.inputs.clone(), self.outputs.iter().filter(|(n, _)| n != silverline_manifest::API_WRITES).cloned().collect()),
                activation: 0,
                log: LineWriter::new(name, Stream::Log, self.sink.clone()),
            },
            refabi: Some(self.refabi_state()),
            sidecar: crate::sidecar::SidecarCtx {
                services: self.services.clone(),
                id: self.id.clone(),
                app: self.app.clone(),
                is_sidecar: self.spec.sidecar,
                config: Arc::from(self.spec.config.as_str()),
            },
            ext: self.apis.start(&self.info())?,
            api_writes: self.outputs.iter().find(|(n, _)| n == silverline_manifest::API_WRITES).map(|(_, port)| port.clone()),
        })
    }

    /// What plug-in APIs learn about this instance.
    pub(crate) fn info(&self) -> silverline_hostapi::ModuleInfo {
        silverline_hostapi::ModuleInfo { id: self.id.as_str().to_string(), app: self.app.clone(), module: self.spec.name.as_str().to_string(), config: Arc::from(self.spec.config.as_str()) }
    }

    fn refabi_state(&self) -> RefState {
        let declared_inputs = self
            .spec
            .inputs
            .iter()
            .zip(&self.inputs)
            .map(|(spec, (name, q))| (name.clone(), spec.endpoint.as_str().to_string(), q.clone()))
            .collect();
        RefState::new(
            self.router.clone(),
            self.notify.clone(),
            self.stop.clone(),
            self.host_uuid.clone(),
            self.uuid.clone(),
            self.profile.clone(),
            self.host_epoch,
            declared_inputs,
            self.outputs.clone(),
            self.port_template(),
        )
    }

    /// A port like this module's own (its budget, its fencing), for ports on topics its
    /// manifest does not declare (the reference ABI opens those by path).
    fn port_template(&self) -> Arc<OutputPort> {
        if let Some((_, port)) = self.outputs.first() {
            return port.clone();
        }
        // Inactive and never published on: it only carries the settings.
        let port = self.router.output_port("silverline/template", false);
        let r = &self.spec.resources;
        port.share_limit(Arc::new(silverline_channels::PublishLimit::new(r.max_publish_per_second, r.max_publish_bytes_per_second)));
        if self.spec.replicas > 1 || self.spec.sidecar {
            port.exempt_from_fence();
        }
        port
    }

    /// Run one activation. The caller holds `busy`. Returns a failure if the module must stop.
    pub(crate) fn activate(&self, engine: &crate::engine::SlEngine, k: i64, scheduled: Option<Instant>) -> Result<(), Failure> {
        let mut guard = self.live.lock();
        let Some(live) = guard.as_mut() else { return Ok(()) };
        let Some(step) = live.step.clone() else { return Ok(()) };
        live.store.data_mut().channels.activation = k;
        self.wake_pending.store(false, Ordering::Release);
        self.apply_switches(k);
        let budget = self.fuel_budget();
        if let Some(fuel) = budget {
            live.store.set_fuel(fuel).ok();
        }
        live.store.set_epoch_deadline(engine.ticks_for(self.deadline()));
        let started = Instant::now();
        let result = step.call(&mut live.store, ());
        let exec = started.elapsed();
        let fuel_used = budget.map_or(0, |b| b - live.store.get_fuel().unwrap_or(b));
        let mem = live.store.data().memory.map_or(0, |m| m.data_size(&live.store) as u64);
        drop(guard);
        self.record(k, scheduled, started, exec, fuel_used, mem);
        match result {
            Ok(rc) => {
                if rc < 0 {
                    self.profile.step_errors.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            }
            Err(e) => {
                self.profile.traps.fetch_add(1, Ordering::Relaxed);
                Err(self.classify(e, false))
            }
        }
    }

    /// Periodic activation `k` is due: `Run` if the caller may run it now (the module was idle);
    /// otherwise it is queued behind the running one, in order, possibly pushing out the oldest.
    pub(crate) fn claim_or_defer(&self, k: i64, at: Instant) -> Claim {
        let mut deferred = self.deferred.lock();
        if self.busy.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            return Claim::Run;
        }
        let dropped = (deferred.len() == MAX_DEFERRED).then(|| deferred.pop_front()).flatten();
        deferred.push_back((k, at));
        Claim::Deferred { dropped: dropped.map(|(k, _)| k) }
    }

    /// After an activation: the next overdue one (the module stays busy), or none (it goes idle).
    /// Under the same lock as [`ModuleRuntime::claim_or_defer`], so nothing slips in between.
    pub(crate) fn next_or_idle(&self) -> Option<(i64, Instant)> {
        let mut deferred = self.deferred.lock();
        let next = deferred.pop_front();
        if next.is_none() {
            self.busy.store(false, Ordering::Release);
        }
        next
    }

    /// The reservation a real-time module's thread asks for. An event-triggered one is a
    /// sporadic task: its minimum inter-arrival time is taken to be its deadline (default
    /// [`silverline_placement::rta::SPORADIC_DEADLINE`]), the assumption admission control makes too.
    pub(crate) fn reservation(&self) -> Option<crate::realtime::Reservation> {
        let period = match self.spec.trigger {
            Trigger::Periodic { period, .. } => period,
            Trigger::Event { .. } | Trigger::Api { .. } => self.spec.resources.deadline.unwrap_or(silverline_placement::rta::SPORADIC_DEADLINE),
            Trigger::Command => return None,
        };
        Some(crate::realtime::Reservation::of(period, self.spec.resources.budget, None, self.spec.resources.deadline))
    }

    /// Is this a real-time periodic reactor (run on its own real-time thread)?
    pub(crate) fn is_realtime(&self) -> bool {
        self.spec.criticality == silverline_manifest::Criticality::Realtime && matches!(self.spec.trigger, Trigger::Periodic { .. })
    }

    /// Does this module run on a real-time thread of its own (a real-time reactor)?
    pub(crate) fn on_rt_thread(&self) -> bool {
        (self.is_realtime() || self.is_realtime_event()) && !self.has_start()
    }

    /// Is this a real-time event-triggered reactor (run on its own real-time thread, woken by
    /// its messages)?
    pub(crate) fn is_realtime_event(&self) -> bool {
        self.spec.criticality == silverline_manifest::Criticality::Realtime && self.trigger_queue.is_some()
    }

    /// Forget overdue activations (the instance failed) and go idle.
    pub(crate) fn drop_deferred(&self) {
        let mut deferred = self.deferred.lock();
        deferred.clear();
        self.busy.store(false, Ordering::Release);
    }

    /// Remember an output activity change for activation `from` (see `Host::set_channel_active_from`).
    pub(crate) fn schedule_switch(&self, channel: &str, active: bool, from: i64) -> anyhow::Result<()> {
        if !matches!(self.spec.trigger, Trigger::Periodic { .. }) {
            anyhow::bail!("`{}` is not periodic: a switch at an activation index needs a periodic module", self.id);
        }
        let index = self.outputs.iter().position(|(n, _)| n == channel);
        if index.is_none() && channel == silverline_manifest::API_WRITES {
            return Ok(()); // it writes through no plug-in API: nothing to switch
        }
        let index = index.ok_or_else(|| anyhow::anyhow!("module `{}` has no output channel `{channel}`", self.id))?;
        let mut switches = self.switches.lock();
        // Checked under the lock that activations take too: no activation can slip in between.
        let started = self.last_started.load(Ordering::Acquire);
        if from <= started {
            anyhow::bail!("too late: activation {from} of `{}` has already started (now at {started})", self.id);
        }
        switches.retain(|(i, _, _)| *i != index);
        switches.push((index, active, from));
        Ok(())
    }

    /// Apply the switches due at activation `k`, before the module runs it.
    fn apply_switches(&self, k: i64) {
        let mut switches = self.switches.lock();
        self.last_started.store(k, Ordering::Release);
        switches.retain(|&(i, active, from)| {
            if k < from {
                return true;
            }
            self.outputs[i].1.set_active(active);
            false
        });
    }

    /// Set the outputs as the replica's gate says for activation `k` (before it runs). Returns
    /// `Some(false)` when this turned the outputs off because the lease ran out.
    pub(crate) fn apply_gate(&self, k: i64) -> Option<bool> {
        let gate = (*self.gate.lock())?;
        let t = match self.spec.trigger {
            // The scheduled time, not the (possibly late) start: both replicas agree on it.
            Trigger::Periodic { period, offset } => k.saturating_mul(period.as_nanos() as i64).saturating_add(offset.as_nanos() as i64),
            _ => crate::sidecar::unix_now_ns(),
        };
        let open = gate.admits(t);
        let was = self.outputs.iter().fold(false, |any, (_, port)| port.set_active(open) || any);
        (was && !open && t >= gate.until && gate.from <= t).then_some(false)
    }

    /// Is this instance a command (run once on its own thread) rather than a reactor?
    pub(crate) fn has_start(&self) -> bool {
        self.live.lock().as_ref().is_some_and(|l| l.start.is_some())
    }

    /// Run a command module's `_start` to its end; returns its exit code. The instance is taken
    /// out of `live` while it runs so that removal never waits on a module that loops forever.
    pub(crate) fn run_command(&self) -> Result<i32, Failure> {
        let Some(mut live) = self.live.lock().take() else { return Ok(0) };
        let Some(start) = live.start.clone() else { return Ok(0) };
        if let Some(state) = live.store.data_mut().refabi.as_mut() {
            state.clock = *self.clock.lock();
        }
        let result = start.call(&mut live.store, ());
        drop(live); // closes its channels now, not when the runtime is dropped
        match result {
            Ok(()) => Ok(0),
            Err(e) => match e.downcast_ref::<wasmtime_wasi::I32Exit>() {
                Some(exit) => Ok(exit.0),
                None => Err(self.classify(e, false)),
            },
        }
    }

    fn record(&self, k: i64, scheduled: Option<Instant>, started: Instant, exec: Duration, fuel: u64, mem: u64) {
        let sample = Sample { k, scheduled, started, exec, fuel, memory: mem };
        self.profile.record(&sample, self.spec.resources.deadline, self.host_epoch);
    }

    /// Turn a wasmtime error into the reason the module stops.
    fn classify(&self, e: wasmtime::Error, during_init: bool) -> Failure {
        match e.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => Failure::FuelExhausted { budget: self.fuel_budget().unwrap_or(0) },
            Some(Trap::Interrupt) => Failure::DeadlineExceeded { deadline_ns: self.deadline().as_nanos() as u64 },
            Some(Trap::StackOverflow) => Failure::StackOverflow,
            Some(trap) => Failure::Trap { message: trap.to_string() },
            None if format!("{e:#}").contains("forcing trap when growing memory") => {
                Failure::MemoryLimit { limit_bytes: self.memory_limit() }
            }
            None if during_init => Failure::InitFailed { message: format!("{e:#}") },
            None => Failure::Trap { message: format!("{e:#}") },
        }
    }

    /// Snapshot of this module's state and profile.
    pub(crate) fn status(&self) -> ModuleStatus {
        let p = &self.profile;
        let (exec, lateness) = {
            let t = p.timing.lock();
            (t.exec.summary(), t.lateness.summary())
        };
        let channels = self.channel_status();
        let skipped = *p.skips.lock();
        let sum = |dir: &str, f: fn(&ChannelStatus) -> u64| channels.iter().filter(|c| c.direction == dir).map(f).sum();
        ModuleStatus {
            id: self.id.clone(),
            app: self.app.clone(),
            module: self.spec.name.as_str().to_string(),
            sha256: self.sha256.clone(),
            state: self.state.lock().clone(),
            trigger: Trigger::kind(&self.spec.trigger).into(),
            activations: p.activations.load(Ordering::Relaxed),
            step_errors: p.step_errors.load(Ordering::Relaxed),
            overruns: skipped.total(),
            skipped,
            deadline_misses: p.deadline_misses.load(Ordering::Relaxed),
            throttled: self.rt.throttled(),
            reservation: self.rt.reservation().map(|r| r.status()),
            thread_cpu_ns: self.rt.cpu(),
            traps: p.traps.load(Ordering::Relaxed),
            restarts: self.restarts.load(Ordering::Relaxed),
            scheduling: self.rt.scheduling.lock().clone(),
            exec_ns: exec,
            start_jitter_ns: lateness,
            fuel_last: p.fuel_last.load(Ordering::Relaxed),
            fuel_total: p.fuel_total.load(Ordering::Relaxed),
            memory_bytes: p.memory_bytes.load(Ordering::Relaxed),
            messages_in: sum("in", |c| c.messages),
            messages_out: sum("out", |c| c.messages),
            messages_dropped: channels.iter().map(|c| c.dropped).sum(),
            channels,
        }
    }

    fn channel_status(&self) -> Vec<ChannelStatus> {
        let ins = self.inputs.iter().map(|(name, q)| ChannelStatus {
            name: name.clone(),
            direction: "in".into(),
            endpoint: self.spec.input(name).map(|c| c.endpoint.as_str().to_string()).unwrap_or_default(),
            active: true,
            messages: q.received(),
            dropped: q.dropped(),
            queued: q.len() as u64,
            fenced: 0,
            rate_limited: 0,
        });
        let outs = self.outputs.iter().map(|(name, port)| ChannelStatus {
            name: name.clone(),
            direction: "out".into(),
            endpoint: port.topic().to_string(),
            active: port.is_active(),
            messages: port.published(),
            dropped: port.dropped_inactive() + port.remote_errors() + port.dropped_fenced() + port.dropped_rate(),
            queued: 0,
            fenced: port.dropped_fenced(),
            rate_limited: port.dropped_rate(),
        });
        ins.chain(outs).collect()
    }

    pub(crate) fn activation_log(&self) -> Vec<ActivationRecord> {
        self.profile.timing.lock().log.iter().copied().collect()
    }
}


