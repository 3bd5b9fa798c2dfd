//! One module instance on a Host: its compiled code, channels, Wasm instance, state and profile.

use crate::abi::{ChannelTable, ModuleCtx};
use crate::output::{LineWriter, OutputSink, Stream};
use crate::status::*;
use parking_lot::Mutex;
use silverline_channels::{InputQueue, OutputPort};
use silverline_manifest::{ModuleSpec, Trigger};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use wasmtime::{InstancePre, Store, StoreLimitsBuilder, Trap, TypedFunc};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

/// Fuel given to an activation whose manifest sets no fuel budget: effectively unlimited,
/// the wall-clock watchdog is what stops it.
const UNLIMITED_FUEL: u64 = u64::MAX / 2;

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
    pub(crate) overruns: AtomicU64,
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
    pub(crate) profile: Profile,
    pub(crate) removed: AtomicBool,
    pub(crate) restarts: AtomicU32,
    pub(crate) next_event_index: AtomicI64,
    sink: OutputSink,
    host_epoch: Instant,
    watchdog: Duration,
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
            profile: Profile::default(),
            removed: AtomicBool::new(false),
            restarts: AtomicU32::new(0),
            next_event_index: AtomicI64::new(0),
            sink: p.sink,
            host_epoch: p.host_epoch,
            watchdog: p.watchdog,
        }
    }

    pub(crate) fn is_command(&self) -> bool {
        matches!(self.spec.trigger, Trigger::Command)
    }

    /// The wall-clock limit of one activation: the manifest's deadline, else the Host's watchdog.
    fn deadline(&self) -> Duration {
        self.spec.resources.deadline.unwrap_or(self.watchdog)
    }

    fn fuel_budget(&self) -> u64 {
        self.spec.resources.fuel.unwrap_or(UNLIMITED_FUEL)
    }

    fn memory_limit(&self) -> Option<u64> {
        self.spec.resources.memory_bytes
    }

    /// Create a fresh instance: WASI context as granted, limits, `_initialize` and `sl_init`.
    pub(crate) fn instantiate(&self, engine: &crate::engine::SlEngine, inherit_stdio: bool) -> Result<Live, Failure> {
        let init_failed = |e: wasmtime::Error| Failure::InitFailed { message: format!("{e:#}") };
        let ctx = self.context(inherit_stdio).map_err(|e| Failure::InitFailed { message: format!("{e:#}") })?;
        let mut store = Store::new(engine.engine(), ctx);
        store.limiter(|c| &mut c.limits);
        store.set_fuel(self.fuel_budget()).map_err(init_failed)?;
        store.set_epoch_deadline(engine.ticks_for(self.deadline()));
        let instance = self.pre.instantiate(&mut store).map_err(|e| self.classify(e, true))?;
        store.data_mut().memory = instance.get_memory(&mut store, "memory");
        if self.is_command() {
            let start = instance.get_typed_func::<(), ()>(&mut store, "_start").map_err(init_failed)?;
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
        let mut limits = StoreLimitsBuilder::new().instances(1).trap_on_grow_failure(true);
        if let Some(limit) = self.memory_limit() {
            limits = limits.memory_size(limit as usize);
        }
        Ok(ModuleCtx {
            wasi: b.build_p1(),
            limits: limits.build(),
            memory: None,
            channels: ChannelTable::new(self.inputs.clone(), self.outputs.clone()),
            activation: 0,
            log: LineWriter::new(name, Stream::Log, self.sink.clone()),
        })
    }

    /// Run one activation. The caller holds `busy`. Returns a failure if the module must stop.
    pub(crate) fn activate(&self, engine: &crate::engine::SlEngine, k: i64, scheduled: Option<Instant>) -> Result<(), Failure> {
        let mut guard = self.live.lock();
        let Some(live) = guard.as_mut() else { return Ok(()) };
        let Some(step) = live.step.clone() else { return Ok(()) };
        live.store.data_mut().activation = k;
        let budget = self.fuel_budget();
        live.store.set_fuel(budget).ok();
        live.store.set_epoch_deadline(engine.ticks_for(self.deadline()));
        let started = Instant::now();
        let result = step.call(&mut live.store, ());
        let exec = started.elapsed();
        let fuel_used = budget - live.store.get_fuel().unwrap_or(budget);
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

    /// Run a command module's `_start` to its end; returns its exit code.
    pub(crate) fn run_command(&self) -> Result<i32, Failure> {
        let mut guard = self.live.lock();
        let Some(live) = guard.as_mut() else { return Ok(0) };
        let Some(start) = live.start.clone() else { return Ok(0) };
        let started = Instant::now();
        let result = start.call(&mut live.store, ());
        self.record(0, None, started, started.elapsed(), 0, 0);
        match result {
            Ok(()) => Ok(0),
            Err(e) => match e.downcast_ref::<wasmtime_wasi::I32Exit>() {
                Some(exit) => Ok(exit.0),
                None => Err(self.classify(e, false)),
            },
        }
    }

    fn record(&self, k: i64, scheduled: Option<Instant>, started: Instant, exec: Duration, fuel: u64, mem: u64) {
        let p = &self.profile;
        p.activations.fetch_add(1, Ordering::Relaxed);
        p.fuel_last.store(fuel, Ordering::Relaxed);
        p.fuel_total.fetch_add(fuel, Ordering::Relaxed);
        p.memory_bytes.store(mem, Ordering::Relaxed);
        let deadline_from = scheduled.unwrap_or(started);
        if let Some(d) = self.spec.resources.deadline {
            if started + exec > deadline_from + d {
                p.deadline_misses.fetch_add(1, Ordering::Relaxed);
            }
        }
        let mut t = p.timing.lock();
        t.exec.add(exec.as_nanos() as u64);
        if let Some(s) = scheduled {
            t.lateness.add(started.saturating_duration_since(s).as_nanos() as u64);
            if t.log.len() == 1024 {
                t.log.pop_front();
            }
            t.log.push_back(ActivationRecord {
                index: k,
                scheduled_ns: s.saturating_duration_since(self.host_epoch).as_nanos() as u64,
                started_ns: started.saturating_duration_since(self.host_epoch).as_nanos() as u64,
                exec_ns: exec.as_nanos() as u64,
            });
        }
    }

    /// Turn a wasmtime error into the reason the module stops.
    fn classify(&self, e: wasmtime::Error, during_init: bool) -> Failure {
        match e.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => Failure::FuelExhausted { budget: self.fuel_budget() },
            Some(Trap::Interrupt) => Failure::DeadlineExceeded { deadline_ns: self.deadline().as_nanos() as u64 },
            Some(Trap::StackOverflow) => Failure::StackOverflow,
            Some(trap) => Failure::Trap { message: trap.to_string() },
            None if format!("{e:#}").contains("forcing trap when growing memory") => {
                Failure::MemoryLimit { limit_bytes: self.memory_limit().unwrap_or(0) }
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
        let sum = |dir: &str, f: fn(&ChannelStatus) -> u64| channels.iter().filter(|c| c.direction == dir).map(f).sum();
        ModuleStatus {
            id: self.id.clone(),
            app: self.app.clone(),
            module: self.spec.name.as_str().to_string(),
            sha256: self.sha256.clone(),
            state: self.state.lock().clone(),
            trigger: trigger_kind(&self.spec.trigger).into(),
            activations: p.activations.load(Ordering::Relaxed),
            step_errors: p.step_errors.load(Ordering::Relaxed),
            overruns: p.overruns.load(Ordering::Relaxed),
            deadline_misses: p.deadline_misses.load(Ordering::Relaxed),
            traps: p.traps.load(Ordering::Relaxed),
            restarts: self.restarts.load(Ordering::Relaxed),
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
        });
        let outs = self.outputs.iter().map(|(name, port)| ChannelStatus {
            name: name.clone(),
            direction: "out".into(),
            endpoint: port.topic().to_string(),
            active: port.is_active(),
            messages: port.published(),
            dropped: port.dropped_inactive(),
            queued: 0,
        });
        ins.chain(outs).collect()
    }

    pub(crate) fn activation_log(&self) -> Vec<ActivationRecord> {
        self.profile.timing.lock().log.iter().copied().collect()
    }
}

fn trigger_kind(t: &Trigger) -> &'static str {
    match t {
        Trigger::Periodic { .. } => "periodic",
        Trigger::Event { .. } => "event",
        Trigger::Command => "command",
    }
}
