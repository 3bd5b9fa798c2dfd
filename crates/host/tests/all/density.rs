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

/// Resident memory of this process, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok()).unwrap();
    kb * 1024
}

/// CPU time (user + system) of this process so far.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10) // USER_HZ is 100 on Linux
}

/// CPU share of this process over `window`, in cores.
fn cpu_share(window: Duration) -> f64 {
    let (t0, c0) = (std::time::Instant::now(), cpu_time());
    std::thread::sleep(window); // a measurement window, not synchronisation
    (cpu_time() - c0).as_secs_f64() / t0.elapsed().as_secs_f64()
}

/// `cargo test -p silverline-host --test integration density_benchmark -- --ignored --nocapture`
#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn density_benchmark() {
    let _alone = HEAVY.write();
    println!("\ndensity: idle periodic modules (idle.wat, 100 ms period) on one Host; baseline = the same Host with no modules\n");
    println!("| modules | RSS added | per module | Host CPU share (cores) | vs. no modules |");
    println!("| --- | --- | --- | --- | --- |");
    for n in [1_000usize, 10_000] {
        let mut engine = EngineConfig::new();
        engine.max_modules(n as u32);
        let mut config = HostConfig::new();
        config.engine(engine);
        let (host, _) = host_with(config);
        let (rss0, cpu0) = (rss(), cpu_share(Duration::from_secs(5)));
        host.deploy_app(&idle_modules("dens", n, 100)).unwrap();
        assert!(host.wait_for_counts(Duration::from_secs(120), |c| c.never_activated == 0));
        let cpu = cpu_share(Duration::from_secs(10));
        let grown = rss().saturating_sub(rss0);
        println!(
            "| {n} | {:.1} MiB | {:.1} KiB | {cpu:.3} | +{:.3} |",
            grown as f64 / (1 << 20) as f64,
            grown as f64 / n as f64 / 1024.0,
            cpu - cpu0
        );
        host.shutdown();
    }
}
