//! Host manifests (Fig. 4).

use std::str::FromStr;

use silverline_manifest::{HostManifest, HostUuid};

use crate::assert_error;

const FIG4: &str = r#"{
  "uuid": "5f937916-d29d-4f66-801e-3d69f57728e2",
  "name": "edge 1",
  "apis": ["sl:channels", "wasm:wasi_preview1"],
  "metadata": { "tags": ["edge_node"], "platformId": "IPC1" }
}"#;

fn host_err(text: &str) -> silverline_manifest::ManifestErrors {
    HostManifest::from_str(text).expect_err("a bad host manifest was accepted")
}

#[test]
fn fig4_parses() {
    let h = HostManifest::from_str(FIG4).unwrap();
    assert_eq!(h.uuid.as_str(), "5f937916-d29d-4f66-801e-3d69f57728e2");
    assert_eq!(h.name, "edge 1");
    assert!(h.has_api("sl:channels") && h.has_api("wasm:wasi_preview1") && !h.has_api("x:y"));
    assert!(h.has_tag("edge_node"));
    assert_eq!(h.metadata.platform_id.as_deref(), Some("IPC1"));
}

#[test]
fn yaml_with_kind_and_round_trip() {
    let yaml = "kind: host\nuuid: 5F937916-D29D-4F66-801E-3D69F57728E2\nname: n\napis: []\n";
    let h: HostManifest = yaml.parse().unwrap();
    assert_eq!(
        h.uuid.as_str(),
        "5f937916-d29d-4f66-801e-3d69f57728e2",
        "stored lowercase"
    );
    let back: HostManifest = h.to_json().parse().unwrap();
    assert_eq!(back, h);
    let back: HostManifest = h.to_yaml().parse().unwrap();
    assert_eq!(back, h);
}

#[test]
fn bad_uuid() {
    let errs = host_err(&FIG4.replace("5f937916-d29d", "5f937916d29d"));
    assert_error(&errs, "uuid", "8-4-4-4-12");
}

#[test]
fn api_without_colon() {
    let errs = host_err(&FIG4.replace("\"sl:channels\"", "\"channels\""));
    assert_error(&errs, "apis[0]", "`namespace:name`");
}

#[test]
fn missing_uuid_and_bad_name() {
    let errs = host_err("name: \"\"\napis: [a:b]\n");
    assert_error(&errs, "uuid", "required field `uuid`");
    let errs = host_err(&FIG4.replace("edge 1", ""));
    assert_error(&errs, "name", "1 to 63 printable characters");
}

#[test]
fn paper_spelling_of_platform_id_is_an_unknown_field() {
    // Fig. 4 prints "platform id"; the schema key is camelCase `platformId`.
    let errs = host_err(&FIG4.replace("platformId", "platform id"));
    assert_error(&errs, "metadata.platform id", "`platformId`");
}

#[test]
fn wrong_kind() {
    let errs = host_err(&format!(
        "kind: platform\n{}",
        "uuid: 5f937916-d29d-4f66-801e-3d69f57728e2\nname: n\napis: []\n"
    ));
    assert_error(&errs, "kind", "`host`");
}

#[test]
fn generate_gives_a_fresh_valid_uuid() {
    let a = HostManifest::generate("edge 1");
    let b = HostManifest::generate("edge 1");
    assert_ne!(a.uuid, b.uuid);
    assert!(HostUuid::parse(a.uuid.as_str()).is_ok());
    let back: HostManifest = a.to_json().parse().unwrap();
    assert_eq!(back, a);
}
