//! What clients may publish and read. Each test ends its "must not arrive" checks with a message
//! that must arrive and was sent after the forbidden ones on the same path, so the forbidden ones
//! would have arrived first (rumqttd keeps one ordered log per subscription filter).

use crate::common::{connect, secured, secured_with, Login};
use rumqttc::{Packet, QoS};
use silverline_broker::GateLimits;

#[tokio::test]
async fn allowed_publishes_are_delivered() {
    let broker = secured();
    let mut bob = connect(&broker, Login::user("b1", "bob")).await.unwrap();
    bob.subscribe("#", QoS::AtLeastOnce).await;
    let alice = connect(&broker, Login::user("a1", "alice")).await.unwrap();
    alice.publish("a/x", QoS::AtMostOnce, "hi").await;
    assert_eq!(bob.next_message().await, ("a/x".into(), b"hi".to_vec()));
    alice.publish("a/y", QoS::AtLeastOnce, "again").await;
    assert_eq!(bob.next_message().await, ("a/y".into(), b"again".to_vec()));
    assert_eq!(broker.counters().denied_publishes, 0);
}

#[tokio::test]
async fn forbidden_publishes_are_dropped_and_acknowledged() {
    let broker = secured();
    let mut bob = connect(&broker, Login::user("b1", "bob")).await.unwrap();
    bob.subscribe("#", QoS::ExactlyOnce).await;
    let mut alice = connect(&broker, Login::user("a1", "alice")).await.unwrap();

    alice.publish("b/x", QoS::AtMostOnce, "q0").await;
    alice.publish("b/x", QoS::AtLeastOnce, "q1").await;
    alice.expect("PUBACK of the denied QoS 1 publish", |p| matches!(p, Packet::PubAck(_)).then_some(())).await;
    alice.publish("b/x", QoS::ExactlyOnce, "q2").await;
    // The gate must also complete the QoS 2 exchange it started with its PUBREC.
    alice.expect("PUBCOMP of the denied QoS 2 publish", |p| matches!(p, Packet::PubComp(_)).then_some(())).await;
    alice.publish("a/sync", QoS::AtLeastOnce, "after").await;

    assert_eq!(bob.next_message().await, ("a/sync".into(), b"after".to_vec()), "a denied publish was delivered");
    assert_eq!(broker.counters().denied_publishes, 3);
    assert!(alice.has_ended().is_none(), "a denied publish must not cost the connection");
}

#[tokio::test]
async fn forbidden_topics_are_not_delivered() {
    let broker = secured();
    let mut alice = connect(&broker, Login::user("a1", "alice")).await.unwrap();
    alice.subscribe("a/#", QoS::AtLeastOnce).await;
    let orch = connect(&broker, Login::user("o1", "orch")).await.unwrap();
    orch.publish("a/secret", QoS::AtLeastOnce, "hidden").await;
    orch.publish("a/ok", QoS::AtLeastOnce, "visible").await;
    assert_eq!(alice.next_message().await, ("a/ok".into(), b"visible".to_vec()));
    assert_eq!(broker.counters().withheld_deliveries, 1);
}

/// rumqttd drops a subscriber whose acks come out of order, and waits for acks of what it sent:
/// the gate's acks for withheld messages must slot in between the client's.
async fn withheld_messages_are_acknowledged_in_order(qos: QoS) {
    let broker = secured();
    let mut alice = connect(&broker, Login::user("a1", "alice")).await.unwrap();
    alice.subscribe("a/#", qos).await;
    let orch = connect(&broker, Login::user("o1", "orch")).await.unwrap();
    // Several times rumqttd's in-flight window (100 messages), so a missing ack would stall delivery.
    let rounds = 300;
    for i in 0..rounds {
        orch.publish("a/ok", qos, &i.to_string()).await;
        orch.publish("a/secret", qos, "hidden").await;
    }
    orch.publish("a/ok", qos, "end").await;
    for i in 0..rounds {
        assert_eq!(alice.next_message().await, ("a/ok".into(), i.to_string().into_bytes()));
    }
    // Sent after the last withheld one: by now all of them are counted.
    assert_eq!(alice.next_message().await, ("a/ok".into(), b"end".to_vec()));
    assert_eq!(broker.counters().withheld_deliveries, rounds);
    assert!(alice.has_ended().is_none(), "rumqttd dropped the subscriber");
}

#[tokio::test]
async fn withheld_qos1_messages_are_acknowledged_in_order() {
    withheld_messages_are_acknowledged_in_order(QoS::AtLeastOnce).await;
}

#[tokio::test]
async fn withheld_qos2_messages_are_completed_in_order() {
    withheld_messages_are_acknowledged_in_order(QoS::ExactlyOnce).await;
}

#[tokio::test]
async fn oversized_packets_close_the_connection() {
    let broker = secured_with(GateLimits { max_packet_bytes: 64 << 10, ..GateLimits::default() });
    let mut bob = connect(&broker, Login::user("b1", "bob")).await.unwrap();
    bob.subscribe("#", QoS::AtLeastOnce).await;
    let mut alice = connect(&broker, Login::user("a1", "alice")).await.unwrap();
    alice.publish("a/fits", QoS::AtMostOnce, &"x".repeat(60 << 10)).await;
    assert_eq!(bob.next_message().await.0, "a/fits");
    alice.publish("a/big", QoS::AtMostOnce, &"x".repeat(70 << 10)).await;
    alice.ended().await;
}
