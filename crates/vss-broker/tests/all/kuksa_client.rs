//! The real kuksa-client (PyPI 0.6.0) against the broker: `tests/kuksa_client_check.py`.

use crate::{broker, id, KNOB, POSITION, TOKEN};
use silverline_vss::{SignalStore, Value};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Fails (never skips) when kuksa-client is missing, saying how to get it.
fn require_kuksa_client() {
    let importable = Command::new("python3").args(["-c", "import kuksa_client"]).status().map(|s| s.success()).unwrap_or(false);
    assert!(importable, "python3 cannot import kuksa_client: pip install kuksa-client==0.6.0 (scripts/test installs it)");
}

#[test]
fn the_protos_match_the_descriptors_kuksa_client_ships() {
    require_kuksa_client();
    let script = crate::repo().join("crates/vss-broker/tests/proto_wire_check.py");
    let out = Command::new("python3").arg(&script).output().expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.trim_end().ends_with("PROTOS MATCH"), "proto_wire_check.py ({}):\n{stdout}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
}

#[test]
fn kuksa_client_reads_writes_is_refused_and_subscribes() {
    require_kuksa_client();

    let b = broker();
    b.broker().values().set(id(POSITION), Value::Int(42)).unwrap();
    let script = crate::repo().join("crates/vss-broker/tests/kuksa_client_check.py");
    let port = b.addr().port().to_string();
    let mut child = Command::new("python3").arg(&script).args(["127.0.0.1", &port, TOKEN]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("python3 runs");
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let errors = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());

    // The script's own watchdog (60 s) bounds this loop: it exits, and stdout closes.
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line == "SUBSCRIBED" {
                let _ = tx.send(());
            }
            lines.push(line);
        }
        lines
    });
    if rx.recv_timeout(Duration::from_secs(90)).is_ok() {
        b.broker().values().set(id(KNOB), Value::Float(12.5)).unwrap();
    }
    let lines = reader.join().unwrap();
    let status = child.wait().unwrap();
    let output = lines.join("\n");
    let stderr = errors.join().unwrap();
    assert!(status.success() && lines.last().map(String::as_str) == Some("KUKSA CHECK OK"), "kuksa_client_check.py failed ({status}):\n{output}\n--- stderr:\n{stderr}");
    for check in ["reads the sensor the Rust side set", "an out-of-range current value is refused", "the subscription receives the Rust side's update", "a call with token 'wrong-token' is refused as unauthenticated", "a call with token None is refused as unauthenticated"] {
        assert!(output.contains(&format!("ok: {check}")), "missing check `{check}`:\n{output}");
    }
    // Position as the Python side left it; the refused 101 did not land.
    assert_eq!(b.broker().values().get(id(POSITION)).unwrap().map(|d| d.value), Some(Value::Int(-30)));
    assert_eq!(b.broker().targets().get(id(crate::SWITCH)).unwrap().map(|d| d.value), Some(Value::String("OPEN".into())));
    assert!(b.broker().counters().auth_refused.load(std::sync::atomic::Ordering::Relaxed) >= 4, "the intruder's calls were counted");
}

#[test]
fn the_kuksa_client_cli_reads_and_writes_through_a_pipe() {
    require_kuksa_client();
    let b = broker();
    b.broker().values().set(id(POSITION), Value::Int(42)).unwrap();
    let commands = format!("getValue {POSITION}\nsetValue {POSITION} 17\nsetTargetValue {} CLOSE\nsetValue {POSITION} 101\nquit\n", crate::SWITCH);
    // The CLI keeps its command history in the working directory.
    let scratch = tempfile::tempdir().unwrap();
    let mut child = Command::new("python3")
        .current_dir(scratch.path())
        .args(["-m", "kuksa_client", "--token_or_tokenfile", TOKEN, &format!("grpc://127.0.0.1:{}", b.addr().port())])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), commands.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "kuksa-client failed ({}):\n{text}", out.status);
    assert!(text.contains("42"), "getValue printed the value:\n{text}");
    assert!(text.contains("is outside [-100, 100]"), "the refused setValue said why:\n{text}");
    assert_eq!(b.broker().values().get(id(POSITION)).unwrap().map(|d| d.value), Some(Value::Int(17)), "setValue landed; 101 did not:\n{text}");
    assert_eq!(b.broker().targets().get(id(crate::SWITCH)).unwrap().map(|d| d.value), Some(Value::String("CLOSE".into())), "setTargetValue landed:\n{text}");
}
