//! The sidecar API on one Host with the real sidecar modules (docs/failover.md): the output gate
//! of a replica driven by a channel manager, a detector's timeout by `wake_at`, and the limits
//! (only declared sidecars, only their own application).

use crate::common::*;
use silverline_failover::sidecars::Kind;
use silverline_failover::wire::{Msg, ACTIVATE, ALIVE, DOWN, HEARTBEAT, LEASE};
use silverline_host::{EventKind, Host};
use silverline_test_programs::TICK_WAT;
use std::sync::Arc;
use std::time::Duration;

fn now_ns() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as i64
}

/// The bundled sidecar written to a file a manifest can name.
fn sidecar_file(dir: &tempfile::TempDir, kind: Kind) -> String {
    let path = dir.path().join(format!("{}.wat", kind.name()));
    std::fs::write(&path, kind.wat()).unwrap();
    path.to_str().unwrap().to_string()
}

/// Application `app`: the tick module `ctl` (5 ms, outputs inactive) and a channel manager for it
/// listening on `{app}/ctl/+` (`declared` = whether its manifest says `sidecar: true`).
fn replica_and_manager(app_name: &str, dir: &tempfile::TempDir, declared: bool) -> silverline_manifest::ApplicationManifest {
    app(&format!(
        "name: {app_name}\nmodules:\n  - name: ctl\n    file: {TICK_WAT}\n    trigger: {{ type: periodic, periodInNs: 5000000 }}\n    \
         outputChannels: {{ active: false, channels: [{{ name: out, endpoint: {app_name}/out }}] }}\n  \
         - name: cm\n    file: {}\n    trigger: {{ type: event, channel: control }}\n    \
         inputChannels: {{ channels: [{{ name: control, endpoint: \"{app_name}/ctl/+\" }}] }}\n    config: ctl\n    sidecar: {declared}\n",
        sidecar_file(dir, Kind::ChannelManager)
    ))
}

fn send(host: &Host, topic: &str, msg: Msg) {
    host.router().output_port(topic, true).publish(&msg.encode());
}

#[test]
fn a_channel_manager_opens_a_replica_for_its_lease_only() {
    let dir = tempfile::tempdir().unwrap();
    let (host, _) = host();
    let events = host.events();
    let out = observe(&host, "fo/out", 4096);
    host.deploy_app(&replica_and_manager("fo", &dir, true)).unwrap();
    assert!(host.wait_for(WAIT, |s| s.module("fo/ctl").is_some_and(|m| m.activations >= 3)));
    assert_eq!(out.len(), 0, "a replica speaks only once activated");

    // ACTIVATE with a 200 ms lease, as a coordinator would after detecting a disconnect.
    let detected = now_ns() - 1_000_000;
    let until = now_ns() + 200_000_000;
    send(&host, "fo/ctl/cmd", Msg::new(ACTIVATE, 0, until, 0, detected));
    let e = expect_event(&events, "outputs-activated", |e| matches!(e.kind, EventKind::OutputsActivated { .. }));
    let EventKind::OutputsActivated { detected_at_ns, applied_ns, by, .. } = e.kind else { unreachable!() };
    assert_eq!((e.module.as_str(), by.as_str(), detected_at_ns), ("fo/ctl", "fo/cm", Some(detected)));
    assert!(applied_ns > detected);

    // Nobody renews: the lease lapses by itself and no period at or after `until` is published.
    let e = expect_event(&events, "lease-expired", |e| matches!(e.kind, EventKind::LeaseExpired { .. }));
    let EventKind::LeaseExpired { activation } = e.kind else { unreachable!() };
    assert!(activation * 5_000_000 >= until, "the first silent period starts at or after the lease's end");
    let got: Vec<i64> = std::iter::from_fn(|| out.pop()).map(|m| i64::from_le_bytes(m[..8].try_into().unwrap())).collect();
    assert!(!got.is_empty(), "the replica published while its lease held");
    assert!(got.iter().all(|k| k * 5_000_000 < until), "only periods inside the lease: {got:?}");

    // A LEASE re-opens it (from its not_before), a DOWN from the local detector closes it.
    send(&host, "fo/ctl/cmd", Msg::new(LEASE, 0, now_ns() + 10_000_000_000, 0, 0));
    expect_event(&events, "re-activated by a lease", |e| matches!(e.kind, EventKind::OutputsActivated { detected_at_ns: None, .. }));
    assert!(wait_messages(&host, &out, 3));
    send(&host, "fo/ctl/ort", Msg::new(DOWN, 0, now_ns(), 0, 0));
    expect_event(&events, "outputs-deactivated", |e| matches!(e.kind, EventKind::OutputsDeactivated { .. }));
    assert!(!host.status().module("fo/ctl").unwrap().channels[0].active);
}

#[test]
fn only_declared_sidecars_get_the_sidecar_api_and_only_for_their_own_application() {
    let dir = tempfile::tempdir().unwrap();
    let (host, _) = host();
    let err = host.deploy_app(&replica_and_manager("undeclared", &dir, false)).unwrap_err();
    assert!(format!("{err:#}").contains("sidecar: true"), "{err:#}");
    assert!(host.status().modules.is_empty(), "nothing of a refused application stays");

    // `victim/ctl` is a replica in another application; `fo`'s channel manager names `ctl` too.
    let victim = app(&format!(
        "name: victim\nmodules:\n  - name: ctl\n    file: {TICK_WAT}\n    trigger: {{ type: periodic, periodInNs: 5000000 }}\n    \
         outputChannels: {{ active: false, channels: [{{ name: out, endpoint: victim/out }}] }}\n"
    ));
    host.deploy_app(&victim).unwrap();
    let manager_only = app(&format!(
        "name: fo\nmodules:\n  - name: cm\n    file: {}\n    trigger: {{ type: event, channel: control }}\n    \
         inputChannels: {{ channels: [{{ name: control, endpoint: \"fo/ctl/+\" }}] }}\n    config: ctl\n    sidecar: true\n",
        sidecar_file(&dir, Kind::ChannelManager)
    ));
    host.deploy_app(&manager_only).unwrap();
    let events = host.events();
    send(&host, "fo/ctl/cmd", Msg::new(ACTIVATE, 0, now_ns() + 10_000_000_000, 0, now_ns()));
    // The channel manager ran (its activation is counted) and found no `ctl` in its application.
    let h = host.clone();
    assert!(host.wait_for(WAIT, move |s| s.module("fo/cm").is_some_and(|m| m.activations >= 1)));
    assert!(!h.status().module("victim/ctl").unwrap().channels[0].active, "another application's module is out of reach");
    assert!(events.try_iter().all(|e| !matches!(e.kind, EventKind::OutputsActivated { .. })));
}

#[test]
fn a_detector_reports_alive_then_down_after_its_timeout_without_polling() {
    let dir = tempfile::tempdir().unwrap();
    let (host, _) = host();
    let links = observe(&host, "d/links", 64);
    host.deploy_app(&app(&format!(
        "name: d\nmodules:\n  - name: det\n    file: {}\n    trigger: {{ type: event, channel: heartbeat }}\n    \
         inputChannels: {{ channels: [{{ name: heartbeat, endpoint: d/hb }}] }}\n    \
         outputChannels: {{ channels: [{{ name: link, endpoint: d/links }}] }}\n    config: \"3 50000000\"\n    sidecar: true\n",
        sidecar_file(&dir, Kind::Detector)
    )))
    .unwrap();
    let sent = now_ns();
    send(&host, "d/hb", Msg::new(HEARTBEAT, 0, sent, 7, 420));
    assert!(wait_messages(&host, &links, 2), "ALIVE, then DOWN once the timeout passed with no heartbeat");
    let alive = Msg::decode(&links.pop().unwrap()).unwrap();
    let down = Msg::decode(&links.pop().unwrap()).unwrap();
    assert_eq!((alive.kind, alive.index, alive.t3), (ALIVE, 3, 420), "its index and the heartbeat's load");
    assert_eq!((down.kind, down.index), (DOWN, 3));
    assert!(down.t1 - alive.t1 >= 50_000_000, "not before the 50 ms timeout: {} ns", down.t1 - alive.t1);
    let h = Arc::new(host);
    assert!(!h.wait_for(Duration::from_millis(100), { let l = links.clone(); move |_| l.len() > 0 }), "DOWN once, not again");
}
