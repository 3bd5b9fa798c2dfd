//! Integration tests of silverline-manifest: one binary, one module per topic.

mod application;
mod bad_application;
mod chains;
mod detect;
mod docs;
mod host;
mod platform;
mod topology;

use std::path::Path;

use silverline_manifest::{ApplicationManifest, ManifestErrors};

/// Fig. 5 of the paper, completed with a second module and an event trigger.
pub const FIG5_YAML: &str = r#"
name: "app1"
modules:
  - name: "process"
    file: "process.wasm"
    trigger:
      type: "periodic"
      periodInNs: 50000000
    inputChannels:
      active: true
      channels:
        - name: "x"
          endpoint: "ep1"
    outputChannels:
      active: true
      channels:
        - name: "y"
          endpoint: "ep2"
          payloadSizeInBytes: 20
"#;

/// Parses an application manifest that must be rejected.
pub fn app_err(text: &str) -> ManifestErrors {
    match ApplicationManifest::from_str(text, Path::new("/base")) {
        Ok(app) => panic!("accepted a bad manifest: {app:#?}"),
        Err(e) => e,
    }
}

/// Asserts that `errs` has an error at exactly `path` whose expectation mentions `fragment`.
#[track_caller]
pub fn assert_error(errs: &ManifestErrors, path: &str, fragment: &str) {
    let Some(e) = errs.at(path) else {
        panic!("no error at `{path}`; errors were:\n{errs}");
    };
    assert!(
        e.expected.contains(fragment),
        "error at `{path}` expected {:?}, which lacks {fragment:?}; errors were:\n{errs}",
        e.expected
    );
}
