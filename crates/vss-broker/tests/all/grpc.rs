//! What the store API does not reach: targets, v1 per-entry errors, metadata, ids.

use crate::{broker, id, POSITION, SWITCH, TOKEN};
use silverline_vss::{SignalStore, Value};
use silverline_vss_broker::proto::{v1, v2};
use std::time::Duration;
use tonic::{Code, Request};

fn authed<T>(msg: T) -> Request<T> {
    let mut r = Request::new(msg);
    r.metadata_mut().insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
    r
}

fn path(p: &str) -> Option<v2::SignalId> {
    Some(v2::SignalId { signal: Some(v2::signal_id::Signal::Path(p.into())) })
}

fn string(s: &str) -> Option<v2::Value> {
    Some(v2::Value { typed_value: Some(v2::value::TypedValue::String(s.into())) })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn actuate_writes_the_target_only_for_actuators() {
    let b = broker();
    let mut c = v2::val_client::ValClient::connect(b.url()).await.unwrap();
    c.actuate(authed(v2::ActuateRequest { signal_id: path(SWITCH), value: string("OPEN") })).await.unwrap();
    assert_eq!(b.broker().targets().get(id(SWITCH)).unwrap().map(|d| d.value), Some(Value::String("OPEN".into())));
    assert_eq!(b.broker().values().get(id(SWITCH)).unwrap(), None, "the current value is apart from the target");

    let refused = c.actuate(authed(v2::ActuateRequest { signal_id: path(SWITCH), value: string("SIDEWAYS") })).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(refused.message().contains(SWITCH) && refused.message().contains("TILT_UP"), "{}", refused.message());
    let sensor = v2::ActuateRequest { signal_id: path(POSITION), value: Some(v2::Value { typed_value: Some(v2::value::TypedValue::Int32(1)) }) };
    assert_eq!(c.actuate(authed(sensor)).await.unwrap_err().code(), Code::InvalidArgument, "a sensor has no target");
    let unknown = c.get_value(authed(v2::GetValueRequest { signal_id: path("Vehicle.Nope") })).await.unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let no_token = c.get_value(Request::new(v2::GetValueRequest { signal_id: path(POSITION) })).await.unwrap_err();
    assert_eq!(no_token.code(), Code::Unauthenticated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn v1_set_reports_per_entry_and_is_all_or_nothing() {
    let b = broker();
    let mut c = v1::val_client::ValClient::connect(b.url()).await.unwrap();
    let entry = |p: &str, v: i32| v1::EntryUpdate {
        entry: Some(v1::DataEntry { path: p.into(), value: Some(v1::Datapoint { timestamp: None, value: Some(v1::datapoint::Value::Int32(v)) }), ..Default::default() }),
        fields: vec![v1::Field::Value as i32],
    };
    let r = c.set(authed(v1::SetRequest { updates: vec![entry(POSITION, 5), entry(POSITION, 101), entry("Vehicle.Nope", 1)] })).await.unwrap().into_inner();
    let codes: Vec<_> = r.errors.iter().map(|e| (e.path.as_str(), e.error.as_ref().map(|e| e.code))).collect();
    assert_eq!(codes, [(POSITION, Some(400)), ("Vehicle.Nope", Some(404))]);
    assert!(r.errors[0].error.as_ref().unwrap().message.contains("100"));
    assert_eq!(b.broker().values().get(id(POSITION)).unwrap(), None, "the valid entry was not applied either");

    let ok = c.set(authed(v1::SetRequest { updates: vec![entry(POSITION, 5)] })).await.unwrap().into_inner();
    assert!(ok.errors.is_empty() && ok.error.is_none());
    let got = c.get(authed(v1::GetRequest { entries: vec![v1::EntryRequest { path: "Vehicle.Cabin.Sunroof".into(), view: v1::View::All as i32, fields: vec![] }] })).await.unwrap().into_inner();
    assert_eq!(got.entries.len(), 5, "a branch names every signal below it");
    let pos = got.entries.iter().find(|e| e.path == POSITION).unwrap();
    assert_eq!(pos.value.as_ref().and_then(|d| d.value.clone()), Some(v1::datapoint::Value::Int32(5)));
    assert_eq!(pos.metadata.as_ref().map(|m| m.data_type), Some(v1::DataType::Int8 as i32));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn ids_are_the_catalogs_and_metadata_lists_a_branch() {
    let b = broker();
    let mut c = v2::val_client::ValClient::connect(b.url()).await.unwrap();
    let listed = c.list_metadata(authed(v2::ListMetadataRequest { root: "Vehicle.Cabin.Sunroof.Shade".into(), filter: String::new() })).await.unwrap().into_inner().metadata;
    assert_eq!(listed.iter().map(|m| m.path.as_str()).collect::<Vec<_>>(), ["Vehicle.Cabin.Sunroof.Shade.Position"]);
    b.broker().values().set(listed[0].id as u32, Value::UInt(30)).unwrap();
    let by_id = v2::SignalId { signal: Some(v2::signal_id::Signal::Id(listed[0].id)) };
    let got = c.get_values(authed(v2::GetValuesRequest { signal_ids: vec![by_id, path(POSITION).unwrap()] })).await.unwrap().into_inner().data_points;
    assert_eq!(got[0].value.as_ref().and_then(|v| v.typed_value.clone()), Some(v2::value::TypedValue::Uint32(30)));
    assert_eq!(got[1].value, None, "a signal without a value has an empty datapoint");
    let branch = c.subscribe(authed(v2::SubscribeRequest { signal_paths: vec!["Vehicle.Cabin".into()], buffer_size: 0, filter: None })).await.unwrap_err();
    assert_eq!(branch.code(), Code::NotFound, "v2 subscribes to leaves only; kuksa-client expands branches itself");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_v1_subscription_to_a_target_gets_the_snapshot_then_each_actuation() {
    let b = broker();
    let mut v1c = v1::val_client::ValClient::connect(b.url()).await.unwrap();
    let mut v2c = v2::val_client::ValClient::connect(b.url()).await.unwrap();
    let entry = v1::SubscribeEntry { path: SWITCH.into(), view: v1::View::TargetValue as i32, fields: vec![v1::Field::ActuatorTarget as i32] };
    let mut updates = v1c.subscribe(authed(v1::SubscribeRequest { entries: vec![entry] })).await.unwrap().into_inner();
    let target = |r: v1::SubscribeResponse| r.updates.into_iter().next().and_then(|u| u.entry).and_then(|e| e.actuator_target).and_then(|d| d.value);
    let first = tokio::time::timeout(Duration::from_secs(5), updates.message()).await.unwrap().unwrap().unwrap();
    assert_eq!(target(first), None, "the snapshot: no target yet");
    v2c.actuate(authed(v2::ActuateRequest { signal_id: path(SWITCH), value: string("CLOSE") })).await.unwrap();
    let next = tokio::time::timeout(Duration::from_secs(5), updates.message()).await.unwrap().unwrap().unwrap();
    assert_eq!(target(next), Some(v1::datapoint::Value::String("CLOSE".into())));
}

#[test]
fn shutdown_ends_open_subscriptions_instead_of_waiting_for_them() {
    let b = broker();
    let url = b.url();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut stream = rt.block_on(async {
        let mut c = v2::val_client::ValClient::connect(url).await.unwrap();
        let mut s = c.subscribe(authed(v2::SubscribeRequest { signal_paths: vec![POSITION.into()], buffer_size: 0, filter: None })).await.unwrap().into_inner();
        s.message().await.unwrap().expect("the snapshot");
        s
    });
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || done_tx.send(b.shutdown()));
    done_rx.recv_timeout(Duration::from_secs(10)).expect("shutdown returned").unwrap();
    let end = rt.block_on(async { tokio::time::timeout(Duration::from_secs(5), stream.message()).await });
    assert!(matches!(end, Ok(Ok(None)) | Ok(Err(_))), "the stream ended: {end:?}");
}
