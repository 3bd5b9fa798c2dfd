use crate::common::*;

#[test]
fn platform_manifest_is_probed_and_validates() {
    let out = run(&["platform"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("cpu:") && text.contains("cores:") && text.contains("memory:"), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("platform.yaml");
    std::fs::write(&file, &text).unwrap();
    let check = run(&["validate", file.to_str().unwrap()]);
    assert!(check.status.success(), "{}", stderr(&check));
    assert!(stdout(&check).contains("valid platform manifest"));
    let json = run(&["platform", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(v["cpu"]["cores"].as_u64().unwrap() >= 1);
}
