//! The Wasm engine, configured for many small modules.
//!
//! One [`wasmtime::Engine`] per Host. Fuel and epoch interruption are always on: fuel bounds the
//! work of one activation deterministically, epochs bound its wall-clock time; both are needed for
//! containment and the compiled code differs with them, so turning them on later would invalidate
//! every cached module.

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
            max_modules: 256,
            max_memory_bytes: 4 << 30,
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

    /// Most module instances alive at once (pool size). Each pooled slot reserves
    /// `max_memory_bytes` of address space (not RAM).
    pub fn max_modules(&mut self, n: u32) -> &mut Self {
        self.max_modules = n.max(1);
        self
    }

    /// Largest linear memory of any module. At 4 GiB (the default) bounds checks compile away;
    /// smaller values let many more modules share the address space, at some compute cost.
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

/// A configured engine plus the thread that advances its epoch.
pub struct SlEngine {
    pub(crate) engine: Engine,
    pub(crate) pooled: bool,
    pub(crate) epoch_tick: Duration,
    ticker_stop: Arc<AtomicBool>,
}

impl SlEngine {
    /// Build the engine; falls back from pooling to on-demand under [`Allocation::Auto`].
    pub fn new(cfg: &EngineConfig) -> anyhow::Result<SlEngine> {
        let (engine, pooled) = match cfg.allocation {
            Allocation::OnDemand => (Engine::new(&base_config(cfg, false))?, false),
            Allocation::Pooling => (Engine::new(&base_config(cfg, true)).map_err(|e| anyhow::anyhow!("pooling allocator: {e:#}"))?, true),
            Allocation::Auto => match Engine::new(&base_config(cfg, true)) {
                Ok(e) => (e, true),
                Err(e) => {
                    tracing::warn!(
                        "pooling allocator unavailable ({e:#}); falling back to on-demand allocation \
                         (instantiation is slower; lower --max-modules or --max-memory to retry pooling)"
                    );
                    (Engine::new(&base_config(cfg, false))?, false)
                }
            },
        };
        let ticker_stop = Arc::new(AtomicBool::new(false));
        spawn_ticker(engine.clone(), cfg.epoch_tick, ticker_stop.clone())?;
        Ok(SlEngine { engine, pooled, epoch_tick: cfg.epoch_tick, ticker_stop })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Whether instances come from the pooling allocator.
    pub fn is_pooled(&self) -> bool {
        self.pooled
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

fn base_config(cfg: &EngineConfig, pooling: bool) -> Config {
    let mut c = Config::new();
    c.consume_fuel(true);
    c.epoch_interruption(true);
    c.max_wasm_stack(512 << 10);
    c.memory_reservation(cfg.max_memory_bytes);
    if pooling {
        let mut p = PoolingAllocationConfig::default();
        p.total_core_instances(cfg.max_modules)
            .total_memories(cfg.max_modules)
            .total_tables(cfg.max_modules)
            .max_memory_size(cfg.max_memory_bytes as usize)
            .max_unused_warm_slots(cfg.max_modules.min(100));
        c.allocation_strategy(InstanceAllocationStrategy::Pooling(p));
    }
    c
}

/// Advance the engine's epoch every `tick`: this is the clock of wall-clock deadlines.
fn spawn_ticker(engine: Engine, tick: Duration, stop: Arc<AtomicBool>) -> anyhow::Result<()> {
    std::thread::Builder::new().name("epoch-ticker".into()).spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(tick);
            engine.increment_epoch();
        }
    })?;
    Ok(())
}
