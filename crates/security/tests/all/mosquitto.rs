//! The generated Mosquitto files, enforced by a real Mosquitto 2.0 (`/usr/sbin/mosquitto`) and
//! exercised with `mosquitto_pub`/`mosquitto_sub` as each principal.
//!
//! "Not delivered" is never shown by waiting: the forbidden message is followed by an allowed one
//! on the same subscription, and the allowed one must arrive first. Each publisher waits for its
//! PUBACK (QoS 1) before exiting, by which time Mosquitto has queued the message to every
//! subscriber that may read it, so a delivered forbidden message would arrive before the allowed
//! one.

use silverline_security::acl::Principal;
use silverline_security::mosquitto::{acl_file, config, password_file, Credential};
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long any one step may take before the test fails instead of hanging.
const STEP: Duration = Duration::from_secs(10);

fn principals() -> Vec<Principal> {
    vec![
        Principal::Orchestrator,
        Principal::HostControl("edge-1".into()),
        Principal::HostControl("edge-2".into()),
        Principal::HostData("edge-1".into()),
        Principal::Observer,
    ]
}

fn password(p: &Principal) -> String {
    format!("pw of {}", p.username())
}

fn host(name: &str) -> Principal {
    Principal::HostControl(name.into())
}

fn data(name: &str) -> Principal {
    Principal::HostData(name.into())
}

/// A Mosquitto with the generated password file, ACL file and configuration, killed on drop.
struct Broker {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Broker {
    fn start() -> Broker {
        let principals = principals();
        let creds: Vec<Credential> = principals.iter().map(|p| Credential { principal: p.clone(), password: password(p) }).collect();
        let mut counter = 0u8;
        let passwords = password_file(&creds, |salt| {
            counter = counter.wrapping_add(1);
            salt.iter_mut().enumerate().for_each(|(i, b)| *b = counter.wrapping_mul(31).wrapping_add(i as u8));
        });

        let dir = tempfile::tempdir().expect("temp dir");
        // Mosquitto started as root drops to user `mosquitto` before it reads the password and
        // ACL files, so they must be readable by it.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod temp dir");
        }
        let (pw_path, acl_path, conf_path) = (dir.path().join("passwd"), dir.path().join("acl"), dir.path().join("mosquitto.conf"));
        std::fs::write(&pw_path, passwords).expect("write password file");
        std::fs::write(&acl_path, acl_file(&principals)).expect("write ACL file");
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("no free port");
        let conf = config(([127, 0, 0, 1], port).into(), &pw_path, &acl_path) + "log_type all\n";
        std::fs::write(&conf_path, conf).expect("write mosquitto.conf");

        let mut child = Command::new("/usr/sbin/mosquitto")
            .arg("-c")
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start /usr/sbin/mosquitto (apt-get install mosquitto mosquitto-clients)");
        // Mosquitto logs "Opening ipv4 listen socket on port N." just before it binds, and
        // "mosquitto version V running" once every listener listens and the password and ACL files
        // are loaded; errors in the files (or a lost race for the port) end it before that.
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines().map_while(Result::ok);
        let mut log = Vec::new();
        let running = lines.by_ref().any(|l| {
            log.push(l.clone());
            l.contains(" running")
        });
        assert!(
            running && log.iter().any(|l| l.contains(&format!("listen socket on port {port}."))),
            "mosquitto did not start listening on port {port}:\n{}",
            log.join("\n")
        );
        std::thread::spawn(move || lines.for_each(drop));
        Broker { child, port, _dir: dir }
    }

    fn client_args(&self, cmd: &mut Command, user: Option<(&str, &str)>) {
        cmd.args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-V", "5", "-q", "1"]);
        if let Some((u, p)) = user {
            cmd.args(["-u", u, "-P", p]);
        }
    }

    /// Publish one QoS 1 message as `user` (None: anonymously) and wait for the PUBACK.
    fn publish_as(&self, user: Option<(&str, &str)>, topic: &str, payload: &str) -> Outcome {
        let mut cmd = Command::new("timeout");
        cmd.arg(STEP.as_secs().to_string()).arg("mosquitto_pub");
        self.client_args(&mut cmd, user);
        let out = cmd.args(["-t", topic, "-m", payload]).output().expect("run mosquitto_pub");
        let stderr = String::from_utf8_lossy(&out.stderr);
        match out.status.code() {
            Some(0) if stderr.contains("Not authorized") => Outcome::Denied,
            Some(0) if stderr.trim().is_empty() => Outcome::Accepted,
            // CONNACK reason code 135 "not authorized" (MQTT 5), as Mosquitto sends for bad
            // credentials and for anonymous clients alike.
            Some(135) if stderr.starts_with("Connection error: Not authorized") => Outcome::Refused,
            _ => panic!("mosquitto_pub -t {topic} as {user:?}: {}: {stderr}", out.status),
        }
    }

    /// Publish as `p` with its right password.
    fn publish(&self, p: &Principal, topic: &str, payload: &str) -> Outcome {
        self.publish_as(Some((&p.username(), &password(p))), topic, payload)
    }

    /// Subscribe as `p` to `filters` and wait until Mosquitto has acknowledged the subscriptions.
    fn subscribe(&self, p: &Principal, filters: &[&str]) -> Subscriber {
        // Line-buffered: mosquitto_sub's stdio would otherwise hold its output back in a pipe.
        let mut cmd = Command::new("stdbuf");
        cmd.args(["-oL", "mosquitto_sub"]);
        self.client_args(&mut cmd, Some((&p.username(), &password(p))));
        // -d prints the SUBACK ("Subscribed (mid: 1): granted QoS, ..."); -W ends it on its own
        // should the test forget it.
        cmd.args(["-d", "-F", "MSG %t %p", "-W", "120"]);
        for f in filters {
            cmd.args(["-t", f]);
        }
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("run mosquitto_sub");
        let (stdout, stderr) = (child.stdout.take().expect("stdout"), child.stderr.take().expect("stderr"));
        let (tx, lines) = mpsc::channel();
        let tx_err = tx.clone();
        std::thread::spawn(move || BufReader::new(stdout).lines().map_while(Result::ok).try_for_each(|l| tx.send(l)));
        std::thread::spawn(move || BufReader::new(stderr).lines().map_while(Result::ok).try_for_each(|l| tx_err.send(format!("stderr: {l}"))));
        let sub = Subscriber { child, lines, who: p.username() };
        loop {
            let line = sub.line();
            if let Some(granted) = line.strip_prefix("Subscribed (mid: 1): ") {
                // 1 is QoS 1: Mosquitto 2.0 grants every subscription and checks reads on delivery.
                assert!(granted.split(", ").all(|g| g == "1"), "{} subscribing to {filters:?}: {line}", sub.who);
                return sub;
            }
            assert!(!line.starts_with("stderr: "), "{} subscribing to {filters:?}: {line}", sub.who);
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What happened to a publish.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// The connection was refused (CONNACK "not authorised").
    Refused,
    /// Connected, but the PUBACK said "not authorized" (reason code 135): dropped.
    Denied,
    /// Connected and published.
    Accepted,
}

/// A `mosquitto_sub` process, killed on drop.
struct Subscriber {
    child: Child,
    lines: mpsc::Receiver<String>,
    who: String,
}

impl Subscriber {
    fn line(&self) -> String {
        self.lines.recv_timeout(STEP).unwrap_or_else(|e| panic!("mosquitto_sub as {}: no output ({e})", self.who))
    }

    /// The next message it receives, as "TOPIC PAYLOAD".
    fn next(&self) -> String {
        loop {
            let line = self.line();
            if let Some(msg) = line.strip_prefix("MSG ") {
                return msg.to_string();
            }
            assert!(!line.starts_with("stderr: "), "mosquitto_sub as {}: {line}", self.who);
        }
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn anonymous_clients_and_wrong_passwords_are_refused() {
    let broker = Broker::start();
    assert_eq!(broker.publish_as(None, "pipeline/raw", "x"), Outcome::Refused);
    assert_eq!(broker.publish_as(Some(("orchestrator", "wrong")), "pipeline/raw", "x"), Outcome::Refused);
    assert_eq!(broker.publish_as(Some(("host-edge-1", &password(&Principal::Orchestrator))), "pipeline/raw", "x"), Outcome::Refused);
    assert_eq!(broker.publish_as(Some(("root", "root")), "pipeline/raw", "x"), Outcome::Refused);
    assert_eq!(broker.publish(&Principal::Orchestrator, "pipeline/raw", "x"), Outcome::Accepted);
}

#[test]
fn hosts_publish_only_under_their_own_name() {
    let broker = Broker::start();
    let orchestrator = broker.subscribe(&Principal::Orchestrator, &["silverline/v1/hosts/#"]);
    let edge1 = host("edge-1");

    assert_eq!(broker.publish(&edge1, "silverline/v1/hosts/edge-1/status", "up"), Outcome::Accepted);
    assert_eq!(orchestrator.next(), "silverline/v1/hosts/edge-1/status up");

    assert_eq!(broker.publish(&edge1, "silverline/v1/hosts/edge-2/status", "forged"), Outcome::Denied);
    assert_eq!(broker.publish(&edge1, "silverline/v1/hosts/edge-1/commands", "forged"), Outcome::Denied);
    assert_eq!(broker.publish(&edge1, "silverline/v1/hosts/edge-1/status", "still up"), Outcome::Accepted);
    assert_eq!(orchestrator.next(), "silverline/v1/hosts/edge-1/status still up");
}

#[test]
fn hosts_read_only_their_own_commands() {
    let broker = Broker::start();
    let edge1 = broker.subscribe(&host("edge-1"), &["silverline/v1/hosts/+/commands", "silverline/v1/orchestrator/#"]);
    let edge2 = broker.subscribe(&host("edge-2"), &["silverline/v1/hosts/edge-2/commands"]);
    let o = Principal::Orchestrator;

    assert_eq!(broker.publish(&o, "silverline/v1/orchestrator/hello", "hi"), Outcome::Accepted);
    assert_eq!(broker.publish(&o, "silverline/v1/hosts/edge-2/commands", "for edge-2"), Outcome::Accepted);
    assert_eq!(broker.publish(&o, "silverline/v1/hosts/edge-1/commands", "for edge-1"), Outcome::Accepted);
    assert_eq!(edge1.next(), "silverline/v1/orchestrator/hello hi");
    assert_eq!(edge1.next(), "silverline/v1/hosts/edge-1/commands for edge-1");
    assert_eq!(edge2.next(), "silverline/v1/hosts/edge-2/commands for edge-2");
}

#[test]
fn data_connections_publish_data_and_failover_but_not_control() {
    let broker = Broker::start();
    let orchestrator = broker.subscribe(&Principal::Orchestrator, &["#"]);
    let d = data("edge-1");

    assert_eq!(broker.publish(&d, "pipeline/raw", "1"), Outcome::Accepted);
    assert_eq!(orchestrator.next(), "pipeline/raw 1");
    assert_eq!(broker.publish(&d, "silverline/v1/failover/a/m/heartbeat", "beat"), Outcome::Accepted);
    assert_eq!(orchestrator.next(), "silverline/v1/failover/a/m/heartbeat beat");

    assert_eq!(broker.publish(&d, "silverline/v1/hosts/edge-1/commands", "forged"), Outcome::Denied);
    assert_eq!(broker.publish(&d, "silverline/v1/orchestrator/hello", "forged"), Outcome::Denied);
    assert_eq!(broker.publish(&d, "pipeline/raw", "2"), Outcome::Accepted);
    assert_eq!(orchestrator.next(), "pipeline/raw 2");
}

#[test]
fn data_connections_do_not_read_control_topics() {
    let broker = Broker::start();
    let d = broker.subscribe(&data("edge-1"), &["#"]);
    let o = Principal::Orchestrator;

    assert_eq!(broker.publish(&o, "silverline/v1/hosts/edge-1/commands", "secret"), Outcome::Accepted);
    assert_eq!(broker.publish(&o, "silverline/v1/orchestrator/hello", "secret"), Outcome::Accepted);
    assert_eq!(broker.publish(&o, "silverline/v1/failover/a/m/heartbeat", "beat"), Outcome::Accepted);
    assert_eq!(d.next(), "silverline/v1/failover/a/m/heartbeat beat");
}

#[test]
fn observers_read_data_but_not_control_and_publish_nothing() {
    let broker = Broker::start();
    let observer = broker.subscribe(&Principal::Observer, &["#"]);
    let orchestrator = broker.subscribe(&Principal::Orchestrator, &["#"]);
    let d = data("edge-1");

    assert_eq!(broker.publish(&d, "pipeline/raw", "1"), Outcome::Accepted);
    assert_eq!(observer.next(), "pipeline/raw 1");
    assert_eq!(orchestrator.next(), "pipeline/raw 1");

    assert_eq!(broker.publish(&host("edge-1"), "silverline/v1/hosts/edge-1/status", "up"), Outcome::Accepted);
    assert_eq!(broker.publish(&Principal::Observer, "pipeline/raw", "from observer"), Outcome::Denied);
    assert_eq!(broker.publish(&d, "pipeline/raw", "2"), Outcome::Accepted);
    assert_eq!(observer.next(), "pipeline/raw 2");
    assert_eq!(orchestrator.next(), "silverline/v1/hosts/edge-1/status up");
    assert_eq!(orchestrator.next(), "pipeline/raw 2");
}
