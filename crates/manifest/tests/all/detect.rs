//! `parse_any`: detection by `kind` and by top-level keys.

use std::path::Path;

use silverline_manifest::{detect_kind, parse_any, parse_any_file, AnyManifest, ManifestKind};

use crate::{assert_error, FIG5_YAML};

const HOST: &str =
    "uuid: 5f937916-d29d-4f66-801e-3d69f57728e2\nname: edge 1\napis: [\"sl:channels\"]\n";
const PLATFORM: &str = "cpu: { arch: X86_64, cores: 2 }\nmemory: { totalBytes: 1000 }\n";
const TOPOLOGY: &str = "platforms: [A, B]\nlinks: [ { between: [A, B], latencyInNs: 1, bandwidthBitsPerSecond: 1 } ]\n";

fn kind_of(text: &str) -> ManifestKind {
    parse_any(text, Path::new("/"))
        .unwrap_or_else(|e| panic!("{e}"))
        .kind()
}

#[test]
fn detects_by_top_level_keys() {
    assert_eq!(kind_of(FIG5_YAML), ManifestKind::Application);
    assert_eq!(kind_of(HOST), ManifestKind::Host);
    assert_eq!(kind_of(PLATFORM), ManifestKind::Platform);
    assert_eq!(kind_of(TOPOLOGY), ManifestKind::Topology);
    assert_eq!(
        kind_of(
            "{\"apis\": [], \"uuid\": \"5f937916-d29d-4f66-801e-3d69f57728e2\", \"name\": \"h\"}"
        ),
        ManifestKind::Host
    );
}

#[test]
fn detects_by_kind() {
    for kind in ManifestKind::ALL {
        let text = match kind {
            ManifestKind::Application => FIG5_YAML,
            ManifestKind::Host => HOST,
            ManifestKind::Platform => PLATFORM,
            ManifestKind::Topology => TOPOLOGY,
        };
        let with_kind = format!("kind: {kind}\n{text}");
        assert_eq!(detect_kind(&with_kind).unwrap(), kind);
        assert_eq!(kind_of(&with_kind), kind);
    }
}

#[test]
fn kind_wins_over_keys() {
    // Says host but looks like a platform: parsed as a host, so `cpu` is an unknown field.
    let errs = parse_any(&format!("kind: host\n{PLATFORM}"), Path::new("/")).unwrap_err();
    assert_error(&errs, "cpu", "`uuid`");
}

#[test]
fn unknown_kind() {
    let errs = parse_any("kind: widget\nname: x\n", Path::new("/")).unwrap_err();
    assert_error(
        &errs,
        "kind",
        "one of `application`, `host`, `platform`, `topology`",
    );
}

#[test]
fn nothing_recognisable() {
    let errs = parse_any("name: x\n", Path::new("/")).unwrap_err();
    assert_error(&errs, "", "`modules` (application)");
    let errs = parse_any("- 1\n- 2\n", Path::new("/")).unwrap_err();
    assert_error(&errs, "", "a manifest (a mapping)");
}

#[test]
fn parse_any_file_resolves_application_paths() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.yaml");
    std::fs::write(&path, FIG5_YAML).unwrap();
    let AnyManifest::Application(app) = parse_any_file(&path).unwrap() else {
        panic!("not an application");
    };
    assert_eq!(app.modules[0].file, dir.path().join("process.wasm"));
    let errs = parse_any_file(&dir.path().join("nope.yaml")).unwrap_err();
    assert_eq!(
        errs.0[0].file.as_deref(),
        Some(dir.path().join("nope.yaml").as_path())
    );
}
