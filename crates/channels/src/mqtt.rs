//! The MQTT backend: any MQTT 3.1.1 broker (the embedded one, Mosquitto, ...).

use crate::router::{RemoteBackend, RemoteSink};
use anyhow::{bail, Context};
use bytes::Bytes;
use parking_lot::{Condvar, Mutex};
use rumqttc::{Client, Connection, Event, Incoming, MqttOptions, Outgoing, QoS};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where and how to connect. `new()` equals `Default` (localhost:1883).
#[derive(Debug, Clone)]
pub struct MqttConfig {
    host: String,
    port: u16,
    client_id: String,
    keep_alive: Duration,
    queue_capacity: usize,
    connect_timeout: Duration,
    login: Option<(String, String)>,
    secure: bool,
    tls: Option<Arc<rustls::ClientConfig>>,
    io_priority: Option<i32>,
}

impl Default for MqttConfig {
    fn default() -> Self {
        MqttConfig {
            host: "127.0.0.1".into(),
            port: 1883,
            client_id: format!("silverline-{}", std::process::id()),
            keep_alive: Duration::from_secs(5),
            queue_capacity: 4096,
            connect_timeout: Duration::from_secs(5),
            login: None,
            secure: false,
            tls: None,
            io_priority: None,
        }
    }
}

impl MqttConfig {
    /// Same as `Default`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parse `mqtt://HOST:PORT` (or `HOST:PORT`), or `mqtts://HOST:PORT` for MQTT over TLS
    /// (which then needs [`MqttConfig::tls`]); `USER:PASSWORD@` before the host logs in.
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        let secure = url.starts_with("mqtts://");
        let rest = url.strip_prefix("mqtts://").or_else(|| url.strip_prefix("mqtt://")).or_else(|| url.strip_prefix("tcp://")).unwrap_or(url);
        let rest = rest.trim_end_matches('/');
        let (login, rest) = match rest.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, rest),
        };
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().with_context(|| format!("bad port in broker URL `{}`", redact(url)))?),
            None => (rest, if secure { 8883 } else { 1883 }),
        };
        if host.is_empty() {
            bail!("broker URL `{}` has no host; expected mqtt://HOST:PORT", redact(url));
        }
        let mut config = MqttConfig { host: host.to_string(), port, secure, ..Self::default() };
        if let Some(userinfo) = login {
            let (user, password) = userinfo.split_once(':').with_context(|| format!("broker URL `{}`: expected USER:PASSWORD@ before the host", redact(url)))?;
            config.login(user, password);
        }
        Ok(config)
    }

    /// The client id the broker sees; must be unique per connection.
    pub fn client_id(&mut self, id: impl Into<String>) -> &mut Self {
        self.client_id = id.into();
        self
    }

    /// How many outgoing messages may wait for the network before publishes are dropped.
    /// Larger absorbs bursts; smaller bounds memory and staleness.
    pub fn queue_capacity(&mut self, n: usize) -> &mut Self {
        self.queue_capacity = n.max(1);
        self
    }

    /// MQTT keep-alive; the broker notices a dead client after about 1.5x this.
    pub fn keep_alive(&mut self, d: Duration) -> &mut Self {
        self.keep_alive = d;
        self
    }

    /// How long [`MqttBackend::connect`] waits for the broker's CONNACK.
    pub fn connect_timeout(&mut self, d: Duration) -> &mut Self {
        self.connect_timeout = d;
        self
    }

    /// Run the connection's thread at `SCHED_FIFO` `priority` (see [`crate::priority`]); `None`
    /// (the default) leaves it in the normal class. A refusal is logged and changes nothing else.
    pub fn io_priority(&mut self, priority: Option<i32>) -> &mut Self {
        self.io_priority = priority;
        self
    }

    /// Authenticate as `username` with `password` (a secured broker refuses anonymous clients).
    pub fn login(&mut self, username: impl Into<String>, password: impl Into<String>) -> &mut Self {
        self.login = Some((username.into(), password.into()));
        self
    }

    /// Speak TLS, trusting the CAs in `config` (needed for `mqtts://`).
    pub fn tls(&mut self, config: Arc<rustls::ClientConfig>) -> &mut Self {
        self.secure = true;
        self.tls = Some(config);
        self
    }

    /// Is this an `mqtts://` (TLS) connection?
    pub fn is_tls(&self) -> bool {
        self.secure
    }

    /// `host:port` of the broker.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// rumqttc options for this configuration (client id, keep-alive, login, TLS), for clients
    /// that run their own event loop.
    pub fn mqtt_options(&self) -> anyhow::Result<MqttOptions> {
        let mut o = MqttOptions::new(self.client_id.clone(), self.host.clone(), self.port);
        o.set_keep_alive(self.keep_alive);
        o.set_clean_session(true);
        o.set_max_packet_size(2 << 20, 2 << 20);
        if let Some((user, password)) = &self.login {
            o.set_credentials(user.clone(), password.clone());
        }
        match (&self.tls, self.secure) {
            (Some(tls), _) => {
                o.set_transport(rumqttc::Transport::tls_with_config(rumqttc::TlsConfiguration::Rustls(tls.clone())));
            }
            (None, true) => bail!("{}:{} is an mqtts:// broker, but no CA to trust was given (TLS)", self.host, self.port),
            (None, false) => {}
        }
        Ok(o)
    }
}

#[derive(Default)]
struct State {
    connected: bool,
    filters: BTreeSet<String>,
    subscribe_requested: u64,
    subscribe_acked: u64,
    last_error: Option<String>,
    /// The event loop has ended (after a DISCONNECT).
    closed: bool,
}

/// A [`RemoteBackend`] over MQTT, QoS 0 (real-time data: fresh beats complete).
pub struct MqttBackend {
    client: Client,
    state: Arc<(Mutex<State>, Condvar)>,
}

/// Turn off Nagle's algorithm: small messages (a heartbeat, a lease) must leave at once, not
/// wait up to a delayed-ACK time for company (rumqttc leaves it on by default).
pub fn no_delay(eventloop: &mut rumqttc::EventLoop) {
    let mut net = eventloop.network_options();
    net.set_tcp_nodelay(true);
    eventloop.set_network_options(net);
}

impl MqttBackend {
    /// Connect and wait for the broker to accept; incoming messages go to `sink`.
    pub fn connect(config: &MqttConfig, sink: RemoteSink) -> anyhow::Result<Arc<MqttBackend>> {
        let (client, mut connection) = Client::new(config.mqtt_options()?, config.queue_capacity);
        no_delay(&mut connection.eventloop);
        let state = Arc::new((Mutex::new(State::default()), Condvar::new()));
        let backend = Arc::new(MqttBackend { client: client.clone(), state: state.clone() });
        let priority = config.io_priority;
        std::thread::Builder::new().name(format!("mqtt-{}", config.client_id)).spawn(move || {
            if let Some(p) = priority {
                if let Err(why) = crate::priority::raise_this_thread(p) {
                    tracing::warn!("the MQTT connection's thread stays in the normal class: {why}");
                }
            }
            event_loop(connection, client, state, sink)
        })?;
        backend.wait_connected(config.connect_timeout).with_context(|| {
            format!("cannot connect to the MQTT broker at {}", config.address())
        })?;
        Ok(backend)
    }

    fn wait_connected(&self, timeout: Duration) -> anyhow::Result<()> {
        let (lock, cond) = &*self.state;
        let deadline = Instant::now() + timeout;
        let mut state = lock.lock();
        while !state.connected {
            if cond.wait_until(&mut state, deadline).timed_out() {
                bail!("no CONNACK within {timeout:?} ({})", state.last_error.as_deref().unwrap_or("no answer"));
            }
        }
        Ok(())
    }

    /// Wait until every subscription requested so far is acknowledged by the broker.
    /// Returns false on timeout.
    pub fn wait_subscribed(&self, timeout: Duration) -> bool {
        let (lock, cond) = &*self.state;
        let deadline = Instant::now() + timeout;
        let mut state = lock.lock();
        while !(state.connected && state.subscribe_acked >= state.subscribe_requested) {
            if cond.wait_until(&mut state, deadline).timed_out() {
                return false;
            }
        }
        true
    }

    /// Is the connection to the broker up?
    pub fn is_connected(&self) -> bool {
        self.state.0.lock().connected
    }

    /// Send everything queued so far, then disconnect; waits up to `timeout` for the connection
    /// to close. False when it did not close in time (messages may be lost).
    pub fn close(&self, timeout: Duration) -> bool {
        // Requests are sent in order, so the DISCONNECT goes out after every queued PUBLISH.
        if self.client.disconnect().is_err() {
            return self.state.0.lock().closed;
        }
        let (lock, cond) = &*self.state;
        let deadline = Instant::now() + timeout;
        let mut state = lock.lock();
        while !state.closed {
            if cond.wait_until(&mut state, deadline).timed_out() {
                return false;
            }
        }
        true
    }

    /// Disconnect; the event-loop thread ends.
    pub fn disconnect(&self) {
        let _ = self.client.try_disconnect();
    }
}

impl RemoteBackend for MqttBackend {
    fn publish(&self, topic: &str, payload: &Bytes) -> Result<(), String> {
        self.client
            .try_publish(topic, QoS::AtMostOnce, false, payload.to_vec())
            .map_err(|e| e.to_string())
    }

    fn subscribe(&self, filter: &str) {
        let mut state = self.state.0.lock();
        if state.filters.insert(filter.to_string()) && state.connected {
            state.subscribe_requested += 1;
            let _ = self.client.try_subscribe(filter, QoS::AtMostOnce);
        }
    }

    fn unsubscribe(&self, filter: &str) {
        let mut state = self.state.0.lock();
        if state.filters.remove(filter) && state.connected {
            let _ = self.client.try_unsubscribe(filter);
        }
    }
}

impl Drop for MqttBackend {
    fn drop(&mut self) {
        self.disconnect();
    }
}

fn event_loop(mut connection: Connection, client: Client, state: Arc<(Mutex<State>, Condvar)>, sink: RemoteSink) {
    for event in connection.iter() {
        match event {
            Ok(Event::Incoming(Incoming::Publish(p))) => sink(&p.topic, p.payload),
            Ok(Event::Incoming(Incoming::ConnAck(_))) => on_connected(&client, &state),
            Ok(Event::Incoming(Incoming::SubAck(_))) => {
                state.0.lock().subscribe_acked += 1;
                state.1.notify_all();
            }
            Ok(Event::Outgoing(Outgoing::Disconnect)) => break,
            Ok(_) => {}
            Err(e) => {
                let mut s = state.0.lock();
                let was_connected = std::mem::replace(&mut s.connected, false);
                s.last_error = Some(e.to_string());
                drop(s);
                state.1.notify_all();
                if was_connected {
                    tracing::warn!("MQTT connection lost: {e}; reconnecting");
                }
                // rumqttc reconnects on the next poll; do not spin on a dead broker.
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
    let mut s = state.0.lock();
    (s.connected, s.closed) = (false, true);
    drop(s);
    state.1.notify_all();
}

/// `url` with any password replaced, for messages.
fn redact(url: &str) -> String {
    match url.rsplit_once('@') {
        Some((userinfo, hostport)) => match userinfo.rsplit_once(':') {
            Some((user, _)) => format!("{user}:***@{hostport}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// With a clean session every (re)connect starts without subscriptions: send them again.
fn on_connected(client: &Client, state: &Arc<(Mutex<State>, Condvar)>) {
    let mut s = state.0.lock();
    s.connected = true;
    s.subscribe_acked = 0;
    s.subscribe_requested = s.filters.len() as u64;
    for filter in &s.filters {
        let _ = client.try_subscribe(filter.clone(), QoS::AtMostOnce);
    }
    drop(s);
    state.1.notify_all();
}
