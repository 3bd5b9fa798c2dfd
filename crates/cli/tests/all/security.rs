//! Security of the whole system, tried as an attacker would (docs/security.md): REST without a
//! token or with too small a role, anonymous and misbehaving MQTT clients, forged and replayed
//! commands, unsigned, tampered and over-privileged modules. Each is refused and changes nothing.

use crate::common::*;
use crate::orchestrated::System;
use serde_json::Value;
use silverline_channels::{MqttBackend, MqttConfig, RemoteBackend};
use silverline_test_programs::COUNTER_C;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// `(status, body)` of a request carrying `token` (or none).
fn call_as(url: &str, method: &str, token: Option<&str>, body: Option<&str>) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let auth = format!("Bearer {}", token.unwrap_or(""));
    let r = match method {
        "GET" => agent.get(url).header("authorization", &auth).call(),
        "DELETE" => agent.delete(url).header("authorization", &auth).call(),
        _ => agent.post(url).header("authorization", &auth).send(body.unwrap_or("")),
    };
    let mut r = r.expect("the REST API answers");
    let status = r.status().as_u16();
    (status, serde_json::from_str(&r.body_mut().read_to_string().unwrap_or_default()).unwrap_or(Value::Null))
}

fn create_token(api: &str, role: &str) -> String {
    let out = run(&["token", "create", "--role", role, "--api", api]);
    assert!(out.status.success(), "token create: {}", stderr(&out));
    stdout(&out).trim().to_string()
}

fn counter_app(dir: &Path, name: &str, wasm: &Path, extra: &str) -> std::path::PathBuf {
    let file = dir.join(format!("{name}.yaml"));
    let yaml = format!(
        "name: {name}\nmodules:\n  - name: c\n    file: {}\n    trigger: {{ type: periodic, periodInNs: 100000000 }}\n    outputChannels: {{ channels: [{{ name: out, endpoint: {name}/c }}] }}\n{extra}",
        wasm.display()
    );
    std::fs::write(&file, yaml).unwrap();
    file
}

#[test]
fn the_rest_api_needs_a_token_and_the_right_role() {
    let _serial = serial();
    let sys = System::start(&["solo"]);
    let api = sys.rest.0.clone();
    let apps = format!("{api}/v1/apps");

    let (status, e) = call_as(&apps, "GET", None, None);
    assert_eq!((status, e["error"]["code"].as_str()), (401, Some("unauthenticated")), "{e}");
    assert_eq!(call_as(&apps, "GET", Some("slt_0000"), None).0, 401, "a made-up token");
    assert_eq!(call_as(&format!("{api}/"), "GET", None, None).0, 200, "the dashboard page itself is public");

    let viewer = create_token(&api, "viewer");
    assert_eq!(call_as(&apps, "GET", Some(&viewer), None).0, 200);
    let (status, e) = call_as(&apps, "POST", Some(&viewer), Some("name: x\nmodules: []\n"));
    assert_eq!((status, e["error"]["code"].as_str()), (403, Some("forbidden")), "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("operator"), "says which role is needed: {e}");

    let operator = create_token(&api, "operator");
    let (status, _) = call_as(&format!("{api}/v1/tokens"), "POST", Some(&operator), Some(r#"{"role":"admin"}"#));
    assert_eq!(status, 403, "an operator cannot mint an admin token");
    let deploy = silverline()
        .env("SILVERLINE_TOKEN", &operator)
        .args(["deploy", counter_app(sys.data.path(), "op", Path::new(COUNTER_C), "").to_str().unwrap(), "--wait", "--api", &api])
        .output()
        .unwrap();
    assert!(deploy.status.success(), "an operator deploys: {}", stderr(&deploy));

    // Another application may not publish into this one's topics, unless they are exported.
    let app_on = |name: &str, topic: &str, exports: &str| {
        let file = sys.data.path().join(format!("{name}.yaml"));
        std::fs::write(&file, format!("name: {name}\n{exports}modules:\n  - name: c\n    file: {COUNTER_C}\n    trigger: {{ type: periodic, periodInNs: 100000000 }}\n    outputChannels: {{ channels: [{{ name: out, endpoint: {topic} }}] }}\n")).unwrap();
        run(&["deploy", file.to_str().unwrap(), "--api", &api])
    };
    let spy = app_on("spy", "op/c", "");
    assert!(!spy.status.success());
    let err = stderr(&spy);
    assert!(err.contains("modules[0].outputChannels.channels[0].endpoint") && err.contains("`op`") && err.contains("(422)"), "names the field and the owner: {err}");
    assert!(app_on("pub", "pub/c", "exports: [pub/#]\n").status.success());
    let partner = app_on("partner", "pub/c", "");
    assert!(partner.status.success(), "an exported topic may be shared: {}", stderr(&partner));
    for app in ["pub", "partner"] {
        assert_eq!(sys.rest.call("DELETE", &format!("/v1/apps/{app}"), None).0, 204);
    }

    // A Host's registry token fetches blobs and nothing else.
    let creds: Value = serde_json::from_slice(&std::fs::read(sys.data.path().join("solo/credentials.json")).unwrap()).unwrap();
    let host_token = creds["registry_token"].as_str().unwrap();
    assert_eq!(call_as(&apps, "GET", Some(host_token), None).0, 403);
    assert_eq!(call_as(&format!("{api}/v1/blobs/{}", "0".repeat(64)), "GET", Some(host_token), None).0, 404);

    // Tokens are listed without secrets, stored hashed, and revocable.
    let list = run(&["token", "list", "--api", &api]);
    assert!(stdout(&list).contains("viewer") && !stdout(&list).contains(&viewer), "{}", stdout(&list));
    let stored = std::fs::read_to_string(sys.data.path().join("orchestrator/tokens.json")).unwrap();
    for secret in [&viewer, &operator] {
        assert!(!stored.contains(secret.as_str()), "a token is stored in clear");
    }
    let tokens = sys.rest.get("/v1/tokens");
    let id = tokens.as_array().unwrap().iter().find(|t| t["role"] == "viewer").unwrap()["id"].as_str().unwrap().to_string();
    assert!(run(&["token", "revoke", &id, "--api", &api]).status.success());
    assert_eq!(call_as(&apps, "GET", Some(&viewer), None).0, 401, "a revoked token stops working");

    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(sys.data.path().join("admin.token")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "admin.token is private");

    // A module importing the sidecar API without `sidecar: true` in its manifest is refused.
    let sidecar_api = repo_root().join("sidecars/channel_manager.wat");
    let file = counter_app(sys.data.path(), "sneaky", &sidecar_api, "");
    let _ = run(&["deploy", file.to_str().unwrap(), "--api", &api]);
    let problem = eventually(30, "the sneaky module refused", || sys.rest.get("/v1/apps/sneaky")["modules"][0]["problem"].as_str().map(str::to_string));
    assert!(problem.contains("sl_sidecar"), "{problem}");
    assert!(run(&["delete", "app", "sneaky", "--api", &api]).status.success());

    // An oversized manifest is refused before it is parsed, and nothing is created.
    let huge = format!("name: huge\nmodules: []\n#{}\n", "x".repeat(8 << 20));
    let (status, e) = sys.rest.call("POST", "/v1/apps", Some(&huge));
    assert_eq!(status, 413, "{e}");
    assert_eq!(sys.rest.get("/v1/apps").as_array().unwrap().len(), 1, "only the operator's application exists");
}

/// Counts TCP connections to a server of the attacker's.
fn attacker_server() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/evil", listener.local_addr().unwrap());
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let h = hits.clone();
    std::thread::spawn(move || {
        for _ in listener.incoming() {
            h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    (url, hits)
}

fn mqtt(url: &str, id: &str, login: Option<(&str, &str)>, on: impl Fn(&str, bytes::Bytes) + Send + Sync + 'static) -> anyhow::Result<Arc<MqttBackend>> {
    let mut cfg = MqttConfig::from_url(url).unwrap();
    cfg.client_id(id).connect_timeout(Duration::from_secs(3));
    if let Some((u, p)) = login {
        cfg.login(u, p);
    }
    MqttBackend::connect(&cfg, Arc::new(on))
}

fn metric(url: &str, name: &str, label: Option<(&str, &str)>) -> f64 {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let text = agent.get(url).header("authorization", &bearer(url)).call().unwrap().body_mut().read_to_string().unwrap();
    let families = crate::metrics::parse(&text).unwrap();
    crate::metrics::value(&families, name, &label.into_iter().collect::<Vec<_>>()).unwrap_or(0.0)
}

/// The deploy of the issue's attack, as JSON: the attacker's module from the attacker's server,
/// with `/` preopened read-write.
fn evil_deploy(host: &str, blob_url: &str) -> silverline_proto::SignedCommand {
    let manifest = serde_json::json!({ "name": "evil", "modules": [{ "name": "m", "file": "m.wasm",
        "trigger": { "type": "periodic", "periodInNs": 100000000 },
        "wasi": { "dirs": [{ "host": "/", "guest": "/", "readonly": false }] } }] });
    let cmd = silverline_proto::Command {
        id: silverline_proto::CommandId("evil-1".into()),
        kind: silverline_proto::CommandKind::Deploy(silverline_proto::DeployModule {
            module: silverline_proto::ModuleId("evil/m".into()),
            app: "evil".into(),
            manifest,
            sha256: "1".repeat(64),
            blob_url: blob_url.into(),
        }),
    };
    silverline_proto::SignedCommand { host: host.into(), counter: 1, body: String::from_utf8(silverline_proto::encode(&cmd)).unwrap(), signature: "00".repeat(64) }
}

#[test]
fn forged_replayed_and_misdirected_control_messages_run_nothing() {
    let _serial = serial();
    let metrics_port = free_port();
    let sys = System::start_with(&["h1", "h2"], |_| Vec::new(), move |name, _| if name == "h1" { vec!["--metrics-listen".into(), format!("127.0.0.1:{metrics_port}")] } else { Vec::new() });
    let (api, broker) = (sys.rest.0.clone(), sys.broker.url());
    let host_metrics = format!("http://127.0.0.1:{metrics_port}/metrics");
    let (evil_url, hits) = attacker_server();
    let commands = silverline_proto::topics::commands("h1");
    let evil = bytes::Bytes::from(silverline_proto::encode(&evil_deploy("h1", &evil_url)));

    // Anonymous: refused at the door.
    assert!(mqtt(&broker, "anon", None, |_, _| {}).is_err(), "an anonymous client connected");

    // With h1's stolen credentials: commands, another Host's state and registration are not
    // this identity's to publish; the broker drops them.
    let creds: Value = serde_json::from_slice(&std::fs::read(sys.data.path().join("h1/credentials.json")).unwrap()).unwrap();
    let control = creds["control_password"].as_str().unwrap();
    let thief = mqtt(&broker, "thief", Some(("host-h1", control)), |_, _| {}).unwrap();
    thief.publish(&commands, &evil).unwrap();
    let offline = silverline_proto::encode(&silverline_proto::HostState { host: "h2".into(), online: false });
    thief.publish(&silverline_proto::topics::state("h2"), &bytes::Bytes::from(offline)).unwrap();
    // Then something the Orchestrator visibly handles: garbage on h1's own events topic. The
    // broker keeps one client's messages in order, so once it is counted, the ones before it
    // would have been handled too.
    thief.publish(&silverline_proto::topics::events("h1"), &bytes::Bytes::from_static(b"garbage")).unwrap();
    let orch_metrics = format!("{api}/metrics");
    eventually(20, "the Orchestrator drops the thief's garbage", || (metric(&orch_metrics, "silverline_control_messages_malformed_total", Some(("topic", "events"))) >= 1.0).then_some(()));
    assert_eq!(metric(&host_metrics, "silverline_agent_commands_received_total", Some(("command", "deploy"))), 0.0, "a command reached h1");
    let h2 = sys.rest.get("/v1/hosts/h2");
    assert_eq!(h2["online"], true, "h1's credentials marked h2 offline: {h2}");

    // A compromised broker (here: a client with the Orchestrator's own MQTT identity) can deliver
    // anything; h1 still runs only what the Orchestrator's key signed, once.
    let secret = std::fs::read_to_string(sys.data.path().join("orchestrator/mqtt-orchestrator.secret")).unwrap();
    let captured = Arc::new(parking_lot::Mutex::new(Vec::<bytes::Bytes>::new()));
    let sink = captured.clone();
    let broker_side = mqtt(&broker, "mitm", Some(("orchestrator", secret.trim())), move |_, p| sink.lock().push(p)).unwrap();
    broker_side.subscribe(&commands);
    assert!(broker_side.wait_subscribed(Duration::from_secs(10)));
    let file = counter_app(sys.data.path(), "real", Path::new(COUNTER_C), "    placement: { host: h1 }\n");
    let out = run(&["deploy", file.to_str().unwrap(), "--wait", "--api", &api]);
    assert!(out.status.success(), "{}", stderr(&out));
    let genuine = eventually(10, "a genuine deploy command captured", || captured.lock().first().cloned());
    assert!(run(&["delete", "app", "real", "--api", &api]).status.success());
    eventually(20, "h1 runs nothing", || sys.rest.get("/v1/hosts/h1")["modules"].as_array().is_some_and(|m| m.is_empty()).then_some(()));

    broker_side.publish(&commands, &evil).unwrap();
    broker_side.publish(&commands, &genuine).unwrap();
    eventually(20, "h1 refuses the forged and the replayed command", || (metric(&host_metrics, "silverline_agent_commands_refused_total", None) >= 2.0).then_some(()));
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0, "a Host fetched from the URL a message named");
    let h1 = sys.rest.get("/v1/hosts/h1");
    assert!(h1["modules"].as_array().unwrap().is_empty(), "a forged or replayed deploy ran: {h1}");
    drop(thief);
}

#[test]
fn hosts_admit_only_modules_their_policy_allows() {
    let _serial = serial();
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("publisher.key");
    let out = run(&["keygen", key.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let public = stdout(&out).trim().to_string();
    let sys = System::start_with(&["strict"], |_| Vec::new(), |_, _| vec!["--module-signatures".into(), "require".into(), "--trust-publisher".into(), public.clone()]);
    let (api, dir) = (sys.rest.0.clone(), sys.data.path());

    let signed = dir.join("signed.wasm");
    let out = run(&["sign", COUNTER_C, "--key", key.to_str().unwrap(), "--out", signed.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut tampered = std::fs::read(&signed).unwrap();
    let at = tampered.len() / 2;
    tampered[at] ^= 0x01;
    std::fs::write(dir.join("tampered.wasm"), &tampered).unwrap();
    let other_key = keys.path().join("other.key");
    assert!(run(&["keygen", other_key.to_str().unwrap()]).status.success());
    let foreign = dir.join("foreign.wasm");
    assert!(run(&["sign", COUNTER_C, "--key", other_key.to_str().unwrap(), "--out", foreign.to_str().unwrap()]).status.success());

    let refused = |name: &str, wasm: &Path, extra: &str, reason: &str| {
        let file = counter_app(dir, name, wasm, extra);
        let _ = run(&["deploy", file.to_str().unwrap(), "--api", &api]);
        let problem = eventually(30, &format!("`{name}` refused with a reason"), || {
            let app = sys.rest.get(&format!("/v1/apps/{name}"));
            app["modules"][0]["problem"].as_str().map(str::to_string)
        });
        assert!(problem.contains(reason), "`{name}`: {problem}");
        assert!(run(&["delete", "app", name, "--api", &api]).status.success());
    };
    refused("unsigned", Path::new(COUNTER_C), "", "not signed");
    refused("tampered", &dir.join("tampered.wasm"), "", "does not match");
    refused("foreign", &foreign, "", "does not trust");
    let root = "    wasi: { dirs: [{ host: /, guest: /, readonly: false }] }\n";
    refused("rootdir", &signed, root, "does not allow");

    let file = counter_app(dir, "good", &signed, "");
    let out = run(&["deploy", file.to_str().unwrap(), "--wait", "--api", &api]);
    assert!(out.status.success(), "a module signed by a trusted publisher runs: {}", stderr(&out));
    assert_eq!(sys.rest.get("/v1/hosts/strict")["modules"].as_array().unwrap().len(), 1, "only the good module runs");
}

#[test]
fn a_client_over_the_rate_limit_is_told_to_wait() {
    let data = tempfile::tempdir().unwrap();
    let (api_port, mqtt_port) = (free_port(), free_port());
    let listen = format!("127.0.0.1:{api_port}");
    let mqtt = format!("127.0.0.1:{mqtt_port}");
    let _orch = Proc::spawn(&["orchestrator", "--listen", &listen, "--mqtt-listen", &mqtt, "--data-dir", data.path().to_str().unwrap(), "--rate-limit", "1"]);
    let api = format!("http://{listen}");
    let token = remember_admin_token(&api, data.path());
    // A burst of 2 at 1 request/s: 20 requests in a row cannot all pass.
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let answers: Vec<(u16, Option<String>)> = (0..20)
        .filter_map(|_| agent.get(&format!("{api}/v1/apps")).header("authorization", &format!("Bearer {token}")).call().ok())
        .map(|r| (r.status().as_u16(), r.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string)))
        .collect();
    assert!(answers.iter().any(|(s, _)| *s == 200), "some requests pass: {answers:?}");
    let limited: Vec<_> = answers.iter().filter(|(s, _)| *s == 429).collect();
    assert!(!limited.is_empty(), "nothing was limited: {answers:?}");
    assert!(limited.iter().all(|(_, retry)| retry.as_deref().and_then(|r| r.parse::<u64>().ok()).is_some_and(|s| s >= 1)), "429 says when to retry: {limited:?}");
}

/// What one MQTT client received, per topic, with the payloads.
#[derive(Default)]
struct Heard(parking_lot::Mutex<Vec<(String, bytes::Bytes)>>);

impl Heard {
    fn count(&self, topic: &str) -> usize {
        self.0.lock().iter().filter(|(t, _)| t == topic).count()
    }
    fn any(&self, pick: impl Fn(&str, &[u8]) -> bool) -> bool {
        self.0.lock().iter().any(|(t, p)| pick(t, p))
    }
}

fn listener(heard: &Arc<Heard>) -> impl Fn(&str, bytes::Bytes) + Send + Sync + 'static {
    let heard = heard.clone();
    move |t, p| heard.0.lock().push((t.to_string(), p))
}

/// The embedded broker (what `up` runs) grants each Host's data connection only the endpoints
/// of the modules it runs: with its own valid data password, a Host that runs none of an
/// application reads none of its messages and feeds it nothing, while the application's own
/// traffic, sidecars included, passes untouched. Re-enrolling a Host ends the sessions of its
/// old passwords at once.
#[test]
fn application_data_is_granted_per_host_at_the_embedded_broker() {
    let _serial = serial();
    let data = tempfile::tempdir().unwrap();
    let (listen, mqtt_listen, broker) = embedded_broker_addresses();
    let _up = Proc::spawn(&["up", "--hosts", "2", "--ort", "--listen", &listen, "--mqtt-listen", &mqtt_listen, "--data-dir", data.path().to_str().unwrap(), "--host-arg=--realtime-policy", "--host-arg=off"]);
    let rest = Rest(format!("http://{listen}"));
    remember_admin_token(&rest.0, data.path());
    eventually(60, "three Hosts online", || (crate::orchestrated::online_hosts(&rest) == 3).then_some(()));
    let out = run(&["deploy", "examples/failover/app.yaml", "--wait", "--api", &rest.0]);
    assert!(out.status.success(), "{}", stderr(&out));

    let observer = std::fs::read_to_string(data.path().join("mqtt-observer.txt")).unwrap();
    let (user, password) = observer.trim().split_once(' ').unwrap();
    let seen = Arc::new(Heard::default());
    let watch = mqtt(&broker, "watch", Some((user, password)), listener(&seen)).unwrap();
    watch.subscribe("#");
    assert!(watch.wait_subscribed(Duration::from_secs(10)));
    // The primary's output reaches the broker only once its sidecars (emitters, detectors,
    // coordinator, on three Hosts) have talked to each other through it.
    eventually(60, "the primary replica's output", || (seen.count("failover/raw") >= 5).then_some(()));
    let orch_metrics = format!("{}/metrics", rest.0);
    assert_eq!(metric(&orch_metrics, "silverline_broker_denied_publishes_total", None), 0.0, "the application's own traffic was denied somewhere");

    // A Host enrolled as any other, running nothing: its data connection is valid, and empty-handed.
    let (status, creds) = rest.call("POST", "/v1/hosts/intruder/enroll", None);
    assert_eq!(status, 201, "{creds}");
    let data_password = creds["data_password"].as_str().unwrap().to_string();
    let stolen = Arc::new(Heard::default());
    let intruder = mqtt(&broker, "intruder", Some(("data-intruder", &data_password)), listener(&stolen)).unwrap();
    intruder.subscribe("#");
    assert!(intruder.wait_subscribed(Duration::from_secs(10)));
    let after = seen.count("failover/raw");
    for topic in ["failover/raw", "silverline/v1/failover/failover/sensor/links"] {
        intruder.publish(topic, &bytes::Bytes::from_static(b"forged")).unwrap();
    }
    eventually(20, "the broker drops both forged publishes", || (metric(&orch_metrics, "silverline_broker_denied_publishes_total", None) >= 2.0).then_some(()));
    eventually(20, "the application goes on", || (seen.count("failover/raw") >= after + 10).then_some(()));
    assert_eq!(stolen.0.lock().len(), 0, "the intruder read the application's messages");
    assert!(!seen.any(|_, p| p == b"forged"), "a forged message was delivered");
    assert!(metric(&orch_metrics, "silverline_broker_withheld_deliveries_total", None) >= 10.0, "deliveries to the intruder were withheld");

    // Re-enrolment rotates its passwords: the session opened with the old one ends.
    let (status, _) = rest.call("POST", "/v1/hosts/intruder/enroll", None);
    assert_eq!(status, 201);
    eventually(20, "the old session is ended", || (metric(&orch_metrics, "silverline_broker_revoked_disconnects_total", None) >= 1.0).then_some(()));
    assert!(mqtt(&broker, "intruder-2", Some(("data-intruder", &data_password)), |_, _| {}).is_err(), "the old password still logs in");
    intruder.disconnect();
    drop(watch);
}

/// The grants live in the Orchestrator's memory: restarted, it grants again what its Hosts kept
/// running before its embedded broker lets them back in, so their data is not withheld.
#[test]
fn a_restarted_orchestrator_grants_what_its_hosts_kept_running() {
    let _serial = serial();
    let data = tempfile::tempdir().unwrap();
    let (listen, mqtt_listen, broker) = embedded_broker_addresses();
    let orch_dir = data.path().join("orch");
    let orch_args = ["orchestrator", "--listen", &listen, "--mqtt-listen", &mqtt_listen, "--data-dir", orch_dir.to_str().unwrap(), "--host-timeout", "2s"];
    let mut orch = Proc::spawn(&orch_args);
    let rest = Rest(format!("http://{listen}"));
    remember_admin_token(&rest.0, &orch_dir);
    eventually(30, "the REST API answers", || (rest.call("GET", "/v1/hosts", None).0 == 200).then_some(()));
    enroll(&rest.0, "h1", &data.path().join("h1"));
    let _h1 = crate::orchestrated::host("h1", &broker, data.path());
    eventually(30, "h1 online", || (crate::orchestrated::online_hosts(&rest) == 1).then_some(()));
    let file = counter_app(data.path(), "kept", Path::new(COUNTER_C), "    placement: { host: h1 }\n");
    let out = run(&["deploy", file.to_str().unwrap(), "--wait", "--api", &rest.0]);
    assert!(out.status.success(), "{}", stderr(&out));

    orch.kill();
    let _orch = Proc::spawn(&orch_args);
    eventually(30, "the REST API answers again", || (rest.call("GET", "/v1/hosts", None).0 == 200).then_some(()));
    let (user, password) = observer_login(&rest.0);
    let seen = Arc::new(Heard::default());
    let watch = eventually(20, "the observer connects", || mqtt(&broker, "watch", Some((&user, &password)), listener(&seen)).ok());
    watch.subscribe("kept/c");
    assert!(watch.wait_subscribed(Duration::from_secs(10)));
    eventually(30, "the counter's messages pass the restarted broker", || (seen.count("kept/c") >= 5).then_some(()));
    assert_eq!(metric(&format!("{}/metrics", rest.0), "silverline_broker_denied_publishes_total", None), 0.0);
}
