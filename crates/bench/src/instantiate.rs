//! `instantiate`: deploying an already-compiled module vs compiling it; pooled vs on-demand
//! allocation; deploy → first activation of an event-triggered module.

use crate::util::{self, event_spec, quiet, with_nonce};
use crate::{stats::summarize, wat, BenchConfig, Section};
use silverline_channels::InputQueue;
use silverline_host::{Allocation, EngineConfig, Host, HostConfig, ModuleId};
use silverline_manifest::ModuleSpec;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) const TITLE: &str = "Instantiate from cache vs cold compile";

static NEXT_ID: AtomicU64 = AtomicU64::new(0);
static NONCE: AtomicU64 = AtomicU64::new(0);

fn fresh_id() -> ModuleId {
    ModuleId::new("bench", &format!("m{}", NEXT_ID.fetch_add(1, Ordering::Relaxed)))
}

fn host(allocation: Allocation) -> anyhow::Result<Host> {
    let mut engine = EngineConfig::new();
    engine.allocation(allocation);
    let mut config = HostConfig::new();
    config.engine(engine).name(format!("bench-{allocation:?}"));
    Host::new(quiet(config))
}

struct Sizes {
    cold: usize,
    warm_batches: usize,
    batch: usize,
    first: usize,
}

pub(crate) fn run(cfg: &BenchConfig) -> anyhow::Result<Section> {
    let z = if cfg.quick {
        Sizes { cold: 3, warm_batches: 2, batch: 20, first: 20 }
    } else {
        Sizes { cold: 20, warm_batches: 10, batch: 100, first: 300 }
    };
    let mut s = Section::new("instantiate", TITLE);
    let pooled = host(Allocation::Pooling);
    let on_demand = host(Allocation::OnDemand)?;
    if let Err(e) = &pooled {
        s.note(format!("Pooling allocator unavailable on this machine ({e:#}): pooled rows are missing."));
    }
    let pooled = pooled.ok();
    let main = pooled.as_ref().unwrap_or(&on_demand);

    let mut subjects = vec![(reactor_label()?, util::wasm(&wat::reactor())?)];
    for path in &cfg.modules {
        let bytes = silverline_host::read_wasm_file(path)?;
        let label = format!("`{}` ({:.1} KiB)", path.file_name().map_or("module".into(), |n| n.to_string_lossy()), bytes.len() as f64 / 1024.0);
        subjects.push((label, bytes));
    }
    let spec = event_spec("bench/inst/in", "bench/inst/out", 16)?;

    for (i, (label, wasm)) in subjects.iter().enumerate() {
        cfg.say(&format!("instantiate: {label}"));
        let p = |what: &str| format!("{label}: {what}");
        // Cold: never-seen bytes (a nonce custom section changes the sha256, not the code).
        let mut precompile = Vec::new();
        let mut cold_deploy = Vec::new();
        for k in 0..=z.cold {
            let fresh = with_nonce(wasm, NONCE.fetch_add(1, Ordering::Relaxed));
            let t = Instant::now();
            main.precompile(&fresh)?;
            let compile = t.elapsed();
            let fresh = with_nonce(wasm, NONCE.fetch_add(1, Ordering::Relaxed));
            let id = fresh_id();
            let t = Instant::now();
            main.deploy(id.clone(), "bench", &spec, &fresh)?;
            let deploy = t.elapsed();
            main.remove(&id);
            if k > 0 {
                precompile.push(ns(compile));
                cold_deploy.push(ns(deploy));
            }
        }
        // Cached: compile once, then deploy (InstancePre + Store + WASI + _initialize + sl_init).
        main.precompile(wasm)?;
        let mut lookup = Vec::new();
        for k in 0..(z.batch * z.warm_batches + 10) {
            let t = Instant::now();
            main.precompile(wasm)?;
            if k >= 10 {
                lookup.push(ns(t.elapsed()));
            }
        }
        let mut warm_pooled = Vec::new();
        let mut warm_on_demand = Vec::new();
        // Interleave the two Hosts batch by batch so that drift on a shared machine hits both;
        // the first batch of each is warm-up.
        for b in 0..=z.warm_batches {
            if let Some(h) = &pooled {
                let samples = deploy_batch(h, &spec, wasm, z.batch)?;
                if b > 0 {
                    warm_pooled.extend(samples);
                }
            }
            let samples = deploy_batch(&on_demand, &spec, wasm, z.batch)?;
            if b > 0 {
                warm_on_demand.extend(samples);
            }
        }
        let cold_row = p("deploy, cold: compile + instantiate (pooled)");
        let warm_row = p("deploy, cached (pooled)");
        let od_row = p("deploy, cached (on-demand)");
        let compile_row = p("`Host::precompile`, fresh bytes (= `Module::new`)");
        s.rows.push(summarize(&compile_row, &precompile));
        s.rows.push(summarize(&p("`Host::precompile`, cached (sha256 + lookup)"), &lookup));
        s.rows.push(summarize(&cold_row, &cold_deploy));
        if pooled.is_some() {
            s.rows.push(summarize(&warm_row, &warm_pooled));
        }
        s.rows.push(summarize(&od_row, &warm_on_demand));
        let warm_ref = if pooled.is_some() { &warm_row } else { &od_row };
        s.ratio(&p("cold deploy / cached deploy"), &cold_row, warm_ref, None);
        s.ratio(&p("compile alone / cached deploy"), &compile_row, warm_ref, None);
        if pooled.is_some() {
            s.ratio(&p("on-demand / pooled (cached deploy)"), &od_row, &warm_row, None);
        }
        if i == 0 {
            first_activation(cfg, &mut s, main, wasm, z.first)?;
        }
    }
    s.note(format!(
        "`deploy` is `Host::deploy` of one event-triggered module (input `in`, output `out`), timed from the call to its return: \
         sha256 of the bytes, cache lookup (or compile), `Linker::instantiate_pre`, Store + WASI context, instantiation, \
         `_initialize`, `sl_init` (opens 2 channels), router subscription. Cached deploys run in batches of {} \
         modules alive at once, then all are removed (untimed); the first batch is warm-up. Removed pooled slots are \
         reused warm, as on a Host that restarts or updates modules.",
        z.batch
    ));
    s.note("Cold rows compile never-seen bytes: the module plus a custom section holding a nonce, so the sha256 \
            (the cache key) is new but the code is the same. wasmtime compiles in parallel on the machine's cores.");
    s.note("Deploy → first activation: the clock starts before `deploy()`; right after it returns the harness publishes one \
            message (loopback) on the module's trigger input; the clock stops when the module's echo of it reaches an \
            observer queue on its output (the queue's waker takes the time). This includes dispatch to a worker thread and \
            the step itself, so it bounds the first activation's start from above. For comparison, the same round trip \
            through the same module once it has run: 1 ms after the previous message (worker threads parked, as after \
            a deploy) and back to back (workers still spinning). A periodic module was not used: its first activation \
            waits for the next period boundary by design.");
    if let Some(h) = pooled {
        h.shutdown();
    }
    on_demand.shutdown();
    Ok(s)
}

fn reactor_label() -> anyhow::Result<String> {
    let bytes = util::wasm(&wat::reactor())?;
    Ok(format!("reactor WAT ({:.1} KiB)", bytes.len() as f64 / 1024.0))
}

fn ns(d: Duration) -> f64 {
    d.as_nanos() as f64
}

/// Deploy `n` modules one after the other (timed), then remove them all (untimed).
fn deploy_batch(host: &Host, spec: &ModuleSpec, wasm: &[u8], n: usize) -> anyhow::Result<Vec<f64>> {
    let mut samples = Vec::with_capacity(n);
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        let id = fresh_id();
        let t = Instant::now();
        host.deploy(id.clone(), "bench", spec, wasm)?;
        samples.push(ns(t.elapsed()));
        ids.push(id);
    }
    for id in &ids {
        host.remove(id);
    }
    Ok(samples)
}

/// Deploy → first activation, and the steady-state inject → output latency for comparison.
fn first_activation(cfg: &BenchConfig, s: &mut Section, host: &Host, wasm: &[u8], n: usize) -> anyhow::Result<()> {
    cfg.say("instantiate: deploy -> first activation");
    let spec = event_spec("bench/first/in", "bench/first/out", 16)?;
    let (tx, rx) = crossbeam_channel::unbounded::<Instant>();
    let observer = Arc::new(InputQueue::new(1024));
    observer.add_waker(move || {
        let _ = tx.send(Instant::now());
    });
    host.router().subscribe("bench/first/out", observer.clone());
    let port = host.router().output_port("bench/first/in", true);
    host.precompile(wasm)?;
    let warmup = (n / 10).max(3);
    let (mut deploy_call, mut first, mut after_return) = (Vec::new(), Vec::new(), Vec::new());
    for k in 0..(warmup + n) {
        while rx.try_recv().is_ok() {}
        while observer.pop().is_some() {}
        let id = fresh_id();
        let t0 = Instant::now();
        host.deploy(id.clone(), "bench", &spec, wasm)?;
        let returned = Instant::now();
        port.publish(b"first");
        let t1 = rx.recv_timeout(Duration::from_secs(10)).map_err(|_| anyhow::anyhow!("no first activation within 10 s"))?;
        host.remove(&id);
        if k >= warmup {
            deploy_call.push(ns(returned - t0));
            first.push(ns(t1 - t0));
            after_return.push(ns(t1 - returned));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let id = fresh_id();
    host.deploy(id.clone(), "bench", &spec, wasm)?;
    let (mut idle, mut busy) = (Vec::new(), Vec::new());
    for k in 0..(warmup + n) {
        for back_to_back in [false, true] {
            if !back_to_back {
                std::thread::sleep(Duration::from_millis(1)); // as between deploys: workers idle
            }
            while observer.pop().is_some() {}
            let t0 = Instant::now();
            port.publish(b"steady");
            let t1 = rx.recv_timeout(Duration::from_secs(10)).map_err(|_| anyhow::anyhow!("no activation within 10 s"))?;
            if k >= warmup {
                (if back_to_back { &mut busy } else { &mut idle }).push(ns(t1 - t0));
            }
        }
    }
    host.remove(&id);
    host.router().unsubscribe("bench/first/out", &observer);
    let after_row = "`deploy()` returned → output of the first activation";
    let idle_row = "steady state, 1 ms after the previous message: publish → output";
    s.rows.push(summarize("`deploy()` call of that event-triggered module (pooled)", &deploy_call));
    s.rows.push(summarize("`deploy()` start → output of the first activation (message published once `deploy()` returned)", &first));
    s.rows.push(summarize(after_row, &after_return));
    s.rows.push(summarize(idle_row, &idle));
    s.rows.push(summarize("steady state, back to back: publish → output", &busy));
    s.ratio("first activation after deploy / steady-state activation (same 1 ms spacing)", after_row, idle_row, None);
    Ok(())
}
