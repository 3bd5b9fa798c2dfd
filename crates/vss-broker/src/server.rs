//! The databroker: one port serving `kuksa.val.v1.VAL` and `kuksa.val.v2.VAL` over a
//! [`LocalStore`] of current values and a second one of actuator targets.

use crate::auth::{Auth, AuthCheck};
use crate::proto::{v1, v2};
use silverline_vss::{LocalStore, Signal, SignalStore, Value, VssError};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;
use tonic::Status;

/// Which value of a signal: the current one, or an actuator's target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Slot {
    /// What the signal is now (sensors, attributes, and what an actuator reports).
    Current,
    /// What an actuator is asked to become (`Actuate`, v1 `Set` of `actuator_target`).
    Target,
}

/// Counters of a broker.
#[derive(Debug, Default)]
pub struct BrokerCounters {
    /// Calls refused for a missing or wrong token.
    pub auth_refused: Arc<AtomicU64>,
    /// Subscriptions open now.
    pub subscriptions: AtomicU64,
}

/// What both services share.
pub(crate) struct State {
    pub(crate) values: Arc<LocalStore>,
    pub(crate) targets: Arc<LocalStore>,
    pub(crate) counters: BrokerCounters,
    /// Set once at shutdown, so that open subscriptions end and graceful shutdown can finish.
    pub(crate) closing: tokio::sync::watch::Sender<bool>,
}

impl State {
    pub(crate) fn store(&self, slot: Slot) -> &LocalStore {
        match slot {
            Slot::Current => &self.values,
            Slot::Target => &self.targets,
        }
    }

    pub(crate) fn signal(&self, path: &str) -> Result<&Signal, Status> {
        if path.len() > MAX_PATH {
            return Err(Status::invalid_argument(format!("a path of {} characters is longer than {MAX_PATH}", path.len())));
        }
        self.values.catalog().resolve(path).map_err(|e| crate::convert::status(&e))
    }

    /// Write after the catalog's checks; only actuators have targets.
    pub(crate) fn write(&self, slot: Slot, s: &Signal, v: Value) -> Result<(), VssError> {
        let r = self.store(slot).set(s.id, v);
        if let Err(e) = &r {
            tracing::debug!("vss-broker: refused a write: {e}");
        }
        r
    }
}

/// How long connections may take to close after shutdown.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Kuksa's limit on a path's length.
const MAX_PATH: usize = 1000;

/// A databroker over a store of current values. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Databroker {
    state: Arc<State>,
    auth: Arc<Auth>,
}

impl Databroker {
    /// A broker serving `values` (current values) with `auth`. Actuator targets live in a
    /// second store over the same catalog ([`Databroker::targets`]), because a [`LocalStore`]
    /// holds one value per signal and Kuksa keeps an actuator's target apart from its current
    /// value.
    pub fn new(values: Arc<LocalStore>, auth: Auth) -> Databroker {
        let targets = LocalStore::new(values.catalog().clone());
        let (closing, _) = tokio::sync::watch::channel(false);
        let state = State { values, targets, counters: BrokerCounters::default(), closing };
        Databroker { state: Arc::new(state), auth: Arc::new(auth) }
    }

    /// Current values: what `PublishValue`, v1 `Set` of `value` and [`crate::RemoteStore`] write.
    pub fn values(&self) -> &Arc<LocalStore> {
        &self.state.values
    }

    /// Actuator targets: what `Actuate` and v1 `Set` of `actuator_target` write. A provider in
    /// this process watches it to act on them.
    pub fn targets(&self) -> &Arc<LocalStore> {
        &self.state.targets
    }

    /// Its counters.
    pub fn counters(&self) -> &BrokerCounters {
        &self.state.counters
    }

    /// The counters (the broker's and both stores') as JSON.
    pub fn counters_json(&self) -> serde_json::Value {
        let c = &self.state.counters;
        serde_json::json!({
            "auth_refused": c.auth_refused.load(Ordering::Relaxed),
            "subscriptions": c.subscriptions.load(Ordering::Relaxed),
            "values": self.state.values.counters.to_json(),
            "targets": self.state.targets.counters.to_json(),
        })
    }

    /// Serve on `listener` until `shutdown` completes. Open subscriptions then end, and
    /// connections get [`SHUTDOWN_GRACE`] to close before they are dropped: an HTTP/2 graceful
    /// close needs the client's answer, and a hung client must not keep the broker alive.
    pub async fn serve(self, listener: TcpListener, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let check = AuthCheck { auth: self.auth.clone(), refused: self.state.counters.auth_refused.clone() };
        let v1 = v1::val_server::ValServer::with_interceptor(crate::v1::V1 { state: self.state.clone() }, check.clone());
        let v2 = v2::val_server::ValServer::with_interceptor(crate::v2::V2 { state: self.state.clone() }, check);
        let state = self.state.clone();
        let stop = async move {
            shutdown.await;
            state.closing.send_replace(true);
        };
        // Small messages answered at once: without NODELAY, Nagle's algorithm and delayed ACKs
        // hold a reply back for tens of milliseconds.
        let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        let serving = tonic::transport::Server::builder().add_service(v1).add_service(v2).serve_with_incoming_shutdown(incoming, stop);
        let mut closing = self.state.closing.subscribe();
        let grace = async move {
            let _ = closing.wait_for(|&c| c).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        };
        tokio::select! {
            served = serving => served?,
            _ = grace => tracing::debug!("vss-broker: connections still open {SHUTDOWN_GRACE:?} after shutdown; dropping them"),
        }
        Ok(())
    }
}

/// Serve `store` on `listener` with `auth` until the task is dropped.
pub async fn serve(listener: TcpListener, store: Arc<LocalStore>, auth: Auth) -> anyhow::Result<()> {
    Databroker::new(store, auth).serve(listener, std::future::pending()).await
}

/// A broker running on its own thread and tokio runtime: for a CLI command or a test that is
/// not async. Dropping it shuts the broker down.
pub struct BrokerHandle {
    addr: SocketAddr,
    broker: Databroker,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
}

/// Bind `addr` (port 0: any free port) and serve `store` with `auth` on a background thread.
/// Binding happens before it returns, so a taken port is an error here, not later.
pub fn spawn(addr: SocketAddr, store: Arc<LocalStore>, auth: Auth) -> anyhow::Result<BrokerHandle> {
    let listener = std::net::TcpListener::bind(addr).map_err(|e| anyhow::anyhow!("vss-broker: binding {addr}: {e}"))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let broker = Databroker::new(store, auth);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).thread_name("vss-broker").enable_all().build()?;
    let serving = broker.clone();
    let thread = std::thread::Builder::new().name("vss-broker".into()).spawn(move || {
        runtime.block_on(async move {
            let listener = TcpListener::from_std(listener)?;
            serving.serve(listener, async { stopped.await.unwrap_or(()) }).await
        })
    })?;
    Ok(BrokerHandle { addr, broker, stop: Some(stop), thread: Some(thread) })
}

impl BrokerHandle {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its URL for a gRPC client (`http://127.0.0.1:55555`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The broker, for its stores and counters.
    pub fn broker(&self) -> &Databroker {
        &self.broker
    }

    /// Stop serving and wait until it has; the serve loop's error, if it failed.
    pub fn shutdown(mut self) -> anyhow::Result<()> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => anyhow::bail!("vss-broker: the server thread panicked"),
            None => Ok(()),
        }
    }
}

impl Drop for BrokerHandle {
    fn drop(&mut self) {
        if let Err(e) = self.stop_and_join() {
            tracing::warn!("{e}");
        }
    }
}
