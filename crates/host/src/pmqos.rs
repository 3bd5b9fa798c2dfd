//! The CPU wake-up latency request (Linux PM QoS, `/dev/cpu_dma_latency`) a Host holds for as
//! long as it runs real-time modules, the way cyclictest and PLC runtimes do.
//!
//! Why: a core that idles deeply (C6 and below on x86) takes tens to hundreds of microseconds to
//! wake, and a real-time module's activation starts that much late — longer than a 1 ms module's
//! whole budget. Writing a latency bound to the device and keeping the file open tells the
//! cpuidle governor not to enter states slower than that; closing the file withdraws the request.
//! The price is power: cores that would have slept stay in shallow states (docs/timing.md).
//!
//! Each real-time thread holds a [`Hold`] for its lifetime; the first one opens the request,
//! the last one to go closes it. This file owns the device and nothing else: it never touches
//! scheduling policies (realtime.rs) or module state.

use parking_lot::Mutex;
use silverline_proto::status::{WakeupLatencyState, WakeupLatencyStatus};
use std::sync::Arc;

/// The PM QoS device of the CPU latency constraint.
pub(crate) const DEVICE: &str = "/dev/cpu_dma_latency";

/// The Host's wake-up latency request: shared by its real-time threads.
#[derive(Clone)]
pub(crate) struct WakeupLatency {
    /// The bound asked for, in microseconds; `None` when the operator turned the request off.
    target_us: Option<u32>,
    inner: Arc<Mutex<Request>>,
}

#[derive(Default)]
struct Request {
    holders: usize,
    /// Open while the request is held: the kernel keeps the bound as long as the file is open.
    file: Option<std::fs::File>,
    /// Why the last attempt to open it failed.
    refused: Option<String>,
}

/// Keeps the request alive; dropped when a real-time thread ends.
pub(crate) struct Hold {
    inner: Arc<Mutex<Request>>,
}

impl WakeupLatency {
    pub(crate) fn new(target_us: Option<u32>) -> Self {
        WakeupLatency { target_us, inner: Arc::default() }
    }

    /// A real-time thread starts: hold the request (opening it if it is the first).
    pub(crate) fn hold(&self) -> Hold {
        let mut r = self.inner.lock();
        r.holders += 1;
        if let (Some(us), None) = (self.target_us, &r.file) {
            match open_request(us) {
                Ok(file) => {
                    tracing::info!("holding {DEVICE} at {us} µs while real-time modules run");
                    r.file = Some(file);
                    r.refused = None;
                }
                Err(e) => {
                    tracing::warn!("cannot hold {DEVICE} at {us} µs ({e}): real-time wake-ups may be slow");
                    r.refused = Some(e.to_string());
                }
            }
        }
        Hold { inner: self.inner.clone() }
    }

    /// What the Host reports.
    pub(crate) fn status(&self) -> WakeupLatencyStatus {
        let r = self.inner.lock();
        let state = match (self.target_us, &r.file, &r.refused) {
            (None, _, _) => WakeupLatencyState::Off,
            (Some(_), Some(_), _) => WakeupLatencyState::Held,
            (Some(_), None, Some(_)) if r.holders > 0 => WakeupLatencyState::Refused,
            (Some(_), None, _) => WakeupLatencyState::Released,
        };
        WakeupLatencyStatus {
            state,
            target_us: self.target_us,
            realtime_threads: r.holders,
            device: DEVICE.into(),
            refused: if state == WakeupLatencyState::Refused { r.refused.clone() } else { None },
        }
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        let mut r = self.inner.lock();
        r.holders = r.holders.saturating_sub(1);
        if r.holders == 0 && r.file.take().is_some() {
            tracing::info!("released {DEVICE}: no real-time module runs");
        }
    }
}

/// Open the device and write the bound (a native-endian i32, as the kernel reads it).
fn open_request(us: u32) -> std::io::Result<std::fs::File> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().write(true).open(DEVICE)?;
    file.write_all(&(us.min(i32::MAX as u32) as i32).to_ne_bytes())?;
    Ok(file)
}

/// The bound the kernel currently applies (the strictest held by any process), where readable.
pub fn current_bound_us() -> Option<i32> {
    use std::io::Read;
    let mut buf = [0u8; 4];
    std::fs::File::open(DEVICE).ok()?.read_exact(&mut buf).ok()?;
    Some(i32::from_ne_bytes(buf))
}
