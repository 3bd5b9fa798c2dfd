//! Zero-downtime update across two Host processes: the paper's experiment, scaled down. A module
//! publishing its activation index every 100 ms, and one every 10 ms, are moved back and forth
//! between two Hosts 40 times; an independent MQTT subscriber must see every index exactly once.

use crate::common::*;
use crate::orchestrated::{host, online_hosts, orchestrator};
use parking_lot::Mutex;
use serde_json::Value;
use silverline_channels::{MqttBackend, MqttConfig, RemoteBackend};
use silverline_test_programs::broker::Mosquitto;
use silverline_test_programs::{TICK_WAT, TRAP_WAT};
use std::collections::BTreeMap;
use std::sync::Arc;

const ITERATIONS: u64 = 40;

fn manifest(pin: &str, sha: Option<&str>) -> String {
    let line = |s: Option<&str>| s.map(|s| format!("\n    sha256: {s}")).unwrap_or_default();
    format!(
        r#"name: zdu
modules:
  - name: slow
    file: {TICK_WAT}{}
    trigger: {{ type: periodic, periodInNs: 100000000 }}
    outputChannels: {{ channels: [{{ name: out, endpoint: zdu/slow }}] }}
    placement: {{ host: {pin} }}
  - name: fast
    file: {TICK_WAT}{}
    trigger: {{ type: periodic, periodInNs: 10000000 }}
    outputChannels: {{ channels: [{{ name: out, endpoint: zdu/fast }}] }}
    placement: {{ host: {pin} }}
"#,
        line(sha.map(|s| s.split(',').next().unwrap())),
        line(sha.map(|s| s.split(',').nth(1).unwrap()))
    )
}

fn roles(app: &Value) -> Vec<(String, String, String)> {
    app["modules"].as_array().unwrap().iter().map(|m| (m["id"].as_str().unwrap().into(), m["role"].as_str().unwrap().into(), m["host"].as_str().unwrap_or("").into())).collect()
}

#[test]
fn updates_back_and_forth_lose_and_duplicate_nothing() {
    let _serial = serial();
    let broker = Mosquitto::start();
    let data = tempfile::tempdir().unwrap();
    let api_port = free_port();
    let rest = Rest(format!("http://127.0.0.1:{api_port}"));
    let _orch = orchestrator(api_port, &broker.url(), data.path());
    let _h1 = host("h1", &broker.url(), data.path());
    let _h2 = host("h2", &broker.url(), data.path());
    eventually(30, "two hosts online", || (online_hosts(&rest) == 2).then_some(()));

    // The independent subscriber: (topic → indices in arrival order).
    let seen: Arc<Mutex<BTreeMap<String, Vec<u64>>>> = Arc::default();
    let sink = seen.clone();
    let mut cfg = MqttConfig::from_url(&broker.url()).unwrap();
    cfg.client_id("zdu-observer");
    let obs = MqttBackend::connect(&cfg, Arc::new(move |t: &str, p: bytes::Bytes| {
        sink.lock().entry(t.to_string()).or_default().push(u64::from_le_bytes(p[..8].try_into().unwrap()));
    }))
    .unwrap();
    obs.subscribe("zdu/#");
    assert!(obs.wait_subscribed(std::time::Duration::from_secs(10)));

    let file = data.path().join("zdu.yaml");
    std::fs::write(&file, manifest("h1", None)).unwrap();
    let out = run(&["deploy", file.to_str().unwrap(), "--wait", "--api", &rest.0]);
    assert!(out.status.success(), "{}", stderr(&out));
    let app = rest.get("/v1/apps/zdu");
    let shas: Vec<&str> = app["modules"].as_array().unwrap().iter().map(|m| m["sha256"].as_str().unwrap()).collect();
    let shas = format!("{},{}", shas[0], shas[1]);

    let mut hosts_seen = Vec::new();
    for i in 0..ITERATIONS {
        let pin = if i % 2 == 0 { "h2" } else { "h1" };
        let (status, body) = rest.call("PUT", "/v1/apps/zdu?switchover=auto&validate=200ms&keep=200ms", Some(&manifest(pin, Some(&shas))));
        assert_eq!(status, 200, "update {i}: {body}");
        let app = eventually(30, &format!("update {i} done"), || {
            let app = rest.get("/v1/apps/zdu");
            let r = roles(&app);
            (app["state"] == "running" && r.len() == 2 && r.iter().all(|(_, role, host)| role == "primary" && host == pin)).then_some(app)
        });
        hosts_seen.push(roles(&app)[0].2.clone());
    }
    assert!(hosts_seen.windows(2).all(|w| w[0] != w[1]), "the module moved between Hosts every time: {hosts_seen:?}");
    eventually(10, "a few more messages after the last update", || (seen.lock().get("zdu/slow").map_or(0, |v| v.len()) > 0).then_some(()));

    for (topic, indices) in seen.lock().iter() {
        let gaps: Vec<(u64, u64)> = indices.windows(2).filter(|w| w[1] != w[0] + 1).map(|w| (w[0], w[1])).collect();
        assert!(gaps.is_empty(), "{topic}: {} messages, discontinuities (lost or duplicated) at {gaps:?}", indices.len());
    }
    let slow = seen.lock()["zdu/slow"].len();
    assert!(slow as u64 >= ITERATIONS * 5, "the slow module ran through all updates ({slow} messages)");
}

#[test]
fn bad_update_requests_leave_the_running_version_alone() {
    let _serial = serial();
    let broker = Mosquitto::start();
    let data = tempfile::tempdir().unwrap();
    let api_port = free_port();
    let rest = Rest(format!("http://127.0.0.1:{api_port}"));
    let _orch = orchestrator(api_port, &broker.url(), data.path());
    let _h1 = host("h1", &broker.url(), data.path());
    eventually(30, "host online", || (online_hosts(&rest) == 1).then_some(()));
    let file = data.path().join("zdu.yaml");
    std::fs::write(&file, manifest("h1", None)).unwrap();
    assert!(run(&["deploy", file.to_str().unwrap(), "--wait", "--api", &rest.0]).status.success());

    // Switchover with nothing staged; of an unknown module; update of an unknown app.
    assert_eq!(rest.call("POST", "/v1/apps/zdu/modules/slow/switchover", None).0, 409);
    assert_eq!(rest.call("POST", "/v1/apps/zdu/modules/nope/switchover", None).0, 404);
    assert_eq!(rest.call("PUT", "/v1/apps/other", Some(&manifest("h1", None).replace("name: zdu", "name: other"))).0, 404);
    let out = run(&["switchover", "zdu", "slow", "--api", &rest.0]);
    assert!(stderr(&out).contains("nothing staged"), "{}", stderr(&out));

    // A shadow that traps is discarded by itself; the running version is untouched.
    let trapping = data.path().join("trap.yaml");
    std::fs::write(&trapping, manifest("h1", None).replacen(TICK_WAT, TRAP_WAT, 1)).unwrap();
    let out = run(&["update", trapping.to_str().unwrap(), "--api", &rest.0]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("staged zdu/slow@"), "{}", stdout(&out));
    let app = eventually(30, "the failed shadow is discarded", || {
        let app = rest.get("/v1/apps/zdu");
        (roles(&app).len() == 2).then_some(app)
    });
    let slow = app["modules"].as_array().unwrap().iter().find(|m| m["module"] == "slow").unwrap();
    assert_eq!(slow["id"], "zdu/slow", "the original version still runs");
    assert_eq!(slow["state"], "running");
    assert!(slow["problem"].as_str().unwrap_or("").contains("rolled back"), "{slow}");
}
