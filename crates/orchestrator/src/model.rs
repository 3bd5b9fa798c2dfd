//! The Orchestrator's records (persisted desired state) and views (what the REST API returns).

use serde::{Deserialize, Serialize};
use silverline_manifest::{HostManifest, PlatformManifest};
use silverline_proto::status::ModuleStatus;
use silverline_proto::{ModuleId, Resources};

/// An application as the Orchestrator keeps it (persisted).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppRecord {
    /// Application name.
    pub name: String,
    /// The manifest as submitted (JSON form).
    pub manifest: serde_json::Value,
    /// Desired module instances and where they go.
    pub modules: Vec<ModuleRecord>,
    /// Bumped by every update.
    pub generation: u64,
}

/// One desired module instance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModuleRecord {
    /// Module name in the application.
    pub module: String,
    /// Instance id.
    pub id: ModuleId,
    /// sha256 of its Wasm.
    pub sha256: String,
    /// Assigned Host; `None` while no Host fits.
    pub host: Option<String>,
    /// An application manifest (JSON) holding only this module: what a Host receives.
    pub manifest: serde_json::Value,
    /// Why it is not running where desired (placement or deploy error), if known.
    #[serde(default)]
    pub problem: Option<String>,
    /// Its Host refused to deploy it (compile error, unknown import, no slot, fetch error):
    /// the module is failed, not deploying, until it is deployed again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// Its part in a zero-downtime update.
    #[serde(default)]
    pub role: Role,
    /// Unix time (ms) after which this instance is removed (a previous version kept for rollback).
    #[serde(default)]
    pub remove_after_ms: Option<u64>,
    /// Unix time (ms) at which a shadow switches over by itself if it is healthy.
    #[serde(default)]
    pub auto_switch_ms: Option<u64>,
    /// How long the previous version is kept for rollback after an automatic switchover (ms).
    #[serde(default)]
    pub keep_ms: u64,
    /// The activation index from which this instance's outputs took over (last switchover).
    #[serde(default)]
    pub took_over_at: Option<i64>,
    /// Which replica of a replicated module this is (`None` for a module with one instance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica: Option<u32>,
}

impl ModuleRecord {
    /// The name the placer knows this instance by: `M.r1` for replica 1 of `M` (each replica is
    /// its own demand, kept apart from its siblings by anti-affinity), else the module's name.
    pub fn demand_key(&self) -> String {
        match self.replica {
            Some(r) => format!("{}.r{r}", self.module),
            None => self.module.clone(),
        }
    }

    /// Part of a zero-downtime update in progress?
    pub fn is_staged(&self) -> bool {
        matches!(self.role, Role::Shadow | Role::Previous)
    }
}

/// The part a module instance plays in a zero-downtime update.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The version whose outputs count.
    #[default]
    Primary,
    /// A new version staged next to the primary: inputs live, outputs inactive.
    Shadow,
    /// The version that was switched away from, kept for rollback until `remove_after_ms`.
    Previous,
    /// A hot-standby replica: runs and receives inputs, outputs inactive (docs/failover.md).
    Backup,
    /// A sidecar deployed by the Orchestrator for failover.
    Sidecar,
}

/// A Host as the Orchestrator sees it.
#[derive(Debug, Clone, Serialize)]
pub struct HostView {
    /// Name.
    pub name: String,
    /// Host manifest.
    pub manifest: HostManifest,
    /// Platform manifest.
    pub platform: PlatformManifest,
    /// Connected to the control plane and reporting.
    pub online: bool,
    /// Milliseconds since its last message.
    pub last_seen_ms: u64,
    /// Latest resource figures.
    pub resources: Option<Resources>,
    /// Module instances it reported running.
    pub modules: Vec<ModuleStatus>,
    /// Module instances the Orchestrator assigned to it.
    pub assigned: Vec<ModuleId>,
    /// The real-time policy the Host offers (`SCHED_DEADLINE`, `SCHED_FIFO`, `none: why`), once
    /// it has reported.
    pub realtime: Option<String>,
    /// Its CPU wake-up latency request (PM QoS), once it has reported.
    pub wakeup_latency: Option<silverline_proto::status::WakeupLatencyStatus>,
    /// The admission test its real-time modules get: `edf` (utilization bound) or
    /// `fixed-priority` (utilization bound and response-time analysis per core).
    pub scheduler: silverline_placement::Scheduler,
}

/// A module instance: desired placement joined with what its Host reports.
#[derive(Debug, Clone, Serialize)]
pub struct ModuleView {
    /// Application.
    pub app: String,
    /// Module name.
    pub module: String,
    /// Instance id.
    pub id: ModuleId,
    /// Assigned Host.
    pub host: Option<String>,
    /// sha256.
    pub sha256: String,
    /// `primary`, `shadow` (staged update) or `previous` (kept for rollback).
    pub role: Role,
    /// A shadow's outputs it would have sent (dropped because inactive), from its profile.
    pub would_send: u64,
    /// The activation index at which it took over in its last switchover.
    pub took_over_at: Option<i64>,
    /// `running`, `deploying`, `pending` (no Host), `failed`, `restarting`, `completed`, `lost` (Host offline).
    pub state: String,
    /// Why it is not running, when known.
    pub problem: Option<String>,
    /// The Host's latest profile of it.
    pub profile: Option<ModuleStatus>,
}

/// An application with its modules' live state.
#[derive(Debug, Clone, Serialize)]
pub struct AppView {
    /// Name.
    pub name: String,
    /// `running` when every module runs, `deploying`, `degraded` or `pending`.
    pub state: String,
    /// Generation (bumped by updates).
    pub generation: u64,
    /// Modules.
    pub modules: Vec<ModuleView>,
    /// The manifest.
    pub manifest: serde_json::Value,
    /// Its chains with their declared and computed end-to-end latency.
    pub chains: Vec<ChainView>,
}

/// A chain of modules with its end-to-end latency bound, analysed with the current placement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainView {
    /// Chain name.
    pub name: String,
    /// The declared bound (ns).
    pub bound_ns: u64,
    /// The computed worst case (ns); `None` when it cannot be computed (see `problem`).
    pub computed_ns: Option<u64>,
    /// How the computed figure adds up.
    pub terms: Vec<String>,
    /// Why there is no computed figure (a module without a Host or without a known response time).
    pub problem: Option<String>,
}
