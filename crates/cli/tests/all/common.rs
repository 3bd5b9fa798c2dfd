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

pub fn run(args: &[&str]) -> Output {
    silverline().args(args).output().expect("silverline runs")
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
        let r = match (method, body) {
            ("GET", _) => agent.get(&url).call(),
            ("DELETE", _) => agent.delete(&url).call(),
            ("POST", b) => agent.post(&url).send(b.unwrap_or("")),
            (_, b) => agent.put(&url).send(b.unwrap_or("")),
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

pub fn free_port() -> u16 {
    silverline_test_programs::broker::free_port()
}

/// Tests that start whole systems (broker, Orchestrator, Hosts) take this lock: on a 2-core
/// machine several of them at once starve each other's periodic modules.
pub fn serial() -> parking_lot::MutexGuard<'static, ()> {
    static SERIAL: parking_lot::Mutex<()> = parking_lot::Mutex::new(());
    SERIAL.lock()
}
