//! The event stream: what happens in the system, in order, as it happens.
//!
//! Hosts joining and being lost, applications created/updated/deleted, placement decisions with
//! their reasons, module lifecycle events relayed from Hosts (started, failed, restarting,
//! stopped, deadline misses). The [`EventBus`] numbers every event, keeps the last
//! [`HISTORY`] of them, and broadcasts each one to live subscribers; `GET /v1/events` serves the
//! history and then the live events as Server-Sent Events (`docs/dashboard.md`).
//!
//! Emitting never blocks and never fails: a subscriber that falls behind by more than the
//! broadcast buffer is told how many events it missed.

use crate::api::Api;
use crate::core::HostEntry;
use crate::model::{AppRecord, ModuleRecord};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{self, KeepAlive, Sse};
use axum::routing::get;
use axum::Router;
use futures_util::stream::{self, Stream, StreamExt};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use silverline_manifest::{ApplicationManifest, Trigger};
use silverline_proto::status::{EventKind, HostEvent, SkipReason};
use silverline_proto::ModuleId;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;
use tokio::sync::broadcast;

/// How many recent events the Orchestrator keeps for new subscribers.
pub const HISTORY: usize = 1000;
/// Most events of one module the history keeps: beyond, its own oldest go first, so that one
/// module's trap storm cannot push every other application's events out.
pub const HISTORY_PER_MODULE: usize = 50;

/// At most one `deadline-miss` event per module in this interval.
const MISS_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// How serious an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Normal operation.
    Info,
    /// Something an operator may want to look at (a lost Host, a deadline miss).
    Warning,
    /// Something broke (a trap, a refused deploy, an unplaceable module).
    Error,
}

/// One event of the stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the stream (1, 2, ...); restarts with the Orchestrator (see `stream`).
    pub seq: u64,
    /// Identifies this Orchestrator run; `seq` is unique within it.
    pub stream: String,
    /// When, RFC 3339 UTC with milliseconds.
    pub time: String,
    /// What happened: `host-joined`, `host-lost`, `app-created`, `placement`, `module-started`, ...
    pub kind: String,
    /// How serious it is.
    pub level: Level,
    /// The application concerned, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// The module instance concerned (`app/module`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// The Host concerned, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// One line for humans.
    pub message: String,
    /// Machine-readable details (kind-specific).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub details: serde_json::Value,
}

impl Event {
    /// A new event of `kind`; the bus fills in `seq`, `stream` and `time`.
    pub fn new(kind: &str, message: impl Into<String>) -> Event {
        Event {
            seq: 0,
            stream: String::new(),
            time: String::new(),
            kind: kind.to_string(),
            level: level_of(kind),
            app: None,
            module: None,
            host: None,
            message: message.into(),
            details: serde_json::Value::Null,
        }
    }
    /// About application `app`.
    pub fn app(mut self, app: &str) -> Event {
        self.app = Some(app.to_string());
        self
    }
    /// About module instance `id` (also sets the application).
    pub fn module(mut self, id: &ModuleId) -> Event {
        self.module = Some(id.as_str().to_string());
        if self.app.is_none() {
            self.app = id.as_str().split_once('/').map(|(a, _)| a.to_string());
        }
        self
    }
    /// About Host `host`.
    pub fn host(mut self, host: &str) -> Event {
        self.host = Some(host.to_string());
        self
    }
    /// With details.
    pub fn details(mut self, details: serde_json::Value) -> Event {
        self.details = details;
        self
    }
    /// The SSE id: `{stream}.{seq}` (what `Last-Event-ID` sends back on reconnect).
    pub fn id(&self) -> String {
        format!("{}.{}", self.stream, self.seq)
    }
}

fn level_of(kind: &str) -> Level {
    match kind {
        "module-failed" | "deploy-failed" | "placement-failed" => Level::Error,
        "host-lost" | "host-silent" | "module-restarting" | "deadline-miss" | "skipped" | "degraded" | "command-refused" => Level::Warning,
        _ => Level::Info,
    }
}

struct Inner {
    next: u64,
    history: VecDeque<Arc<Event>>,
    counts: BTreeMap<String, u64>,
    /// The last placement failure reported per application, to not repeat it on every registration.
    last_failure: BTreeMap<String, String>,
    /// Per module: when its last deadline miss was published, and how many were held back since.
    last_miss: BTreeMap<String, (std::time::Instant, u64)>,
    /// Events of each module in `history`.
    kept_per_module: HashMap<String, usize>,
}

impl Inner {
    /// Keep `event`, dropping the module's own oldest event when it has its share already,
    /// else the oldest event when the history is full.
    fn keep(&mut self, event: Arc<Event>, capacity: usize) {
        let share = HISTORY_PER_MODULE.min(capacity);
        if let Some(m) = &event.module {
            let n = self.kept_per_module.entry(m.clone()).or_default();
            *n += 1;
            if *n > share {
                *n -= 1;
                if let Some(at) = self.history.iter().position(|e| e.module.as_ref() == Some(m)) {
                    self.history.remove(at);
                }
            }
        }
        if self.history.len() == capacity {
            if let Some(old) = self.history.pop_front() {
                self.forget(&old);
            }
        }
        self.history.push_back(event);
    }

    fn forget(&mut self, event: &Event) {
        let Some(m) = &event.module else { return };
        if let Some(n) = self.kept_per_module.get_mut(m) {
            *n -= 1;
            if *n == 0 {
                self.kept_per_module.remove(m);
            }
        }
    }
}

/// Numbers, keeps and broadcasts events.
pub struct EventBus {
    stream: String,
    capacity: usize,
    inner: Mutex<Inner>,
    tx: broadcast::Sender<Arc<Event>>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus::new(HISTORY)
    }
}

impl EventBus {
    /// A bus keeping the last `capacity` events.
    pub fn new(capacity: usize) -> EventBus {
        let stream = format!("{:x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0));
        let (tx, _) = broadcast::channel(1024);
        let inner = Inner {
            next: 1,
            history: VecDeque::with_capacity(capacity.min(4096)),
            counts: BTreeMap::new(),
            last_failure: BTreeMap::new(),
            last_miss: BTreeMap::new(),
            kept_per_module: HashMap::new(),
        };
        EventBus { stream, capacity: capacity.max(1), inner: Mutex::new(inner), tx }
    }

    /// Number, keep and broadcast `event`; returns its `seq`.
    pub fn emit(&self, mut event: Event) -> u64 {
        let mut inner = self.inner.lock();
        let seq = inner.next;
        event.seq = seq;
        inner.next += 1;
        event.stream = self.stream.clone();
        event.time = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
        tracing::debug!(kind = %event.kind, "event: {}", event.message);
        *inner.counts.entry(event.kind.clone()).or_default() += 1;
        let event = Arc::new(event);
        inner.keep(event.clone(), self.capacity);
        // Sent under the lock, so subscribers see events in `seq` order and a subscription
        // (also under the lock) neither misses nor repeats one.
        let _ = self.tx.send(event);
        seq
    }

    /// The kept history (oldest first) and a receiver of everything emitted after it.
    pub fn subscribe(&self) -> (Vec<Arc<Event>>, broadcast::Receiver<Arc<Event>>) {
        let inner = self.inner.lock();
        (inner.history.iter().cloned().collect(), self.tx.subscribe())
    }

    /// The kept history, oldest first.
    pub fn history(&self) -> Vec<Arc<Event>> {
        self.inner.lock().history.iter().cloned().collect()
    }

    /// Events emitted since start-up, by kind.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.inner.lock().counts.clone()
    }

    /// Live subscribers right now.
    pub fn subscribers(&self) -> usize {
        self.tx.receiver_count()
    }

    /// This Orchestrator run's stream id.
    pub fn stream_id(&self) -> &str {
        &self.stream
    }

    // ----- what the Orchestrator's core reports ---------------------------------------------

    /// A new application was accepted and placed.
    pub fn app_created(&self, app: &AppRecord) {
        self.emit(
            Event::new("app-created", format!("application `{}` created with {} modules", app.name, app.modules.len()))
                .app(&app.name)
                .details(serde_json::json!({ "generation": app.generation, "modules": app.modules.iter().map(|m| &m.module).collect::<Vec<_>>() })),
        );
        let constraints = Constraints::of(&app.manifest);
        for m in &app.modules {
            self.placed(&app.name, m, "new application", &constraints);
        }
    }

    /// An application's manifest was replaced; the modules `placed` were placed anew: new
    /// modules, and new versions staged next to a running one (zero-downtime update).
    pub fn app_updated(&self, old: &AppRecord, new: &AppRecord, placed: &[ModuleId]) {
        let old_names: std::collections::HashSet<&str> = old.modules.iter().map(|o| o.module.as_str()).collect();
        let new_names: std::collections::HashSet<&str> = new.modules.iter().map(|m| m.module.as_str()).collect();
        let placed: std::collections::HashSet<&ModuleId> = placed.iter().collect();
        let existed = |name: &str| old_names.contains(name);
        let fresh: Vec<&ModuleRecord> = new.modules.iter().filter(|m| placed.contains(&m.id)).collect();
        let staged: Vec<&str> = fresh.iter().filter(|m| existed(&m.module)).map(|m| m.id.as_str()).collect();
        let added: Vec<&str> = fresh.iter().filter(|m| !existed(&m.module)).map(|m| m.module.as_str()).collect();
        let removed: Vec<&str> = old.modules.iter().filter(|o| !new_names.contains(o.module.as_str())).map(|o| o.module.as_str()).collect();
        self.emit(
            Event::new(
                "app-updated",
                format!("application `{}` updated to generation {}: {} staged, {} added, {} removed", new.name, new.generation, staged.len(), added.len(), removed.len()),
            )
            .app(&new.name)
            .details(serde_json::json!({ "generation": new.generation, "staged": staged, "added": added, "removed": removed })),
        );
        let constraints = Constraints::of(&new.manifest);
        for m in fresh {
            let why = if existed(&m.module) { format!("new version staged by update to generation {}", new.generation) } else { format!("added by update to generation {}", new.generation) };
            self.placed(&new.name, m, &why, &constraints);
        }
    }

    /// An application was deleted.
    pub fn app_deleted(&self, app: &AppRecord) {
        self.inner.lock().last_failure.remove(&app.name);
        self.emit(
            Event::new("app-deleted", format!("application `{}` deleted; removing {} modules", app.name, app.modules.len()))
                .app(&app.name)
                .details(serde_json::json!({ "modules": app.modules.iter().map(|m| &m.module).collect::<Vec<_>>() })),
        );
    }

    /// A placement decision: module `m` goes to `m.host` (`None`: no Host yet), because of `why`.
    pub fn placed(&self, app: &str, m: &ModuleRecord, why: &str, constraints: &Constraints) {
        self.inner.lock().last_failure.remove(app);
        let constraints = constraints.of_module(&m.module);
        let Some(host) = &m.host else { return };
        let reason = if constraints.is_empty() {
            format!("{why}; no constraints, best effort (spread by module count)")
        } else {
            format!("{why}; constraints: {}", constraints.join(", "))
        };
        self.emit(
            Event::new("placement", format!("{} placed on `{host}`: {reason}", m.id))
                .module(&m.id)
                .host(host)
                .details(serde_json::json!({ "reason": why, "constraints": constraints })),
        );
    }

    /// Modules of `app` could not be placed.
    pub fn placement_failed(&self, app: &str, waiting: &[ModuleId], error: &impl std::fmt::Display) {
        let text = error.to_string();
        {
            let mut inner = self.inner.lock();
            if inner.last_failure.get(app) == Some(&text) {
                return;
            }
            inner.last_failure.insert(app.to_string(), text.clone());
        }
        self.emit(
            Event::new("placement-failed", format!("{} module(s) of `{app}` wait for a Host: {}", waiting.len(), text.replace('\n', "; ")))
                .app(app)
                .details(serde_json::json!({ "modules": waiting, "error": text })),
        );
    }

    /// A Host registered: a new one, one coming back, or one reconnecting.
    pub fn host_joined(&self, name: &str, was_online: Option<bool>, host: &HostEntry, running: usize) {
        let (kind, what) = match was_online {
            None => ("host-joined", "joined"),
            Some(false) => ("host-joined", "came back"),
            Some(true) => ("host-registered", "registered again"),
        };
        let p = &host.platform;
        self.emit(
            Event::new(kind, format!("host `{name}` {what} ({} cores {}, {} MiB, {running} modules running)", p.cpu.cores, p.cpu.arch, p.memory.total_bytes >> 20))
                .host(name)
                .details(serde_json::json!({ "cores": p.cpu.cores, "arch": p.cpu.arch, "memory_bytes": p.memory.total_bytes,
                    "tags": host.manifest.metadata.tags, "running": running })),
        );
    }

    /// A Host went silent for longer than the timeout (it will be lost next).
    pub fn host_silent(&self, name: &str, timeout: std::time::Duration) {
        self.emit(Event::new("host-silent", format!("host `{name}` sent no status for {timeout:?}")).host(name));
    }

    /// A Host was lost; its modules will be re-placed.
    pub fn host_lost(&self, name: &str, apps: &BTreeMap<String, AppRecord>) {
        let modules: Vec<&ModuleId> = apps.values().flat_map(|a| &a.modules).filter(|m| m.host.as_deref() == Some(name)).map(|m| &m.id).collect();
        self.emit(
            Event::new("host-lost", format!("host `{name}` lost; re-placing its {} modules", modules.len()))
                .host(name)
                .details(serde_json::json!({ "modules": modules })),
        );
    }

    // ----- what the control plane reports -------------------------------------------------

    /// A module event relayed by Host `host`. Deadline misses are published at most once per
    /// second and module (a module missing every deadline would flood the stream otherwise);
    /// the next one says how many were held back (`details.more`).
    pub fn host_event(&self, host: &str, event: &HostEvent) {
        let id = &event.module;
        let mut more = 0;
        // Misses and skips can come every period: at most one event per module and kind per
        // interval, carrying how many were held back.
        let limited = match &event.kind {
            EventKind::DeadlineMiss { .. } => Some(("miss", 1)),
            EventKind::Skipped { count, .. } => Some(("skip", *count)),
            EventKind::Throttled { .. } => Some(("throttle", 1)),
            // A lease that lapses and is renewed is the same primary going on: on a busy
            // machine it can happen every few periods, and must not drown the stream.
            EventKind::LeaseExpired { .. } => Some(("lapse", 1)),
            EventKind::OutputsActivated { renewal: true, .. } => Some(("reopen", 1)),
            _ => None,
        };
        if let Some((what, weight)) = limited {
            let key = format!("{what}:{id}");
            let mut inner = self.inner.lock();
            let now = std::time::Instant::now();
            match inner.last_miss.get_mut(&key) {
                Some((last, held)) if now.duration_since(*last) < MISS_INTERVAL => {
                    *held += weight;
                    return;
                }
                Some((last, held)) => {
                    more = std::mem::take(held);
                    *last = now;
                }
                None => {
                    if inner.last_miss.len() > 10_000 {
                        inner.last_miss.clear();
                    }
                    inner.last_miss.insert(key, (now, 0));
                }
            }
        }
        let (kind, message, details) = match &event.kind {
            EventKind::Started => ("module-started", format!("{id} started on `{host}`"), serde_json::Value::Null),
            EventKind::Failed { failure } => ("module-failed", format!("{id} failed on `{host}`: {failure}"), serde_json::json!({ "failure": failure })),
            EventKind::Restarting { attempt, backoff_ns } => (
                "module-restarting",
                format!("{id} restarts on `{host}` (attempt {attempt}) in {:?}", std::time::Duration::from_nanos(*backoff_ns)),
                serde_json::json!({ "attempt": attempt, "backoff_ns": backoff_ns }),
            ),
            EventKind::Completed { exit_code } => ("module-completed", format!("{id} completed on `{host}` with exit code {exit_code}"), serde_json::json!({ "exit_code": exit_code })),
            EventKind::Stopped => ("module-stopped", format!("{id} stopped on `{host}`"), serde_json::Value::Null),
            EventKind::DeadlineMiss { activation, late_ns } => (
                "deadline-miss",
                format!(
                    "{id} on `{host}`: activation {activation} finished {:?} after its deadline{}",
                    std::time::Duration::from_nanos(*late_ns),
                    if more > 0 { format!(" ({more} more misses since the last report)") } else { String::new() }
                ),
                serde_json::json!({ "activation": activation, "late_ns": late_ns, "more": more }),
            ),
            EventKind::OutputsActivated { by, from_ns, until_ns, detected_at_ns, applied_ns, renewal } => (
                "outputs-activated",
                match renewal {
                    false => format!("{id} on `{host}` is now the primary (activated by {by}{})", reaction(*detected_at_ns, *applied_ns)),
                    true => format!("{id} on `{host}`: outputs open again on a renewed lease (by {by}){}", held_back(more)),
                },
                serde_json::json!({ "by": by, "from_ns": from_ns, "until_ns": until_ns, "detected_at_ns": detected_at_ns, "applied_ns": applied_ns, "renewal": renewal, "more": more }),
            ),
            EventKind::OutputsDeactivated { by, detected_at_ns, applied_ns } => (
                "outputs-deactivated",
                format!("{id} on `{host}` went quiet (deactivated by {by}{})", reaction(*detected_at_ns, *applied_ns)),
                serde_json::json!({ "by": by, "detected_at_ns": detected_at_ns, "applied_ns": applied_ns }),
            ),
            EventKind::Skipped { activation, count, reason } => (
                "skipped",
                format!(
                    "{id} on `{host}`: {count} activation(s) from {activation} skipped ({}){}",
                    match reason {
                        SkipReason::Behind => "it fell behind",
                        SkipReason::SkipNext => "onOverrun: skip-next",
                        SkipReason::Degrade => "onOverrun: degrade",
                    },
                    if more > 0 { format!("; {more} more skipped since the last report") } else { String::new() }
                ),
                serde_json::json!({ "activation": activation, "count": count, "reason": reason, "more": more }),
            ),
            EventKind::Throttled { activation, used_ns, runtime_ns } => (
                "throttled",
                format!(
                    "{id} on `{host}`: its thread used {:?} of its {:?} runtime around activation {activation} and was throttled{}",
                    std::time::Duration::from_nanos(*used_ns),
                    std::time::Duration::from_nanos(*runtime_ns),
                    if more > 0 { format!(" ({more} more since the last report)") } else { String::new() }
                ),
                serde_json::json!({ "activation": activation, "used_ns": used_ns, "runtime_ns": runtime_ns, "more": more }),
            ),
            EventKind::Degraded { activation } => (
                "degraded",
                format!("{id} on `{host}`: activation {activation} missed its deadline; running every other activation (onOverrun: degrade)"),
                serde_json::json!({ "activation": activation }),
            ),
            EventKind::Recovered { activation } => (
                "recovered",
                format!("{id} on `{host}`: on time again, full rate from activation {activation}"),
                serde_json::json!({ "activation": activation }),
            ),
            EventKind::LeaseExpired { activation } => (
                "lease-expired",
                format!("{id} on `{host}`: lease ran out, outputs quiet from activation {activation}{}", held_back(more)),
                serde_json::json!({ "activation": activation, "more": more }),
            ),
        };
        self.emit(Event::new(kind, message).module(id).host(host).details(details));
    }

    /// The latency search co-located these hops to meet a chain's bound.
    pub fn colocated(&self, app: &str, hops: &[(String, String)]) {
        if hops.is_empty() {
            return;
        }
        let list: Vec<String> = hops.iter().map(|(a, b)| format!("{a}→{b}")).collect();
        let message = format!("{app}: {} placed on one Host each to meet the latency bounds of its chains", list.join(", "));
        self.emit(Event::new("colocated", message).app(app).details(serde_json::json!({ "hops": list })));
    }

    /// A failover coordinator promoted a replica (sidecar notification or the Orchestrator's own).
    pub fn promoted(&self, app: &str, module: &str, host: Option<&str>, by: &str) {
        let message = match host {
            Some(h) => format!("{app}/{module}: the replica on `{h}` is now the primary ({by})"),
            None => format!("{app}/{module}: no replica is connected, none is primary ({by})"),
        };
        self.emit(Event::new("failover", message).app(app).details(serde_json::json!({ "module": module, "primary": host, "by": by })));
    }

    /// Host `host` acknowledged a deploy of `module`: done, or refused with `error`.
    pub fn deploy_acked(&self, host: &str, module: &ModuleId, error: Option<&str>) {
        let event = match error {
            None => Event::new("module-deployed", format!("{module} deployed on `{host}`")),
            Some(e) => Event::new("deploy-failed", format!("{module}: deploy on `{host}` failed: {e}")).details(serde_json::json!({ "error": e })),
        };
        self.emit(event.module(module).host(host));
    }
}

/// What constrains where a module may go, in words, from the application manifest (JSON).
/// The placement constraints of every module of an application, read from its manifest once
/// (an application of thousands of modules has thousands of placement events).
pub struct Constraints(HashMap<String, Vec<String>>);

impl Constraints {
    /// Those of the application manifest `app_manifest` (JSON).
    pub fn of(app_manifest: &serde_json::Value) -> Constraints {
        let Ok(manifest) = ApplicationManifest::from_str(&app_manifest.to_string(), crate::core::api_base_dir()) else { return Constraints(HashMap::new()) };
        Constraints(manifest.modules.iter().map(|spec| (spec.name.as_str().to_string(), constraints_of(spec))).collect())
    }

    fn of_module(&self, module: &str) -> Vec<String> {
        self.0.get(module).cloned().unwrap_or_default()
    }
}

fn constraints_of(spec: &silverline_manifest::ModuleSpec) -> Vec<String> {
    let mut out = Vec::new();
    let p = &spec.placement;
    if let Some(h) = &p.host {
        out.push(format!("pinned to `{h}`"));
    }
    if !p.anti_affinity.is_empty() {
        out.push(format!("anti-affinity with {}", p.anti_affinity.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", ")));
    }
    if !p.tags.is_empty() {
        out.push(format!("tags {}", p.tags.join(", ")));
    }
    if !p.apis.is_empty() {
        out.push(format!("APIs {}", p.apis.join(", ")));
    }
    if let Some(m) = spec.resources.memory_bytes {
        out.push(format!("memory {} KiB", m >> 10));
    }
    if let (Trigger::Periodic { period, .. }, Some(budget)) = (&spec.trigger, spec.resources.budget) {
        out.push(format!("CPU utilisation {:.1}%", 100.0 * budget.as_secs_f64() / period.as_secs_f64()));
    }
    out
}

// ----- GET /v1/events ----------------------------------------------------------------------------

/// Query of `GET /v1/events`.
#[derive(Debug, Deserialize)]
pub(crate) struct EventsQuery {
    /// Only events of this application.
    app: Option<String>,
    /// `false`: send the history and end (default `true`: then stay and send live events).
    follow: Option<bool>,
}

pub(crate) fn routes() -> Router<Api> {
    Router::new().route("/v1/events", get(events))
}

fn to_sse(e: &Event) -> sse::Event {
    sse::Event::default().id(e.id()).data(serde_json::to_string(e).unwrap_or_default())
}

/// History first (after `Last-Event-ID` when it names this stream), then live events.
async fn events(State(a): State<Api>, Query(q): Query<EventsQuery>, headers: HeaderMap) -> Sse<impl Stream<Item = Result<sse::Event, Infallible>>> {
    let bus = a.core.events().clone();
    let (history, rx) = bus.subscribe();
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once('.'))
        .filter(|(stream, _)| *stream == bus.stream_id())
        .and_then(|(_, seq)| seq.parse::<u64>().ok())
        .unwrap_or(0);
    let app = q.app.filter(|a| !a.is_empty());
    let wanted = {
        let app = app.clone();
        move |e: &Event| app.as_ref().is_none_or(|a| e.app.as_ref() == Some(a))
    };
    let past: Vec<Result<sse::Event, Infallible>> = history.iter().filter(|e| e.seq > after && wanted(e)).map(|e| Ok(to_sse(e))).collect();
    let past = stream::iter(past);
    if q.follow == Some(false) {
        return Sse::new(past.boxed()).keep_alive(KeepAlive::default());
    }
    let live = stream::unfold((rx, wanted), |(mut rx, wanted)| async move {
        loop {
            match rx.recv().await {
                Ok(e) if wanted(&e) => return Some((Ok(to_sse(&e)), (rx, wanted))),
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    let note = sse::Event::default().comment(format!("lagged: {n} events were skipped; GET /v1/events again for the history"));
                    return Some((Ok(note), (rx, wanted)));
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(past.chain(live).boxed()).keep_alive(KeepAlive::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_is_bounded_and_ordered_and_subscribers_miss_nothing() {
        let bus = EventBus::new(3);
        for i in 0..5 {
            bus.emit(Event::new("x", format!("{i}")));
        }
        let (history, mut rx) = bus.subscribe();
        assert_eq!(history.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![3, 4, 5]);
        bus.emit(Event::new("module-failed", "boom").module(&ModuleId("a/b".into())));
        let next = rx.try_recv().unwrap();
        assert_eq!((next.seq, next.level, next.app.as_deref()), (6, Level::Error, Some("a")));
        assert_eq!(bus.counts()["x"], 5);
        assert!(next.id().ends_with(".6"));
    }

    #[test]
    fn deadline_misses_are_thinned_per_module() {
        let bus = EventBus::new(100);
        let miss = |m: &str, k| HostEvent { module: ModuleId(m.into()), kind: EventKind::DeadlineMiss { activation: k, late_ns: 5 } };
        for k in 0..50 {
            bus.host_event("h", &miss("a/x", k));
        }
        bus.host_event("h", &miss("a/y", 0));
        let kinds: Vec<_> = bus.history().iter().map(|e| (e.kind.clone(), e.module.clone())).collect();
        assert_eq!(kinds.len(), 2, "{kinds:?}");
        // Skips are thinned apart from misses, and count skipped activations, not events.
        let skip = |k| HostEvent { module: ModuleId("a/x".into()), kind: EventKind::Skipped { activation: k, count: 3, reason: SkipReason::Behind } };
        bus.host_event("h", &skip(60));
        bus.host_event("h", &skip(70));
        assert_eq!(bus.history().len(), 3);
        bus.inner.lock().last_miss.get_mut("miss:a/x").unwrap().0 -= MISS_INTERVAL;
        bus.host_event("h", &miss("a/x", 51));
        let last = bus.history().pop().unwrap();
        assert_eq!(last.details["more"], 49, "{}", last.message);
        bus.inner.lock().last_miss.get_mut("skip:a/x").unwrap().0 -= MISS_INTERVAL;
        bus.host_event("h", &skip(80));
        let last = bus.history().pop().unwrap();
        assert_eq!((last.kind.as_str(), &last.details["more"]), ("skipped", &serde_json::json!(3)), "{}", last.message);
    }

    #[test]
    fn lapsed_leases_reopened_by_renewals_are_thinned_but_a_new_primary_never_is() {
        let bus = EventBus::new(100);
        let by = ModuleId("a/m.coordinator".into());
        let opened = |renewal| HostEvent {
            module: ModuleId("a/m.r0".into()),
            kind: EventKind::OutputsActivated { by: by.clone(), from_ns: 0, until_ns: 1, detected_at_ns: None, applied_ns: 0, renewal },
        };
        let lapsed = |k| HostEvent { module: ModuleId("a/m.r0".into()), kind: EventKind::LeaseExpired { activation: k } };
        for k in 0..80 {
            bus.host_event("h", &lapsed(k));
            bus.host_event("h", &opened(true));
        }
        bus.host_event("h", &opened(false));
        bus.host_event("h", &opened(false));
        let kinds: Vec<String> = bus.history().iter().map(|e| format!("{} {}", e.kind, e.details["renewal"])).collect();
        assert_eq!(kinds, ["lease-expired null", "outputs-activated true", "outputs-activated false", "outputs-activated false"], "one pair, then every real activation");
    }

    #[test]
    fn a_trap_storm_keeps_its_own_share_and_evicts_nobody_else() {
        let bus = EventBus::new(HISTORY);
        bus.emit(Event::new("app-created", "other").app("other"));
        bus.emit(Event::new("module-started", "calm").module(&ModuleId("other/calm".into())));
        for i in 0..5000 {
            bus.emit(Event::new("module-failed", format!("trap {i}")).module(&ModuleId("storm/m".into())));
        }
        let history = bus.history();
        let storm: Vec<&Arc<Event>> = history.iter().filter(|e| e.module.as_deref() == Some("storm/m")).collect();
        assert_eq!(storm.len(), HISTORY_PER_MODULE);
        assert_eq!(storm.last().unwrap().message, "trap 4999", "the newest are kept");
        assert!(history.iter().any(|e| e.message == "other") && history.iter().any(|e| e.message == "calm"), "the others' events stay");
        assert!(history.windows(2).all(|w| w[0].seq < w[1].seq));
        assert_eq!(bus.counts()["module-failed"], 5000, "counted, all of them");
    }

    #[test]
    fn repeated_placement_failures_are_reported_once() {
        let bus = EventBus::new(10);
        bus.placement_failed("a", &[], &"no host");
        bus.placement_failed("a", &[], &"no host");
        bus.placement_failed("a", &[], &"other");
        assert_eq!(bus.history().len(), 2);
    }
}

/// ` (12 more since the last report)` when events of the kind were held back.
fn held_back(more: u64) -> String {
    if more > 0 {
        format!(" ({more} more since the last report)")
    } else {
        String::new()
    }
}

/// `, reacting 312 µs after the disconnect was detected` when the detection time is known.
fn reaction(detected_at_ns: Option<i64>, applied_ns: i64) -> String {
    match detected_at_ns {
        Some(d) => format!(", {:?} after the disconnect was detected", std::time::Duration::from_nanos(applied_ns.saturating_sub(d).max(0) as u64)),
        None => String::new(),
    }
}
