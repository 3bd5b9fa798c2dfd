//! A real Mosquitto broker for tests, started on a free loopback port and killed on drop.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A free TCP port on 127.0.0.1, chosen by the OS.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("no free port")
}

/// A Mosquitto process owned by a test.
pub struct Mosquitto {
    child: Child,
    port: u16,
    _dir: PathBuf,
}

impl Mosquitto {
    /// Start Debian's `mosquitto` on a free port and wait until it listens.
    ///
    /// Panics with an install hint when the binary is missing: these tests need the real broker.
    pub fn start() -> Mosquitto {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("sl-mosq-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let conf = dir.join("mosquitto.conf");
        std::fs::write(&conf, format!("listener {port} 127.0.0.1\nallow_anonymous true\nlog_type all\n"))
            .expect("write mosquitto.conf");
        let mut child = Command::new(mosquitto_binary())
            .arg("-c")
            .arg(&conf)
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
        Mosquitto { child, port, _dir: dir }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `mqtt://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
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
