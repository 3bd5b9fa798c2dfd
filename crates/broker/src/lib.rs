//! The MQTT broker silverline embeds in the Orchestrator's process, so that a first run needs
//! nothing installed: the control plane (and, by default, the data plane between Hosts) runs on it.
//!
//! It wraps rumqttd: MQTT 3.1.1 with retained messages and last wills, which the control plane
//! relies on. It owns the broker's configuration (and will own its authentication and topic ACL
//! wiring); it must not contain business logic.
//!
//! rumqttd cannot be shut down: the broker lives until the process ends. Use one per process.
//!
//! ```no_run
//! let broker = silverline_broker::EmbeddedBroker::start("127.0.0.1:0".parse()?)?;
//! println!("MQTT on {}", broker.url());
//! # Ok::<(), anyhow::Error>(())
//! ```
#![deny(missing_docs)]

use anyhow::{bail, Context};
use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};
use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// A running embedded broker.
#[derive(Debug, Clone)]
pub struct EmbeddedBroker {
    addr: SocketAddr,
}

impl EmbeddedBroker {
    /// Start listening on `listen` (port 0 picks a free port) and wait until it accepts
    /// connections.
    pub fn start(listen: SocketAddr) -> anyhow::Result<EmbeddedBroker> {
        let addr = resolve_port(listen)?;
        let mut broker = Broker::new(config(addr));
        std::thread::Builder::new().name("mqtt-broker".into()).spawn(move || {
            if let Err(e) = broker.start() {
                tracing::error!("embedded MQTT broker stopped: {e}");
            }
        })?;
        wait_listening(addr, Duration::from_secs(10))?;
        Ok(EmbeddedBroker { addr })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `mqtt://HOST:PORT`.
    pub fn url(&self) -> String {
        format!("mqtt://{}", self.addr)
    }
}

/// rumqttd cannot report the port it bound, so choose a free one first when asked for port 0.
fn resolve_port(listen: SocketAddr) -> anyhow::Result<SocketAddr> {
    if listen.port() != 0 {
        return Ok(listen);
    }
    let probe = TcpListener::bind(listen).with_context(|| format!("binding {listen}"))?;
    Ok(probe.local_addr()?)
}

/// rumqttd's `Default`s are zeros: every size here is chosen for many small real-time messages.
fn config(addr: SocketAddr) -> Config {
    let connections = ConnectionSettings {
        connection_timeout_ms: 10_000,
        max_payload_size: 2 << 20,
        max_inflight_count: 500,
        auth: None,
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
            max_segment_size: 64 << 20,
            max_segment_count: 10,
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
