//! A test authenticator with three users, and an MQTT client whose every incoming packet lands in
//! a channel the test reads, so that tests wait on messages rather than on the clock.

use rumqttc::{AsyncClient, ConnectionError, Event, LastWill, MqttOptions, Packet, QoS};
use silverline_broker::{Authenticator, EmbeddedBroker, GateLimits, Permissions};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How long anything expected may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// Users (all with password `pw`): `alice` publishes and reads `a/#` but not `a/secret`; `bob`
/// publishes `b/#` and reads everything; `orch` publishes and reads everything; `carol` reads
/// `c/#` until [`CAROL_REVOKED`] is set.
pub struct Users;

/// Revokes `carol`'s password.
pub static CAROL_REVOKED: AtomicBool = AtomicBool::new(false);

struct Acl {
    publish: &'static str,
    read: &'static str,
    unreadable: &'static [&'static str],
    revocable: bool,
}

impl Permissions for Acl {
    fn may_publish(&self, topic: &str) -> bool {
        matches(self.publish, topic)
    }
    fn may_read(&self, topic: &str) -> bool {
        matches(self.read, topic) && !self.unreadable.contains(&topic)
    }
    fn revoked(&self) -> bool {
        self.revocable && CAROL_REVOKED.load(Ordering::SeqCst)
    }
}

impl Authenticator for Users {
    fn authenticate(&self, username: &str, password: &[u8]) -> Option<Arc<dyn Permissions>> {
        let acl = match username {
            "alice" => Acl { publish: "a/#", read: "a/#", unreadable: &["a/secret"], revocable: false },
            "bob" => Acl { publish: "b/#", read: "#", unreadable: &[], revocable: false },
            "orch" => Acl { publish: "#", read: "#", unreadable: &[], revocable: false },
            "carol" if CAROL_REVOKED.load(Ordering::SeqCst) => return None,
            "carol" => Acl { publish: "c/#", read: "c/#", unreadable: &[], revocable: true },
            _ => return None,
        };
        (password == b"pw").then(|| Arc::new(acl) as Arc<dyn Permissions>)
    }
}

/// MQTT filter matching, enough for the filters above.
fn matches(filter: &str, topic: &str) -> bool {
    match filter.strip_suffix('#') {
        Some(prefix) => topic.starts_with(prefix),
        None => filter == topic,
    }
}

pub fn secured() -> EmbeddedBroker {
    secured_with(GateLimits::default())
}

pub fn secured_with(limits: GateLimits) -> EmbeddedBroker {
    EmbeddedBroker::start_secured("127.0.0.1:0".parse().unwrap(), Arc::new(Users), limits).unwrap()
}

/// How to connect: client id, credentials, will.
pub struct Login {
    pub id: &'static str,
    pub user: Option<(&'static str, &'static str)>,
    pub will: Option<LastWill>,
}

impl Login {
    pub fn user(id: &'static str, user: &'static str) -> Login {
        Login { id, user: Some((user, "pw")), will: None }
    }
}

/// A connected client. Its event loop runs on a task until the connection fails or
/// [`Client::kill`] aborts it.
pub struct Client {
    pub mqtt: AsyncClient,
    incoming: mpsc::UnboundedReceiver<Packet>,
    /// Receives the error that ended the event loop.
    ended: mpsc::UnboundedReceiver<ConnectionError>,
    task: JoinHandle<()>,
}

/// Connects and waits for the CONNACK; the broker's refusal is the error.
pub async fn connect(broker: &EmbeddedBroker, login: Login) -> Result<Client, ConnectionError> {
    let addr = broker.addr();
    let mut opts = MqttOptions::new(login.id, addr.ip().to_string(), addr.port());
    opts.set_max_packet_size(1 << 20, 1 << 20);
    if let Some((user, password)) = login.user {
        opts.set_credentials(user, password);
    }
    if let Some(will) = login.will {
        opts.set_last_will(will);
    }
    let (mqtt, mut events) = AsyncClient::new(opts, 100);
    loop {
        match tokio::time::timeout(WAIT, events.poll()).await.expect("no CONNACK")? {
            Event::Incoming(Packet::ConnAck(_)) => break,
            _ => continue,
        }
    }
    let (in_tx, incoming) = mpsc::unbounded_channel();
    let (end_tx, ended) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(packet)) => drop(in_tx.send(packet)),
                Ok(Event::Outgoing(_)) => {}
                Err(e) => {
                    drop(end_tx.send(e));
                    return;
                }
            }
        }
    });
    Ok(Client { mqtt, incoming, ended, task })
}

impl Client {
    /// The next incoming packet that `pick` accepts; fails the test after [`WAIT`].
    pub async fn expect<T>(&mut self, what: &str, mut pick: impl FnMut(Packet) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let packet = tokio::time::timeout_at(deadline, self.incoming.recv()).await;
            let packet = packet.unwrap_or_else(|_| panic!("no {what} within {WAIT:?}"));
            let packet = packet.unwrap_or_else(|| panic!("connection ended waiting for {what}"));
            if let Some(found) = pick(packet) {
                return found;
            }
        }
    }

    /// The next message: (topic, payload).
    pub async fn next_message(&mut self) -> (String, Vec<u8>) {
        self.expect("message", |p| match p {
            Packet::Publish(p) => Some((p.topic, p.payload.to_vec())),
            _ => None,
        })
        .await
    }

    pub async fn subscribe(&mut self, filter: &str, qos: QoS) {
        self.mqtt.subscribe(filter, qos).await.unwrap();
        self.expect("SUBACK", |p| matches!(p, Packet::SubAck(_)).then_some(())).await;
    }

    pub async fn publish(&self, topic: &str, qos: QoS, payload: &str) {
        self.mqtt.publish(topic, qos, false, payload.as_bytes().to_vec()).await.unwrap();
    }

    /// The error that ended the connection, waiting for it up to [`WAIT`].
    pub async fn ended(&mut self) -> ConnectionError {
        let end = tokio::time::timeout(WAIT, self.ended.recv()).await.expect("the connection did not end");
        end.expect("the event loop ended without an error")
    }

    /// Whether the connection has failed so far.
    pub fn has_ended(&mut self) -> Option<ConnectionError> {
        self.ended.try_recv().ok()
    }

    /// Drops the connection as a crashed client would: no DISCONNECT.
    pub async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}
