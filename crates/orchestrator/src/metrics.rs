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
use silverline_proto::prometheus::{write_modules, Labels, Writer};
use silverline_proto::status::ModuleStatus;
use std::collections::BTreeMap;

/// The content type of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Control-plane message counters, kept by [`crate::control::Control`].
#[derive(Default)]
pub struct ControlCounters {
    received: Mutex<BTreeMap<String, u64>>,
    malformed: Mutex<BTreeMap<String, u64>>,
    sent: Mutex<BTreeMap<&'static str, u64>>,
    acks: Mutex<BTreeMap<&'static str, u64>>,
    queued: std::sync::atomic::AtomicUsize,
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
    /// Commands waiting for room in their Host's window now.
    pub fn set_queued(&self, n: usize) {
        self.queued.store(n, std::sync::atomic::Ordering::Relaxed);
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
        silverline_proto::CommandKind::Lease { .. } => "lease",
        silverline_proto::CommandKind::Register => "register",
    }
}

pub(crate) fn routes() -> Router<Api> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(State(a): State<Api>) -> impl IntoResponse {
    // Linear in the modules: thousands of them take a while, off the runtime's workers.
    let text = tokio::task::spawn_blocking(move || render(&a)).await.unwrap_or_default();
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], text)
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
    w.family("silverline_control_commands_queued", "gauge", "Commands waiting for room in their Host's window of unacknowledged commands.", [(vec![], c.queued.load(std::sync::atomic::Ordering::Relaxed) as f64)]);
    w.family("silverline_control_acks_total", "counter", "Command acknowledgements received, by result.", acks.iter().map(|(k, n)| (vec![("result", k.to_string())], *n as f64)));
    let bus = a.core.events();
    w.family("silverline_events_total", "counter", "Events published on the event stream, by kind.", bus.counts().into_iter().map(|(k, n)| (vec![("kind", k)], n as f64)));
    w.family("silverline_event_subscribers", "gauge", "Clients following the event stream now.", [(vec![], bus.subscribers() as f64)]);
    if let Some(g) = a.broker.as_ref().map(|b| b.counters()) {
        w.family("silverline_broker_refused_connections_total", "counter", "Connections the embedded broker refused (no valid login in time, a forbidden last will).", [(vec![], g.refused_connections as f64)]);
        w.family("silverline_broker_denied_publishes_total", "counter", "Publishes dropped because their client may not publish on the topic.", [(vec![], g.denied_publishes as f64)]);
        w.family("silverline_broker_withheld_deliveries_total", "counter", "Messages not delivered because their subscriber may not read the topic.", [(vec![], g.withheld_deliveries as f64)]);
        w.family("silverline_broker_dropped_for_slow_clients_total", "counter", "QoS 0 messages dropped, oldest first, for clients that read slower than they came.", [(vec![], g.dropped_for_slow_clients as f64)]);
        w.family("silverline_broker_slow_disconnects_total", "counter", "Clients disconnected because they read nothing while messages waited for them.", [(vec![], g.slow_disconnects as f64)]);
        w.family("silverline_broker_revoked_disconnects_total", "counter", "Clients disconnected because the password they connected with was rotated or removed.", [(vec![], g.revoked_disconnects as f64)]);
    }
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
