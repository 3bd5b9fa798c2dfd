//! Carries one admitted client's packets to rumqttd and back, enforcing its permissions on the
//! way: the part of the gate that runs for as long as the client stays connected.
//!
//! Four futures per connection: a reader per direction deciding what passes, and a writer per
//! socket. Towards the client a backlog sits between reader and writer, so that a client that
//! reads slowly loses its oldest QoS 0 messages (counted) rather than holding up rumqttd, and one
//! that reads nothing at all is disconnected. Only a socket's writer writes to it, so the acks the gate makes up never land inside a
//! frame being forwarded. When a side ends cleanly, what was already read from it is flushed to
//! the other side before that one is closed too; when anything fails, both close at once.

use crate::acks::{Ack, BrokerAcks, PubRel};
use crate::gate::{GateLimits, Permissions, Stats, REVOCATION_CHECK};
use crate::packet::{self, kind, read_frame, Frame, Publish};
use std::collections::HashSet;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncWriteExt, BufReader, BufWriter};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Frames queued per socket: enough to keep both sockets busy, few enough that a client that
/// stops reading is slowed down soon.
const QUEUE: usize = 64;

/// How long a side that ended cleanly may take to pass on what it had sent.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Denied publishes logged per connection; the rest are only counted.
const LOGGED_DENIALS: u64 = 3;

/// A client the gate admitted, with its connection to rumqttd (CONNECT already sent).
pub(crate) struct Session {
    pub peer: SocketAddr,
    pub username: String,
    pub perms: Arc<dyn Permissions>,
    pub stats: Arc<Stats>,
    pub broker: TcpStream,
}

/// What a reader hands a writer.
enum Out {
    Frame(Vec<u8>),
    /// Write what is queued, then close.
    Finish,
}

/// The acks owed to rumqttd and the channel they go out on, locked together so that they leave
/// in the order [`BrokerAcks`] released them even when both readers release some.
struct AckLine {
    acks: BrokerAcks,
    tx: mpsc::UnboundedSender<Vec<u8>>,
}

impl AckLine {
    fn send(&self, acks: Vec<Ack>) -> io::Result<()> {
        acks.into_iter().try_for_each(|(kind, pid)| self.send_raw(packet::ack(kind, pid)))
    }

    fn send_raw(&self, bytes: Vec<u8>) -> io::Result<()> {
        self.tx.send(bytes).map_err(|_| closed())
    }
}

/// Relays until either side closes.
pub(crate) async fn run(session: Session, client: TcpStream, limits: &GateLimits) {
    let Session { peer, username, perms, stats, broker } = session;
    let (client_r, client_w) = client.into_split();
    let (broker_r, broker_w) = broker.into_split();
    let (to_client, client_rx) = mpsc::channel(QUEUE);
    let (to_broker, broker_rx) = mpsc::channel(QUEUE);
    // Unbounded so that the broker's reader never waits on the broker's writer, which could be
    // waiting on rumqttd, which stops reading while it cannot write to us. Its length is bounded
    // by rumqttd's in-flight window: rumqttd sends no more QoS > 0 messages until these are acked.
    let (acks_tx, acks_rx) = mpsc::unbounded_channel();
    let line = Mutex::new(AckLine { acks: BrokerAcks::default(), tx: acks_tx });
    let mut client_writer = pin!(write_frames(client_w, client_rx, None));
    let mut broker_writer = pin!(write_frames(broker_w, broker_rx, Some(acks_rx)));
    let mut up = Upstream { perms: &*perms, stats: &stats, peer, username: &username, denied: 0, denied_qos2: HashSet::new() };
    let down = Downstream { perms: &*perms, stats: &stats };
    let max_from_broker = limits.max_packet_bytes + 5;

    let end = tokio::select! {
        end = up.run(client_r, limits.max_packet_bytes, &to_broker, &to_client, &line) => {
            match &end {
                // Oversized or malformed packets: someone to look into, unlike a dropped link.
                Err(e) if e.kind() == io::ErrorKind::InvalidData => tracing::warn!(%peer, username, "MQTT client disconnected: {e}"),
                _ => {}
            }
            drain(end, "the client", &mut broker_writer).await
        }
        end = down.run(broker_r, max_from_broker, &to_client, &line, limits) => {
            if end.as_ref().is_err_and(|e| e.kind() == io::ErrorKind::TimedOut) {
                stats.count_slow();
                tracing::warn!(%peer, username, "MQTT client disconnected: it read nothing for {:?} while messages waited", limits.slow_client_timeout);
            }
            drain(end, "the broker", &mut client_writer).await
        }
        () = revocation(&*perms) => {
            stats.count_revoked();
            tracing::warn!(%peer, username, "MQTT client disconnected: its credentials were revoked");
            "credentials revoked".to_string()
        }
        end = &mut client_writer => format!("writing to the client: {}", reason(end)),
        end = &mut broker_writer => format!("writing to the broker: {}", reason(end)),
    };
    tracing::debug!(%peer, username, "MQTT client disconnected: {end}");
    if up.denied > LOGGED_DENIALS {
        tracing::warn!(%peer, username, "MQTT client was denied {} publishes in all", up.denied);
    }
}

/// Ends once the client's credentials are revoked.
async fn revocation(perms: &dyn Permissions) {
    let mut every = tokio::time::interval(REVOCATION_CHECK);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !perms.revoked() {
        every.tick().await;
    }
}

/// After a side ended: lets the other side's writer finish if the end was clean.
async fn drain(end: io::Result<()>, side: &str, writer: impl std::future::Future<Output = io::Result<()>>) -> String {
    match end {
        Ok(()) => match tokio::time::timeout(FLUSH_TIMEOUT, writer).await {
            Ok(_) => format!("{side} closed"),
            Err(_) => format!("{side} closed, and the rest could not be passed on within {FLUSH_TIMEOUT:?}"),
        },
        Err(e) => format!("reading from {side}: {e}"),
    }
}

fn reason(end: io::Result<()>) -> String {
    end.err().map_or_else(|| "closed".into(), |e| e.to_string())
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the other side of the relay closed")
}

fn violation(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("protocol violation: {what}"))
}

async fn send(tx: &mpsc::Sender<Out>, bytes: Vec<u8>) -> io::Result<()> {
    tx.send(Out::Frame(bytes)).await.map_err(|_| closed())
}

async fn finish(tx: &mpsc::Sender<Out>) -> io::Result<()> {
    tx.send(Out::Finish).await.map_err(|_| closed())
}

/// Client to broker: drops what the client may not publish.
struct Upstream<'a> {
    perms: &'a dyn Permissions,
    stats: &'a Stats,
    peer: SocketAddr,
    username: &'a str,
    denied: u64,
    /// QoS 2 publishes the gate dropped but answered with PUBREC, so it also answers their PUBREL.
    denied_qos2: HashSet<u16>,
}

impl Upstream<'_> {
    async fn run(
        &mut self,
        from: OwnedReadHalf,
        max_packet: usize,
        to_broker: &mpsc::Sender<Out>,
        to_client: &mpsc::Sender<Out>,
        line: &Mutex<AckLine>,
    ) -> io::Result<()> {
        let mut from = BufReader::new(from);
        while let Some(frame) = read_frame(&mut from, max_packet).await? {
            match frame.kind() {
                kind::PUBLISH => self.publish(frame, to_broker, to_client).await?,
                kind::PUBACK | kind::PUBREC | kind::PUBCOMP => ack_delivery(frame, line)?,
                kind::PUBREL => self.pubrel(frame, to_broker, to_client).await?,
                kind::DISCONNECT => {
                    send(to_broker, frame.into_bytes()).await?;
                    break;
                }
                kind::CONNECT => return Err(violation("a second CONNECT")),
                kind::CONNACK | kind::SUBACK | kind::UNSUBACK | kind::PINGRESP | 0 | 15 => {
                    return Err(violation("a packet only a server sends"))
                }
                _ => send(to_broker, frame.into_bytes()).await?,
            }
        }
        finish(to_broker).await
    }

    async fn publish(&mut self, frame: Frame, to_broker: &mpsc::Sender<Out>, to_client: &mpsc::Sender<Out>) -> io::Result<()> {
        let p = Publish::parse(&frame)?;
        if self.perms.may_publish(p.topic) {
            return send(to_broker, frame.into_bytes()).await;
        }
        self.stats.count_denied();
        self.denied += 1;
        self.log_denial(p.topic);
        // MQTT 3.1.1 has no negative ack: acknowledge as if delivered, as Mosquitto does, so that
        // the client does not resend it forever.
        match (p.qos, p.pid) {
            (1, Some(pid)) => send(to_client, packet::ack(kind::PUBACK, pid)).await,
            (2, Some(pid)) => {
                self.denied_qos2.insert(pid);
                send(to_client, packet::ack(kind::PUBREC, pid)).await
            }
            _ => Ok(()),
        }
    }

    fn log_denial(&self, topic: &str) {
        let (peer, username) = (self.peer, self.username);
        if self.denied <= LOGGED_DENIALS {
            tracing::warn!(%peer, username, topic, "MQTT publish denied");
        }
        if self.denied == LOGGED_DENIALS {
            tracing::warn!(%peer, username, "further denied publishes of this client are only counted");
        }
    }

    async fn pubrel(&mut self, frame: Frame, to_broker: &mpsc::Sender<Out>, to_client: &mpsc::Sender<Out>) -> io::Result<()> {
        let pid = frame.ack_pid()?;
        if self.denied_qos2.remove(&pid) {
            send(to_client, packet::ack(kind::PUBCOMP, pid)).await
        } else {
            send(to_broker, frame.into_bytes()).await
        }
    }
}

/// The client acknowledged a delivery: pass that on once everything before it is acknowledged.
fn ack_delivery(frame: Frame, line: &Mutex<AckLine>) -> io::Result<()> {
    let pid = frame.ack_pid()?;
    let mut line = line.lock().unwrap_or_else(|e| e.into_inner());
    match line.acks.client_acked(frame.kind(), pid) {
        Some(acks) => line.send(acks),
        None => line.send_raw(frame.into_bytes()),
    }
}

/// What rumqttd sent that the client has not taken yet.
#[derive(Default)]
struct Backlog {
    frames: std::collections::VecDeque<Vec<u8>>,
    /// Bytes of the QoS 0 publishes among `frames`: the ones that may be dropped.
    droppable_bytes: usize,
    ended: bool,
}

/// A QoS 0 PUBLISH: nobody waits for an ack of it, so it may give way to a newer message.
fn droppable(frame: &[u8]) -> bool {
    frame.first().is_some_and(|b| b >> 4 == kind::PUBLISH && (b >> 1) & 3 == 0)
}

impl Backlog {
    /// Queue `frame`; drop the oldest QoS 0 publishes while those exceed `budget` bytes.
    /// Returns how many were dropped.
    fn push(&mut self, frame: Vec<u8>, budget: usize) -> usize {
        if droppable(&frame) {
            self.droppable_bytes += frame.len();
        }
        self.frames.push_back(frame);
        let mut dropped = 0;
        while self.droppable_bytes > budget {
            let Some(at) = self.frames.iter().position(|f| droppable(f)) else { break };
            let gone = self.frames.remove(at).unwrap_or_default();
            self.droppable_bytes -= gone.len();
            dropped += 1;
        }
        dropped
    }

    fn pop(&mut self) -> Option<Vec<u8>> {
        let frame = self.frames.pop_front()?;
        if droppable(&frame) {
            self.droppable_bytes -= frame.len();
        }
        Some(frame)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Broker to client: withholds what the client may not read.
struct Downstream<'a> {
    perms: &'a dyn Permissions,
    stats: &'a Stats,
}

impl Downstream<'_> {
    async fn run(
        &self,
        from: OwnedReadHalf,
        max_packet: usize,
        to_client: &mpsc::Sender<Out>,
        line: &Mutex<AckLine>,
        limits: &GateLimits,
    ) -> io::Result<()> {
        // Reading from rumqttd never waits for the client: what the client has not taken yet
        // waits in the backlog, where its oldest QoS 0 messages give way to newer ones.
        let backlog = Mutex::new(Backlog::default());
        let ready = tokio::sync::Notify::new();
        let read = async {
            let mut from = BufReader::new(from);
            while let Some(frame) = read_frame(&mut from, max_packet).await? {
                let forward = match frame.kind() {
                    kind::PUBLISH => self.publish(&frame, line)?,
                    kind::PUBREL => pubrel(&frame, line)?,
                    _ => true,
                };
                if forward {
                    let dropped = lock(&backlog).push(frame.into_bytes(), limits.client_buffer_bytes);
                    (0..dropped).for_each(|_| self.stats.count_dropped_for_slow());
                    ready.notify_one();
                }
            }
            lock(&backlog).ended = true;
            ready.notify_one();
            Ok::<(), io::Error>(())
        };
        let forward = async {
            loop {
                let next = lock(&backlog).pop();
                match next {
                    Some(bytes) => {
                        let stalled = || io::Error::new(io::ErrorKind::TimedOut, "the client stopped reading");
                        tokio::time::timeout(limits.slow_client_timeout, send(to_client, bytes)).await.map_err(|_| stalled())??;
                    }
                    None if lock(&backlog).ended => return finish(to_client).await,
                    None => ready.notified().await,
                }
            }
        };
        tokio::try_join!(read, forward).map(|_| ())
    }

    /// Whether the message goes on to the client; if not, the gate acknowledges it.
    fn publish(&self, frame: &Frame, line: &Mutex<AckLine>) -> io::Result<bool> {
        let p = Publish::parse(frame)?;
        let readable = self.perms.may_read(p.topic);
        if !readable {
            self.stats.count_withheld();
        }
        let Some(pid) = p.pid else { return Ok(readable) };
        // Registered before the message is passed on, so the client's ack always finds it.
        let mut line = line.lock().unwrap_or_else(|e| e.into_inner());
        if readable {
            line.acks.delivered(p.qos, pid);
        } else {
            let acks = line.acks.withheld(p.qos, pid);
            line.send(acks)?;
        }
        Ok(readable)
    }
}

/// Whether rumqttd's PUBREL goes on to the client; if not, the gate completes it.
fn pubrel(frame: &Frame, line: &Mutex<AckLine>) -> io::Result<bool> {
    let pid = frame.ack_pid()?;
    let mut line = line.lock().unwrap_or_else(|e| e.into_inner());
    match line.acks.pubrel(pid) {
        PubRel::Forward => Ok(true),
        PubRel::Completed(acks) => line.send(acks).map(|()| false),
    }
}

/// The only writer of a socket: frames from `frames`, acks from `urgent` ahead of them.
async fn write_frames(
    to: OwnedWriteHalf,
    mut frames: mpsc::Receiver<Out>,
    mut urgent: Option<mpsc::UnboundedReceiver<Vec<u8>>>,
) -> io::Result<()> {
    let mut to = BufWriter::new(to);
    loop {
        let out = tokio::select! {
            biased;
            Some(ack) = recv(&mut urgent) => Out::Frame(ack),
            out = frames.recv() => out.unwrap_or(Out::Finish),
        };
        match out {
            Out::Frame(bytes) => to.write_all(&bytes).await?,
            Out::Finish => break,
        }
        // Many small packets often arrive together: one write for all that are queued.
        if frames.is_empty() && urgent.as_ref().is_none_or(|u| u.is_empty()) {
            to.flush().await?;
        }
    }
    if let Some(urgent) = &mut urgent {
        while let Ok(ack) = urgent.try_recv() {
            to.write_all(&ack).await?;
        }
    }
    to.shutdown().await
}

async fn recv(rx: &mut Option<mpsc::UnboundedReceiver<Vec<u8>>>) -> Option<Vec<u8>> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
