//! A real Mosquitto broker for tests, started on a free loopback port and killed on drop.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A free TCP port on 127.0.0.1.
///
/// Ports come from below Linux's ephemeral range (32768 and up), which the kernel hands to
/// outgoing connections: a port taken from that range by binding port 0 can be given to some
/// process's next outgoing connection before the test's server binds it, and the server then
/// fails to start. Below the range only other tests could take it, and each process counts
/// through its own stretch.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 20_000;
    const SPAN: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = std::process::id().wrapping_mul(7919) % SPAN;
    (0..SPAN)
        .map(|_| LOW + (start + NEXT.fetch_add(1, Ordering::Relaxed)) % SPAN)
        .find(|&p| TcpListener::bind(("127.0.0.1", p as u16)).is_ok())
        .expect("no free port below the ephemeral range") as u16
}

/// A Mosquitto process owned by a test.
pub struct Mosquitto {
    child: Child,
    port: u16,
    addr: String,
    netns: Option<String>,
    _dir: PathBuf,
}

/// Run Mosquitto with `conf` and wait until it listens on `port`.
fn spawn(conf: &std::path::Path, netns: Option<&str>, port: u16) -> Child {
    let mut command = match netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]).arg(mosquitto_binary());
            c
        }
        None => Command::new(mosquitto_binary()),
    };
    let mut child = command
        .arg("-c")
        .arg(conf)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start mosquitto: install it with `apt-get install mosquitto` (the README test command does)");
    // Mosquitto logs "Opening ipv4 listen socket on port N." once it listens: wait for that line.
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let listening = lines.by_ref().map_while(Result::ok).any(|l| l.contains("listen socket on port"));
    assert!(listening, "mosquitto exited before listening on port {port}");
    std::thread::spawn(move || lines.for_each(drop)); // keep draining its log
    child
}

impl Mosquitto {
    /// Start Debian's `mosquitto` on a free port and wait until it listens.
    ///
    /// Panics with an install hint when the binary is missing: these tests need the real broker.
    pub fn start() -> Mosquitto {
        Mosquitto::start_at("127.0.0.1", None)
    }

    /// Start it listening on `addr`, inside network namespace `netns` when given (see
    /// [`crate::netns`]).
    pub fn start_at(addr: &str, netns: Option<&str>) -> Mosquitto {
        Mosquitto::start_configured(addr, netns, "allow_anonymous true\n")
    }

    /// Start it with `config` (e.g. `allow_anonymous false`, `password_file`, `acl_file`) after
    /// the listener line.
    pub fn start_configured(addr: &str, netns: Option<&str>, config: &str) -> Mosquitto {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("sl-mosq-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let conf = dir.join("mosquitto.conf");
        std::fs::write(&conf, format!("listener {port} {addr}\n{config}set_tcp_nodelay true\nlog_type all\n"))
            .expect("write mosquitto.conf");
        let child = spawn(&conf, netns, port);
        Mosquitto { child, port, addr: addr.to_string(), netns: netns.map(str::to_string), _dir: dir }
    }

    /// Kill it (SIGKILL: an outage, not a shutdown) and wait until it is gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Start it again after [`Mosquitto::kill`], on the same port with the same configuration.
    pub fn restart(&mut self) {
        self.kill();
        self.child = spawn(&self._dir.join("mosquitto.conf"), self.netns.as_deref(), self.port);
    }

    /// Make it reread its password and ACL files (SIGHUP), as after enrolling a Host.
    pub fn reload(&self) {
        let _ = Command::new("kill").args(["-HUP", &self.child.id().to_string()]).status();
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `mqtt://ADDR:PORT`.
    pub fn url(&self) -> String {
        format!("mqtt://{}:{}", self.addr, self.port)
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

fn mosquitto_binary() -> PathBuf {
    ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("mosquitto"))
}
