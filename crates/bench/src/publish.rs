//! `publish`: a Wasm module publishing through `channel_publish` to an MQTT-backed output vs a
//! raw rumqttc client publishing the same payloads to the same broker.

use crate::broker::{Endpoint, RawClient};
use crate::util::{event_spec, periodic_exec_ns, periodic_spec, quiet, sleep_until, wasm};
use crate::wat::{publisher, PAYLOAD};
use crate::{stats::summarize, BenchConfig, Figure, Section, Target};
use parking_lot::{Condvar, Mutex};
use rumqttc::QoS;
use silverline_channels::MqttBackend;
use silverline_host::{Host, HostConfig, ModuleId};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) const TITLE: &str = "Channel publish cost vs a raw MQTT client";

const SL_ROW: &str = "silverline: `channel_publish` from Wasm → `MqttBackend`, per call";
const RAW_ROW: &str = "raw rumqttc `Client::publish`, per call";
const PORT_ROW: &str = "native `OutputPort::publish` → `MqttBackend` (no Wasm), per call";
const LOCAL_ROW: &str = "`channel_publish` from Wasm → Router only (no backend, no subscriber), per call";
const SL_BURST_CALLS: &str = "burst: silverline, one activation publishing N, per call";
const RAW_BURST_CALLS: &str = "burst: raw client loop publishing N, per call";
const SL_BURST: &str = "burst: silverline, trigger → subscriber has all N";
const RAW_BURST: &str = "burst: raw client, first publish → subscriber has all N";

/// What the independent subscriber has seen, per topic: (messages, time of the last one).
#[derive(Default)]
struct Seen {
    topics: Mutex<HashMap<String, (u64, Option<Instant>)>>,
    changed: Condvar,
}

impl Seen {
    fn on_message(&self, topic: &str) {
        let now = Instant::now();
        let mut t = self.topics.lock();
        match t.get_mut(topic) {
            Some(e) => *e = (e.0 + 1, Some(now)),
            None => {
                t.insert(topic.to_string(), (1, Some(now)));
            }
        }
        drop(t);
        self.changed.notify_all();
    }

    fn count(&self, topic: &str) -> u64 {
        self.topics.lock().get(topic).map_or(0, |e| e.0)
    }

    fn total(&self) -> u64 {
        self.topics.lock().values().map(|e| e.0).sum()
    }

    /// Wait until `topic` has `target` messages, or nothing arrived for `stall`.
    /// Returns (messages seen, time of the last one).
    fn wait_for(&self, topic: &str, target: u64, stall: Duration) -> (u64, Option<Instant>) {
        let mut t = self.topics.lock();
        let mut last_progress = (0, Instant::now());
        loop {
            let (n, at) = t.get(topic).copied().unwrap_or((0, None));
            if n >= target {
                return (n, at);
            }
            if n != last_progress.0 {
                last_progress = (n, Instant::now());
            } else if last_progress.1.elapsed() > stall {
                return (n, at);
            }
            self.changed.wait_for(&mut t, Duration::from_millis(50));
        }
    }

    /// Wait until no message arrived for `quiet` (the previous phase's traffic is over).
    fn quiesce(&self, quiet: Duration) {
        let mut last = (self.total(), Instant::now());
        while last.1.elapsed() < quiet {
            std::thread::sleep(quiet / 5);
            let n = self.total();
            if n != last.0 {
                last = (n, Instant::now());
            }
        }
    }
}

struct Sizes {
    per_batch: u32,
    batches: usize,
    rounds: usize,
    warmup: usize,
    period: Duration,
    burst: u32,
    bursts: usize,
}

pub(crate) fn run(cfg: &BenchConfig, ep: &Endpoint) -> anyhow::Result<Section> {
    let z = if cfg.quick {
        Sizes { per_batch: 100, batches: 10, rounds: 1, warmup: 3, period: Duration::from_millis(5), burst: 2_000, bursts: 1 }
    } else {
        Sizes { per_batch: 500, batches: 40, rounds: 3, warmup: 5, period: Duration::from_millis(20), burst: 20_000, bursts: 10 }
    };
    // Both clients get room for a whole burst: with rumqttc's default-sized request queue a
    // 20,000-message burst would be cut short (silverline's backend drops, the raw client blocks).
    let capacity = z.burst as usize + 1024;
    let payload = vec![0xab_u8; PAYLOAD];

    let seen = Arc::new(Seen::default());
    let sub = {
        let seen = seen.clone();
        RawClient::connect(ep, "bench-publish-subscriber", 4096, move |topic, _| seen.on_message(topic))?
    };
    sub.subscribe("bench/pub/+")?;
    let raw = RawClient::connect(ep, "bench-publish-raw", capacity, |_, _| {})?;

    let host = Host::new(quiet(HostConfig::new()))?;
    let backend = MqttBackend::connect(&ep.mqtt_config("bench-publish-silverline", capacity)?, host.router().remote_sink())?;
    host.router().attach_remote(backend.clone());
    let port = host.router().output_port("bench/pub/np", true);

    let periodic = wasm(&publisher(z.per_batch, false))?;
    let k = f64::from(z.per_batch);
    let mut sl = Vec::new();
    let mut rawv = Vec::new();
    let mut native = Vec::new();
    let mut local = Vec::new();
    // (a) per-call cost: batches of `per_batch` publishes, one batch per period, the same
    // schedule for every variant; each round runs the four variants, in a rotating order.
    for round in 0..z.rounds {
        cfg.say(&format!("publish: per-call batches, round {}", round + 1));
        for j in 0..4 {
            seen.quiesce(Duration::from_millis(100));
            match (round + j) % 4 {
                0 => {
                    let spec = periodic_spec(z.period, None, Some("bench/pub/sl"))?;
                    let id = ModuleId::new("bench", &format!("publish-mqtt-{round}"));
                    host.deploy(id.clone(), "bench", &spec, &periodic)?;
                    let exec = periodic_exec_ns(&host, &id, z.warmup, z.batches, z.period);
                    host.remove(&id);
                    sl.extend(exec?.into_iter().map(|ns| ns / k));
                }
                1 => rawv.extend(native_batches(&z, || {
                    let _ = raw.client.publish("bench/pub/rw", QoS::AtMostOnce, false, &payload[..]);
                })),
                2 => native.extend(native_batches(&z, || {
                    port.publish(&payload);
                })),
                _ => {
                    // A second Host without a backend, alive only for this phase (every Host
                    // has its own epoch-ticker thread, which would otherwise run all along).
                    let local_host = Host::new(quiet(HostConfig::new()))?;
                    let spec = periodic_spec(z.period, None, Some("bench/pub/lo"))?;
                    let id = ModuleId::new("bench", &format!("publish-local-{round}"));
                    local_host.deploy(id.clone(), "bench", &spec, &periodic)?;
                    let exec = periodic_exec_ns(&local_host, &id, z.warmup, z.batches, z.period);
                    local_host.shutdown();
                    drop(local_host);
                    local.extend(exec?.into_iter().map(|ns| ns / k));
                }
            }
        }
    }

    // (b) bursts of N until the independent subscriber has all of them.
    cfg.say("publish: bursts");
    let burst_spec = event_spec("bench/pub/go", "bench/pub/sb", 4)?;
    let burst_id = ModuleId::new("bench", "publish-burst");
    host.deploy(burst_id.clone(), "bench", &burst_spec, &wasm(&publisher(z.burst, true))?)?;
    let go = host.router().output_port("bench/pub/go", true);
    let n = u64::from(z.burst);
    let (mut sl_burst, mut raw_burst, mut sl_calls, mut raw_calls) = (vec![], vec![], vec![], vec![]);
    let mut lost = (0u64, 0u64);
    let mut activations = 0u64;
    let stall = Duration::from_secs(3);
    // Each repetition runs both, alternating which goes first; repetition 0 is warm-up.
    for rep in 0..=z.bursts {
        for silverline_turn in if rep % 2 == 0 { [true, false] } else { [false, true] } {
            seen.quiesce(Duration::from_millis(200));
            let topic = if silverline_turn { "bench/pub/sb" } else { "bench/pub/rb" };
            let base = seen.count(topic);
            let (t0, per_call) = if silverline_turn {
                let before = exec_total(&host, &burst_id);
                let t0 = Instant::now();
                go.publish(b"go");
                activations += 1;
                let done = host.wait_for(Duration::from_secs(30), |s| s.module(burst_id.as_str()).is_some_and(|m| m.activations >= activations));
                if !done {
                    anyhow::bail!("the burst module did not finish its activation within 30 s");
                }
                (t0, (exec_total(&host, &burst_id) - before) / f64::from(z.burst))
            } else {
                let t0 = Instant::now();
                for _ in 0..z.burst {
                    let _ = raw.client.publish("bench/pub/rb", QoS::AtMostOnce, false, &payload[..]);
                }
                (t0, t0.elapsed().as_nanos() as f64 / f64::from(z.burst))
            };
            let (got, last) = seen.wait_for(topic, base + n, stall);
            if rep == 0 {
                continue;
            }
            let missing = base + n - got.min(base + n);
            let (all, calls) = if silverline_turn {
                lost.0 += missing;
                (&mut sl_burst, &mut sl_calls)
            } else {
                lost.1 += missing;
                (&mut raw_burst, &mut raw_calls)
            };
            if let Some(last) = last {
                all.push((last - t0).as_nanos() as f64);
            }
            calls.push(per_call);
        }
    }
    let status = host.status();
    let burst_status = status.module(burst_id.as_str()).cloned();
    host.shutdown();
    backend.disconnect();

    let mut s = Section::new("publish", TITLE);
    s.rows.push(summarize(SL_ROW, &sl));
    s.rows.push(summarize(RAW_ROW, &rawv));
    s.rows.push(summarize(PORT_ROW, &native));
    s.rows.push(summarize(LOCAL_ROW, &local));
    s.rows.push(summarize(SL_BURST_CALLS, &sl_calls));
    s.rows.push(summarize(RAW_BURST_CALLS, &raw_calls));
    s.rows.push(summarize(SL_BURST, &sl_burst));
    s.rows.push(summarize(RAW_BURST, &raw_burst));
    s.ratio("per call: silverline / raw", SL_ROW, RAW_ROW, Target::at_most(1.05));
    s.ratio("burst, per call: silverline / raw", SL_BURST_CALLS, RAW_BURST_CALLS, Target::at_most(1.05));
    s.ratio("burst, until all received: silverline / raw", SL_BURST, RAW_BURST, Target::at_most(1.05));
    let med = |name: &str| s.row(name).map_or(0.0, |r| r.median_ns);
    let (slm, rawm, portm, sl_all, raw_all) = (med(SL_ROW), med(RAW_ROW), med(PORT_ROW), med(SL_BURST), med(RAW_BURST));
    s.figures.push(Figure::new("per call: Router + `MqttBackend` over raw (port − raw)", portm - rawm, "ns", None));
    s.figures.push(Figure::new("per call: Wasm → host call + ABI checks + copy-in (silverline − port)", slm - portm, "ns", None));
    for (name, median) in [("throughput until all received: silverline", sl_all), ("throughput until all received: raw", raw_all)] {
        if median > 0.0 {
            s.figures.push(Figure::new(name, n as f64 / (median / 1e9), "msg/s", None));
        }
    }
    s.note(format!(
        "Per call: one sample = one batch of {} publishes of {PAYLOAD} B, divided by {}; one batch every {:?} (time for \
         the event loop and broker to drain), {} batches per variant after {} warm-up, {} round(s) alternating the \
         variants (in a rotating order). silverline's batch is one periodic activation of a WAT module looping over `channel_publish` (timed \
         by the Host around `sl_step`); the raw client's batch is a Rust loop over `Client::publish(topic, QoS 0, payload)` \
         timed around the loop.",
        z.per_batch, z.per_batch, z.period, z.batches * z.rounds, z.warmup, z.rounds
    ));
    s.note(format!(
        "Bursts: {} × {PAYLOAD} B as fast as possible, {} measured after 1 warm-up, alternating silverline and raw (and which goes first). \
         silverline: one event activation publishes all N (the clock starts before the trigger message is published, \
         so dispatch to a worker is included); raw: a loop of `Client::publish`. Stop: an independent subscriber (its \
         own rumqttc connection) has received all N. Lost messages (QoS 0): silverline {}, raw {}.",
        z.burst, z.bursts, lost.0, lost.1
    ));
    s.note(format!(
        "Both clients: QoS 0, clean session, request queue of {capacity} messages so that a burst is never cut short \
         (silverline's `MqttBackend` drops a publish when its queue is full, and `channel_publish` still returns 0: \
         with the default 4096 a {}-message burst from one activation loses what does not fit; the raw \
         `Client::publish` would block instead). Same broker, same payload, topics of the same length.",
        z.burst
    ));
    if let Some(m) = burst_status {
        if m.step_errors > 0 {
            s.note(format!("Warning: the burst module reported {} step errors (a publish did not return 0).", m.step_errors));
        }
    }
    Ok(s)
}

/// Sum of the execution times of a module's activations, from its profile (mean × count).
fn exec_total(host: &Host, id: &ModuleId) -> f64 {
    host.status().module(id.as_str()).map_or(0.0, |m| m.exec_ns.mean as f64 * m.exec_ns.count as f64)
}

/// Native batches on the same schedule as the periodic module: per-call ns of each batch.
fn native_batches(z: &Sizes, mut publish: impl FnMut()) -> Vec<f64> {
    let mut out = Vec::with_capacity(z.batches);
    let mut next = Instant::now() + z.period;
    for b in 0..(z.warmup + z.batches) {
        sleep_until(next);
        next += z.period;
        let t = Instant::now();
        for _ in 0..z.per_batch {
            publish();
        }
        let per = t.elapsed().as_nanos() as f64 / f64::from(z.per_batch);
        if b >= z.warmup {
            out.push(per);
        }
    }
    out
}
