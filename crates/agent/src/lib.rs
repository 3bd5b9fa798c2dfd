//! The Host's control-plane agent.
//!
//! A Host process is a [`silverline_host::Host`] (which runs modules and knows nothing of the
//! control plane) plus this agent, which speaks `silverline-proto` over MQTT: it registers the
//! Host's manifests, executes the Orchestrator's commands (deploy, delete, channel activation),
//! acknowledges each one exactly once per command id, forwards module events, and reports status
//! periodically. Its MQTT last will marks the Host offline when it vanishes.
//!
//! It must not decide placement or hold desired state: that is the Orchestrator's.
#![deny(missing_docs)]

mod blobs;
mod exec;
mod guard;
mod metrics;
mod resources;

use anyhow::Context;
use parking_lot::Mutex;
use rumqttc::{AsyncClient, Event, EventLoop, Incoming, LastWill, MqttOptions, QoS};
use silverline_channels::{fence, MqttConfig};
use silverline_host::Host;
use silverline_manifest::{HostManifest, PlatformManifest};
use silverline_proto::{self as proto, topics};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use blobs::BlobStore;
pub use guard::HostSecurity;

/// Agent settings.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Control-plane broker, `mqtt://HOST:PORT`.
    pub broker: String,
    /// Who this Host is.
    pub host: HostManifest,
    /// What it runs on.
    pub platform: PlatformManifest,
    /// How often status is reported.
    pub status_interval: Duration,
    /// Where fetched module blobs are kept (in memory only when `None`).
    pub blob_dir: Option<PathBuf>,
    /// Credentials and policies; `None` runs the Host unsecured (anonymous on the broker,
    /// commands unverified): only for experiments.
    pub security: Option<HostSecurity>,
}

/// A running agent; dropping it does not stop it (it lives as long as its runtime).
pub struct Agent {
    client: AsyncClient,
    shared: Arc<Shared>,
    runtime: tokio::runtime::Handle,
}

impl Agent {
    /// Connect to the control plane and serve it on `runtime` until the process ends.
    pub fn start(host: Host, config: AgentConfig, runtime: &tokio::runtime::Handle) -> anyhow::Result<Agent> {
        let name = config.host.name.clone();
        anyhow::ensure!(topics::valid_host_name(&name), "host name `{name}` cannot contain `/`, `+` or `#`");
        let guard = config.security.clone().map(guard::Guard::new).transpose()?;
        if guard.is_none() {
            tracing::warn!("host `{name}` runs without credentials: it accepts unsigned commands from anyone who reaches the broker");
        }
        let (client, mut eventloop) = AsyncClient::new(options(&config)?, 256);
        let http = silverline_security::tls::http_agent(config.security.as_ref().and_then(|s| s.credentials.ca.as_deref()).map(str::as_bytes))?;
        silverline_channels::no_delay(&mut eventloop);
        let shared = Arc::new(Shared {
            host,
            config,
            client: client.clone(),
            done: Mutex::new(exec::Done::default()),
            blobs: BlobStore::default(),
            http,
            metrics: Default::default(),
            guard,
            registering: Default::default(),
        });
        shared.blobs.set_dir(shared.config.blob_dir.clone())?;
        // From now on the Host publishes only under a lease from its Orchestrator.
        shared.host.router().fence().arm();
        let (commands, queue) = tokio::sync::mpsc::unbounded_channel();
        runtime.spawn(serve(shared.clone(), eventloop, commands));
        runtime.spawn(execute_commands(shared.clone(), queue));
        runtime.spawn(report_status(shared.clone()));
        runtime.spawn(watch_fence(shared.clone()));
        forward_events(shared.clone(), runtime.clone());
        Ok(Agent { client, shared, runtime: runtime.clone() })
    }

    /// Serve the Host's metrics (Prometheus text format) at `http://{listen}/metrics` on the
    /// agent's runtime; returns the bound address (port 0 picks one).
    pub fn serve_metrics(&self, listen: std::net::SocketAddr) -> anyhow::Result<std::net::SocketAddr> {
        let listener = std::net::TcpListener::bind(listen).with_context(|| format!("metrics listener on {listen}"))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let _guard = self.runtime.enter();
        let listener = tokio::net::TcpListener::from_std(listener)?;
        self.runtime.spawn(metrics::serve(self.shared.clone(), listener));
        Ok(addr)
    }

    /// Mark the Host offline and disconnect (a clean shutdown; a crash is covered by the last will).
    pub async fn shutdown(&self, host_name: &str) {
        let state = proto::encode(&proto::HostState { host: host_name.to_string(), online: false });
        let _ = self.client.publish(topics::state(host_name), QoS::AtLeastOnce, true, state).await;
        let _ = self.client.disconnect().await;
    }
}

pub(crate) struct Shared {
    pub(crate) host: Host,
    pub(crate) config: AgentConfig,
    pub(crate) client: AsyncClient,
    pub(crate) done: Mutex<exec::Done>,
    pub(crate) blobs: BlobStore,
    pub(crate) metrics: metrics::AgentCounters,
    pub(crate) guard: Option<guard::Guard>,
    /// Fetches module blobs (trusting the enrolled CA for `https://`).
    pub(crate) http: ureq::Agent,
    /// Set once the first registration is on its way: status reports follow it, so the
    /// Orchestrator hears who the Host is before it hears how it is.
    registering: std::sync::atomic::AtomicBool,
}

impl Shared {
    fn name(&self) -> &str {
        &self.config.host.name
    }

    async fn publish(&self, topic: String, qos: QoS, retain: bool, payload: Vec<u8>) {
        if let Err(e) = self.client.publish(topic, qos, retain, payload).await {
            tracing::warn!("control plane publish failed: {e}");
        }
    }

    async fn register(&self) {
        let lease_ref = fence::now_ns();
        let modules = self.host.module_digests().into_iter().map(|(id, sha256)| proto::RunningModule { id, sha256 }).collect();
        let api_imports = self.host.api_imports().into_iter().collect();
        let reg = proto::Registration { host: self.config.host.clone(), platform: self.config.platform.clone(), modules, lease_ref, api_imports };
        let state = proto::HostState { host: self.name().to_string(), online: true };
        self.publish(topics::state(self.name()), QoS::AtLeastOnce, true, proto::encode(&state)).await;
        self.publish(topics::register(self.name()), QoS::AtLeastOnce, false, proto::encode(&reg)).await;
        self.registering.store(true, std::sync::atomic::Ordering::Release);
    }
}

fn options(config: &AgentConfig) -> anyhow::Result<MqttOptions> {
    let name = &config.host.name;
    let mut mqtt = MqttConfig::from_url(&config.broker)?;
    mqtt.client_id(format!("sl-agent-{name}")).keep_alive(Duration::from_secs(2));
    if let Some(security) = &config.security {
        mqtt.login(silverline_security::Principal::HostControl(name.clone()).username(), security.credentials.control_password.clone());
        if let Some(ca) = &security.credentials.ca {
            mqtt.tls(silverline_security::tls::client_config(ca.as_bytes())?);
        }
    }
    let mut o = mqtt.mqtt_options()?;
    o.set_max_packet_size(4 << 20, 4 << 20);
    let will = proto::encode(&proto::HostState { host: name.clone(), online: false });
    o.set_last_will(LastWill::new(topics::state(name), will, QoS::AtLeastOnce, true));
    Ok(o)
}

/// The MQTT event loop: (re)subscribe and register on every connect, hand commands on.
///
/// It awaits nothing but the connection: everything it starts that publishes runs in a task
/// of its own. Publishing from here would wait for room in the client's request queue, which
/// only this loop drains — with enough events queued, the Host would stop talking for good.
async fn serve(shared: Arc<Shared>, mut eventloop: EventLoop, commands: CommandQueue) {
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Incoming::ConnAck(_))) => {
                let name = shared.name().to_string();
                let shared = shared.clone();
                tokio::spawn(async move {
                    let _ = shared.client.subscribe(topics::commands(&name), QoS::AtLeastOnce).await;
                    let _ = shared.client.subscribe(topics::hello(), QoS::AtLeastOnce).await;
                    shared.register().await;
                    tracing::info!("host `{name}` connected to the control plane");
                });
            }
            Ok(Event::Incoming(Incoming::Publish(p))) => on_publish(&shared, &p.topic, &p.payload, &commands),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!("control plane connection: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// Commands in arrival order, for [`execute_commands`].
type CommandQueue = tokio::sync::mpsc::UnboundedSender<proto::Command>;

fn on_publish(shared: &Arc<Shared>, topic: &str, payload: &[u8], commands: &CommandQueue) {
    if topic == topics::hello() {
        let shared = shared.clone();
        tokio::spawn(async move { shared.register().await });
        return;
    }
    let cmd = match open_command(shared, payload) {
        Ok(cmd) => cmd,
        Err(e) => {
            shared.metrics.refused();
            tracing::warn!("dropping a command on {topic}: {e}");
            return;
        }
    };
    shared.metrics.command(&cmd.kind);
    match cmd.kind {
        // Renewing a lease the Host still holds changes nothing it runs: at once, even while a
        // deploy compiles. A Host without a lease takes the next one in order, after the
        // commands that reconcile it (the deletes of modules that moved while it was away).
        proto::CommandKind::Lease { from_ns, lease_ms } if shared.host.router().fence().is_open() => {
            grant_lease(shared, from_ns, lease_ms);
            return;
        }
        proto::CommandKind::Register => {
            let shared = shared.clone();
            tokio::spawn(async move { shared.register().await });
            return;
        }
        _ => {}
    }
    if commands.send(cmd).is_err() {
        tracing::error!("the command executor has stopped; dropping a command");
    }
}

/// Execute commands one after another, in the order they came, off the event loop: a deploy
/// compiles and may fetch over HTTP for seconds while the connection, status and events go on.
async fn execute_commands(shared: Arc<Shared>, mut queue: tokio::sync::mpsc::UnboundedReceiver<proto::Command>) {
    while let Some(cmd) = queue.recv().await {
        if let proto::CommandKind::Lease { from_ns, lease_ms } = cmd.kind {
            grant_lease(&shared, from_ns, lease_ms);
            continue;
        }
        let worker = shared.clone();
        let Ok(ack) = tokio::task::spawn_blocking(move || exec::execute(&worker, cmd)).await else { continue };
        shared.metrics.ack(ack.ok);
        shared.publish(topics::acks(shared.name()), QoS::AtLeastOnce, false, proto::encode(&ack)).await;
    }
}

/// Extend the Host's lease on its outputs (see `silverline_channels::fence`).
fn grant_lease(shared: &Shared, from_ns: u64, lease_ms: u64) {
    if shared.host.router().fence().grant(from_ns, Duration::from_millis(lease_ms)) && shared.host.router().fence().is_open() {
        tracing::info!("host `{}` holds a lease from its Orchestrator: outputs open", shared.name());
    }
}

/// Say when the Host loses its lease (its outputs fall silent until it reconciles).
async fn watch_fence(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut was_open = false;
    loop {
        tick.tick().await;
        let open = shared.host.router().fence().is_open();
        if was_open && !open {
            shared.metrics.fenced();
            tracing::warn!("host `{}` has no lease from its Orchestrator: its outputs are fenced until it reconciles", shared.name());
        }
        was_open = open;
    }
}

/// The command in `payload`, if it is well-formed and (on a secured Host) signed by this
/// Host's Orchestrator for this Host and fresh.
fn open_command(shared: &Shared, payload: &[u8]) -> Result<proto::Command, String> {
    let signed = proto::decode::<proto::SignedCommand>(payload).map_err(|e| e.to_string())?;
    let body = match &shared.guard {
        Some(guard) => guard.open(&signed)?,
        None => &signed.body,
    };
    proto::decode::<proto::Command>(body.as_bytes()).map_err(|e| e.to_string())
}

/// Most module statuses in one report: about 1 KiB each, so a report stays far below the
/// broker's packet limit and costs little to build; more modules are reported in turns.
pub const MODULES_PER_REPORT: usize = 500;

async fn report_status(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(shared.config.status_interval);
    let (mut seq, mut from) = (0, 0);
    loop {
        tick.tick().await;
        if !shared.registering.load(std::sync::atomic::Ordering::Acquire) {
            continue;
        }
        seq += 1;
        shared.metrics.status_report();
        let host = shared.host.clone();
        let at = from;
        let Ok((report, next)) = tokio::task::spawn_blocking(move || status_report(&host, seq, at)).await else { continue };
        from = next;
        shared.publish(topics::status(shared.name()), QoS::AtMostOnce, false, proto::encode(&report)).await;
    }
}

/// The report of sequence number `seq` with the modules from position `from` on; also where
/// the next page starts.
fn status_report(host: &silverline_host::Host, seq: u64, from: usize) -> (proto::StatusReport, usize) {
    let lease_ref = fence::now_ns();
    let (status, total) = host.status_window(from, MODULES_PER_REPORT);
    let resources = resources::probe();
    if from == 0 && total <= MODULES_PER_REPORT {
        return (proto::StatusReport { seq, resources, status, page: None, lease_ref }, 0);
    }
    let ids = (from == 0).then(|| host.module_ids());
    let next = if from + MODULES_PER_REPORT >= total { 0 } else { from + MODULES_PER_REPORT };
    let page = proto::StatusPage { from: from as u32, total: total as u32, ids };
    (proto::StatusReport { seq, resources, status, page: Some(page), lease_ref }, next)
}

/// Module events come from the Host on a blocking channel; relay them to the control plane.
fn forward_events(shared: Arc<Shared>, runtime: tokio::runtime::Handle) {
    let events = shared.host.events();
    std::thread::Builder::new()
        .name("agent-events".into())
        .spawn(move || {
            while let Ok(event) = events.recv() {
                let topic = topics::events(shared.name());
                let payload = proto::encode(&event);
                let client = shared.client.clone();
                shared.metrics.event();
                runtime.spawn(async move {
                    let _ = client.publish(topic, QoS::AtLeastOnce, false, payload).await;
                });
            }
        })
        .expect("spawning the event relay thread");
}
