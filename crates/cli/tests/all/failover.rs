//! Replicas and sidecar failover across real processes in their own network namespaces: cut
//! the primary's link and see the backup take over, heal, cut the other, SIGKILL a
//! primary — and an independent subscriber never sees two replicas speak for the same period.
//!
//! The lab (crates/test-programs/src/netns.rs) needs CAP_NET_ADMIN; without it these tests say so
//! and end without asserting anything.

use crate::common::*;
use parking_lot::Mutex;
use serde_json::Value;
use silverline_channels::{MqttBackend, MqttConfig, RemoteBackend};
use silverline_test_programs::netns::{Lab, CORE_ADDR};
use silverline_test_programs::broker::Mosquitto;
use silverline_test_programs::TICK_WAT;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

/// Orchestrator, embedded broker and ORT Host in the core namespace; Hosts `h1`..`hN` each in
/// their own.
pub struct FailoverSystem {
    // Dropped in this order: processes first, the namespaces last.
    _orch: Proc,
    _ort: Proc,
    pub hosts: Vec<Proc>,
    _broker: Mosquitto,
    pub rest: Rest,
    pub api: String,
    pub mqtt: String,
    /// A read-only MQTT login for application data.
    pub observer: (String, String),
    pub data: tempfile::TempDir,
    pub lab: Lab,
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
        // Debian's Mosquitto in the core namespace: a broker that keeps serving everyone else
        // while one client's link is cut.
        std::fs::create_dir_all(data.path().join("orch")).unwrap();
        let broker = secured_mosquitto(&data.path().join("orch"), CORE_ADDR, Some(&lab.core()));
        let api_port = free_port();
        let api = format!("http://{CORE_ADDR}:{api_port}");
        let mqtt = broker.url();
        let d = |n: &str| data.path().join(n).to_str().unwrap().to_string();
        let core = lab.core();
        let listen = format!("{CORE_ADDR}:{api_port}");
        let orch = spawn_in(&lab, &core, &["orchestrator", "--listen", &listen, "--broker", &mqtt, "--data-dir", &d("orch"), "--host-timeout", "2s"]);
        let rest = Rest(api.clone());
        remember_admin_token(&api, &data.path().join("orch"));
        eventually(30, "the REST API answers", || (rest.call("GET", "/v1/hosts", None).0 == 200).then_some(()));
        for name in std::iter::once("ort".to_string()).chain((1..=hosts).map(|i| format!("h{i}"))) {
            join(&api, &broker, &name, data.path());
        }
        let observer = observer_login(&api);
        broker.reload();
        await_login(&mqtt, &observer.0, &observer.1);
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
        Some(FailoverSystem { lab, data, rest, api, mqtt, observer, _orch: orch, _ort: ort, hosts, _broker: broker })
    }

    /// Deploy application `fo`: the tick module every `period_ms`, 2 replicas on h1 (first in
    /// priority) and h2, failover coordinated by `coordinator` (`sidecar` or `orchestrator`).
    pub fn deploy(&self, coordinator: &str, period_ms: u64) {
        self.deploy_failover(&format!("{{ hosts: [h1, h2], coordinator: {coordinator} }}"), period_ms);
    }

    /// Deploy application `fo` (see [`FailoverSystem::deploy`]) with these `failover` settings.
    pub fn deploy_failover(&self, failover: &str, period_ms: u64) {
        let file = self.data.path().join("fo.yaml");
        std::fs::write(
            &file,
            format!(
                "name: fo\nmodules:\n  - name: ctl\n    file: {TICK_WAT}\n    trigger: {{ type: periodic, periodInNs: {} }}\n    \
                 outputChannels: {{ channels: [{{ name: out, endpoint: fo/out }}] }}\n    replicas: 2\n    \
                 failover: {failover}\n",
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

    /// Wait for the first primary and its outputs, cut its link and wait until the backup took
    /// over and its outputs arrive. Returns (old primary, new primary) as Host numbers.
    pub fn cut_the_primary(&self, sub: &Subscriber) -> (usize, usize) {
        let first = eventually(30, "a primary is elected", || self.primary());
        sub.await_more(20, "the primary's outputs reach the subscriber");
        let (a, b) = if first == "h1" { (1, 2) } else { (2, 1) };
        self.lab.cut(a);
        self.await_primary(&format!("h{b}"));
        sub.await_more(20, "outputs resume from the backup");
        (a, b)
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
    pub fn start(url: &str, id: &str, login: &(String, String)) -> Subscriber {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let mut cfg = MqttConfig::from_url(url).unwrap();
        cfg.client_id(id).login(login.0.clone(), login.1.clone());
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
    let sub = Subscriber::start(&sys.mqtt, "fo-test-subscriber", &sys.observer);
    sys.deploy("sidecar", 10);

    // Replicas on distinct Hosts, sidecars next to them and on ORT, shown with their roles.
    let app = sys.rest.get("/v1/apps/fo");
    let hosts: Vec<&str> = replicas(&app).iter().filter_map(|m| m["host"].as_str()).collect();
    assert_eq!(hosts.len(), 2);
    assert_ne!(hosts[0], hosts[1], "replicas on distinct Hosts");
    let sidecars = app["modules"].as_array().unwrap().iter().filter(|m| m["role"] == "sidecar").count();
    assert_eq!(sidecars, 2 + 2 + 3 * 2, "ORT: emitter, coordinator, a detector per replica; each replica Host: emitter, detector, channel manager");

    // Cut the primary's link: the backup takes over while the old primary runs on, isolated.
    let (a, b) = sys.cut_the_primary(&sub);

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

/// The Hosts of `fo`'s replicas, when both are placed and running.
fn running_replica_hosts(rest: &Rest) -> Option<Vec<String>> {
    let (status, app) = rest.call("GET", "/v1/apps/fo", None);
    let hosts: Vec<String> = (status == 200).then(|| replicas(&app).iter().filter(|m| m["state"] == "running").filter_map(|m| m["host"].as_str().map(str::to_string)).collect())?;
    (hosts.len() == 2).then_some(hosts)
}

#[test]
fn a_lost_replica_is_re_placed_with_its_sidecars_and_can_take_over() {
    let _serial = serial();
    let Some(mut sys) = FailoverSystem::start(3) else { return };
    let sub = Subscriber::start(&sys.mqtt, "fo-replace-subscriber", &sys.observer);
    sys.deploy_failover("{ coordinator: sidecar }", 10);
    let first = eventually(30, "a primary is elected", || sys.primary());
    sub.await_more(20, "the primary's outputs reach the subscriber");

    // SIGKILL the primary's Host: the backup takes over, and once the lost Host's lease has run
    // out its replica is placed again, on the third Host, with its sidecars.
    let lost: usize = first.trim_start_matches('h').parse().unwrap();
    sys.hosts[lost - 1].kill();
    let backup = eventually(30, "the backup takes over", || sys.primary().filter(|p| *p != first));
    sub.await_more(20, "outputs resume from the backup");
    let hosts = eventually(60, "both replicas run again, neither on the lost Host", || running_replica_hosts(&sys.rest).filter(|h| !h.contains(&first)));
    assert_ne!(hosts[0], hosts[1], "replicas on distinct Hosts: {hosts:?}");
    let app = sys.rest.get("/v1/apps/fo");
    let on_lost = app["modules"].as_array().unwrap().iter().filter(|m| m["host"] == first.as_str()).count();
    assert_eq!(on_lost, 0, "nothing is left on the lost Host: {app}");
    let sidecars = app["modules"].as_array().unwrap().iter().filter(|m| m["role"] == "sidecar").count();
    assert_eq!(sidecars, 2 + 2 + 3 * 2, "the re-placed replica has its emitter, detector and channel manager again");

    // The re-placed replica is a working backup: kill the current primary and it takes over.
    let fresh = hosts.iter().find(|h| **h != backup).unwrap().clone();
    sub.await_more(50, "outputs keep flowing while the replica joins");
    let current: usize = backup.trim_start_matches('h').parse().unwrap();
    sys.hosts[current - 1].kill();
    sys.await_primary(&fresh);
    sub.await_more(20, "outputs resume from the re-placed replica");
    assert_eq!(sub.duplicates(), Vec::<u64>::new(), "periods published by two replicas");
}

#[test]
fn the_orchestrator_based_baseline_fails_over_too() {
    let _serial = serial();
    let Some(sys) = FailoverSystem::start(2) else { return };
    let sub = Subscriber::start(&sys.mqtt, "fo-baseline-subscriber", &sys.observer);
    sys.deploy("orchestrator", 10);
    let app = sys.rest.get("/v1/apps/fo");
    let coordinators = app["modules"].as_array().unwrap().iter().filter(|m| m["module"] == "ctl.coordinator").count();
    assert_eq!(coordinators, 0, "the Orchestrator coordinates: no coordinator sidecar");
    let (a, _) = sys.cut_the_primary(&sub);
    sys.lab.heal(a);
    sub.await_more(20, "outputs keep flowing after the heal");
    assert_eq!(sub.duplicates(), Vec::<u64>::new(), "periods published by two replicas");
}

/// Host events (`outputs-activated` with a detection time) as an independent subscriber sees them.
struct Activations {
    _backend: Arc<MqttBackend>,
    seen: Arc<Mutex<Vec<(String, i64, i64)>>>,
    /// When the ORT detectors last reported each replica Host (by coordinator index) alive.
    alive: Arc<Mutex<HashMap<u32, Instant>>>,
}

impl Activations {
    fn start(url: &str, data: &std::path::Path) -> Activations {
        use silverline_proto::status::{EventKind, HostEvent};
        let seen = Arc::new(Mutex::new(Vec::new()));
        let alive = Arc::new(Mutex::new(HashMap::new()));
        let (sink, alive_sink) = (seen.clone(), alive.clone());
        let mut cfg = MqttConfig::from_url(url).unwrap();
        // Module events are control-plane traffic: only the Orchestrator's identity reads them.
        let password = std::fs::read_to_string(data.join("orch/orchestrator/mqtt-orchestrator.secret")).unwrap();
        cfg.client_id("fo-bench-events").login("orchestrator", password.trim());
        let backend = MqttBackend::connect(
            &cfg,
            Arc::new(move |topic: &str, p: bytes::Bytes| {
                if topic.ends_with("/links") {
                    if let Some(m) = silverline_failover::wire::Msg::decode(&p).filter(|m| m.kind == silverline_failover::wire::ALIVE) {
                        alive_sink.lock().insert(m.index, Instant::now());
                    }
                    return;
                }
                let host = topic.split('/').nth(3).unwrap_or_default().to_string();
                if std::env::var("SL_DEBUG_EVENTS").is_ok() {
                    eprintln!("event {topic}: {}", String::from_utf8_lossy(&p));
                }
                if let Ok(HostEvent { kind: EventKind::OutputsActivated { detected_at_ns: Some(d), applied_ns, .. }, .. }) = silverline_proto::decode(&p) {
                    sink.lock().push((host, d, applied_ns));
                }
            }),
        )
        .unwrap();
        backend.subscribe("silverline/v1/hosts/+/events");
        backend.subscribe("silverline/v1/failover/fo/ctl/links");
        assert!(backend.wait_subscribed(std::time::Duration::from_secs(10)));
        Activations { _backend: backend, seen, alive }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Repeated failovers (the paper forced 380): a 2 ms periodic module with 2 replicas,
/// the primary's link cut and healed over and over. Reports the disconnect-reaction time
/// (detection → backup's outputs activated, from the Hosts' events) and the outage an
/// independent subscriber sees (largest gap between messages around each failover), sidecar vs
/// Orchestrator-based coordinator, on the same setup in one run.
///
/// `SL_FAILOVERS=380 cargo test --release -p silverline-cli --test integration failover_benchmark -- --ignored --nocapture`
#[test]
#[ignore]
fn failover_benchmark() {
    let _serial = serial();
    let n: usize = std::env::var("SL_FAILOVERS").ok().and_then(|v| v.parse().ok()).unwrap_or(380);
    for coordinator in ["sidecar", "orchestrator"] {
        let Some(sys) = FailoverSystem::start(2) else { return };
        let sub = Subscriber::start(&sys.mqtt, "fo-bench-subscriber", &sys.observer);
        let events = Activations::start(&sys.mqtt, sys.data.path());
        sys.deploy(coordinator, 2);
        let mut primary = eventually(30, "a primary is elected", || sys.primary());
        sub.await_more(50, "outputs flow");
        let (mut reactions, mut outages) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let (a, b) = if primary == "h1" { (1, 2) } else { (2, 1) };
            let before = events.seen.lock().len();
            let cut_at = Instant::now();
            sys.lab.cut(a);
            let (host, detected, applied) = eventually(10, "the backup is activated", || events.seen.lock().get(before).cloned());
            assert_eq!(host, format!("h{b}"), "the backup took over");
            reactions.push((applied - detected) as f64 / 1e6);
            std::thread::sleep(std::time::Duration::from_millis(100));
            let healed_at = Instant::now();
            sys.lab.heal(a);
            // The next failover needs the healed Host as a backup: wait until ORT hears it again
            // (TCP's retransmission back-off can hold its link quiet for a while after a heal).
            let index = (a - 1) as u32;
            eventually(30, "the healed Host is heard again", || events.alive.lock().get(&index).is_some_and(|t| *t > healed_at).then_some(()));
            std::thread::sleep(std::time::Duration::from_millis(100));
            let seen = sub.seen.lock();
            let window: Vec<Instant> = seen.iter().map(|(_, t)| *t).filter(|t| *t + std::time::Duration::from_millis(50) >= cut_at).collect();
            let gap = window.windows(2).map(|w| w[1] - w[0]).max().unwrap_or_default();
            outages.push(gap.as_secs_f64() * 1e3);
            primary = format!("h{b}");
        }
        assert_eq!(sub.duplicates(), Vec::<u64>::new(), "periods published by two replicas");
        for (what, v) in [("reaction (detection -> backup active)", &mut reactions), ("outage seen by the subscriber", &mut outages)] {
            v.sort_by(|x, y| x.partial_cmp(y).unwrap());
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            println!(
                "failover {coordinator:>12}: {what:<40} n={} mean {mean:.3} ms, median {:.3} ms, p99 {:.3} ms, min {:.3} ms, max {:.3} ms",
                v.len(),
                percentile(v, 0.5),
                percentile(v, 0.99),
                v[0],
                v[v.len() - 1]
            );
        }
    }
}
