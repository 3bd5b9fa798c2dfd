//! `latency`: publish → message in a subscriber's queue, loopback vs through the broker, and the
//! broker round trip of a raw rumqttc client as the baseline of the broker path.

use crate::broker::{Endpoint, RawClient};
use crate::{stats::summarize, wat::PAYLOAD, BenchConfig, Section, Target};
use crossbeam_channel::{Receiver, Sender};
use rumqttc::QoS;
use silverline_channels::{InputQueue, MqttBackend, Router, RoutingMode};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) const TITLE: &str = "Loopback delivery vs MQTT round trip through a local broker";

/// One way of getting a message from a publisher to a subscriber, measured two ways:
/// `a` = until the message is in the subscriber's queue (the queue's waker takes the time),
/// `b` = until a consumer thread blocked on that queue's waker signal is running.
struct Path {
    name: &'static str,
    publish_a: Box<dyn Fn()>,
    publish_b: Box<dyn Fn()>,
    arrived_a: Receiver<Instant>,
    woken_b: Receiver<Instant>,
    queues: Vec<Arc<InputQueue>>,
    samples_a: Vec<f64>,
    samples_b: Vec<f64>,
    lost: usize,
}

/// A thread that waits for a signal and reports when it runs again.
fn consumer() -> (Sender<()>, Receiver<Instant>) {
    let (tx, rx) = crossbeam_channel::unbounded::<()>();
    let (back, woken) = crossbeam_channel::unbounded();
    std::thread::Builder::new()
        .name("bench-consumer".into())
        .spawn(move || {
            while rx.recv().is_ok() {
                let _ = back.send(Instant::now());
            }
        })
        .expect("spawn consumer");
    (tx, woken)
}

/// Subscribe two queues on `router` (topics `<base>/a` and `<base>/b`) and build a [`Path`].
fn router_path(name: &'static str, router: &Arc<Router>, base: &str) -> Path {
    let payload = vec![0xab_u8; PAYLOAD];
    let (tx_a, arrived_a) = crossbeam_channel::unbounded();
    let qa = Arc::new(InputQueue::new(1024));
    qa.add_waker(move || {
        let _ = tx_a.send(Instant::now());
    });
    let (signal, woken_b) = consumer();
    let qb = Arc::new(InputQueue::new(1024));
    qb.add_waker(move || {
        let _ = signal.send(());
    });
    router.subscribe(&format!("{base}/a"), qa.clone());
    router.subscribe(&format!("{base}/b"), qb.clone());
    let (pa, pb) = (router.output_port(&format!("{base}/a"), true), router.output_port(&format!("{base}/b"), true));
    let payload_b = payload.clone();
    Path {
        name,
        publish_a: Box::new(move || {
            pa.publish(&payload);
        }),
        publish_b: Box::new(move || {
            pb.publish(&payload_b);
        }),
        arrived_a,
        woken_b,
        queues: vec![qa, qb],
        samples_a: vec![],
        samples_b: vec![],
        lost: 0,
    }
}

pub(crate) fn run(cfg: &BenchConfig, ep: &Endpoint) -> anyhow::Result<Section> {
    let (n, warmup) = if cfg.quick { (40usize, 10usize) } else { (2000, 200) };

    let loopback = Router::new(RoutingMode::LoopbackFirst);
    let via_broker = Router::new(RoutingMode::BrokerOnly);
    let backend = MqttBackend::connect(&ep.mqtt_config("bench-latency-silverline", 4096)?, via_broker.remote_sink())?;
    via_broker.attach_remote(backend.clone());

    let mut paths = vec![
        router_path("loopback (`RoutingMode::LoopbackFirst`, no backend)", &loopback, "bench/lat/loop"),
        router_path("broker, silverline (`RoutingMode::BrokerOnly` + `MqttBackend`)", &via_broker, "bench/lat/sl"),
    ];
    if !backend.wait_subscribed(Duration::from_secs(10)) {
        anyhow::bail!("the broker did not acknowledge the subscriptions");
    }

    // The raw baseline: one rumqttc connection that publishes and is subscribed, like the
    // silverline path (one MqttBackend connection doing both).
    let (tx_a, arrived_a) = crossbeam_channel::unbounded();
    let (signal, woken_b) = consumer();
    let raw = Arc::new(RawClient::connect(ep, "bench-latency-raw", 4096, move |topic, _| {
        if topic.ends_with("/a") {
            let _ = tx_a.send(Instant::now());
        } else {
            let _ = signal.send(());
        }
    })?);
    raw.subscribe("bench/lat/raw/a")?;
    raw.subscribe("bench/lat/raw/b")?;
    let payload = vec![0xab_u8; PAYLOAD];
    let (ra, rb, pa, pb) = (raw.clone(), raw.clone(), payload.clone(), payload);
    paths.push(Path {
        name: "broker, raw rumqttc client (no silverline)",
        publish_a: Box::new(move || {
            let _ = ra.client.publish("bench/lat/raw/a", QoS::AtMostOnce, false, &pa[..]);
        }),
        publish_b: Box::new(move || {
            let _ = rb.client.publish("bench/lat/raw/b", QoS::AtMostOnce, false, &pb[..]);
        }),
        arrived_a,
        woken_b,
        queues: vec![],
        samples_a: vec![],
        samples_b: vec![],
        lost: 0,
    });

    cfg.say(&format!("latency: {} ping-pongs per path and variant", warmup + n));
    // Interleaved: every iteration measures every path, so drift hits all of them alike; the
    // order rotates so that no path always follows the same other one.
    let count = paths.len();
    for k in 0..(warmup + n) {
        for j in 0..count {
            let p = &mut paths[(k + j) % count];
            let variants = if k % 2 == 0 { [false, true] } else { [true, false] };
            for variant_b in variants {
                let rx = if variant_b { &p.woken_b } else { &p.arrived_a };
                while rx.try_recv().is_ok() {}
                let t0 = Instant::now();
                if variant_b { (p.publish_b)() } else { (p.publish_a)() }
                match rx.recv_timeout(Duration::from_secs(2)) {
                    Ok(t1) if k >= warmup => {
                        let v = (t1 - t0).as_nanos() as f64;
                        if variant_b { p.samples_b.push(v) } else { p.samples_a.push(v) }
                    }
                    Ok(_) => {}
                    Err(_) => p.lost += 1,
                }
                for q in &p.queues {
                    while q.pop().is_some() {}
                }
            }
        }
    }
    backend.disconnect();

    let mut s = Section::new("latency", TITLE);
    let row_a = |p: &Path| format!("{}: publish → in subscriber queue", p.name);
    let row_b = |p: &Path| format!("{}: publish → consumer thread woken", p.name);
    for p in &paths {
        s.rows.push(summarize(&row_a(p), &p.samples_a));
    }
    for p in &paths {
        s.rows.push(summarize(&row_b(p), &p.samples_b));
    }
    let (lb, sl, raw_p) = (&paths[0], &paths[1], &paths[2]);
    s.ratio("broker (silverline) / loopback, into queue", &row_a(sl), &row_a(lb), Target::at_least(20.0));
    s.ratio("broker (silverline) / loopback, consumer woken", &row_b(sl), &row_b(lb), Target::at_least(20.0));
    s.ratio("broker: silverline / raw rumqttc, into queue", &row_a(sl), &row_a(raw_p), None);
    s.ratio("broker: silverline / raw rumqttc, consumer woken", &row_b(sl), &row_b(raw_p), None);
    let lost: usize = paths.iter().map(|p| p.lost).sum();
    s.note(format!(
        "Ping-pong: one {PAYLOAD}-byte message at a time, the next one only after the previous arrived; {warmup} warm-up \
         iterations, then {n}, each measuring every path and both end points in turn (in rotating order). Lost (no arrival within 2 s): {lost}."
    ));
    s.note("“in subscriber queue”: the clock stops in the `InputQueue` waker (for the raw client: in its event-loop \
            callback), i.e. when the message is deliverable. Loopback delivery is synchronous, inside `publish`. \
            “consumer thread woken”: the waker signals a thread blocked on a channel, and the clock stops when that \
            thread runs, which is what a module's worker experiences (one thread wake-up on either path).");
    s.note("The broker paths use one MQTT connection that both publishes and is subscribed (QoS 0, TCP on 127.0.0.1), \
            for silverline (`MqttBackend`, event loop on its own thread) and for the raw rumqttc `Client` alike.");
    Ok(s)
}
