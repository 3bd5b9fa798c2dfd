//! The data that goes in (hosts, demands) and the decision that comes out (a placement).

use crate::rta::RtTask;
use serde::{Deserialize, Serialize};

/// What one Host offers, and what is already committed on it.
///
/// The Orchestrator builds this from the Host's manifest and its latest resource report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostCapacity {
    /// Host name, unique among the hosts given to one [`Placer::place`](crate::Placer::place).
    pub host: String,
    /// Platform (machine) the Host runs on. Replicas of a module prefer distinct platforms;
    /// `None` never counts as "the same platform" as anything.
    #[serde(default)]
    pub platform: Option<String>,
    /// Memory available to modules in total, in bytes.
    pub memory_bytes: u64,
    /// Cores available to modules.
    pub cores: u32,
    /// Most module instances the Host can hold (its instance pool); `None`: no fixed limit.
    /// Every deployed module takes one slot, whatever it reserves.
    #[serde(default)]
    pub module_slots: Option<u32>,
    /// Admission bound per core, e.g. 1.0 for EDF or 0.69 for rate-monotonic scheduling.
    #[serde(default = "one")]
    pub max_utilization_per_core: f64,
    /// APIs the Host offers, e.g. `sl:channels`, `wasm:wasi_preview1`.
    #[serde(default)]
    pub apis: Vec<String>,
    /// Free-form tags the Host carries, e.g. `edge_node`.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Memory already committed to deployed modules, in bytes.
    #[serde(default)]
    pub used_memory_bytes: u64,
    /// Utilization already committed to deployed modules (sum of budget/period).
    #[serde(default)]
    pub used_utilization: f64,
    /// Modules already running there, for anti-affinity and affinity with them.
    #[serde(default)]
    pub deployed: Vec<DeployedModule>,
    /// Offline hosts get nothing.
    #[serde(default = "yes")]
    pub online: bool,
    /// How the Host schedules real-time modules; decides the admission test for them.
    #[serde(default)]
    pub scheduler: Scheduler,
    /// Real-time tasks already running there (checked again with every newcomer under
    /// [`Scheduler::FixedPriority`]).
    #[serde(default)]
    pub realtime: Vec<RtTask>,
}

/// A Host's real-time scheduler, as far as admission control is concerned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scheduler {
    /// Earliest deadline first (`SCHED_DEADLINE`): the utilization bound
    /// (`max_utilization_per_core` × cores) is the test.
    #[default]
    Edf,
    /// Fixed priorities (`SCHED_FIFO`), tasks partitioned onto cores: the utilization bound and
    /// response-time analysis per core ([`crate::rta::partition`]).
    FixedPriority,
}

fn one() -> f64 {
    1.0
}

fn yes() -> bool {
    true
}

impl HostCapacity {
    /// An online, empty host with `max_utilization_per_core` 1.0 and no APIs, tags or platform.
    pub fn new(host: impl Into<String>, memory_bytes: u64, cores: u32) -> Self {
        HostCapacity {
            host: host.into(),
            platform: None,
            memory_bytes,
            cores,
            module_slots: None,
            max_utilization_per_core: 1.0,
            apis: Vec::new(),
            tags: Vec::new(),
            used_memory_bytes: 0,
            used_utilization: 0.0,
            deployed: Vec::new(),
            online: true,
            scheduler: Scheduler::Edf,
            realtime: Vec::new(),
        }
    }
}

/// A module already running on a Host.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DeployedModule {
    /// Application name.
    pub app: String,
    /// Module name within the application.
    pub module: String,
}

impl DeployedModule {
    /// `app/module`.
    pub fn new(app: impl Into<String>, module: impl Into<String>) -> Self {
        DeployedModule {
            app: app.into(),
            module: module.into(),
        }
    }
}

/// What one module of an application asks for.
///
/// `(app, module)` must be unique among the demands of one call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModuleDemand {
    /// Application name.
    pub app: String,
    /// Module name within the application.
    pub module: String,
    /// Memory the module needs, in bytes; 0 if unspecified.
    #[serde(default)]
    pub memory_bytes: u64,
    /// CPU utilization it reserves (budget/period); 0.0 if unspecified.
    #[serde(default)]
    pub utilization: f64,
    /// APIs the Host must offer.
    #[serde(default)]
    pub apis: Vec<String>,
    /// Tags the Host must carry.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Host the module is pinned to.
    #[serde(default)]
    pub pinned_host: Option<String>,
    /// Modules of the same app it must not share a Host with. Symmetric: `a` naming `b` keeps
    /// `b` away from `a` as well. Counts modules already deployed too.
    #[serde(default)]
    pub anti_affinity: Vec<String>,
    /// Modules of the same app it must share a Host with (hard). Symmetric. Replica `r` goes
    /// with replica `r` of a partner that has one; a partner that is not part of the request
    /// but deployed must be on the chosen Host.
    #[serde(default)]
    pub affinity: Vec<String>,
    /// Number of copies, at least 1 (0 is read as 1). Replicas go to distinct Hosts (hard) and
    /// to distinct platforms when possible (soft).
    #[serde(default = "one_replica")]
    pub replicas: u32,
    /// For a real-time periodic module: its task, checked by response-time analysis on Hosts
    /// with [`Scheduler::FixedPriority`].
    #[serde(default)]
    pub realtime: Option<RtTask>,
}

fn one_replica() -> u32 {
    1
}

impl ModuleDemand {
    /// A demand for one replica with no requirements at all.
    pub fn new(app: impl Into<String>, module: impl Into<String>) -> Self {
        ModuleDemand {
            app: app.into(),
            module: module.into(),
            memory_bytes: 0,
            utilization: 0.0,
            apis: Vec::new(),
            tags: Vec::new(),
            pinned_host: None,
            anti_affinity: Vec::new(),
            affinity: Vec::new(),
            replicas: 1,
            realtime: None,
        }
    }
}

/// One replica of one module on one Host.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Assignment {
    /// Application name.
    pub app: String,
    /// Module name within the application.
    pub module: String,
    /// Replica index; 0 is the primary.
    pub replica: u32,
    /// Host name.
    pub host: String,
}

/// The decision: one [`Assignment`] per (module, replica), in the order of the demands and
/// then of the replicas.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Placement {
    /// The assignments.
    pub assignments: Vec<Assignment>,
    /// How many times the search undid a choice to try another (0: the first guess held).
    /// Informative only; other [`Placer`](crate::Placer)s may leave it 0.
    #[serde(default)]
    pub backtracks: u64,
}

impl Placement {
    /// The Host of one replica of a module, if it was placed.
    pub fn host_of(&self, app: &str, module: &str, replica: u32) -> Option<&str> {
        self.assignments
            .iter()
            .find(|a| a.app == app && a.module == module && a.replica == replica)
            .map(|a| a.host.as_str())
    }

    /// The assignments that go to one Host.
    pub fn on_host<'a>(&'a self, host: &'a str) -> impl Iterator<Item = &'a Assignment> + 'a {
        self.assignments.iter().filter(move |a| a.host == host)
    }
}
