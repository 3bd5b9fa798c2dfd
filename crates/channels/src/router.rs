//! The per-Host switchboard: loopback delivery to co-located subscribers, remote backends for
//! everything else.

use crate::queue::InputQueue;
use crate::topic::topic_matches;
use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// How a [`Router`] chooses between loopback and the remote backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RoutingMode {
    /// Co-located subscribers are served directly (loopback); publishes also go to the remote
    /// backend, if any, for other Hosts and observers. A message arriving from the backend on a
    /// topic that has an *active local publisher* is not delivered locally: loopback already
    /// delivered it (this is what keeps a Host from seeing its own publishes twice).
    #[default]
    LoopbackFirst,
    /// Everything goes through the remote backend, even between co-located modules. Useful to
    /// measure the broker path, or to keep one ordering for all subscribers.
    BrokerOnly,
}

/// A transport to subscribers on other Hosts (MQTT, and later others).
///
/// Implementations must not block: `publish` is called from module activations.
pub trait RemoteBackend: Send + Sync {
    /// Hand a message to the transport. An error means it was dropped.
    fn publish(&self, topic: &str, payload: &Bytes) -> Result<(), String>;
    /// Start receiving messages matching `filter`; they go to the sink given at construction.
    fn subscribe(&self, filter: &str);
    /// Stop receiving messages matching `filter`.
    fn unsubscribe(&self, filter: &str);
}

/// Where a remote backend delivers what it receives: `(topic, payload)`.
pub type RemoteSink = Arc<dyn Fn(&str, Bytes) + Send + Sync>;

/// Result of [`OutputPort::publish`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishOutcome {
    /// Delivered locally and/or handed to the remote backend.
    Sent,
    /// The port is inactive: the message was dropped and counted.
    DroppedInactive,
    /// The Host holds no lease (see [`crate::fence`]): the message was dropped and counted.
    /// To the module this is an inactive output.
    Fenced,
    /// Over the module's publish budget ([`crate::PublishLimit`]): dropped and counted.
    RateLimited,
    /// The remote backend could not take it (its outgoing queue is full, or it is shut down):
    /// it went to this Host's local subscribers at most; counted as a remote error.
    NotQueued,
}

#[derive(Default)]
struct Subscriptions {
    exact: HashMap<String, Vec<Arc<InputQueue>>>,
    wildcard: Vec<(String, Arc<InputQueue>)>,
}

impl Subscriptions {
    fn for_each_match(&self, topic: &str, mut f: impl FnMut(&Arc<InputQueue>)) {
        if let Some(queues) = self.exact.get(topic) {
            queues.iter().for_each(&mut f);
        }
        for (filter, queue) in &self.wildcard {
            if topic_matches(filter, topic) {
                f(queue);
            }
        }
    }

    fn filters(&self) -> Vec<String> {
        let mut all: Vec<String> = self.exact.keys().cloned().collect();
        all.extend(self.wildcard.iter().map(|(f, _)| f.clone()));
        all.sort();
        all.dedup();
        all
    }
}

/// The per-Host channel switchboard. Cheap to share (`Arc<Router>`).
pub struct Router {
    mode: RoutingMode,
    subs: RwLock<Subscriptions>,
    remote: RwLock<Option<Arc<dyn RemoteBackend>>>,
    /// Active local output ports per topic: decides which remote arrivals are echoes.
    active_publishers: Mutex<HashMap<Arc<str>, usize>>,
    fence: crate::Fence,
}

impl Router {
    /// A router with no remote backend yet.
    pub fn new(mode: RoutingMode) -> Arc<Router> {
        Arc::new(Router {
            mode,
            subs: RwLock::new(Subscriptions::default()),
            remote: RwLock::new(None),
            active_publishers: Mutex::new(HashMap::new()),
            fence: crate::Fence::default(),
        })
    }

    /// The Host's lease on its fenced output ports.
    pub fn fence(&self) -> &crate::Fence {
        &self.fence
    }

    /// The routing mode chosen at construction.
    pub fn mode(&self) -> RoutingMode {
        self.mode
    }

    /// Attach a remote backend; every existing subscription is forwarded to it.
    pub fn attach_remote(&self, backend: Arc<dyn RemoteBackend>) {
        for filter in self.subs.read().filters() {
            backend.subscribe(&filter);
        }
        *self.remote.write() = Some(backend);
    }

    /// A sink that a remote backend calls for each message it receives.
    pub fn remote_sink(self: &Arc<Self>) -> RemoteSink {
        let router = Arc::downgrade(self);
        Arc::new(move |topic, payload| {
            if let Some(router) = router.upgrade() {
                router.deliver_remote(topic, payload);
            }
        })
    }

    /// Deliver messages published on topics matching `filter` into `queue`.
    pub fn subscribe(&self, filter: &str, queue: Arc<InputQueue>) {
        let mut subs = self.subs.write();
        let new_filter = if filter.contains(['+', '#']) {
            let new = !subs.wildcard.iter().any(|(f, _)| f == filter);
            subs.wildcard.push((filter.to_string(), queue));
            new
        } else {
            let entry = subs.exact.entry(filter.to_string()).or_default();
            entry.push(queue);
            entry.len() == 1
        };
        drop(subs);
        if new_filter {
            if let Some(remote) = self.remote.read().as_ref() {
                remote.subscribe(filter);
            }
        }
    }

    /// Remove `queue` from `filter`'s subscribers.
    pub fn unsubscribe(&self, filter: &str, queue: &Arc<InputQueue>) {
        let mut subs = self.subs.write();
        subs.wildcard.retain(|(f, q)| !(f == filter && Arc::ptr_eq(q, queue)));
        if let Some(queues) = subs.exact.get_mut(filter) {
            queues.retain(|q| !Arc::ptr_eq(q, queue));
            if queues.is_empty() {
                subs.exact.remove(filter);
            }
        }
        let still_used = subs.exact.contains_key(filter) || subs.wildcard.iter().any(|(f, _)| f == filter);
        drop(subs);
        if !still_used {
            if let Some(remote) = self.remote.read().as_ref() {
                remote.unsubscribe(filter);
            }
        }
    }

    /// The publishing side of an output channel on `topic`.
    pub fn output_port(self: &Arc<Self>, topic: &str, active: bool) -> Arc<OutputPort> {
        let port = Arc::new(OutputPort {
            router: self.clone(),
            topic: Arc::from(topic),
            active: AtomicBool::new(false),
            published: AtomicU64::new(0),
            dropped_inactive: AtomicU64::new(0),
            remote_errors: AtomicU64::new(0),
            fenced: AtomicBool::new(true),
            dropped_fenced: AtomicU64::new(0),
            limit: std::sync::OnceLock::new(),
            dropped_rate: AtomicU64::new(0),
        });
        port.set_active(active);
        port
    }

    /// Number of local subscriptions whose filter matches `topic`.
    pub fn local_subscribers(&self, topic: &str) -> usize {
        let mut n = 0;
        self.subs.read().for_each_match(topic, |_| n += 1);
        n
    }

    fn publish(&self, topic: &str, payload: Bytes) -> Result<(), String> {
        let remote = self.remote.read().clone();
        match (self.mode, remote) {
            (RoutingMode::BrokerOnly, Some(remote)) => remote.publish(topic, &payload),
            (_, remote) => {
                self.deliver_local(topic, &payload);
                match remote {
                    Some(remote) => remote.publish(topic, &payload),
                    None => Ok(()),
                }
            }
        }
    }

    fn deliver_local(&self, topic: &str, payload: &Bytes) {
        self.subs.read().for_each_match(topic, |q| q.push(payload.clone()));
    }

    fn deliver_remote(&self, topic: &str, payload: Bytes) {
        if self.mode == RoutingMode::LoopbackFirst && self.has_active_publisher(topic) {
            return; // loopback delivered it already
        }
        self.deliver_local(topic, &payload);
    }

    fn has_active_publisher(&self, topic: &str) -> bool {
        self.active_publishers.lock().get(topic).is_some_and(|n| *n > 0)
    }

    fn count_publisher(&self, topic: &Arc<str>, delta: isize) {
        let mut map = self.active_publishers.lock();
        let n = map.entry(topic.clone()).or_insert(0);
        *n = n.saturating_add_signed(delta);
        if *n == 0 {
            map.remove(topic);
        }
    }
}

/// The publishing side of one output channel of one module.
pub struct OutputPort {
    router: Arc<Router>,
    topic: Arc<str>,
    active: AtomicBool,
    published: AtomicU64,
    dropped_inactive: AtomicU64,
    remote_errors: AtomicU64,
    /// Subject to the Host's lease (all but replicas and sidecars, which answer to their own).
    fenced: AtomicBool,
    dropped_fenced: AtomicU64,
    /// The publish budget of the module this port belongs to.
    limit: std::sync::OnceLock<Arc<crate::PublishLimit>>,
    dropped_rate: AtomicU64,
}

impl OutputPort {
    /// Publish one message: copied once into a shared buffer, then delivered.
    pub fn publish(&self, payload: &[u8]) -> PublishOutcome {
        if let Some(refused) = self.closed() {
            return refused;
        }
        if self.limit.get().is_some_and(|l| !l.admit(payload.len())) {
            self.dropped_rate.fetch_add(1, Ordering::Relaxed);
            return PublishOutcome::RateLimited;
        }
        if self.router.publish(&self.topic, Bytes::copy_from_slice(payload)).is_err() {
            self.remote_errors.fetch_add(1, Ordering::Relaxed);
            return PublishOutcome::NotQueued;
        }
        self.published.fetch_add(1, Ordering::Relaxed);
        PublishOutcome::Sent
    }

    /// Why nothing may leave through this port now (inactive, or fenced without the Host's
    /// lease), counted as a drop; `None` when it is open.
    fn closed(&self) -> Option<PublishOutcome> {
        if !self.active.load(Ordering::Acquire) {
            self.dropped_inactive.fetch_add(1, Ordering::Relaxed);
            return Some(PublishOutcome::DroppedInactive);
        }
        if self.fenced.load(Ordering::Relaxed) && !self.router.fence.is_open() {
            self.dropped_fenced.fetch_add(1, Ordering::Relaxed);
            return Some(PublishOutcome::Fenced);
        }
        None
    }

    /// May an effect other than a message (a write through a system API) leave the module
    /// now? The same rule as a publish: active and, unless exempt, under the Host's lease. A
    /// refusal is counted like a dropped message.
    pub fn admit(&self) -> bool {
        match self.closed() {
            Some(_) => false,
            None => {
                self.published.fetch_add(1, Ordering::Relaxed);
                true
            }
        }
    }

    /// Activate or deactivate the port. Returns the previous state.
    pub fn set_active(&self, active: bool) -> bool {
        let was = self.active.swap(active, Ordering::AcqRel);
        if was != active {
            self.router.count_publisher(&self.topic, if active { 1 } else { -1 });
        }
        was
    }

    /// Is the port active?
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// The endpoint this port publishes on.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Messages published while active.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }

    /// Messages dropped because the port was inactive.
    pub fn dropped_inactive(&self) -> u64 {
        self.dropped_inactive.load(Ordering::Relaxed)
    }

    /// Take the port out of the Host's lease: a hot-standby replica or a failover sidecar,
    /// whose outputs the sidecars' own lease rule governs, and which must keep working when the
    /// Orchestrator cannot be reached.
    pub fn exempt_from_fence(&self) {
        self.fenced.store(false, Ordering::Relaxed);
    }

    /// Publish under `limit`, the budget this port shares with the module's other outputs
    /// (once; later calls change nothing).
    pub fn share_limit(&self, limit: Arc<crate::PublishLimit>) {
        let _ = self.limit.set(limit);
    }

    /// The publish budget this port shares, if any.
    pub fn limit(&self) -> Option<&Arc<crate::PublishLimit>> {
        self.limit.get()
    }

    /// A port on `topic` of the same module: the same budget, under the Host's lease or not
    /// as this one is, active.
    pub fn sibling(&self, topic: &str) -> Arc<OutputPort> {
        let port = self.router.output_port(topic, true);
        port.fenced.store(self.fenced.load(Ordering::Relaxed), Ordering::Relaxed);
        if let Some(limit) = self.limit.get() {
            port.share_limit(limit.clone());
        }
        port
    }

    /// Messages refused because the module was over its publish budget.
    pub fn dropped_rate(&self) -> u64 {
        self.dropped_rate.load(Ordering::Relaxed)
    }

    /// Messages dropped because the Host held no lease.
    pub fn dropped_fenced(&self) -> u64 {
        self.dropped_fenced.load(Ordering::Relaxed)
    }

    /// Messages the remote backend refused (e.g. its queue was full).
    pub fn remote_errors(&self) -> u64 {
        self.remote_errors.load(Ordering::Relaxed)
    }
}

impl Drop for OutputPort {
    fn drop(&mut self) {
        if self.active.load(Ordering::Acquire) {
            self.router.count_publisher(&self.topic, -1);
        }
    }
}

impl std::fmt::Debug for OutputPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutputPort")
            .field("topic", &self.topic)
            .field("active", &self.is_active())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_delivers_to_matching_subscribers_only() {
        let router = Router::new(RoutingMode::LoopbackFirst);
        let exact = Arc::new(InputQueue::new(8));
        let wild = Arc::new(InputQueue::new(8));
        let other = Arc::new(InputQueue::new(8));
        router.subscribe("a/b", exact.clone());
        router.subscribe("a/#", wild.clone());
        router.subscribe("c", other.clone());
        let port = router.output_port("a/b", true);
        assert_eq!(port.publish(b"x"), PublishOutcome::Sent);
        assert_eq!(exact.len(), 1);
        assert_eq!(wild.len(), 1);
        assert_eq!(other.len(), 0);
    }

    #[test]
    fn inactive_port_drops_and_counts() {
        let router = Router::new(RoutingMode::LoopbackFirst);
        let q = Arc::new(InputQueue::new(8));
        router.subscribe("t", q.clone());
        let port = router.output_port("t", false);
        assert_eq!(port.publish(b"x"), PublishOutcome::DroppedInactive);
        assert_eq!(port.dropped_inactive(), 1);
        assert!(q.is_empty());
        port.set_active(true);
        assert_eq!(port.publish(b"y"), PublishOutcome::Sent);
        assert_eq!(q.len(), 1);
    }

    #[test]
    fn a_fenced_host_publishes_nothing_on_its_fenced_ports() {
        let router = Router::new(RoutingMode::LoopbackFirst);
        let q = Arc::new(InputQueue::new(8));
        router.subscribe("t", q.clone());
        let port = router.output_port("t", true);
        let replica = router.output_port("t", true);
        replica.exempt_from_fence();
        router.fence().arm();
        assert_eq!(port.publish(b"x"), PublishOutcome::Fenced);
        assert_eq!(port.dropped_fenced(), 1);
        assert!(q.is_empty());
        assert_eq!(replica.publish(b"r"), PublishOutcome::Sent, "the replica answers to its own lease");
        router.fence().grant(crate::fence::now_ns(), std::time::Duration::from_secs(60));
        assert_eq!(port.publish(b"y"), PublishOutcome::Sent);
        assert_eq!(q.len(), 2);
    }

    #[test]
    fn remote_echo_of_an_active_local_topic_is_ignored() {
        let router = Router::new(RoutingMode::LoopbackFirst);
        let q = Arc::new(InputQueue::new(8));
        router.subscribe("t", q.clone());
        let sink = router.remote_sink();
        let port = router.output_port("t", true);
        sink("t", Bytes::from_static(b"echo"));
        assert!(q.is_empty(), "an echo of a local publisher must not be delivered twice");
        port.set_active(false);
        sink("t", Bytes::from_static(b"remote"));
        assert_eq!(q.pop().as_deref(), Some(&b"remote"[..]));
        drop(port);
        sink("t", Bytes::from_static(b"remote2"));
        assert_eq!(q.len(), 1);
    }
}
