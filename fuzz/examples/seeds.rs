//! Writes the seed corpus under `fuzz/corpus/<target>/`: real manifests (the examples and the
//! schema reference's), encoded control-plane messages, small modules and MQTT packets. The
//! committed corpus is its output; run it again after a protocol change:
//!
//! ```sh
//! cd fuzz && cargo run --example seeds
//! ```
//!
//! A plain build, no libFuzzer flags needed.

use serde_json::json;
use silverline_manifest::{AnyManifest, ApplicationManifest};
use silverline_proto::{decode, encode, Command, HostEvent, StatusReport};
use silverline_security::provenance;
use silverline_security::signing::{CommandSigner, KeyPair};
use std::path::Path;

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = root.join("corpus");
    let documented = manifests(&root.join(".."), &corpus.join("manifest"))?;
    control(&documented, &corpus.join("control"))?;
    mqtt(&corpus.join("mqtt"))?;
    abi(&corpus.join("abi"))?;
    Ok(())
}

fn put(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join(name), bytes)
}

/// Every example application, every YAML block of the schema reference, and their JSON forms.
/// Returns the schema reference's manifests. (Not a probed platform manifest: it would commit
/// this machine's addresses.)
fn manifests(repo: &Path, out: &Path) -> std::io::Result<Vec<AnyManifest>> {
    let examples = ["examples/pipeline/app.yaml", "examples/pipeline/c/app.yaml", "examples/failover/app.yaml"];
    for file in examples {
        let text = std::fs::read_to_string(repo.join(file))?;
        let app = ApplicationManifest::from_str(&text, Path::new("/")).expect("the examples parse");
        let name = file.trim_start_matches("examples/").replace('/', "-");
        put(out, &name, &text)?;
        put(out, &name.replace(".yaml", ".json"), app.to_json())?;
    }
    let docs = std::fs::read_to_string(repo.join("docs/manifests.md"))?;
    let mut documented = Vec::new();
    for (i, block) in docs.split("```yaml\n").skip(1).filter_map(|b| b.split("```").next()).enumerate() {
        if let Ok(m) = silverline_manifest::parse_any(block, Path::new("/")) {
            put(out, &format!("docs-manifests-{i}.yaml"), block)?;
            documented.push(m);
        }
    }
    for m in &documented {
        match m {
            AnyManifest::Host(h) => put(out, "host.json", h.to_json())?,
            AnyManifest::Platform(p) => put(out, "platform.json", p.to_json())?,
            AnyManifest::Topology(t) => put(out, "topology.json", t.to_json())?,
            AnyManifest::Application(_) => {}
        }
    }
    Ok(documented)
}

/// One of each message of docs/protocol.md, a signed command, and small modules.
fn control(documented: &[AnyManifest], out: &Path) -> std::io::Result<()> {
    let app = json!({ "name": "pipeline", "modules": [{ "name": "filter", "file": "/filter.wasm",
        "trigger": { "type": "event", "channel": "in" },
        "inputChannels": { "channels": [{ "name": "in", "endpoint": "pipeline/raw" }] } }] });
    let commands = [
        json!({ "v": 1, "id": "c-1", "command": "deploy", "module": "pipeline/filter", "app": "pipeline",
                "manifest": app, "sha256": "0".repeat(64), "blob_url": "http://127.0.0.1:7420/v1/blobs" }),
        json!({ "v": 1, "id": "c-2", "command": "delete", "module": "pipeline/filter" }),
        json!({ "v": 1, "id": "c-3", "command": "set-channel-active", "module": "pipeline/filter",
                "channel": "out", "active": false, "from_activation": 12 }),
    ];
    let signer = CommandSigner::new(KeyPair::generate());
    for (i, c) in commands.iter().enumerate() {
        let cmd: Command = decode(c.to_string().as_bytes()).expect("a documented command decodes");
        put(out, &format!("command-{i}.json"), encode(&cmd))?;
        put(out, &format!("signed-{i}.json"), encode(&signer.sign("edge-1", String::from_utf8(encode(&cmd)).unwrap())))?;
    }
    let host = documented.iter().find_map(|m| if let AnyManifest::Host(h) = m { Some(h) } else { None }).expect("docs/manifests.md has a host manifest");
    let platform = documented.iter().find_map(|m| if let AnyManifest::Platform(p) = m { Some(p) } else { None }).expect("docs/manifests.md has a platform manifest");
    let registration = json!({ "v": 1, "host": host, "platform": platform,
        "modules": [{ "id": "pipeline/filter", "sha256": "0".repeat(64) }] });
    put(out, "registration.json", registration.to_string())?;
    put(out, "state.json", json!({ "v": 1, "host": "edge-1", "online": false }).to_string())?;
    put(out, "ack.json", json!({ "v": 1, "command": "c-1", "ok": false, "error": "no", "duplicate": true }).to_string())?;
    put(out, "hello.json", json!({ "v": 1, "orchestrator": "o-1" }).to_string())?;
    let summary = json!({ "count": 3, "min": 1, "mean": 2, "p50": 2, "p99": 3, "max": 3 });
    let channel = json!({ "name": "in", "direction": "in", "endpoint": "pipeline/raw", "active": true,
        "messages": 7, "dropped": 0, "queued": 0 });
    let mut module = json!({ "id": "pipeline/filter", "app": "pipeline", "module": "filter", "sha256": "0".repeat(64),
        "state": "restarting", "failure": { "kind": "trap", "message": "unreachable" }, "attempt": 1,
        "trigger": "event", "activations": 7, "step_errors": 0, "overruns": 0, "deadline_misses": 1, "traps": 1 });
    let profile = json!({ "restarts": 1, "scheduling": "best effort", "exec_ns": summary, "start_jitter_ns": summary,
        "fuel_last": 10, "fuel_total": 70, "memory_bytes": 65536, "messages_in": 7, "messages_out": 7, "messages_dropped": 0,
        "channels": [channel] });
    module.as_object_mut().unwrap().extend(profile.as_object().unwrap().clone());
    let host_status = json!({ "name": "edge-1", "pooled_allocation": true, "workers": 2, "cached_modules": 1,
        "realtime": "none: test", "modules": [module] });
    let status = json!({ "v": 1, "seq": 42, "resources": { "load1": 0.25, "memory_available_bytes": 1, "process_rss_bytes": 2 },
        "status": host_status });
    let report: StatusReport = decode(status.to_string().as_bytes()).expect("the status seed decodes");
    put(out, "status.json", encode(&report))?;
    let events = [
        json!({ "v": 1, "module": "pipeline/filter", "kind": { "event": "failed", "failure": { "kind": "fuel-exhausted", "budget": 100 } } }),
        json!({ "v": 1, "module": "a/s", "kind": { "event": "outputs-activated", "by": "a/s.sidecar", "from_ns": 1, "until_ns": 2,
                "detected_at_ns": 0, "applied_ns": 1 } }),
        json!({ "v": 1, "module": "a/s", "kind": { "event": "skipped", "activation": 4, "count": 2, "reason": "behind" } }),
    ];
    for (i, e) in events.iter().enumerate() {
        let event: HostEvent = decode(e.to_string().as_bytes()).expect("an event seed decodes");
        put(out, &format!("event-{i}.json"), encode(&event))?;
    }
    let module = wat::parse_str(
        r#"(module (import "sl" "channel_open" (func (param i32 i32 i32) (result i32)))
                   (import "wasi_snapshot_preview1" "sock_accept" (func (param i32 i32 i32) (result i32)))
                   (memory (export "memory") 1) (func (export "sl_step") (result i32) i32.const 0))"#,
    )
    .expect("the seed module is valid WAT");
    put(out, "module.wasm", &module)?;
    put(out, "module-signed.wasm", provenance::sign_module(&module, &KeyPair::generate()).unwrap())?;
    put(out, "public-key.txt", signer.public_hex())?;
    Ok(())
}

/// MQTT 3.1.1 packets: a CONNECT with will and credentials, PUBLISH at every QoS, the acks, and a
/// session's worth of them in one stream.
fn mqtt(out: &Path) -> std::io::Result<()> {
    let string = |s: &[u8]| [&(s.len() as u16).to_be_bytes()[..], s].concat();
    let packet = |first: u8, body: Vec<u8>| {
        assert!(body.len() < 128, "one-byte remaining length");
        [vec![first, body.len() as u8], body].concat()
    };
    let connect = packet(
        0x10,
        [string(b"MQTT"), vec![4, 0xc0 | 0x20 | 0x08 | 0x04 | 0x02, 0, 30], string(b"c1"), string(b"w/t"), string(b"gone"), string(b"alice"), string(b"pw")].concat(),
    );
    let connect31 = packet(0x10, [string(b"MQIsdp"), vec![3, 0x02, 0, 10], string(b"old")].concat());
    let publish = |qos: u8| {
        let pid: &[u8] = if qos > 0 { &[0, 9] } else { &[] };
        packet(0x30 | qos << 1, [string(b"sensors/raw"), pid.to_vec(), b"payload".to_vec()].concat())
    };
    let subscribe = packet(0x82, [vec![0, 1], string(b"sensors/#"), vec![1]].concat());
    let seeds = [
        ("connect", connect.clone()),
        ("connect-3.1", connect31),
        ("publish-0", publish(0)),
        ("publish-1", publish(1)),
        ("publish-2", publish(2)),
        ("puback", vec![0x40, 2, 0, 9]),
        ("pubrel", vec![0x62, 2, 0, 9]),
        ("subscribe", subscribe.clone()),
        ("session", [connect, subscribe, publish(1), vec![0x40, 2, 0, 9], publish(2), vec![0x62, 2, 0, 9], vec![0xc0, 0], vec![0xe0, 0]].concat()),
        ("long-length", [vec![0x30, 0x80, 0x01], vec![0, 1, b'a'], vec![0; 125]].concat()),
    ];
    for (name, bytes) in seeds {
        put(out, name, bytes)?;
    }
    Ok(())
}

/// Operations for the `abi` target's interpreter (see `src/abi.rs`): open "in" and "out", publish,
/// receive, close.
fn abi(out: &Path) -> std::io::Result<()> {
    let op = |code: u8, a: i32, b: i32, c: i32| [vec![code], a.to_le_bytes().to_vec(), b.to_le_bytes().to_vec(), c.to_le_bytes().to_vec()].concat();
    // `ctl` is open as handle 0 when the operations start.
    let seeds: [(&str, Vec<Vec<u8>>); 3] = [
        ("publish-receive", vec![op(0, 16, 3, 1), op(1, 1, 0, 8), op(0, 0, 2, 0), op(2, 2, 4096, 64), op(3, 2, 0, 0), op(4, 1, 0, 0)]),
        ("log-activation", vec![op(5, 0, 0, 0), op(6, 16, 3, 0), op(0, 32, 3, 0), op(4, 0, 0, 0), op(2, 0, 0, 0)]),
        ("out-of-bounds", vec![op(0, -1, 3, 1), op(0, 16, 3, 1), op(1, 1, 65530, 100), op(2, 0, i32::MAX, 8), op(6, 0, 65535, 2)]),
    ];
    for (name, ops) in seeds {
        put(out, name, ops.concat())?;
    }
    Ok(())
}
