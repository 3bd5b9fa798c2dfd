//! The sunroof controller's knob → target round trip on a VSS databroker, Wasm vs the same C
//! compiled natively, and the cost of one `sl:vss` call in-Host and over gRPC. A benchmark:
//! `cargo test --release -p silverline-bench --test vss -- --ignored --nocapture`
//! (results in docs/benchmarks.md).

use silverline_bench::native_sunroof::NativeController;
use silverline_host::{Host, HostConfig, ModuleState};
use silverline_manifest::ApplicationManifest;
use silverline_vss::{Catalog, LocalStore, SignalStore, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CATALOG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/sunroof/vss.json");
const KNOB: &str = "Vehicle.Cabin.Sunroof.Knob";
const TARGET: &str = "Vehicle.Cabin.Sunroof.TargetPosition";
const POSITION: &str = "Vehicle.Cabin.Sunroof.Position";
const WAIT: Duration = Duration::from_secs(20);
const ON_KNOB: &str = "{ type: api, api: \"sl:vss\", source: Vehicle.Cabin.Sunroof.Knob }";

fn catalog() -> Catalog {
    Catalog::from_file(std::path::Path::new(CATALOG)).unwrap()
}

/// A Host offering `sl:vss` over `store`, running `file` on each knob change.
fn controller_host(store: Arc<dyn SignalStore>, file: &str) -> Host {
    let mut config = HostConfig::new();
    config.api(Arc::new(silverline_vss::VssApi::new(store))).unwrap();
    config.output(Arc::new(|_: &str, _, _: &str| {}));
    let host = Host::new(config).unwrap();
    let manifest = format!("name: b\nmodules:\n  - name: m\n    file: {file}\n    trigger: {ON_KNOB}\n");
    host.deploy_app(&ApplicationManifest::from_str(&manifest, std::path::Path::new("/")).unwrap()).unwrap();
    assert!(host.wait_for(WAIT, |s| s.module("b/m").is_some_and(|m| m.state == ModuleState::Running)));
    host
}

/// Knob set → target written, `samples` times (after 10 for warm-up), as `observer` sees it.
fn round_trips(observer: &Arc<dyn SignalStore>, samples: usize) -> Vec<Duration> {
    let (knob, target) = (observer.catalog().resolve(KNOB).unwrap().id, observer.catalog().resolve(TARGET).unwrap().id);
    let (tx, rx) = crossbeam_channel::unbounded();
    let _watch = observer
        .watch(
            target,
            Arc::new(move || {
                let _ = tx.send(Instant::now());
            }),
        )
        .unwrap();
    let mut out = Vec::new();
    for i in 0..samples + 10 {
        while rx.try_recv().is_ok() {}
        let t = Instant::now();
        observer.set(knob, Value::Float((i % 100) as f64)).unwrap();
        let seen = rx.recv_timeout(WAIT).expect("the controller answered");
        if i >= 10 {
            out.push(seen - t);
        }
    }
    out
}

/// Median and 99th percentile, in µs.
fn median_p99(xs: &mut [Duration]) -> (f64, f64) {
    xs.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    (us(xs[xs.len() / 2]), us(xs[(xs.len() * 99 / 100).min(xs.len() - 1)]))
}

/// The native controller, woken like the Host wakes the Wasm one: by a watch on the knob.
fn native_round_trips(store: Arc<dyn SignalStore>, observer: &Arc<dyn SignalStore>, samples: usize) -> Vec<Duration> {
    let (kick, woken) = crossbeam_channel::unbounded::<()>();
    let watch = store
        .watch(
            store.catalog().resolve(KNOB).unwrap().id,
            Arc::new(move || {
                let _ = kick.send(());
            }),
        )
        .unwrap();
    let mut controller = NativeController::start(store).unwrap();
    let worker = std::thread::spawn(move || {
        while woken.recv().is_ok() {
            controller.step();
        }
    });
    let out = round_trips(observer, samples);
    drop(watch); // ends the worker's loop
    worker.join().unwrap();
    out
}

/// A module calling `get_f64` (the knob) and `set_i64` (the roof's position) `n` times each on
/// each knob change, then writing the target once.
fn calls_wat(n: u32) -> String {
    format!(
        r#"(module
  (import "sl_vss" "signal" (func $signal (param i32 i32) (result i32)))
  (import "sl_vss" "set_f64" (func $set_f64 (param i32 f64) (result i32)))
  (import "sl_vss" "set_i64" (func $set_i64 (param i32 i64) (result i32)))
  (import "sl_vss" "get_f64" (func $get_f64 (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "Vehicle.Cabin.Sunroof.TargetPosition")
  (data (i32.const 64) "Vehicle.Cabin.Sunroof.Knob")
  (data (i32.const 128) "Vehicle.Cabin.Sunroof.Position")
  (func (export "sl_step") (result i32) (local $k i32) (local $p i32) (local $i i32)
    (local.set $k (call $signal (i32.const 64) (i32.const 26)))
    (local.set $p (call $signal (i32.const 128) (i32.const 30)))
    (block $done (loop $more
      (br_if $done (i32.ge_u (local.get $i) (i32.const {n})))
      (drop (call $get_f64 (local.get $k) (i32.const 256)))
      (drop (call $set_i64 (local.get $p) (i64.const 1)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $more)))
    (call $set_f64 (call $signal (i32.const 0) (i32.const 36)) (f64.const 2))))"#
    )
}

/// The mean cost of one call from Wasm: `2n` calls in one activation minus none.
fn wasm_call_us(store: &Arc<dyn SignalStore>, n: u32) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let time = |n: u32| {
        let file = dir.path().join(format!("calls{n}.wat"));
        std::fs::write(&file, calls_wat(n)).unwrap();
        let host = controller_host(store.clone(), file.to_str().unwrap());
        let mut t = round_trips(store, 30);
        drop(host);
        median_p99(&mut t).0
    };
    (time(n) - time(0)) / f64::from(2 * n)
}

/// The same pairs of calls made natively on the store.
fn native_call_us(store: &dyn SignalStore, n: u32) -> f64 {
    let (knob, position) = (store.catalog().resolve(KNOB).unwrap().id, store.catalog().resolve(POSITION).unwrap().id);
    let t = Instant::now();
    for _ in 0..n {
        let _ = store.get(knob);
        let _ = store.set(position, Value::Int(1));
    }
    t.elapsed().as_secs_f64() * 1e6 / f64::from(2 * n)
}

#[test]
#[ignore = "benchmark: cargo test --release -p silverline-bench --test vss -- --ignored --nocapture"]
fn sunroof_round_trip_and_vss_call_cost() {
    let broker = silverline_vss_broker::spawn("127.0.0.1:0".parse().unwrap(), LocalStore::new(catalog()), silverline_vss_broker::Auth::Token("bench".into())).unwrap();
    let remote = || -> Arc<dyn SignalStore> { silverline_vss_broker::RemoteStore::connect(&broker.url(), Some("bench"), silverline_vss_broker::DEFAULT_TIMEOUT).unwrap() };
    let samples = 300;
    let observer = remote();
    println!("| run | Wasm median | native median | ratio | Wasm p99 | native p99 | ratio |");
    // Alternating, so that drifts of a shared machine hit both sides alike.
    for run in 1..=3 {
        let host = controller_host(remote(), silverline_test_programs::SUNROOF_CONTROLLER_C);
        let mut wasm = round_trips(&observer, samples);
        drop(host);
        let mut native = native_round_trips(remote(), &observer, samples);
        let ((wm, wp), (nm, np)) = (median_p99(&mut wasm), median_p99(&mut native));
        println!("| {run} | {wm:.0} µs | {nm:.0} µs | {:.3}x | {wp:.0} µs | {np:.0} µs | {:.3}x |", wm / nm, wp / np);
    }

    let local: Arc<dyn SignalStore> = LocalStore::new(catalog());
    let grpc = remote();
    let (in_host, local_native) = (wasm_call_us(&local, 20_000), native_call_us(&*local, 200_000));
    let (over_grpc, grpc_native) = (wasm_call_us(&grpc, 200), native_call_us(&*grpc, 1_000));
    println!("| sl:vss call (get_f64 / set_i64, mean of both) | from Wasm | native on the same store | ratio |");
    println!("| in-Host store | {in_host:.3} µs | {local_native:.3} µs | {:.2}x |", in_host / local_native);
    println!("| over gRPC (databroker on loopback) | {over_grpc:.1} µs | {grpc_native:.1} µs | {:.3}x |", over_grpc / grpc_native);
}
