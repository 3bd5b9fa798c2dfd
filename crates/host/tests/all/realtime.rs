//! Real-time modules: their own thread under a real-time policy (or a reported fallback), and a
//! best-effort hog — busy modules on the same Host and busy processes — does not make them miss
//! their deadlines where the policy was granted.

use crate::common::*;
use silverline_host::{EventKind, WakeupLatencyState};
use silverline_test_programs::{LOOP_WAT, TICK_WAT};
use std::process::{Child, Command};

const RT_TICK: &str = "    criticality: realtime\n    resources: { deadlineInNs: 10000000 }\n    outputChannels:\n      channels: [{ name: out, endpoint: rt/t }]\n";

#[test]
fn realtime_modules_get_the_policy_the_host_offers() {
    let _heavy = HEAVY.read(); // holds the wake-up latency request
    let (host, _) = host();
    host.deploy_app(&periodic("rt", "tick", TICK_WAT, 10, RT_TICK)).unwrap();
    assert!(host.wait_for(WAIT, |s| s.module("rt/tick").unwrap().activations >= 20));
    let status = host.status();
    let m = status.module("rt/tick").unwrap();
    if status.realtime.starts_with("SCHED_DEADLINE") {
        // The default budget (a tenth of the period) plus the Host's own share of each period.
        let r = m.reservation.expect("a granted reservation is reported");
        let runtime = silverline_placement::rta::reserved_runtime(std::time::Duration::from_millis(1), std::time::Duration::from_millis(10));
        assert_eq!((r.runtime_ns, r.budget_ns, r.deadline_ns, r.period_ns), (runtime.as_nanos() as u64, 1_000_000, 10_000_000, 10_000_000));
        assert_eq!(r.sized_from, silverline_host::BudgetSource::Default);
        assert!(m.scheduling.starts_with(&format!("SCHED_DEADLINE runtime={runtime:?} deadline=10ms period=10ms")), "{}", m.scheduling);
        assert!(m.thread_cpu_ns.count >= 20 && m.thread_cpu_ns.p50 > 0, "the thread's CPU time per period is measured: {:?}", m.thread_cpu_ns);
    } else {
        assert!(m.scheduling.contains("fallback") || m.scheduling.starts_with("SCHED_FIFO"), "host offers {}, module got {}", status.realtime, m.scheduling);
    }
    // Same non-drifting schedule as the shared timer.
    let log = host.activation_log(&id("rt/tick"));
    let first = log[0];
    assert!(log.iter().all(|r| r.scheduled_ns - first.scheduled_ns == (r.index - first.index) as u64 * 10_000_000));
    assert!(log.iter().all(|r| r.started_ns >= r.scheduled_ns));
    // A best-effort module stays on the shared pool.
    host.deploy_app(&periodic("be", "tick", TICK_WAT, 10, "    outputChannels:\n      channels: [{ name: out, endpoint: be/t }]\n")).unwrap();
    assert!(host.status().module("be/tick").unwrap().scheduling.starts_with("best effort (shared"));
}

struct Hogs(Vec<Child>);

impl Hogs {
    /// One busy `sh` loop per core (none unless `on`), killed when dropped.
    fn per_core(on: bool) -> Self {
        let cores = if on { std::thread::available_parallelism().map_or(2, |n| n.get()) } else { 0 };
        Hogs((0..cores).map(|_| Command::new("sh").args(["-c", "while :; do :; done"]).spawn().unwrap()).collect())
    }
}

impl Drop for Hogs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn best_effort_hogs_do_not_make_a_realtime_module_miss_its_deadline() {
    let _exclusive = HEAVY.write();
    let (host, _) = host();
    let _down = ShutDown(&host);
    host.deploy_app(&periodic("rt", "tick", TICK_WAT, 10, RT_TICK)).unwrap();
    if !host.status().realtime.starts_with("SCHED") {
        eprintln!("skipping the hog check: this machine grants no real-time policy ({})", host.status().realtime);
        return;
    }
    // Its best-effort twin, same period: the load must hurt it (it falls behind), or this proves
    // nothing. No deadline: under load its start-up alone could exceed one.
    host.deploy_app(&periodic("be", "tick", TICK_WAT, 10, "    outputChannels:\n      channels: [{ name: out, endpoint: be/t }]\n")).unwrap();
    // Busy-loop modules on the same Host (interrupted by the watchdog, restarted at once) ...
    let hog = "    restart: { policy: always, maxRestarts: 1000, backoffInNs: 1000000 }\n";
    for i in 0..2 {
        host.deploy_app(&periodic(&format!("hog{i}"), "loop", LOOP_WAT, 10, hog)).unwrap();
    }
    // ... and busy processes, one per core.
    let _hogs = Hogs::per_core(true);
    // Measure once the hogs are at work (a looping module shows it by its first interruption).
    assert!(host.wait_for(WAIT, |s| s.module("hog0/loop").unwrap().traps >= 1), "the hog ran");
    let before = host.status().module("rt/tick").unwrap().activations;
    assert!(host.wait_for(WAIT, |s| s.module("rt/tick").unwrap().activations >= before + 200));
    let status = host.status();
    let late = |id: &str| status.module(id).map_or(0, |m| m.deadline_misses + m.overruns);
    let m = status.module("rt/tick").unwrap();
    assert!(late("be/tick") > 0, "the best-effort twin felt the load: {:?}", status.module("be/tick"));
    // The real-time module keeps its deadlines; a stall of the whole VM (the hypervisor
    // descheduling it, which no policy inside prevents) may cost one or two.
    assert!(
        late("rt/tick") * 100 <= m.activations && late("rt/tick") < late("be/tick"),
        "{} late activations of {} under load, twin {} ({}); jitter {:?}",
        late("rt/tick"), m.activations, late("be/tick"), m.scheduling, m.start_jitter_ns
    );
}

#[test]
fn the_wakeup_latency_request_is_held_while_realtime_modules_run_and_released_after() {
    // Exclusive: every other test that runs real-time modules holds the request too.
    let _exclusive = HEAVY.write();
    let (host, _) = host();
    let before = silverline_host::current_bound_us();
    assert_eq!(host.status().wakeup_latency.state, WakeupLatencyState::Released, "nothing held before a real-time module runs");
    host.deploy_app(&periodic("rt", "tick", TICK_WAT, 10, RT_TICK)).unwrap();
    assert!(host.wait_for(WAIT, |s| s.wakeup_latency.realtime_threads == 1 && s.module("rt/tick").unwrap().activations > 0));
    let held = host.status().wakeup_latency;
    assert_eq!(held.target_us, Some(0));
    match held.state {
        WakeupLatencyState::Held => {}
        WakeupLatencyState::Refused => {
            eprintln!("skipping the device check: {:?}", held.refused);
            assert!(held.refused.is_some(), "a refusal says why");
            return;
        }
        other => panic!("a real-time module runs, yet the request is {other:?}"),
    }
    if before.is_some() {
        assert_eq!(silverline_host::current_bound_us(), Some(0), "the kernel applies the bound while it is held");
    }
    // A second real-time module shares the request; removing one keeps it.
    host.deploy_app(&periodic("rt2", "tick", TICK_WAT, 10, &rt_tick(10, "rt2/t"))).unwrap();
    assert!(host.wait_for(WAIT, |s| s.wakeup_latency.realtime_threads == 2));
    assert!(host.remove(&id("rt/tick")));
    assert!(host.wait_for(WAIT, |s| s.wakeup_latency.realtime_threads == 1));
    assert_eq!(host.status().wakeup_latency.state, WakeupLatencyState::Held);
    assert!(host.remove(&id("rt2/tick")));
    assert!(host.wait_for(WAIT, |s| s.wakeup_latency.state == WakeupLatencyState::Released), "{:?}", host.status().wakeup_latency);
    assert_eq!(silverline_host::current_bound_us(), before, "released: the kernel is back to what it was");
}

#[test]
fn the_request_can_be_turned_off() {
    let _heavy = HEAVY.read();
    let (host, _) = host_with(silverline_host::HostConfig::new().pm_qos(None).clone());
    host.deploy_app(&periodic("rt", "tick", TICK_WAT, 10, RT_TICK)).unwrap();
    assert!(host.wait_for(WAIT, |s| s.wakeup_latency.realtime_threads == 1));
    let st = host.status().wakeup_latency;
    assert_eq!((st.state, st.target_us), (WakeupLatencyState::Off, None));
}

#[test]
fn a_thread_that_outruns_its_reservation_is_reported_throttled_not_late() {
    let _heavy = HEAVY.read();
    let (host, _) = host();
    let _down = ShutDown(&host);
    let events = host.events();
    // 30 ms of work per activation against a declared budget of 0.5 ms every 20 ms: the kernel
    // stops the thread when the reservation is used up, every period.
    let busy = "    criticality: realtime
    resources: { budgetInNs: 500000 }
";
    host.deploy_app(&periodic("thr", "busy", silverline_test_programs::BUSY_WAT, 20, busy)).unwrap();
    if !host.status().realtime.starts_with("SCHED_DEADLINE") {
        eprintln!("skipping: this machine grants no SCHED_DEADLINE ({})", host.status().realtime);
        return;
    }
    assert!(host.wait_for(WAIT, |s| s.module("thr/busy").unwrap().throttled >= 3), "{:?}", host.status().module("thr/busy"));
    let m = host.status().module("thr/busy").unwrap().clone();
    let r = m.reservation.expect("reservation reported");
    assert_eq!((r.budget_ns, r.sized_from), (500_000, silverline_host::BudgetSource::Declared));
    assert_eq!(m.deadline_misses, 0, "no deadline declared: throttling is not a deadline miss");
    assert!(m.thread_cpu_ns.max >= r.runtime_ns, "{:?} vs {}", m.thread_cpu_ns, r.runtime_ns);
    let e = events.try_iter().find(|e| e.module.as_str() == "thr/busy" && matches!(e.kind, EventKind::Throttled { .. })).expect("a throttled event");
    let EventKind::Throttled { used_ns, runtime_ns, .. } = e.kind else { unreachable!() };
    assert!(used_ns >= runtime_ns && runtime_ns == r.runtime_ns);
}

/// The start-jitter benchmark (not a test): a 1 ms periodic module in each class on one Host,
/// idle first and then with one busy process per core, `SL_JITTER_RUNS` (default 3) runs of
/// `SL_JITTER_SECS` (default 20) seconds each, for each Host setting in `SL_JITTER_SETTINGS`
/// (default `auto,fifo,auto+bare,auto+early50`): a policy (`auto`, `fifo`), `+bare` without the
/// wake-up latency request, `+earlyN` waking N µs early. A fresh Host per run, so every run's
/// counters are its own. Where `cyclictest` (Debian `rt-tests`) is installed, each condition
/// also runs it — native C, SCHED_FIFO 89, the same 1 ms interval — as the machine's own floor.
/// Prints one row per run and the spread of the p99 over the runs. Run with
/// `cargo test --release -p silverline-host --test integration jitter_benchmark -- --ignored --nocapture`.
#[test]
#[ignore]
fn jitter_benchmark() {
    let _exclusive = HEAVY.write();
    let env = |k: &str, d: u64| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let (secs, runs) = (env("SL_JITTER_SECS", 20), env("SL_JITTER_RUNS", 3));
    let window = std::time::Duration::from_secs(secs);
    let settings = std::env::var("SL_JITTER_SETTINGS").unwrap_or_else(|_| "auto,fifo,auto+bare,auto+early50".into());
    println!("| Host setting | class | condition | run | activations | start jitter p50 | p99 | max | throttled | skipped (behind) | deadline misses | exec p99 | thread CPU/period p99 |");
    println!("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut spread: Vec<(String, Vec<f64>)> = Vec::new();
    let mut report = |setting: &str, condition: &str, run: u64, row: JitterRow| {
        println!(
            "| {setting}: {} | {} | {condition} | {run} | {} | {:.1} µs | {:.1} µs | {:.1} µs | {} | {} | {} | {} | {} |",
            row.scheduling, row.class, row.activations, row.p50_us, row.p99_us, row.max_us, row.throttled, row.behind, row.misses,
            us_or_dash(row.exec_p99_ns), us_or_dash(row.cpu_p99_ns)
        );
        let key = format!("| {setting} | {} | {condition} |", row.class);
        match spread.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(row.p99_us),
            None => spread.push((key, vec![row.p99_us])),
        }
    };
    for hog in [false, true] {
        let condition = if hog { "one busy process per core" } else { "idle machine" };
        for run in 1..=runs {
            if let Some(row) = cyclictest_run(hog, window) {
                report("cyclictest", condition, run, row);
            }
            for setting in settings.split(',') {
                for row in jitter_run(&jitter_config(setting), hog, window) {
                    report(setting, condition, run, row);
                }
            }
        }
    }
    println!("\n| Host setting | class | condition | p99 over the runs: min | median | max |");
    println!("| --- | --- | --- | ---: | ---: | ---: |");
    for (key, mut v) in spread {
        v.sort_by(f64::total_cmp);
        println!("{key} {:.1} µs | {:.1} µs | {:.1} µs |", v[0], v[v.len() / 2], v[v.len() - 1]);
    }
}

/// A benchmark setting such as `auto+bare` or `fifo+early50` as a Host configuration.
fn jitter_config(setting: &str) -> silverline_host::HostConfig {
    let mut config = silverline_host::HostConfig::new();
    for part in setting.split('+') {
        match part {
            "bare" => {
                config.pm_qos(None);
            }
            early if early.starts_with("early") => {
                config.wake_early(std::time::Duration::from_micros(early[5..].parse().unwrap()));
            }
            policy => {
                config.realtime_policy(policy.parse().unwrap());
            }
        }
    }
    config
}

/// cyclictest for `window` (one SCHED_FIFO 89 thread, 1 ms, memory locked, PM QoS 0), its
/// latency histogram read back; `None` when it is not installed.
fn cyclictest_run(hog: bool, window: std::time::Duration) -> Option<JitterRow> {
    let _hogs = Hogs::per_core(hog);
    let out = Command::new("cyclictest")
        .args(["-m", "-q", "-t1", "-p89", "-i1000", "-h20000", "--latency=0"])
        .arg(format!("-D{}", window.as_secs()))
        .output()
        .map_err(|e| eprintln!("no cyclictest baseline ({e}): apt-get install rt-tests"))
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // Histogram lines: `<µs> <count>`; the overflow count and the max are in `#` lines.
    let mut hist: Vec<(u64, u64)> = text.lines().filter(|l| !l.starts_with('#')).filter_map(|l| {
        let mut it = l.split_whitespace().map(|x| x.parse::<u64>().ok());
        Some((it.next()??, it.next()??))
    }).collect();
    hist.retain(|(_, n)| *n > 0);
    let total: u64 = hist.iter().map(|(_, n)| n).sum();
    let at = |q: f64| hist.iter().scan(0, |acc, (us, n)| { *acc += n; Some((*us, *acc)) }).find(|(_, acc)| *acc as f64 >= q * total as f64).map_or(0.0, |(us, _)| us as f64);
    let max = text.lines().find_map(|l| l.strip_prefix("# Max Latencies:")).and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap_or(0.0);
    Some(JitterRow { class: "native C", scheduling: "SCHED_FIFO 89".into(), activations: total as usize, p50_us: at(0.5), p99_us: at(0.99), max_us: max, throttled: 0, behind: 0, misses: 0, exec_p99_ns: 0, cpu_p99_ns: 0 })
}

/// One class's figures in one benchmark run.
struct JitterRow {
    class: &'static str,
    scheduling: String,
    activations: usize,
    p50_us: f64,
    p99_us: f64,
    max_us: f64,
    throttled: u64,
    behind: u64,
    misses: u64,
    exec_p99_ns: u64,
    cpu_p99_ns: u64,
}

fn us_or_dash(ns: u64) -> String {
    if ns == 0 { "–".into() } else { format!("{:.1} µs", ns as f64 / 1e3) }
}

/// One run: a fresh Host with `config`, a real-time and a best-effort 1 ms module, `window`
/// of start lateness (with busy processes if `hog`).
fn jitter_run(config: &silverline_host::HostConfig, hog: bool, window: std::time::Duration) -> Vec<JitterRow> {
    let (host, _) = host_with(config.clone());
    let rt = "    criticality: realtime\n    outputChannels:\n      channels: [{ name: out, endpoint: j/rt }]\n";
    let be = "    outputChannels:\n      channels: [{ name: out, endpoint: j/be }]\n";
    host.deploy_app(&periodic("rt", "tick", TICK_WAT, 1, rt)).unwrap();
    host.deploy_app(&periodic("be", "tick", TICK_WAT, 1, be)).unwrap();
    // The real-time thread sets its policy when it starts: wait for it before reading it.
    assert!(host.wait_for(WAIT, |s| s.module("rt/tick").unwrap().activations > 0));
    eprintln!("Host offers {}; wake-up latency {:?}", host.status().realtime, host.status().wakeup_latency);
    let _hogs = Hogs::per_core(hog);
    let before = host.status();
    let samples = collect_lateness(&host, &["rt/tick", "be/tick"], window);
    let status = host.status();
    let rows = [("rt/tick", "realtime"), ("be/tick", "best-effort")].map(|(module, class)| {
        let mut v = samples[module].clone();
        v.sort_unstable();
        let p = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize] as f64 / 1e3;
        let (m, m0) = (status.module(module).unwrap(), before.module(module).unwrap());
        JitterRow {
            class,
            scheduling: m.scheduling.split(" (").next().unwrap_or(&m.scheduling).to_string(),
            activations: v.len(),
            p50_us: p(0.5),
            p99_us: p(0.99),
            max_us: *v.last().unwrap() as f64 / 1e3,
            throttled: m.throttled - m0.throttled,
            behind: m.skipped.behind - m0.skipped.behind,
            misses: m.deadline_misses - m0.deadline_misses,
            exec_p99_ns: m.exec_ns.p99,
            cpu_p99_ns: m.thread_cpu_ns.p99,
        }
    });
    host.shutdown();
    rows.into()
}

/// Every activation's start lateness (ns) over `window`, read from the Hosts' activation logs
/// often enough that their 1024-entry rings never wrap between reads.
fn collect_lateness(host: &silverline_host::Host, modules: &[&str], window: std::time::Duration) -> std::collections::HashMap<String, Vec<u64>> {
    let mut last: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
    let mut out: std::collections::HashMap<String, Vec<u64>> = std::collections::HashMap::new();
    let end = std::time::Instant::now() + window;
    while std::time::Instant::now() < end {
        std::thread::sleep(std::time::Duration::from_millis(200)); // a sampling period, not a synchronisation
        for m in modules {
            let seen = last.entry(m.to_string()).or_insert(i64::MIN);
            let since = *seen;
            for r in host.activation_log(&id(m)).into_iter().filter(|r| r.index > since) {
                out.entry(m.to_string()).or_default().push(r.started_ns - r.scheduled_ns);
                *seen = r.index;
            }
        }
    }
    out
}

fn rt_tick(deadline_ms: u64, endpoint: &str) -> String {
    format!("    criticality: realtime\n    resources: {{ deadlineInNs: {} }}\n    outputChannels:\n      channels: [{{ name: out, endpoint: {endpoint} }}]\n", deadline_ms * 1_000_000)
}

#[test]
fn fixed_priorities_rank_and_pin_realtime_modules() {
    let _heavy = HEAVY.read();
    let (host, _) = host_with(silverline_host::HostConfig::new().realtime_policy(silverline_host::RealtimePolicy::Fifo).clone());
    if !host.status().realtime.starts_with("SCHED_FIFO") {
        eprintln!("skipping: this machine grants no SCHED_FIFO ({})", host.status().realtime);
        return;
    }
    host.deploy_app(&periodic("a", "late", TICK_WAT, 10, &rt_tick(10, "a/t"))).unwrap();
    host.deploy_app(&periodic("b", "urgent", TICK_WAT, 10, &rt_tick(2, "b/t"))).unwrap();
    let pinned = |s: &silverline_host::HostStatus, id: &str| s.module(id).is_some_and(|m| m.scheduling.contains(" on core ") && m.activations > 0);
    assert!(host.wait_for(WAIT, |s| pinned(s, "a/late") && pinned(s, "b/urgent")), "{:?}", host.status().modules.iter().map(|m| &m.scheduling).collect::<Vec<_>>());
    let status = host.status();
    let scheduling = |id: &str| status.module(id).unwrap().scheduling.clone();
    // Deadline monotonic: the 2 ms deadline ranks first, whatever the deployment order.
    assert!(scheduling("b/urgent").starts_with("SCHED_FIFO priority 89 on core "), "{}", scheduling("b/urgent"));
    assert!(scheduling("a/late").starts_with("SCHED_FIFO priority 88 on core "), "{}", scheduling("a/late"));
    assert!(scheduling("a/late").contains("SCHED_DEADLINE refused: not asked for (--realtime-policy fifo)"));
}

#[test]
fn real_time_policies_turned_off_are_reported_as_a_fallback() {
    let _heavy = HEAVY.read();
    let (host, _) = host_with(silverline_host::HostConfig::new().realtime_policy(silverline_host::RealtimePolicy::Off).clone());
    assert!(host.status().realtime.starts_with("none: real-time policies turned off"), "{}", host.status().realtime);
    host.deploy_app(&periodic("a", "t", TICK_WAT, 10, &rt_tick(10, "a/t"))).unwrap();
    assert!(host.wait_for(WAIT, |s| s.module("a/t").unwrap().activations >= 2));
    let m = host.status().module("a/t").unwrap().clone();
    assert!(m.scheduling.starts_with("best effort on its own thread (fallback: real-time policies turned off"), "{}", m.scheduling);
}

#[test]
fn a_cpu_quota_confines_best_effort_modules_and_not_realtime_ones() {
    let _exclusive = HEAVY.write();
    let (host, _) = host_with(silverline_host::HostConfig::new().best_effort_cpu(Some(0.1)).clone());
    let _down = ShutDown(&host);
    let quota = host.status().best_effort_cpu;
    let Some(dir) = quota.split("(cgroup ").nth(1).map(|d| std::path::PathBuf::from(d.trim_end_matches(')'))) else {
        assert!(quota.starts_with("refused: "), "the Host says why there is no quota: {quota}");
        eprintln!("skipping: {quota}");
        return;
    };
    assert!(quota.starts_with("0.10 CPU"), "{quota}");
    // A hog wanting 0.75 of a CPU next to a real-time module.
    host.deploy_app(&periodic("hog", "busy", silverline_test_programs::BUSY_WAT, 40, "")).unwrap();
    host.deploy_app(&periodic("rt", "tick", TICK_WAT, 10, RT_TICK)).unwrap();
    let stat = |key: &str| -> u64 {
        let text = std::fs::read_to_string(dir.join("cpu.stat")).unwrap();
        text.lines().find_map(|l| l.strip_prefix(key)?.trim().parse().ok()).unwrap()
    };
    assert!(host.wait_for(WAIT, |_| stat("nr_throttled ") > 0), "the hog is throttled");
    let inside: Vec<String> = std::fs::read_to_string(dir.join("tasks")).unwrap().lines().map(|t| {
        std::fs::read_to_string(format!("/proc/self/task/{t}/comm")).unwrap_or_default().trim().to_string()
    }).collect();
    assert!(inside.iter().any(|n| n.starts_with("worker-")), "the worker pool is inside: {inside:?}");
    assert!(!inside.iter().any(|n| n.starts_with("rt-")), "real-time threads are not: {inside:?}");
    assert!(host.wait_for(WAIT, |s| s.module("rt/tick").unwrap().activations >= 20));
}
