//! Placement decisions of the silverline Orchestrator: which replica of which module runs on
//! which Host.
//!
//! Data in, decisions out. The Orchestrator describes the Hosts ([`HostCapacity`]: memory,
//! cores and admission bound, APIs, tags, what already runs there) and what an application
//! asks for ([`ModuleDemand`]: memory, utilization, APIs, tags, pin, anti-affinity, affinity,
//! replicas); a [`Placer`] answers with a [`Placement`] that satisfies every constraint without
//! violating what is already deployed, or with a [`PlacementError`] saying, per module and per
//! Host, which constraint said no.
//!
//! This crate must not do I/O, spawn threads, read clocks, or know about manifests' YAML, MQTT
//! or wasmtime: it is a pure function of its input, deterministic, and testable in isolation.
//!
//! [`rta`] (response-time analysis and partitioning onto cores for fixed priorities) is used
//! by the placer on fixed-priority Hosts and by the Host itself to pin its real-time threads,
//! so that what admission analysed is what runs.
//!
//! [`Backtracking`] is the default placer (paper, section IV-C: "a backtracking-based mapping
//! algorithm ... designed to plug-in additional deployment algorithms"); other algorithms plug
//! in by implementing [`Placer`]. See `docs/placement.md` for the algorithm and its figures.
//!
//! ```
//! use silverline_placement::{Backtracking, HostCapacity, ModuleDemand, Placer};
//!
//! let mut edge1 = HostCapacity::new("edge-1", 256 << 20, 2);
//! edge1.apis = vec!["sl:channels".into()];
//! let mut edge2 = edge1.clone();
//! edge2.host = "edge-2".into();
//!
//! let sensor = ModuleDemand { memory_bytes: 8 << 20, ..ModuleDemand::new("plant", "sensor") };
//! let filter = ModuleDemand {
//!     memory_bytes: 64 << 20,
//!     utilization: 0.25,
//!     apis: vec!["sl:channels".into()],
//!     anti_affinity: vec!["sensor".into()],
//!     ..ModuleDemand::new("plant", "filter")
//! };
//!
//! let placement = Backtracking::new().place(&[edge1, edge2], &[sensor, filter]).unwrap();
//! assert_ne!(placement.host_of("plant", "sensor", 0), placement.host_of("plant", "filter", 0));
//!
//! // Nothing fits: the error says why, per Host.
//! let tiny = HostCapacity::new("tiny", 16 << 20, 1);
//! let big = ModuleDemand { memory_bytes: 64 << 20, ..ModuleDemand::new("plant", "big") };
//! let err = Backtracking::new().place(&[tiny], &[big]).unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "plant/big (replica 0): no host fits: tiny: memory (needs 64 MiB, 16 MiB free)"
//! );
//! ```
#![deny(missing_docs)]

mod choose;
mod error;
mod explain;
mod model;
mod order;
mod problem;
pub mod rta;
mod search;
mod state;

pub use error::{PlacementError, Rejection, Unplaced, LIST_HOSTS_UP_TO};
pub use model::{Assignment, DeployedModule, HostCapacity, ModuleDemand, Placement, Scheduler};
pub use rta::RtTask;
pub use search::{Backtracking, Fit};

/// A deployment algorithm. The Orchestrator holds a `Box<dyn Placer>`; [`Backtracking`] is the
/// default, others plug in by implementing this trait.
///
/// Contract: on `Ok`, exactly one [`Assignment`] per (demand, replica) for replicas
/// `0..max(replicas, 1)`, every one satisfying the constraints documented on
/// [`HostCapacity`] and [`ModuleDemand`] together with what is already deployed; on `Err`, at
/// least one [`Unplaced`] with a reason per Host. The same input must give the same output.
pub trait Placer {
    /// Places every replica of every demand on one of `hosts`, or explains why not.
    fn place(
        &self,
        hosts: &[HostCapacity],
        demands: &[ModuleDemand],
    ) -> Result<Placement, PlacementError>;
}
