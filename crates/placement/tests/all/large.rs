//! 10,000 modules on 1,000 hosts, checked by the independent checker. No timing asserted:
//! the benchmark (`examples/bench.rs`) measures.

use silverline_placement::{Backtracking, Fit, PlacementError, Placer};

use crate::placed_with;

#[test]
fn ten_thousand_modules_on_a_thousand_hosts() {
    let s = crate::scenario::cluster(1000, 10, 1000, 42);
    assert_eq!(s.demands.len(), 10_000);
    for fit in [Fit::LeastLoaded, Fit::FirstFit] {
        let p = placed_with(Backtracking::new().strategy(fit), &s.hosts, &s.demands);
        assert!(
            p.assignments.len() > 10_000,
            "some modules have two replicas"
        );
    }
}

#[test]
fn a_tight_cluster_is_placed_or_explained_consistently() {
    // An eighth of the memory: some modules cannot fit. Whatever is said must be consistent:
    // every unplaced replica names every host.
    let mut s = crate::scenario::cluster(200, 10, 100, 5);
    s.hosts.iter_mut().for_each(|h| h.memory_bytes /= 8);
    match Backtracking::new()
        .max_backtracks(1000)
        .place(&s.hosts, &s.demands)
    {
        Ok(p) => assert!(crate::checker::violations(&s.hosts, &s.demands, &p).is_empty()),
        Err(e) => {
            assert!(!e.unplaced.is_empty());
            assert!(e.unplaced.len() <= PlacementError::MAX_EXPLAINED);
            for u in &e.unplaced {
                assert_eq!(u.reasons.len(), s.hosts.len());
            }
            let lines = e.to_string().lines().count();
            assert_eq!(lines, e.unplaced.len() + usize::from(e.more_unplaced > 0));
        }
    }
}
