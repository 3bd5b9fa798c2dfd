//! The host API that sidecars (and any module) use for failover (docs/failover.md):
//! `sl.now`, `sl.wake_at`, `sl.config` for every module, and `sl_sidecar.set_outputs` /
//! `sl_sidecar.host_load` for modules whose manifest says `sidecar: true`.
//!
//! The decisions (who is primary, when a Host counts as lost) stay in the sidecars' Wasm; the
//! Host only offers primitives and enforces the **output gate** of a replica: outputs are
//! active for the activations scheduled inside `[from, until)` — the lease — and for no others.
//! Gating on the *scheduled* time of an activation (not on when a publish happens) is what makes
//! "never two primaries for the same period" hold across Hosts whose clocks agree.

use crate::abi::SL_EINVAL;
use silverline_hostapi::{range, ApiView, HostApi};
use silverline_proto::ModuleId;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use wasmtime::{Caller, Linker};

/// `set_outputs`: the caller is not declared a sidecar.
pub const SL_EPERM: i32 = -6;

/// What `set_outputs` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputsOp {
    /// Active for activations scheduled in `[max(now, not_before), until)`.
    Activate { until: i64, not_before: i64 },
    /// Extend the lease to `until`; a module that is not active (never activated, deactivated,
    /// or its ACTIVATE was missed) opens from `max(now, not_before)`.
    Renew { until: i64, not_before: i64 },
    /// Inactive now.
    Deactivate,
}

/// The Host side of the sidecar API, implemented by the Host (kept as a trait so that a module
/// never holds the Host alive).
pub(crate) trait HostServices: Send + Sync {
    /// Activate `module` once at Unix time `unix_ns` even without a message.
    fn wake_at(&self, module: &ModuleId, unix_ns: i64);
    /// Apply `op` to the outputs of module `name` of application `app`; `caller` is reported.
    fn set_outputs(&self, caller: &ModuleId, app: &str, name: &str, op: OutputsOp, detected_at: i64) -> i32;
    /// Load average per core, in permille.
    fn load_permille(&self) -> i32;
}

/// What a module's store knows about itself for this API.
pub(crate) struct SidecarCtx {
    pub(crate) services: Arc<dyn HostServices>,
    pub(crate) id: ModuleId,
    pub(crate) app: String,
    pub(crate) is_sidecar: bool,
    pub(crate) config: Arc<str>,
}

impl SidecarCtx {
    /// For a module run without a Host (`silverline run module.wasm`): nothing to act on.
    pub(crate) fn standalone() -> SidecarCtx {
        SidecarCtx { services: Arc::new(NoHost), id: ModuleId("command".into()), app: String::new(), is_sidecar: false, config: Arc::from("") }
    }
}

struct NoHost;

impl HostServices for NoHost {
    fn wake_at(&self, _: &ModuleId, _: i64) {}
    fn set_outputs(&self, _: &ModuleId, _: &str, _: &str, _: OutputsOp, _: i64) -> i32 {
        crate::abi::SL_ENOENT
    }
    fn load_permille(&self) -> i32 {
        0
    }
}

/// Wall-clock time in ns since the Unix epoch: the clock activation indices count on.
pub fn unix_now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64)
}

/// Store data that carries a [`SidecarCtx`].
pub(crate) trait SidecarView: ApiView {
    fn sidecar(&self) -> &SidecarCtx;
}

/// `sl.now`, `sl.wake_at` and `sl.config`: part of the channel API (import module `sl`).
pub(crate) fn add_module_functions<T: SidecarView>(linker: &mut Linker<T>) -> anyhow::Result<()> {
    linker.func_wrap("sl", "now", |_: Caller<'_, T>| unix_now_ns())?;
    linker.func_wrap("sl", "wake_at", |c: Caller<'_, T>, t: i64| {
        let s = c.data().sidecar();
        s.services.wake_at(&s.id, t);
    })?;
    linker.func_wrap("sl", "config", config::<T>)?;
    Ok(())
}

/// `sl:sidecar`: import module `sl_sidecar`, for modules whose manifest says `sidecar: true`.
pub(crate) struct Sidecars;

impl<T: SidecarView> HostApi<T> for Sidecars {
    fn name(&self) -> &str {
        "sl:sidecar"
    }
    fn imports(&self) -> &[&str] {
        &["sl_sidecar"]
    }
    fn add_to_linker(&self, linker: &mut Linker<T>) -> anyhow::Result<()> {
        linker.func_wrap("sl_sidecar", "set_outputs", set_outputs::<T>)?;
        linker.func_wrap("sl_sidecar", "host_load", |c: Caller<'_, T>| {
            let s = c.data().sidecar();
            if s.is_sidecar {
                s.services.load_permille()
            } else {
                SL_EPERM
            }
        })?;
        Ok(())
    }
}

/// Does a compiled module import the sidecar API? (Refused at deploy unless declared a sidecar.)
pub(crate) fn imports_sidecar_api(module: &wasmtime::Module) -> bool {
    module.imports().any(|i| i.module() == "sl_sidecar")
}

fn config<T: SidecarView>(mut c: Caller<'_, T>, ptr: i32, cap: i32) -> i32 {
    let Some(mem) = c.data().memory() else { return SL_EINVAL };
    let (data, ctx) = mem.data_and_store_mut(&mut c);
    let Some(r) = range(ptr, cap, data.len()) else { return SL_EINVAL };
    let text = ctx.sidecar().config.as_bytes();
    let n = text.len().min(r.len());
    data[r.start..r.start + n].copy_from_slice(&text[..n]);
    text.len().min(i32::MAX as usize) as i32
}

fn set_outputs<T: SidecarView>(mut c: Caller<'_, T>, ptr: i32, len: i32, op: i32, until: i64, not_before: i64, detected_at: i64) -> i32 {
    if !c.data().sidecar().is_sidecar {
        return SL_EPERM;
    }
    let Some(mem) = c.data().memory() else { return SL_EINVAL };
    let (data, ctx) = mem.data_and_store_mut(&mut c);
    let Some(r) = range(ptr, len, data.len()) else { return SL_EINVAL };
    let Ok(name) = std::str::from_utf8(&data[r]) else { return SL_EINVAL };
    let op = match op {
        1 => OutputsOp::Activate { until, not_before },
        2 => OutputsOp::Renew { until, not_before },
        0 => OutputsOp::Deactivate,
        _ => return SL_EINVAL,
    };
    let s = ctx.sidecar();
    s.services.set_outputs(&s.id, &s.app, name, op, detected_at)
}

/// The Host's load for `host_load`, read from /proc/loadavg at most twice a second (an emitter
/// asks every few milliseconds).
#[derive(Default)]
pub(crate) struct LoadGauge {
    cached: parking_lot::Mutex<Option<(std::time::Instant, i32)>>,
}

impl LoadGauge {
    /// The 1-minute load average per core, in permille (0 where /proc is unavailable).
    pub(crate) fn permille(&self) -> i32 {
        let mut cached = self.cached.lock();
        match *cached {
            Some((at, v)) if at.elapsed() < std::time::Duration::from_millis(500) => v,
            _ => {
                let v = read_load_permille();
                *cached = Some((std::time::Instant::now(), v));
                v
            }
        }
    }
}

fn read_load_permille() -> i32 {
    let load1: f64 = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    (load1 / cores * 1000.0).round() as i32
}

/// The output gate of a replica: outputs are active for activations scheduled in `[from, until)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Gate {
    pub(crate) from: i64,
    pub(crate) until: i64,
}

impl Gate {
    /// The gate after `op` at `now`.
    ///
    /// Safety never rests on refusing a renewal: every lease a coordinator grants a replica
    /// ends before the next primary's `not_before` (docs/failover.md), so re-opening a gate
    /// with a renewal can only open periods no other replica may use.
    pub(crate) fn after(current: Option<Gate>, op: OutputsOp, now: i64) -> Gate {
        match (op, current) {
            (OutputsOp::Activate { until, not_before }, _) => Gate { from: now.max(not_before), until },
            (OutputsOp::Renew { until, .. }, Some(g)) if g.from != i64::MAX => Gate { until: g.until.max(until), ..g },
            (OutputsOp::Renew { until, not_before }, _) => Gate { from: now.max(not_before), until },
            (OutputsOp::Deactivate, _) => Gate { from: i64::MAX, until: 0 },
        }
    }

    /// Are outputs active for an activation scheduled at `t`?
    pub(crate) fn admits(&self, t: i64) -> bool {
        self.from <= t && t < self.until
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_admits_only_the_lease() {
        let g = Gate::after(None, OutputsOp::Activate { until: 100, not_before: 50 }, 10);
        assert!(!g.admits(49) && g.admits(50) && g.admits(99) && !g.admits(100));
        let g2 = Gate::after(Some(g), OutputsOp::Renew { until: 200, not_before: 50 }, 60);
        assert!(g2.admits(150) && !g2.admits(49), "a renewal extends, never moves the start back");
        let stale = Gate::after(Some(g2), OutputsOp::Renew { until: 120, not_before: 50 }, 60);
        assert_eq!(stale, g2, "a stale renewal never shortens the lease");
        let off = Gate::after(Some(g2), OutputsOp::Deactivate, 70);
        assert!(!off.admits(150));
        let missed = Gate::after(None, OutputsOp::Renew { until: 500, not_before: 300 }, 80);
        assert!(!missed.admits(299) && missed.admits(300) && !missed.admits(500), "a missed ACTIVATE is made up, from not_before");
        let revived = Gate::after(Some(off), OutputsOp::Renew { until: 500, not_before: 0 }, 80);
        assert!(!revived.admits(79) && revived.admits(80), "re-opened from now, never earlier");
    }
}
