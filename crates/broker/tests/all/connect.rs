//! Who gets through the gate.

use crate::common::{connect, secured, secured_with, Login, Users, CAROL_REVOKED};
use rumqttc::{ConnectReturnCode, ConnectionError, LastWill, QoS};
use silverline_broker::{EmbeddedBroker, GateLimits};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn refusal(result: Result<crate::common::Client, ConnectionError>) -> ConnectReturnCode {
    match result {
        Err(ConnectionError::ConnectionRefused(code)) => code,
        Err(e) => panic!("expected a refusing CONNACK, got {e}"),
        Ok(_) => panic!("expected a refusal, the client got in"),
    }
}

#[tokio::test]
async fn anonymous_and_wrong_password_are_refused() {
    let broker = secured();
    let anonymous = connect(&broker, Login { id: "anon", user: None, will: None }).await;
    assert_eq!(refusal(anonymous), ConnectReturnCode::NotAuthorized);
    let wrong = connect(&broker, Login { id: "a1", user: Some(("alice", "nope")), will: None }).await;
    assert_eq!(refusal(wrong), ConnectReturnCode::BadUserNamePassword);
    let unknown = connect(&broker, Login { id: "m1", user: Some(("mallory", "pw")), will: None }).await;
    assert_eq!(refusal(unknown), ConnectReturnCode::BadUserNamePassword);
    assert_eq!(broker.counters().refused_connections, 3);

    connect(&broker, Login::user("a1", "alice")).await.expect("the right password gets in");
    assert_eq!(broker.counters().refused_connections, 3);
}

#[tokio::test]
async fn a_will_on_a_forbidden_topic_is_refused() {
    let broker = secured();
    let will = LastWill::new("b/gone", "alice", QoS::AtLeastOnce, false);
    let result = connect(&broker, Login { will: Some(will), ..Login::user("a1", "alice") }).await;
    assert_eq!(refusal(result), ConnectReturnCode::NotAuthorized);
    assert_eq!(broker.counters().refused_connections, 1);
}

#[tokio::test]
async fn a_session_ends_when_its_credentials_are_revoked_and_others_keep_theirs() {
    let broker = secured();
    let mut carol = connect(&broker, Login::user("c1", "carol")).await.unwrap();
    let mut alice = connect(&broker, Login::user("a1", "alice")).await.unwrap();
    carol.subscribe("c/#", QoS::AtMostOnce).await;
    CAROL_REVOKED.store(true, std::sync::atomic::Ordering::SeqCst);
    carol.ended().await;
    assert_eq!(broker.counters().revoked_disconnects, 1);
    let again = connect(&broker, Login::user("c2", "carol")).await;
    assert_eq!(refusal(again), ConnectReturnCode::BadUserNamePassword);
    alice.subscribe("a/x", QoS::AtMostOnce).await;
    alice.publish("a/x", QoS::AtMostOnce, "still here").await;
    assert_eq!(alice.next_message().await, ("a/x".to_string(), b"still here".to_vec()), "an unrevoked session goes on");
}

#[tokio::test]
async fn silent_and_garbage_connections_are_closed() {
    let limits = GateLimits { connect_timeout: Duration::from_millis(200), ..GateLimits::default() };
    let broker = secured_with(limits);
    let mut buf = [0u8; 16];

    let mut silent = tokio::net::TcpStream::connect(broker.addr()).await.unwrap();
    let read = tokio::time::timeout(Duration::from_secs(10), silent.read(&mut buf)).await;
    assert_eq!(read.expect("the gate did not close a silent connection").unwrap(), 0);

    // A PINGREQ where the CONNECT should be.
    let mut garbage = tokio::net::TcpStream::connect(broker.addr()).await.unwrap();
    garbage.write_all(&[0xc0, 0x00]).await.unwrap();
    let read = tokio::time::timeout(Duration::from_secs(10), garbage.read(&mut buf)).await;
    assert_eq!(read.expect("the gate did not close a garbage connection").unwrap(), 0);
    assert_eq!(broker.counters().refused_connections, 2);
}

#[tokio::test]
async fn invalid_limits_are_rejected() {
    let limits = GateLimits { max_packet_bytes: 10, ..GateLimits::default() };
    assert!(EmbeddedBroker::start_secured("127.0.0.1:0".parse().unwrap(), Arc::new(Users), limits).is_err());
}

#[tokio::test]
async fn the_unsecured_broker_is_open_and_counts_nothing() {
    let broker = EmbeddedBroker::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let mut sub = connect(&broker, Login { id: "s", user: None, will: None }).await.unwrap();
    sub.subscribe("t/#", QoS::AtLeastOnce).await;
    let publisher = connect(&broker, Login { id: "p", user: None, will: None }).await.unwrap();
    publisher.publish("t/1", QoS::AtLeastOnce, "hello").await;
    assert_eq!(sub.next_message().await, ("t/1".into(), b"hello".to_vec()));
    assert_eq!(broker.counters(), Default::default());
}

/// An MQTT 3.1.1 CONNECT (clean session, 60 s keep-alive) of `id` with a username and password,
/// then a SUBSCRIBE (QoS 0) to `filter`, as raw bytes: a client that can be made to stop reading.
fn connect_and_subscribe(id: &str, user: &str, password: &str, filter: &str) -> Vec<u8> {
    let s = |v: &str| [&(v.len() as u16).to_be_bytes()[..], v.as_bytes()].concat();
    let mut connect = [s("MQTT"), vec![4, 0xC2, 0, 60], s(id), s(user), s(password)].concat();
    connect.splice(0..0, [0x10, connect.len() as u8]);
    let mut subscribe = [vec![0, 1], s(filter), vec![0]].concat();
    subscribe.splice(0..0, [0x82, subscribe.len() as u8]);
    [connect, subscribe].concat()
}

#[tokio::test]
async fn a_subscriber_that_stops_reading_is_disconnected_and_counted() {
    let limits = GateLimits { slow_client_timeout: Duration::from_millis(300), ..GateLimits::default() };
    let broker = secured_with(limits);
    let mut stalled = tokio::net::TcpStream::connect(broker.addr()).await.unwrap();
    stalled.write_all(&connect_and_subscribe("stalled", "bob", "pw", "a/flood")).await.unwrap();
    let mut acks = [0u8; 9]; // CONNACK (4 bytes) and SUBACK (5 bytes)
    stalled.read_exact(&mut acks).await.unwrap();
    assert_eq!((acks[0], acks[3], acks[4]), (0x20, 0, 0x90), "connected and subscribed: {acks:?}");

    // It reads nothing more; a publisher floods its topic until the gate gives up on it.
    let alice = connect(&broker, Login::user("a1", "alice")).await.unwrap();
    let payload = vec![7u8; 64 << 10];
    let deadline = tokio::time::Instant::now() + crate::common::WAIT;
    while broker.counters().slow_disconnects == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the stalled subscriber was never disconnected");
        alice.mqtt.publish("a/flood", QoS::AtMostOnce, false, payload.clone()).await.unwrap();
        tokio::task::yield_now().await;
    }
    // Its connection ends: what was already in its socket, then end of stream.
    let mut sink = vec![0u8; 1 << 20];
    let drained = tokio::time::timeout(crate::common::WAIT, async {
        while stalled.read(&mut sink).await.map(|n| n > 0).unwrap_or(false) {}
    });
    drained.await.expect("the stalled subscriber's connection was closed");
    assert_eq!(broker.counters().slow_disconnects, 1);
    assert!(broker.counters().dropped_for_slow_clients > 0, "the oldest messages gave way, counted: {:?}", broker.counters());
}
