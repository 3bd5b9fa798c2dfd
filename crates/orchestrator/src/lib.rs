//! The silverline Orchestrator: accepts applications over a REST API, places their modules on
//! Hosts, sends deploy/delete commands over the MQTT control plane, and watches.
//!
//! It owns the desired state (applications and their placement, persisted under `--data-dir`)
//! and the observed state (Hosts, what they run, their profiles). It reacts to a lost Host by
//! re-placing its modules (the slow, orchestrator-driven path; sidecars give the fast one) and,
//! after a restart, reconciles with what Hosts report. It must not run Wasm: Hosts do.
//!
//! ```no_run
//! # async fn f() -> anyhow::Result<()> {
//! let orchestrator = silverline_orchestrator::Orchestrator::start(silverline_orchestrator::OrchestratorConfig::default()).await?;
//! println!("REST on http://{}, MQTT on {}", orchestrator.api_addr(), orchestrator.broker_url());
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod access;
mod api;
pub mod auth;
pub mod control;
pub mod core;
mod dashboard; // the dashboard at `/`
pub mod events; // the event stream at `/v1/events`
pub mod failover; // replicas, sidecars, the Orchestrator-based baseline
mod imports; // the APIs a module needs, from its import section
pub mod latency; // end-to-end latency of chains
mod isolation;
pub mod limits;
mod listen;
pub mod metrics; // Prometheus text at `/metrics`
pub mod model;
mod openapi;
mod outbox;
pub mod place;
pub mod store;

pub use api::MAX_BODY_BYTES;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use silverline_channels::MqttConfig;
use silverline_manifest::{ManifestErrors, TopologyManifest};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Orchestrator settings. `Default` listens on the documented ports with an embedded broker.
#[derive(Debug, Clone)]
pub struct OrchestratorConfig {
    /// REST API address.
    pub listen: SocketAddr,
    /// Where the embedded broker listens (ignored with an external broker).
    pub mqtt_listen: SocketAddr,
    /// An external broker (`mqtt://HOST:PORT`) instead of the embedded one.
    pub broker: Option<String>,
    /// Where the desired state and module blobs live.
    pub data_dir: PathBuf,
    /// A Host silent for this long is considered lost.
    pub host_timeout: Duration,
    /// Platforms and the links between them, for end-to-end latency analysis; without it every
    /// hop between Hosts costs [`latency::DEFAULT_LINK_LATENCY`].
    pub topology: Option<TopologyManifest>,
    /// Tokens on REST, credentials and topic ACLs on MQTT; or nothing checked.
    pub auth: auth::AuthMode,
    /// Where the first admin token is written (mode 0600) when none is there yet.
    pub admin_token_file: Option<PathBuf>,
    /// REST requests per client address.
    pub rate_limit: limits::RateLimit,
    /// Serve REST (`https://`) and the embedded broker (`mqtts://`) with TLS from these files.
    pub tls: Option<silverline_security::tls::TlsFiles>,
    /// What the embedded broker keeps per topic for readers that lag (the oldest beyond it
    /// is dropped): its memory bound per topic.
    pub broker_topic_buffer: usize,
    /// Most bytes of module blobs kept under `data_dir`; an upload beyond gets 507.
    pub blob_quota: u64,
    /// `SCHED_FIFO` priority of the embedded broker's threads (`None`: the normal class), so
    /// heartbeats and leases between Hosts pass it on a busy machine
    /// ([`silverline_channels::priority`]).
    pub broker_priority: Option<i32>,
}

impl Default for OrchestratorConfig {
    fn default() -> Self {
        OrchestratorConfig {
            listen: "127.0.0.1:7420".parse().expect("address"),
            mqtt_listen: "127.0.0.1:1883".parse().expect("address"),
            broker: None,
            data_dir: PathBuf::from(".silverline/orchestrator"),
            host_timeout: Duration::from_secs(3),
            topology: None,
            auth: auth::AuthMode::Secured,
            admin_token_file: None,
            rate_limit: limits::RateLimit::default(),
            tls: None,
            broker_topic_buffer: silverline_broker::GateLimits::default().topic_buffer_bytes,
            blob_quota: store::DEFAULT_BLOB_QUOTA,
            broker_priority: Some(silverline_channels::priority::DEFAULT_IO_PRIORITY),
        }
    }
}

/// A running Orchestrator.
pub struct Orchestrator {
    api_addr: SocketAddr,
    broker_url: String,
    core: Arc<core::Core>,
    security: Arc<auth::Security>,
    registry_url: String,
    ca_pem: Option<String>,
}

impl Orchestrator {
    /// Start the broker (unless external), the control plane and the REST API.
    pub async fn start(config: OrchestratorConfig) -> anyhow::Result<Orchestrator> {
        let security = Arc::new(auth::Security::open(&config.data_dir, config.auth)?);
        if config.auth == auth::AuthMode::InsecureNoAuth {
            tracing::warn!("--insecure-no-auth: anyone who reaches the REST API or the broker can deploy code");
        } else if let Some(file) = &config.admin_token_file {
            security.ensure_admin_token(file)?;
        }
        let tls = match &config.tls {
            Some(files) => Some((silverline_security::tls::server_config(&files.cert, &files.key)?, files.ca_pem()?)),
            None => None,
        };
        let listener = tokio::net::TcpListener::bind(config.listen).await.map_err(|e| anyhow::anyhow!("REST API on {}: {e}", config.listen))?;
        let api_addr = listener.local_addr()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let registry_url = format!("{scheme}://{api_addr}/v1/blobs");
        let mut store = store::Store::open(&config.data_dir)?;
        store.set_blob_quota(config.blob_quota);
        let placer = Box::new(silverline_placement::Backtracking::new());
        let mut core = core::Core::new(store, placer, registry_url.clone())?;
        core.topology = config.topology.clone();
        // One bound for both sides: a Host silent this long is lost, and a Host that heard
        // nothing for this long is fenced.
        core.lease = config.host_timeout;
        let core = Arc::new(core);
        // Before the broker opens: Hosts that kept running reconnect to it at once.
        core.grant_placed(security.grants());
        let broker = start_broker(&config, &security, tls.as_ref().map(|t| t.0.clone())).await?;
        let broker_url = broker.as_ref().map_or_else(|| config.broker.clone().unwrap_or_default(), |b| b.url());
        let instance = format!("{:x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis());
        let mut mqtt = MqttConfig::from_url(&broker_url)?;
        mqtt.client_id(format!("sl-orchestrator-{instance}")).keep_alive(Duration::from_secs(5));
        if config.auth == auth::AuthMode::Secured {
            let login = security.own_login();
            mqtt.login(login.username.clone(), login.password.clone());
        }
        if let Some((_, ca)) = &tls {
            mqtt.tls(silverline_security::tls::client_config(ca.as_bytes())?);
        }
        let (control, eventloop) = control::Control::new(&mqtt, instance, security.clone())?;
        tokio::spawn(control::serve(core.clone(), control.clone(), eventloop));
        tokio::spawn(watch_hosts(core.clone(), control.clone(), config.host_timeout));
        let mosquitto_dir = config.broker.is_some().then(|| config.data_dir.join("mosquitto"));
        let ca_pem = tls.as_ref().map(|t| t.1.clone());
        let api = api::Api { core: core.clone(), control, security: security.clone(), broker_url: broker_url.clone(), registry_url: registry_url.clone(), ca_pem: ca_pem.clone(), mosquitto_dir, broker };
        api.on_enrolled();
        let app = api::router(api, Arc::new(limits::Limiter::new(config.rate_limit))).into_make_service_with_connect_info::<listen::Peer>();
        match tls {
            Some((server, _)) => {
                let listener = listen::TlsListener::new(listener, server)?;
                tokio::spawn(async move { axum::serve(listener, app).await.unwrap_or_else(|e| tracing::error!("REST API stopped: {e}")) });
            }
            None => {
                tokio::spawn(async move { axum::serve(listener, app).await.unwrap_or_else(|e| tracing::error!("REST API stopped: {e}")) });
            }
        }
        Ok(Orchestrator { api_addr, broker_url, core, security, registry_url, ca_pem })
    }

    /// Tokens, MQTT users and the command-signing key.
    pub fn security(&self) -> &Arc<auth::Security> {
        &self.security
    }

    /// Issue Host `name` its credentials, as `POST /v1/hosts/{name}/enroll` does.
    pub fn enroll(&self, name: &str) -> anyhow::Result<silverline_security::credentials::HostCredentials> {
        self.security.enroll(name, &self.broker_url, &self.registry_url, self.ca_pem.clone())
    }

    /// Where the REST API listens.
    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    /// `http://ADDR`, or `https://ADDR` with TLS.
    pub fn api_url(&self) -> String {
        format!("{}://{}", if self.ca_pem.is_some() { "https" } else { "http" }, self.api_addr)
    }

    /// The PEM of the CA clients must trust, when serving TLS.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// The control-plane broker.
    pub fn broker_url(&self) -> &str {
        &self.broker_url
    }

    /// The state and logic (for tests and embedding).
    pub fn core(&self) -> &Arc<core::Core> {
        &self.core
    }
}

/// The embedded broker (behind its gate unless insecure); none with an external one.
async fn start_broker(config: &OrchestratorConfig, security: &Arc<auth::Security>, tls: Option<Arc<rustls::ServerConfig>>) -> anyhow::Result<Option<Arc<silverline_broker::EmbeddedBroker>>> {
    if config.broker.is_some() {
        return Ok(None);
    }
    let listen = config.mqtt_listen;
    let gate: Option<Arc<dyn silverline_broker::Authenticator>> = match config.auth {
        auth::AuthMode::Secured => Some(Arc::new(auth::BrokerGate::new(security))),
        auth::AuthMode::InsecureNoAuth => None,
    };
    let limits = silverline_broker::GateLimits { topic_buffer_bytes: config.broker_topic_buffer, ..Default::default() };
    let priority = config.broker_priority;
    // A thread of its own: the broker's threads inherit its scheduling class, and a thread of
    // the runtime's blocking pool must not keep a real-time one.
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new().name("mqtt-broker-start".into()).spawn(move || {
        if let Some(p) = priority {
            if let Err(why) = silverline_channels::priority::raise_this_thread(p) {
                tracing::warn!("the embedded broker's threads stay in the normal class: {why}");
            }
        }
        let started = match (gate, tls) {
            (Some(gate), Some(tls)) => silverline_broker::EmbeddedBroker::start_secured_tls(listen, gate, limits, tls),
            (Some(gate), None) => silverline_broker::EmbeddedBroker::start_secured(listen, gate, limits),
            (None, _) => silverline_broker::EmbeddedBroker::start(listen),
        };
        let _ = tx.send(started);
    })?;
    let broker = rx.await.map_err(|_| anyhow::anyhow!("the broker's start-up thread ended without a word"))??;
    Ok(Some(Arc::new(broker)))
}

/// Lose silent Hosts; after start-up, adopt modules whose Host never came back.
async fn watch_hosts(core: Arc<core::Core>, control: Arc<control::Control>, timeout: Duration) {
    let started = tokio::time::Instant::now();
    let mut adopted = false;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tick.tick().await;
        if !control.connected() {
            continue; // a Host cannot be heard: its silence means nothing
        }
        let mut commands = core.expire_hosts(timeout);
        commands.extend(core.tick_updates());
        if !adopted && started.elapsed() > timeout * 2 {
            adopted = true;
            commands.extend(core.adopt_orphans());
        }
        control.send(commands);
    }
}

/// An error of the REST API, rendered as JSON.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    path: Option<String>,
    errors: Vec<serde_json::Value>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: String) -> Self {
        ApiError { status, code, message, path: None, errors: Vec::new() }
    }
    /// 400: the request body cannot be read.
    pub fn bad_request(message: String) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", message)
    }
    /// 404.
    pub fn not_found(message: String) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", message)
    }
    /// 409.
    pub fn conflict(message: String) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }
    /// 422 at a field path.
    pub fn invalid(path: &str, found: &str, expected: &str) -> Self {
        let mut e = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-manifest", format!("{path}: expected {expected}, found {found}"));
        e.path = Some(path.to_string());
        e
    }
    /// 422 from manifest validation: every error with its path.
    pub fn manifest(errors: ManifestErrors) -> Self {
        let mut e = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-manifest", errors.to_string());
        e.path = errors.iter().next().map(|e| e.path.clone());
        e.errors = errors.iter().map(|e| serde_json::json!({ "path": e.path, "found": e.found, "expected": e.expected })).collect();
        e
    }
    /// 422: no placement satisfies the constraints.
    pub fn unplaceable(e: silverline_placement::PlacementError) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "unplaceable", format!("no placement satisfies the constraints:\n{e}"))
    }
    /// 422: a chain's end-to-end latency bound cannot be met with the chosen placement.
    pub fn latency_bound(message: String) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "latency-bound", message)
    }
    /// The same error with `more` appended to its message.
    pub fn context(mut self, more: impl std::fmt::Display) -> Self {
        self.message = format!("{}; {more}", self.message);
        self
    }
    /// 500.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({ "code": self.code, "message": self.message });
        if let Some(p) = self.path {
            body["path"] = p.into();
        }
        if !self.errors.is_empty() {
            body["errors"] = self.errors.into();
        }
        (self.status, axum::Json(serde_json::json!({ "error": body }))).into_response()
    }
}
