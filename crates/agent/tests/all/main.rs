//! The agent against a real Mosquitto: registration, commands executed once per id, acks,
//! malformed commands dropped.

use silverline_agent::{Agent, AgentConfig};
use silverline_channels::{MqttBackend, MqttConfig, RemoteBackend};
use silverline_host::{Host, HostConfig};
use silverline_manifest::{HostManifest, PlatformManifest};
use silverline_proto::{self as proto, topics, Ack, Command, CommandId, CommandKind, DeployModule, ModuleId};
use silverline_test_programs::broker::Mosquitto;
use silverline_test_programs::COUNTER_C;
use std::sync::Arc;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[test]
fn commands_run_once_per_id_and_are_acknowledged() {
    let broker = Mosquitto::start();
    let blobs = tempfile::tempdir().unwrap();
    let wasm = std::fs::read(COUNTER_C).unwrap();
    let sha = sha256(&wasm);
    std::fs::write(blobs.path().join(format!("{sha}.wasm")), &wasm).unwrap();

    // An observer standing in for the Orchestrator.
    let (tx, rx) = crossbeam_channel::unbounded::<(String, bytes::Bytes)>();
    let mut cfg = MqttConfig::from_url(&broker.url()).unwrap();
    cfg.client_id("fake-orchestrator");
    let orch = MqttBackend::connect(&cfg, Arc::new(move |t: &str, p| drop(tx.send((t.to_string(), p))))).unwrap();
    orch.subscribe(&topics::all_hosts("register"));
    orch.subscribe(&topics::all_hosts("acks"));
    assert!(orch.wait_subscribed(WAIT));

    let host = Host::new(HostConfig::new()).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let config = AgentConfig {
        broker: broker.url(),
        host: HostManifest::generate("edge-1"),
        platform: PlatformManifest::probe(),
        status_interval: Duration::from_millis(200),
        blob_dir: Some(blobs.path().to_path_buf()),
    };
    let _agent = Agent::start(host.clone(), config, rt.handle()).unwrap();
    let next = |leaf: &str| loop {
        let (t, p) = rx.recv_timeout(WAIT).unwrap_or_else(|_| panic!("no `{leaf}` message"));
        if t.ends_with(leaf) {
            return p;
        }
    };
    let reg: proto::Registration = proto::decode(&next("/register")).unwrap();
    assert_eq!(reg.host.name, "edge-1");
    assert!(reg.modules.is_empty());

    let manifest = serde_json::json!({ "name": "a", "modules": [{ "name": "counter", "file": "counter.wasm",
        "trigger": { "type": "periodic", "periodInNs": 100000000 },
        "outputChannels": { "channels": [{ "name": "out", "endpoint": "a/c" }] } }] });
    let deploy = |id: &str, sha: &str| Command {
        id: CommandId(id.into()),
        kind: CommandKind::Deploy(DeployModule {
            module: ModuleId("a/counter".into()),
            app: "a".into(),
            manifest: manifest.clone(),
            sha256: sha.into(),
            blob_url: "http://127.0.0.1:9/v1/blobs".into(),
        }),
    };
    let send = |cmd: &Command| orch.publish(&topics::commands("edge-1"), &bytes::Bytes::from(proto::encode(cmd))).unwrap();

    send(&deploy("c1", &sha));
    let ack: Ack = proto::decode(&next("/acks")).unwrap();
    assert_eq!((ack.command.0.as_str(), ack.ok, ack.duplicate), ("c1", true, false), "{ack:?}");
    send(&deploy("c1", &sha));
    let ack: Ack = proto::decode(&next("/acks")).unwrap();
    assert_eq!((ack.ok, ack.duplicate), (true, true), "a re-delivered command is answered, not re-run");
    assert_eq!(host.status().modules.len(), 1);

    // Garbage is dropped; the next command still works.
    orch.publish(&topics::commands("edge-1"), &bytes::Bytes::from_static(b"{\"v\":1,\"command\":\"explode\"}")).unwrap();
    orch.publish(&topics::commands("edge-1"), &bytes::Bytes::from_static(b"\xff")).unwrap();
    let missing = "0".repeat(64);
    send(&deploy("c2", &missing));
    let ack: Ack = proto::decode(&next("/acks")).unwrap();
    assert_eq!(ack.command.0, "c2");
    assert!(!ack.ok);
    assert!(ack.error.unwrap().contains("already runs here"), "the same id with another version is refused");

    send(&Command { id: CommandId("c3".into()), kind: CommandKind::Delete { module: ModuleId("a/counter".into()) } });
    let ack: Ack = proto::decode(&next("/acks")).unwrap();
    assert!(ack.ok);
    assert!(host.status().modules.is_empty());
    send(&deploy("c4", &missing));
    let ack: Ack = proto::decode(&next("/acks")).unwrap();
    assert!(!ack.ok, "a blob that cannot be fetched is reported");
    assert!(host.status().modules.is_empty());
}
