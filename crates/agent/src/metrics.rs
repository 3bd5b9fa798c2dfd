//! The Host's own `/metrics` (Prometheus text format 0.0.4), served when `silverline host` gets
//! `--metrics-listen ADDR`: the Host's resources, every module's profile (the same families as
//! the Orchestrator's `/metrics`, with the labels `app`, `module`, `id`, `host`) and the agent's
//! control-plane counters. Reading it does not involve the Orchestrator or the broker, so it
//! keeps working when they are away.
//!
//! A deliberately tiny HTTP/1.1 server (one request per connection): `GET /metrics` and nothing
//! else. The text writer mirrors `silverline_orchestrator::metrics`; both render the same
//! `silverline_proto::status` types.

use crate::Shared;
use parking_lot::Mutex;
use silverline_proto::status::{ModuleState, ModuleStatus, Summary};
use silverline_proto::CommandKind;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the agent counts for `/metrics`.
#[derive(Default)]
pub(crate) struct AgentCounters {
    commands: Mutex<BTreeMap<&'static str, u64>>,
    acks: Mutex<BTreeMap<&'static str, u64>>,
    status_reports: AtomicU64,
    events: AtomicU64,
}

impl AgentCounters {
    pub(crate) fn command(&self, kind: &CommandKind) {
        let name = match kind {
            CommandKind::Deploy(_) => "deploy",
            CommandKind::Delete { .. } => "delete",
            CommandKind::SetChannelActive { .. } => "set-channel-active",
            #[allow(unreachable_patterns)]
            _ => "other",
        };
        *self.commands.lock().entry(name).or_default() += 1;
    }
    pub(crate) fn ack(&self, ok: bool) {
        *self.acks.lock().entry(if ok { "ok" } else { "error" }).or_default() += 1;
    }
    pub(crate) fn status_report(&self) {
        self.status_reports.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn event(&self) {
        self.events.fetch_add(1, Ordering::Relaxed);
    }
}

/// Accept connections until the runtime ends.
pub(crate) async fn serve(shared: Arc<Shared>, listener: tokio::net::TcpListener) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(10), answer(&shared, &mut stream)).await;
        });
    }
}

async fn answer(shared: &Shared, stream: &mut tokio::net::TcpStream) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let mut first = head.lines().next().unwrap_or_default().split(' ');
    let (method, path) = (first.next().unwrap_or_default(), first.next().unwrap_or_default());
    let path = path.split('?').next().unwrap_or_default();
    let (status, content_type, body) = match (method, path) {
        ("GET" | "HEAD", "/metrics") => ("200 OK", "text/plain; version=0.0.4; charset=utf-8", render(shared)),
        ("GET" | "HEAD", "/") => ("200 OK", "text/plain; charset=utf-8", format!("silverline host `{}`: metrics at /metrics\n", shared.name())),
        ("GET" | "HEAD", _) => ("404 Not Found", "text/plain; charset=utf-8", "not found; try /metrics\n".to_string()),
        _ => ("405 Method Not Allowed", "text/plain; charset=utf-8", "only GET\n".to_string()),
    };
    let mut response = format!("HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len()).into_bytes();
    if method != "HEAD" {
        response.extend_from_slice(body.as_bytes());
    }
    stream.write_all(&response).await?;
    stream.shutdown().await
}

fn render(shared: &Shared) -> String {
    let status = shared.host.status();
    let r = crate::resources::probe();
    let host = shared.name().to_string();
    let p = &shared.config.platform;
    let l = || vec![("host", host.clone())];
    let mut w = Writer::default();
    w.family("silverline_host_cpu_cores", "gauge", "CPU cores of the Host's platform.", [(l(), f64::from(p.cpu.cores))]);
    w.family("silverline_host_memory_total_bytes", "gauge", "Memory of the Host's platform.", [(l(), p.memory.total_bytes as f64)]);
    w.family("silverline_host_load1", "gauge", "1-minute load average of the Host's machine.", [(l(), r.load1)]);
    w.family("silverline_host_memory_available_bytes", "gauge", "Memory available on the Host's machine.", [(l(), r.memory_available_bytes as f64)]);
    w.family("silverline_host_process_resident_memory_bytes", "gauge", "Resident memory of the Host process.", [(l(), r.process_rss_bytes as f64)]);
    w.family("silverline_host_modules", "gauge", "Module instances on the Host.", [(l(), status.modules.len() as f64)]);
    w.family("silverline_host_workers", "gauge", "Worker threads running activations.", [(l(), status.workers as f64)]);
    w.family("silverline_host_cached_modules", "gauge", "Compiled modules cached in memory.", [(l(), status.cached_modules as f64)]);
    w.family("silverline_host_pooled_allocation", "gauge", "1 when instances come from the pooling allocator.", [(l(), f64::from(u8::from(status.pooled_allocation)))]);
    let modules: Vec<(Labels, &ModuleStatus)> = status
        .modules
        .iter()
        .map(|m| (vec![("app", m.app.clone()), ("module", m.module.clone()), ("id", m.id.as_str().to_string()), ("host", host.clone())], m))
        .collect();
    write_modules(&mut w, &modules);
    let c = &shared.metrics;
    let commands = c.commands.lock().clone();
    w.family("silverline_agent_commands_received_total", "counter", "Commands received from the Orchestrator, by kind.", commands.iter().map(|(k, n)| (vec![("command", k.to_string())], *n as f64)));
    let acks = c.acks.lock().clone();
    w.family("silverline_agent_acks_sent_total", "counter", "Command acknowledgements sent, by result.", acks.iter().map(|(k, n)| (vec![("result", k.to_string())], *n as f64)));
    w.family("silverline_agent_status_reports_sent_total", "counter", "Status reports published.", [(vec![], c.status_reports.load(Ordering::Relaxed) as f64)]);
    w.family("silverline_agent_events_sent_total", "counter", "Module events relayed to the Orchestrator.", [(vec![], c.events.load(Ordering::Relaxed) as f64)]);
    w.finish()
}

type Labels = Vec<(&'static str, String)>;

fn write_modules(w: &mut Writer, modules: &[(Labels, &ModuleStatus)]) {
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
    w.summary(
        "silverline_module_start_jitter_seconds",
        "Start lateness of periodic activations (actual minus scheduled start).",
        modules.iter().filter(|(_, m)| m.trigger == "periodic").map(|(l, m)| (l.clone(), m.start_jitter_ns)),
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

/// Prometheus text writer: one call per family keeps its samples together.
#[derive(Default)]
struct Writer {
    out: String,
}

impl Writer {
    fn family<I: IntoIterator<Item = (Labels, f64)>>(&mut self, name: &str, kind: &str, help: &str, samples: I) {
        let mut samples = samples.into_iter().peekable();
        if samples.peek().is_none() {
            return;
        }
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in samples {
            self.sample(name, &labels, value);
        }
    }

    fn summary<I: IntoIterator<Item = (Labels, Summary)>>(&mut self, name: &str, help: &str, samples: I) {
        let mut samples = samples.into_iter().peekable();
        if samples.peek().is_none() {
            return;
        }
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} summary");
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

    fn sample(&mut self, name: &str, labels: &[(&'static str, String)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n"))).collect();
            let _ = write!(self.out, "{{{}}}", inner.join(","));
        }
        let v = if value.is_nan() {
            "NaN".to_string()
        } else if value.is_infinite() {
            if value > 0.0 { "+Inf" } else { "-Inf" }.to_string()
        } else if value.fract() == 0.0 && value.abs() < 1e15 {
            format!("{}", value as i64)
        } else {
            format!("{value}")
        };
        let _ = writeln!(self.out, " {v}");
    }

    fn finish(self) -> String {
        self.out
    }
}
