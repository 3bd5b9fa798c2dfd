//! `host-call`: the cost of calling an `sl` host function from Wasm, against a call to a guest
//! function doing equivalent trivial work and against the bare loop.

use crate::util::{periodic_exec_ns, periodic_spec, quiet, wasm};
use crate::wat::{host_call, CallKind};
use crate::{stats::summarize, BenchConfig, Figure, Section};
use silverline_host::{Host, HostConfig, ModuleId};
use std::time::Duration;

pub(crate) const TITLE: &str = "Host-function call cost";

const HOST_ROW: &str = "loop iteration calling `sl.channel_pending` (host function)";
const GUEST_ROW: &str = "loop iteration calling a guest function (same work)";
const EMPTY_ROW: &str = "loop iteration without a call";

pub(crate) fn run(cfg: &BenchConfig) -> anyhow::Result<Section> {
    let (iters, per_round, rounds, warmup, period) =
        if cfg.quick { (1_000u32, 20usize, 1usize, 3usize, Duration::from_millis(1)) } else { (10_000, 100, 3, 10, Duration::from_millis(4)) };
    let host = Host::new(quiet(HostConfig::new()))?;
    let spec = periodic_spec(period, Some("bench/hostcall/in"), None)?;
    let kinds = [(CallKind::Host, HOST_ROW), (CallKind::Guest, GUEST_ROW), (CallKind::Empty, EMPTY_ROW)];
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); kinds.len()];
    // Rounds alternate the three variants so that drift on a shared machine hits all three.
    for round in 0..rounds {
        for (i, (kind, _)) in kinds.iter().enumerate() {
            cfg.say(&format!("host-call: {kind:?}, round {}", round + 1));
            let bytes = wasm(&host_call(*kind, iters))?;
            let id = ModuleId::new("bench", &format!("hostcall-{kind:?}-{round}"));
            host.deploy(id.clone(), "bench", &spec, &bytes)?;
            let exec = periodic_exec_ns(&host, &id, warmup, per_round, period);
            host.remove(&id);
            samples[i].extend(exec?.into_iter().map(|ns| ns / f64::from(iters)));
        }
    }
    host.shutdown();

    let mut s = Section::new("host-call", TITLE);
    for ((_, name), v) in kinds.iter().zip(&samples) {
        s.rows.push(summarize(name, v));
    }
    s.ratio("host-call iteration / guest-call iteration", HOST_ROW, GUEST_ROW, None);
    let med = |name: &str| s.row(name).map_or(0.0, |r| r.median_ns);
    let (h, g, e) = (med(HOST_ROW), med(GUEST_ROW), med(EMPTY_ROW));
    s.figures.push(Figure::new("host call, net of the loop (median difference)", h - e, "ns", None));
    s.figures.push(Figure::new("guest call, net of the loop (median difference)", g - e, "ns", None));
    if g - e > 0.05 {
        s.figures.push(Figure::new("net host call / net guest call", (h - e) / (g - e), "x", None));
    }
    s.note(format!(
        "One sample = one periodic activation of `sl_step` running a loop of {iters} iterations, divided by {iters}; \
         the time is the Host's own measurement around the `sl_step` call (activation log). {} activations per \
         variant after {warmup} warm-up activations per deployment, in {rounds} round(s) alternating the variants.",
        per_round * rounds
    ));
    s.note("The host function is `channel_pending` on an open, empty input handle (handle lookup + an uncontended \
            mutex around the queue length). The guest function loads a value from linear memory. wasmtime 48 does not \
            inline Wasm calls by default, so the guest call is a real call.");
    s.note("Fuel metering and epoch interruption are always on in silverline's engine: every iteration and every \
            function entry pays for them, in all three variants.");
    Ok(s)
}
