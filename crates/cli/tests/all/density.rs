//! Many modules on one Host, through the Orchestrator and real processes: a thousand modules
//! deploy and run, the Host keeps reporting all of them (in pages), and a module beyond the
//! Host's module slots is refused at placement, naming the Host and the limit.

use crate::common::*;
use crate::orchestrated::System;
use std::path::Path;

fn idle_app(dir: &Path, name: &str, n: usize) -> std::path::PathBuf {
    crate::robustness::many_modules(dir, name, n, None)
}

#[test]
fn a_thousand_modules_run_on_one_host_which_keeps_reporting_and_refuses_one_more() {
    let _serial = serial();
    const N: usize = 1000;
    let sys = System::start_with(&["dense"], |_| Vec::new(), |_, _| vec!["--max-modules".into(), N.to_string()]);
    let api = sys.rest.0.clone();
    let out = run(&["deploy", idle_app(sys.data.path(), "dens", N).to_str().unwrap(), "--api", &api]);
    assert!(out.status.success(), "deploy: {}\n{}", stdout(&out), stderr(&out));
    // Every module runs, and the Host's reports (500 modules a page) cover all of them.
    eventually(180, "all 1,000 modules running in the Host's reports", || {
        let hosts = sys.rest.get("/v1/hosts");
        let dense = &hosts.as_array()?[0];
        let running = dense["modules"].as_array()?.iter().filter(|m| m["state"] == "running").count();
        (dense["online"] == true && running == N).then_some(())
    });
    let app = sys.rest.get("/v1/apps/dens");
    assert_eq!(app["state"], "running", "{}", app["state"]);
    // Lists come in pages when asked.
    let last = sys.rest.get("/v1/modules?offset=990&limit=20");
    assert_eq!(last.as_array().unwrap().len(), 10, "the last page holds the last 10 of 1,000");

    // Full: one more module is refused at placement with the reason, and nothing else moves.
    let out = run(&["deploy", idle_app(sys.data.path(), "more", 1).to_str().unwrap(), "--api", &api]);
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(said.contains("dense: module slots (all 1000 in use)"), "{said}");
    let hosts = sys.rest.get("/v1/hosts");
    assert_eq!(hosts[0]["online"], true, "the Host was never declared lost");
    assert_eq!(hosts[0]["modules"].as_array().unwrap().len(), N);
}

#[test]
fn a_module_importing_an_api_no_host_offers_is_refused_and_a_bad_link_ends_failed() {
    let _serial = serial();
    let sys = System::start(&["h1"]);
    let api = sys.rest.0.clone();
    let app = |name: &str, wat: &str| {
        let file = sys.data.path().join(format!("{name}.wat"));
        std::fs::write(&file, wat).unwrap();
        let manifest = sys.data.path().join(format!("{name}.yaml"));
        std::fs::write(&manifest, format!("name: {name}\nmodules:\n  - name: m\n    file: {}\n    trigger: {{ type: periodic, periodInNs: 100000000 }}\n", file.display())).unwrap();
        manifest
    };

    // No Host offers sl:vss (none was started with a catalog): refused before anything runs,
    // naming the field, the module, the import and the API.
    let needs = app("needs", r#"(module (import "sl_vss" "get_f64" (func (param i32 i32) (result i32))) (memory (export "memory") 1) (func (export "sl_step") (result i32) (i32.const 0)))"#);
    let out = run(&["deploy", needs.to_str().unwrap(), "--api", &api]);
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!out.status.success(), "{said}");
    for part in ["modules[0].file", "`m`", "`sl_vss`", "`sl:vss`"] {
        assert!(said.contains(part), "the refusal names {part}: {said}");
    }
    let (status, _) = sys.rest.call("GET", "/v1/apps/needs", None);
    assert_eq!(status, 404, "a refused application leaves nothing behind");

    // An offered API but a function it does not have: the Host cannot link it, and says which.
    let bad = app("badlink", r#"(module (import "sl" "no_such_call" (func (param i32) (result i32))) (memory (export "memory") 1) (func (export "sl_step") (result i32) (i32.const 0)))"#);
    let out = run(&["deploy", bad.to_str().unwrap(), "--wait", "--timeout", "60s", "--api", &api]);
    let said = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("failed") && said.contains("no_such_call"), "deploy --wait names the import: {said}");
    let app = sys.rest.get("/v1/apps/badlink");
    assert_eq!(app["modules"][0]["state"], "failed", "{app}");

    // A reader that goes away early ends the listing quietly (as `| head` does).
    let mut child = silverline().args(["get", "modules", "--api", &api]).env("SILVERLINE_TOKEN", token_for(&api).unwrap()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(!stderr(&out).contains("panicked") && out.status.code() != Some(101), "{:?} {}", out.status, stderr(&out));
}

/// 10,000 modules in one application to one Host, through the Orchestrator: too heavy for the
/// suite on a 2-core machine, so a benchmark; it reports how long until every module ran.
#[test]
#[ignore = "benchmark: cargo test -p silverline-cli --test integration ten_thousand_through_the_orchestrator -- --ignored --nocapture"]
fn ten_thousand_through_the_orchestrator() {
    let _serial = serial();
    const N: usize = 10_000;
    let sys = System::start_with(&["dense"], |_| Vec::new(), |_, _| vec!["--max-modules".into(), N.to_string()]);
    let t = std::time::Instant::now();
    let out = run(&["deploy", idle_app(sys.data.path(), "dens", N).to_str().unwrap(), "--api", &sys.rest.0]);
    assert!(out.status.success(), "deploy: {}\n{}", stdout(&out), stderr(&out));
    let accepted = t.elapsed();
    let mut lost = false;
    eventually(600, "all 10,000 modules running in the Host's reports", || {
        let hosts = sys.rest.get("/v1/hosts");
        let dense = &hosts.as_array()?[0];
        lost |= dense["online"] != true;
        let running = dense["modules"].as_array()?.iter().filter(|m| m["state"] == "running").count();
        (running == N).then_some(())
    });
    println!("| {N} | {:.1} s | {:.1} s | {} |", accepted.as_secs_f64(), t.elapsed().as_secs_f64(), if lost { "yes" } else { "no" });
    assert!(!lost, "the Host was declared lost on the way");
}
