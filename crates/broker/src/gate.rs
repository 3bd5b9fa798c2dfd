//! The gatekeeper: the only way into a secured broker. It owns who may connect and what each
//! client may publish and read; rumqttd behind it only sees connections the gate opened.
//!
//! rumqttd can check a static username and password but knows nothing of topics, so the gate
//! speaks just enough MQTT to take those decisions itself ([`crate::packet`]), Mosquitto-style:
//!
//! - A client's CONNECT is checked against an [`Authenticator`], then replayed to rumqttd with the
//!   gate's own credentials (only the gate knows them, so nobody can skip the gate by connecting
//!   to rumqttd's local port) and with the client id prefixed by the username, so one user can never
//!   take over another user's session by choosing its client id.
//! - A PUBLISH the client may not send is dropped (and, at QoS 1 or 2, acknowledged, as MQTT 3.1.1
//!   has no negative ack); a message it may not read is not delivered. Subscriptions are not
//!   checked: reading is checked per message, so a wildcard subscription still works.
//! - Closing either side closes the other without a DISCONNECT, so rumqttd publishes a vanished
//!   client's last will as it would without the gate.

use crate::packet::{self, Connect, ConnectError, Frame};
use crate::relay::{self, Session};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

/// A CONNECT carries ids, credentials and a will: 64 KiB is far more than any honest one needs.
const MAX_CONNECT_BYTES: usize = 64 << 10;

/// How long the gate gives rumqttd, which runs in this process, to accept a connection.
const BROKER_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What an authenticated client may do. Topics are topic names (never filters): the topic of a
/// message being published, or of a message about to be delivered.
pub trait Permissions: Send + Sync + 'static {
    /// Whether the client may publish on `topic`, its last will included.
    fn may_publish(&self, topic: &str) -> bool;
    /// Whether a message published on `topic` may be delivered to the client.
    fn may_read(&self, topic: &str) -> bool;
    /// Whether the credentials the client connected with have been revoked since (a password
    /// rotated or removed): the gate then closes its connection. Asked about once every
    /// [`REVOCATION_CHECK`], so it should be cheap.
    fn revoked(&self) -> bool {
        false
    }
}

/// How often the gate asks whether a connected client's credentials were revoked: the longest
/// a session outlives its password.
pub const REVOCATION_CHECK: Duration = Duration::from_secs(1);

/// Decides who may connect.
pub trait Authenticator: Send + Sync + 'static {
    /// The permissions of the client that presented `username` and `password`; `None` refuses the
    /// client. It runs on a blocking thread, so it may take its time (hash a password, read a file).
    fn authenticate(&self, username: &str, password: &[u8]) -> Option<Arc<dyn Permissions>>;
}

/// Counters of the gate, for metrics and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GateCounters {
    /// Connections closed before they reached the broker: no valid CONNECT in time, missing or
    /// wrong credentials, a last will the client may not publish.
    pub refused_connections: u64,
    /// PUBLISH packets dropped because their sender may not publish on their topic.
    pub denied_publishes: u64,
    /// Messages not delivered to a subscriber because it may not read their topic.
    pub withheld_deliveries: u64,
    /// Clients disconnected because they read nothing for [`GateLimits::slow_client_timeout`]
    /// while messages waited for them.
    pub slow_disconnects: u64,
    /// QoS 0 messages dropped, oldest first, for clients that read slower than they came
    /// ([`GateLimits::client_buffer_bytes`]).
    pub dropped_for_slow_clients: u64,
    /// Clients disconnected because the credentials they connected with were revoked.
    pub revoked_disconnects: u64,
}

/// Bounds the gate puts on clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateLimits {
    /// The largest packet (fixed header included) a client may send; a larger one closes its
    /// connection. Default 1 MiB. The broker's own limit is set to match.
    pub max_packet_bytes: usize,
    /// How long a new connection has to send its CONNECT. Default 10 s: long enough for a slow
    /// link, short enough that idle connections cannot pile up.
    pub connect_timeout: Duration,
    /// What the broker keeps of one topic for subscribers that have not read it yet: beyond
    /// this the oldest messages go (a slow or absent reader loses the oldest first). Bounds
    /// the broker's memory per topic. Default 4 MiB.
    pub topic_buffer_bytes: usize,
    /// A client that reads nothing for this long while messages wait for it is disconnected
    /// (it reconnects and reads from the freshest): a stalled subscriber must not hold the
    /// broker's buffers. Default 10 s.
    pub slow_client_timeout: Duration,
    /// QoS 0 messages kept for one client that reads slower than they come: beyond this the
    /// oldest are dropped (counted), so it reads the freshest. Default 4 MiB.
    pub client_buffer_bytes: usize,
}

impl GateLimits {
    /// The defaults.
    pub fn new() -> GateLimits {
        GateLimits::default()
    }

    pub(crate) fn validate(&self) -> anyhow::Result<()> {
        // MQTT's remaining length stops at 256 MiB; a CONNECT must fit as well.
        if !(MAX_CONNECT_BYTES..=256 << 20).contains(&self.max_packet_bytes) {
            anyhow::bail!("GateLimits::max_packet_bytes must be between 64 KiB and 256 MiB, not {}", self.max_packet_bytes);
        }
        if self.topic_buffer_bytes < self.max_packet_bytes {
            anyhow::bail!("GateLimits::topic_buffer_bytes ({}) must hold one packet of the largest size ({})", self.topic_buffer_bytes, self.max_packet_bytes);
        }
        if self.client_buffer_bytes < self.max_packet_bytes {
            anyhow::bail!("GateLimits::client_buffer_bytes ({}) must hold one packet of the largest size ({})", self.client_buffer_bytes, self.max_packet_bytes);
        }
        if self.connect_timeout.is_zero() {
            anyhow::bail!("GateLimits::connect_timeout must not be zero");
        }
        Ok(())
    }
}

impl Default for GateLimits {
    fn default() -> GateLimits {
        GateLimits { max_packet_bytes: 1 << 20, connect_timeout: Duration::from_secs(10), topic_buffer_bytes: 4 << 20, slow_client_timeout: Duration::from_secs(10), client_buffer_bytes: 4 << 20 }
    }
}

/// The live counters behind [`GateCounters`].
#[derive(Debug, Default)]
pub(crate) struct Stats {
    refused: AtomicU64,
    denied: AtomicU64,
    withheld: AtomicU64,
    slow: AtomicU64,
    dropped_slow: AtomicU64,
    revoked: AtomicU64,
}

impl Stats {
    pub fn snapshot(&self) -> GateCounters {
        GateCounters {
            refused_connections: self.refused.load(Ordering::Relaxed),
            denied_publishes: self.denied.load(Ordering::Relaxed),
            withheld_deliveries: self.withheld.load(Ordering::Relaxed),
            slow_disconnects: self.slow.load(Ordering::Relaxed),
            dropped_for_slow_clients: self.dropped_slow.load(Ordering::Relaxed),
            revoked_disconnects: self.revoked.load(Ordering::Relaxed),
        }
    }

    pub fn count_dropped_for_slow(&self) {
        self.dropped_slow.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_revoked(&self) {
        self.revoked.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_slow(&self) {
        self.slow.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_denied(&self) {
        self.denied.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_withheld(&self) {
        self.withheld.fetch_add(1, Ordering::Relaxed);
    }
}

/// The username and password the gate presents to rumqttd.
pub(crate) struct Credentials {
    pub username: String,
    pub password: String,
}

impl Credentials {
    /// A fresh random password; the username is fixed, the password alone keeps others out.
    pub fn generate() -> anyhow::Result<Credentials> {
        Ok(Credentials { username: "silverline-gate".into(), password: random_hex()? })
    }
}

/// 128 random bits as 32 hex digits.
fn random_hex() -> anyhow::Result<String> {
    use anyhow::Context;
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)).context("reading /dev/urandom")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Everything the gate's connections share.
pub(crate) struct Gate {
    /// rumqttd's local address.
    pub broker: SocketAddr,
    pub credentials: Credentials,
    pub auth: Arc<dyn Authenticator>,
    pub limits: GateLimits,
    pub stats: Arc<Stats>,
    /// Makes the ids the gate gives clients that chose none unique: a random part per gate,
    /// a counter per connection.
    nonce: String,
    anonymous_ids: AtomicU64,
}

impl Gate {
    pub fn new(
        broker: SocketAddr,
        credentials: Credentials,
        auth: Arc<dyn Authenticator>,
        limits: GateLimits,
    ) -> anyhow::Result<Gate> {
        let nonce = random_hex()?[..8].to_string();
        let stats = Arc::default();
        Ok(Gate { broker, credentials, auth, limits, stats, nonce, anonymous_ids: AtomicU64::new(0) })
    }

    /// The client id rumqttd sees; `None` when the client's cannot be used.
    fn session_id(&self, username: &str, connect: &Connect) -> Option<String> {
        if !connect.client_id.is_empty() {
            return Some(format!("{username}:{}", connect.client_id));
        }
        // MQTT 3.1.1 §3.1.3.1: a server may give a client without an id one, but only for a clean
        // session, since nobody could resume it.
        connect.clean_session.then(|| format!("{username}:{}-{}", self.nonce, self.anonymous_ids.fetch_add(1, Ordering::Relaxed)))
    }
}

/// Serves clients on `listener` forever.
pub(crate) async fn serve(listener: TcpListener, gate: Arc<Gate>) {
    loop {
        match listener.accept().await {
            Ok((client, peer)) => {
                tokio::spawn(handle(gate.clone(), client, peer));
            }
            Err(e) => {
                // Typically out of file descriptors: pause rather than spin until some close.
                tracing::error!("MQTT gate cannot accept connections: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn handle(gate: Arc<Gate>, mut client: TcpStream, peer: SocketAddr) {
    // Best effort: latency, not correctness, depends on it.
    let _ = client.set_nodelay(true);
    match admit(&gate, &mut client, peer).await {
        Ok(session) => relay::run(session, client, &gate.limits).await,
        Err(Refused(code)) => {
            // Counted before the client hears of it: whoever saw the refusal sees it counted.
            gate.stats.refused.fetch_add(1, Ordering::Relaxed);
            if let Some(code) = code {
                // The client may be gone already; it is being closed either way.
                let _ = tokio::time::timeout(Duration::from_secs(1), client.write_all(&packet::connack(code))).await;
            }
        }
    }
}

/// The gate turns the connection away, answering with this CONNACK code if there is one.
struct Refused(Option<u8>);

/// CONNACK return codes the gate answers with.
mod code {
    pub const BAD_PROTOCOL_LEVEL: u8 = 1;
    pub const BAD_CLIENT_ID: u8 = 2;
    pub const UNAVAILABLE: u8 = 3;
    pub const BAD_CREDENTIALS: u8 = 4;
    pub const NOT_AUTHORIZED: u8 = 5;
}

/// Runs the CONNECT handshake; on success rumqttd has been sent the client's CONNECT and will
/// answer it through the relay.
async fn admit(gate: &Gate, client: &mut TcpStream, peer: SocketAddr) -> Result<Session, Refused> {
    let connect = read_connect(gate, client, peer).await?;
    let (username, perms) = authorize(gate, peer, &connect).await?;
    let Some(bytes) = gate
        .session_id(&username, &connect)
        .and_then(|id| connect.encode_as(&id, &gate.credentials.username, &gate.credentials.password))
    else {
        tracing::warn!(%peer, username, "MQTT client refused: unusable client id");
        return Err(Refused(Some(code::BAD_CLIENT_ID)));
    };
    let broker = open_broker(gate.broker, &bytes).await.map_err(|e| {
        tracing::error!(%peer, username, "MQTT gate cannot reach the broker: {e}");
        Refused(Some(code::UNAVAILABLE))
    })?;
    Ok(Session { peer, username, perms, stats: gate.stats.clone(), broker })
}

async fn read_connect(gate: &Gate, client: &mut TcpStream, peer: SocketAddr) -> Result<Connect, Refused> {
    let first = tokio::time::timeout(gate.limits.connect_timeout, packet::read_frame(client, MAX_CONNECT_BYTES)).await;
    let frame: Frame = match first {
        Ok(Ok(Some(frame))) => frame,
        Ok(Ok(None)) => return Err(Refused(None)),
        Ok(Err(e)) => {
            tracing::info!(%peer, "MQTT connection closed before a CONNECT: {e}");
            return Err(Refused(None));
        }
        Err(_) => {
            tracing::info!(%peer, "MQTT connection closed: no CONNECT within {:?}", gate.limits.connect_timeout);
            return Err(Refused(None));
        }
    };
    Connect::parse(&frame).map_err(|e| match e {
        ConnectError::UnsupportedLevel(level) => {
            tracing::info!(%peer, "MQTT client refused: protocol level {level} (only 3.1 and 3.1.1 are spoken)");
            Refused(Some(code::BAD_PROTOCOL_LEVEL))
        }
        ConnectError::Malformed(why) => {
            tracing::info!(%peer, "MQTT connection closed: {why}");
            Refused(None)
        }
    })
}

/// Checks the credentials and the will; says in the log why if either is wanting.
async fn authorize(gate: &Gate, peer: SocketAddr, connect: &Connect) -> Result<(String, Arc<dyn Permissions>), Refused> {
    let (Some(username), Some(password)) = (&connect.username, &connect.password) else {
        let username = connect.username.as_deref().unwrap_or("");
        tracing::warn!(%peer, username, "MQTT client refused: no username and password");
        return Err(Refused(Some(code::NOT_AUTHORIZED)));
    };
    // The session id is `{username}:{client id}`: a colon in the username would make it ambiguous.
    if username.contains(':') {
        tracing::warn!(%peer, username, "MQTT client refused: a username may not contain ':'");
        return Err(Refused(Some(code::BAD_CREDENTIALS)));
    }
    let (auth, user, pass) = (gate.auth.clone(), username.clone(), password.clone());
    let perms = tokio::task::spawn_blocking(move || auth.authenticate(&user, &pass)).await.ok().flatten();
    let Some(perms) = perms else {
        tracing::warn!(%peer, username, "MQTT client refused: bad username or password");
        return Err(Refused(Some(code::BAD_CREDENTIALS)));
    };
    if let Some(will) = connect.will.as_ref().filter(|w| !perms.may_publish(&w.topic)) {
        tracing::warn!(%peer, username, topic = will.topic, "MQTT client refused: it may not publish its last will's topic");
        return Err(Refused(Some(code::NOT_AUTHORIZED)));
    }
    Ok((username.clone(), perms))
}

async fn open_broker(addr: SocketAddr, connect: &[u8]) -> std::io::Result<TcpStream> {
    let mut broker = tokio::time::timeout(BROKER_CONNECT_TIMEOUT, TcpStream::connect(addr)).await??;
    broker.set_nodelay(true)?;
    broker.write_all(connect).await?;
    Ok(broker)
}

#[cfg(test)]
mod tests {
    //! The gate against a fake broker that records what reaches it: what rumqttd is sent,
    //! exactly, when a client connects and leaves.

    use super::*;
    use crate::packet::{kind, read_frame};

    struct Everything;
    impl Permissions for Everything {
        fn may_publish(&self, _: &str) -> bool {
            true
        }
        fn may_read(&self, _: &str) -> bool {
            true
        }
    }
    impl Authenticator for Everything {
        fn authenticate(&self, username: &str, password: &[u8]) -> Option<Arc<dyn Permissions>> {
            (username == "alice" && password == b"pw").then(|| Arc::new(Everything) as Arc<dyn Permissions>)
        }
    }

    /// Starts a gate in front of a fake broker; returns the gate's address and the fake broker.
    async fn gate_and_fake_broker() -> (SocketAddr, TcpListener) {
        let fake = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let credentials = Credentials { username: "gate".into(), password: "inside".into() };
        let gate = Gate::new(fake.local_addr().unwrap(), credentials, Arc::new(Everything), GateLimits::default()).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(serve(listener, Arc::new(gate)));
        (addr, fake)
    }

    /// Connects as alice with client id `c1` and returns both ends: client, and broker side.
    async fn connected() -> (TcpStream, TcpStream) {
        let (addr, fake) = gate_and_fake_broker().await;
        let mut client = TcpStream::connect(addr).await.unwrap();
        let connect =
            Connect { clean_session: true, keep_alive: 30, client_id: "c1".into(), will: None, username: None, password: None };
        client.write_all(&connect.encode_as("c1", "alice", "pw").unwrap()).await.unwrap();
        let (mut broker, _) = fake.accept().await.unwrap();
        let seen = read_frame(&mut broker, 1 << 16).await.unwrap().unwrap();
        let seen = Connect::parse(&seen).unwrap();
        assert_eq!(seen.client_id, "alice:c1");
        assert_eq!((seen.username.as_deref(), seen.password.as_deref()), (Some("gate"), Some(&b"inside"[..])));
        (client, broker)
    }

    #[tokio::test]
    async fn a_clean_disconnect_reaches_the_broker_before_the_close() {
        let (mut client, mut broker) = connected().await;
        client.write_all(&[kind::DISCONNECT << 4, 0]).await.unwrap();
        drop(client);
        let next = read_frame(&mut broker, 1 << 16).await.unwrap().map(|f| f.kind());
        assert_eq!(next, Some(kind::DISCONNECT));
        assert!(read_frame(&mut broker, 1 << 16).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_vanished_client_is_closed_without_disconnect() {
        let (mut client, mut broker) = connected().await;
        client.write_all(&[0xc0, 0]).await.unwrap(); // PINGREQ
        drop(client);
        let next = read_frame(&mut broker, 1 << 16).await.unwrap().map(|f| f.kind());
        assert_eq!(next, Some(12), "what the client sent before it vanished still arrives");
        assert!(read_frame(&mut broker, 1 << 16).await.unwrap().is_none(), "then the end, and no DISCONNECT");
    }
}
