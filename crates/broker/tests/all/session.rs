//! Sessions through the gate: last wills, and client ids that cannot reach across users.

use crate::common::{connect, secured, Login};
use rumqttc::{LastWill, QoS};

#[tokio::test]
async fn a_dead_clients_will_is_published() {
    let broker = secured();
    let mut orch = connect(&broker, Login::user("o1", "orch")).await.unwrap();
    orch.subscribe("b/will", QoS::AtLeastOnce).await;
    let will = LastWill::new("b/will", "bob died", QoS::AtLeastOnce, false);
    let bob = connect(&broker, Login { will: Some(will), ..Login::user("b1", "bob") }).await.unwrap();
    bob.kill().await;
    assert_eq!(orch.next_message().await, ("b/will".into(), b"bob died".to_vec()));
}

#[tokio::test]
async fn a_clean_disconnect_discards_the_will() {
    let broker = secured();
    let mut orch = connect(&broker, Login::user("o1", "orch")).await.unwrap();
    orch.subscribe("b/#", QoS::AtLeastOnce).await;
    let will = LastWill::new("b/will", "bob died", QoS::AtLeastOnce, false);
    let mut bob = connect(&broker, Login { will: Some(will), ..Login::user("b1", "bob") }).await.unwrap();
    bob.mqtt.disconnect().await.unwrap();
    bob.ended().await;
    // Published by another client after bob left: had the will gone out, it would most likely come
    // first (rumqttd publishes it from another task, so this cannot be certain; the gate's unit
    // tests check deterministically that the DISCONNECT reaches rumqttd before the close).
    let other = connect(&broker, Login::user("b2", "bob")).await.unwrap();
    other.publish("b/after", QoS::AtLeastOnce, "").await;
    assert_eq!(orch.next_message().await.0, "b/after");
}

#[tokio::test]
async fn another_users_client_id_does_not_take_over_the_session() {
    let broker = secured();
    let mut alice = connect(&broker, Login::user("shared", "alice")).await.unwrap();
    alice.subscribe("a/#", QoS::AtLeastOnce).await;
    let _bob = connect(&broker, Login::user("shared", "bob")).await.unwrap();
    let orch = connect(&broker, Login::user("o1", "orch")).await.unwrap();
    orch.publish("a/still-there", QoS::AtLeastOnce, "").await;
    assert_eq!(alice.next_message().await.0, "a/still-there");
    assert!(alice.has_ended().is_none());

    // The same user reusing its own id does take over, as MQTT says: the check above could fail.
    let _alice_again = connect(&broker, Login::user("shared", "alice")).await.unwrap();
    alice.ended().await;
}
