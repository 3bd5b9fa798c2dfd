//! The search itself: a greedy choice that fails, backtracking that repairs it, and a budget.

use silverline_placement::{Backtracking, Fit, HostCapacity, ModuleDemand, Rejection};

use crate::{demand, failed_with, host, host_of, placed, placed_with};

/// Two hosts of 100 MiB; `a` and `b` (50 MiB) and `c` (10 MiB), `c` anti-affine with both.
///
/// Largest first: `a` goes to h1; least-loaded sends `b` to h2 (more free memory); then `c`
/// finds `a` on h1 and `b` on h2. The only placements put `a` and `b` together.
fn trap() -> (Vec<silverline_placement::HostCapacity>, Vec<ModuleDemand>) {
    let hosts = vec![host("h1", 100, 1), host("h2", 100, 1)];
    let c = ModuleDemand {
        anti_affinity: vec!["a".into(), "b".into()],
        ..demand("app", "c", 10)
    };
    (
        hosts,
        vec![demand("app", "a", 50), demand("app", "b", 50), c],
    )
}

#[test]
fn backtracking_repairs_a_greedy_choice() {
    let (hosts, demands) = trap();
    let p = placed(&hosts, &demands);
    assert!(
        p.backtracks >= 1,
        "the greedy pass alone cannot place this: {p:?}"
    );
    assert_eq!(host_of(&p, "app", "a"), host_of(&p, "app", "b"));
    assert_ne!(host_of(&p, "app", "c"), host_of(&p, "app", "a"));
}

#[test]
fn exhausted_budget_gives_search_exhausted() {
    let (hosts, demands) = trap();
    let err = failed_with(Backtracking::new().max_backtracks(0), &hosts, &demands);
    assert_eq!(err.unplaced.len(), 1);
    let c = &err.unplaced[0];
    assert_eq!((c.module.as_str(), c.replica), ("c", 0));
    // Both hosts could take `c` alone: nothing is proven, the search just stopped.
    assert!(
        c.reasons
            .iter()
            .all(|(_, r)| *r == Rejection::SearchExhausted),
        "{c:?}"
    );
    assert_eq!(
        err.to_string(),
        "app/c (replica 0): no host fits: h1: fits alone, not with the rest (search exhausted); \
         h2: fits alone, not with the rest (search exhausted)"
    );
}

#[test]
fn exhausted_budget_still_names_hard_reasons() {
    // h3 cannot take `c` whatever the others do: that is said, not "search exhausted".
    let (mut hosts, demands) = trap();
    hosts.push(host("h3", 5, 1));
    let err = failed_with(Backtracking::new().max_backtracks(0), &hosts, &demands);
    let reasons = &err.unplaced[0].reasons;
    assert_eq!(reasons[0].1, Rejection::SearchExhausted);
    assert!(
        matches!(reasons[2].1, Rejection::Memory { .. }),
        "{reasons:?}"
    );
}

#[test]
fn first_fit_needs_no_backtracking_here() {
    let (hosts, demands) = trap();
    let p = placed_with(
        Backtracking::new().strategy(Fit::FirstFit),
        &hosts,
        &demands,
    );
    assert_eq!(p.backtracks, 0);
}

#[test]
fn proven_infeasible_reports_the_concrete_conflict() {
    // Three 60 MiB modules, two 100 MiB hosts: the search tries everything and proves it.
    let hosts = [host("h1", 100, 1), host("h2", 100, 1)];
    let demands: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|m| demand("app", m, 60))
        .collect();
    let err = crate::failed(&hosts, &demands);
    assert_eq!(err.unplaced.len(), 1);
    assert_eq!(err.unplaced[0].module, "c");
    assert!(err.unplaced[0]
        .reasons
        .iter()
        .all(|(_, r)| matches!(r, Rejection::Memory { .. })));
    assert!(
        err.to_string()
            .contains("h1: memory (needs 60 MiB, 40 MiB free)"),
        "{err}"
    );
}

#[test]
fn a_module_that_fits_nowhere_stops_the_search_at_once() {
    // 12 modules that need tag "x" (4 hosts: placed first, fewest candidates) and one that is
    // too big for every host. Without the "does it fit even alone?" test, the unlimited budget
    // would make the search try all 4^12 arrangements of the 12 before giving up.
    let mut hosts: Vec<_> = (0..4)
        .map(|i| HostCapacity {
            tags: vec!["x".into()],
            ..host(&format!("h{i}"), 100, 1)
        })
        .collect();
    hosts.push(host("h4", 100, 1));
    let mut demands: Vec<_> = (0..12)
        .map(|i| ModuleDemand {
            tags: vec!["x".into()],
            ..demand("app", &format!("m{i}"), 1)
        })
        .collect();
    demands.push(demand("app", "huge", 1000));
    let err = failed_with(
        Backtracking::new().max_backtracks(u64::MAX),
        &hosts,
        &demands,
    );
    assert_eq!(err.unplaced.len(), 1);
    assert_eq!(err.unplaced[0].module, "huge");
}

#[test]
fn an_overcommitted_cluster_is_refused_without_searching() {
    // 13 modules of 50 MiB, 6 hosts of 100 MiB: one too many. Arranging 12 in pairs has
    // millions of orders; the totals settle it at once, and the reasons are concrete.
    let hosts: Vec<_> = (0..6).map(|i| host(&format!("h{i}"), 100, 1)).collect();
    let demands: Vec<_> = (0..13)
        .map(|i| demand("app", &format!("m{i}"), 50))
        .collect();
    let err = failed_with(
        Backtracking::new().max_backtracks(u64::MAX),
        &hosts,
        &demands,
    );
    assert_eq!(err.unplaced.len(), 1);
    let reasons = &err.unplaced[0].reasons;
    assert!(
        reasons
            .iter()
            .all(|(_, r)| matches!(r, Rejection::Memory { free: 0, .. })),
        "{reasons:?}"
    );
}
