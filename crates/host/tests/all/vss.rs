//! Vehicle signals through a Host: the `sl:vss` API registered as a plug-in, over an in-Host
//! store the test holds too. The test observes signals by watching them (a watch runs on the
//! writer's thread right after the write), never by sleeping.

use crate::common::*;
use silverline_host::{HostConfig, ModuleState};
use silverline_test_programs::{SUNROOF_CONTROLLER_C, SUNROOF_KNOB_C, SUNROOF_MOTOR_C};
use silverline_vss::{Catalog, Datapoint, LocalStore, SignalStore, Value};
use std::sync::Arc;

const CATALOG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/sunroof/vss.json");
const POSITION: &str = "Vehicle.Cabin.Sunroof.Position";
const TARGET: &str = "Vehicle.Cabin.Sunroof.TargetPosition";
const KNOB: &str = "Vehicle.Cabin.Sunroof.Knob";
const SHADE: &str = "Vehicle.Cabin.Sunroof.Shade.Position";
/// The simulated knob's levels (examples/sunroof/c/sunroof_knob.c).
const KNOB_LEVELS: [f64; 6] = [0.0, 60.0, 20.0, 100.0, 40.0, 80.0];
const ALPHA: f64 = 0.3;

/// A Host offering `sl:vss` over the sunroof catalog, and the store behind it.
fn vss_host() -> (silverline_host::Host, Lines, Arc<LocalStore>) {
    let store = LocalStore::new(Catalog::from_file(std::path::Path::new(CATALOG)).expect("the example catalog loads"));
    let mut config = HostConfig::new();
    config.api(Arc::new(silverline_vss::VssApi::new(store.clone()))).unwrap();
    let (host, lines) = host_with(config);
    (host, lines, store)
}

/// Every value written to `path`, in order, as the writer wrote it.
struct Recorder {
    seen: crossbeam_channel::Receiver<Datapoint>,
    _watch: silverline_vss::Watch,
}

fn record(store: &Arc<LocalStore>, path: &str) -> Recorder {
    let id = store.catalog().resolve(path).unwrap().id;
    let (tx, seen) = crossbeam_channel::unbounded();
    let reader = Arc::downgrade(store);
    let watch = store
        .watch(
            id,
            Arc::new(move || {
                if let Some(d) = reader.upgrade().and_then(|s| s.get(id).ok().flatten()) {
                    let _ = tx.send(d);
                }
            }),
        )
        .unwrap();
    Recorder { seen, _watch: watch }
}

impl Recorder {
    /// Values up to and including the first for which `done` holds.
    fn until(&self, what: &str, done: impl Fn(&Value) -> bool) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let d = self.seen.recv_timeout(WAIT).unwrap_or_else(|_| panic!("{what}: not seen within {WAIT:?}; saw {out:?}"));
            out.push(d.value.clone());
            if done(&d.value) {
                return out;
            }
        }
    }
}

/// `text` written to `dir/NAME.wat`; its path.
fn wat_file(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let file = dir.path().join(format!("{name}.wat"));
    std::fs::write(&file, text).unwrap();
    file.display().to_string()
}

/// The trigger of a module activated on each knob change.
const ON_KNOB: &str = "{ type: api, api: \"sl:vss\", source: Vehicle.Cabin.Sunroof.Knob }";

/// Application `name` of one module `m` running `file` (`extra`: more manifest lines of it).
fn one_module(name: &str, file: &str, trigger: &str, extra: &str) -> silverline_manifest::ApplicationManifest {
    app(&format!("name: {name}\nmodules:\n  - name: m\n    file: {file}\n    trigger: {trigger}\n{extra}"))
}

fn float(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v:?}"))
}

#[test]
fn the_sunroof_follows_the_knob_through_an_ema_and_a_rate_limited_motor() {
    let (host, _lines, store) = vss_host();
    let targets = record(&store, TARGET);
    let positions = record(&store, POSITION);
    host.deploy_app(&app(&format!(
        r#"
name: sunroof
modules:
  - name: knob
    file: {SUNROOF_KNOB_C}
    trigger: {{ type: periodic, periodInNs: 100000000 }}
  - name: controller
    file: {SUNROOF_CONTROLLER_C}
    trigger: {{ type: periodic, periodInNs: 100000000, offsetInNs: 50000000 }}
  - name: motor
    file: {SUNROOF_MOTOR_C}
    trigger: {{ type: periodic, periodInNs: 20000000 }}
"#
    )))
    .unwrap();

    // The knob starts closed and then asks for 60 %: the roof opens to (about) 60 %.
    let moved = positions.until("the roof opening past 55 %", |v| float(v) >= 55.0);
    for w in moved.windows(2) {
        let (a, b) = (float(&w[0]), float(&w[1]));
        assert!((b - a).abs() <= 1.0, "the motor moves at most 1 % per 20 ms step: {a} → {b}");
        assert!((-100.0..=100.0).contains(&b), "{b}");
    }
    assert!(matches!(moved.last(), Some(Value::Int(_))), "the position is VSS's int8: {moved:?}");

    // Every target the controller wrote is one EMA step from the one before towards a knob level.
    let written: Vec<f64> = targets.seen.try_iter().map(|d| float(&d.value)).collect();
    assert!(written.len() >= 3, "the controller ran: {written:?}");
    assert!(KNOB_LEVELS.contains(&written[0]), "the first target is the first reading: {written:?}");
    for w in written.windows(2) {
        let level = w[0] + (w[1] - w[0]) / ALPHA;
        assert!(
            KNOB_LEVELS.iter().any(|k| (k - level).abs() < 1e-6),
            "{} → {} is not an EMA step (α = {ALPHA}) to a knob level",
            w[0],
            w[1]
        );
    }
    assert!(written.iter().any(|&t| t > 0.0 && t < 60.0), "the target was smoothed, not copied: {written:?}");

    let status = host.status();
    for m in ["sunroof/knob", "sunroof/controller", "sunroof/motor"] {
        let s = status.module(m).unwrap();
        assert_eq!(s.state, ModuleState::Running, "{m}: {s:?}");
    }
    assert_eq!(store.counters.refused.load(std::sync::atomic::Ordering::Relaxed), 0, "no write of the example is refused");
}

/// Refused writes return their codes to the module and change nothing. The module checks each
/// code itself and writes its marker (42) only when every one was right.
const REFUSALS_WAT: &str = r#"(module
  (import "sl_vss" "signal" (func $signal (param i32 i32) (result i32)))
  (import "sl_vss" "set_i64" (func $set_i64 (param i32 i64) (result i32)))
  (import "sl_vss" "set_f64" (func $set_f64 (param i32 f64) (result i32)))
  (import "sl_vss" "set_string" (func $set_string (param i32 i32 i32) (result i32)))
  (import "sl_vss" "get_i64" (func $get_i64 (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "Vehicle.Cabin.Sunroof.Position")
  (data (i32.const 64) "Vehicle.Cabin.Sunroof.Switch")
  (data (i32.const 128) "BOGUS")
  (data (i32.const 160) "Vehicle.No.Such")
  (func (export "sl_step") (result i32)
    (local $pos i32) (local $sw i32) (local $rc i32)
    (local.set $pos (call $signal (i32.const 0) (i32.const 30)))
    (local.set $sw (call $signal (i32.const 64) (i32.const 28)))
    (if (i32.ne (call $signal (i32.const 160) (i32.const 15)) (i32.const -1)) (then (return (i32.const 11))))
    ;; no value before the first marker; the marker itself afterwards
    (local.set $rc (call $get_i64 (local.get $pos) (i32.const 256)))
    (if (i32.and (i32.ne (local.get $rc) (i32.const -5)) (i32.ne (local.get $rc) (i32.const 0))) (then (return (i32.const 12))))
    (if (i32.ne (call $set_i64 (local.get $pos) (i64.const 150)) (i32.const -4)) (then (return (i32.const 13))))
    (if (i32.ne (call $set_f64 (local.get $pos) (f64.const 1.5)) (i32.const -3)) (then (return (i32.const 14))))
    (if (i32.ne (call $set_string (local.get $sw) (i32.const 128) (i32.const 5)) (i32.const -4)) (then (return (i32.const 15))))
    (if (i32.ne (call $set_string (local.get $sw) (i32.const 65530) (i32.const 100)) (i32.const -2)) (then (return (i32.const 16))))
    (if (i32.ne (call $set_i64 (i32.const 99999) (i64.const 1)) (i32.const -1)) (then (return (i32.const 17))))
    (call $set_i64 (local.get $pos) (i64.const 42))))"#;

#[test]
fn refused_writes_are_error_codes_and_change_nothing() {
    let (host, _lines, store) = vss_host();
    let dir = tempfile::tempdir().unwrap();
    let positions = record(&store, POSITION);
    host.deploy_app(&one_module("refuse", &wat_file(&dir, "refusals", REFUSALS_WAT), "{ type: periodic, periodInNs: 50000000 }", ""))
    .unwrap();

    let first = positions.seen.recv_timeout(WAIT).expect("the module wrote its marker: every refusal returned its code");
    assert_eq!((first.value, first.version), (Value::Int(42), 1), "the refused writes before it changed nothing");
    let switch = store.catalog().resolve("Vehicle.Cabin.Sunroof.Switch").unwrap().id;
    assert_eq!(store.get(switch).unwrap(), None, "the refused string write left the switch unset");
    // The watch ran inside the write; the API counts it once the write returns.
    assert!(host.wait_for(WAIT, |s| s.apis["sl:vss"]["writes_applied"].as_u64() >= Some(1)), "the marker write is counted");
    let status = host.status();
    let counters = &status.apis["sl:vss"];
    assert!(
        counters["writes_refused"].as_u64().unwrap() >= 5,
        "wrong-type, out-of-range, not-allowed, bad-pointer and unknown-signal writes are counted: {counters}"
    );
    assert!(host.wait_for(WAIT, |s| s.module("refuse/m").is_some_and(|m| m.activations >= 1)));
    assert_eq!(host.status().module("refuse/m").unwrap().state, ModuleState::Running);
}

#[test]
fn a_signal_can_trigger_a_module_on_each_change() {
    let (host, _lines, store) = vss_host();
    let dir = tempfile::tempdir().unwrap();
    // On each knob change: shade = trunc(knob).
    let wat = wat_file(
        &dir,
        "follow",
        r#"(module
  (import "sl_vss" "signal" (func $signal (param i32 i32) (result i32)))
  (import "sl_vss" "get_f64" (func $get_f64 (param i32 i32) (result i32)))
  (import "sl_vss" "set_i64" (func $set_i64 (param i32 i64) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "Vehicle.Cabin.Sunroof.Knob")
  (data (i32.const 64) "Vehicle.Cabin.Sunroof.Shade.Position")
  (func (export "sl_step") (result i32) (local $rc i32)
    (local.set $rc (call $get_f64 (call $signal (i32.const 0) (i32.const 26)) (i32.const 256)))
    (if (local.get $rc) (then (return (local.get $rc))))
    (call $set_i64 (call $signal (i32.const 64) (i32.const 36)) (i64.trunc_f64_s (f64.load (i32.const 256))))))"#,
    );
    host.deploy_app(&one_module("follow", &wat, ON_KNOB, "")).unwrap();
    assert!(host.wait_for(WAIT, |s| s.module("follow/m").is_some_and(|m| m.state == ModuleState::Running)));
    let shade = record(&store, SHADE);
    let knob = store.catalog().resolve(KNOB).unwrap().id;
    for (i, level) in [30.5, 70.0].into_iter().enumerate() {
        store.set(knob, Value::Float(level)).unwrap();
        let seen = shade.until("the shade following the knob", |v| *v == Value::UInt(level as u64));
        assert_eq!(seen.len(), 1, "one activation per change: {seen:?}");
        let id = store.catalog().resolve(SHADE).unwrap().id;
        assert_eq!(store.get(id).unwrap().unwrap().version, i as u64 + 1, "the module ran only when the knob changed");
    }
    assert_eq!(host.status().module("follow/m").unwrap().trigger, "api");
}

#[test]
fn a_trigger_on_an_unknown_signal_is_refused_at_deploy() {
    let (host, _lines, _store) = vss_host();
    let trigger = "{ type: api, api: \"sl:vss\", source: Vehicle.No.Such }";
    let err = host.deploy_app(&one_module("bad", silverline_test_programs::IDLE_WAT, trigger, "")).unwrap_err();
    assert!(format!("{err:#}").contains("Vehicle.No.Such"), "{err:#}");
    assert!(host.status().module("bad/m").is_none_or(|m| m.state != ModuleState::Running));
}

#[path = "../../../../examples/sunroof/rust/ema.rs"]
mod rust_controller;

/// The targets a controller binary writes for `knobs`, one activation per knob change, and the
/// lines it logged.
fn targets_of(controller: &str, knobs: &[f64]) -> (Vec<f64>, Vec<String>) {
    let (host, lines, store) = vss_host();
    host.deploy_app(&one_module("ctl", controller, ON_KNOB, ""))
    .unwrap();
    assert!(
        host.wait_for(WAIT, |s| s.module("ctl/m").is_some_and(|m| m.state == ModuleState::Running)),
        "{controller} starts"
    );
    let targets = record(&store, TARGET);
    let knob = store.catalog().resolve(KNOB).unwrap().id;
    let mut out = Vec::new();
    for &k in knobs {
        store.set(knob, Value::Float(k)).unwrap();
        let written = targets.until("the controller's target", |_| true);
        out.push(float(&written[0]));
    }
    (out, lines.of("ctl/m"))
}

#[test]
fn the_controller_in_c_zig_assemblyscript_and_rust_writes_the_same_targets() {
    // The example knob's profile, each level held for a few steps, and a sweep between levels.
    let mut knobs: Vec<f64> = [0.0, 60.0, 60.0, 20.0, 100.0, 40.0, 0.0, 80.0].iter().flat_map(|&k| [k; 4]).collect();
    knobs.extend((0..20).map(|i| f64::from(i) * 4.75));
    let zig = silverline_test_programs::polyglot::sunroof_controller_zig().unwrap_or_else(|e| panic!("{e}"));
    let asc = silverline_test_programs::polyglot::sunroof_controller_assemblyscript().unwrap_or_else(|e| panic!("{e}"));

    let (c, _) = targets_of(SUNROOF_CONTROLLER_C, &knobs);
    let mut ema = rust_controller::Ema::default();
    let rust: Vec<f64> = knobs.iter().map(|&k| ema.step(k)).collect();
    assert_eq!(c.len(), knobs.len());
    assert_eq!(c, rust, "C (Wasm) and Rust (the filter, native) agree to the bit");
    for (language, file) in [("Zig", zig), ("AssemblyScript", asc)] {
        let (targets, said) = targets_of(file.to_str().unwrap(), &knobs);
        assert_eq!(targets, c, "{language} agrees with C");
        // Its init logs through the channel API's SDK of its language.
        assert!(said.iter().any(|l| l == &format!("sunroof controller ({language}) ready")), "{language}: {said:?}");
    }
}

#[test]
fn a_module_whose_outputs_are_inactive_writes_no_signal_until_they_open() {
    let (host, _lines, store) = vss_host();
    let dir = tempfile::tempdir().unwrap();
    // Writes Position = 7 every step; a valid write that is not applied returns 1, not an error.
    let wat = wat_file(
        &dir,
        "writer",
        r#"(module
  (import "sl_vss" "signal" (func $signal (param i32 i32) (result i32)))
  (import "sl_vss" "set_i64" (func $set_i64 (param i32 i64) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "Vehicle.Cabin.Sunroof.Position")
  (func (export "sl_step") (result i32) (local $rc i32)
    (local.set $rc (call $set_i64 (call $signal (i32.const 0) (i32.const 30)) (i64.const 7)))
    (if (i32.eq (local.get $rc) (i32.const 1)) (then (return (i32.const 0))))
    (local.get $rc)))"#,
    );
    // As a staged update's shadow is deployed: its output group inactive.
    host.deploy_app(&one_module("shadow", &wat, "{ type: periodic, periodInNs: 20000000 }", "    outputChannels: { active: false }\n")).unwrap();
    let gate = |s: &silverline_host::HostStatus| s.module("shadow/m").and_then(|m| m.channels.iter().find(|c| c.name == silverline_manifest::API_WRITES).cloned());
    assert!(host.wait_for(WAIT, move |s| gate(s).is_some_and(|g| g.dropped >= 3)), "the shadow's writes are dropped and counted");
    let position = store.catalog().resolve(POSITION).unwrap().id;
    assert_eq!(store.get(position).unwrap(), None, "no write of the shadow reached the signal");
    assert_eq!(host.status().module("shadow/m").unwrap().step_errors, 0, "a dropped write is not an error");

    let positions = record(&store, POSITION);
    host.set_channel_active(&id("shadow/m"), silverline_manifest::API_WRITES, true).unwrap();
    assert_eq!(positions.until("the first write once active", |_| true), [Value::Int(7)]);
}
