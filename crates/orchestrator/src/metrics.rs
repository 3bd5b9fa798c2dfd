//! `GET /metrics`: the Orchestrator's view of the system in the Prometheus text format (0.0.4).
//!
//! Per Host: online, load, memory, modules. Per module instance (labels `app`, `module`, `id`,
//! `host`; `id` tells a staged new version from the running one):
//! activations, execution time and start jitter (summaries with p50/p99 quantiles over the
//! Host's recent samples), fuel, memory, messages in/out/dropped, deadline misses, traps; per
//! channel: messages and drops. Control plane: messages received per topic leaf, malformed ones,
//! commands sent per kind, acknowledgements. Names follow the Prometheus conventions (base units
//! in the name: `_seconds`, `_bytes`; counters end in `_total`). Reference: `docs/dashboard.md`.
//!
//! The figures are those of the latest status report of each Host (every second by default),
//! so they lag by up to one report. A Host serves the same module metrics itself with
//! `silverline host --metrics-listen ADDR` (the `silverline-agent` crate).

use crate::api::Api;
use crate::model::{HostView, ModuleView};
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use parking_lot::Mutex;
use silverline_proto::status::{ModuleState, ModuleStatus, Summary};
use std::collections::BTreeMap;
use std::fmt::Write;

/// The content type of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Control-plane message counters, kept by [`crate::control::Control`].
#[derive(Default)]
pub struct ControlCounters {
    received: Mutex<BTreeMap<String, u64>>,
    malformed: Mutex<BTreeMap<String, u64>>,
    sent: Mutex<BTreeMap<&'static str, u64>>,
    acks: Mutex<BTreeMap<&'static str, u64>>,
}

impl ControlCounters {
    /// A message arrived on a Host topic with this leaf (`status`, `events`, ...).
    pub fn received(&self, leaf: &str) {
        *self.received.lock().entry(leaf.to_string()).or_default() += 1;
    }
    /// A message on this leaf was malformed and dropped.
    pub fn malformed(&self, leaf: &str) {
        *self.malformed.lock().entry(leaf.to_string()).or_default() += 1;
    }
    /// A command of this kind was sent.
    pub fn sent(&self, command: &'static str) {
        *self.sent.lock().entry(command).or_default() += 1;
    }
    /// An acknowledgement arrived.
    pub fn ack(&self, ok: bool) {
        *self.acks.lock().entry(if ok { "ok" } else { "error" }).or_default() += 1;
    }
}

/// The command kind's name on the wire.
pub fn command_name(kind: &silverline_proto::CommandKind) -> &'static str {
    match kind {
        silverline_proto::CommandKind::Deploy(_) => "deploy",
        silverline_proto::CommandKind::Delete { .. } => "delete",
        silverline_proto::CommandKind::SetChannelActive { .. } => "set-channel-active",
        #[allow(unreachable_patterns)]
        _ => "other",
    }
}

pub(crate) fn routes() -> Router<Api> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(State(a): State<Api>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], render(&a))
}

fn render(a: &Api) -> String {
    let hosts = a.core.hosts();
    let modules = a.core.modules();
    let apps = a.core.apps();
    let mut w = Writer::default();

    let mut by_state: BTreeMap<&str, u64> = ["running", "deploying", "degraded", "pending"].iter().map(|s| (*s, 0)).collect();
    for app in &apps {
        *by_state.entry(app.state.as_str()).or_default() += 1;
    }
    w.family("silverline_apps", "gauge", "Applications by state.", by_state.iter().map(|(s, n)| (vec![("state", s.to_string())], *n as f64)));
    let mut mod_states: BTreeMap<&str, u64> = BTreeMap::new();
    for m in &modules {
        *mod_states.entry(m.state.as_str()).or_default() += 1;
    }
    w.family("silverline_modules", "gauge", "Module instances by state (as the Orchestrator sees them).", mod_states.iter().map(|(s, n)| (vec![("state", s.to_string())], *n as f64)));

    write_hosts(&mut w, &hosts);
    let observed: Vec<(&ModuleView, &ModuleStatus)> = modules.iter().filter_map(|m| Some((m, m.profile.as_ref()?))).collect();
    let labelled: Vec<(Labels, &ModuleStatus)> = observed
        .iter()
        .map(|(v, p)| (vec![("app", v.app.clone()), ("module", v.module.clone()), ("id", v.id.as_str().to_string()), ("host", v.host.clone().unwrap_or_default())], *p))
        .collect();
    write_modules(&mut w, &labelled);

    let c = &a.control.counters;
    let received = c.received.lock().clone();
    w.family("silverline_control_messages_received_total", "counter", "Control-plane messages received from Hosts, by topic leaf.", received.iter().map(|(l, n)| (vec![("topic", l.clone())], *n as f64)));
    let malformed = c.malformed.lock().clone();
    w.family("silverline_control_messages_malformed_total", "counter", "Control-plane messages dropped as malformed, by topic leaf.", malformed.iter().map(|(l, n)| (vec![("topic", l.clone())], *n as f64)));
    let sent = c.sent.lock().clone();
    w.family("silverline_control_commands_sent_total", "counter", "Commands sent to Hosts, by kind.", sent.iter().map(|(k, n)| (vec![("command", k.to_string())], *n as f64)));
    let acks = c.acks.lock().clone();
    w.family("silverline_control_acks_total", "counter", "Command acknowledgements received, by result.", acks.iter().map(|(k, n)| (vec![("result", k.to_string())], *n as f64)));
    let bus = a.core.events();
    w.family("silverline_events_total", "counter", "Events published on the event stream, by kind.", bus.counts().into_iter().map(|(k, n)| (vec![("kind", k)], n as f64)));
    w.family("silverline_event_subscribers", "gauge", "Clients following the event stream now.", [(vec![], bus.subscribers() as f64)]);
    w.finish()
}

fn write_hosts(w: &mut Writer, hosts: &[HostView]) {
    let l = |h: &HostView| vec![("host", h.name.clone())];
    w.family("silverline_host_up", "gauge", "1 when the Host is online on the control plane.", hosts.iter().map(|h| (l(h), f64::from(u8::from(h.online)))));
    w.family("silverline_host_last_seen_seconds", "gauge", "Seconds since the Host's last control-plane message.", hosts.iter().map(|h| (l(h), h.last_seen_ms as f64 / 1e3)));
    w.family("silverline_host_cpu_cores", "gauge", "CPU cores of the Host's platform.", hosts.iter().map(|h| (l(h), f64::from(h.platform.cpu.cores))));
    w.family("silverline_host_memory_total_bytes", "gauge", "Memory of the Host's platform.", hosts.iter().map(|h| (l(h), h.platform.memory.total_bytes as f64)));
    let online: Vec<&HostView> = hosts.iter().filter(|h| h.resources.is_some()).collect();
    let r = |h: &HostView| h.resources.unwrap_or_default();
    w.family("silverline_host_load1", "gauge", "1-minute load average of the Host's machine.", online.iter().map(|h| (l(h), r(h).load1)));
    w.family("silverline_host_memory_available_bytes", "gauge", "Memory available on the Host's machine.", online.iter().map(|h| (l(h), r(h).memory_available_bytes as f64)));
    w.family("silverline_host_process_resident_memory_bytes", "gauge", "Resident memory of the Host process.", online.iter().map(|h| (l(h), r(h).process_rss_bytes as f64)));
    w.family("silverline_host_modules", "gauge", "Module instances the Host reports running.", online.iter().map(|h| (l(h), h.modules.len() as f64)));
    w.family("silverline_host_assigned_modules", "gauge", "Module instances the Orchestrator assigned to the Host.", hosts.iter().map(|h| (l(h), h.assigned.len() as f64)));
}

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
    let counters: [(&str, &str, Get); 10] = [
        ("silverline_module_activations_total", "Activations run.", |m| m.activations as f64),
        ("silverline_module_step_errors_total", "Activations whose sl_step returned an error.", |m| m.step_errors as f64),
        ("silverline_module_overruns_total", "Periodic activations skipped because the previous one still ran.", |m| m.overruns as f64),
        ("silverline_module_deadline_misses_total", "Activations that finished after their deadline.", |m| m.deadline_misses as f64),
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
    let channels: Vec<(Labels, &silverline_proto::status::ChannelStatus)> = modules
        .iter()
        .flat_map(|(l, m)| m.channels.iter().map(move |c| (with(l, &[("channel", c.name.clone()), ("direction", c.direction.clone()), ("endpoint", c.endpoint.clone())]), c)))
        .collect();
    w.family("silverline_channel_messages_total", "counter", "Messages received (inputs) or published (outputs) on a channel.", channels.iter().map(|(l, c)| (l.clone(), c.messages as f64)));
    w.family("silverline_channel_dropped_total", "counter", "Messages dropped on a channel (queue overflow or inactive output).", channels.iter().map(|(l, c)| (l.clone(), c.dropped as f64)));
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

fn state_name(s: &ModuleState) -> &'static str {
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

fn number(v: f64) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_families_grouped() {
        let mut w = Writer::default();
        w.family("x_total", "counter", "help", [(vec![("a", "q\"\\\n".to_string())], 1.0), (vec![("a", "b".to_string())], 0.25)]);
        w.family("empty", "gauge", "nothing", std::iter::empty());
        let text = w.finish();
        assert_eq!(text, "# HELP x_total help\n# TYPE x_total counter\nx_total{a=\"q\\\"\\\\\\n\"} 1\nx_total{a=\"b\"} 0.25\n");
    }
}
