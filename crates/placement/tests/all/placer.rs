//! Plugging in another deployment algorithm through the `Placer` trait.

use silverline_placement::{
    Assignment, Backtracking, HostCapacity, ModuleDemand, Placement, PlacementError, Placer,
    Rejection, Unplaced,
};

use crate::{demand, host, placed_with};

/// Puts everything on the first online host, or says it is offline/missing. Only to show the
/// plug-in shape; it checks nothing else.
struct FirstOnline;

impl Placer for FirstOnline {
    fn place(
        &self,
        hosts: &[HostCapacity],
        demands: &[ModuleDemand],
    ) -> Result<Placement, PlacementError> {
        let Some(target) = hosts.iter().find(|h| h.online) else {
            let unplaced = demands
                .iter()
                .map(|d| Unplaced {
                    app: d.app.clone(),
                    module: d.module.clone(),
                    replica: 0,
                    reasons: hosts
                        .iter()
                        .map(|h| (h.host.clone(), Rejection::Offline))
                        .collect(),
                })
                .collect();
            return Err(PlacementError {
                unplaced,
                more_unplaced: 0,
            });
        };
        let assignments = demands
            .iter()
            .map(|d| Assignment {
                app: d.app.clone(),
                module: d.module.clone(),
                replica: 0,
                host: target.host.clone(),
            })
            .collect();
        Ok(Placement {
            assignments,
            backtracks: 0,
        })
    }
}

#[test]
fn placers_are_interchangeable_behind_a_trait_object() {
    let hosts = [host("h1", 256, 1), host("h2", 256, 1)];
    let demands = [demand("app", "a", 1), demand("app", "b", 1)];
    let placers: Vec<Box<dyn Placer>> = vec![Box::new(Backtracking::new()), Box::new(FirstOnline)];
    for placer in &placers {
        let p = placed_with(placer.as_ref(), &hosts, &demands);
        assert_eq!(p.assignments.len(), 2);
    }
}
