//! The paper's automotive case study on real processes: `silverline vss-broker` (the Kuksa
//! databroker API), two Hosts `vcu` and `zcu` using it as their `sl:vss` store, the sunroof's
//! Wasm modules placed on them by tag, Kuksa's own Python client turning the knob and reading the
//! roof, and the controller moved between the Hosts while the roof keeps following.

use crate::common::*;
use crate::orchestrated::System;
use parking_lot::Mutex;
use silverline_test_programs::{SUNROOF_CONTROLLER_C, SUNROOF_KNOB_C, SUNROOF_MOTOR_C};
use silverline_vss::{SignalStore, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TARGET: &str = "Vehicle.Cabin.Sunroof.TargetPosition";

fn catalog() -> PathBuf {
    repo_root().join("examples/sunroof/vss.json")
}

/// The databroker as its own process, and what a client needs to reach it.
struct Databroker {
    _proc: Proc,
    url: String,
    port: u16,
    token_file: PathBuf,
}

impl Databroker {
    fn start(dir: &Path) -> Databroker {
        let port = free_port();
        let token_file = dir.join("vss-token");
        let listen = format!("127.0.0.1:{port}");
        let proc = Proc::spawn(&["vss-broker", "--catalog", catalog().to_str().unwrap(), "--listen", &listen, "--token-file", token_file.to_str().unwrap()]);
        let url = format!("http://{listen}");
        let broker = Databroker { _proc: proc, url, port, token_file };
        eventually(30, "the databroker answers with its token", || broker.client().ok());
        broker
    }

    /// A client store on it, as a Host has (the test's observer).
    fn client(&self) -> Result<Arc<silverline_vss_broker::RemoteStore>, String> {
        let token = std::fs::read_to_string(&self.token_file).map_err(|e| e.to_string())?;
        silverline_vss_broker::RemoteStore::connect(&self.url, Some(token.trim()), silverline_vss_broker::DEFAULT_TIMEOUT).map_err(|e| e.to_string())
    }

    /// Hosts `vcu` and `zcu`, each tagged with its name and offering `sl:vss` on this broker.
    fn hosts(&self) -> System {
        let (url, token) = (self.url.clone(), self.token_file.to_str().unwrap().to_string());
        System::start_with(&["vcu", "zcu"], |_| Vec::new(), move |name, _| ["--vss-broker", &url, "--vss-token-file", &token, "--tags", name].map(String::from).to_vec())
    }
}

/// The sunroof application; `knob` includes the simulated knob, `controller_on` is its tag.
fn sunroof(dir: &Path, name: &str, knob: bool, controller_on: &str) -> PathBuf {
    let knob = match knob {
        true => format!("  - name: knob\n    file: {SUNROOF_KNOB_C}\n    trigger: {{ type: periodic, periodInNs: 100000000 }}\n    placement: {{ tags: [zcu] }}\n"),
        false => String::new(),
    };
    let file = dir.join(format!("{name}-{controller_on}.yaml"));
    let text = format!(
        "name: {name}\nmodules:\n{knob}  - name: controller\n    file: {SUNROOF_CONTROLLER_C}\n    trigger: {{ type: periodic, periodInNs: 100000000, offsetInNs: 50000000 }}\n    placement: {{ tags: [{controller_on}] }}\n  - name: motor\n    file: {SUNROOF_MOTOR_C}\n    trigger: {{ type: periodic, periodInNs: 20000000 }}\n    placement: {{ tags: [zcu] }}\n"
    );
    std::fs::write(&file, text).unwrap();
    file
}

/// (module, role, host) of every instance of `app`.
fn placed(sys: &System, app: &str) -> Vec<(String, String, String)> {
    let app = sys.rest.get(&format!("/v1/apps/{app}"));
    let s = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
    app["modules"].as_array().map(|ms| ms.iter().map(|m| (s(&m["module"]), s(&m["role"]), s(&m["host"]))).collect()).unwrap_or_default()
}

fn deploy(sys: &System, manifest: &Path) {
    let out = run(&["deploy", manifest.to_str().unwrap(), "--wait", "--timeout", "60s", "--api", &sys.rest.0]);
    assert!(out.status.success(), "deploy: {}\n{}", stdout(&out), stderr(&out));
}

#[test]
fn kuksa_client_turns_the_knob_and_the_roof_follows_across_two_hosts() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let broker = Databroker::start(dir.path());
    let sys = broker.hosts();
    let hosts = sys.rest.get("/v1/hosts");
    for h in hosts.as_array().unwrap() {
        let apis = h["manifest"]["apis"].as_array().unwrap();
        assert!(apis.iter().any(|a| a == "sl:vss"), "every Host offers sl:vss over the broker: {h}");
    }
    deploy(&sys, &sunroof(dir.path(), "sunroof", false, "vcu"));
    let mut where_ = placed(&sys, "sunroof");
    where_.sort();
    assert_eq!(where_, [("controller".into(), "primary".into(), "vcu".into()), ("motor".into(), "primary".into(), "zcu".into())], "placed by tag");

    // Kuksa's client (PyPI) is the knob: it sets the knob on the broker, the controller on the
    // vcu reads it, the motor on the zcu moves the roof, and the client reads the roof back.
    let script = repo_root().join("examples/sunroof/kuksa_knob.py");
    let out = std::process::Command::new("python3")
        .arg(&script)
        .args(["127.0.0.1", &broker.port.to_string(), broker.token_file.to_str().unwrap(), "70", "20"])
        .output()
        .expect("python3 runs");
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!said.contains("not importable"), "kuksa-client is needed: pip install kuksa-client==0.6.0 (scripts/test installs it)\n{said}");
    assert!(out.status.success() && said.contains("SUNROOF FOLLOWED"), "{said}");
}

#[test]
fn the_controller_moves_from_the_vcu_to_the_zcu_while_the_roof_keeps_following() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let broker = Databroker::start(dir.path());
    let sys = broker.hosts();
    deploy(&sys, &sunroof(dir.path(), "roof", true, "vcu"));

    // When the test saw each target the controller wrote. A watch's waker runs on the client's
    // own thread: it only notes the time; values are read here.
    let observer = broker.client().unwrap();
    let target = observer.catalog().resolve(TARGET).unwrap().id;
    let seen: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let log = seen.clone();
    let _watch = observer.watch(target, Arc::new(move || log.lock().push(Instant::now()))).unwrap();
    eventually(30, "the controller writes targets", || (seen.lock().len() >= 5).then_some(()));

    // The same .wasm, placement changed: staged on the zcu, switched over on a period boundary.
    let moved = sunroof(dir.path(), "roof", true, "zcu");
    let out = run(&["update", moved.to_str().unwrap(), "--auto", "--validate", "300ms", "--keep", "300ms", "--api", &sys.rest.0]);
    assert!(out.status.success(), "update: {}\n{}", stdout(&out), stderr(&out));
    eventually(60, "the controller runs on the zcu alone", || {
        let controllers: Vec<_> = placed(&sys, "roof").into_iter().filter(|(m, _, _)| m == "controller").collect();
        (controllers.len() == 1 && controllers[0].1 == "primary" && controllers[0].2 == "zcu").then_some(())
    });
    let switched = seen.lock().len();
    eventually(30, "targets keep coming from the moved controller", || (seen.lock().len() >= switched + 10).then_some(()));

    // The targets never stopped: no gap of more than a second (ten periods) from the first to the
    // last. The benchmark reports the real gap; this only says the roof was never abandoned.
    let seen = seen.lock();
    let worst = seen.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    let closest = seen.windows(2).map(|w| w[1] - w[0]).min().unwrap();
    // Reported, not asserted (timing): benchmarks.md has the figures. Two writers in one period
    // would show as a gap of a few milliseconds.
    println!("gaps between the controller's targets across the move: longest {worst:?}, shortest {closest:?} (period 100 ms)");
    assert!(worst < Duration::from_secs(1), "the controller stalled for {worst:?} during the move");
    let last = observer.get(target).unwrap().map(|d| d.value);
    assert!(matches!(last, Some(Value::Float(x)) if (0.0..=100.0).contains(&x)), "targets stay in the signal's range: {last:?}");
}

#[test]
fn up_runs_the_sunroof_demo_on_its_databroker() {
    let _serial = serial();
    let data = tempfile::tempdir().unwrap();
    let (api_port, mqtt_port, vss_port) = (free_port(), free_port(), free_port());
    let (listen, mqtt, vss) = (format!("127.0.0.1:{api_port}"), format!("127.0.0.1:{mqtt_port}"), format!("127.0.0.1:{vss_port}"));
    let d = data.path().to_str().unwrap();
    let _up = Proc::spawn(&["up", "--demo", "sunroof", "--listen", &listen, "--mqtt-listen", &mqtt, "--vss-listen", &vss, "--data-dir", d, "--host-arg=--realtime-policy", "--host-arg=off"]);
    let rest = Rest(format!("http://{listen}"));
    remember_admin_token(&rest.0, data.path());
    eventually(120, "the sunroof demo runs", || {
        let (status, app) = rest.call("GET", "/v1/apps/sunroof", None);
        (status == 200 && app["state"] == "running").then_some(())
    });
    let hosts: Vec<String> = rest.get("/v1/hosts").as_array().unwrap().iter().map(|h| h["manifest"]["name"].as_str().unwrap_or("").to_string()).collect();
    assert!(hosts.contains(&"vcu".to_string()) && hosts.contains(&"zcu".to_string()), "{hosts:?}");

    // The roof opens as the simulated knob asks (60 % after its first 2 s), seen on the broker.
    let token = std::fs::read_to_string(data.path().join("vss-token")).unwrap();
    let store = silverline_vss_broker::RemoteStore::connect(&format!("http://{vss}"), Some(token.trim()), silverline_vss_broker::DEFAULT_TIMEOUT).unwrap();
    let position = store.catalog().resolve("Vehicle.Cabin.Sunroof.Position").unwrap().id;
    let (tx, rx) = std::sync::mpsc::channel();
    let _watch = store.watch(position, Arc::new(move || {
        let _ = tx.send(());
    })).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(rx.recv_timeout(left).is_ok(), "the roof did not open past 55 % within 60 s");
        if let Some(Value::Int(p)) = store.get(position).unwrap().map(|d| d.value) {
            if p >= 55 {
                break;
            }
        }
    }
}

#[test]
fn a_silent_databroker_costs_one_timeout_not_one_per_call() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let broker = Databroker::start(dir.path());
    let token = std::fs::read_to_string(&broker.token_file).unwrap();
    let timeout = Duration::from_millis(300);
    let store = silverline_vss_broker::RemoteStore::connect(&broker.url, Some(token.trim()), timeout).unwrap();
    let knob = store.catalog().resolve("Vehicle.Cabin.Sunroof.Knob").unwrap().id;
    store.set(knob, Value::Float(10.0)).unwrap();

    // The broker stops answering (as a hung process or a cut link does, with no reset).
    let pid = broker._proc.0.id().to_string();
    let signal = |sig: &str| assert!(std::process::Command::new("kill").args([sig, &pid]).status().unwrap().success());
    signal("-STOP");
    let t = Instant::now();
    assert!(matches!(store.get(knob), Err(silverline_vss::VssError::Unavailable(_))));
    assert!(t.elapsed() >= timeout, "the first call waited for its answer");
    let t = Instant::now();
    for _ in 0..20 {
        assert!(matches!(store.set(knob, Value::Float(20.0)), Err(silverline_vss::VssError::Unavailable(_))));
    }
    assert!(t.elapsed() < timeout, "the next calls failed at once, not after a timeout each ({:?} for 20)", t.elapsed());

    // Back: calls go through again once the retry time has passed; nothing refused was applied.
    signal("-CONT");
    let value = eventually(10, "the databroker answers again", || store.get(knob).ok());
    assert_eq!(value.map(|d| d.value), Some(Value::Float(10.0)));
}
