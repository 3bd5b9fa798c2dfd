use crate::common::*;
use parking_lot::Mutex;
use silverline_channels::{MqttBackend, MqttConfig, RemoteBackend};
use silverline_test_programs::broker::Mosquitto;
use silverline_test_programs::{FILTER_EMA_C, HELLO_CMD_C, REF_BURST_CMD_C, SENSOR_C, SINK_C};
use std::sync::Arc;

#[test]
fn the_wat_pipeline_runs_over_loopback() {
    let out = run(&["run", "examples/pipeline/app.yaml", "--for", "2s", "--status"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let sink_lines = text.lines().filter(|l| l.starts_with("[pipeline/sink] seq=")).count();
    assert!(sink_lines >= 5, "the sink printed {sink_lines} lines:\n{text}");
    for module in ["pipeline/sensor", "pipeline/filter", "pipeline/sink"] {
        let row = text.lines().find(|l| l.starts_with(module) && l.contains("running")).unwrap_or_else(|| panic!("no status row for {module}:\n{text}"));
        assert!(row.contains("running"));
    }
}

#[test]
fn the_c_pipeline_runs_through_mosquitto() {
    let _serial = serial();
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("app.yaml");
    std::fs::write(&manifest, format!(
        r#"name: cmq
modules:
  - name: sensor
    file: {SENSOR_C}
    trigger: {{ type: periodic, periodInNs: 20000000 }}
    outputChannels: {{ channels: [{{ name: out, endpoint: cmq/raw }}] }}
  - name: filter
    file: {FILTER_EMA_C}
    trigger: {{ type: event, channel: in }}
    inputChannels: {{ channels: [{{ name: in, endpoint: cmq/raw }}] }}
    outputChannels: {{ channels: [{{ name: out, endpoint: cmq/filtered }}] }}
  - name: sink
    file: {SINK_C}
    trigger: {{ type: event, channel: in }}
    inputChannels: {{ channels: [{{ name: in, endpoint: cmq/filtered }}] }}
"#)).unwrap();
    // An independent MQTT subscriber counts what crosses the broker.
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink_seen = seen.clone();
    let mut cfg = MqttConfig::from_url(&broker.url()).unwrap();
    cfg.client_id("observer");
    let observer = MqttBackend::connect(&cfg, Arc::new(move |topic: &str, _| sink_seen.lock().push(topic.to_string()))).unwrap();
    observer.subscribe("cmq/#");
    assert!(observer.wait_subscribed(std::time::Duration::from_secs(10)));

    let out = run(&["run", manifest.to_str().unwrap(), "--for", "2s", "--broker", &broker.url(), "--via-broker", "--status", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.lines().any(|l| l.starts_with("[cmq/sink] seq=")), "{text}");
    let raw = seen.lock().iter().filter(|t| *t == "cmq/raw").count();
    let filtered = seen.lock().iter().filter(|t| *t == "cmq/filtered").count();
    assert!(raw >= 5 && filtered >= 5, "observer saw raw={raw} filtered={filtered}");
    let json_start = text.find("{\n").expect("json status");
    let status: serde_json::Value = serde_json::from_str(&text[json_start..]).unwrap();
    let sink = status["modules"].as_array().unwrap().iter().find(|m| m["id"] == "cmq/sink").unwrap();
    assert!(sink["messages_in"].as_u64().unwrap() >= 5);
}

#[test]
fn a_wasi_command_runs_like_wasmtime_run() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.txt"), "first line\nsecond\n").unwrap();
    let grant = format!("{}::/data", dir.path().display());
    let out = run(&["run", HELLO_CMD_C, "--env", "GREETING=bonjour", "--dir", &grant, "--", "7", "extra"]);
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("hello from wasm"), "{text}");
    assert!(text.contains("extra"), "{text}");
    assert!(text.contains("bonjour"), "{text}");
    assert!(text.contains("first line"), "{text}");
    let plain = run(&["run", HELLO_CMD_C]);
    assert_eq!(plain.status.code(), Some(0));
    assert!(!stdout(&plain).contains("bonjour"), "no env var unless granted");
}

#[test]
fn a_reactor_is_not_a_command() {
    let out = run(&["run", SENSOR_C]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("_start"));
}

#[test]
fn a_command_module_run_with_a_broker_reaches_an_independent_subscriber() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let passwd = dir.path().join("passwd");
    let made = std::process::Command::new("mosquitto_passwd").args(["-b", "-c"]).arg(&passwd).args(["runner", "s3cret"]).status().unwrap();
    assert!(made.success(), "mosquitto_passwd");
    // Mosquitto started as root reads the file as the `mosquitto` user.
    use std::os::unix::fs::PermissionsExt;
    for p in [dir.path(), passwd.as_path()] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let broker = Mosquitto::start_configured("127.0.0.1", None, &format!("allow_anonymous false\npassword_file {}\n", passwd.display()));
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink_seen = seen.clone();
    let mut cfg = MqttConfig::from_url(&broker.url()).unwrap();
    cfg.client_id("observer").login("runner", "s3cret");
    let observer = MqttBackend::connect(&cfg, Arc::new(move |_: &str, p: bytes::Bytes| sink_seen.lock().push(String::from_utf8_lossy(&p).into_owned()))).unwrap();
    observer.subscribe("burst/out");
    assert!(observer.wait_subscribed(std::time::Duration::from_secs(10)));

    let url = format!("mqtt://runner:s3cret@127.0.0.1:{}", broker.port());
    let out = run(&["run", REF_BURST_CMD_C, "--broker", &url, "--", "burst/out", "50"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("published 50"), "{}", stdout(&out));
    // Every message was flushed before the process ended; they arrive in order.
    let expected: Vec<String> = (1..=50).map(|n| n.to_string()).collect();
    eventually(10, "the subscriber receives all 50 messages", || (seen.lock().len() >= 50).then_some(()));
    assert_eq!(*seen.lock(), expected);

    let wrong = format!("mqtt://runner:wrong@127.0.0.1:{}", broker.port());
    let refused = run(&["run", REF_BURST_CMD_C, "--broker", &wrong, "--", "burst/out", "1"]);
    assert!(!refused.status.success(), "a wrong password must not run the module");
    assert!(stderr(&refused).contains("cannot connect to the MQTT broker"), "{}", stderr(&refused));
    assert!(!stderr(&refused).contains("wrong"), "the password is never printed: {}", stderr(&refused));
}
