//! Admission control beyond the utilization bound: response-time analysis on a Host
//! that schedules real-time modules by fixed priorities (`--realtime-policy fifo`), and
//! budgets measured by the Hosts for modules that declare none.

use crate::common::*;
use crate::orchestrated::System;
use serde_json::Value;
use silverline_test_programs::{BUSY_WAT, TICK_WAT};

/// A real-time module's manifest entry.
fn rt(name: &str, period_ms: u64, budget_ms: u64, deadline_ms: u64) -> String {
    format!(
        "  - name: {name}\n    file: {TICK_WAT}\n    trigger: {{ type: periodic, periodInNs: {} }}\n    criticality: realtime\n    resources: {{ budgetInNs: {}, deadlineInNs: {} }}\n    outputChannels: {{ channels: [{{ name: out, endpoint: adm/{name} }}] }}\n    placement: {{ host: fp }}\n",
        period_ms * 1_000_000,
        budget_ms * 1_000_000,
        deadline_ms * 1_000_000
    )
}

fn deploy(sys: &System, name: &str, modules: &str) -> std::process::Output {
    let file = sys.data.path().join(format!("{name}.yaml"));
    std::fs::write(&file, format!("name: {name}\nmodules:\n{modules}")).unwrap();
    run(&["deploy", file.to_str().unwrap(), "--wait", "--api", &sys.rest.0])
}

fn host_status(sys: &System, host: &str) -> Value {
    sys.rest.get(&format!("/v1/hosts/{host}"))
}

#[test]
fn fixed_priorities_refuse_by_response_time_what_the_utilization_bound_allows() {
    let _serial = serial();
    let sys = System::start_with(&["fp"], |_| Vec::new(), |_, _| vec!["--realtime-policy".into(), "fifo".into()]);
    let offered = eventually(30, "the Host reports its real-time policy", || {
        host_status(&sys, "fp")["realtime"].as_str().map(str::to_string)
    });
    if !offered.starts_with("SCHED_FIFO") {
        eprintln!("skipping: this machine does not grant SCHED_FIFO ({offered})");
        return;
    }
    let cores = host_status(&sys, "fp")["platform"]["cpu"]["cores"].as_u64().unwrap();
    // One 9 ms task with a 14 ms deadline per core, then a 5 ms / 10 ms task: utilization stays
    // below the cores (0.45·n + 0.5 ≤ n), but on whatever core the newcomer lands, the 20 ms task
    // there is preempted twice: R = 9 + 2·5 = 19 ms > 14 ms.
    let slow: String = (0..cores).map(|i| rt(&format!("slow{i}"), 20, 9, 14)).collect();
    let out = deploy(&sys, "base", &slow);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = deploy(&sys, "fast", &rt("fast", 10, 5, 10).replace("adm/", "fast/"));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("fp: response time (base/slow") && err.contains("ms or more, deadline 14.000 ms, on every core") && err.contains("(422)"),
        "names the Host, the module that would miss and the figures: {err}"
    );
    assert_eq!(host_status(&sys, "fp")["scheduler"], "fixed-priority");
    let table = stdout(&run(&["get", "hosts", "--api", &sys.rest.0]));
    assert!(table.contains("REAL-TIME") && table.contains("SCHED_FIFO (fixed-priority)"), "{table}");
    assert!(sys.rest.call("GET", "/v1/apps/fast", None).0 == 404, "nothing was created");
    // With a 20 ms period and deadline the newcomer ranks below the 20 ms tasks: next to one
    // of them it responds within 5 + 9 = 14 ms ≤ 20 ms, and preempts nobody.
    let out = deploy(&sys, "fast", &rt("fast", 20, 5, 20).replace("adm/", "fast/"));
    assert!(out.status.success(), "{}", stderr(&out));
    // The Host pinned each real-time module to a core with a distinct priority.
    let status = eventually(30, "the modules report their slots", || {
        let s = host_status(&sys, "fp");
        let modules = s["modules"].as_array()?.clone();
        (modules.len() as u64 == cores + 1 && modules.iter().all(|m| m["scheduling"].as_str().is_some_and(|x| x.contains(" on core ")))).then_some(modules)
    });
    let mut priorities: Vec<&str> = status.iter().map(|m| m["scheduling"].as_str().unwrap().split(" on core").next().unwrap()).collect();
    priorities.sort();
    priorities.dedup();
    assert_eq!(priorities.len() as u64, cores + 1, "distinct priorities: {status:?}");
}

#[test]
fn measured_execution_times_count_when_no_budget_is_declared() {
    let _serial = serial();
    let sys = System::start(&["fp"]);
    let cores = host_status(&sys, "fp")["platform"]["cpu"]["cores"].as_u64().unwrap();
    // A hog declaring nothing: 30 ms of every 40 ms, measured as 0.75 of a core (0.9 with the
    // margin) once the Host has reported 20 activations.
    let hog = format!("  - name: busy\n    file: {BUSY_WAT}\n    trigger: {{ type: periodic, periodInNs: 40000000 }}\n    placement: {{ host: fp }}\n");
    let out = deploy(&sys, "hog", &hog);
    assert!(out.status.success(), "{}", stderr(&out));
    eventually(30, "the hog's execution time is measured", || {
        let s = host_status(&sys, "fp");
        let m = s["modules"].as_array()?.iter().find(|m| m["id"] == "hog/busy")?.clone();
        (m["exec_ns"]["count"].as_u64()? >= 20).then_some(())
    });
    // One module per core, declaring together the cores minus half a core: they fit an idle
    // Host, not one that also runs the hog.
    let budget_ns = 10_000_000 * (2 * cores - 1) / (2 * cores);
    let greedy = |period_ms: u64| -> String {
        (0..cores)
            .map(|i| {
                format!(
                    "  - name: g{i}\n    file: {TICK_WAT}\n    trigger: {{ type: periodic, periodInNs: {} }}\n    resources: {{ budgetInNs: {budget_ns} }}\n    outputChannels: {{ channels: [{{ name: out, endpoint: g/{i} }}] }}\n    placement: {{ host: fp }}\n",
                    period_ms * 1_000_000
                )
            })
            .collect()
    };
    let out = deploy(&sys, "greedy", &greedy(10));
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("fp: utilization (needs ") && err.contains("(422)"), "the measured hog takes room: {err}");
    let out = deploy(&sys, "greedy", &greedy(40));
    assert!(out.status.success(), "a quarter of that fits next to the hog: {}", stderr(&out));
}
