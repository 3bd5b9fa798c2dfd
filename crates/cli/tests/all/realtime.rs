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
