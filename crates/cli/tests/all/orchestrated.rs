//! The Orchestrator and Hosts as separate OS processes over a real broker: deploy across Hosts
//! with anti-affinity, data flowing between Hosts, a SIGKILLed Host's module re-placed, an
//! Orchestrator restart losing nothing, and bad input refused without changing anything.

use crate::common::*;
use parking_lot::Mutex;
use serde_json::Value;
use silverline_channels::{MqttBackend, MqttConfig, RemoteBackend};
use silverline_test_programs::broker::Mosquitto;
use silverline_test_programs::{COUNTER_C, ECHO_C, SINK_C};
use std::path::Path;
use std::sync::Arc;

pub fn orchestrator(api_port: u16, broker: &str, data: &Path) -> Proc {
    orchestrator_with(api_port, broker, data, &[])
}

/// [`orchestrator`] with extra command-line arguments (e.g. `--topology FILE`).
pub fn orchestrator_with(api_port: u16, broker: &str, data: &Path, extra: &[String]) -> Proc {
    let listen = format!("127.0.0.1:{api_port}");
    let mut args = vec!["orchestrator", "--listen", &listen, "--broker", broker, "--data-dir", data.to_str().unwrap(), "--host-timeout", "2s"];
    args.extend(extra.iter().map(String::as_str));
    let p = Proc::spawn(&args);
    let rest = Rest(format!("http://{listen}"));
    remember_admin_token(&rest.0, data);
    eventually(30, "the REST API answers", || (rest.call("GET", "/v1/hosts", None).0 == 200).then_some(()));
    p
}

pub fn host(name: &str, broker: &str, data: &Path) -> Proc {
    host_with(name, broker, data, &[])
}

/// [`host`] with extra command-line arguments (e.g. `--platform-id ID`). The Host must have
/// been enrolled ([`enroll`] into `data/NAME`).
pub fn host_with(name: &str, broker: &str, data: &Path, extra: &[String]) -> Proc {
    let dir = data.join(name);
    let mut args = vec!["host", "--broker", broker, "--name", name, "--data-dir", dir.to_str().unwrap(), "--status-interval", "300ms"];
    args.extend(extra.iter().map(String::as_str));
    Proc::spawn(&args)
}

pub fn online_hosts(rest: &Rest) -> usize {
    rest.get("/v1/hosts").as_array().unwrap().iter().filter(|h| h["online"] == true).count()
}

/// A broker, an Orchestrator and Hosts, each its own process, all gone when this is dropped.
pub struct System {
    pub broker: Mosquitto,
    pub data: tempfile::TempDir,
    pub rest: Rest,
    api_port: u16,
    orch_args: Vec<String>,
    pub orch: Proc,
    pub hosts: Vec<(String, Proc)>,
}

impl System {
    /// Start Mosquitto, an Orchestrator and the named Hosts; wait until every Host is online.
    pub fn start(hosts: &[&str]) -> System {
        System::start_with(hosts, |_| Vec::new(), |_, _| Vec::new())
    }

    /// [`System::start`] with extra arguments for the Orchestrator (given the data directory,
    /// e.g. to write a topology file there) and for each Host (given its name).
    pub fn start_with(hosts: &[&str], orchestrator_args: impl FnOnce(&Path) -> Vec<String>, host_args: impl Fn(&str, &Path) -> Vec<String>) -> System {
        let data = tempfile::tempdir().unwrap();
        let broker = secured_mosquitto(data.path(), "127.0.0.1", None);
        let api_port = free_port();
        let rest = Rest(format!("http://127.0.0.1:{api_port}"));
        let orch_args = orchestrator_args(data.path());
        let orch = orchestrator_with(api_port, &broker.url(), data.path(), &orch_args);
        for n in hosts {
            join(&rest.0, &broker, n, data.path());
        }
        let hosts: Vec<(String, Proc)> = hosts.iter().map(|n| (n.to_string(), host_with(n, &broker.url(), data.path(), &host_args(n, data.path())))).collect();
        eventually(30, "all hosts online", || (online_hosts(&rest) == hosts.len()).then_some(()));
        System { broker, data, rest, api_port, orch_args, orch, hosts }
    }

    /// SIGKILL the Orchestrator and start it again on the same port and data.
    pub fn restart_orchestrator(&mut self) {
        self.orch.kill();
        self.orch = orchestrator_with(self.api_port, &self.broker.url(), self.data.path(), &self.orch_args);
    }

    /// SIGKILL one Host.
    pub fn kill_host(&mut self, name: &str) {
        self.hosts.iter_mut().find(|(n, _)| n == name).expect("known host").1.kill();
    }

    /// Send `signal` (e.g. `STOP`, `CONT`) to one Host's process.
    pub fn signal_host(&self, name: &str, signal: &str) {
        let pid = self.hosts.iter().find(|(n, _)| n == name).expect("known host").1 .0.id();
        let ok = std::process::Command::new("kill").args([&format!("-{signal}"), &pid.to_string()]).status().unwrap().success();
        assert!(ok, "kill -{signal} {pid}");
    }
}

fn module<'a>(app: &'a Value, name: &str) -> &'a Value {
    app["modules"].as_array().unwrap().iter().find(|m| m["module"] == name).unwrap()
}

fn app_manifest(dir: &Path) -> std::path::PathBuf {
    let file = dir.join("app.yaml");
    std::fs::write(
        &file,
        format!(
            r#"name: e2e
modules:
  - name: counter
    file: {COUNTER_C}
    trigger: {{ type: periodic, periodInNs: 20000000 }}
    outputChannels: {{ channels: [{{ name: out, endpoint: e2e/count }}] }}
    placement: {{ antiAffinity: [echo] }}
  - name: echo
    file: {ECHO_C}
    trigger: {{ type: event, channel: in }}
    inputChannels: {{ channels: [{{ name: in, endpoint: e2e/count, queueDepth: 64 }}] }}
    outputChannels: {{ channels: [{{ name: out, endpoint: e2e/echoed }}] }}
    placement: {{ antiAffinity: [counter, sink] }}
  - name: sink
    file: {SINK_C}
    trigger: {{ type: event, channel: in }}
    inputChannels: {{ channels: [{{ name: in, endpoint: e2e/unused }}] }}
    placement: {{ antiAffinity: [echo] }}
"#
        ),
    )
    .unwrap();
    file
}

/// Every payload on topics matching `filter`, as an independent MQTT subscriber sees them.
pub fn subscriber<T: Send + 'static>(sys: &System, filter: &str, decode: fn(&[u8]) -> T) -> (Arc<MqttBackend>, Arc<Mutex<Vec<T>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let mut cfg = MqttConfig::from_url(&sys.broker.url()).unwrap();
    let (user, password) = observer_login(&sys.rest.0);
    sys.broker.reload();
    await_login(&sys.broker.url(), &user, &password);
    cfg.client_id(format!("observer-{}", free_port())).login(user, password);
    let backend = MqttBackend::connect(&cfg, Arc::new(move |_t: &str, p| sink.lock().push(decode(&p)))).unwrap();
    backend.subscribe(filter);
    assert!(backend.wait_subscribed(std::time::Duration::from_secs(10)));
    (backend, seen)
}

/// [`subscriber`] of text payloads.
fn observer(sys: &System, filter: &str) -> (Arc<MqttBackend>, Arc<Mutex<Vec<String>>>) {
    subscriber(sys, filter, |p| String::from_utf8_lossy(p).into_owned())
}

#[test]
fn deploy_fail_over_and_restart_across_processes() {
    let _serial = serial();
    let mut sys = System::start(&["h1", "h2", "h3"]);
    let (rest, api) = (Rest(sys.rest.0.clone()), sys.rest.0.clone());
    let (_obs, seen) = observer(&sys, "e2e/echoed");
    let out = run(&["deploy", app_manifest(sys.data.path()).to_str().unwrap(), "--wait", "--api", &api]);
    assert!(out.status.success(), "deploy: {}\n{}", stdout(&out), stderr(&out));
    let app = rest.get("/v1/apps/e2e");
    let host_of = |app: &Value, m: &str| module(app, m)["host"].as_str().unwrap().to_string();
    assert_ne!(host_of(&app, "counter"), host_of(&app, "echo"), "anti-affinity");
    assert_ne!(host_of(&app, "echo"), host_of(&app, "sink"), "anti-affinity");

    // Data crosses Hosts: counter → broker → echo on another Host → broker → observer.
    eventually(30, "echoed messages", || (seen.lock().len() >= 5).then_some(()));

    // SIGKILL the counter's Host: the last will tells the Orchestrator, which re-places it.
    let victim = host_of(&app, "counter");
    sys.kill_host(&victim);
    let moved = eventually(30, "counter re-placed and running", || {
        let app = rest.get("/v1/apps/e2e");
        let m = module(&app, "counter");
        (m["host"].as_str() != Some(victim.as_str()) && m["state"] == "running").then(|| m["host"].as_str().unwrap().to_string())
    });
    assert_ne!(moved, host_of(&rest.get("/v1/apps/e2e"), "echo"), "still anti-affine after re-placement");
    let before = seen.lock().len();
    eventually(30, "the flow resumes", || (seen.lock().len() >= before + 5).then_some(()));

    // Restart the Orchestrator: nothing lost, Hosts reconcile, modules keep running.
    sys.restart_orchestrator();
    let app = eventually(30, "application back and running", || {
        let (status, app) = rest.call("GET", "/v1/apps/e2e", None);
        (status == 200 && app["state"] == "running").then_some(app)
    });
    assert_eq!(host_of(&app, "counter"), moved);
    let before = seen.lock().len();
    eventually(30, "still flowing", || (seen.lock().len() >= before + 3).then_some(()));

    // Delete: every module goes away on its Host.
    let out = run(&["delete", "app", "e2e", "--api", &api]);
    assert!(out.status.success(), "{}", stderr(&out));
    eventually(30, "modules removed from hosts", || {
        rest.get("/v1/hosts").as_array().unwrap().iter().all(|h| h["modules"].as_array().is_none_or(|m| m.is_empty())).then_some(())
    });
    assert_eq!(rest.call("GET", "/v1/apps/e2e", None).0, 404);
}

#[test]
fn bad_requests_are_refused_and_change_nothing() {
    let _serial = serial();
    let sys = System::start(&["solo"]);
    let (rest, broker) = (&sys.rest, &sys.broker);

    let (status, e) = rest.call("POST", "/v1/apps", Some("name: x\nmodules:\n  - name: a\n    file: a.wasm\n    trigger: { type: periodic, periodInNs: 0 }\n"));
    assert_eq!(status, 422, "{e}");
    assert_eq!(e["error"]["path"], "modules[0].trigger.periodInNs");
    let (status, e) = rest.call("POST", "/v1/apps", Some("name: x\nmodules:\n  - name: a\n    file: a.wasm\n    trigger: { type: periodic, periodInNs: 1000000 }\n"));
    assert_eq!(status, 422);
    assert_eq!(e["error"]["path"], "modules[0].sha256", "{e}");
    let (status, _) = rest.call("POST", "/v1/apps", Some(""));
    assert_eq!(status, 400);
    assert_eq!(rest.call("GET", "/v1/apps/nope", None).0, 404);
    assert_eq!(rest.call("DELETE", "/v1/apps/nope", None).0, 404);
    assert_eq!(rest.call("GET", "/v1/hosts/nope", None).0, 404);
    let (status, _) = rest.call("PUT", "/v1/blobs", Some("not wasm"));
    assert_eq!(status, 400);

    // Unsatisfiable: pinned to a Host that does not exist. The error names module and constraint.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pinned.yaml");
    std::fs::write(&file, format!("name: pinned\nmodules:\n  - name: c\n    file: {COUNTER_C}\n    trigger: {{ type: periodic, periodInNs: 100000000 }}\n    outputChannels: {{ channels: [{{ name: out, endpoint: p/c }}] }}\n    placement: {{ host: elsewhere }}\n")).unwrap();
    let out = run(&["deploy", file.to_str().unwrap(), "--api", &rest.0]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("pinned/c") && err.contains("elsewhere"), "{err}");
    assert_eq!(rest.get("/v1/apps").as_array().unwrap().len(), 0, "nothing was created");

    // An anonymous client is refused by the broker.
    let mut cfg = MqttConfig::from_url(&broker.url()).unwrap();
    cfg.client_id("anonymous").connect_timeout(std::time::Duration::from_secs(2));
    assert!(MqttBackend::connect(&cfg, Arc::new(|_: &str, _| {})).is_err(), "an anonymous client connects to the secured broker");
    // Garbage on control topics, sent with the Host's own (stolen) credentials, is dropped by the
    // broker (commands) or logged and dropped by the Orchestrator; both sides keep working.
    let creds: serde_json::Value = serde_json::from_slice(&std::fs::read(sys.data.path().join("solo/credentials.json")).unwrap()).unwrap();
    let mut cfg = MqttConfig::from_url(&broker.url()).unwrap();
    cfg.client_id("vandal").login("host-solo", creds["control_password"].as_str().unwrap());
    let vandal = MqttBackend::connect(&cfg, Arc::new(|_: &str, _| {})).unwrap();
    for topic in ["silverline/v1/hosts/solo/register", "silverline/v1/hosts/solo/commands", "silverline/v1/hosts/solo/status", "silverline/v1/hosts/solo/acks", "silverline/v1/hosts/solo/state"] {
        vandal.publish(topic, &bytes_of("{\"v\":1,\"garbage\":true}")).unwrap();
        vandal.publish(topic, &bytes_of("\u{1}not json")).unwrap();
    }
    let out = run(&["deploy", app_manifest(dir.path()).to_str().unwrap(), "--api", &rest.0]);
    // One host cannot satisfy the anti-affinity: refused, and the refusal explains.
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("anti-affinity"), "{}", stderr(&out));
    assert_eq!(online_hosts(rest), 1, "the host survived the garbage");
    let file = dir.path().join("one.yaml");
    std::fs::write(&file, format!("name: one\nmodules:\n  - name: c\n    file: {COUNTER_C}\n    trigger: {{ type: periodic, periodInNs: 100000000 }}\n    outputChannels: {{ channels: [{{ name: out, endpoint: one/c }}] }}\n")).unwrap();
    let out = run(&["deploy", file.to_str().unwrap(), "--wait", "--api", &rest.0]);
    assert!(out.status.success(), "{}", stderr(&out));
    let dup = run(&["deploy", file.to_str().unwrap(), "--api", &rest.0]);
    assert!(stderr(&dup).contains("(409)"), "{}", stderr(&dup));
}

fn bytes_of(s: &str) -> bytes::Bytes {
    bytes::Bytes::copy_from_slice(s.as_bytes())
}

#[test]
fn up_runs_the_demo_with_the_embedded_broker() {
    let _serial = serial();
    let data = tempfile::tempdir().unwrap();
    let (api_port, mqtt_port) = (free_port(), free_port());
    let listen = format!("127.0.0.1:{api_port}");
    let mqtt = format!("127.0.0.1:{mqtt_port}");
    let _up = Proc::spawn(&["up", "--demo", "--hosts", "2", "--listen", &listen, "--mqtt-listen", &mqtt, "--data-dir", data.path().to_str().unwrap(), "--host-arg=--realtime-policy", "--host-arg=off"]);
    let rest = Rest(format!("http://{listen}"));
    remember_admin_token(&rest.0, data.path());
    eventually(60, "the demo runs", || {
        let (status, app) = rest.call("GET", "/v1/apps/pipeline", None);
        (status == 200 && app["state"] == "running").then_some(())
    });
    assert_eq!(online_hosts(&rest), 2);
    let out = run(&["get", "modules", "--api", &rest.0]);
    assert!(stdout(&out).contains("pipeline/sensor"), "{}", stdout(&out));
    let out = run(&["get", "hosts", "-o", "json", "--api", &rest.0]);
    let hosts: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(hosts.as_array().unwrap().len(), 2);
    eventually(30, "the Hosts report the policy passed with --host-arg", || {
        let hosts = rest.get("/v1/hosts");
        hosts.as_array()?.iter().all(|h| h["realtime"].as_str().is_some_and(|p| p.starts_with("none: real-time policies turned off"))).then_some(())
    });
    let spec = rest.get("/openapi.json");
    assert!(spec["paths"]["/v1/apps"].is_object());
}

#[test]
fn admission_refuses_an_overutilised_host_and_accepts_a_longer_period() {
    let _serial = serial();
    let sys = System::start(&["only"]);
    let (rest, data) = (&sys.rest, &sys.data);
    let cores = rest.get("/v1/hosts/only")["platform"]["cpu"]["cores"].as_u64().unwrap();
    // cores + 1 modules each using 90% of a core: more than the Host has.
    let app = |period_ms: u64| {
        let modules: String = (0..=cores)
            .map(|i| format!("  - name: m{i}\n    file: {COUNTER_C}\n    trigger: {{ type: periodic, periodInNs: {} }}\n    resources: {{ budgetInNs: 9000000 }}\n    outputChannels: {{ channels: [{{ name: out, endpoint: adm/m{i} }}] }}\n", period_ms * 1_000_000))
            .collect();
        let file = data.path().join(format!("adm{period_ms}.yaml"));
        std::fs::write(&file, format!("name: adm\nmodules:\n{modules}")).unwrap();
        file
    };
    let out = run(&["deploy", app(10).to_str().unwrap(), "--api", &rest.0]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("only") && err.contains("utilization") && err.contains("(422)"), "names the host, the constraint and the figures: {err}");
    assert_eq!(rest.get("/v1/apps").as_array().unwrap().len(), 0);
    let out = run(&["deploy", app(20).to_str().unwrap(), "--wait", "--api", &rest.0]);
    assert!(out.status.success(), "the same application with twice the period fits: {}", stderr(&out));
}
