//! Bad load on real processes (Orchestrator, Hosts and the broker each their own process): a
//! huge application refused without stalling the REST API or losing a Host; a Host frozen past
//! its timeout, a multi-second compile and a broker outage, none of which makes a module run
//! twice; a flooding module held to its budget, the broker bounded and its neighbour intact.

use crate::common::*;
use crate::orchestrated::System;
use silverline_test_programs::IDLE_WAT;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// An application of `n` idle modules, each pinned to `host` when given.
pub fn many_modules(dir: &Path, name: &str, n: usize, host: Option<&str>) -> std::path::PathBuf {
    let pin = host.map(|h| format!("    placement: {{ host: {h} }}\n")).unwrap_or_default();
    let mut yaml = format!("name: {name}\nmodules:\n");
    for i in 0..n {
        yaml.push_str(&format!("  - name: m{i}\n    file: {IDLE_WAT}\n    trigger: {{ type: periodic, periodInNs: 500000000 }}\n    resources: {{ memoryBytes: 131072 }}\n{pin}"));
    }
    let file = dir.join(format!("{name}.yaml"));
    std::fs::write(&file, yaml).unwrap();
    file
}

/// Deploy `manifest` with the CLI while another client keeps reading the Hosts; returns the
/// deploy's output, how long it took, and the latency of every read meanwhile. Every read must
/// succeed and show every Host online.
/// Reading goes on for `after` once the deploy has returned (the Host deploying meanwhile).
fn deploy_while_reading(api: &str, manifest: &Path, after: Duration) -> (std::process::Output, Duration, Vec<Duration>) {
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (done, rest) = (done.clone(), Rest(api.to_string()));
        std::thread::spawn(move || {
            let mut latencies = Vec::new();
            while !done.load(Ordering::Relaxed) {
                let t = Instant::now();
                let (status, hosts) = rest.call("GET", "/v1/hosts", None);
                latencies.push(t.elapsed());
                assert_eq!(status, 200, "{hosts}");
                assert!(hosts.as_array().unwrap().iter().all(|h| h["online"] == true), "a Host was declared lost: {hosts}");
                std::thread::sleep(Duration::from_millis(20));
            }
            latencies
        })
    };
    let t = Instant::now();
    let out = run(&["deploy", manifest.to_str().unwrap(), "--api", api]);
    let took = t.elapsed();
    std::thread::sleep(after);
    done.store(true, Ordering::Relaxed);
    (out, took, reader.join().unwrap())
}

#[test]
fn a_refused_application_of_two_thousand_modules_stalls_nothing_and_loses_no_host() {
    let _serial = serial();
    let sys = System::start(&["h1"]);
    let manifest = many_modules(sys.data.path(), "huge", 2000, Some("nowhere"));
    let (out, took, latencies) = deploy_while_reading(&sys.rest.0, &manifest, Duration::ZERO);
    eprintln!("refused in {took:?}; slowest GET /v1/hosts {:?}", latencies.iter().max());
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("nowhere"), "the refusal names the missing Host: {said}");
    assert!(said.len() < 20_000, "the refusal is summarised, not 2,000 explanations: {} bytes", said.len());
    assert_eq!(sys.rest.call("GET", "/v1/apps/huge", None).0, 404, "nothing was created");
}

/// `GET /v1/hosts` while large applications are refused and placed.
#[test]
#[ignore = "benchmark: cargo test -p silverline-cli --test integration orchestrator_latency_benchmark -- --ignored --nocapture"]
fn orchestrator_latency_benchmark() {
    let _serial = serial();
    let sys = System::start_with(&["h1"], |_| Vec::new(), |_, _| vec!["--max-modules".into(), "2000".into()]);
    let p = |l: &mut Vec<Duration>, q: f64| {
        l.sort();
        l[((l.len() - 1) as f64 * q) as usize]
    };
    let cases = [("refused", 2000, Some("nowhere")), ("refused", 10_000, Some("nowhere")), ("placed", 2000, None)];
    for (i, (what, n, pin)) in cases.into_iter().enumerate() {
        let manifest = many_modules(sys.data.path(), &format!("big{i}"), n, pin);
        let (_, took, mut latencies) = deploy_while_reading(&sys.rest.0, &manifest, Duration::from_secs(5));
        println!("| {n} modules, {what} | {:.2} s | {} | {:.1} ms | {:.1} ms |", took.as_secs_f64(), latencies.len(), p(&mut latencies, 0.5).as_secs_f64() * 1e3, p(&mut latencies, 0.99).as_secs_f64() * 1e3);
    }
}

/// The activation indices in `tick`'s messages (8-byte little-endian u64).
fn index(payload: &[u8]) -> u64 {
    u64::from_le_bytes(payload.get(..8).and_then(|b| b.try_into().ok()).unwrap_or_default())
}

/// Indices seen more than once.
fn duplicates(seen: &[u64]) -> Vec<u64> {
    let mut counts = std::collections::BTreeMap::new();
    seen.iter().for_each(|k| *counts.entry(*k).or_insert(0) += 1);
    counts.into_iter().filter(|(_, n)| *n > 1).map(|(k, _)| k).collect()
}

fn tick_app(dir: &Path) -> std::path::PathBuf {
    let file = dir.join("tick.yaml");
    std::fs::write(
        &file,
        format!(
            "name: fence\nmodules:\n  - name: tick\n    file: {}\n    trigger: {{ type: periodic, periodInNs: 20000000 }}\n    outputChannels: {{ channels: [{{ name: out, endpoint: fence/tick }}] }}\n",
            silverline_test_programs::TICK_WAT
        ),
    )
    .unwrap();
    file
}

fn host_of(rest: &Rest) -> Option<String> {
    let app = rest.get("/v1/apps/fence");
    let m = &app["modules"][0];
    (m["state"] == "running").then(|| m["host"].as_str().unwrap_or_default().to_string())
}

/// Two Hosts, the ticker deployed on one of them (returned) and an independent subscriber
/// seeing its ticks arrive.
fn ticking() -> (System, Arc<silverline_channels::MqttBackend>, Arc<parking_lot::Mutex<Vec<u64>>>, String) {
    let sys = System::start(&["h1", "h2"]);
    let (sub, seen) = crate::orchestrated::subscriber(&sys, "fence/tick", index);
    let out = run(&["deploy", tick_app(sys.data.path()).to_str().unwrap(), "--wait", "--api", &sys.rest.0]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let host = eventually(30, "tick running", || host_of(&sys.rest));
    eventually(30, "ticks arriving", || (seen.lock().len() > 10).then_some(()));
    (sys, sub, seen, host)
}

#[test]
fn a_host_stopped_past_its_timeout_is_fenced_so_its_module_never_runs_twice() {
    let _serial = serial();
    let (sys, _sub, seen, first) = ticking();

    // The Host freezes well past the Orchestrator's timeout (2 s): its module is re-placed.
    sys.signal_host(&first, "STOP");
    let stopped = Instant::now();
    let second = eventually(60, "tick re-placed on the other Host", || host_of(&sys.rest).filter(|h| *h != first));
    eprintln!("{first} stopped; tick re-placed on {second} after {:?}", stopped.elapsed());
    let before = seen.lock().len();
    eventually(30, "ticks from the new Host", || (seen.lock().len() > before + 25).then_some(()));
    // The scenario is a 10-second freeze.
    std::thread::sleep(Duration::from_secs(10).saturating_sub(stopped.elapsed()));

    // It wakes up with its old copy still deployed: fenced, it publishes nothing, re-registers,
    // and is told to delete the copy.
    sys.signal_host(&first, "CONT");
    eventually(60, "the woken Host back online without the module", || {
        let host = sys.rest.get(&format!("/v1/hosts/{first}"));
        (host["online"] == true && host["modules"].as_array().is_some_and(|m| m.is_empty())).then_some(())
    });
    let before = seen.lock().len();
    eventually(30, "ticks keep coming", || (seen.lock().len() > before + 25).then_some(()));
    assert_eq!(eventually(30, "the ticker reported running", || host_of(&sys.rest)), second);
    let dups = duplicates(&seen.lock());
    assert!(dups.is_empty(), "activations published twice: {dups:?}");
}

/// A module whose compilation takes seconds (many functions).
fn slow_to_compile(dir: &Path, functions: usize) -> std::path::PathBuf {
    let mut wat = String::from("(module (memory (export \"memory\") 1)\n");
    for i in 0..functions {
        wat.push_str(&format!("(func $f{i} (param i32) (result i32) (i32.add (i32.mul (local.get 0) (i32.const {i})) (i32.const 7)))\n"));
    }
    wat.push_str("(func (export \"sl_step\") (result i32) (drop (call $f0 (i32.const 1))) (i32.const 0)))\n");
    let file = dir.join("slow.wat");
    std::fs::write(&file, wat).unwrap();
    file
}

#[test]
fn a_multi_second_compile_silences_no_host_and_duplicates_nothing() {
    let _serial = serial();
    let (sys, _sub, seen, host) = ticking();

    // A second application, pinned next to the ticker, that takes seconds to compile.
    let slow = slow_to_compile(sys.data.path(), 60_000);
    let manifest = sys.data.path().join("slow.yaml");
    std::fs::write(&manifest, format!("name: slow\nmodules:\n  - name: big\n    file: {}\n    trigger: {{ type: periodic, periodInNs: 1000000000 }}\n    placement: {{ host: {host} }}\n", slow.display())).unwrap();
    let t = Instant::now();
    let out = run(&["deploy", manifest.to_str().unwrap(), "--wait", "--timeout", "300s", "--api", &sys.rest.0]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    eprintln!("the slow module was deployed in {:?}", t.elapsed());
    nothing_moved(&sys, &host, &seen.lock(), "during the compile");
}

#[test]
fn a_broker_outage_re_places_nothing() {
    let _serial = serial();
    let (mut sys, _sub, seen, host) = ticking();

    // The broker is gone for 5 s: longer than the Orchestrator's timeout (2 s), so everyone is
    // silent for longer than that. The scenario is the outage's length.
    sys.broker.kill();
    std::thread::sleep(Duration::from_secs(5));
    sys.broker.restart();
    let before = seen.lock().len();
    eventually(60, "ticks flowing again", || (seen.lock().len() > before + 25).then_some(()));
    eventually(30, "both Hosts online", || (crate::orchestrated::online_hosts(&sys.rest) == 2).then_some(()));

    nothing_moved(&sys, &host, &seen.lock(), "over the broker's outage");
}

/// No Host was given up `when`, the ticker still runs on `host`, and no activation reached
/// the subscriber twice.
fn nothing_moved(sys: &System, host: &str, seen: &[u64], when: &str) {
    let events = crate::events::sse_once(&format!("{}/v1/events?follow=false", sys.rest.0), None);
    let lost: Vec<_> = events.iter().filter(|e| e["kind"] == "host-lost" || e["kind"] == "host-silent").collect();
    assert!(lost.is_empty(), "a Host was given up {when}: {lost:?}");
    assert_eq!(eventually(30, "the ticker reported running", || host_of(&sys.rest)), host, "the ticker never moved");
    let dups = duplicates(seen);
    assert!(dups.is_empty(), "activations published twice: {dups:?}");
}

/// Resident memory of process `pid`, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
    kb.unwrap_or(0) * 1024
}

/// An Orchestrator with its embedded broker and Hosts `names`, each its own process.
struct Embedded {
    data: tempfile::TempDir,
    rest: Rest,
    broker: String,
    orch: Proc,
    _hosts: Vec<Proc>,
}

fn embedded(names: &[&str], orchestrator_args: &[&str]) -> Embedded {
    let data = tempfile::tempdir().unwrap();
    let (api_port, mqtt_port) = (free_port(), free_port());
    let listen = format!("127.0.0.1:{api_port}");
    let mqtt = format!("127.0.0.1:{mqtt_port}");
    let mut args = vec!["orchestrator", "--listen", &listen, "--mqtt-listen", &mqtt, "--data-dir", data.path().to_str().unwrap(), "--host-timeout", "2s"];
    args.extend(orchestrator_args);
    let orch = Proc::spawn(&args);
    let rest = Rest(format!("http://{listen}"));
    remember_admin_token(&rest.0, data.path());
    eventually(30, "the REST API answers", || (rest.call("GET", "/v1/hosts", None).0 == 200).then_some(()));
    let broker = format!("mqtt://{mqtt}");
    let hosts = names
        .iter()
        .map(|n| {
            enroll(&rest.0, n, &data.path().join(n));
            crate::orchestrated::host(n, &broker, data.path())
        })
        .collect();
    eventually(30, "all hosts online", || (crate::orchestrated::online_hosts(&rest) == names.len()).then_some(()));
    Embedded { data, rest, broker, orch, _hosts: hosts }
}

/// A flood on h1 (with the given extra resources) read by a module on h2 that never reads,
/// and a ticking neighbour next to the flood.
fn flood_app(dir: &Path, resources: &str) -> std::path::PathBuf {
    let file = dir.join("flood.yaml");
    let (flood, tick, idle) = (silverline_test_programs::FLOOD_WAT, silverline_test_programs::TICK_WAT, IDLE_WAT);
    std::fs::write(
        &file,
        format!(
            r#"name: flood
modules:
  - name: flood
    file: {flood}
    trigger: {{ type: periodic, periodInNs: 1000000 }}
    resources: {{ {resources} }}
    outputChannels: {{ channels: [{{ name: out, endpoint: flood/data }}] }}
    placement: {{ host: h1 }}
  - name: tick
    file: {tick}
    trigger: {{ type: periodic, periodInNs: 20000000 }}
    outputChannels: {{ channels: [{{ name: out, endpoint: flood/tick }}] }}
    placement: {{ host: h1 }}
  - name: reader
    file: {idle}
    trigger: {{ type: periodic, periodInNs: 1000000000 }}
    inputChannels: {{ channels: [{{ name: in, endpoint: flood/data, queueDepth: 2 }}] }}
    placement: {{ host: h2 }}
"#
        ),
    )
    .unwrap();
    file
}

/// The independent subscriber of [`crate::orchestrated::subscriber`], for a system without
/// Mosquitto.
fn subscribe(sys: &Embedded, filter: &str) -> (Arc<silverline_channels::MqttBackend>, Arc<parking_lot::Mutex<Vec<u64>>>) {
    let seen = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let sink = seen.clone();
    let (user, password) = observer_login(&sys.rest.0);
    let mut cfg = silverline_channels::MqttConfig::from_url(&sys.broker).unwrap();
    cfg.client_id(format!("observer-{}", free_port())).login(user, password);
    let backend = silverline_channels::MqttBackend::connect(&cfg, Arc::new(move |_t: &str, p| sink.lock().push(index(&p)))).unwrap();
    use silverline_channels::RemoteBackend;
    backend.subscribe(filter);
    assert!(backend.wait_subscribed(Duration::from_secs(10)));
    (backend, seen)
}

/// Deploy the flood with `resources` and watch for `window`: the broker's largest RSS growth,
/// and the neighbour's activations missing at an independent subscriber.
fn run_flood(sys: &Embedded, resources: &str, window: Duration) -> (u64, Vec<u64>, usize) {
    let (_sub, ticks) = subscribe(sys, "flood/tick");
    let before = rss(sys.orch.0.id());
    let out = run(&["deploy", flood_app(sys.data.path(), resources).to_str().unwrap(), "--wait", "--api", &sys.rest.0]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let t = Instant::now();
    let mut peak = before;
    while t.elapsed() < window {
        peak = peak.max(rss(sys.orch.0.id()));
        std::thread::sleep(Duration::from_millis(200));
    }
    let seen = ticks.lock().clone();
    let (first, last) = (seen.iter().min().copied().unwrap_or(0), seen.iter().max().copied().unwrap_or(0));
    let got: std::collections::BTreeSet<u64> = seen.iter().copied().collect();
    let missing = (first..=last).filter(|k| !got.contains(k)).collect();
    (peak.saturating_sub(before), missing, seen.len())
}

#[test]
fn a_flooding_module_leaves_the_broker_bounded_and_its_neighbour_intact() {
    let _serial = serial();
    let sys = embedded(&["h1", "h2"], &[]);
    // The flood on its default budget (10,000 messages a second): 200 a millisecond attempted.
    let (grown, missing, ticks) = run_flood(&sys, "", Duration::from_secs(10));
    eprintln!("broker grew by {} MiB; the neighbour published {ticks} ticks, {} missing", grown >> 20, missing.len());
    assert!(ticks > 100, "the neighbour's ticks arrive ({ticks})");
    assert!(missing.is_empty(), "the neighbour lost activations {missing:?}");
    assert!(grown < 256 << 20, "the broker grew by {} MiB", grown >> 20);
    let flood = sys.rest.get("/v1/apps/flood");
    let refused: u64 = flood["modules"].as_array().unwrap().iter().filter(|m| m["module"] == "flood").flat_map(|m| m["profile"]["channels"].as_array().cloned().unwrap_or_default()).map(|c| c["rate_limited"].as_u64().unwrap_or(0)).sum();
    assert!(refused > 0, "the flood was held to its budget: {flood}");
    // ... and says so in the metrics, next to the broker's own counters.
    let metrics = crate::metrics::get_metrics(&format!("{}/metrics", sys.rest.0));
    let line = metrics.lines().find(|l| l.starts_with("silverline_channel_rate_limited_total{") && l.contains("id=\"flood/flood\"")).unwrap_or_default();
    assert!(line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()).is_some_and(|v| v > 0.0), "{line:?}");
    assert!(metrics.contains("silverline_broker_slow_disconnects_total "), "the broker's counters are there");
}

/// Broker memory under a flood without a publish budget, with the old per-topic buffer
/// (rumqttd's 64 MiB × 11 segments) and the default one.
#[test]
#[ignore = "benchmark: cargo test -p silverline-cli --test integration flood_benchmark -- --ignored --nocapture"]
fn flood_benchmark() {
    let _serial = serial();
    let unlimited = "maxPublishPerSecond: 10000000, maxPublishBytesPerSecond: 1099511627776";
    for buffer in ["704MiB", "4MiB"] {
        let sys = embedded(&["h1", "h2"], &["--broker-topic-buffer", buffer]);
        let (grown, missing, ticks) = run_flood(&sys, unlimited, Duration::from_secs(30));
        let flood = sys.rest.get("/v1/apps/flood");
        let sent: u64 = flood["modules"].as_array().unwrap().iter().filter(|m| m["module"] == "flood").map(|m| m["profile"]["messages_out"].as_u64().unwrap_or(0)).sum();
        println!("| {buffer} | {} MiB | {sent} | {ticks} | {} |", grown >> 20, missing.len());
    }
}
