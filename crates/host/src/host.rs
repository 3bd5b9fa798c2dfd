//! The Host: deploys module instances, triggers them, contains their failures, reports on them.

use crate::ctx::ModuleCtx;
use crate::cache::{ModuleCache, Digest256};
use crate::engine::{EngineConfig, Metering, SlEngine};
use crate::module::{Claim, ModuleParts, ModuleRuntime, PeriodicClock};
use crate::overrun::After;
use crate::output::{print_sink, OutputSink};
use crate::schedule::{TimerKind, TimerQueue};
use silverline_proto::status::*;
use anyhow::Context;
use crossbeam_channel::{Receiver, Sender};
use parking_lot::{Condvar, Mutex, RwLock};
use silverline_channels::{InputQueue, Router, RoutingMode};
use silverline_manifest::{ApplicationManifest, ModuleSpec, RestartMode, Trigger};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::Linker;

/// How long before each activation a real-time periodic thread wakes by default (see
/// [`HostConfig::wake_early`]).
pub const DEFAULT_WAKE_EARLY: Duration = Duration::ZERO;

/// Host settings. `new()` equals `Default`.
#[derive(Clone)]
pub struct HostConfig {
    name: String,
    engine: EngineConfig,
    workers: usize,
    cache_dir: Option<PathBuf>,
    routing: RoutingMode,
    watchdog: Duration,
    output: OutputSink,
    uuid: String,
    realtime_policy: crate::realtime::RealtimePolicy,
    best_effort_cpu: Option<f64>,
    pm_qos: Option<u32>,
    wake_early: Duration,
    apis: silverline_hostapi::ApiSet<ModuleCtx>,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            name: "host".into(),
            engine: EngineConfig::default(),
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            cache_dir: None,
            routing: RoutingMode::LoopbackFirst,
            watchdog: Duration::from_secs(1),
            output: print_sink(),
            uuid: silverline_manifest::HostUuid::new_v4().as_str().to_string(),
            realtime_policy: crate::realtime::RealtimePolicy::Auto,
            best_effort_cpu: None,
            pm_qos: Some(0),
            wake_early: DEFAULT_WAKE_EARLY,
            apis: crate::ctx::builtin_apis(),
        }
    }
}

impl HostConfig {
    /// Same as `Default`.
    pub fn new() -> Self {
        Self::default()
    }
    /// Offer modules one more API (the built-in ones are always there); refused when its name
    /// or one of its import modules is taken.
    pub fn api(&mut self, api: std::sync::Arc<dyn silverline_hostapi::HostApi<ModuleCtx>>) -> anyhow::Result<&mut Self> {
        self.apis.register(api)?;
        Ok(self)
    }
    /// The Host's name (as in its host manifest).
    pub fn name(&mut self, name: impl Into<String>) -> &mut Self {
        self.name = name.into();
        self
    }
    /// Engine settings (allocation, pool size, memory reservation, epoch tick).
    pub fn engine(&mut self, engine: EngineConfig) -> &mut Self {
        self.engine = engine;
        self
    }
    /// Worker threads for activations; defaults to the number of cores.
    pub fn workers(&mut self, n: usize) -> &mut Self {
        self.workers = n.max(1);
        self
    }
    /// Keep compiled modules on disk here, so a restarted Host does not compile again.
    pub fn cache_dir(&mut self, dir: impl Into<PathBuf>) -> &mut Self {
        self.cache_dir = Some(dir.into());
        self
    }
    /// Loopback first (default) or everything through the broker.
    pub fn routing(&mut self, mode: RoutingMode) -> &mut Self {
        self.routing = mode;
        self
    }
    /// Wall-clock limit of an activation whose manifest sets no deadline. A module running
    /// longer is interrupted and fails with `deadline-exceeded`.
    pub fn watchdog(&mut self, d: Duration) -> &mut Self {
        self.watchdog = d;
        self
    }
    /// The Host's uuid (as in its host manifest); random by default.
    pub fn uuid(&mut self, uuid: impl Into<String>) -> &mut Self {
        self.uuid = uuid.into();
        self
    }
    /// Which real-time policy real-time modules get: SCHED_DEADLINE where granted, else
    /// SCHED_FIFO (`Auto`, the default); fixed priorities only (`Fifo`); none (`Off`).
    pub fn realtime_policy(&mut self, policy: crate::realtime::RealtimePolicy) -> &mut Self {
        self.realtime_policy = policy;
        self
    }
    /// Confine best-effort modules (the worker pool and command threads) to this many CPUs
    /// with a cgroup CPU quota, e.g. 0.5; real-time modules stay outside. Where cgroups refuse,
    /// the Host runs without and its status says why.
    pub fn best_effort_cpu(&mut self, cores: Option<f64>) -> &mut Self {
        self.best_effort_cpu = cores;
        self
    }
    /// The CPU wake-up latency bound, in microseconds, held on `/dev/cpu_dma_latency` while
    /// real-time modules run (default 0: no idle state slower than polling); `None` holds
    /// nothing, trading wake-up latency for power.
    pub fn pm_qos(&mut self, bound_us: Option<u32>) -> &mut Self {
        self.pm_qos = bound_us;
        self
    }
    /// How long before each activation a real-time periodic module's thread wakes and waits on
    /// the CPU, so that the activation does not start with a cold wake-up (default zero: off;
    /// docs/timing.md has what it buys and costs). The time counts against the module's
    /// reservation.
    pub fn wake_early(&mut self, d: Duration) -> &mut Self {
        self.wake_early = d;
        self
    }
    /// Where module output lines go (default: printed with the module's name).
    pub fn output(&mut self, sink: OutputSink) -> &mut Self {
        self.output = sink;
        self
    }
}

/// Why a deployment was refused. Nothing was changed on the Host.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// A module with that id already runs here.
    #[error("module `{0}` is already deployed on this Host")]
    AlreadyDeployed(ModuleId),
    /// The Wasm could not be compiled or linked.
    #[error("module `{id}` cannot be loaded: {message}")]
    Load {
        /// Module id.
        id: ModuleId,
        /// What went wrong (compile error, unknown import, ...).
        message: String,
    },
    /// Every module slot of the Host is taken.
    #[error("module `{id}` does not fit: all {slots} module slots of this Host are in use (its --max-modules)")]
    NoSlot {
        /// Module id.
        id: ModuleId,
        /// The Host's module slots.
        slots: u32,
    },
    /// Instantiation or initialisation failed.
    #[error("module `{id}` failed to start: {failure}")]
    Start {
        /// Module id.
        id: ModuleId,
        /// Why.
        failure: Failure,
    },
}

/// Work for the worker threads.
enum Job {
    Activate { module: Arc<ModuleRuntime>, k: i64, scheduled: Option<Instant> },
    Restart(Arc<ModuleRuntime>),
}

/// What modules of one metering are compiled and linked with.
struct Toolchain {
    cache: ModuleCache,
    linker: Linker<ModuleCtx>,
}

impl Toolchain {
    fn new(engine: &wasmtime::Engine, cache_dir: Option<PathBuf>, apis: &silverline_hostapi::ApiSet<ModuleCtx>) -> anyhow::Result<Toolchain> {
        Ok(Toolchain { cache: ModuleCache::new(engine.clone(), cache_dir)?, linker: linker(engine, apis)? })
    }
}

/// The port of output channel `c` of `spec`: under the Host's lease unless the module is a
/// hot-standby replica or a failover sidecar (their outputs follow the sidecars' lease rule,
/// which must hold while the Orchestrator is unreachable). All of a module's ports share its
/// publish budget, `limit`.
fn output_port(router: &Arc<Router>, spec: &ModuleSpec, c: &silverline_manifest::ChannelSpec, limit: &Arc<silverline_channels::PublishLimit>) -> Arc<silverline_channels::OutputPort> {
    let port = router.output_port(c.endpoint.as_str(), c.active);
    port.share_limit(limit.clone());
    if spec.replicas > 1 || spec.sidecar {
        port.exempt_from_fence();
    }
    port
}

/// The gate of a module's writes through plug-in APIs, switched like an output channel (named
/// [`silverline_manifest::API_WRITES`]): a staged shadow, a standby replica or a fenced Host
/// writes no signal, as it publishes no message. It carries no messages itself.
fn api_writes_port(router: &Arc<Router>, spec: &ModuleSpec, id: &ModuleId) -> Arc<silverline_channels::OutputPort> {
    let port = router.output_port(&format!("$apis/{id}"), spec.outputs_active);
    if spec.replicas > 1 || spec.sidecar {
        port.exempt_from_fence();
    }
    port
}

/// The shortest wait before a failed module is restarted, whatever its manifest says.
pub const MIN_RESTART_BACKOFF: Duration = Duration::from_millis(10);

/// A crash-looping module waits at least this many times as long as its failed attempt held a
/// worker, so that it takes at most a fifth of one and its neighbours keep their rate.
pub const RESTART_HOLD_FACTOR: u32 = 4;

/// The wait before restart `attempt` (1 = the first): the manifest's first back-off, doubled on
/// each further restart, but never under [`MIN_RESTART_BACKOFF`] nor under
/// [`RESTART_HOLD_FACTOR`] times what the failed attempt used (a module stopped by its deadline
/// held a worker that long).
fn restart_backoff(first: Duration, attempt: u32, failure: &Failure) -> Duration {
    let doubled = first.saturating_mul(1 << attempt.saturating_sub(1).min(16));
    let held = match failure {
        Failure::DeadlineExceeded { deadline_ns } => Duration::from_nanos(*deadline_ns),
        _ => Duration::ZERO,
    };
    doubled.max(MIN_RESTART_BACKOFF).max(held * RESTART_HOLD_FACTOR)
}

/// Every API the Host offers modules, linked for `engine`.
pub(crate) fn linker(engine: &wasmtime::Engine, apis: &silverline_hostapi::ApiSet<ModuleCtx>) -> anyhow::Result<Linker<ModuleCtx>> {
    let mut linker = Linker::new(engine);
    apis.add_to_linker(&mut linker)?;
    Ok(linker)
}

/// Refuse a module that imports from an import module no API of this Host provides, naming
/// the import (the linker's own error would name only the first function).
fn check_imports(module: &wasmtime::Module, apis: &silverline_hostapi::ApiSet<ModuleCtx>) -> anyhow::Result<()> {
    for import in module.imports() {
        if apis.provider(import.module()).is_none() {
            let api = silverline_manifest::api_of_import(import.module()).map_or(String::new(), |a| format!(", from the API `{a}`,"));
            anyhow::bail!("the module imports `{}.{}`{api} which this Host does not offer (it offers {})", import.module(), import.name(), apis.names().join(", "));
        }
    }
    Ok(())
}

pub(crate) struct Shared {
    config: HostConfig,
    engine: SlEngine,
    unmetered: Toolchain,
    metered: Toolchain,
    router: Arc<Router>,
    modules: RwLock<BTreeMap<ModuleId, Arc<ModuleRuntime>>>,
    timers: Arc<TimerQueue>,
    jobs: Sender<Job>,
    subscribers: Mutex<Vec<Sender<HostEvent>>>,
    changed: (Mutex<u64>, Condvar),
    waiters: AtomicUsize,
    epoch: Instant,
    realtime: String,
    load: crate::sidecar::LoadGauge,
    /// The best-effort CPU quota, or why there is none (`None`: none was asked for).
    quota: Option<Result<crate::cpuquota::CpuQuota, String>>,
    /// The wake-up latency request real-time threads hold.
    wakeup: crate::pmqos::WakeupLatency,
}

/// A silverline Host: runs many Wasm modules with the channel API.
///
/// Cloning gives another handle to the same Host.
#[derive(Clone)]
pub struct Host {
    shared: Arc<Shared>,
}

impl Host {
    /// Start a Host: engine, timer thread and worker pool.
    pub fn new(config: HostConfig) -> anyhow::Result<Host> {
        let engine = SlEngine::new(&config.engine)?;
        let unmetered = Toolchain::new(engine.engine(Metering::Unmetered), config.cache_dir.clone(), &config.apis)?;
        let metered = Toolchain::new(engine.engine(Metering::Fuel), config.cache_dir.clone(), &config.apis)?;
        let (jobs, job_rx) = crossbeam_channel::unbounded();
        let config_policy = config.realtime_policy;
        let (quota_cores, quota_name, pm_qos) = (config.best_effort_cpu, config.name.clone(), config.pm_qos);
        let shared = Arc::new(Shared {
            router: Router::new(config.routing),
            config,
            engine,
            unmetered,
            metered,
            modules: RwLock::new(BTreeMap::new()),
            timers: Arc::new(TimerQueue::default()),
            jobs,
            subscribers: Mutex::new(Vec::new()),
            changed: (Mutex::new(0), Condvar::new()),
            waiters: AtomicUsize::new(0),
            epoch: Instant::now(),
            realtime: crate::realtime::probe(config_policy),
            load: crate::sidecar::LoadGauge::default(),
            quota: quota_cores.map(|cores| crate::cpuquota::CpuQuota::create(cores, &quota_name)),
            wakeup: crate::pmqos::WakeupLatency::new(pm_qos),
        });
        if let Some(Err(why)) = &shared.quota {
            tracing::warn!("no CPU quota for best-effort modules ({why}): they may use every core");
        }
        if shared.realtime.starts_with("none") {
            tracing::warn!(
                "real-time policies unavailable ({}): real-time modules will run as best effort, \
                 contained by fuel budgets and deadlines only",
                shared.realtime
            );
        }
        spawn_threads(&shared, job_rx)?;
        Ok(Host { shared })
    }

    /// The Host's channel router (attach a remote backend here).
    pub fn router(&self) -> &Arc<Router> {
        &self.shared.router
    }

    /// The Host's name.
    pub fn name(&self) -> &str {
        &self.shared.config.name
    }

    /// The APIs this Host offers modules, as its host manifest advertises them.
    pub fn apis(&self) -> Vec<String> {
        self.shared.config.apis.names()
    }

    /// Which API provides each import module: (import module, API name).
    pub fn api_imports(&self) -> Vec<(String, String)> {
        self.shared.config.apis.imports()
    }

    /// Compile (or fetch from the cache) for modules without a fuel budget and return the
    /// sha256 of `wasm`.
    pub fn precompile(&self, wasm: &[u8]) -> anyhow::Result<Digest256> {
        Ok(self.shared.toolchain(Metering::Unmetered).cache.get_or_compile(wasm)?.0)
    }

    /// Most module instances this Host holds at once.
    pub fn module_slots(&self) -> u32 {
        self.shared.engine.max_modules
    }

    /// Deploy every module of an application, reading their files; all or nothing.
    ///
    /// Every module is instantiated and subscribed before any is triggered, so no module misses
    /// the first messages of a co-located producer.
    pub fn deploy_app(&self, app: &ApplicationManifest) -> anyhow::Result<Vec<ModuleId>> {
        if let Some(spec) = app.modules.first() {
            self.check_slots(app.modules.len(), || ModuleId::new(app.name.as_str(), spec.name.as_str()))?;
        }
        let mut prepared = Vec::new();
        for spec in &app.modules {
            let wasm = crate::cache::read_wasm_file(&spec.file)
                .with_context(|| format!("module `{}`", spec.name.as_str()))?;
            let id = ModuleId::new(app.name.as_str(), spec.name.as_str());
            prepared.push(self.prepare(id, app.name.as_str(), spec, &wasm)?);
        }
        self.claim_ids(&prepared)?;
        prepared.iter().for_each(|m| self.connect_inputs(m));
        prepared.iter().for_each(|m| self.shared.start(m));
        Ok(prepared.iter().map(|m| m.id.clone()).collect())
    }

    /// Deploy one module instance. On error nothing changed.
    pub fn deploy(&self, id: ModuleId, app: &str, spec: &ModuleSpec, wasm: &[u8]) -> Result<ModuleId, DeployError> {
        self.check_slots(1, || id.clone())?;
        let runtime = self.prepare(id, app, spec, wasm)?;
        self.claim_ids(std::slice::from_ref(&runtime))?;
        self.connect_inputs(&runtime);
        self.shared.start(&runtime);
        Ok(runtime.id.clone())
    }

    /// Refuse `n` more modules before anything is compiled when the slots cannot take them.
    fn check_slots(&self, n: usize, id: impl FnOnce() -> ModuleId) -> Result<(), DeployError> {
        let slots = self.module_slots();
        match self.shared.modules.read().len() + n > slots as usize {
            true => Err(DeployError::NoSlot { id: id(), slots }),
            false => Ok(()),
        }
    }

    /// Register module instances under their ids, or none of them if an id is taken or the
    /// slots are full.
    fn claim_ids(&self, runtimes: &[Arc<ModuleRuntime>]) -> Result<(), DeployError> {
        let mut modules = self.shared.modules.write();
        if let Some(taken) = runtimes.iter().find(|m| modules.contains_key(&m.id)) {
            return Err(DeployError::AlreadyDeployed(taken.id.clone()));
        }
        let slots = self.module_slots();
        if let Some(first) = runtimes.first().filter(|_| modules.len() + runtimes.len() > slots as usize) {
            return Err(DeployError::NoSlot { id: first.id.clone(), slots });
        }
        for m in runtimes {
            modules.insert(m.id.clone(), m.clone());
        }
        Ok(())
    }

    /// Compile, link and instantiate a module, without registering or triggering it.
    fn prepare(&self, id: ModuleId, app: &str, spec: &ModuleSpec, wasm: &[u8]) -> Result<Arc<ModuleRuntime>, DeployError> {
        let s = &self.shared;
        if s.modules.read().contains_key(&id) {
            return Err(DeployError::AlreadyDeployed(id));
        }
        let load_err = |e: anyhow::Error| DeployError::Load { id: id.clone(), message: format!("{e:#}") };
        let wasm = crate::cache::wasm_from_bytes(wasm).map_err(load_err)?;
        let metering = Metering::for_budget(spec.resources.fuel);
        let tools = s.toolchain(metering);
        let (digest, module) = tools.cache.get_or_compile(&wasm).map_err(load_err)?;
        check_imports(&module, &s.config.apis).map_err(load_err)?;
        if crate::sidecar::imports_sidecar_api(&module) && !spec.sidecar {
            return Err(load_err(anyhow::anyhow!("the module imports `sl_sidecar` but its manifest does not declare `sidecar: true`")));
        }
        let pre = crate::refabi::instantiate_pre(&tools.linker, &module).map_err(load_err)?;
        let runtime = Arc::new(ModuleRuntime::new(ModuleParts {
            id: id.clone(),
            app: app.to_string(),
            spec: spec.clone(),
            sha256: digest.0,
            pre,
            inputs: spec.inputs.iter().map(|c| (c.name.as_str().to_string(), Arc::new(InputQueue::new(c.queue_depth)))).collect(),
            outputs: {
                let limit = Arc::new(silverline_channels::PublishLimit::new(spec.resources.max_publish_per_second, spec.resources.max_publish_bytes_per_second));
                let mut ports: Vec<_> = spec.outputs.iter().map(|c| (c.name.as_str().to_string(), output_port(&s.router, spec, c, &limit))).collect();
                if crate::ctx::writes_through_plugins(&module) {
                    ports.push((silverline_manifest::API_WRITES.to_string(), api_writes_port(&s.router, spec, &id)));
                }
                ports
            },
            sink: s.config.output.clone(),
            host_epoch: s.epoch,
            watchdog: s.config.watchdog,
            router: s.router.clone(),
            host_uuid: s.config.uuid.clone(),
            services: Arc::new(Services(Arc::downgrade(&self.shared))),
            apis: s.config.apis.clone(),
            memory_ceiling: s.engine.memory_ceiling(metering),
        }));
        *runtime.api_watch.lock() = self.watch_api(&runtime).map_err(load_err)?;
        let live = runtime.instantiate(&s.engine, false).map_err(|failure| DeployError::Start { id, failure })?;
        *runtime.live.lock() = Some(live);
        Ok(runtime)
    }

    /// For a module triggered by an API, ask the API to wake it whenever its source changes
    /// (an unknown API or source refuses the deploy).
    fn watch_api(&self, runtime: &Arc<ModuleRuntime>) -> anyhow::Result<Option<Box<dyn std::any::Any + Send + Sync>>> {
        let Trigger::Api { api, source } = &runtime.spec.trigger else { return Ok(None) };
        let provider = self.shared.config.apis.get(api).ok_or_else(|| {
            anyhow::anyhow!("the trigger asks the API `{api}`, which this Host does not offer (it offers {})", self.apis().join(", "))
        })?;
        let (module, host) = (Arc::downgrade(runtime), Arc::downgrade(&self.shared));
        let wake: silverline_hostapi::Waker = Arc::new(move || {
            if let (Some(m), Some(h)) = (module.upgrade(), host.upgrade()) {
                m.wake_pending.store(true, Ordering::Release);
                h.dispatch_event(&m);
            }
        });
        provider.trigger(&runtime.info(), source, wake).map(Some)
    }

    fn connect_inputs(&self, runtime: &Arc<ModuleRuntime>) {
        for ((_, queue), spec) in runtime.inputs.iter().zip(&runtime.spec.inputs) {
            self.shared.router.subscribe(spec.endpoint.as_str(), queue.clone());
        }
        if let Some(queue) = &runtime.trigger_queue {
            let module = Arc::downgrade(runtime);
            let host = Arc::downgrade(&self.shared);
            queue.add_waker(move || {
                if let (Some(m), Some(h)) = (module.upgrade(), host.upgrade()) {
                    h.dispatch_event(&m);
                }
            });
        }
    }

    /// Stop and remove a module instance. Returns false if there was none.
    pub fn remove(&self, id: &ModuleId) -> bool {
        let Some(runtime) = self.shared.modules.write().remove(id) else { return false };
        runtime.removed.store(true, Ordering::Release);
        runtime.api_watch.lock().take();
        runtime.stop.store(true, Ordering::Release);
        runtime.notify.notify();
        for (_, port) in &runtime.outputs {
            port.set_active(false);
        }
        for ((_, queue), spec) in runtime.inputs.iter().zip(&runtime.spec.inputs) {
            self.shared.router.unsubscribe(spec.endpoint.as_str(), queue);
        }
        *runtime.state.lock() = ModuleState::Stopped;
        runtime.rt.end(); // ends a real-time event thread
        if runtime.on_rt_thread() {
            self.shared.repartition();
        }
        *runtime.live.lock() = None; // waits for a running activation to end
        if !runtime.running_command.load(Ordering::Acquire) {
            self.shared.emit(id, EventKind::Stopped);
        } // else its thread reports `Stopped` once `_start` has returned
        true
    }

    /// Activate or deactivate an output channel of a module. Returns the previous state.
    pub fn set_channel_active(&self, id: &ModuleId, channel: &str, active: bool) -> anyhow::Result<bool> {
        let modules = self.shared.modules.read();
        let runtime = modules.get(id).with_context(|| format!("no module `{id}` on this Host"))?;
        if channel == silverline_manifest::API_WRITES && !runtime.outputs.iter().any(|(n, _)| n == channel) {
            return Ok(false); // it writes through no plug-in API: nothing to switch
        }
        let (_, port) = runtime
            .outputs
            .iter()
            .find(|(n, _)| n == channel)
            .with_context(|| format!("module `{id}` has no output channel `{channel}`"))?;
        Ok(port.set_active(active))
    }

    /// Activate or deactivate an output channel from periodic activation `from` on: activations
    /// before it publish as now, activation `from` and later with the new state. This is how a
    /// zero-downtime update hands over on a period boundary, across Hosts: the old version goes
    /// quiet at the same index at which the new one starts to speak.
    ///
    /// Refused when `from` has already started (too late to be exact) or the module is not
    /// periodic. A later call for the same channel replaces a pending one.
    pub fn set_channel_active_from(&self, id: &ModuleId, channel: &str, active: bool, from: i64) -> anyhow::Result<()> {
        let modules = self.shared.modules.read();
        let runtime = modules.get(id).with_context(|| format!("no module `{id}` on this Host"))?;
        runtime.schedule_switch(channel, active, from)
    }

    /// State and profile of every module.
    pub fn status(&self) -> HostStatus {
        self.status_window(0, usize::MAX).0
    }

    /// The Host's status with the modules at positions `from..from + take` (in id order)
    /// only, and how many modules there are: what a report of thousands of modules pages
    /// through, at a cost proportional to `take`.
    pub fn status_window(&self, from: usize, take: usize) -> (HostStatus, usize) {
        let modules = self.shared.modules.read();
        let total = modules.len();
        let window = modules.values().skip(from).take(take).map(|m| m.status()).collect();
        drop(modules);
        (self.host_status(window), total)
    }

    /// The ids of every module, in id order.
    pub fn module_ids(&self) -> Vec<ModuleId> {
        self.shared.modules.read().keys().cloned().collect()
    }

    /// Every module's id and the sha256 of its Wasm, in id order: what a registration lists,
    /// without the cost of a status.
    pub fn module_digests(&self) -> Vec<(ModuleId, String)> {
        self.shared.modules.read().values().map(|m| (m.id.clone(), m.sha256.clone())).collect()
    }

    /// The status of one module.
    pub fn module_status(&self, id: &ModuleId) -> Option<ModuleStatus> {
        self.shared.modules.read().get(id).map(|m| m.status())
    }

    fn host_status(&self, modules: Vec<ModuleStatus>) -> HostStatus {
        let s = &self.shared;
        HostStatus {
            name: s.config.name.clone(),
            pooled_allocation: s.engine.is_pooled(),
            module_slots: s.engine.max_modules,
            slot_memory_bytes: s.engine.pooled_memory.unwrap_or(0),
            workers: s.config.workers,
            cached_modules: s.unmetered.cache.len() + s.metered.cache.len(),
            realtime: s.realtime.clone(),
            best_effort_cpu: match &s.quota {
                None => String::new(),
                Some(Ok(q)) => q.describe(),
                Some(Err(why)) => format!("refused: {why}"),
            },
            wakeup_latency: s.wakeup.status(),
            fenced: !s.router.fence().is_open(),
            apis: s.config.apis.status(),
            modules,
        }
    }

    /// The most recent periodic activations of a module, as scheduled and run.
    pub fn activation_log(&self, id: &ModuleId) -> Vec<ActivationRecord> {
        self.shared.modules.read().get(id).map(|m| m.activation_log()).unwrap_or_default()
    }

    /// Receive every [`HostEvent`] from now on.
    pub fn events(&self) -> Receiver<HostEvent> {
        let (tx, rx) = crossbeam_channel::unbounded();
        self.shared.subscribers.lock().push(tx);
        rx
    }

    /// Wait until `pred` holds for the Host's status, re-checking after every activation and
    /// event. Returns false on timeout.
    pub fn wait_for(&self, timeout: Duration, pred: impl Fn(&HostStatus) -> bool) -> bool {
        self.wait_until(timeout, || pred(&self.status()))
    }

    /// [`Host::wait_for`] on the module counts: cheap enough to re-check after every
    /// activation of thousands of modules.
    pub fn wait_for_counts(&self, timeout: Duration, pred: impl Fn(&ModuleCounts) -> bool) -> bool {
        self.wait_until(timeout, || pred(&self.counts()))
    }

    /// How many modules there are, run, failed, never ran, and their activations.
    pub fn counts(&self) -> ModuleCounts {
        let mut c = ModuleCounts::default();
        for m in self.shared.modules.read().values() {
            let activations = m.profile.activations.load(Ordering::Relaxed);
            c.modules += 1;
            c.activations += activations;
            c.never_activated += u64::from(activations == 0);
            match &*m.state.lock() {
                ModuleState::Running => c.running += 1,
                ModuleState::Failed { .. } => c.failed += 1,
                _ => {}
            }
        }
        c
    }

    fn wait_until(&self, timeout: Duration, check: impl Fn() -> bool) -> bool {
        // Far enough to mean "forever" without overflowing `Instant`.
        let deadline = Instant::now() + timeout.min(Duration::from_secs(100 * 365 * 86400));
        let (lock, cond) = &self.shared.changed;
        self.shared.waiters.fetch_add(1, Ordering::SeqCst);
        let result = loop {
            let seen = *lock.lock();
            if check() {
                break true;
            }
            let mut generation = lock.lock();
            if *generation == seen && cond.wait_until(&mut generation, deadline).timed_out() {
                break check();
            }
        };
        self.shared.waiters.fetch_sub(1, Ordering::SeqCst);
        result
    }

    /// Remove every module and stop the Host's threads.
    pub fn shutdown(&self) {
        let ids: Vec<ModuleId> = self.shared.modules.read().keys().cloned().collect();
        for id in ids {
            self.remove(&id);
        }
        self.shared.timers.stop();
    }
}

impl Shared {
    fn toolchain(&self, m: Metering) -> &Toolchain {
        match m {
            Metering::Unmetered => &self.unmetered,
            Metering::Fuel => &self.metered,
        }
    }

    /// Begin triggering a freshly instantiated module.
    fn start(self: &Arc<Self>, m: &Arc<ModuleRuntime>) {
        *m.state.lock() = ModuleState::Running;
        self.emit(&m.id, EventKind::Started);
        match &m.spec.trigger {
            Trigger::Periodic { period, offset } if m.has_start() => {
                // A long-running command paces itself with `period_start`.
                *m.clock.lock() = Some(PeriodicClock::starting_now(*period, *offset));
            }
            Trigger::Periodic { period, offset } if m.is_realtime() => self.spawn_realtime(m.clone(), *period, *offset),
            Trigger::Periodic { period, offset } => {
                let clock = PeriodicClock::starting_now(*period, *offset);
                *m.clock.lock() = Some(clock);
                self.timers.push(clock.at(clock.first()), m, TimerKind::Tick(clock.first()));
            }
            Trigger::Event { .. } if m.has_start() => {}
            Trigger::Event { .. } if m.is_realtime_event() => self.spawn_realtime_event(m.clone()),
            Trigger::Event { .. } | Trigger::Api { .. } => self.dispatch_event(m),
            Trigger::Command => {}
        }
        if m.has_start() {
            self.spawn_command(m.clone());
        }
    }

    /// A timer fired (runs on the timer thread: keep it short).
    fn on_timer(&self, m: Arc<ModuleRuntime>, kind: TimerKind, at: Instant) {
        if m.removed.load(Ordering::Acquire) {
            return;
        }
        match kind {
            TimerKind::Restart => {
                let _ = self.jobs.send(Job::Restart(m));
            }
            TimerKind::Wake(seq) => {
                if m.wake_seq.load(Ordering::Acquire) == seq {
                    m.wake_pending.store(true, Ordering::Release);
                    self.dispatch_event(&m);
                }
            }
            TimerKind::Tick(k) => {
                if *m.state.lock() != ModuleState::Running {
                    return; // a restart re-arms the clock
                }
                if let Some(clock) = *m.clock.lock() {
                    self.timers.push(clock.at(k + 1), &m, TimerKind::Tick(k + 1));
                }
                match m.claim_or_defer(k, at) {
                    Claim::Run => {
                        let _ = self.jobs.send(Job::Activate { module: m, k, scheduled: Some(at) });
                    }
                    Claim::Deferred { dropped: Some(k) } => self.skipped(&m, k, 1, SkipReason::Behind),
                    Claim::Deferred { dropped: None } => {}
                }
            }
        }
    }

    /// Queue an event activation if a message waits and the module is idle (a real-time event
    /// module's own thread is kicked instead).
    fn dispatch_event(&self, m: &Arc<ModuleRuntime>) {
        if m.rt.kick() {
            return;
        }
        let waiting = match &m.trigger_queue {
            Some(queue) => !queue.is_empty(),
            None if matches!(m.spec.trigger, Trigger::Api { .. }) => false,
            None => return,
        };
        let woken = m.wake_pending.load(Ordering::Acquire);
        if (!waiting && !woken) || m.removed.load(Ordering::Acquire) || *m.state.lock() != ModuleState::Running {
            return;
        }
        if m.busy.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            let k = m.next_event_index.fetch_add(1, Ordering::Relaxed);
            let _ = self.jobs.send(Job::Activate { module: m.clone(), k, scheduled: None });
        }
    }

    fn run_job(self: &Arc<Self>, job: Job) {
        match job {
            Job::Activate { module, k, scheduled } => {
                let result = self.activate_and_report(&module, k, scheduled);
                if let Err(failure) = result {
                    module.drop_deferred();
                    self.fail(&module, failure);
                } else if let Some((k, at)) = module.next_or_idle() {
                    // Still busy: run the activation that came due meanwhile, late but in order.
                    let _ = self.jobs.send(Job::Activate { module, k, scheduled: Some(at) });
                } else {
                    self.dispatch_event(&module);
                }
            }
            Job::Restart(module) => match module.instantiate(&self.engine, false) {
                Ok(live) if !module.removed.load(Ordering::Acquire) => {
                    *module.live.lock() = Some(live);
                    module.restarts.fetch_add(1, Ordering::Relaxed);
                    self.start(&module);
                }
                Ok(_) => {}
                Err(failure) => self.fail(&module, failure),
            },
        }
        self.notify_changed();
    }

    /// A module failed: drop its instance and restart it after a back-off if its policy allows.
    pub(crate) fn fail(&self, m: &Arc<ModuleRuntime>, failure: Failure) {
        if m.removed.load(Ordering::Acquire) {
            return;
        }
        *m.live.lock() = None;
        tracing::warn!(module = %m.id, "module failed: {failure}");
        let policy = &m.spec.restart;
        let attempt = m.restarts.load(Ordering::Relaxed) + 1;
        let allowed = match policy.policy {
            RestartMode::Never => false,
            RestartMode::OnFailure | RestartMode::Always => attempt <= policy.max_restarts,
        };
        // The state first, then the events: whoever reacts to an event sees the state it reports.
        if !allowed {
            *m.state.lock() = ModuleState::Failed { failure: failure.clone() };
            self.emit(&m.id, EventKind::Failed { failure });
            return;
        }
        let backoff = restart_backoff(policy.backoff, attempt, &failure);
        *m.state.lock() = ModuleState::Restarting { failure: failure.clone(), attempt };
        self.emit(&m.id, EventKind::Failed { failure });
        self.emit(&m.id, EventKind::Restarting { attempt, backoff_ns: backoff.as_nanos() as u64 });
        self.timers.push(Instant::now() + backoff, m, TimerKind::Restart);
    }

    /// Run one activation unless the `onOverrun` policy skips it; a deadline miss becomes an
    /// event and goes to the policy.
    pub(crate) fn activate_and_report(&self, m: &Arc<ModuleRuntime>, k: i64, scheduled: Option<Instant>) -> Result<(), Failure> {
        let skip = m.overrun.lock().skip(k);
        if let Some(reason) = skip {
            self.skipped(m, k, 1, reason);
            return Ok(());
        }
        let misses = m.profile.deadline_misses.load(Ordering::Relaxed);
        if m.apply_gate(k) == Some(false) {
            self.emit(&m.id, EventKind::LeaseExpired { activation: k });
        }
        let started = Instant::now();
        let result = m.activate(&self.engine, k, scheduled);
        let missed = m.profile.deadline_misses.load(Ordering::Relaxed) > misses;
        let late = missed.then(|| {
            let released = scheduled.unwrap_or(started);
            Instant::now().saturating_duration_since(released + m.spec.resources.deadline.unwrap_or_default()).as_nanos() as u64
        });
        if let Some(late_ns) = late {
            self.emit(&m.id, EventKind::DeadlineMiss { activation: k, late_ns });
        }
        result?;
        let after = m.overrun.lock().after(m.spec.resources.on_overrun, missed);
        match after {
            After::Nothing => Ok(()),
            After::Degraded => {
                self.emit(&m.id, EventKind::Degraded { activation: k });
                Ok(())
            }
            After::Recovered => {
                self.emit(&m.id, EventKind::Recovered { activation: k + 1 });
                Ok(())
            }
            After::Stop => Err(Failure::DeadlineMissed { activation: k, late_ns: late.unwrap_or_default() }),
        }
    }

    /// A real-time module gets a thread of its own under a real-time policy; it sleeps until each
    /// activation's absolute time and runs it, never waiting for the shared timer or pool.
    fn spawn_realtime(self: &Arc<Self>, m: Arc<ModuleRuntime>, period: Duration, offset: Duration) {
        let clock = PeriodicClock::starting_now(period, offset);
        *m.clock.lock() = Some(clock);
        let early = self.config.wake_early.min(period / 4);
        self.spawn_rt_thread(m, "", early, move |host, m| crate::rtthread::periodic_loop(host, m, clock, early));
    }

    /// A real-time event-triggered module gets a thread of its own under a real-time policy (a
    /// sporadic reservation, see `ModuleRuntime::reservation`); it sleeps until a message or a
    /// wake-up arrives and runs one activation per message, never waiting for the shared pool.
    fn spawn_realtime_event(self: &Arc<Self>, m: Arc<ModuleRuntime>) {
        let kicked = crate::rtthread::arm_kick(&m);
        self.spawn_rt_thread(m, ", sporadic (woken by its messages)", Duration::ZERO, move |host, m| crate::rtthread::event_loop(host, m, &kicked));
    }

    /// Start `m`'s real-time thread: it holds the Host's wake-up latency request, takes the best
    /// policy the Host allows for the module's reservation (plus the time it wakes `early`),
    /// records what it got (with `note`), then runs `body`.
    fn spawn_rt_thread(self: &Arc<Self>, m: Arc<ModuleRuntime>, note: &'static str, early: Duration, body: impl FnOnce(&std::sync::Weak<Shared>, &Arc<ModuleRuntime>) + Send + 'static) {
        let host = Arc::downgrade(self);
        let policy = self.config.realtime_policy;
        let wakeup = self.wakeup.clone();
        let id = m.id.clone();
        let spawned = std::thread::Builder::new().name(format!("rt-{}", m.id)).spawn(move || {
            let Some(r) = m.reservation().map(|r| r.waking_early(early)) else { return };
            let _released_on_exit = m.rt.hold_for_this_thread(wakeup.hold());
            *m.rt.scheduling.lock() = match crate::realtime::apply(&r, policy) {
                Ok(got) => {
                    if got.starts_with("SCHED_DEADLINE") {
                        m.rt.granted(r);
                    }
                    format!("{got}{note}")
                }
                Err(why) => {
                    tracing::warn!(module = %m.id, "no real-time policy ({why}); running as best effort");
                    format!("best effort on its own thread{note} (fallback: {why})")
                }
            };
            body(&host, &m);
        });
        match spawned {
            Ok(_) => self.repartition(),
            Err(e) => tracing::error!("cannot start the real-time thread of {id}: {e}"),
        }
    }

    /// `count` periodic activations from `activation` on did not run (`reason`: `behind`,
    /// `skip-next`, `degrade`): counted as overruns and reported.
    pub(crate) fn skipped(&self, m: &ModuleRuntime, activation: i64, count: u64, reason: SkipReason) {
        m.profile.skips.lock().add(reason, count);
        self.emit(&m.id, EventKind::Skipped { activation, count, reason });
    }

    /// Put the calling (best-effort) thread under the CPU quota, if there is one.
    fn join_quota(&self) {
        if let Some(Ok(quota)) = &self.quota {
            if let Err(e) = quota.join_current_thread() {
                tracing::warn!("{e}: this thread runs without the best-effort CPU quota");
            }
        }
    }

    /// Under SCHED_FIFO: partition the real-time modules onto the cores (the algorithm the
    /// Orchestrator's admission used) and rank their priorities deadline-monotonically; each
    /// module's thread takes its new slot before its next activation.
    fn repartition(&self) {
        if !self.realtime.starts_with("SCHED_FIFO") {
            return; // SCHED_DEADLINE schedules globally; without a policy there is nothing to pin
        }
        // Not under the modules lock: `on_rt_thread` may wait for a running activation.
        let all: Vec<Arc<ModuleRuntime>> = self.modules.read().values().cloned().collect();
        let live = |m: &&Arc<ModuleRuntime>| m.on_rt_thread() && !m.removed.load(Ordering::Acquire);
        let (modules, tasks): (Vec<Arc<ModuleRuntime>>, Vec<silverline_placement::RtTask>) =
            all.iter().filter(live).filter_map(|m| Some((m.clone(), m.reservation()?.task(m.id.as_str())))).unzip();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
        let partition = silverline_placement::rta::partition(cores, &tasks);
        if let Err(miss) = &partition {
            tracing::warn!(
                "real-time modules do not fit the cores under fixed priorities ({} would respond in {:?} > deadline {:?}): running them unpinned",
                miss.task,
                Duration::from_nanos(miss.response_ns),
                Duration::from_nanos(miss.deadline_ns)
            );
        }
        let mut ranked: Vec<usize> = (0..tasks.len()).collect();
        ranked.sort_by(|&a, &b| silverline_placement::rta::priority(&tasks[a], &tasks[b]));
        for (rank, &i) in ranked.iter().enumerate() {
            modules[i].rt.assign(crate::rtthread::RtSlot { priority: crate::realtime::fifo_priority_of_rank(rank), core: partition.as_ref().ok().map(|c| c[i]) });
        }
    }

    /// Command modules run once, on a thread of their own: they may block for long.
    fn spawn_command(self: &Arc<Self>, m: Arc<ModuleRuntime>) {
        let shared = self.clone();
        m.running_command.store(true, Ordering::Release);
        let spawned = std::thread::Builder::new().name(format!("cmd-{}", m.id)).spawn(move || {
            shared.join_quota();
            let result = m.run_command();
            m.running_command.store(false, Ordering::Release);
            if m.removed.load(Ordering::Acquire) {
                shared.emit(&m.id, EventKind::Stopped);
                return;
            }
            match result {
                Ok(code) => {
                    *m.state.lock() = ModuleState::Completed { exit_code: code };
                    shared.emit(&m.id, EventKind::Completed { exit_code: code });
                }
                Err(failure) => shared.fail(&m, failure),
            }
            shared.notify_changed();
        });
        if let Err(e) = spawned {
            tracing::error!("cannot start a thread for a command module: {e}");
        }
    }

    pub(crate) fn emit(&self, module: &ModuleId, kind: EventKind) {
        let event = HostEvent { module: module.clone(), kind };
        self.subscribers.lock().retain(|tx| tx.send(event.clone()).is_ok());
        self.notify_changed();
    }

    pub(crate) fn notify_changed(&self) {
        if self.waiters.load(Ordering::SeqCst) > 0 {
            *self.changed.0.lock() += 1;
            self.changed.1.notify_all();
        }
    }
}

/// The loop of a real-time module's thread: until the module is removed or fails.
/// The sidecar API's handle on the Host (weak: a module never keeps its Host alive).
struct Services(std::sync::Weak<Shared>);

impl crate::sidecar::HostServices for Services {
    fn wake_at(&self, module: &ModuleId, unix_ns: i64) {
        let Some(shared) = self.0.upgrade() else { return };
        let Some(m) = shared.modules.read().get(module).cloned() else { return };
        if m.trigger_queue.is_none() {
            return; // only event-triggered modules have idle time to be woken from
        }
        let delay = Duration::from_nanos(unix_ns.saturating_sub(crate::sidecar::unix_now_ns()).max(0) as u64);
        let seq = m.wake_seq.fetch_add(1, Ordering::AcqRel) + 1;
        shared.timers.push(Instant::now() + delay, &m, TimerKind::Wake(seq));
    }

    fn set_outputs(&self, caller: &ModuleId, app: &str, name: &str, op: crate::sidecar::OutputsOp, detected_at: i64) -> i32 {
        let Some(shared) = self.0.upgrade() else { return crate::abi::SL_ENOENT };
        shared.set_outputs(caller, app, name, op, detected_at)
    }

    fn load_permille(&self) -> i32 {
        self.0.upgrade().map_or(0, |s| s.load.permille())
    }
}

impl Shared {
    /// `sl_sidecar.set_outputs`: only modules of the caller's own application, never sidecars.
    fn set_outputs(&self, caller: &ModuleId, app: &str, name: &str, op: crate::sidecar::OutputsOp, detected_at: i64) -> i32 {
        use crate::sidecar::{Gate, OutputsOp};
        let modules = self.modules.read();
        let found = modules.values().find(|m| m.app == app && m.spec.name.as_str() == name && !m.spec.sidecar);
        let Some(m) = found.cloned() else { return crate::abi::SL_ENOENT };
        drop(modules);
        let now = crate::sidecar::unix_now_ns();
        let (was_open, gate) = {
            let mut gate = m.gate.lock();
            let was_open = gate.is_some_and(|g| g.from != i64::MAX && g.until > now);
            let next = Gate::after(*gate, op, now);
            *gate = Some(next);
            (was_open, next)
        };
        let detected_at_ns = (detected_at > 0).then_some(detected_at);
        match op {
            OutputsOp::Activate { .. } => {
                self.emit(&m.id, EventKind::OutputsActivated { by: caller.clone(), from_ns: gate.from, until_ns: gate.until, detected_at_ns, applied_ns: now, renewal: false });
            }
            OutputsOp::Deactivate => {
                // At once, also for an activation in progress: silence is the safe side.
                m.outputs.iter().for_each(|(_, port)| {
                    port.set_active(false);
                });
                self.emit(&m.id, EventKind::OutputsDeactivated { by: caller.clone(), detected_at_ns, applied_ns: now });
            }
            // A renewal that (re)opened the gate is an activation too: say so.
            OutputsOp::Renew { .. } if !was_open => {
                self.emit(&m.id, EventKind::OutputsActivated { by: caller.clone(), from_ns: gate.from, until_ns: gate.until, detected_at_ns, applied_ns: now, renewal: true });
            }
            OutputsOp::Renew { .. } => {}
        }
        0
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.timers.stop();
        // Real-time threads notice only at their next wake-up that the Host is gone.
        self.modules.get_mut().values().for_each(|m| m.rt.end());
    }
}

fn spawn_threads(shared: &Arc<Shared>, jobs: Receiver<Job>) -> anyhow::Result<()> {
    for i in 0..shared.config.workers {
        let jobs = jobs.clone();
        let weak = Arc::downgrade(shared);
        std::thread::Builder::new().name(format!("worker-{i}")).spawn(move || {
            weak.upgrade().inspect(|s| s.join_quota());
            while let Ok(job) = jobs.recv() {
                let Some(shared) = weak.upgrade() else { break };
                shared.run_job(job);
            }
        })?;
    }
    // The timer thread holds the Host weakly: dropping the last `Host` handle stops everything.
    let weak = Arc::downgrade(shared);
    let timers = shared.timers.clone();
    std::thread::Builder::new().name("timer".into()).spawn(move || {
        timers.run(|m, kind, at| {
            if let Some(shared) = weak.upgrade() {
                shared.on_timer(m, kind, at);
            }
        });
    })?;
    Ok(())
}
