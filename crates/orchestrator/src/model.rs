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
}
