//! The application manifest (Fig. 5 of the paper): the modules of one application, how each is
//! triggered, its channels, resource limits, restart policy, WASI grants and placement
//! constraints.

mod access;
mod raw;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize, Serializer};

use crate::error::{at, join, Errors, ManifestErrors};
use crate::ids::{AppName, ChannelName, Endpoint, ModuleName};
use crate::parse;

/// Queue depth of an input channel when the manifest gives none.
pub const DEFAULT_QUEUE_DEPTH: usize = 16;
/// Restarts allowed by a restart policy that does not say.
pub const DEFAULT_MAX_RESTARTS: u32 = 3;
/// Initial restart back-off when the manifest gives none.
pub const DEFAULT_BACKOFF: Duration = Duration::from_millis(100);
/// Shortest accepted period: below 10 µs the activation overhead dominates.
pub const MIN_PERIOD: Duration = Duration::from_micros(10);

/// A validated application manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationManifest {
    /// The application's name.
    pub name: AppName,
    /// Its modules, in manifest order (never empty).
    pub modules: Vec<ModuleSpec>,
    /// Chains of modules with an end-to-end latency bound, in manifest order (may be empty).
    pub chains: Vec<Chain>,
    /// Topic filters of this application's channels that other applications may use too; the
    /// rest of its topics are its own (the Orchestrator refuses another application whose
    /// endpoints overlap them).
    pub exports: Vec<Endpoint>,
    /// Directory that relative paths in the manifest were resolved against (absolute when it
    /// could be made so). Not serialized.
    pub base_dir: PathBuf,
}

/// A chain of modules with an end-to-end latency bound: data flows from each module
/// to the next one through a channel (some output endpoint of a module matches some input
/// endpoint of the next).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    /// Name, unique within the application.
    pub name: String,
    /// Modules of this application in data-flow order (at least two).
    pub modules: Vec<ModuleName>,
    /// The declared bound on the latency from the first module's input to the last one's output.
    pub bound: Duration,
}

/// One module of an application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleSpec {
    /// Name, unique within the application.
    pub name: ModuleName,
    /// The `.wasm` or `.wat` file, resolved against the manifest's directory.
    pub file: PathBuf,
    /// `file` exactly as written in the manifest (what gets serialized).
    pub file_as_written: String,
    /// Expected SHA-256 of the file, 64 lowercase hex characters, when given.
    pub sha256: Option<String>,
    /// When the module runs.
    pub trigger: Trigger,
    /// Input channels (topic filters; wildcards allowed).
    pub inputs: Vec<ChannelSpec>,
    /// Output channels (topics; no wildcards).
    pub outputs: Vec<ChannelSpec>,
    /// The output group's own `active` flag (default true). A module's writes through system
    /// APIs (a VSS signal, a datalayer node) follow it, so that a staged shadow or a standby
    /// replica changes nothing outside itself, also when it has no output channels.
    pub outputs_active: bool,
    /// Resource limits.
    pub resources: Resources,
    /// Real-time or best effort.
    pub criticality: Criticality,
    /// What to do after a trap.
    pub restart: RestartPolicy,
    /// WASI grants beyond stdout/stderr/clock/random.
    pub wasi: WasiGrants,
    /// Constraints for the Orchestrator.
    pub placement: Placement,
    /// Number of instances (at least 1); more than one are hot-standby replicas.
    pub replicas: u32,
    /// How replicas fail over; `Some` exactly when `replicas > 1`.
    pub failover: Option<Failover>,
    /// A sidecar: may use the `sl_sidecar` host API on modules of its own application.
    pub sidecar: bool,
    /// Free-form configuration string the module reads with `sl.config` (empty when absent).
    pub config: String,
}

/// Failover settings of a replicated module (see docs/failover.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failover {
    /// How the next primary is chosen.
    pub policy: FailoverPolicy,
    /// Hosts in priority order for the `priority` policy (may be empty: placement order).
    pub hosts: Vec<String>,
    /// Who decides: sidecars next to the application, or the Orchestrator (the baseline).
    pub coordinator: CoordinatorKind,
    /// Heartbeat period of the emitter sidecars.
    pub heartbeat: Duration,
    /// Silence after which a detector declares a Host disconnected.
    pub timeout: Duration,
    /// How long a primary may publish after its last renewal.
    pub lease: Duration,
    /// Largest clock difference between Hosts the lease rule tolerates.
    pub clock_skew: Duration,
}

/// Defaults of [`Failover`]: heartbeats every 5 ms, a Host is declared disconnected after 20 ms
/// of silence, a primary's lease lasts 10 ms, clocks agree within 1 ms.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_millis(5);
/// See [`DEFAULT_HEARTBEAT`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(20);
/// See [`DEFAULT_HEARTBEAT`].
pub const DEFAULT_LEASE: Duration = Duration::from_millis(10);
/// See [`DEFAULT_HEARTBEAT`].
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::from_millis(1);

/// How the next primary replica is chosen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailoverPolicy {
    /// The first Host in priority order that is connected.
    #[default]
    Priority,
    /// The connected Host with the lowest load in its last heartbeat.
    LeastLoaded,
}

/// Where the failover coordinator runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CoordinatorKind {
    /// A coordinator sidecar on the ORT Host (the paper's design, the default).
    #[default]
    Sidecar,
    /// Inside the Orchestrator (the baseline the paper compares against).
    Orchestrator,
}

/// When a module runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// Every `period`, starting `offset` after the period boundary.
    Periodic {
        /// Activation period (at least [`MIN_PERIOD`]).
        period: Duration,
        /// Phase offset, less than `period`.
        offset: Duration,
    },
    /// Whenever a message arrives on the named input channel.
    Event {
        /// One of the module's input channels.
        channel: ChannelName,
    },
    /// Whenever a system API reports a change of `source` (e.g. `sl:vss` and a signal path):
    /// the API decides what a source is (docs/extending.md).
    Api {
        /// The API's name (`namespace:name`), which the module's Host must offer.
        api: String,
        /// What to watch, in the API's terms.
        source: String,
    },
    /// A WASI command: `_start` runs once.
    Command,
}

impl Trigger {
    /// The trigger's `type` as a manifest writes it.
    pub fn kind(&self) -> &'static str {
        match self {
            Trigger::Periodic { .. } => "periodic",
            Trigger::Event { .. } => "event",
            Trigger::Api { .. } => "api",
            Trigger::Command => "command",
        }
    }
}

/// One input or output channel of a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelSpec {
    /// Name, unique within the module across inputs and outputs.
    pub name: ChannelName,
    /// MQTT topic (outputs) or topic filter (inputs).
    pub endpoint: Endpoint,
    /// Declared payload size in bytes (1..=1 MiB), when given.
    pub payload_size: Option<u32>,
    /// Messages an input channel buffers (1..=65536). Outputs do not queue and always carry
    /// [`DEFAULT_QUEUE_DEPTH`] here.
    pub queue_depth: usize,
    /// Effective flag: the channel's own `active` if given, else its group's, else true.
    pub active: bool,
}

/// Resource limits of a module; `None` means no limit (best effort).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resources {
    /// Linear-memory limit in bytes (64 KiB..=4 GiB).
    pub memory_bytes: Option<u64>,
    /// CPU budget per activation.
    pub budget: Option<Duration>,
    /// Relative deadline of each activation.
    pub deadline: Option<Duration>,
    /// Fuel per activation.
    pub fuel: Option<u64>,
    /// What the Host does after an activation finishes past its deadline (`onOverrun`).
    pub on_overrun: OverrunPolicy,
    /// Most messages per second the module may publish, over all its outputs (`maxPublishPerSecond`).
    pub max_publish_per_second: u64,
    /// Most payload bytes per second it may publish (`maxPublishBytesPerSecond`).
    pub max_publish_bytes_per_second: u64,
}

impl Resources {
    /// Default of `maxPublishPerSecond`: ten times a 1 kHz control loop's channel.
    pub const DEFAULT_PUBLISH_PER_SECOND: u64 = 10_000;
    /// Default of `maxPublishBytesPerSecond`: 16 MiB.
    pub const DEFAULT_PUBLISH_BYTES_PER_SECOND: u64 = 16 << 20;
}

impl Default for Resources {
    fn default() -> Self {
        Resources {
            memory_bytes: None,
            budget: None,
            deadline: None,
            fuel: None,
            on_overrun: OverrunPolicy::default(),
            max_publish_per_second: Self::DEFAULT_PUBLISH_PER_SECOND,
            max_publish_bytes_per_second: Self::DEFAULT_PUBLISH_BYTES_PER_SECOND,
        }
    }
}

/// What the Host does when a periodic activation finishes past its deadline, or when
/// activations had to be skipped because the module fell behind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OverrunPolicy {
    /// Count it, report it, run the next activation as scheduled (the default).
    #[default]
    Continue,
    /// Skip the next activation, leaving the processor to whatever was delayed.
    SkipNext,
    /// Run every other activation (half rate) until 8 in a row finish on time.
    Degrade,
    /// Stop the module (it fails with `deadline-missed`; its restart policy applies).
    Stop,
}

/// How the Host treats a module's timing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Criticality {
    /// Has timing requirements that the Host must reserve for.
    Realtime,
    /// Runs when there is room (the default, as in the paper).
    #[default]
    BestEffort,
}

/// When a trapped module is restarted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartMode {
    /// Never (the default).
    #[default]
    Never,
    /// After a trap or a non-zero exit.
    OnFailure,
    /// Whenever it stops.
    Always,
}

/// Restart policy of a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartPolicy {
    /// When to restart.
    pub policy: RestartMode,
    /// Restarts allowed before giving up.
    pub max_restarts: u32,
    /// First back-off; doubles on each further restart.
    pub backoff: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            policy: RestartMode::Never,
            max_restarts: DEFAULT_MAX_RESTARTS,
            backoff: DEFAULT_BACKOFF,
        }
    }
}

/// WASI capabilities granted to a module beyond the defaults (stdout, stderr, clocks, random).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WasiGrants {
    /// Command-line arguments after the program name.
    pub args: Vec<String>,
    /// Environment variables.
    pub env: BTreeMap<String, String>,
    /// Preopened directories.
    pub dirs: Vec<PreopenDir>,
}

/// A host directory made visible to the module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreopenDir {
    /// Host directory, resolved against the manifest's directory.
    pub host: PathBuf,
    /// `host` as written in the manifest.
    pub host_as_written: String,
    /// Path the module sees.
    pub guest: String,
    /// Read-only (the default) or read-write.
    pub readonly: bool,
}

/// Placement constraints, used by the Orchestrator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placement {
    /// Host name the module is pinned to.
    pub host: Option<String>,
    /// Tags the Host must have.
    pub tags: Vec<String>,
    /// APIs the Host must provide (`ns:name`).
    pub apis: Vec<String>,
    /// Modules of this application that must not share a Host with this one.
    pub anti_affinity: Vec<ModuleName>,
}

impl ApplicationManifest {
    /// Parses and validates a manifest (YAML, or JSON if it starts with `{`); relative paths
    /// are resolved against `base_dir`. Referenced files need not exist (see
    /// [`ApplicationManifest::check_files`]).
    #[allow(clippy::should_implement_trait)] // takes a base directory, unlike `FromStr`
    pub fn from_str(text: &str, base_dir: &Path) -> Result<Self, ManifestErrors> {
        let raw: raw::RawApplication = parse::from_text(text)?;
        validate::application(raw, &absolute(base_dir))
    }

    /// Reads, parses and validates the manifest at `path`; relative paths in it are resolved
    /// against the file's directory. Errors carry the file name.
    pub fn from_file(path: &Path) -> Result<Self, ManifestErrors> {
        let text = parse::read_file(path)?;
        Self::from_str(&text, &manifest_dir(path)).map_err(|e| e.in_file(path))
    }

    /// The module named `name`.
    pub fn module(&self, name: &str) -> Option<&ModuleSpec> {
        self.modules.iter().find(|m| m.name == name)
    }

    /// Reports every module file and preopened directory that does not exist, so a deploy
    /// fails before anything starts.
    pub fn check_files(&self) -> Result<(), ManifestErrors> {
        let mut errs = Errors::default();
        for (i, m) in self.modules.iter().enumerate() {
            let path = at("modules", i);
            if !m.file.is_file() {
                let found = format!("no file at {}", m.file.display());
                errs.push(
                    &join(&path, "file"),
                    found,
                    "an existing .wasm or .wat file",
                );
            }
            for (k, d) in m.wasi.dirs.iter().enumerate() {
                if !d.host.is_dir() {
                    let found = format!("no directory at {}", d.host.display());
                    errs.push(
                        &format!("{path}.wasi.dirs[{k}].host"),
                        found,
                        "an existing directory",
                    );
                }
            }
        }
        errs.finish(())
    }

    /// The manifest as JSON in the manifest schema (files as written, no base directory);
    /// `from_str` accepts it back.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("manifest types always serialize")
    }

    /// The manifest as YAML in the manifest schema.
    pub fn to_yaml(&self) -> String {
        serde_norway::to_string(self).expect("manifest types always serialize")
    }
}

impl ModuleSpec {
    /// The input channel named `name`.
    pub fn input(&self, name: &str) -> Option<&ChannelSpec> {
        self.inputs.iter().find(|c| c.name == name)
    }

    /// The output channel named `name`.
    pub fn output(&self, name: &str) -> Option<&ChannelSpec> {
        self.outputs.iter().find(|c| c.name == name)
    }

    /// The first output channel of this module whose topic some input channel of `next`
    /// subscribes to (MQTT wildcards apply): the channel that connects the two, if any.
    pub fn feeds(&self, next: &ModuleSpec) -> Option<&ChannelSpec> {
        self.outputs.iter().find(|o| {
            next.inputs
                .iter()
                .any(|i| topic_matches(i.endpoint.as_str(), o.endpoint.as_str()))
        })
    }
}

impl ApplicationManifest {
    /// Every channel endpoint of every module, with its field path.
    pub fn endpoints(&self) -> Vec<(String, &Endpoint)> {
        let mut out = Vec::new();
        for (i, m) in self.modules.iter().enumerate() {
            for (group, channels) in [("inputChannels", &m.inputs), ("outputChannels", &m.outputs)] {
                for (k, c) in channels.iter().enumerate() {
                    out.push((format!("modules[{i}].{group}.channels[{k}].endpoint"), &c.endpoint));
                }
            }
        }
        out
    }
}

/// Can some topic match both filters (or topics) `a` and `b`?
pub fn filters_overlap(a: &str, b: &str) -> bool {
    let (mut x, mut y) = (a.split('/'), b.split('/'));
    loop {
        match (x.next(), y.next()) {
            (Some("#"), _) | (_, Some("#")) => return true,
            (None, None) => return true,
            (Some("+"), Some(_)) | (Some(_), Some("+")) => {}
            (Some(p), Some(q)) if p == q => {}
            _ => return false,
        }
    }
}

/// Does every topic that matches `inner` also match `outer`?
pub fn filter_covers(outer: &str, inner: &str) -> bool {
    let (mut o, mut i) = (outer.split('/'), inner.split('/'));
    loop {
        match (o.next(), i.next()) {
            (Some("#"), _) => return true,
            (None, None) => return true,
            (Some("+"), Some(level)) if level != "#" => {}
            (Some(p), Some(q)) if p == q => {}
            _ => return false,
        }
    }
}

/// Does the MQTT topic `topic` match the subscription `filter` (`+` one level, `#` the rest)?
///
/// The one definition of endpoint matching: manifests use it to check that chains are
/// connected, the channel router to deliver (so both agree with what a broker would do).
pub fn topic_matches(filter: &str, topic: &str) -> bool {
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

impl Serialize for ApplicationManifest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_raw().serialize(s)
    }
}

impl Serialize for ModuleSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_raw().serialize(s)
    }
}

impl Serialize for Trigger {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_raw().serialize(s)
    }
}

/// The directory of a manifest file ("." for a bare file name).
pub(crate) fn manifest_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `dir` made absolute without touching the file system, so resolved paths stay valid if the
/// process changes directory later; unchanged if the current directory is unknown.
pub(crate) fn absolute(dir: &Path) -> PathBuf {
    std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf())
}
