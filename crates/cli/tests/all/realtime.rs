//! Where the kernel refuses real-time policies (here: an unprivileged user), the Host says so at
//! start-up and reports the fallback in the module's status — never silently.

use crate::common::*;
use silverline_test_programs::TICK_WAT;

use std::os::unix::fs::PermissionsExt;

#[test]
fn refused_realtime_policy_is_reported_as_a_fallback() {
    let Ok(setpriv) = which("setpriv") else {
        panic!("setpriv (util-linux) is needed to run the Host unprivileged");
    };
    if unsafe_is_root() == Some(false) {
        eprintln!("not root: cannot switch to an unprivileged user for this test");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // The unprivileged user may not reach the build tree (a clone in a private temp dir): give it
    // copies of the binary and the module in a directory it can read.
    let exe = dir.path().join("silverline");
    std::fs::copy(env!("CARGO_BIN_EXE_silverline"), &exe).unwrap();
    std::fs::copy(TICK_WAT, dir.path().join("tick.wat")).unwrap();
    for f in [&exe, &dir.path().join("tick.wat")] {
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let app = dir.path().join("app.yaml");
    std::fs::write(
        &app,
        "name: rt\nmodules:\n  - name: tick\n    file: tick.wat\n    trigger: { type: periodic, periodInNs: 10000000 }\n    criticality: realtime\n    outputChannels: { channels: [{ name: out, endpoint: rt/t }] }\n",
    )
    .unwrap();
    std::fs::set_permissions(&app, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = std::process::Command::new(setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"])
        .arg(&exe)
        .current_dir(dir.path())
        .args(["run", app.to_str().unwrap(), "--for", "1s", "--status", "json"])
        .env("SILVERLINE_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("real-time policies unavailable"), "the Host says so at start-up: {}", stderr(&out));
    let text = stdout(&out);
    let status: serde_json::Value = serde_json::from_str(&text[text.find("{\n").unwrap()..]).unwrap();
    assert!(status["realtime"].as_str().unwrap().starts_with("none:"), "{}", status["realtime"]);
    let m = &status["modules"][0];
    let scheduling = m["scheduling"].as_str().unwrap();
    assert!(scheduling.contains("fallback") && scheduling.contains("not permitted"), "{scheduling}");
    assert!(m["activations"].as_u64().unwrap() >= 10, "it still runs, as best effort");
}

fn which(bin: &str) -> Result<String, ()> {
    ["/usr/bin/", "/bin/", "/usr/sbin/"].iter().map(|d| format!("{d}{bin}")).find(|p| std::path::Path::new(p).exists()).ok_or(())
}

/// Whether this process runs as root, read from /proc (no unsafe geteuid).
fn unsafe_is_root() -> Option<bool> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status.lines().find(|l| l.starts_with("Uid:"))?.split_whitespace().nth(2)?.to_string();
    Some(uid == "0")
}

/// (scheduling policy, real-time priority) of each thread of process `pid` whose name starts
/// with `prefix`, from /proc (policy 0 is SCHED_OTHER, 1 SCHED_FIFO).
fn thread_policies(pid: u32, prefix: &str) -> Vec<(u32, u32)> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap();
    tasks
        .filter_map(|t| {
            let dir = t.ok()?.path();
            let name = std::fs::read_to_string(dir.join("comm")).ok()?;
            if !name.starts_with(prefix) {
                return None;
            }
            let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
            // Fields after the name, which is in parentheses: field 3 (state) is index 0, so
            // rt_priority (field 40) is index 37 and policy (field 41) index 38.
            let rest: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            Some((rest.get(38)?.parse().ok()?, rest.get(37)?.parse().ok()?))
        })
        .collect()
}

/// The threads that carry messages between Hosts (each Host's data-plane connection, the
/// embedded broker) run at SCHED_FIFO 10 unless told otherwise, so best-effort work cannot
/// delay heartbeats and leases; `--io-priority off` leaves a Host's in the normal class.
#[test]
fn the_threads_that_carry_messages_between_hosts_run_at_a_real_time_priority() {
    if unsafe_is_root() == Some(false) {
        eprintln!("not root: the kernel refuses SCHED_FIFO, nothing to check");
        return;
    }
    let _serial = serial();
    let data = tempfile::tempdir().unwrap();
    let (listen, mqtt_listen, broker) = embedded_broker_addresses();
    let orch_dir = data.path().join("orch");
    let orch = Proc::spawn(&["orchestrator", "--listen", &listen, "--mqtt-listen", &mqtt_listen, "--data-dir", orch_dir.to_str().unwrap()]);
    let rest = Rest(format!("http://{listen}"));
    remember_admin_token(&rest.0, &orch_dir);
    eventually(30, "the REST API answers", || (rest.call("GET", "/v1/hosts", None).0 == 200).then_some(()));
    enroll(&rest.0, "fast", &data.path().join("fast"));
    enroll(&rest.0, "plain", &data.path().join("plain"));
    let fast = crate::orchestrated::host("fast", &broker, data.path());
    let plain = crate::orchestrated::host_with("plain", &broker, data.path(), &["--io-priority".into(), "off".into()]);
    eventually(30, "both Hosts online", || (crate::orchestrated::online_hosts(&rest) == 2).then_some(()));

    let gate = thread_policies(orch.0.id(), "mqtt-gate");
    assert!(!gate.is_empty() && gate.iter().all(|&p| p == (1, 10)), "the broker's gate threads: {gate:?}");
    let fast_data = thread_policies(fast.0.id(), "mqtt-sl-data");
    assert_eq!(fast_data, vec![(1, 10)], "a Host's data-plane thread");
    let plain_data = thread_policies(plain.0.id(), "mqtt-sl-data");
    assert_eq!(plain_data, vec![(0, 0)], "with --io-priority off");
}
