//! What the gate costs (a benchmark, not a test: `cargo test --release -p silverline-broker
//! --test integration gate_round_trip_benchmark -- --ignored --nocapture`): QoS 0 round trips
//! client → broker → the same client, through rumqttd directly and through the gate, in the same
//! process, alternating so that machine noise hits both.

use crate::common::*;
use rumqttc::QoS;
use silverline_broker::EmbeddedBroker;
use std::time::{Duration, Instant};

const ROUND_TRIPS: usize = 2_000;

async fn round_trips(broker: &EmbeddedBroker, id: &'static str, user: Option<(&'static str, &'static str)>) -> Vec<Duration> {
    let mut c = connect(broker, Login { id, user, will: None }).await.expect("connects");
    c.subscribe("a/bench", QoS::AtMostOnce).await;
    let mut out = Vec::with_capacity(ROUND_TRIPS);
    for _ in 0..ROUND_TRIPS {
        let t = Instant::now();
        c.publish("a/bench", QoS::AtMostOnce, "x").await;
        c.next_message().await;
        out.push(t.elapsed());
    }
    out
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn gate_round_trip_benchmark() {
    let plain = EmbeddedBroker::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let gated = secured();
    let (mut direct, mut through) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        direct.extend(round_trips(&plain, "bench-direct", None).await);
        through.extend(round_trips(&gated, "bench-gated", Some(("orch", "pw"))).await);
    }
    let (d, g) = (median(direct), median(through));
    println!("QoS 0 round trip, median of {} each: rumqttd direct {d:?}, through the gate {g:?}, ratio {:.2}", 3 * ROUND_TRIPS, g.as_secs_f64() / d.as_secs_f64());
}
