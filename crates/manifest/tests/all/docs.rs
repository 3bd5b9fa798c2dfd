//! The complete examples in docs/manifests.md must stay valid.

use std::path::Path;

use silverline_manifest::{parse_any, ManifestKind};

/// The ```yaml blocks of the reference that start with `kind:`.
fn examples() -> Vec<String> {
    let doc = include_str!("../../../../docs/manifests.md");
    let mut out = Vec::new();
    for block in doc.split("```yaml\n").skip(1) {
        let body = block.split("```").next().unwrap_or_default();
        if body.starts_with("kind:") {
            out.push(body.to_string());
        }
    }
    out
}

#[test]
fn every_complete_example_parses() {
    let kinds: Vec<ManifestKind> = examples()
        .iter()
        .map(|e| {
            parse_any(e, Path::new("/"))
                .unwrap_or_else(|err| panic!("{err}\n{e}"))
                .kind()
        })
        .collect();
    assert_eq!(kinds, ManifestKind::ALL);
}
