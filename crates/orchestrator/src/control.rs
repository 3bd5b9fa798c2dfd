//! The Orchestrator's side of the control plane: one MQTT connection that hears every Host and
//! sends commands. Malformed messages are logged and dropped, never fatal.

use crate::core::{Core, Outgoing};
use parking_lot::Mutex;
use rumqttc::{AsyncClient, Event, EventLoop, Incoming, QoS};
use silverline_proto::{self as proto, topics, CommandId, CommandKind, ModuleId};
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
    /// Message counts for `/metrics` (issue 8).
    pub(crate) counters: crate::metrics::ControlCounters,
}

impl Control {
    /// Connect (lazily: the event loop does the work) to the broker `mqtt` names, with its
    /// login and TLS settings; commands are signed with `security`'s key.
    pub fn new(mqtt: &silverline_channels::MqttConfig, instance: String, security: Arc<crate::auth::Security>) -> anyhow::Result<(Arc<Control>, EventLoop)> {
        let mut o = mqtt.mqtt_options()?;
        o.set_max_packet_size(8 << 20, 8 << 20);
        let (client, mut eventloop) = AsyncClient::new(o, 1024);
        silverline_channels::no_delay(&mut eventloop);
        Ok((Arc::new(Control { client, security, instance, next: AtomicU64::new(1), pending: Mutex::new(HashMap::new()), counters: Default::default() }), eventloop))
    }

    /// Publish commands, each with a fresh id (QoS 1: at least once; Hosts deduplicate by id).
    pub async fn send(&self, commands: Vec<Outgoing>) {
        for (host, kind) in commands {
            let id = CommandId(format!("{}-{}", self.instance, self.next.fetch_add(1, Ordering::Relaxed)));
            let module = match &kind {
                CommandKind::Deploy(d) => Some(d.module.clone()),
                _ => None,
            };
            tracing::debug!("command {id} to `{host}`: {kind:?}");
            self.pending.lock().insert(id.clone(), module);
            self.counters.sent(crate::metrics::command_name(&kind)); // issue 8
            let body = String::from_utf8(proto::encode(&proto::Command { id, kind })).expect("JSON is UTF-8");
            let signed = self.security.signer().sign(&host, body);
            if let Err(e) = self.client.publish(topics::commands(&host), QoS::AtLeastOnce, false, proto::encode(&signed)).await {
                tracing::error!("cannot send a command to `{host}`: {e}");
            }
        }
    }
}

/// Serve the control plane until the process ends.
pub async fn serve(core: Arc<Core>, control: Arc<Control>, mut eventloop: EventLoop) {
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Incoming::ConnAck(_))) => on_connect(&control).await,
            Ok(Event::Incoming(Incoming::Publish(p))) if p.topic.starts_with(crate::failover::TOPIC_PREFIX) => {
                // Failover traffic (issue 6): PROMOTED notifications, and link events when the
                // Orchestrator itself coordinates (the baseline). Data plane: QoS 0, like sidecars.
                for (topic, payload) in core.failover_message(&p.topic, &p.payload) {
                    let _ = control.client.publish(topic, QoS::AtMostOnce, false, payload).await;
                }
            }
            Ok(Event::Incoming(Incoming::Publish(p))) => {
                let commands = on_message(&core, &control, &p.topic, &p.payload);
                control.send(commands).await;
            }
            Ok(_) => {}
            Err(e) => {
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
    control.counters.received(leaf); // issue 8
    let dropped = |e: proto::ProtoError| {
        control.counters.malformed(leaf); // issue 8
        tracing::warn!("dropping a malformed `{leaf}` message from `{host}`: {e}");
        Vec::new()
    };
    match leaf {
        "register" => match proto::decode::<proto::Registration>(payload) {
            Ok(reg) if reg.host.name == host => core.host_registered(reg),
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
            Ok(report) => {
                core.host_status(host, report);
                Vec::new()
            }
            Err(e) => dropped(e),
        },
        "events" => match proto::decode::<proto::HostEvent>(payload) {
            Ok(event) => {
                core.events().host_event(host, &event); // issue 8: onto the event stream
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
    let module = control.pending.lock().remove(&ack.command).flatten();
    control.counters.ack(ack.ok); // issue 8
    if let Some(module) = &module {
        core.events().deploy_acked(host, module, ack.error.as_deref()); // issue 8
    }
    if !ack.ok {
        tracing::warn!("host `{host}` refused command {}: {}", ack.command, ack.error.as_deref().unwrap_or("?"));
    }
    if let Some(module) = module {
        core.note_deploy(&module, host, ack.error);
    }
}
