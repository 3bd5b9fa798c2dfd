//! Bad deployments are refused with a clear error and change nothing.

use crate::common::*;
use silverline_host::{DeployError, Failure};
use silverline_test_programs::{IDLE_WAT, INIT_FAIL_WAT, TICK_WAT};

#[test]
fn failing_init_is_refused_and_leaves_nothing() {
    let (host, _) = host();
    let manifest = periodic("bad", "init", INIT_FAIL_WAT, 10, "");
    let spec = &manifest.modules[0];
    let err = host.deploy(id("bad/init"), "bad", spec, &std::fs::read(INIT_FAIL_WAT).unwrap()).unwrap_err();
    assert!(matches!(err, DeployError::Start { failure: Failure::InitFailed { .. }, .. }), "{err}");
    assert!(host.status().modules.is_empty());
}

#[test]
fn missing_channel_in_manifest_fails_init() {
    let (host, _) = host();
    // tick.wat opens `out` in sl_init; without it in the manifest, init fails (ENOENT).
    let err = host.deploy_app(&periodic("nochan", "tick", TICK_WAT, 10, "")).unwrap_err();
    assert!(format!("{err:#}").contains("sl_init returned"), "{err:#}");
    assert!(host.status().modules.is_empty());
}

#[test]
fn unknown_imports_and_garbage_are_load_errors() {
    let (host, _) = host();
    let spec = periodic("x", "m", IDLE_WAT, 10, "").modules[0].clone();
    let unknown = br#"(module (import "sl" "teleport" (func)) (func (export "sl_step") (result i32) i32.const 0))"#;
    let err = host.deploy(id("x/m"), "x", &spec, unknown).unwrap_err();
    assert!(matches!(&err, DeployError::Load { message, .. } if message.contains("teleport")), "{err}");
    let err = host.deploy(id("x/m"), "x", &spec, b"not wasm at all").unwrap_err();
    assert!(matches!(err, DeployError::Load { .. }));
    let no_step = br#"(module (memory (export "memory") 1))"#;
    let err = host.deploy(id("x/m"), "x", &spec, no_step).unwrap_err();
    assert!(format!("{err}").contains("sl_step"));
    assert!(host.status().modules.is_empty());
}

#[test]
fn the_same_id_cannot_be_deployed_twice() {
    let (host, _) = host();
    let manifest = periodic("twice", "idle", IDLE_WAT, 10, "");
    host.deploy_app(&manifest).unwrap();
    let err = host.deploy_app(&manifest).unwrap_err();
    assert!(format!("{err:#}").contains("already deployed"));
    assert_eq!(host.status().modules.len(), 1);
    assert!(host.remove(&id("twice/idle")));
    assert!(!host.remove(&id("twice/idle")));
    assert!(host.status().modules.is_empty());
}
