//! Same input, same output.

use silverline_placement::{Backtracking, Fit, Placer};

#[test]
fn same_input_same_output() {
    let s = crate::scenario::cluster(100, 10, 100, 7);
    for fit in [Fit::LeastLoaded, Fit::FirstFit] {
        let first = Backtracking::new()
            .strategy(fit)
            .place(&s.hosts, &s.demands)
            .unwrap();
        let again = Backtracking::new()
            .strategy(fit)
            .place(&s.hosts, &s.demands)
            .unwrap();
        assert_eq!(first, again, "{fit:?}");
    }
}

#[test]
fn same_failure_same_error() {
    let mut s = crate::scenario::cluster(50, 10, 10, 3);
    s.hosts.iter_mut().for_each(|h| h.memory_bytes /= 8);
    let first = Backtracking::new().place(&s.hosts, &s.demands).unwrap_err();
    let again = Backtracking::new().place(&s.hosts, &s.demands).unwrap_err();
    assert_eq!(first, again);
    assert_eq!(first.to_string(), again.to_string());
}

#[test]
fn assignments_follow_the_demands() {
    let s = crate::scenario::cluster(20, 10, 30, 11);
    let p = Backtracking::new().place(&s.hosts, &s.demands).unwrap();
    let mut expected = Vec::new();
    for d in &s.demands {
        for r in 0..d.replicas.max(1) {
            expected.push((d.app.clone(), d.module.clone(), r));
        }
    }
    let got: Vec<_> = p
        .assignments
        .iter()
        .map(|a| (a.app.clone(), a.module.clone(), a.replica))
        .collect();
    assert_eq!(got, expected);
}
