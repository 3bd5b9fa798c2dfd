//! Smoke test of the benchmark harness in quick mode: asserts the report's shape only (every
//! section present and run, every number positive), never a speed.

use silverline_bench::{run, BenchConfig, Report, SECTIONS};

#[test]
fn quick_run_reports_every_section_with_positive_numbers() {
    let mut config = BenchConfig::quick();
    // Also exercise `--module` with a real C reactor built by clang.
    config.modules.push(silverline_test_programs::ECHO_C.into());
    let report = run(&config).expect("bench runs");

    let names: Vec<&str> = report.sections.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, SECTIONS);
    for s in &report.sections {
        assert_eq!(s.skipped, None, "section {} was skipped", s.name);
        assert!(!s.rows.is_empty(), "section {} has no rows", s.name);
        assert!(!s.notes.is_empty(), "section {} explains nothing", s.name);
        for r in &s.rows {
            assert!(r.n > 0, "{}: `{}` has no samples", s.name, r.name);
            for v in [r.median_ns, r.p99_ns, r.mean_ns, r.min_ns, r.max_ns] {
                assert!(v.is_finite() && v > 0.0, "{}: `{}` has a non-positive value {v}", s.name, r.name);
            }
            assert!(r.min_ns <= r.median_ns && r.median_ns <= r.p99_ns && r.p99_ns <= r.max_ns, "{}: `{}` is not ordered", s.name, r.name);
        }
        for f in &s.figures {
            assert!(f.value.is_finite(), "{}: figure `{}` is not finite", s.name, f.name);
            if f.unit != "ns" {
                assert!(f.value > 0.0, "{}: figure `{}` is not positive", s.name, f.name);
            }
            assert_eq!(f.met.is_some(), f.target.is_some());
        }
    }
    for (section, targets) in [("latency", 2), ("publish", 3)] {
        let s = report.section(section).unwrap();
        assert_eq!(s.figures.iter().filter(|f| f.target.is_some()).count(), targets, "targets of {section}");
    }
    assert!(report.section("instantiate").unwrap().rows.iter().any(|r| r.name.contains("echo.wasm")));

    // Serializable, and the markdown names every section and every row.
    let json = serde_json::to_string(&report).unwrap();
    let back: Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back.sections.len(), SECTIONS.len());
    let md = report.to_markdown();
    for s in &report.sections {
        assert!(md.contains(&format!("`{}`", s.name)));
        for r in &s.rows {
            assert!(md.contains(&r.name), "markdown lacks `{}`", r.name);
        }
    }
}

#[test]
fn unknown_section_is_an_error() {
    let config = BenchConfig { only: vec!["nope".into()], ..BenchConfig::quick() };
    let err = run(&config).unwrap_err().to_string();
    assert!(err.contains("host-call"), "{err}");
}
