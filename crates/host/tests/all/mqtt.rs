//! The MQTT backend against a real Mosquitto: two Hosts exchange messages through the broker.

use crate::common::*;
use silverline_channels::{MqttBackend, MqttConfig, RoutingMode};
use silverline_host::{Host, HostConfig};
use silverline_test_programs::broker::Mosquitto;
use silverline_test_programs::{COUNTER_C, ECHO_C};
use std::sync::Arc;

fn attach(host: &Host, broker: &Mosquitto, client: &str) -> Arc<MqttBackend> {
    let mut cfg = MqttConfig::from_url(&broker.url()).unwrap();
    cfg.client_id(client);
    let backend = MqttBackend::connect(&cfg, host.router().remote_sink()).unwrap();
    host.router().attach_remote(backend.clone());
    backend
}

#[test]
fn two_hosts_talk_through_mosquitto() {
    let broker = Mosquitto::start();
    let (producer, _) = host();
    let (consumer, _) = host();
    let _pb = attach(&producer, &broker, "producer");
    let cb = attach(&consumer, &broker, "consumer");
    let manifest = app(&format!(
        r#"
name: remote
modules:
  - name: echo
    file: {ECHO_C}
    trigger: {{ type: event, channel: in }}
    inputChannels:
      channels: [{{ name: in, endpoint: remote/count, queueDepth: 64 }}]
    outputChannels:
      channels: [{{ name: out, endpoint: remote/echoed }}]
"#
    ));
    let echoed = observe(&consumer, "remote/echoed", 256);
    consumer.deploy_app(&manifest).unwrap();
    assert!(cb.wait_subscribed(WAIT), "broker did not acknowledge the subscription");
    let extra = "    outputChannels:\n      channels: [{ name: out, endpoint: remote/count }]\n";
    producer.deploy_app(&periodic("remote", "counter", COUNTER_C, 5, extra)).unwrap();
    assert!(wait_messages(&consumer, &echoed, 10));
    let got: Vec<u64> = std::iter::from_fn(|| echoed.pop()).map(|b| String::from_utf8(b.to_vec()).unwrap().parse().unwrap()).collect();
    assert!(got.windows(2).all(|w| w[1] == w[0] + 1), "QoS 0 on loopback TCP keeps order: {got:?}");
}

#[test]
fn broker_only_routing_sends_even_local_traffic_through_the_broker() {
    let broker = Mosquitto::start();
    let mut config = HostConfig::new();
    config.routing(RoutingMode::BrokerOnly);
    let (host, _) = host_with(config);
    let backend = attach(&host, &broker, "broker-only");
    let local = observe(&host, "bo/count", 64);
    assert!(backend.wait_subscribed(WAIT));
    let extra = "    outputChannels:\n      channels: [{ name: out, endpoint: bo/count }]\n";
    host.deploy_app(&periodic("bo", "counter", COUNTER_C, 5, extra)).unwrap();
    assert!(wait_messages(&host, &local, 5));
    // Kill the broker: with no loopback, nothing reaches the local subscriber any more.
    drop(broker);
    let n = local.received();
    assert!(host.wait_for(WAIT, |s| s.module("bo/counter").unwrap().activations >= 40));
    assert!(local.received() <= n + 2, "messages bypassed the (dead) broker");
}

#[test]
fn a_message_the_broker_queue_cannot_take_is_an_error_to_the_module_never_a_success() {
    let broker = Mosquitto::start();
    let (host, _) = host();
    let mut cfg = MqttConfig::from_url(&broker.url()).unwrap();
    cfg.client_id("full-queue").queue_capacity(2);
    let backend = MqttBackend::connect(&cfg, host.router().remote_sink()).unwrap();
    host.router().attach_remote(backend.clone());
    // tick returns a negative publish result from its step: step errors are the module seeing it.
    host.deploy_app(&periodic("q", "tick", silverline_test_programs::TICK_WAT, 2, "    outputChannels:\n      channels: [{ name: out, endpoint: q/t }]\n")).unwrap();
    assert!(host.wait_for(WAIT, |s| s.module("q/tick").unwrap().activations >= 5));
    assert_eq!(host.status().module("q/tick").unwrap().step_errors, 0, "the broker takes everything while it is up");
    // Without a broker nothing drains the backend's queue: it fills, and publishes fail.
    drop(broker);
    assert!(host.wait_for(WAIT, |s| s.module("q/tick").unwrap().step_errors >= 3), "{:?}", host.status().module("q/tick"));
    let m = host.status().module("q/tick").unwrap().clone();
    let out = m.channels.iter().find(|c| c.name == "out").unwrap();
    assert!(out.dropped >= m.step_errors, "every refused message is counted: {out:?} vs {} step errors", m.step_errors);
    assert!(out.messages + out.dropped >= m.activations - 1, "published or counted, nothing in between: {out:?}, {} activations", m.activations);
}

#[test]
fn the_c_header_declares_the_hosts_return_codes() {
    let header = std::fs::read_to_string(format!("{}/silverline.h", silverline_test_programs::SDK_C_DIR)).unwrap();
    let define = |name: &str| -> i32 {
        let line = header.lines().find(|l| l.starts_with(&format!("#define {name} "))).unwrap_or_else(|| panic!("{name} missing from silverline.h"));
        line[name.len() + 9..].trim().trim_matches(|c| c == '(' || c == ')').parse().unwrap()
    };
    use silverline_host::*;
    for (name, value) in [
        ("SL_DROPPED_INACTIVE", SL_DROPPED_INACTIVE),
        ("SL_ENOENT", SL_ENOENT),
        ("SL_EINVAL", SL_EINVAL),
        ("SL_EBADF", SL_EBADF),
        ("SL_E2BIG", SL_E2BIG),
        ("SL_EMPTY", SL_EMPTY),
        ("SL_EAGAIN", SL_EAGAIN),
    ] {
        assert_eq!(define(name), value, "{name}");
    }
}
