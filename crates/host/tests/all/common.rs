//! Helpers shared by the Host tests.

use parking_lot::Mutex;
use silverline_channels::InputQueue;
use silverline_host::{Host, HostConfig, HostEvent, ModuleId, Stream};
use silverline_manifest::ApplicationManifest;
use std::sync::Arc;
use std::time::Duration;

/// Generous: these machines are shared and slow; tests wait on events, this only bounds a hang.
pub const WAIT: Duration = Duration::from_secs(20);

/// Lines written by modules, captured instead of printed.
#[derive(Clone, Default)]
pub struct Lines(pub Arc<Mutex<Vec<(String, String)>>>);

impl Lines {
    pub fn of(&self, module: &str) -> Vec<String> {
        self.0.lock().iter().filter(|(m, _)| m == module).map(|(_, l)| l.clone()).collect()
    }
}

/// A Host whose module output is captured.
pub fn host() -> (Host, Lines) {
    host_with(HostConfig::new())
}

pub fn host_with(mut config: HostConfig) -> (Host, Lines) {
    let lines = Lines::default();
    let sink = lines.clone();
    config.output(Arc::new(move |m: &str, _s: Stream, l: &str| sink.0.lock().push((m.to_string(), l.to_string()))));
    (Host::new(config).expect("host starts"), lines)
}

/// Shuts its Host down when dropped, waiting for running activations. For tests with long
/// activations: without it the Host lingers until they end, holding what it holds (e.g. the
/// wake-up latency request) into the next test.
pub struct ShutDown<'a>(pub &'a Host);

impl Drop for ShutDown<'_> {
    fn drop(&mut self) {
        self.0.shutdown();
    }
}

/// Parse an application manifest written inline (module files are absolute paths).
pub fn app(yaml: &str) -> ApplicationManifest {
    ApplicationManifest::from_str(yaml, std::path::Path::new("/")).unwrap_or_else(|e| panic!("bad test manifest: {e}\n{yaml}"))
}

pub fn id(s: &str) -> ModuleId {
    ModuleId(s.to_string())
}

/// An observer queue subscribed directly on the Host's router.
pub fn observe(host: &Host, filter: &str, depth: usize) -> Arc<InputQueue> {
    let q = Arc::new(InputQueue::new(depth));
    host.router().subscribe(filter, q.clone());
    q
}

/// Wait until `queue` holds at least `n` messages.
pub fn wait_messages(host: &Host, queue: &Arc<InputQueue>, n: usize) -> bool {
    let q = queue.clone();
    // Every delivery is followed by an activation or status change of some module, which wakes
    // `wait_for`; the observer queue itself is checked on each wake-up.
    host.wait_for(WAIT, move |_| q.len() >= n)
}

/// Receive events until one matches, or panic after [`WAIT`].
pub fn expect_event(rx: &crossbeam_channel::Receiver<HostEvent>, what: &str, pred: impl Fn(&HostEvent) -> bool) -> HostEvent {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(e) if pred(&e) => return e,
            Ok(_) => {}
            Err(_) => panic!("no event `{what}` within {WAIT:?}"),
        }
    }
}

/// A one-module periodic app around a WAT/C file.
pub fn periodic(app_name: &str, module: &str, file: &str, period_ms: u64, extra: &str) -> ApplicationManifest {
    app(&format!(
        "name: {app_name}\nmodules:\n  - name: {module}\n    file: {file}\n    trigger: {{ type: periodic, periodInNs: {} }}\n{extra}",
        period_ms * 1_000_000
    ))
}

/// The hog test takes this exclusively; tests that count activations over a window take it
/// shared, so that busy processes never run next to them.
pub static HEAVY: parking_lot::RwLock<()> = parking_lot::RwLock::new(());
