//! The Wasm engines, configured for many small modules.
//!
//! Two [`wasmtime::Engine`]s per Host, because fuel metering is decided when code is compiled:
//! modules that declare a fuel budget (deterministic bounds on their work) run on the
//! **metered** engine; all others on the **unmetered** one, at near-native speed, contained by
//! epoch deadlines (wall-clock) and memory limits. Epoch interruption is on in both. Compiled
//! code is only valid for the engine that made it, so the module cache is per engine.
//!
//! The unmetered engine owns the instance pool (most modules live there); the metered one
//! allocates on demand, so the two do not reserve the address space twice. Both count against
//! one limit, the Host's module slots.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How instances get their memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Allocation {
    /// Pooling allocator when its address space can be reserved, else on-demand (and say so).
    #[default]
    Auto,
    /// Pooling allocator or fail.
    Pooling,
    /// Allocate each instance's memory on demand (smaller address-space footprint, slower).
    OnDemand,
}

/// Whether a module's code counts fuel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metering {
    /// No fuel counting: contained by deadlines and memory limits.
    Unmetered,
    /// Fuel counted, for modules that declare a fuel budget.
    Fuel,
}

impl Metering {
    /// The metering a module with fuel budget `fuel` needs.
    pub fn for_budget(fuel: Option<u64>) -> Metering {
        if fuel.is_some() { Metering::Fuel } else { Metering::Unmetered }
    }
}

/// Most module instances a Host holds by default: a few thousand small modules.
pub const DEFAULT_MAX_MODULES: u32 = 4096;

/// Largest linear memory of a module by default. At 4 GiB bounds checks compile away.
pub const DEFAULT_MAX_MEMORY: u64 = 4 << 30;

/// Smallest per-module memory reservation the pool probe tries before allocating on demand.
const SMALLEST_POOLED_MEMORY: u64 = 64 << 20;

/// Engine settings. `new()` equals `Default`.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub(crate) allocation: Allocation,
    pub(crate) max_modules: u32,
    pub(crate) max_memory_bytes: u64,
    pub(crate) epoch_tick: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            allocation: Allocation::Auto,
            max_modules: DEFAULT_MAX_MODULES,
            max_memory_bytes: DEFAULT_MAX_MEMORY,
            epoch_tick: Duration::from_millis(1),
        }
    }
}

impl EngineConfig {
    /// Same as `Default`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Instance allocation strategy (see [`Allocation`]).
    pub fn allocation(&mut self, a: Allocation) -> &mut Self {
        self.allocation = a;
        self
    }

    /// Most module instances alive at once: the Host's module slots and the pool size. Each
    /// pooled slot reserves `max_memory_bytes` of address space (not RAM).
    pub fn max_modules(&mut self, n: u32) -> &mut Self {
        self.max_modules = n.max(1);
        self
    }

    /// Largest linear memory of any module. At 4 GiB (the default) bounds checks compile away;
    /// smaller values let many more modules share the address space, at some compute cost.
    /// Where the pool of `max_modules` slots of this size does not fit the address space, the
    /// Host reserves less per slot (down to 64 MiB), then allocates on demand.
    pub fn max_memory_bytes(&mut self, bytes: u64) -> &mut Self {
        self.max_memory_bytes = bytes.max(64 << 10);
        self
    }

    /// Granularity of wall-clock deadlines (epoch interruption). Finer ticks interrupt sooner
    /// but wake the ticker thread more often.
    pub fn epoch_tick(&mut self, tick: Duration) -> &mut Self {
        self.epoch_tick = tick.max(Duration::from_micros(100));
        self
    }
}

/// The engines of a Host plus the thread that advances their epochs.
pub struct SlEngine {
    unmetered: Engine,
    metered: Engine,
    /// Bytes each pooled slot reserves for linear memory; `None`: allocated on demand.
    pub(crate) pooled_memory: Option<u64>,
    pub(crate) max_modules: u32,
    max_memory_bytes: u64,
    pub(crate) epoch_tick: Duration,
    ticker_stop: Arc<AtomicBool>,
}

impl SlEngine {
    /// Build the engines; under [`Allocation::Auto`] the pool shrinks its per-slot memory
    /// reservation until it fits, then falls back to on-demand allocation.
    pub fn new(cfg: &EngineConfig) -> anyhow::Result<SlEngine> {
        let (unmetered, pooled_memory) = match cfg.allocation {
            Allocation::OnDemand => (Engine::new(&base_config(cfg, Metering::Unmetered, None))?, None),
            Allocation::Pooling => {
                let e = Engine::new(&base_config(cfg, Metering::Unmetered, Some(cfg.max_memory_bytes)))
                    .map_err(|e| anyhow::anyhow!("pooling allocator of {} slots: {e:#}", cfg.max_modules))?;
                (e, Some(cfg.max_memory_bytes))
            }
            Allocation::Auto => probe_pool(cfg)?,
        };
        let metered = Engine::new(&base_config(cfg, Metering::Fuel, None))?;
        let ticker_stop = Arc::new(AtomicBool::new(false));
        spawn_ticker([unmetered.clone(), metered.clone()], cfg.epoch_tick, ticker_stop.clone())?;
        Ok(SlEngine { unmetered, metered, pooled_memory, max_modules: cfg.max_modules, max_memory_bytes: cfg.max_memory_bytes, epoch_tick: cfg.epoch_tick, ticker_stop })
    }

    /// The engine for modules of this metering.
    pub fn engine(&self, m: Metering) -> &Engine {
        match m {
            Metering::Unmetered => &self.unmetered,
            Metering::Fuel => &self.metered,
        }
    }

    /// The most linear memory a module of this metering can have, whatever its manifest says.
    pub fn memory_ceiling(&self, m: Metering) -> u64 {
        match (m, self.pooled_memory) {
            (Metering::Unmetered, Some(slot)) => slot,
            _ => self.max_memory_bytes,
        }
    }

    /// Whether (unmetered) instances come from the pooling allocator.
    pub fn is_pooled(&self) -> bool {
        self.pooled_memory.is_some()
    }

    /// Epoch ticks needed to cover `d` (at least one).
    pub(crate) fn ticks_for(&self, d: Duration) -> u64 {
        (d.as_nanos() / self.epoch_tick.as_nanos().max(1)).max(1) as u64 + 1
    }
}

impl Drop for SlEngine {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

/// The largest per-slot memory reservation (halving from the configured one) at which a pool
/// of `max_modules` slots can be reserved; on-demand allocation if none can.
fn probe_pool(cfg: &EngineConfig) -> anyhow::Result<(Engine, Option<u64>)> {
    let mut memory = cfg.max_memory_bytes;
    let mut last_error = None;
    while memory >= SMALLEST_POOLED_MEMORY.min(cfg.max_memory_bytes) {
        match Engine::new(&base_config(cfg, Metering::Unmetered, Some(memory))) {
            Ok(e) => {
                if memory < cfg.max_memory_bytes {
                    tracing::warn!(
                        "a pool of {} module slots of {} MiB each does not fit the address space: \
                         each slot reserves {} MiB (modules may grow their memory that far)",
                        cfg.max_modules,
                        cfg.max_memory_bytes >> 20,
                        memory >> 20
                    );
                }
                return Ok((e, Some(memory)));
            }
            Err(e) => last_error = Some(e),
        }
        memory /= 2;
    }
    tracing::warn!(
        "pooling allocator unavailable for {} module slots ({:#}); allocating on demand \
         (instantiation is slower; lower --max-modules to retry pooling)",
        cfg.max_modules,
        last_error.map_or_else(|| anyhow::anyhow!("no reservation tried"), anyhow::Error::from)
    );
    Ok((Engine::new(&base_config(cfg, Metering::Unmetered, None))?, None))
}

/// `pool`: per-slot memory reservation of a pooling allocator, `None` for on-demand.
fn base_config(cfg: &EngineConfig, metering: Metering, pool: Option<u64>) -> Config {
    let mut c = Config::new();
    c.consume_fuel(metering == Metering::Fuel);
    c.epoch_interruption(true);
    c.max_wasm_stack(512 << 10);
    let reservation = pool.unwrap_or(cfg.max_memory_bytes);
    c.memory_reservation(reservation);
    if let Some(memory) = pool {
        let mut p = PoolingAllocationConfig::default();
        p.total_core_instances(cfg.max_modules)
            .total_memories(cfg.max_modules)
            .total_tables(cfg.max_modules)
            .max_memory_size(memory as usize)
            .max_unused_warm_slots(cfg.max_modules.min(100));
        c.allocation_strategy(InstanceAllocationStrategy::Pooling(p));
    }
    c
}

/// Advance the engines' epochs every `tick`: this is the clock of wall-clock deadlines.
fn spawn_ticker(engines: [Engine; 2], tick: Duration, stop: Arc<AtomicBool>) -> anyhow::Result<()> {
    std::thread::Builder::new().name("epoch-ticker".into()).spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(tick);
            engines.iter().for_each(Engine::increment_epoch);
        }
    })?;
    Ok(())
}
