//! Density: one Host holds as many modules as its module slots say, every one of them runs, and
//! one more is refused before anything is compiled.

use crate::common::*;
use silverline_host::{DeployError, EngineConfig, HostConfig, ModuleId};
use silverline_test_programs::IDLE_WAT;
use std::time::Duration;

fn idle_modules(name: &str, n: usize, period_ms: u64) -> silverline_manifest::ApplicationManifest {
    let mut yaml = format!("name: {name}\nmodules:\n");
    for i in 0..n {
        yaml.push_str(&format!("  - name: m{i}\n    file: {IDLE_WAT}\n    trigger: {{ type: periodic, periodInNs: {} }}\n", period_ms * 1_000_000));
    }
    app(&yaml)
}

#[test]
fn ten_thousand_idle_modules_all_activate_and_one_more_is_refused() {
    // Alone: 100,000 activations a second on a small machine disturb every timing test.
    let _alone = HEAVY.write();
    const N: usize = 10_000;
    let mut engine = EngineConfig::new();
    engine.max_modules(N as u32);
    let mut config = HostConfig::new();
    config.engine(engine);
    let (host, _) = host_with(config);
    assert_eq!(host.module_slots(), N as u32);
    host.deploy_app(&idle_modules("dens", N, 100)).expect("10,000 modules fit 10,000 slots");
    let all_ran = host.wait_for_counts(Duration::from_secs(120), |c| c.modules == N as u64 && c.never_activated == 0);
    assert!(all_ran, "not every module activated: {:?}", host.counts());
    let counts = host.counts();
    assert_eq!((counts.running, counts.failed), (N as u64, 0));
    let status = host.status();
    assert_eq!(status.module_slots, N as u32);

    let spare = idle_modules("spare", 1, 100);
    match host.deploy(ModuleId::new("spare", "m0"), "spare", &spare.modules[0], &std::fs::read(IDLE_WAT).unwrap()) {
        Err(DeployError::NoSlot { slots, .. }) => assert_eq!(slots, N as u32),
        other => panic!("module 10,001 must be refused for lack of a slot, got {other:?}"),
    }
    assert_eq!(host.counts().modules, N as u64, "the refusal changed nothing");
    host.shutdown();
}
