//! Running the real binary.

use std::path::Path;
use std::process::{Command, Output};

pub fn silverline() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_silverline"));
    c.current_dir(repo_root());
    c
}

pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().parent().unwrap()
}

/// Run the CLI; with `--api URL` of an Orchestrator whose admin token is known, as that admin.
pub fn run(args: &[&str]) -> Output {
    let mut c = silverline();
    if let Some(token) = args.iter().position(|a| *a == "--api").and_then(|i| args.get(i + 1)).and_then(|api| token_for(api)) {
        c.env("SILVERLINE_TOKEN", token);
    }
    c.args(args).output().expect("silverline runs")
}

/// Admin tokens of the Orchestrators tests started, by REST API URL.
static TOKENS: parking_lot::Mutex<Vec<(String, String)>> = parking_lot::Mutex::new(Vec::new());

/// Wait for the admin token an Orchestrator with `--data-dir data` writes at its first start,
/// and use it for requests to `api` from now on.
pub fn remember_admin_token(api: &str, data: &Path) -> String {
    let file = data.join("admin.token");
    let token = eventually(30, "the Orchestrator writes its admin token", || std::fs::read_to_string(&file).ok().map(|t| t.trim().to_string()).filter(|t| !t.is_empty()));
    let mut tokens = TOKENS.lock();
    tokens.retain(|(a, _)| a != api);
    tokens.push((api.to_string(), token.clone()));
    token
}

/// The admin token for a URL under a known Orchestrator's API.
pub fn token_for(url: &str) -> Option<String> {
    TOKENS.lock().iter().find(|(api, _)| url.starts_with(api.as_str())).map(|(_, t)| t.clone())
}

/// `Authorization` header value for `url` ("Bearer " and nothing if unknown).
pub fn bearer(url: &str) -> String {
    format!("Bearer {}", token_for(url).unwrap_or_default())
}

/// Mosquitto configured by `silverline broker acl` for the Orchestrator with data dir `data`:
/// no anonymous clients, silverline's topic ACLs. Call [`Mosquitto::reload`] after enrolling.
pub fn secured_mosquitto(data: &Path, addr: &str, netns: Option<&str>) -> silverline_test_programs::broker::Mosquitto {
    let out = run(&["broker", "acl", "--data-dir", data.to_str().unwrap()]);
    assert!(out.status.success(), "broker acl: {}", stderr(&out));
    let dir = data.join("orchestrator").join("mosquitto");
    // Mosquitto started as root reads its files as the `mosquitto` user: let it through.
    for d in [data, &data.join("orchestrator"), &dir] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let config = format!("allow_anonymous false\npassword_file {}\nacl_file {}\n", dir.join("passwd").display(), dir.join("acl").display());
    silverline_test_programs::broker::Mosquitto::start_configured(addr, netns, &config)
}

/// A read-only MQTT login (username, password) for application data, from the Orchestrator.
pub fn observer_login(api: &str) -> (String, String) {
    let (status, v) = Rest(api.to_string()).call("POST", "/v1/observer", None);
    assert_eq!(status, 201, "POST /v1/observer: {v}");
    (v["username"].as_str().unwrap().to_string(), v["password"].as_str().unwrap().to_string())
}

/// Enrol Host `name` with the Orchestrator at `api`; returns the credentials file.
pub fn enroll(api: &str, name: &str, dir: &Path) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let file = dir.join("credentials.json");
    let out = run(&["host", "enroll", name, "--out", file.to_str().unwrap(), "--api", api]);
    assert!(out.status.success(), "host enroll {name}: {}", stderr(&out));
    file
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A child process killed when the test ends (pass or fail).
pub struct Proc(pub std::process::Child);

impl Proc {
    pub fn spawn(args: &[&str]) -> Proc {
        let child = silverline()
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("silverline starts");
        Proc(child)
    }

    /// SIGKILL: no goodbye, the broker's last will has to tell.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Poll `f` until it returns `Some`, or panic with `what` after `secs` seconds. For observing
/// other processes, whose state this test can only ask for.
pub fn eventually<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A minimal REST client for the tests.
pub struct Rest(pub String);

impl Rest {
    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder().http_status_as_error(false).build().into()
    }

    /// (status, JSON body); status 0 when unreachable.
    pub fn call(&self, method: &str, path: &str, body: Option<&str>) -> (u16, serde_json::Value) {
        let url = format!("{}{path}", self.0);
        let agent = Self::agent();
        let auth = bearer(&url);
        let r = match (method, body) {
            ("GET", _) => agent.get(&url).header("authorization", &auth).call(),
            ("DELETE", _) => agent.delete(&url).header("authorization", &auth).call(),
            ("POST", b) => agent.post(&url).header("authorization", &auth).send(b.unwrap_or("")),
            (_, b) => agent.put(&url).header("authorization", &auth).send(b.unwrap_or("")),
        };
        match r {
            Ok(mut r) => {
                let status = r.status().as_u16();
                let text = r.body_mut().read_to_string().unwrap_or_default();
                (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
            }
            Err(_) => (0, serde_json::Value::Null),
        }
    }

    pub fn get(&self, path: &str) -> serde_json::Value {
        let (status, v) = self.call("GET", path, None);
        assert_eq!(status, 200, "GET {path}: {v}");
        v
    }
}

/// Where an Orchestrator with its embedded broker listens: (REST, MQTT, the MQTT URL).
pub fn embedded_broker_addresses() -> (String, String, String) {
    let (listen, mqtt_listen) = (format!("127.0.0.1:{}", free_port()), format!("127.0.0.1:{}", free_port()));
    let broker = format!("mqtt://{mqtt_listen}");
    (listen, mqtt_listen, broker)
}

pub fn free_port() -> u16 {
    silverline_test_programs::broker::free_port()
}

/// Tests that start whole systems (broker, Orchestrator, Hosts) take this lock: on a 2-core
/// machine several of them at once starve each other's periodic modules.
pub fn serial() -> parking_lot::MutexGuard<'static, ()> {
    static SERIAL: parking_lot::Mutex<()> = parking_lot::Mutex::new(());
    SERIAL.lock()
}

/// Enrol Host `name` (credentials into `data/NAME`), make Mosquitto reload its files, and wait
/// until the Host's new login is accepted, so that the Host can start.
pub fn join(api: &str, broker: &silverline_test_programs::broker::Mosquitto, name: &str, data: &Path) {
    let file = enroll(api, name, &data.join(name));
    let creds: serde_json::Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    broker.reload();
    await_login(&broker.url(), &format!("host-{name}"), creds["control_password"].as_str().unwrap());
}

/// Wait until the broker at `url` accepts `user` with `password` (after a reload).
pub fn await_login(url: &str, user: &str, password: &str) {
    eventually(20, &format!("the broker accepts `{user}`"), || {
        let mut cfg = silverline_channels::MqttConfig::from_url(url).unwrap();
        cfg.client_id(format!("probe-{user}")).login(user, password).connect_timeout(std::time::Duration::from_secs(1));
        silverline_channels::MqttBackend::connect(&cfg, std::sync::Arc::new(|_: &str, _| {})).ok().map(|_| ())
    });
}
