use crate::common::*;

#[test]
fn the_examples_are_valid() {
    let out = run(&["validate", "examples/pipeline/app.yaml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("valid application manifest"));
}

#[test]
fn errors_name_the_field_path_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    let bad = "name: app\nmodules:\n  - name: a\n    file: a.wasm\n    trigger: { type: periodic, periodInNs: 1000000 }\n  - name: b\n    file: b.wasm\n    trigger: { type: periodic, periodInNs: -5 }\n";
    std::fs::write(&file, bad).unwrap();
    let out = run(&["validate", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("modules[1].trigger.periodInNs"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), bad);
    let run_it = run(&["run", file.to_str().unwrap(), "--for", "1s"]);
    assert_eq!(run_it.status.code(), Some(1));
    assert!(stderr(&run_it).contains("modules[1].trigger.periodInNs"));
}
