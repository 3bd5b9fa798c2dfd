//! [`RemoteStore`]: a Host's [`SignalStore`] on a databroker, over `kuksa.val.v2`.
//!
//! The trait is blocking and a module's call must not hang, so the store keeps its own tokio
//! runtime on a background thread and waits for each answer at most its timeout; an
//! unreachable broker gives [`VssError::Unavailable`].

use crate::convert;
use crate::proto::v2::{self, signal_id, val_client::ValClient};
use parking_lot::Mutex;
use silverline_vss::{unix_now_ns, Catalog, Datapoint, LocalStore, Signal, SignalStore, Value, VssError, Waker, Watch};
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status};

/// How long a call waits for the broker unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

/// After a call the broker did not answer in time, calls fail at once for this long: a silent
/// broker then costs a module one timeout a second, not one per call (which would hold its
/// activations for as long as the broker is gone).
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Clone)]
struct Bearer(Option<MetadataValue<Ascii>>);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(v) = &self.0 {
            request.metadata_mut().insert("authorization", v.clone());
        }
        Ok(request)
    }
}

type Client = ValClient<InterceptedService<Channel, Bearer>>;

/// Signal values held by a databroker (silverline's or KUKSA Databroker), for a Host started
/// with `--vss-broker URL`.
///
/// * **Catalog**: taken from the broker's `ListMetadata` when connecting, so the Host and the
///   broker cannot disagree about which signals exist or their bounds; a Host needs no copy
///   of the catalog file. Ids are the local catalog's (path order); calls name signals by path.
/// * **Writes** are checked against that catalog first (the same typed [`VssError`] as a
///   [`LocalStore`]), then sent as `PublishValue`: a module writes a signal's current value,
///   for actuators too, exactly as with a [`LocalStore`].
/// * **Versions**: Kuksa has no per-signal write count, so [`Datapoint::version`] counts the
///   distinct timestamps this store has seen; it grows exactly when the value was rewritten.
/// * **Watches**: the first watch of a signal opens a v2 `Subscribe` stream for it, which stays
///   open (and reconnects) while the store lives; each update after the initial snapshot wakes
///   that signal's watchers.
pub struct RemoteStore {
    catalog: Catalog,
    client: Client,
    timeout: Duration,
    runtime: Option<tokio::runtime::Runtime>,
    /// Per signal: the last timestamp seen and the version given for it.
    seen: Mutex<Vec<(i64, u64)>>,
    /// Where remote updates are replayed, so that watchers are woken through the same
    /// [`Watch`] type a [`LocalStore`] hands out.
    notifier: Arc<LocalStore>,
    streams: Mutex<BTreeSet<u32>>,
    /// Until when calls fail without asking: set when a call went unanswered.
    silent_until: Mutex<Option<Instant>>,
}

impl RemoteStore {
    /// Connect to the broker at `url` (`http://host:port`) with an optional bearer token, load
    /// the catalog with `ListMetadata`, and wait at most `timeout` for each call. Callable
    /// from async code too: it never blocks on a runtime of the caller's.
    pub fn connect(url: &str, token: Option<&str>, timeout: Duration) -> Result<Arc<RemoteStore>, VssError> {
        let unavailable = |what: String| VssError::Unavailable(format!("the databroker at {url}: {what}"));
        let bearer = match token {
            Some(t) => Some(MetadataValue::try_from(format!("Bearer {t}")).map_err(|_| unavailable("the token is not valid header text".into()))?),
            None => None,
        };
        let endpoint = Endpoint::from_shared(url.to_string()).map_err(|e| unavailable(format!("not a URL: {e}")))?.connect_timeout(timeout).tcp_nodelay(true);
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).thread_name("vss-remote").enable_all().build().map_err(|e| unavailable(format!("no runtime: {e}")))?;
        let opened = block(runtime.handle(), timeout, open(endpoint, Bearer(bearer))).unwrap_or_else(|| Err(format!("no answer within {timeout:?}")));
        let (client, catalog) = match opened {
            Ok(c) => c,
            Err(e) => {
                // Not `drop(runtime)`: that panics when called inside an async context.
                runtime.shutdown_background();
                return Err(unavailable(e));
            }
        };
        let n = catalog.signals().len();
        Ok(Arc::new(RemoteStore {
            notifier: LocalStore::new(catalog.clone()),
            catalog,
            client,
            timeout,
            runtime: Some(runtime),
            seen: Mutex::new(vec![(i64::MIN, 0); n]),
            streams: Mutex::default(),
            silent_until: Mutex::default(),
        }))
    }

    fn signal(&self, id: u32) -> Result<&Signal, VssError> {
        self.catalog.by_id(id).ok_or(VssError::UnknownId(id))
    }

    fn handle(&self) -> Result<&tokio::runtime::Handle, VssError> {
        self.runtime.as_ref().map(tokio::runtime::Runtime::handle).ok_or_else(|| VssError::Unavailable("the remote store is shut down".into()))
    }

    /// Run `call` about signal `s` on the store's runtime and wait for it at most the timeout.
    fn call<T, F>(&self, s: &Signal, call: F) -> Result<T, VssError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, Status>> + Send + 'static,
    {
        if let Some(until) = *self.silent_until.lock() {
            if Instant::now() < until {
                return Err(VssError::Unavailable(format!("{}: the databroker did not answer a moment ago (asking again in at most {RETRY_AFTER:?})", s.path)));
            }
        }
        match block(self.handle()?, self.timeout, call) {
            Some(answer) => {
                *self.silent_until.lock() = None;
                answer.map_err(|status| vss_error(s, &status))
            }
            None => {
                *self.silent_until.lock() = Some(Instant::now() + RETRY_AFTER);
                Err(VssError::Unavailable(format!("{}: no answer from the databroker within {:?}", s.path, self.timeout)))
            }
        }
    }

    /// The version to report for a value stamped `ts`.
    fn version(&self, id: u32, ts: i64) -> u64 {
        let mut seen = self.seen.lock();
        let Some(slot) = seen.get_mut(id as usize) else { return 0 };
        if slot.0 != ts {
            *slot = (ts, slot.1 + 1);
        }
        slot.1
    }

    /// Make sure signal `s` has its subscription stream; the first watch waits until the
    /// broker has accepted it.
    fn open_stream(&self, s: &Signal) -> Result<(), VssError> {
        if !self.streams.lock().insert(s.id) {
            return Ok(());
        }
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
        let feed = Feed { client: self.client.clone(), path: s.path.clone(), id: s.id, notifier: self.notifier.clone() };
        let opened = self.handle().map(|h| h.spawn(feed.run(ready_tx))).and_then(|_| match ready_rx.recv_timeout(self.timeout) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(status)) => Err(vss_error(s, &status)),
            Err(_) => Err(VssError::Unavailable(format!("{}: the databroker did not accept the subscription within {:?}", s.path, self.timeout))),
        });
        if opened.is_err() {
            self.streams.lock().remove(&s.id);
        }
        opened
    }
}

/// One signal's subscription: replays every update into the notifier, and reconnects when the
/// stream breaks.
struct Feed {
    client: Client,
    path: String,
    id: u32,
    notifier: Arc<LocalStore>,
}

impl Feed {
    async fn run(mut self, ready: std::sync::mpsc::SyncSender<Result<(), Status>>) {
        let mut ready = Some(ready);
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.client.subscribe(v2::SubscribeRequest { signal_paths: vec![self.path.clone()], buffer_size: 0, filter: None }).await {
                Ok(stream) => {
                    let mut stream = stream.into_inner();
                    // The first message is the current value: a snapshot, not a change.
                    let first = stream.message().await;
                    if let Some(r) = ready.take() {
                        let failed = first.is_err();
                        let _ = r.send(first.as_ref().map(|_| ()).map_err(Clone::clone));
                        if failed {
                            return;
                        }
                    } else if let Ok(Some(m)) = &first {
                        // Reconnected: whatever changed meanwhile is news.
                        self.replay(m);
                    }
                    while let Ok(Some(m)) = stream.message().await {
                        self.replay(&m);
                        backoff = Duration::from_millis(100);
                    }
                }
                Err(status) => {
                    if let Some(r) = ready.take() {
                        let _ = r.send(Err(status));
                        return;
                    }
                }
            }
            if ready.is_some() {
                return;
            }
            tracing::debug!(path = %self.path, "vss remote: the subscription ended; reconnecting in {backoff:?}");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    fn replay(&self, m: &v2::SubscribeResponse) {
        let Some(dp) = m.entries.get(&self.path) else { return };
        // A signal without a value has nothing to replay; the catalog's checks cannot fail on
        // what the broker accepted under the same catalog.
        if let Ok(v) = convert::from_v2(&self.path, dp.value.as_ref()) {
            let _ = self.notifier.set(self.id, v);
        }
    }
}

impl Drop for RemoteStore {
    fn drop(&mut self) {
        // Not `drop(runtime)`: that panics when the store is dropped inside an async context.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// Run `f` on `runtime` and wait for it from this thread at most `timeout` (`None`: it did
/// not finish). The caller's thread only waits on a channel, so this works from any thread,
/// async or not.
fn block<T: Send + 'static>(runtime: &tokio::runtime::Handle, timeout: Duration, f: impl Future<Output = T> + Send + 'static) -> Option<T> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    runtime.spawn(async move {
        if let Ok(v) = tokio::time::timeout(timeout, f).await {
            let _ = tx.send(v);
        }
    });
    // The task gives up at `timeout`; the margin only covers its scheduling.
    rx.recv_timeout(timeout + Duration::from_millis(200)).ok()
}

/// Connect and learn the catalog.
async fn open(endpoint: Endpoint, bearer: Bearer) -> Result<(Client, Catalog), String> {
    let channel = endpoint.connect().await.map_err(|e| format!("cannot connect: {e}"))?;
    let mut client = ValClient::with_interceptor(channel, bearer);
    let listed = client.list_metadata(v2::ListMetadataRequest { root: "**".into(), filter: String::new() }).await;
    let metadata = listed.map_err(|s| format!("ListMetadata: {}", describe(&s)))?.into_inner().metadata;
    let catalog = convert::catalog_from_metadata(&metadata).map_err(|e| format!("its catalog: {e}"))?;
    Ok((client, catalog))
}

fn describe(s: &Status) -> String {
    match s.code() {
        Code::Unauthenticated => format!("refused the token ({})", s.message()),
        _ => format!("{:?}: {}", s.code(), s.message()),
    }
}

/// A broker's status about signal `s` as the store's error. NOT_FOUND is an unknown signal;
/// anything else means the broker cannot serve the call, which a module sees as unavailable
/// (a write the broker refuses although the same catalog admitted it lands here too).
fn vss_error(s: &Signal, status: &Status) -> VssError {
    match status.code() {
        Code::NotFound => VssError::UnknownSignal(s.path.clone()),
        _ => VssError::Unavailable(format!("{}: {}", s.path, describe(status))),
    }
}

fn path_id(s: &Signal) -> Option<v2::SignalId> {
    Some(v2::SignalId { signal: Some(signal_id::Signal::Path(s.path.clone())) })
}

impl SignalStore for RemoteStore {
    fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    fn get(&self, id: u32) -> Result<Option<Datapoint>, VssError> {
        let s = self.signal(id)?;
        let mut c = self.client.clone();
        let request = v2::GetValueRequest { signal_id: path_id(s) };
        let dp = self.call(s, async move { c.get_value(request).await.map(|r| r.into_inner().data_point) })?;
        let Some(dp) = dp else { return Ok(None) };
        let Ok(value) = convert::from_v2(&s.path, dp.value.as_ref()) else { return Ok(None) };
        let ts = dp.timestamp.as_ref().map_or_else(unix_now_ns, convert::unix_ns);
        Ok(Some(Datapoint { value, unix_ns: ts, version: self.version(id, ts) }))
    }

    fn set(&self, id: u32, v: Value) -> Result<(), VssError> {
        let s = self.signal(id)?;
        s.check(&v)?;
        let mut c = self.client.clone();
        let request = v2::PublishValueRequest { signal_id: path_id(s), data_point: Some(v2::Datapoint { timestamp: Some(convert::timestamp(unix_now_ns())), value: Some(convert::to_v2(s, &v)) }) };
        self.call(s, async move { c.publish_value(request).await.map(|_| ()) })
    }

    fn watch(&self, id: u32, wake: Waker) -> Result<Watch, VssError> {
        let s = self.signal(id)?;
        let watch = self.notifier.watch(id, wake)?;
        self.open_stream(s)?;
        Ok(watch)
    }
}
