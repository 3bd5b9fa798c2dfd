//! Bad load on real processes (Orchestrator, Hosts and Mosquitto each their own process): a huge
//! application refused without stalling the REST API or losing a Host.

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

#[test]
fn a_refused_application_of_two_thousand_modules_stalls_nothing_and_loses_no_host() {
    let _serial = serial();
    let sys = System::start(&["h1"]);
    let api = sys.rest.0.clone();
    let manifest = many_modules(sys.data.path(), "huge", 2000, Some("nowhere"));

    // Meanwhile, another client keeps reading the Hosts.
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (done, rest) = (done.clone(), Rest(api.clone()));
        std::thread::spawn(move || {
            let mut slowest = Duration::ZERO;
            while !done.load(Ordering::Relaxed) {
                let t = Instant::now();
                let (status, hosts) = rest.call("GET", "/v1/hosts", None);
                assert_eq!(status, 200, "{hosts}");
                assert_eq!(hosts[0]["online"], true, "the Host was declared lost: {hosts}");
                slowest = slowest.max(t.elapsed());
                std::thread::sleep(Duration::from_millis(20));
            }
            slowest
        })
    };
    let t = Instant::now();
    let out = run(&["deploy", manifest.to_str().unwrap(), "--api", &api]);
    let took = t.elapsed();
    done.store(true, Ordering::Relaxed);
    let slowest = reader.join().unwrap();
    eprintln!("refused in {took:?}; slowest GET /v1/hosts {slowest:?}");
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("nowhere"), "the refusal names the missing Host: {said}");
    assert!(said.len() < 20_000, "the refusal is summarised, not 2,000 explanations: {} bytes", said.len());
    assert_eq!(sys.rest.call("GET", "/v1/apps/huge", None).0, 404, "nothing was created");
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

#[test]
fn a_host_stopped_past_its_timeout_is_fenced_so_its_module_never_runs_twice() {
    let _serial = serial();
    let sys = System::start(&["h1", "h2"]);
    let (_sub, seen) = crate::orchestrated::subscriber(&sys, "fence/tick", index);
    let out = run(&["deploy", tick_app(sys.data.path()).to_str().unwrap(), "--wait", "--api", &sys.rest.0]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let first = eventually(30, "tick running", || host_of(&sys.rest));
    eventually(30, "ticks arriving", || (seen.lock().len() > 10).then_some(()));

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
    assert_eq!(host_of(&sys.rest).as_deref(), Some(second.as_str()));
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
    let sys = System::start(&["h1", "h2"]);
    let (_sub, seen) = crate::orchestrated::subscriber(&sys, "fence/tick", index);
    let out = run(&["deploy", tick_app(sys.data.path()).to_str().unwrap(), "--wait", "--api", &sys.rest.0]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let host = eventually(30, "tick running", || host_of(&sys.rest));

    // A second application, pinned next to the ticker, that takes seconds to compile.
    let slow = slow_to_compile(sys.data.path(), 60_000);
    let manifest = sys.data.path().join("slow.yaml");
    std::fs::write(&manifest, format!("name: slow\nmodules:\n  - name: big\n    file: {}\n    trigger: {{ type: periodic, periodInNs: 1000000000 }}\n    placement: {{ host: {host} }}\n", slow.display())).unwrap();
    let t = Instant::now();
    let out = run(&["deploy", manifest.to_str().unwrap(), "--wait", "--timeout", "300s", "--api", &sys.rest.0]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    eprintln!("the slow module was deployed in {:?}", t.elapsed());
    let events = crate::events::sse_once(&format!("{}/v1/events?follow=false", sys.rest.0), None);
    let lost: Vec<_> = events.iter().filter(|e| e["kind"] == "host-lost" || e["kind"] == "host-silent").collect();
    assert!(lost.is_empty(), "a Host was given up during the compile: {lost:?}");
    assert_eq!(host_of(&sys.rest).as_deref(), Some(host.as_str()), "the ticker never moved");
    let dups = duplicates(&seen.lock());
    assert!(dups.is_empty(), "activations published twice: {dups:?}");
}

#[test]
fn a_broker_outage_re_places_nothing() {
    let _serial = serial();
    let mut sys = System::start(&["h1", "h2"]);
    let (_sub, seen) = crate::orchestrated::subscriber(&sys, "fence/tick", index);
    let out = run(&["deploy", tick_app(sys.data.path()).to_str().unwrap(), "--wait", "--api", &sys.rest.0]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let host = eventually(30, "tick running", || host_of(&sys.rest));
    eventually(30, "ticks arriving", || (seen.lock().len() > 10).then_some(()));

    // The broker is gone for 5 s: longer than the Orchestrator's timeout (2 s), so everyone is
    // silent for longer than that. The scenario is the outage's length.
    sys.broker.kill();
    std::thread::sleep(Duration::from_secs(5));
    sys.broker.restart();
    let before = seen.lock().len();
    eventually(60, "ticks flowing again", || (seen.lock().len() > before + 25).then_some(()));
    eventually(30, "both Hosts online", || (crate::orchestrated::online_hosts(&sys.rest) == 2).then_some(()));

    let events = crate::events::sse_once(&format!("{}/v1/events?follow=false", sys.rest.0), None);
    let lost: Vec<_> = events.iter().filter(|e| e["kind"] == "host-lost" || e["kind"] == "host-silent").collect();
    assert!(lost.is_empty(), "a Host was given up over the broker's outage: {lost:?}");
    assert_eq!(host_of(&sys.rest).as_deref(), Some(host.as_str()), "the ticker never moved");
    let dups = duplicates(&seen.lock());
    assert!(dups.is_empty(), "activations published twice: {dups:?}");
}
