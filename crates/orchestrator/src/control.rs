//! The Orchestrator's side of the control plane: one MQTT connection that hears every Host and
//! sends commands. Malformed messages are logged and dropped, never fatal.

use crate::core::{Core, Outgoing};
use parking_lot::Mutex;
use rumqttc::{AsyncClient, Event, EventLoop, Incoming, QoS};
use silverline_proto::{self as proto, topics, CommandId, CommandKind, ModuleId};
use silverline_security::grants::Endpoints;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Sends commands and remembers which module each one is about, to attribute failures.
pub struct Control {
    client: AsyncClient,
    security: Arc<crate::auth::Security>,
    instance: String,
    next: AtomicU64,
    pending: Mutex<HashMap<CommandId, Option<ModuleId>>>,
    outbox: tokio::sync::mpsc::UnboundedSender<Out>,
    /// Connected to the broker now (Hosts cannot be heard otherwise).
    connected: std::sync::atomic::AtomicBool,
    /// Message counts for `/metrics`.
    pub(crate) counters: crate::metrics::ControlCounters,
}

impl Control {
    /// Connect (lazily: the event loop does the work) to the broker `mqtt` names, with its
    /// login and TLS settings; commands are signed with `security`'s key. Must be called
    /// within a Tokio runtime (it starts the task that publishes commands).
    pub fn new(mqtt: &silverline_channels::MqttConfig, instance: String, security: Arc<crate::auth::Security>) -> anyhow::Result<(Arc<Control>, EventLoop)> {
        let mut o = mqtt.mqtt_options()?;
        o.set_max_packet_size(8 << 20, 8 << 20);
        let (client, mut eventloop) = AsyncClient::new(o, 1024);
        silverline_channels::no_delay(&mut eventloop);
        let (outbox, queue) = tokio::sync::mpsc::unbounded_channel();
        let control = Arc::new(Control {
            client,
            security,
            instance,
            next: AtomicU64::new(1),
            pending: Mutex::new(HashMap::new()),
            outbox,
            connected: Default::default(),
            counters: Default::default(),
        });
        tokio::spawn(publish_commands(control.clone(), queue));
        Ok((control, eventloop))
    }

    /// Queue commands for publishing, in order (at most [`crate::outbox::WINDOW`]
    /// unacknowledged at a time per Host). Never waits: the control-plane event loop calls
    /// this, and the client's request queue that publishing fills is drained only by that loop.
    pub fn send(&self, commands: Vec<Outgoing>) {
        for (host, kind) in commands {
            self.follow_grants(&host, &kind);
            self.tell(Out::Command(host, kind));
        }
    }

    /// A Host may use a module's topics from before its deploy is sent until its delete is,
    /// so that the broker never withholds a message the module was meant to see.
    fn follow_grants(&self, host: &str, kind: &CommandKind) {
        let grants = self.security.grants();
        match kind {
            CommandKind::Deploy(d) => grants.grant(host, &d.module.0, Endpoints::of_manifest(&d.manifest)),
            CommandKind::Delete { module } => grants.revoke(host, &module.0),
            _ => {}
        }
    }

    fn tell(&self, out: Out) {
        if self.outbox.send(out).is_err() {
            tracing::error!("the command publisher has stopped; dropping a command");
        }
    }

    /// Is the Orchestrator connected to the broker?
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    /// Publish one command with a fresh id (QoS 1: at least once; Hosts deduplicate by id).
    async fn publish(&self, host: &str, kind: CommandKind) -> CommandId {
        let id = CommandId(format!("{}-{}", self.instance, self.next.fetch_add(1, Ordering::Relaxed)));
        tracing::debug!("command {id} to `{host}`: {kind:?}");
        match &kind {
            // Not acknowledged: nothing to wait for.
            CommandKind::Lease { .. } | CommandKind::Register => {}
            CommandKind::Deploy(d) => drop(self.pending.lock().insert(id.clone(), Some(d.module.clone()))),
            _ => drop(self.pending.lock().insert(id.clone(), None)),
        }
        self.counters.sent(crate::metrics::command_name(&kind));
        let body = String::from_utf8(proto::encode(&proto::Command { id: id.clone(), kind })).expect("JSON is UTF-8");
        let signed = self.security.signer().sign(host, body);
        if let Err(e) = self.client.publish(topics::commands(host), QoS::AtLeastOnce, false, proto::encode(&signed)).await {
            tracing::error!("cannot send a command to `{host}`: {e}");
        }
        id
    }
}

/// What the command publisher is told.
enum Out {
    Command(String, CommandKind),
    /// The Host acknowledged a command: room in its window.
    Acked(String, CommandId),
    /// The Host registered (again): nothing is in flight on its new connection.
    Registered(String),
}

/// The only publisher of commands, and the only user of the [`crate::outbox::Outbox`].
async fn publish_commands(control: Arc<Control>, mut queue: tokio::sync::mpsc::UnboundedReceiver<Out>) {
    let mut outbox = crate::outbox::Outbox::default();
    let mut expiry = tokio::time::interval(Duration::from_secs(1));
    loop {
        let released: Vec<(String, CommandKind)> = tokio::select! {
            out = queue.recv() => match out {
                None => return,
                Some(Out::Command(host, kind)) => outbox.push(&host, kind).into_iter().map(|k| (host.clone(), k)).collect(),
                Some(Out::Acked(host, id)) => outbox.acked(&host, &id).into_iter().map(|k| (host.clone(), k)).collect(),
                Some(Out::Registered(host)) => outbox.reset(&host).into_iter().map(|k| (host.clone(), k)).collect(),
            },
            _ = expiry.tick() => outbox.expire(std::time::Instant::now()),
        };
        for (host, kind) in released {
            let held = kind.clone();
            let id = control.publish(&host, kind).await;
            outbox.sent(&host, id, &held);
        }
        control.counters.set_queued(outbox.queued());
    }
}

/// Serve the control plane until the process ends.
pub async fn serve(core: Arc<Core>, control: Arc<Control>, mut eventloop: EventLoop) {
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Incoming::ConnAck(_))) => {
                // Silence while the Orchestrator itself was cut off says nothing about the
                // Hosts: they get a fresh timeout to re-register (the greeting asks them to).
                core.grace_hosts();
                control.connected.store(true, Ordering::Release);
                let control = control.clone();
                tokio::spawn(async move { on_connect(&control).await });
            }
            Ok(Event::Incoming(Incoming::Publish(p))) if p.topic.starts_with(crate::failover::TOPIC_PREFIX) => {
                // Failover traffic: PROMOTED notifications, and link events when the
                // Orchestrator itself coordinates (the baseline). Data plane: QoS 0, like sidecars.
                for (topic, payload) in core.failover_message(&p.topic, &p.payload) {
                    if let Err(e) = control.client.try_publish(topic, QoS::AtMostOnce, false, payload) {
                        tracing::warn!("dropping a failover message: {e}");
                    }
                }
            }
            Ok(Event::Incoming(Incoming::Publish(p))) => {
                let commands = on_message(&core, &control, &p.topic, &p.payload);
                control.send(commands);
            }
            Ok(_) => {}
            Err(e) => {
                control.connected.store(false, Ordering::Release);
                tracing::warn!("control plane connection: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

async fn on_connect(control: &Control) {
    for leaf in ["register", "state", "status", "events", "acks"] {
        let _ = control.client.subscribe(topics::all_hosts(leaf), QoS::AtLeastOnce).await;
    }
    for leaf in ["notify", "links"] {
        let _ = control.client.subscribe(format!("{}/+/+/{leaf}", crate::failover::TOPIC_PREFIX), QoS::AtMostOnce).await;
    }
    let hello = proto::encode(&proto::Hello { orchestrator: control.instance.clone() });
    let _ = control.client.publish(topics::hello(), QoS::AtLeastOnce, false, hello).await;
}

/// Handle one control-plane message; returns commands to send in reaction.
pub fn on_message(core: &Core, control: &Control, topic: &str, payload: &[u8]) -> Vec<Outgoing> {
    let Some((host, leaf)) = topics::parse(topic) else {
        tracing::warn!("dropping a message on unexpected topic `{topic}`");
        return Vec::new();
    };
    control.counters.received(leaf);
    let dropped = |e: proto::ProtoError| {
        control.counters.malformed(leaf);
        tracing::warn!("dropping a malformed `{leaf}` message from `{host}`: {e}");
        Vec::new()
    };
    match leaf {
        "register" => match proto::decode::<proto::Registration>(payload) {
            Ok(reg) if reg.host.name == host => {
                control.tell(Out::Registered(host.to_string()));
                core.host_registered(reg)
            }
            Ok(reg) => {
                tracing::warn!("dropping a registration of `{}` on `{host}`'s topic", reg.host.name);
                Vec::new()
            }
            Err(e) => dropped(e),
        },
        "state" => match proto::decode::<proto::HostState>(payload) {
            Ok(s) if !s.online => core.host_lost(host),
            Ok(_) => Vec::new(),
            Err(e) => dropped(e),
        },
        "status" => match proto::decode::<proto::StatusReport>(payload) {
            Ok(report) => core.host_status(host, report),
            Err(e) => dropped(e),
        },
        "events" => match proto::decode::<proto::HostEvent>(payload) {
            Ok(event) => {
                core.events().host_event(host, &event);
                core.host_event(host, &event);
                Vec::new()
            }
            Err(e) => dropped(e),
        },
        "acks" => match proto::decode::<proto::Ack>(payload) {
            Ok(ack) => {
                on_ack(core, control, host, ack);
                Vec::new()
            }
            Err(e) => dropped(e),
        },
        _ => Vec::new(),
    }
}

fn on_ack(core: &Core, control: &Control, host: &str, ack: proto::Ack) {
    control.tell(Out::Acked(host.to_string(), ack.command.clone()));
    let module = control.pending.lock().remove(&ack.command).flatten();
    control.counters.ack(ack.ok);
    if let Some(module) = &module {
        core.events().deploy_acked(host, module, ack.error.as_deref());
    }
    if !ack.ok {
        tracing::warn!("host `{host}` refused command {}: {}", ack.command, ack.error.as_deref().unwrap_or("?"));
    }
    if let Some(module) = module {
        core.note_deploy(&module, host, ack.error);
    }
}
