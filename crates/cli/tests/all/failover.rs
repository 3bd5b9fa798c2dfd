//! Replicas and sidecar failover across real processes in their own network namespaces
//! (issue 6): cut the primary's link and see the backup take over, heal, cut the other, SIGKILL a
//! primary — and an independent subscriber never sees two replicas speak for the same period.
//!
//! The lab (crates/test-programs/src/netns.rs) needs CAP_NET_ADMIN; without it these tests say so
//! and end without asserting anything.

use crate::common::*;
use parking_lot::Mutex;
use serde_json::Value;
use silverline_channels::{MqttBackend, MqttConfig, RemoteBackend};
use silverline_test_programs::netns::{Lab, CORE_ADDR};
use silverline_test_programs::TICK_WAT;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

/// Orchestrator, embedded broker and ORT Host in the core namespace; Hosts `h1`..`hN` each in
/// their own.
pub struct FailoverSystem {
    pub lab: Lab,
    pub data: tempfile::TempDir,
    pub rest: Rest,
    pub api: String,
    pub mqtt: String,
    _orch: Proc,
    _ort: Proc,
    pub hosts: Vec<Proc>,
}

fn spawn_in(lab: &Lab, ns: &str, args: &[&str]) -> Proc {
    let child = lab
        .command(ns, env!("CARGO_BIN_EXE_silverline"))
        .args(args)
        .current_dir(repo_root())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("silverline starts in a namespace");
    Proc(child)
}

impl FailoverSystem {
    /// Start everything, or `None` (with the reason printed) where namespaces cannot be made.
    pub fn start(hosts: usize) -> Option<FailoverSystem> {
        let lab = match Lab::create(hosts) {
            Ok(lab) => lab,
            Err(why) => {
                eprintln!("SKIPPED: this test needs network namespaces (CAP_NET_ADMIN): {why}");
                return None;
            }
        };
        let data = tempfile::tempdir().unwrap();
        let (api_port, mqtt_port) = (free_port(), free_port());
        let api = format!("http://{CORE_ADDR}:{api_port}");
        let mqtt = format!("mqtt://{CORE_ADDR}:{mqtt_port}");
        let d = |n: &str| data.path().join(n).to_str().unwrap().to_string();
        let core = lab.core();
        let listen = format!("{CORE_ADDR}:{api_port}");
        let mqtt_listen = format!("{CORE_ADDR}:{mqtt_port}");
        let orch = spawn_in(&lab, &core, &["orchestrator", "--listen", &listen, "--mqtt-listen", &mqtt_listen, "--data-dir", &d("orch"), "--host-timeout", "2s"]);
        let rest = Rest(api.clone());
        eventually(30, "the REST API answers", || (rest.call("GET", "/v1/hosts", None).0 == 200).then_some(()));
        let host_args = |name: &str| -> Vec<String> {
            ["host", "--broker", &mqtt, "--name", name, "--data-dir", &d(name), "--status-interval", "300ms"].iter().map(|s| s.to_string()).collect()
        };
        let mut ort_args = host_args("ort");
        ort_args.extend(["--tags".to_string(), "ort".to_string()]);
        let ort = spawn_in(&lab, &core, &ort_args.iter().map(String::as_str).collect::<Vec<_>>());
        let hosts = (1..=hosts)
            .map(|i| {
                let args = host_args(&format!("h{i}"));
                spawn_in(&lab, &lab.host(i), &args.iter().map(String::as_str).collect::<Vec<_>>())
            })
            .collect::<Vec<_>>();
        let n = hosts.len() + 1;
        eventually(60, "all hosts online", || (crate::orchestrated::online_hosts(&rest) == n).then_some(()));
        Some(FailoverSystem { lab, data, rest, api, mqtt, _orch: orch, _ort: ort, hosts })
    }

    /// Deploy application `fo`: the tick module every `period_ms`, 2 replicas on h1 (first in
    /// priority) and h2, failover coordinated by `coordinator` (`sidecar` or `orchestrator`).
    pub fn deploy(&self, coordinator: &str, period_ms: u64) {
        let file = self.data.path().join("fo.yaml");
        std::fs::write(
            &file,
            format!(
                "name: fo\nmodules:\n  - name: ctl\n    file: {TICK_WAT}\n    trigger: {{ type: periodic, periodInNs: {} }}\n    \
                 outputChannels: {{ channels: [{{ name: out, endpoint: fo/out }}] }}\n    replicas: 2\n    \
                 failover: {{ hosts: [h1, h2], coordinator: {coordinator} }}\n",
                period_ms * 1_000_000
            ),
        )
        .unwrap();
        let out = run(&["deploy", file.to_str().unwrap(), "--wait", "--api", &self.api]);
        assert!(out.status.success(), "deploy: {}\n{}", stdout(&out), stderr(&out));
    }

    /// The Host of the replica the Orchestrator was told is primary.
    pub fn primary(&self) -> Option<String> {
        let (status, app) = self.rest.call("GET", "/v1/apps/fo", None);
        if status != 200 {
            return None;
        }
        replicas(&app).into_iter().find(|m| m["role"] == "primary").and_then(|m| m["host"].as_str().map(str::to_string))
    }

    /// Wait until the Orchestrator reports the primary on `host`.
    pub fn await_primary(&self, host: &str) {
        eventually(30, &format!("the replica on {host} is primary"), || (self.primary().as_deref() == Some(host)).then_some(()));
    }
}

fn replicas(app: &Value) -> Vec<&Value> {
    app["modules"].as_array().unwrap().iter().filter(|m| m["module"] == "ctl").collect()
}

/// Every (activation index, arrival) an independent subscriber sees on `fo/out`.
pub struct Subscriber {
    _backend: Arc<MqttBackend>,
    pub seen: Arc<Mutex<Vec<(u64, Instant)>>>,
}

impl Subscriber {
    pub fn start(url: &str, id: &str) -> Subscriber {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let mut cfg = MqttConfig::from_url(url).unwrap();
        cfg.client_id(id);
        let backend = MqttBackend::connect(
            &cfg,
            Arc::new(move |_t: &str, p: bytes::Bytes| {
                if let Ok(k) = <[u8; 8]>::try_from(&p[..]) {
                    sink.lock().push((u64::from_le_bytes(k), Instant::now()));
                }
            }),
        )
        .unwrap();
        backend.subscribe("fo/out");
        assert!(backend.wait_subscribed(std::time::Duration::from_secs(10)));
        Subscriber { _backend: backend, seen }
    }

    pub fn count(&self) -> usize {
        self.seen.lock().len()
    }

    /// Wait for `n` more messages than now.
    pub fn await_more(&self, n: usize, what: &str) {
        let before = self.count();
        eventually(30, what, || (self.count() >= before + n).then_some(()));
    }

    /// Activation indices that arrived more than once: periods two replicas both spoke for.
    pub fn duplicates(&self) -> Vec<u64> {
        let mut counts: HashMap<u64, usize> = HashMap::new();
        for (k, _) in self.seen.lock().iter() {
            *counts.entry(*k).or_default() += 1;
        }
        let mut dup: Vec<u64> = counts.into_iter().filter(|(_, n)| *n > 1).map(|(k, _)| k).collect();
        dup.sort_unstable();
        dup
    }
}

#[test]
fn sidecars_fail_over_on_cut_links_and_a_killed_primary_without_two_primaries() {
    let _serial = serial();
    let Some(mut sys) = FailoverSystem::start(2) else { return };
    let sub = Subscriber::start(&sys.mqtt, "fo-test-subscriber");
    sys.deploy("sidecar", 10);

    // Replicas on distinct Hosts, sidecars next to them and on ORT, shown with their roles.
    let app = sys.rest.get("/v1/apps/fo");
    let hosts: Vec<&str> = replicas(&app).iter().filter_map(|m| m["host"].as_str()).collect();
    assert_eq!(hosts.len(), 2);
    assert_ne!(hosts[0], hosts[1], "replicas on distinct Hosts");
    let sidecars = app["modules"].as_array().unwrap().iter().filter(|m| m["role"] == "sidecar").count();
    assert_eq!(sidecars, 2 + 2 + 3 * 2, "ORT: emitter, coordinator, a detector per replica; each replica Host: emitter, detector, channel manager");
    let first = eventually(30, "a primary is elected", || sys.primary());
    sub.await_more(20, "the primary's outputs reach the subscriber");

    // Cut the primary's link: the backup takes over while the old primary runs on, isolated.
    let (a, b) = if first == "h1" { (1, 2) } else { (2, 1) };
    sys.lab.cut(a);
    sys.await_primary(&format!("h{b}"));
    sub.await_more(20, "outputs resume from the backup");

    // Heal, then cut the new primary: the first one takes over again.
    sys.lab.heal(a);
    eventually(30, "the healed Host is online again", || {
        let h = sys.rest.get(&format!("/v1/hosts/h{a}"));
        (h["online"] == true).then_some(())
    });
    // The coordinator must have heard the healed Host again before it can promote it.
    sub.await_more(50, "outputs keep flowing after the heal");
    sys.lab.cut(b);
    sys.await_primary(&format!("h{a}"));
    sub.await_more(20, "outputs resume after the second failover");
    sys.lab.heal(b);
    eventually(30, "both Hosts online", || (crate::orchestrated::online_hosts(&sys.rest) == 3).then_some(()));
    sub.await_more(50, "outputs keep flowing after the second heal");

    // SIGKILL the primary: its heartbeats stop like a cut link.
    sys.hosts[a - 1].kill();
    sys.await_primary(&format!("h{b}"));
    sub.await_more(20, "outputs resume after the primary was killed");

    assert_eq!(sub.duplicates(), Vec::<u64>::new(), "periods published by two replicas");
}
