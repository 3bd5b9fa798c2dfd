//! Good application manifests: the paper's example, every trigger type, defaults, flags,
//! path resolution and the serialize/parse round trip.

use std::path::{Path, PathBuf};
use std::time::Duration;

use silverline_manifest::*;

use crate::FIG5_YAML;

const FIG5_JSON: &str = r#"{
  "name": "app1",
  "modules": [{
    "name": "process",
    "file": "process.wasm",
    "trigger": {"type": "periodic", "periodInNs": 50000000},
    "inputChannels": {"active": true, "channels": [{"name": "x", "endpoint": "ep1"}]},
    "outputChannels": {"active": true,
                       "channels": [{"name": "y", "endpoint": "ep2", "payloadSizeInBytes": 20}]}
  }]
}"#;

/// Every optional field set, for the round trip.
const FULL: &str = r##"
kind: application
name: pipeline
modules:
  - name: sensor
    file: bin/sensor.wat
    sha256: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    trigger: { type: periodic, periodInNs: 100000000, offsetInNs: 5000 }
    outputChannels:
      active: false
      channels:
        - { name: raw, endpoint: sensors/raw, payloadSizeInBytes: 20 }
        - { name: log, endpoint: sensors/log, active: true }
    resources: { memoryBytes: 1048576, budgetInNs: 1000000, deadlineInNs: 50000000, fuel: 10000000, onOverrun: degrade }
    criticality: realtime
    restart: { policy: on-failure, maxRestarts: 5, backoffInNs: 1000 }
    wasi:
      args: ["--x"]
      env: { K: V }
      dirs: [ { host: ./data, guest: /data, readonly: false } ]
    placement: { host: edge-1, tags: [edge_node], apis: ["sl:channels"], antiAffinity: [filter] }
    replicas: 2
  - name: filter
    file: filter.wasm
    trigger: { type: event, channel: raw }
    inputChannels:
      channels:
        - { name: raw, endpoint: "sensors/+", queueDepth: 64 }
        - { name: all, endpoint: "#", active: false }
  - name: setup
    file: /opt/setup.wasm
    trigger: { type: command }
"##;

fn parse(text: &str) -> ApplicationManifest {
    ApplicationManifest::from_str(text, Path::new("/apps/x")).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn fig5_yaml_and_json_agree() {
    let yaml = parse(FIG5_YAML);
    let json = parse(FIG5_JSON);
    assert_eq!(yaml, json);
    assert_eq!(yaml.name, "app1");
    let m = yaml.module("process").unwrap();
    assert_eq!(
        m.trigger,
        Trigger::Periodic {
            period: Duration::from_millis(50),
            offset: Duration::ZERO
        }
    );
    assert_eq!(m.input("x").unwrap().endpoint, "ep1");
    assert_eq!(m.output("y").unwrap().payload_size, Some(20));
    assert!(m.input("y").is_none() && m.output("x").is_none());
}

#[test]
fn defaults() {
    let m = parse(FIG5_YAML).modules.remove(0);
    assert_eq!(m.criticality, Criticality::BestEffort);
    assert_eq!(
        m.restart,
        RestartPolicy {
            policy: RestartMode::Never,
            max_restarts: 3,
            backoff: Duration::from_millis(100)
        }
    );
    assert_eq!(m.resources, Resources::default());
    assert_eq!(m.wasi, WasiGrants::default());
    assert_eq!(m.placement, Placement::default());
    assert_eq!(m.replicas, 1);
    assert_eq!(m.inputs[0].queue_depth, DEFAULT_QUEUE_DEPTH);
    assert!(m.inputs[0].active && m.sha256.is_none());
}

#[test]
fn all_trigger_types() {
    let app = parse(FULL);
    let period = Duration::from_millis(100);
    let offset = Duration::from_micros(5);
    assert_eq!(app.modules[0].trigger, Trigger::Periodic { period, offset });
    let raw = ChannelName::new("raw").unwrap();
    assert_eq!(app.modules[1].trigger, Trigger::Event { channel: raw });
    assert_eq!(app.modules[2].trigger, Trigger::Command);
}

#[test]
fn all_fields() {
    let app = parse(FULL);
    let s = &app.modules[0];
    assert_eq!(s.resources.memory_bytes, Some(1 << 20));
    assert_eq!(s.resources.budget, Some(Duration::from_millis(1)));
    assert_eq!(s.resources.deadline, Some(Duration::from_millis(50)));
    assert_eq!(s.resources.fuel, Some(10_000_000));
    assert_eq!(s.resources.on_overrun, silverline_manifest::OverrunPolicy::Degrade);
    assert_eq!(s.criticality, Criticality::Realtime);
    assert_eq!(s.restart.policy, RestartMode::OnFailure);
    assert_eq!(
        (s.restart.max_restarts, s.restart.backoff),
        (5, Duration::from_micros(1))
    );
    assert_eq!(s.wasi.args, ["--x"]);
    assert_eq!(s.wasi.env["K"], "V");
    assert_eq!(s.wasi.dirs[0].guest, "/data");
    assert!(!s.wasi.dirs[0].readonly);
    assert_eq!(s.placement.host.as_deref(), Some("edge-1"));
    assert_eq!(
        s.placement.anti_affinity,
        [ModuleName::new("filter").unwrap()]
    );
    assert_eq!(s.replicas, 2);
    assert_eq!(app.modules[1].input("raw").unwrap().queue_depth, 64);
}

#[test]
fn group_and_channel_active_flags() {
    let app = parse(FULL);
    let sensor = &app.modules[0];
    assert!(
        !sensor.output("raw").unwrap().active,
        "inherits the group's false"
    );
    assert!(
        sensor.output("log").unwrap().active,
        "own flag overrides the group"
    );
    let filter = &app.modules[1];
    assert!(
        filter.input("raw").unwrap().active,
        "group flag defaults to true"
    );
    assert!(!filter.input("all").unwrap().active);
}

#[test]
fn paths_resolve_against_the_base_dir() {
    let app = parse(FULL);
    assert_eq!(app.base_dir, Path::new("/apps/x"));
    assert_eq!(app.modules[0].file, Path::new("/apps/x/bin/sensor.wat"));
    assert_eq!(app.modules[0].file_as_written, "bin/sensor.wat");
    assert_eq!(
        app.modules[0].wasi.dirs[0].host,
        Path::new("/apps/x/./data")
    );
    assert_eq!(
        app.modules[2].file,
        Path::new("/opt/setup.wasm"),
        "absolute paths stay"
    );
}

#[test]
fn from_file_resolves_against_the_manifest_dir_and_check_files() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("app.yaml");
    std::fs::write(&manifest, FIG5_YAML).unwrap();
    let app = ApplicationManifest::from_file(&manifest).unwrap();
    assert_eq!(app.modules[0].file, dir.path().join("process.wasm"));

    let errs = app.check_files().unwrap_err();
    crate::assert_error(&errs, "modules[0].file", "an existing .wasm or .wat file");
    std::fs::write(dir.path().join("process.wasm"), b"\0asm").unwrap();
    app.check_files().unwrap();
}

#[test]
fn check_files_reports_missing_preopened_dirs() {
    let errs = parse(FULL).check_files().unwrap_err();
    crate::assert_error(
        &errs,
        "modules[0].wasi.dirs[0].host",
        "an existing directory",
    );
}

#[test]
fn from_file_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("bad.yaml");
    std::fs::write(&manifest, "name: a\nmodules: []\n").unwrap();
    let errs = ApplicationManifest::from_file(&manifest).unwrap_err();
    assert_eq!(errs.0[0].file.as_deref(), Some(manifest.as_path()));
    assert!(errs
        .to_string()
        .starts_with(&format!("{}: modules: ", manifest.display())));

    let missing = dir.path().join("missing.yaml");
    let errs = ApplicationManifest::from_file(&missing).unwrap_err();
    assert_eq!(errs.0[0].path, "");
    assert!(errs.0[0].expected.contains("readable"));
}

#[test]
fn json_round_trip() {
    let app = parse(FULL);
    let json = app.to_json();
    assert!(
        !json.contains("baseDir") && json.contains("\"file\": \"bin/sensor.wat\""),
        "{json}"
    );
    let back = ApplicationManifest::from_str(&json, &app.base_dir)
        .unwrap_or_else(|e| panic!("{e}\n{json}"));
    assert_eq!(back, app);
}

#[test]
fn yaml_round_trip() {
    let app = parse(FULL);
    let yaml = app.to_yaml();
    let back = ApplicationManifest::from_str(&yaml, &app.base_dir)
        .unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    assert_eq!(back, app);
}

#[test]
fn serialized_keys_are_camel_case() {
    let value = serde_json::to_value(parse(FULL)).unwrap();
    let sensor = &value["modules"][0];
    assert_eq!(sensor["trigger"]["periodInNs"], 100_000_000);
    assert_eq!(sensor["resources"]["budgetInNs"], 1_000_000);
    assert_eq!(sensor["resources"]["onOverrun"], "degrade", "the policy survives the round trip");
    assert_eq!(sensor["placement"]["antiAffinity"][0], "filter");
    assert_eq!(value["kind"], "application");
    let filter = &value["modules"][1];
    assert_eq!(filter["inputChannels"]["channels"][0]["queueDepth"], 64);
    assert_eq!(
        serde_json::to_value(&parse(FULL).modules[2].trigger).unwrap()["type"],
        "command"
    );
}

#[test]
fn base_dir_is_made_absolute() {
    let app = ApplicationManifest::from_str(FIG5_YAML, Path::new("rel")).unwrap();
    assert!(app.base_dir.is_absolute());
    assert!(app.modules[0]
        .file
        .ends_with(PathBuf::from("rel/process.wasm")));
}

#[test]
fn exports_are_topic_filters_and_round_trip() {
    let m = ApplicationManifest::from_str("name: a\nexports: [a/public/#]\nmodules:\n  - name: m\n    file: m.wasm\n    sha256: \"0000000000000000000000000000000000000000000000000000000000000000\"\n    trigger: { type: periodic, periodInNs: 1000000 }\n    outputChannels: { channels: [{ name: out, endpoint: a/public/x }] }\n", std::path::Path::new("/")).unwrap();
    assert_eq!(m.exports.len(), 1);
    assert_eq!(m.endpoints()[0].0, "modules[0].outputChannels.channels[0].endpoint");
    let again = ApplicationManifest::from_str(&m.to_json(), std::path::Path::new("/")).unwrap();
    assert_eq!(again.exports, m.exports);
    let bad = ApplicationManifest::from_str("name: a\nexports: [\"a/#/b\"]\nmodules:\n  - name: m\n    file: m.wasm\n    sha256: \"0000000000000000000000000000000000000000000000000000000000000000\"\n    trigger: { type: periodic, periodInNs: 1000000 }\n", std::path::Path::new("/")).unwrap_err();
    assert_eq!(bad.iter().next().unwrap().path, "exports[0]");
}

#[test]
fn filters_overlap_and_cover_as_mqtt_matches() {
    use silverline_manifest::{filter_covers, filters_overlap};
    assert!(filters_overlap("a/#", "a"));
    assert!(filters_overlap("a/+/c", "a/b/+"));
    assert!(!filters_overlap("a/+", "a"));
    assert!(!filters_overlap("a/b", "a/c"));
    assert!(filter_covers("a/#", "a/b/+"));
    assert!(filter_covers("a/+", "a/b"));
    assert!(!filter_covers("a/+", "a/#"));
    assert!(!filter_covers("a/b", "a/+"));
}

#[test]
fn an_inactive_output_group_is_kept_with_or_without_channels() {
    let app = parse(
        "name: g\nmodules:\n  - name: quiet\n    file: q.wasm\n    trigger: { type: periodic, periodInNs: 1000000 }\n    outputChannels: { active: false }\n  - name: mixed\n    file: m.wasm\n    trigger: { type: periodic, periodInNs: 1000000 }\n    outputChannels:\n      active: false\n      channels: [{ name: a, endpoint: g/a }, { name: b, endpoint: g/b, active: true }]\n",
    );
    let (quiet, mixed) = (&app.modules[0], &app.modules[1]);
    assert!(!quiet.outputs_active && quiet.outputs.is_empty());
    assert!(!mixed.outputs_active);
    assert_eq!(mixed.outputs.iter().map(|c| c.active).collect::<Vec<_>>(), [false, true]);
    let back = ApplicationManifest::from_str(&app.to_json(), &app.base_dir).unwrap_or_else(|e| panic!("{e}\n{}", app.to_json()));
    assert_eq!(back, app, "{}", app.to_json());
    assert!(parse("name: g\nmodules:\n  - name: m\n    file: m.wasm\n    trigger: { type: periodic, periodInNs: 1000000 }\n").modules[0].outputs_active);
}
