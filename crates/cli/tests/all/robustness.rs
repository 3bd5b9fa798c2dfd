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
