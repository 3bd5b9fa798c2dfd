//! The broker for `latency` and `publish`: a private Mosquitto (or one given by URL), and a raw
//! rumqttc client as the no-silverline baseline.
//!
//! Not the `silverline-test-programs` fixture: that one runs Mosquitto with `log_type all`, which
//! logs every PUBLISH and would put the broker's logging into every figure; and that crate needs
//! clang to build, which the `silverline` binary must not.

use anyhow::{bail, Context};
use bytes::Bytes;
use parking_lot::{Condvar, Mutex};
use rumqttc::{Client, Event, Incoming, MqttOptions, Outgoing, QoS};
use silverline_channels::MqttConfig;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where the broker listens.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    pub(crate) host: String,
    pub(crate) port: u16,
    /// For the report: "Mosquitto 2.0.11 (private, 127.0.0.1:PORT)" or the URL.
    pub(crate) description: String,
}

impl Endpoint {
    /// A silverline MQTT backend configuration for this broker.
    pub(crate) fn mqtt_config(&self, client_id: &str, queue_capacity: usize) -> anyhow::Result<MqttConfig> {
        let mut c = MqttConfig::from_url(&format!("mqtt://{}:{}", self.host, self.port))?;
        c.client_id(client_id).queue_capacity(queue_capacity);
        Ok(c)
    }
}

pub(crate) struct Broker {
    child: Option<Child>,
    dir: Option<PathBuf>,
    endpoint: Endpoint,
}

impl Broker {
    pub(crate) fn external(url: &str) -> anyhow::Result<Broker> {
        let rest = url.strip_prefix("mqtt://").or_else(|| url.strip_prefix("tcp://")).unwrap_or(url).trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.parse::<u16>().with_context(|| format!("bad port in `{url}`"))?),
            None => (rest.to_string(), 1883),
        };
        TcpStream::connect((host.as_str(), port)).with_context(|| format!("cannot reach the broker at {url}"))?;
        Ok(Broker { child: None, dir: None, endpoint: Endpoint { host, port, description: format!("external broker {url}") } })
    }

    /// Start Mosquitto on a free loopback port, logging errors only.
    pub(crate) fn start() -> anyhow::Result<Broker> {
        let bin = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .unwrap_or_else(|| PathBuf::from("mosquitto"));
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let dir = std::env::temp_dir().join(format!("sl-bench-mosq-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let conf = dir.join("mosquitto.conf");
        std::fs::write(&conf, format!("listener {port} 127.0.0.1\nallow_anonymous true\nlog_dest stderr\nlog_type error\nlog_type warning\n"))?;
        let child = Command::new(&bin)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {} (install mosquitto, or pass --broker mqtt://HOST:PORT)", bin.display()))?;
        let mut broker = Broker {
            child: Some(child),
            dir: Some(dir),
            endpoint: Endpoint { host: "127.0.0.1".into(), port, description: String::new() },
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = broker.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                bail!("mosquitto exited before listening: {status}");
            }
            if Instant::now() > deadline {
                bail!("mosquitto did not listen on port {port} within 10 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let version = Command::new(&bin)
            .arg("-h")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).lines().next().map(|l| l.trim().to_string()))
            .filter(|l| l.contains("version"))
            .unwrap_or_else(|| "mosquitto".into());
        broker.endpoint.description = format!("{version}, private instance on 127.0.0.1");
        Ok(broker)
    }

    pub(crate) fn endpoint(&self) -> Endpoint {
        self.endpoint.clone()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

#[derive(Default)]
struct ClientState {
    connected: bool,
    subacks: u64,
    error: Option<String>,
}

/// A plain rumqttc client (no silverline), with the options silverline's MQTT backend uses:
/// QoS 0, clean session, 5 s keep-alive, 2 MiB packets. Its event loop runs on a thread of its
/// own, like the backend's.
pub(crate) struct RawClient {
    pub(crate) client: Client,
    state: Arc<(Mutex<ClientState>, Condvar)>,
}

impl RawClient {
    /// Connect; `on_publish(topic, payload)` runs on the event-loop thread for every message.
    pub(crate) fn connect(ep: &Endpoint, id: &str, capacity: usize, mut on_publish: impl FnMut(&str, &Bytes) + Send + 'static) -> anyhow::Result<RawClient> {
        let mut o = MqttOptions::new(id, ep.host.clone(), ep.port);
        o.set_keep_alive(Duration::from_secs(5));
        o.set_clean_session(true);
        o.set_max_packet_size(2 << 20, 2 << 20);
        let (client, mut connection) = Client::new(o, capacity);
        let state: Arc<(Mutex<ClientState>, Condvar)> = Arc::default();
        let st = state.clone();
        std::thread::Builder::new().name(format!("raw-{id}")).spawn(move || {
            for event in connection.iter() {
                match event {
                    Ok(Event::Incoming(Incoming::Publish(p))) => on_publish(&p.topic, &p.payload),
                    Ok(Event::Incoming(Incoming::ConnAck(_))) => {
                        st.0.lock().connected = true;
                        st.1.notify_all();
                    }
                    Ok(Event::Incoming(Incoming::SubAck(_))) => {
                        st.0.lock().subacks += 1;
                        st.1.notify_all();
                    }
                    Ok(Event::Outgoing(Outgoing::Disconnect)) => break,
                    Ok(_) => {}
                    Err(e) => {
                        let mut s = st.0.lock();
                        s.connected = false;
                        s.error = Some(e.to_string());
                        drop(s);
                        st.1.notify_all();
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            }
        })?;
        let raw = RawClient { client, state };
        raw.wait(|s| s.connected, "CONNACK")?;
        Ok(raw)
    }

    /// Subscribe (QoS 0) and wait for the SUBACK.
    pub(crate) fn subscribe(&self, filter: &str) -> anyhow::Result<()> {
        let want = self.state.0.lock().subacks + 1;
        self.client.subscribe(filter, QoS::AtMostOnce)?;
        self.wait(|s| s.subacks >= want, "SUBACK")
    }

    fn wait(&self, pred: impl Fn(&ClientState) -> bool, what: &str) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut s = self.state.0.lock();
        while !pred(&s) {
            if self.state.1.wait_until(&mut s, deadline).timed_out() {
                bail!("no {what} from the broker within 10 s ({})", s.error.as_deref().unwrap_or("no answer"));
            }
        }
        Ok(())
    }
}

impl Drop for RawClient {
    fn drop(&mut self) {
        let _ = self.client.try_disconnect();
    }
}
