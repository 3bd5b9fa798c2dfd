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
use silverline_proto::prometheus::{write_modules, Labels, Writer};
use silverline_proto::status::ModuleStatus;
use silverline_proto::CommandKind;
use std::collections::BTreeMap;
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
    refused: AtomicU64,
    fenced: AtomicU64,
}

impl AgentCounters {
    pub(crate) fn command(&self, kind: &CommandKind) {
        let name = match kind {
            CommandKind::Deploy(_) => "deploy",
            CommandKind::Delete { .. } => "delete",
            CommandKind::SetChannelActive { .. } => "set-channel-active",
            CommandKind::Lease { .. } => "lease",
            CommandKind::Register => "register",
        };
        *self.commands.lock().entry(name).or_default() += 1;
    }
    pub(crate) fn ack(&self, ok: bool) {
        *self.acks.lock().entry(if ok { "ok" } else { "error" }).or_default() += 1;
    }
    pub(crate) fn fenced(&self) {
        self.fenced.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn status_report(&self) {
        self.status_reports.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn event(&self) {
        self.events.fetch_add(1, Ordering::Relaxed);
    }
    /// A command that was malformed, forged, misdirected or replayed.
    pub(crate) fn refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
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
    w.family("silverline_agent_fenced_total", "counter", "Times the Host lost its lease from the Orchestrator (its outputs fell silent).", [(vec![], c.fenced.load(Ordering::Relaxed) as f64)]);
    w.family("silverline_agent_events_sent_total", "counter", "Module events relayed to the Orchestrator.", [(vec![], c.events.load(Ordering::Relaxed) as f64)]);
    w.family("silverline_agent_commands_refused_total", "counter", "Commands dropped as malformed, forged, misdirected or replayed.", [(vec![], c.refused.load(Ordering::Relaxed) as f64)]);
    w.finish()
}

