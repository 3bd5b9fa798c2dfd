//! The MQTT broker silverline embeds in the Orchestrator's process, so that a first run needs
//! nothing installed: the control plane (and, by default, the data plane between Hosts) runs on it.
//!
//! It wraps rumqttd: MQTT 3.1.1 with retained messages and last wills, which the control plane
//! relies on. This crate owns the broker's configuration, who may connect to it and what each
//! client may publish and read; it must not contain business logic (which topics a Host or an app
//! may use is the caller's decision, handed in as an [`Authenticator`]).
//!
//! Two ways to start it:
//!
//! - [`EmbeddedBroker::start`]: open to anyone who can reach the port. For tests and a
//!   single-machine first run.
//! - [`EmbeddedBroker::start_secured`]: every client must present a username and password, and
//!   each one's [`Permissions`] decide, message by message, what it may publish and read. rumqttd
//!   has no topic ACLs, so a gatekeeper that speaks just enough MQTT sits in front of it and is
//!   the only client rumqttd accepts.
//!
//! What a client of the secured broker sees, Mosquitto-like:
//!
//! - No username and password: CONNACK 5 (not authorized). Wrong ones: CONNACK 4. A last will on
//!   a topic it may not publish: CONNACK 5. Refusals are logged at warn with the peer and the
//!   username, never the password.
//! - A publish it may not make is dropped and counted, yet acknowledged (MQTT 3.1.1 has no
//!   negative ack). A message it may not read is not delivered. Subscribing is never refused:
//!   reading is checked per message, so `#` works and shows what the client may read.
//! - Its session is `{username}:{client id}` inside rumqttd, so it can only take over its own
//!   sessions; a username therefore cannot contain `:`. A client that chose no id gets a fresh one.
//! - A packet larger than [`GateLimits::max_packet_bytes`] closes its connection.
//! - If it vanishes, rumqttd publishes its last will; a clean DISCONNECT discards it.
//!
//! rumqttd cannot be shut down: a broker lives until the process ends.
//!
//! ```no_run
//! use silverline_broker::{Authenticator, EmbeddedBroker, GateLimits, Permissions};
//! use std::sync::Arc;
//!
//! /// Everyone with the password may publish and read under `demo/`.
//! struct Demo;
//! impl Permissions for Demo {
//!     fn may_publish(&self, topic: &str) -> bool { topic.starts_with("demo/") }
//!     fn may_read(&self, topic: &str) -> bool { topic.starts_with("demo/") }
//! }
//! impl Authenticator for Demo {
//!     fn authenticate(&self, _user: &str, password: &[u8]) -> Option<Arc<dyn Permissions>> {
//!         (password == b"let me in").then(|| Arc::new(Demo) as Arc<dyn Permissions>)
//!     }
//! }
//!
//! let broker = EmbeddedBroker::start_secured("127.0.0.1:0".parse()?, Arc::new(Demo), GateLimits::default())?;
//! println!("MQTT on {}", broker.url());
//! # Ok::<(), anyhow::Error>(())
//! ```
#![deny(missing_docs)]

mod acks;
mod gate;
mod packet;
mod relay;
mod tls;

pub use gate::{Authenticator, GateCounters, GateLimits, Permissions, REVOCATION_CHECK};
#[doc(hidden)]
pub use packet::parse_stream as fuzz_parse_stream;

use anyhow::{bail, Context};
use gate::{Credentials, Gate, Stats};
use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};
use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The largest packet an unsecured broker accepts.
const UNSECURED_MAX_PACKET: usize = 2 << 20;

/// A running embedded broker.
#[derive(Debug, Clone)]
pub struct EmbeddedBroker {
    addr: SocketAddr,
    /// The gate's counters; `None` when unsecured.
    gate: Option<Arc<Stats>>,
    /// Clients speak TLS to `addr`.
    tls: bool,
}

impl EmbeddedBroker {
    /// Start listening on `listen` (port 0 picks a free port) and wait until it accepts
    /// connections. Anyone who can reach it may connect, publish and subscribe.
    pub fn start(listen: SocketAddr) -> anyhow::Result<EmbeddedBroker> {
        let addr = resolve_port(listen)?;
        let buffer = GateLimits::default().topic_buffer_bytes.max(UNSECURED_MAX_PACKET);
        run_rumqttd(config(addr, UNSECURED_MAX_PACKET, buffer, None))?;
        wait_listening(addr, Duration::from_secs(10))?;
        Ok(EmbeddedBroker { addr, gate: None, tls: false })
    }

    /// Start rumqttd behind the gate; `listen` port 0 picks a free port. Every client must
    /// authenticate with `auth`, and what it may publish and read is checked on every message.
    ///
    /// rumqttd listens on a free local port and accepts only the gate, with credentials made up
    /// here. The gate runs on a thread of its own with its own small tokio runtime, so this works
    /// from any thread (from async code, call it through `spawn_blocking`, as it waits for
    /// rumqttd to listen).
    pub fn start_secured(listen: SocketAddr, auth: Arc<dyn Authenticator>, limits: GateLimits) -> anyhow::Result<EmbeddedBroker> {
        limits.validate()?;
        let (internal, credentials) = start_internal(limits.max_packet_bytes, limits.topic_buffer_bytes)?;
        let listener = TcpListener::bind(listen).with_context(|| format!("binding {listen}"))?;
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let gate = Gate::new(internal, credentials, auth, limits)?;
        let stats = gate.stats.clone();
        run_gate(listener, gate)?;
        Ok(EmbeddedBroker { addr, gate: Some(stats), tls: false })
    }

    /// [`EmbeddedBroker::start_secured`] with clients speaking TLS on `listen` (`mqtts://`). The
    /// gate itself listens on a free loopback port behind the TLS terminator.
    pub fn start_secured_tls(listen: SocketAddr, auth: Arc<dyn Authenticator>, limits: GateLimits, tls: Arc<rustls::ServerConfig>) -> anyhow::Result<EmbeddedBroker> {
        let inner = EmbeddedBroker::start_secured(SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), 0), auth, limits)?;
        let addr = tls::start_front(listen, inner.addr, tls)?;
        Ok(EmbeddedBroker { addr, tls: true, ..inner })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `mqtt://HOST:PORT`, or `mqtts://HOST:PORT` with TLS.
    pub fn url(&self) -> String {
        format!("{}://{}", if self.tls { "mqtts" } else { "mqtt" }, self.addr)
    }

    /// Gate counters (all zero for an unsecured broker).
    pub fn counters(&self) -> GateCounters {
        self.gate.as_ref().map(|s| s.snapshot()).unwrap_or_default()
    }
}

/// rumqttd on a free local port, accepting only the returned credentials.
fn start_internal(max_packet: usize, topic_buffer: usize) -> anyhow::Result<(SocketAddr, Credentials)> {
    let credentials = Credentials::generate()?;
    let internal = resolve_port(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    let users = HashMap::from([(credentials.username.clone(), credentials.password.clone())]);
    run_rumqttd(config(internal, max_packet, topic_buffer, Some(users)))?;
    wait_listening(internal, Duration::from_secs(10))?;
    Ok((internal, credentials))
}

fn run_rumqttd(config: Config) -> anyhow::Result<()> {
    let mut broker = Broker::new(config);
    std::thread::Builder::new().name("mqtt-broker".into()).spawn(move || {
        if let Err(e) = broker.start() {
            tracing::error!("embedded MQTT broker stopped: {e}");
        }
    })?;
    Ok(())
}

/// The gate's runtime is its own, so it does not depend on the caller's (or on the caller
/// having one); two workers, as relaying is light and rumqttd needs the cores too.
fn run_gate(listener: TcpListener, gate: Gate) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("mqtt-gate")
        .enable_all()
        .build()
        .context("starting the MQTT gate's runtime")?;
    std::thread::Builder::new().name("mqtt-gate-accept".into()).spawn(move || {
        runtime.block_on(async move {
            match tokio::net::TcpListener::from_std(listener) {
                Ok(listener) => gate::serve(listener, Arc::new(gate)).await,
                Err(e) => tracing::error!("MQTT gate cannot listen: {e}"),
            }
        })
    })?;
    Ok(())
}

/// rumqttd cannot report the port it bound, so choose a free one first when asked for port 0.
fn resolve_port(listen: SocketAddr) -> anyhow::Result<SocketAddr> {
    if listen.port() != 0 {
        return Ok(listen);
    }
    let probe = TcpListener::bind(listen).with_context(|| format!("binding {listen}"))?;
    Ok(probe.local_addr()?)
}

/// Full segments rumqttd keeps per log besides the active one.
const SEGMENTS: usize = 3;

/// rumqttd's `Default`s are zeros: every size here is chosen for many small real-time messages.
/// `max_packet` bounds a packet's remaining length; `topic_buffer` what is kept per topic (and
/// per subscription filter) for readers that lag; `auth` maps usernames to passwords.
fn config(addr: SocketAddr, max_packet: usize, topic_buffer: usize, auth: Option<HashMap<String, String>>) -> Config {
    let connections = ConnectionSettings {
        connection_timeout_ms: 10_000,
        max_payload_size: max_packet,
        max_inflight_count: 500,
        auth,
        external_auth: None,
        dynamic_filters: true,
    };
    let server = ServerSettings {
        name: "silverline-v4".into(),
        listen: addr,
        tls: None,
        next_connection_delay_ms: 0,
        connections,
    };
    Config {
        id: 0,
        router: RouterConfig {
            max_connections: 10_000,
            max_outgoing_packet_count: 1_000,
            // rumqttd keeps a log per filter in segments: the active one plus this many full
            // ones, the oldest dropped first. A segment may overrun by one packet.
            max_segment_size: (topic_buffer / (SEGMENTS + 1)).max(1024),
            max_segment_count: SEGMENTS,
            ..Default::default()
        },
        v4: Some(HashMap::from([("v4".to_string(), server)])),
        ..Default::default()
    }
}

/// No event tells when rumqttd's listener is up: probe it with connections.
fn wait_listening(addr: SocketAddr, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    bail!("the embedded MQTT broker did not listen on {addr} within {timeout:?} (port in use?)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// The CONNACK rumqttd answers `username`/`password` with; `None` if it just closes.
    fn connack(addr: SocketAddr, username: &str, password: &str) -> Option<[u8; 4]> {
        let connect = packet::Connect {
            clean_session: true,
            keep_alive: 30,
            client_id: "intruder".into(),
            will: None,
            username: None,
            password: None,
        };
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(&connect.encode_as("intruder", username, password).unwrap()).unwrap();
        let mut ack = [0u8; 4];
        s.read_exact(&mut ack).ok().map(|()| ack)
    }

    #[test]
    fn the_internal_broker_admits_only_the_gates_credentials() {
        let (addr, credentials) = start_internal(1 << 20, 4 << 20).unwrap();
        assert_eq!(credentials.password.len(), 32);
        assert_ne!(connack(addr, &credentials.username, "guess"), Some([0x20, 2, 0, 0]));
        assert_ne!(connack(addr, "alice", &credentials.password), Some([0x20, 2, 0, 0]));
        assert_eq!(connack(addr, &credentials.username, &credentials.password), Some([0x20, 2, 0, 0]));
    }
}
