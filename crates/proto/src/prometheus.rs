//! Prometheus text format for Host status: the module and channel families that both the
//! Orchestrator (all Hosts) and each Host (itself) expose at `/metrics`, written by one piece of
//! code so the two never disagree on names or labels. Formatting only; serving is elsewhere.

use crate::status::{ModuleState, ModuleStatus, Summary};
use std::fmt::Write as _;

/// Label pairs of one series.
pub type Labels = Vec<(&'static str, String)>;

/// Per-module and per-channel families for `modules` (each with its identifying labels).
pub fn write_modules(w: &mut Writer, modules: &[(Labels, &ModuleStatus)]) {
    let with = |l: &Labels, extra: &[(&'static str, String)]| -> Labels { l.iter().cloned().chain(extra.iter().cloned()).collect() };
    w.family(
        "silverline_module_state",
        "gauge",
        "1 for the module instance's current lifecycle state.",
        modules.iter().map(|(l, m)| (with(l, &[("state", state_name(&m.state).to_string())]), 1.0)),
    );
    type Get = fn(&ModuleStatus) -> f64;
    let counters: [(&str, &str, Get); 11] = [
        ("silverline_module_activations_total", "Activations run.", |m| m.activations as f64),
        ("silverline_module_step_errors_total", "Activations whose sl_step returned an error.", |m| m.step_errors as f64),
        ("silverline_module_overruns_total", "Periodic activations skipped (the module fell behind, or its onOverrun policy); by reason in silverline_module_skipped_total.", |m| m.overruns as f64),
        ("silverline_module_deadline_misses_total", "Activations that finished after their deadline.", |m| m.deadline_misses as f64),
        ("silverline_module_throttled_total", "Periods in which a real-time module's thread used up its SCHED_DEADLINE runtime and was throttled.", |m| m.throttled as f64),
        ("silverline_module_traps_total", "Failures: traps, exhausted fuel, exceeded deadlines and limits.", |m| m.traps as f64),
        ("silverline_module_restarts_total", "Restarts after failures.", |m| f64::from(m.restarts)),
        ("silverline_module_fuel_consumed_total", "Fuel (Wasm instructions, roughly) used by all activations.", |m| m.fuel_total as f64),
        ("silverline_module_messages_in_total", "Messages received over all input channels.", |m| m.messages_in as f64),
        ("silverline_module_messages_out_total", "Messages published over all output channels.", |m| m.messages_out as f64),
        ("silverline_module_messages_dropped_total", "Messages dropped: input queue overflow plus publishing on inactive outputs.", |m| m.messages_dropped as f64),
    ];
    for (name, help, get) in counters {
        w.family(name, "counter", help, modules.iter().map(|(l, m)| (l.clone(), get(m))));
    }
    w.family(
        "silverline_module_skipped_total",
        "counter",
        "Periodic activations skipped, by reason: behind, skip-next, degrade.",
        modules.iter().flat_map(|(l, m)| {
            let s = m.skipped;
            use crate::status::SkipReason::*;
            [(Behind, s.behind), (SkipNext, s.skip_next), (Degrade, s.degrade)].map(|(r, n)| (with(l, &[("reason", r.as_str().to_string())]), n as f64))
        }),
    );
    w.family("silverline_module_fuel_last_activation", "gauge", "Fuel used by the last activation.", modules.iter().map(|(l, m)| (l.clone(), m.fuel_last as f64)));
    w.family("silverline_module_memory_bytes", "gauge", "Current linear memory size.", modules.iter().map(|(l, m)| (l.clone(), m.memory_bytes as f64)));
    w.summary("silverline_module_execution_seconds", "Execution time per activation (quantiles over the recent activations).", modules.iter().map(|(l, m)| (l.clone(), m.exec_ns)));
    w.family("silverline_module_execution_max_seconds", "gauge", "Longest activation so far.", modules.iter().map(|(l, m)| (l.clone(), m.exec_ns.max as f64 / 1e9)));
    let periodic: Vec<&(Labels, &ModuleStatus)> = modules.iter().filter(|(_, m)| m.trigger == "periodic").collect();
    w.summary(
        "silverline_module_start_jitter_seconds",
        "Start lateness of periodic activations (actual minus scheduled start).",
        periodic.iter().map(|(l, m)| (l.clone(), m.start_jitter_ns)),
    );
    let channels: Vec<(Labels, &crate::status::ChannelStatus)> = modules
        .iter()
        .flat_map(|(l, m)| m.channels.iter().map(move |c| (with(l, &[("channel", c.name.clone()), ("direction", c.direction.clone()), ("endpoint", c.endpoint.clone())]), c)))
        .collect();
    w.family("silverline_channel_messages_total", "counter", "Messages received (inputs) or published (outputs) on a channel.", channels.iter().map(|(l, c)| (l.clone(), c.messages as f64)));
    w.family("silverline_channel_dropped_total", "counter", "Messages dropped on a channel (queue overflow, inactive output, no lease, over budget, broker queue full).", channels.iter().map(|(l, c)| (l.clone(), c.dropped as f64)));
    let outputs: Vec<&(Labels, &crate::status::ChannelStatus)> = channels.iter().filter(|(_, c)| c.direction == "out").collect();
    w.family("silverline_channel_rate_limited_total", "counter", "Of the dropped, publishes refused because the module was over its publish budget.", outputs.iter().map(|(l, c)| (l.clone(), c.rate_limited as f64)));
    w.family("silverline_channel_fenced_total", "counter", "Of the dropped, publishes made while the Host held no lease from its Orchestrator.", outputs.iter().map(|(l, c)| (l.clone(), c.fenced as f64)));
    w.family(
        "silverline_channel_queued_messages",
        "gauge",
        "Messages waiting in an input channel's queue.",
        channels.iter().filter(|(_, c)| c.direction == "in").map(|(l, c)| (l.clone(), c.queued as f64)),
    );
    w.family(
        "silverline_channel_active",
        "gauge",
        "1 when an output channel is active.",
        channels.iter().filter(|(_, c)| c.direction == "out").map(|(l, c)| (l.clone(), f64::from(u8::from(c.active)))),
    );
}

/// The lowercase name of a module state, used as a label value.
pub fn state_name(s: &ModuleState) -> &'static str {
    match s {
        ModuleState::Starting => "starting",
        ModuleState::Running => "running",
        ModuleState::Restarting { .. } => "restarting",
        ModuleState::Failed { .. } => "failed",
        ModuleState::Completed { .. } => "completed",
        ModuleState::Stopped => "stopped",
    }
}

/// A Prometheus text-format writer: one call per metric family, so samples stay grouped.
#[derive(Default)]
pub struct Writer {
    out: String,
}

impl Writer {
    /// A family of `kind` (`counter` or `gauge`) with its samples; nothing when there are none.
    pub fn family<I: IntoIterator<Item = (Labels, f64)>>(&mut self, name: &str, kind: &str, help: &str, samples: I) {
        let mut samples = samples.into_iter().peekable();
        if samples.peek().is_none() {
            return;
        }
        self.header(name, kind, help);
        for (labels, value) in samples {
            self.sample(name, &labels, value);
        }
    }

    /// A summary in seconds from nanosecond [`Summary`]s: quantiles 0.5 and 0.99, `_sum`, `_count`.
    pub fn summary<I: IntoIterator<Item = (Labels, Summary)>>(&mut self, name: &str, help: &str, samples: I) {
        let mut samples = samples.into_iter().peekable();
        if samples.peek().is_none() {
            return;
        }
        self.header(name, "summary", help);
        for (labels, s) in samples {
            for (q, v) in [("0.5", s.p50), ("0.99", s.p99)] {
                let mut l = labels.clone();
                l.push(("quantile", q.to_string()));
                self.sample(name, &l, v as f64 / 1e9);
            }
            self.sample(&format!("{name}_sum"), &labels, s.mean as f64 * s.count as f64 / 1e9);
            self.sample(&format!("{name}_count"), &labels, s.count as f64);
        }
    }

    fn header(&mut self, name: &str, kind: &str, help: &str) {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&'static str, String)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let v = v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
                let _ = write!(self.out, "{k}=\"{v}\"");
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", number(value));
    }

    /// The text.
    pub fn finish(self) -> String {
        self.out
    }
}

/// A sample value as Prometheus writes it.
pub fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

