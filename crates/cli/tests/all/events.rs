//! The event stream (`GET /v1/events`, Server-Sent Events) with the real binaries: a live
//! subscriber sees a deploy / lost Host / delete cycle in order and without gaps; the kept
//! history, the `app` filter, `Last-Event-ID` and `silverline logs` agree with it.

use crate::common::*;
use crate::orchestrated::{host, online_hosts, orchestrator};
use parking_lot::Mutex;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::sync::Arc;

/// Follows an SSE URL on a thread; every `data:` payload parsed as JSON, in arrival order.
pub struct Subscriber {
    pub events: Arc<Mutex<Vec<Value>>>,
}

impl Subscriber {
    pub fn follow(url: &str, last_event_id: Option<&str>) -> Subscriber {
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        let url = url.to_string();
        let last = last_event_id.map(str::to_string);
        std::thread::spawn(move || {
            let mut req = ureq::get(&url).header("accept", "text/event-stream").header("authorization", &bearer(&url));
            if let Some(id) = &last {
                req = req.header("last-event-id", id);
            }
            let Ok(resp) = req.call() else { return };
            for event in sse_events(BufReader::new(resp.into_body().into_reader())) {
                sink.lock().push(event);
            }
        });
        Subscriber { events }
    }

    /// Wait until an event matching `f` arrived; returns it.
    pub fn wait(&self, secs: u64, what: &str, f: impl Fn(&Value) -> bool) -> Value {
        eventually(secs, what, || self.events.lock().iter().find(|e| f(e)).cloned())
    }
}

/// The JSON payloads of an SSE stream until it ends.
pub fn sse_events(reader: impl BufRead) -> impl Iterator<Item = Value> {
    let mut data = String::new();
    reader.lines().map_while(Result::ok).filter_map(move |line| {
        if let Some(d) = line.strip_prefix("data:") {
            data.push_str(d.trim_start());
            None
        } else if line.is_empty() && !data.is_empty() {
            let text = std::mem::take(&mut data);
            Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("an SSE payload is not JSON ({e}): {text}")))
        } else {
            None
        }
    })
}

/// `GET url` to the end of the (finite) stream.
pub fn sse_once(url: &str, last_event_id: Option<&str>) -> Vec<Value> {
    let mut req = ureq::get(url).header("authorization", &bearer(url));
    if let Some(id) = last_event_id {
        req = req.header("last-event-id", id);
    }
    let resp = req.call().expect("GET /v1/events");
    let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert!(ct.starts_with("text/event-stream"), "content type {ct}");
    sse_events(BufReader::new(resp.into_body().into_reader())).collect()
}

fn is(e: &Value, kind: &str, module: Option<&str>) -> bool {
    e["kind"] == kind && module.is_none_or(|m| e["module"] == m)
}

fn position(events: &[Value], kind: &str, module: Option<&str>) -> usize {
    events.iter().position(|e| is(e, kind, module)).unwrap_or_else(|| panic!("no `{kind}` event for {module:?} in {:#?}", kinds_of(events)))
}

fn kinds_of(events: &[Value]) -> Vec<String> {
    events.iter().map(|e| format!("{} {} {} {}", e["seq"], e["kind"], e["module"], e["host"])).collect()
}

#[test]
fn a_deploy_delete_cycle_arrives_in_order() {
    let _serial = serial();
    let data = tempfile::tempdir().unwrap();
    let broker = secured_mosquitto(data.path(), "127.0.0.1", None);
    let api_port = free_port();
    let api = format!("http://127.0.0.1:{api_port}");
    let rest = Rest(api.clone());
    let _orch = orchestrator(api_port, &broker.url(), data.path());
    // A subscriber from before anything happened: it must see everything, in order.
    let live = Subscriber::follow(&format!("{api}/v1/events"), None);
    let mut hosts: Vec<(&str, Proc)> = ["h1", "h2"]
        .into_iter()
        .map(|n| {
            join(&api, &broker, n, data.path());
            (n, host(n, &broker.url(), data.path()))
        })
        .collect();
    eventually(30, "two hosts online", || (online_hosts(&rest) == 2).then_some(()));
    live.wait(10, "host-joined h1", |e| e["kind"] == "host-joined" && e["host"] == "h1");
    live.wait(10, "host-joined h2", |e| e["kind"] == "host-joined" && e["host"] == "h2");

    let out = run(&["deploy", "examples/pipeline/app.yaml", "--wait", "--api", &api]);
    assert!(out.status.success(), "deploy: {}\n{}", stdout(&out), stderr(&out));
    let modules = ["pipeline/sensor", "pipeline/filter", "pipeline/sink"];
    for m in modules {
        live.wait(20, &format!("{m} started"), |e| is(e, "module-started", Some(m)));
    }

    // Lose the Host of the sensor: the loss and the re-placement, with its reason, are events.
    let app = rest.get("/v1/apps/pipeline");
    let sensor_host = app["modules"].as_array().unwrap().iter().find(|m| m["module"] == "sensor").unwrap()["host"].as_str().unwrap().to_string();
    let survivor = if sensor_host == "h1" { "h2" } else { "h1" };
    hosts.iter_mut().find(|(n, _)| *n == sensor_host).unwrap().1.kill();
    live.wait(20, "host-lost", |e| e["kind"] == "host-lost" && e["host"] == sensor_host.as_str());
    let moved = live.wait(20, "the sensor re-placed", |e| is(e, "placement", Some("pipeline/sensor")) && e["host"] == survivor);
    assert!(moved["message"].as_str().unwrap().contains(&format!("host `{sensor_host}` lost")), "the reason is given: {moved}");
    live.wait(20, "the sensor started on the surviving Host", |e| is(e, "module-started", Some("pipeline/sensor")) && e["host"] == survivor);

    let out = run(&["delete", "app", "pipeline", "--api", &api]);
    assert!(out.status.success(), "{}", stderr(&out));
    live.wait(20, "app-deleted", |e| e["kind"] == "app-deleted");
    eventually(20, "every module stopped after the delete", || {
        let events = live.events.lock();
        let deleted = position(&events, "app-deleted", None);
        let stopped = events[deleted..].iter().filter(|e| e["kind"] == "module-stopped").count();
        (stopped == 3).then_some(())
    });

    let events = live.events.lock().clone();
    // No gaps, no repeats, one stream.
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "consecutive: {:#?}", kinds_of(&events));
    assert!(events.iter().all(|e| e["stream"] == events[0]["stream"] && e["time"].as_str().is_some_and(|t| t.ends_with('Z'))));
    // The order of the cycle.
    let created = position(&events, "app-created", None);
    for (i, m) in modules.iter().enumerate() {
        let placed = position(&events, "placement", Some(m));
        assert_eq!(placed, created + 1 + i, "placements follow the creation at once: {:#?}", kinds_of(&events));
        assert!(events[placed]["host"].as_str().is_some_and(|h| h == "h1" || h == "h2"));
        assert!(events[placed]["message"].as_str().unwrap().contains("new application"), "{}", events[placed]);
        let deployed = position(&events, "module-deployed", Some(m));
        let started = position(&events, "module-started", Some(m));
        assert!(placed < deployed && placed < started, "{m}: placed, then deployed and started");
    }
    let lost = position(&events, "host-lost", None);
    let deleted = position(&events, "app-deleted", None);
    assert!(position(&events, "module-started", Some("pipeline/sink")) < lost && lost < deleted);
    for m in modules {
        let stopped = events.iter().rposition(|e| is(e, "module-stopped", Some(m))).unwrap_or_else(|| panic!("{m} stopped"));
        assert!(stopped > deleted, "{m} stopped after the delete");
        assert_eq!(events[stopped]["host"], survivor, "{m} stopped on the surviving Host");
    }
    assert_eq!(events[created]["app"], "pipeline");
    assert_eq!(events[lost]["level"], "warning");

    // The kept history is the same stream.
    let history = sse_once(&format!("{api}/v1/events?follow=false"), None);
    assert_eq!(history.len(), events.len(), "history: {:#?}", kinds_of(&history));
    assert!(history.iter().zip(&events).all(|(a, b)| a["seq"] == b["seq"] && a["kind"] == b["kind"]));
    // `app` keeps only that application's events.
    let only = sse_once(&format!("{api}/v1/events?follow=false&app=pipeline"), None);
    assert!(!only.is_empty() && only.iter().all(|e| e["app"] == "pipeline"), "{:#?}", kinds_of(&only));
    assert_eq!(only.len(), events.iter().filter(|e| e["app"] == "pipeline").count());
    // Reconnecting with Last-Event-ID resumes after that event.
    let id = format!("{}.{}", events[deleted]["stream"].as_str().unwrap(), events[deleted]["seq"]);
    let after = sse_once(&format!("{api}/v1/events?follow=false"), Some(&id));
    assert_eq!(after.first().map(|e| e["seq"].clone()), Some(events[deleted + 1]["seq"].clone()));
    let foreign = sse_once(&format!("{api}/v1/events?follow=false"), Some("another-run.5"));
    assert_eq!(foreign.len(), events.len(), "an id of another Orchestrator run resumes nothing");

    // `silverline logs` prints the same, in order.
    let out = run(&["logs", "--app", "pipeline", "--api", &api]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let (c, d) = (text.find("app-created").expect(&text), text.find("app-deleted").expect(&text));
    assert!(c < d && text.lines().count() == only.len(), "{text}");
    assert!(!text.contains("host-joined"), "the app filter applies: {text}");
    let out = run(&["logs", "-o", "json", "--api", &api]);
    let lines: Vec<Value> = stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), events.len());
}

#[test]
fn logs_follow_prints_live_events() {
    let _serial = serial();
    let data = tempfile::tempdir().unwrap();
    let broker = secured_mosquitto(data.path(), "127.0.0.1", None);
    let api_port = free_port();
    let api = format!("http://127.0.0.1:{api_port}");
    let _orch = orchestrator(api_port, &broker.url(), data.path());
    let mut logs = silverline()
        .env("SILVERLINE_TOKEN", token_for(&api).unwrap())
        .args(["logs", "--follow", "--api", &api])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    let out = logs.stdout.take().unwrap();
    std::thread::spawn(move || BufReader::new(out).lines().map_while(Result::ok).for_each(|l| sink.lock().push(l)));
    let _logs = Proc(logs);
    join(&api, &broker, "solo", data.path());
    let _h = host("solo", &broker.url(), data.path());
    eventually(30, "logs --follow prints the Host joining", || lines.lock().iter().any(|l| l.contains("host-joined") && l.contains("solo")).then_some(()));
}
