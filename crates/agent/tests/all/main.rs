//! The agent against a real Mosquitto: registration, commands executed once per id, acks,
//! malformed commands dropped.

use silverline_agent::{Agent, AgentConfig, HostSecurity};
use silverline_security::credentials::HostCredentials;
use silverline_security::provenance::TrustPolicy;
use silverline_security::signing::{CommandSigner, KeyPair};
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
    let signer = CommandSigner::new(KeyPair::generate());
    let config = AgentConfig {
        broker: broker.url(),
        host: HostManifest::generate("edge-1"),
        platform: PlatformManifest::probe(),
        status_interval: Duration::from_millis(200),
        blob_dir: Some(blobs.path().to_path_buf()),
        security: Some(security(&broker.url(), &signer.public_hex(), blobs.path())),
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
            blob_url: "http://127.0.0.1:9/attacker".into(),
        }),
    };
    let sign = |signer: &CommandSigner, host: &str, cmd: &Command| signer.sign(host, String::from_utf8(proto::encode(cmd)).unwrap());
    let publish = |signed: &proto::SignedCommand| orch.publish(&topics::commands("edge-1"), &bytes::Bytes::from(proto::encode(signed))).unwrap();
    let send = |cmd: &Command| publish(&sign(&signer, "edge-1", cmd));

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

    // Forged (another key), misdirected (signed for another Host) and replayed commands are
    // dropped unanswered; the next genuine command is the synchronisation point.
    let delete = |id: &str| Command { id: CommandId(id.into()), kind: CommandKind::Delete { module: ModuleId("a/counter".into()) } };
    publish(&sign(&CommandSigner::new(KeyPair::generate()), "edge-1", &delete("forged")));
    publish(&sign(&signer, "edge-2", &delete("misdirected")));
    let genuine = sign(&signer, "edge-1", &Command { id: CommandId("c2b".into()), kind: CommandKind::SetChannelActive { module: ModuleId("a/counter".into()), channel: "out".into(), active: true, from_activation: None } });
    publish(&genuine);
    let ack: Ack = proto::decode(&next("/acks")).unwrap();
    assert_eq!(ack.command.0, "c2b", "forged and misdirected commands get no answer: {ack:?}");
    publish(&genuine);
    send(&Command { id: CommandId("c2c".into()), kind: CommandKind::SetChannelActive { module: ModuleId("a/counter".into()), channel: "out".into(), active: true, from_activation: None } });
    let ack: Ack = proto::decode(&next("/acks")).unwrap();
    assert_eq!(ack.command.0, "c2c", "a replayed command gets no answer: {ack:?}");
    assert_eq!(host.status().modules.len(), 1, "nothing was deleted by the forged or misdirected deletes");

    send(&Command { id: CommandId("c3".into()), kind: CommandKind::Delete { module: ModuleId("a/counter".into()) } });
    let ack: Ack = proto::decode(&next("/acks")).unwrap();
    assert!(ack.ok);
    assert!(host.status().modules.is_empty());
    send(&deploy("c4", &missing));
    let ack: Ack = proto::decode(&next("/acks")).unwrap();
    assert!(!ack.ok, "a blob that cannot be fetched is reported");
    assert!(ack.error.as_deref().unwrap_or("").contains("127.0.0.1:9/registry"), "fetched from the enrolled registry, not the command's blob_url: {ack:?}");
    assert!(host.status().modules.is_empty());
}

fn security(broker: &str, orchestrator_key: &str, dir: &std::path::Path) -> HostSecurity {
    let credentials = HostCredentials {
        host: "edge-1".into(),
        broker: broker.into(),
        control_password: "unused-by-anonymous-mosquitto".into(),
        data_password: "unused".into(),
        orchestrator_key: orchestrator_key.into(),
        registry: "http://127.0.0.1:9/registry".into(),
        registry_token: "slt_x".into(),
        ca: None,
    };
    HostSecurity { credentials, trust: TrustPolicy::Optional, publishers: Vec::new(), allowed_dirs: Vec::new(), state_dir: dir.to_path_buf() }
}
