//! The compute benchmark: ten C kernels (`crates/test-programs/kernels`), kernel time natively,
//! on a bare wasmtime (default configuration: no fuel, no epochs), and on the Host without fuel
//! (the default for modules that declare no budget), with fuel, and built with `-msimd128`.
//! Each kernel's checksum must agree everywhere.
//!
//! `SL_COMPUTE_RUNS=20 cargo test -p silverline-host --test integration compute_benchmark -- --ignored --nocapture`

use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const KERNELS: &[&str] = &["matmul", "stencil", "fft", "sort", "sha256", "interp", "nbody", "crc32", "sieve", "levenshtein"];

fn kernels_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-programs/kernels")
}

/// Build `kernel` with the harness: natively, or as a wasm32-wasi reactor.
fn build(kernel: &str, out: &Path, target: &[&str]) -> PathBuf {
    let dir = kernels_dir();
    let status = Command::new("clang")
        .args(["-O2"])
        .args(target)
        .arg("-o")
        .arg(out)
        .arg(dir.join("harness.c"))
        .arg(dir.join(format!("{kernel}.c")))
        .arg("-lm")
        .status()
        .expect("clang runs");
    assert!(status.success(), "building {kernel} with {target:?}");
    out.to_path_buf()
}

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v[v.len() / 2]
}

/// (checksum, median kernel time) of the native build.
fn native(binary: &Path, runs: usize) -> (u32, u64) {
    let out = Command::new(binary).arg(runs.to_string()).output().expect("native kernel runs");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let checksum = lines.next().and_then(|l| l.strip_prefix("checksum ")).and_then(|c| c.parse().ok()).expect("checksum line");
    (checksum, median(lines.map(|l| l.parse().unwrap()).collect()))
}

/// A kernel instantiated on a wasmtime engine configured with `epochs` and `fuel` only.
struct Bare {
    store: wasmtime::Store<wasmtime_wasi::p1::WasiP1Ctx>,
    run: wasmtime::TypedFunc<(), u32>,
    fuel: bool,
}

impl Bare {
    fn new(wasm: &Path, epochs: bool, fuel: bool) -> Bare {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(epochs).consume_fuel(fuel);
        let engine = wasmtime::Engine::new(&config).unwrap();
        let module = wasmtime::Module::from_file(&engine, wasm).unwrap();
        let mut linker: wasmtime::Linker<wasmtime_wasi::p1::WasiP1Ctx> = wasmtime::Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |c| c).unwrap();
        let mut store = wasmtime::Store::new(&engine, wasmtime_wasi::WasiCtxBuilder::new().build_p1());
        store.set_epoch_deadline(u64::MAX / 2);
        if fuel {
            store.set_fuel(u64::MAX / 2).unwrap();
        }
        let instance = linker.instantiate(&mut store, &module).unwrap();
        instance.get_typed_func::<(), ()>(&mut store, "_initialize").unwrap().call(&mut store, ()).unwrap();
        let run = instance.get_typed_func::<(), u32>(&mut store, "run_kernel").unwrap();
        Bare { store, run, fuel }
    }

    /// (checksum, nanoseconds) of one run.
    fn run(&mut self) -> (u32, u64) {
        if self.fuel {
            self.store.set_fuel(u64::MAX / 2).unwrap();
        }
        let t0 = Instant::now();
        let sum = self.run.call(&mut self.store, ()).unwrap();
        (sum, t0.elapsed().as_nanos() as u64)
    }
}

/// (checksum, median kernel time) per engine configuration — default (no epochs, no fuel),
/// epochs, epochs + fuel — taken in turns, so drift of the machine hits all alike.
fn bare_wasmtime(wasm: &Path, runs: usize) -> (u32, [u64; 3]) {
    let mut engines = [Bare::new(wasm, false, false), Bare::new(wasm, true, false), Bare::new(wasm, true, true)];
    let checksum = engines[0].run().0;
    let mut times = [Vec::new(), Vec::new(), Vec::new()];
    for _ in 0..runs {
        for (e, t) in engines.iter_mut().zip(times.iter_mut()) {
            let (sum, ns) = e.run();
            assert_eq!(sum, checksum);
            t.push(ns);
        }
    }
    (checksum, times.map(median))
}

/// Median activation time of the kernel as a periodic module on a Host (`resources` added to
/// its manifest), over `runs` activations.
fn on_host(wasm: &Path, resources: &str, runs: usize) -> u64 {
    let (host, _) = host();
    let name = format!("k{}", std::process::id());
    host.deploy_app(&periodic(&name, "kernel", wasm.to_str().unwrap(), 40, resources)).unwrap();
    let id = format!("{name}/kernel");
    let done = host.wait_for(Duration::from_secs(120), |s| s.module(&id).is_some_and(|m| m.activations >= runs as u64));
    assert!(done, "the kernel did not run {runs} times: {:?}", host.status().module(&id));
    let exec = host.status().module(&id).unwrap().exec_ns.p50;
    host.shutdown();
    exec
}

fn geomean(v: &[f64]) -> f64 {
    (v.iter().map(|x| x.ln()).sum::<f64>() / v.len() as f64).exp()
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn compute_benchmark() {
    let _alone = HEAVY.write();
    let runs: usize = std::env::var("SL_COMPUTE_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(30);
    let dir = tempfile::tempdir().unwrap();
    let wasm_target = ["--target=wasm32-wasi", "-mexec-model=reactor"];
    let mut rows = Vec::new();
    let (mut host_bare, mut host_native, mut fuel_bare, mut simd_host) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut epochs_bare, mut epochs_fuel_bare) = (Vec::new(), Vec::new());
    for k in KERNELS {
        let exe = build(k, &dir.path().join(k), &["-DNATIVE"]);
        let wasm = build(k, &dir.path().join(format!("{k}.wasm")), &wasm_target);
        let simd = build(k, &dir.path().join(format!("{k}-simd.wasm")), &[&wasm_target[..], &["-msimd128"]].concat());
        let (sum_native, t_native) = native(&exe, runs);
        let (sum_wasm, [t_bare, t_epochs, t_epochs_fuel]) = bare_wasmtime(&wasm, runs);
        assert_eq!(sum_native, sum_wasm, "{k}: the Wasm build computes what the native one does");
        let t_host = on_host(&wasm, "", runs);
        let t_fuel = on_host(&wasm, "    resources: { fuel: 1000000000000 }\n", runs);
        let t_simd = on_host(&simd, "", runs);
        let r = |a: u64, b: u64| a as f64 / b as f64;
        host_bare.push(r(t_host, t_bare));
        epochs_bare.push(r(t_epochs, t_bare));
        epochs_fuel_bare.push(r(t_epochs_fuel, t_bare));
        host_native.push(r(t_host, t_native));
        fuel_bare.push(r(t_fuel, t_bare));
        simd_host.push(r(t_simd, t_host));
        rows.push(format!(
            "| {k} | {:.2} | {:.2} | {:.2}x | {:.2}x | {:.2} | {:.2} | {:.2} | {:.2}x | {:.2}x | {:.2}x | {:.2}x |",
            t_native as f64 / 1e6,
            t_bare as f64 / 1e6,
            r(t_epochs, t_bare),
            r(t_epochs_fuel, t_bare),
            t_host as f64 / 1e6,
            t_fuel as f64 / 1e6,
            t_simd as f64 / 1e6,
            r(t_host, t_native),
            r(t_host, t_bare),
            r(t_fuel, t_bare),
            r(t_simd, t_host),
        ));
    }
    println!("\ncompute: median kernel time in ms over {runs} runs. bare = wasmtime, default configuration, kernel called back to back;");
    println!("+epochs, +epochs+fuel = the same with the Host's engine settings, in turns with bare; Host = a periodic module (40 ms),");
    println!("exec time of its activation, without and with a fuel budget, and built with -msimd128\n");
    println!("| kernel | native | bare | +epochs / bare | +epochs+fuel / bare | Host | Host + fuel | Host, simd | Host / native | Host / bare | Host+fuel / bare | simd / Host |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    rows.iter().for_each(|r| println!("{r}"));
    println!(
        "| **geometric mean** | | | **{:.2}x** | **{:.2}x** | | | | **{:.2}x** | **{:.2}x** | **{:.2}x** | **{:.2}x** |",
        geomean(&epochs_bare),
        geomean(&epochs_fuel_bare),
        geomean(&host_native),
        geomean(&host_bare),
        geomean(&fuel_bare),
        geomean(&simd_host)
    );
}
