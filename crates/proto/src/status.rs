//! What a Host reports about itself and its modules: states, events and profiles.
//!
//! The same structures feed `silverline run --status`, the control plane and the dashboard.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Identity of one module instance on a Host (e.g. `pipeline/filter`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ModuleId(pub String);

impl ModuleId {
    /// The id `app/module`.
    pub fn new(app: &str, module: &str) -> ModuleId {
        ModuleId(format!("{app}/{module}"))
    }
    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ModuleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a module stopped running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Failure {
    /// The module executed a trapping instruction (unreachable, out-of-bounds access, ...).
    Trap {
        /// wasmtime's description of the trap.
        message: String,
    },
    /// The activation used up its fuel budget.
    FuelExhausted {
        /// The budget it had.
        budget: u64,
    },
    /// The activation ran past its wall-clock deadline and was interrupted.
    DeadlineExceeded {
        /// The deadline, in nanoseconds.
        deadline_ns: u64,
    },
    /// The module tried to grow its memory past its limit.
    MemoryLimit {
        /// The limit in bytes.
        limit_bytes: u64,
    },
    /// The call stack overflowed (runaway recursion).
    StackOverflow,
    /// Instantiation or `sl_init` failed.
    InitFailed {
        /// What went wrong.
        message: String,
    },
    /// An activation finished past its deadline and the manifest's `onOverrun` is `stop`.
    DeadlineMissed {
        /// The activation.
        activation: i64,
        /// How late it finished, in nanoseconds.
        late_ns: u64,
    },
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Trap { message } => write!(f, "trap: {message}"),
            Failure::FuelExhausted { budget } => write!(f, "fuel budget of {budget} exhausted"),
            Failure::DeadlineExceeded { deadline_ns } => {
                write!(f, "deadline of {:?} exceeded; interrupted", Duration::from_nanos(*deadline_ns))
            }
            Failure::MemoryLimit { limit_bytes } => write!(f, "memory limit of {limit_bytes} bytes exceeded"),
            Failure::StackOverflow => write!(f, "stack overflow"),
            Failure::InitFailed { message } => write!(f, "initialisation failed: {message}"),
            Failure::DeadlineMissed { activation, late_ns } => {
                write!(f, "activation {activation} finished {:?} past its deadline (onOverrun: stop)", Duration::from_nanos(*late_ns))
            }
        }
    }
}

/// Lifecycle state of a module instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum ModuleState {
    /// Being instantiated.
    Starting,
    /// Instantiated and being activated.
    Running,
    /// Stopped by a failure; waiting for a restart.
    Restarting {
        /// The failure.
        failure: Failure,
        /// Restart attempt number (1-based) that is pending.
        attempt: u32,
    },
    /// Stopped by a failure for good (restart policy exhausted or `never`).
    Failed {
        /// The failure.
        failure: Failure,
    },
    /// A command module that ran to its end.
    Completed {
        /// Its exit code.
        exit_code: i32,
    },
    /// Removed by request.
    Stopped,
}

/// Something that happened to a module.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostEvent {
    /// The module.
    pub module: ModuleId,
    /// What happened.
    pub kind: EventKind,
}

/// Kinds of [`HostEvent`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum EventKind {
    /// The module is running.
    Started,
    /// The module failed.
    Failed {
        /// Why.
        failure: Failure,
    },
    /// A restart is scheduled after a back-off.
    Restarting {
        /// Attempt number, 1-based.
        attempt: u32,
        /// Back-off before it, in nanoseconds.
        backoff_ns: u64,
    },
    /// A command module ended.
    Completed {
        /// Exit code.
        exit_code: i32,
    },
    /// The module was removed.
    Stopped,
    /// An activation finished after its deadline.
    DeadlineMiss {
        /// Activation index.
        activation: i64,
        /// How late it finished, in nanoseconds.
        late_ns: u64,
    },
    /// A sidecar activated this replica's outputs (it became the primary; docs/failover.md).
    OutputsActivated {
        /// The sidecar that did it.
        by: ModuleId,
        /// Outputs count from activations scheduled at this Unix time (ns) on.
        from_ns: i64,
        /// ... until this one (the lease).
        until_ns: i64,
        /// Unix time (ns) the disconnect behind it was detected, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detected_at_ns: Option<i64>,
        /// Unix time (ns) this Host applied it: `applied_ns - detected_at_ns` is the
        /// disconnect-reaction time.
        applied_ns: i64,
        /// A lease renewal re-opened a gate that had lapsed (the same primary again, after a
        /// `lease-expired`), rather than a sidecar making this replica the primary.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        renewal: bool,
    },
    /// A sidecar deactivated this replica's outputs (demoted, or lost contact).
    OutputsDeactivated {
        /// The sidecar that did it.
        by: ModuleId,
        /// Unix time (ns) the disconnect behind it was detected, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detected_at_ns: Option<i64>,
        /// Unix time (ns) this Host applied it.
        applied_ns: i64,
    },
    /// The replica's lease ran out before it was renewed: its outputs went quiet by themselves.
    LeaseExpired {
        /// The first activation that ran with its outputs off.
        activation: i64,
    },
    /// Periodic activations that did not run: the module fell behind (more overdue activations
    /// than the Host queues), or its `onOverrun` policy (`skip-next`, `degrade`) dropped them.
    Skipped {
        /// The first activation skipped.
        activation: i64,
        /// How many in a row.
        count: u64,
        /// Why.
        reason: SkipReason,
    },
    /// A real-time module's thread used up its SCHED_DEADLINE runtime within one period: the
    /// kernel throttled it until its next replenishment. Not a deadline miss (the activation may
    /// still have finished in time), but the reservation is too small for what the module and
    /// the Host's per-activation work need.
    Throttled {
        /// The activation during whose period it happened.
        activation: i64,
        /// CPU time the thread used in that period, in nanoseconds.
        used_ns: u64,
        /// The runtime reserved per period, in nanoseconds.
        runtime_ns: u64,
    },
    /// `onOverrun: degrade` after a deadline miss: the module now runs every other activation.
    Degraded {
        /// The activation that missed its deadline.
        activation: i64,
    },
    /// A degraded module ran 8 activations in a row on time and is back at its full rate.
    Recovered {
        /// The first activation at full rate again.
        activation: i64,
    },
}

/// Why periodic activations were skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipReason {
    /// The module fell more than 4 activations behind (it was not scheduled for that long).
    Behind,
    /// `onOverrun: skip-next` after a deadline miss.
    SkipNext,
    /// `onOverrun: degrade`: a degraded module runs every other activation.
    Degrade,
}

impl SkipReason {
    /// The name used in manifests, events and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Behind => "behind",
            SkipReason::SkipNext => "skip-next",
            SkipReason::Degrade => "degrade",
        }
    }
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Skipped activations by reason (their sum is `overruns`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skips {
    /// The module fell behind.
    pub behind: u64,
    /// `onOverrun: skip-next`.
    pub skip_next: u64,
    /// `onOverrun: degrade`.
    pub degrade: u64,
}

impl Skips {
    /// Count `n` more for `reason`.
    pub fn add(&mut self, reason: SkipReason, n: u64) {
        match reason {
            SkipReason::Behind => self.behind += n,
            SkipReason::SkipNext => self.skip_next += n,
            SkipReason::Degrade => self.degrade += n,
        }
    }

    /// All skipped activations, whatever the reason.
    pub fn total(&self) -> u64 {
        self.behind + self.skip_next + self.degrade
    }
}

/// Where a real-time reservation's runtime came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BudgetSource {
    /// The manifest's `resources.budgetInNs`.
    Declared,
    /// What the module's thread measurably used per period on this Host.
    Measured,
    /// Nothing declared or measured yet: the default share of the period.
    Default,
}

/// The CPU reservation of a real-time module's thread, as the Host asked the kernel for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReservationStatus {
    /// Runtime per period, in nanoseconds: the budget plus the Host's per-activation overhead
    /// and a wake-up margin.
    pub runtime_ns: u64,
    /// Relative deadline, in nanoseconds.
    pub deadline_ns: u64,
    /// Period (sporadic: minimum inter-arrival time), in nanoseconds.
    pub period_ns: u64,
    /// The module's own share of the runtime, in nanoseconds.
    pub budget_ns: u64,
    /// Where `budget_ns` came from.
    pub sized_from: BudgetSource,
}

/// The Host's CPU wake-up latency request (PM QoS).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WakeupLatencyState {
    /// Held: the kernel keeps idle cores out of states slower than the bound.
    Held,
    /// Not held: no real-time module runs.
    #[default]
    Released,
    /// Real-time modules run but the device could not be opened (see `refused`).
    Refused,
    /// Turned off by the operator (`--pm-qos off`).
    Off,
}

/// What the Host reports about its wake-up latency request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WakeupLatencyStatus {
    /// Held, released, refused or off.
    pub state: WakeupLatencyState,
    /// The bound asked for, in microseconds (`None`: off).
    pub target_us: Option<u32>,
    /// Real-time threads running (the request is held while there is one).
    pub realtime_threads: usize,
    /// The device written (`/dev/cpu_dma_latency`).
    pub device: String,
    /// Why the device could not be held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// Summary of a set of durations, in nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Samples summarised (the percentiles cover the most recent ones).
    pub count: u64,
    /// Smallest.
    pub min: u64,
    /// Mean.
    pub mean: u64,
    /// Median of the recent samples.
    pub p50: u64,
    /// 99th percentile of the recent samples.
    pub p99: u64,
    /// Largest.
    pub max: u64,
}

/// One channel of a module as seen in its status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelStatus {
    /// Name in the manifest.
    pub name: String,
    /// `in` or `out`.
    pub direction: String,
    /// Endpoint (topic).
    pub endpoint: String,
    /// Output channels: active or not. Inputs: always true.
    pub active: bool,
    /// Messages received (inputs) or published (outputs).
    pub messages: u64,
    /// Dropped: queue overflow (inputs), or publishing while inactive or refused by a full
    /// remote-backend queue (outputs).
    pub dropped: u64,
    /// Inputs: messages waiting now.
    pub queued: u64,
    /// Outputs: of `dropped`, those published while the Host held no lease from its
    /// Orchestrator (it was fenced: docs/protocol.md).
    #[serde(default)]
    pub fenced: u64,
    /// Outputs: of `dropped`, those refused because the module was over its publish budget.
    #[serde(default)]
    pub rate_limited: u64,
}

/// Profile and state of one module instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModuleStatus {
    /// Instance id.
    pub id: ModuleId,
    /// Application name.
    pub app: String,
    /// Module name in the application.
    pub module: String,
    /// sha256 of the module's Wasm.
    pub sha256: String,
    /// Lifecycle state.
    #[serde(flatten)]
    pub state: ModuleState,
    /// `periodic`, `event` or `command`.
    pub trigger: String,
    /// Activations run.
    pub activations: u64,
    /// Activations whose `sl_step` returned a negative value.
    pub step_errors: u64,
    /// Periodic activations skipped: the module fell more than 4 activations behind (fewer
    /// overdue activations are run late, in order, and show up as start jitter), or its
    /// `onOverrun` policy (`skip-next`, `degrade`) dropped them.
    pub overruns: u64,
    /// `overruns` by reason.
    #[serde(default)]
    pub skipped: Skips,
    /// Activations that finished after their deadline.
    pub deadline_misses: u64,
    /// Periods in which a real-time module's thread used up its SCHED_DEADLINE runtime and was
    /// throttled (see [`EventKind::Throttled`]).
    #[serde(default)]
    pub throttled: u64,
    /// The CPU reservation of a real-time module's thread (SCHED_DEADLINE), if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation: Option<ReservationStatus>,
    /// CPU time a real-time module's thread used per period (wake-up, activation, reporting).
    #[serde(default)]
    pub thread_cpu_ns: Summary,
    /// Failures (traps, budget and limit violations).
    pub traps: u64,
    /// Restarts performed.
    pub restarts: u32,
    /// The scheduling the module actually got: the shared worker pool (best effort), or a
    /// real-time policy on its own thread, or a fallback with the reason.
    #[serde(default)]
    pub scheduling: String,
    /// Execution time per activation.
    pub exec_ns: Summary,
    /// Start lateness (actual start minus scheduled start) of periodic activations.
    pub start_jitter_ns: Summary,
    /// Fuel used by the last activation.
    pub fuel_last: u64,
    /// Fuel used by all activations.
    pub fuel_total: u64,
    /// Current linear memory size.
    pub memory_bytes: u64,
    /// Messages received over all inputs.
    pub messages_in: u64,
    /// Messages published over all outputs.
    pub messages_out: u64,
    /// Messages dropped (queue overflow plus inactive outputs).
    pub messages_dropped: u64,
    /// Channels.
    pub channels: Vec<ChannelStatus>,
}

/// What a Host reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostStatus {
    /// Host name.
    pub name: String,
    /// Whether instances come from the pooling allocator.
    pub pooled_allocation: bool,
    /// Most module instances the Host holds at once (0: not reported).
    #[serde(default)]
    pub module_slots: u32,
    /// Linear memory each pooled slot reserves, the most a module's memory can grow to
    /// (0: allocated on demand).
    #[serde(default)]
    pub slot_memory_bytes: u64,
    /// Worker threads running activations.
    pub workers: usize,
    /// Modules compiled and cached in memory.
    pub cached_modules: usize,
    /// The real-time policy this Host may give real-time modules (`SCHED_DEADLINE`,
    /// `SCHED_FIFO`, or `none: <why>`), probed at start-up.
    #[serde(default)]
    pub realtime: String,
    /// The CPU quota best-effort modules run under: empty when none was asked for, else
    /// `0.50 CPU (cgroup /sys/fs/cgroup/cpu/...)` or `refused: <why>`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub best_effort_cpu: String,
    /// The CPU wake-up latency request held while real-time modules run.
    #[serde(default)]
    pub wakeup_latency: WakeupLatencyStatus,
    /// The Host holds no lease from its Orchestrator: its fenced outputs drop what they are
    /// given until it has reconciled (docs/protocol.md, "Fencing").
    #[serde(default)]
    pub fenced: bool,
    /// What each plug-in API reports (counters, settings), by API name.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub apis: serde_json::Map<String, serde_json::Value>,
    /// Modules.
    pub modules: Vec<ModuleStatus>,
}

impl HostStatus {
    /// The status of one module.
    pub fn module(&self, id: &str) -> Option<&ModuleStatus> {
        self.modules.iter().find(|m| m.id.0 == id)
    }
}

/// One periodic activation as the Host scheduled and ran it (kept for the most recent ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivationRecord {
    /// Activation index k.
    pub index: i64,
    /// When it was scheduled, in nanoseconds on the Host's monotonic clock.
    pub scheduled_ns: u64,
    /// When it started, same clock.
    pub started_ns: u64,
    /// How long it ran.
    pub exec_ns: u64,
}

/// Counts over every module of a Host, cheap to take at thousands of modules (no profiles).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleCounts {
    /// Module instances deployed.
    pub modules: u64,
    /// Of them, running.
    pub running: u64,
    /// Of them, failed.
    pub failed: u64,
    /// Of them, never activated yet.
    pub never_activated: u64,
    /// Activations of all of them together.
    pub activations: u64,
}
