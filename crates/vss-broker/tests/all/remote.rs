//! A Host's view: [`RemoteStore`] against the broker.

use crate::{broker, id, KNOB, POSITION, SWITCH, TOKEN};
use silverline_vss::{SignalStore, Value, VssError};
use silverline_vss_broker::RemoteStore;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Generous, so that a loaded machine does not fail the tests; the unavailable cases set
/// their own.
const TIMEOUT: Duration = Duration::from_secs(5);

#[test]
fn set_and_get_go_through_the_broker() {
    let b = broker();
    let host = RemoteStore::connect(&b.url(), Some(TOKEN), TIMEOUT).unwrap();
    assert_eq!(host.catalog().signals(), crate::catalog().signals(), "the catalog learnt from ListMetadata is the file's");
    let pos = id(POSITION);
    assert_eq!(host.get(pos).unwrap(), None, "nothing set yet");
    host.set(pos, Value::Int(42)).unwrap();
    assert_eq!(b.broker().values().get(pos).unwrap().map(|d| d.value), Some(Value::Int(42)), "the broker holds it");
    let got = host.get(pos).unwrap().unwrap();
    assert_eq!((got.value, got.version), (Value::Int(42), 1));
    b.broker().values().set(pos, Value::Int(-7)).unwrap();
    let got = host.get(pos).unwrap().unwrap();
    assert_eq!((got.value, got.version), (Value::Int(-7), 2), "a write on the broker side is seen, as a new version");
    assert_eq!(host.get(pos).unwrap().unwrap().version, 2, "reading again is not a new version");
    host.set(id(SWITCH), Value::String("OPEN".into())).unwrap();
    host.set(id(KNOB), Value::Float(33.3)).unwrap();
    assert_eq!(host.get(id(KNOB)).unwrap().map(|d| d.value), Some(Value::Float(33.3)), "a float comes back as written");
}

#[test]
fn a_refused_write_changes_nothing() {
    let b = broker();
    let host = RemoteStore::connect(&b.url(), Some(TOKEN), TIMEOUT).unwrap();
    let pos = id(POSITION);
    host.set(pos, Value::Int(10)).unwrap();
    let e = host.set(pos, Value::Int(101)).unwrap_err();
    assert!(matches!(e, VssError::OutOfRange { .. }), "{e}");
    assert!(e.to_string().contains(POSITION) && e.to_string().contains("100"), "{e}");
    assert!(matches!(host.set(pos, Value::Float(1.0)), Err(VssError::WrongType { .. })));
    assert!(matches!(host.set(id(SWITCH), Value::String("SIDEWAYS".into())), Err(VssError::NotAllowed { .. })));
    let d = b.broker().values().get(pos).unwrap().unwrap();
    assert_eq!((d.value, d.version), (Value::Int(10), 1), "the broker's value is untouched");
    assert!(matches!(host.get(999), Err(VssError::UnknownId(999))));
}

#[test]
fn a_watch_wakes_on_every_change_from_either_side() {
    let b = broker();
    let host = RemoteStore::connect(&b.url(), Some(TOKEN), TIMEOUT).unwrap();
    let knob = id(KNOB);
    let (tx, rx) = std::sync::mpsc::channel();
    let watch = host.watch(knob, Arc::new(move || { let _ = tx.send(()); })).unwrap();
    b.broker().values().set(knob, Value::Float(12.5)).unwrap();
    rx.recv_timeout(Duration::from_secs(5)).expect("woken by a write on the broker");
    assert_eq!(host.get(knob).unwrap().map(|d| d.value), Some(Value::Float(12.5)));
    let other = RemoteStore::connect(&b.url(), Some(TOKEN), TIMEOUT).unwrap();
    other.set(knob, Value::Float(60.0)).unwrap();
    rx.recv_timeout(Duration::from_secs(5)).expect("woken by another Host's write");
    assert_eq!(b.broker().counters().subscriptions.load(Ordering::Relaxed), 1);
    drop(watch);
}

#[test]
fn a_wrong_or_missing_token_is_refused_and_counted() {
    let b = broker();
    for token in [Some("wrong"), None] {
        let e = RemoteStore::connect(&b.url(), token, TIMEOUT).err().expect("refused");
        assert!(matches!(&e, VssError::Unavailable(m) if m.contains("refused the token")), "{e}");
    }
    assert_eq!(b.broker().counters().auth_refused.load(Ordering::Relaxed), 2);
}

#[test]
fn an_unreachable_broker_is_unavailable_not_a_hang() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let started = Instant::now();
    let e = RemoteStore::connect(&format!("http://127.0.0.1:{port}"), Some(TOKEN), Duration::from_millis(500)).err().expect("nobody listens");
    assert!(matches!(e, VssError::Unavailable(_)), "{e}");
    assert!(started.elapsed() < Duration::from_secs(3), "it gave up in {:?}", started.elapsed());

    let b = broker();
    let host = RemoteStore::connect(&b.url(), Some(TOKEN), Duration::from_millis(500)).unwrap();
    b.shutdown().unwrap();
    let started = Instant::now();
    assert!(matches!(host.get(id(POSITION)), Err(VssError::Unavailable(_))));
    assert!(matches!(host.set(id(POSITION), Value::Int(1)), Err(VssError::Unavailable(_))));
    assert!(matches!(host.watch(id(KNOB), Arc::new(|| {})), Err(VssError::Unavailable(_))));
    assert!(started.elapsed() < Duration::from_secs(5), "each call gave up within its timeout ({:?})", started.elapsed());
}

#[test]
fn a_watch_outlives_the_call_timeout_and_the_snapshot_is_not_a_change() {
    let b = broker();
    let knob = id(KNOB);
    b.broker().values().set(knob, Value::Float(1.0)).unwrap();
    let short = Duration::from_millis(300);
    let host = RemoteStore::connect(&b.url(), Some(TOKEN), short).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let _watch = host.watch(knob, Arc::new(move || { let _ = tx.send(()); })).unwrap();
    assert!(rx.recv_timeout(short * 3).is_err(), "nothing changed, so nothing woke it (not even the initial snapshot)");
    b.broker().values().set(knob, Value::Float(2.0)).unwrap();
    rx.recv_timeout(Duration::from_secs(5)).expect("still woken after more than the call timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn it_works_and_drops_inside_async_code() {
    let b = broker();
    let host = RemoteStore::connect(&b.url(), Some(TOKEN), TIMEOUT).unwrap();
    host.set(id(POSITION), Value::Int(3)).unwrap();
    assert_eq!(host.get(id(POSITION)).unwrap().map(|d| d.value), Some(Value::Int(3)));
    drop(host);
}
