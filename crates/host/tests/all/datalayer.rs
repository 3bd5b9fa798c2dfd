//! The industrial datalayer through a Host: `sl:datalayer` registered as a plug-in over a tree
//! the test holds too (as field I/O would). Modules check each refusal's code themselves and
//! write a marker node only when every code was right.

use crate::common::*;
use silverline_datalayer::{Datalayer, Meta, NodeType, Value, Writer};
use silverline_host::{HostConfig, ModuleState};
use std::sync::Arc;

/// A Host offering `sl:datalayer` over a small plant tree, and the tree.
fn datalayer_host() -> (silverline_host::Host, Arc<Datalayer>) {
    let dl = Datalayer::new();
    dl.add("plant/pendulum/angle", Meta::new(NodeType::F64).unit("rad").read_only()).unwrap();
    dl.add("plant/cart/velocity_cmd", Meta::new(NodeType::F64).unit("m/s").bounds(-2.0, 2.0)).unwrap();
    dl.add("test/marker", Meta::new(NodeType::I64)).unwrap();
    dl.add("test/intruder_rc", Meta::new(NodeType::I64)).unwrap();
    let mut config = HostConfig::new();
    config.api(Arc::new(silverline_datalayer::DatalayerApi::new(dl.clone()))).unwrap();
    let (host, _) = host_with(config);
    (host, dl)
}

const IMPORTS: &str = r#"
  (import "sl_datalayer" "open" (func $open (param i32 i32) (result i32)))
  (import "sl_datalayer" "close" (func $close (param i32) (result i32)))
  (import "sl_datalayer" "read_f64" (func $read_f64 (param i32 i32) (result i32)))
  (import "sl_datalayer" "write_f64" (func $write_f64 (param i32 f64) (result i32)))
  (import "sl_datalayer" "write_i64" (func $write_i64 (param i32 i64) (result i32)))
  (import "sl_datalayer" "claim" (func $claim (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "plant/pendulum/angle")
  (data (i32.const 32) "plant/cart/velocity_cmd")
  (data (i32.const 64) "test/marker")
  (data (i32.const 96) "test/intruder_rc")
  (data (i32.const 128) "plant/nope")"#;

/// Claims the drive, checks every refusal's code, writes the drive from the angle (−angle,
/// clamped by the node's bounds on purpose once), then the marker 42.
fn owner_wat() -> String {
    format!(
        r#"(module {IMPORTS}
  (func $expect (param $got i32) (param $want i32) (param $which i32)
    (if (i32.ne (local.get $got) (local.get $want)) (then unreachable)))
  (func (export "sl_step") (result i32) (local $angle i32) (local $drive i32) (local $marker i32) (local $old i32)
    (local.set $angle (call $open (i32.const 0) (i32.const 20)))
    (local.set $drive (call $open (i32.const 32) (i32.const 23)))
    (local.set $marker (call $open (i32.const 64) (i32.const 11)))
    (call $expect (call $open (i32.const 128) (i32.const 10)) (i32.const -1) (i32.const 1))
    (call $expect (call $open (i32.const 65530) (i32.const 100)) (i32.const -2) (i32.const 2))
    (call $expect (call $claim (local.get $drive)) (i32.const 0) (i32.const 3))
    (call $expect (call $claim (local.get $angle)) (i32.const -6) (i32.const 4))
    (call $expect (call $write_f64 (local.get $angle) (f64.const 0)) (i32.const -6) (i32.const 5))
    (call $expect (call $write_i64 (local.get $drive) (i64.const 1)) (i32.const -4) (i32.const 6))
    (call $expect (call $write_f64 (local.get $drive) (f64.const 9)) (i32.const -5) (i32.const 7))
    (call $expect (call $read_f64 (i32.const 0x7fff0001) (i32.const 256)) (i32.const -3) (i32.const 8))
    ;; a closed handle is stale: it reaches no node, even after its slot is reused
    (local.set $old (call $open (i32.const 0) (i32.const 20)))
    (call $expect (call $close (local.get $old)) (i32.const 0) (i32.const 9))
    (drop (call $open (i32.const 64) (i32.const 11)))
    (call $expect (call $read_f64 (local.get $old) (i32.const 256)) (i32.const -3) (i32.const 10))
    (call $expect (call $read_f64 (local.get $angle) (i32.const 256)) (i32.const 0) (i32.const 11))
    (call $expect (call $write_f64 (local.get $drive) (f64.neg (f64.load (i32.const 256)))) (i32.const 0) (i32.const 12))
    (drop (call $write_i64 (local.get $marker) (i64.const 42)))
    (i32.const 0)))"#
    )
}

/// Tries to write the drive another module owns; records the code it got.
fn intruder_wat() -> String {
    format!(
        r#"(module {IMPORTS}
  (func (export "sl_step") (result i32)
    (drop (call $write_i64 (call $open (i32.const 96) (i32.const 16))
      (i64.extend_i32_s (call $write_f64 (call $open (i32.const 32) (i32.const 23)) (f64.const 1.5)))))
    (i32.const 0)))"#
    )
}

fn module(dir: &tempfile::TempDir, name: &str, wat: &str, trigger: &str) -> String {
    let file = dir.path().join(format!("{name}.wat"));
    std::fs::write(&file, wat).unwrap();
    format!("  - name: {name}\n    file: {}\n    trigger: {trigger}\n", file.display())
}

#[test]
fn owned_read_only_mistyped_out_of_range_and_stale_handles_are_refused_with_their_codes() {
    let (host, dl) = datalayer_host();
    let angle = dl.resolve("plant/pendulum/angle").unwrap();
    dl.write(angle, Writer::Io, Value::F64(0.25)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (marker, rc) = (dl.resolve("test/marker").unwrap(), dl.resolve("test/intruder_rc").unwrap());
    let (tx, rx) = crossbeam_channel::unbounded();
    let _w = dl
        .watch(
            marker,
            Arc::new(move || {
                let _ = tx.send(());
            }),
        )
        .unwrap();
    let manifest = format!("name: p\nmodules:\n{}", module(&dir, "owner", &owner_wat(), "{ type: periodic, periodInNs: 20000000 }"));
    host.deploy_app(&app(&manifest)).unwrap();
    rx.recv_timeout(WAIT).expect("the owner wrote its marker: every refusal had its code");
    let drive = dl.resolve("plant/cart/velocity_cmd").unwrap();
    assert_eq!(dl.read(drive).unwrap().0, Some(Value::F64(-0.25)), "the drive follows the angle");
    assert_eq!(dl.owner(drive).unwrap().as_deref(), Some("p/owner"));

    // Another module of the same application cannot write what the owner claimed.
    let (tx, rx) = crossbeam_channel::unbounded();
    let _w2 = dl
        .watch(
            rc,
            Arc::new(move || {
                let _ = tx.send(());
            }),
        )
        .unwrap();
    let intruder = format!("name: q\nmodules:\n{}", module(&dir, "intruder", &intruder_wat(), "{ type: periodic, periodInNs: 20000000 }"));
    host.deploy_app(&app(&intruder)).unwrap();
    rx.recv_timeout(WAIT).expect("the intruder reported");
    assert_eq!(dl.read(rc).unwrap().0, Some(Value::I64(-7)), "DL_EOWNED");
    assert_eq!(dl.read(drive).unwrap().0, Some(Value::F64(-0.25)), "the intruder changed nothing");
    assert_eq!(host.status().module("p/owner").unwrap().state, ModuleState::Running, "no refusal trapped the owner");

    // The claim ends with its module: then the other module's write goes through.
    assert!(host.remove(&id("p/owner")));
    assert!(host.wait_for(WAIT, |_| dl.read(rc).ok().and_then(|(v, _)| v) == Some(Value::I64(0))), "the intruder's write is accepted once the owner is gone");
    assert_eq!(dl.owner(drive).unwrap(), None);
}

#[test]
fn a_c_module_claims_the_drive_and_follows_the_angle() {
    let (host, dl) = datalayer_host();
    let (angle, drive) = (dl.resolve("plant/pendulum/angle").unwrap(), dl.resolve("plant/cart/velocity_cmd").unwrap());
    let (tx, rx) = crossbeam_channel::unbounded();
    let _w = dl
        .watch(
            drive,
            Arc::new(move || {
                let _ = tx.send(());
            }),
        )
        .unwrap();
    let c = silverline_test_programs::DL_FOLLOW_C;
    host.deploy_app(&app(&format!("name: c\nmodules:\n  - name: follow\n    file: {c}\n    trigger: {{ type: periodic, periodInNs: 10000000 }}\n"))).unwrap();
    assert!(host.wait_for(WAIT, |s| s.module("c/follow").is_some_and(|m| m.state == ModuleState::Running)));
    assert_eq!(dl.owner(drive).unwrap().as_deref(), Some("c/follow"), "claimed in sl_init");
    // Field I/O refreshes the angle; the module answers on its next step.
    dl.write(angle, Writer::Io, Value::F64(0.5)).unwrap();
    let deadline = std::time::Instant::now() + WAIT;
    while dl.read(drive).unwrap().0 != Some(Value::F64(-0.5)) {
        rx.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now())).expect("the module writes the drive");
    }
    assert!(matches!(dl.write(drive, Writer::Module("c/other"), Value::F64(0.0)), Err(silverline_datalayer::DlError::Owned { .. })));
}
