//! The timing flags `silverline host` and `silverline run` share: which real-time policy
//! real-time modules get, the CPU quota of best-effort work, the wake-up latency request and the
//! early wake of real-time threads (docs/timing.md).

use std::time::Duration;

/// Timing settings of a Host.
#[derive(clap::Args, Debug, Clone)]
pub struct TimingArgs {
    /// Real-time policy for real-time modules: auto (SCHED_DEADLINE, else SCHED_FIFO), fifo
    /// (fixed priorities, partitioned onto cores) or off.
    #[arg(long, default_value = "auto")]
    pub realtime_policy: silverline_host::RealtimePolicy,
    /// Confine best-effort modules to this many CPUs (e.g. 0.5) with a cgroup CPU quota;
    /// real-time modules are not confined.
    #[arg(long, value_name = "CPUS")]
    pub best_effort_cpu: Option<f64>,
    /// While real-time modules run, hold /dev/cpu_dma_latency at this many microseconds so idle
    /// cores wake fast; `off` saves power instead.
    #[arg(long, value_name = "MICROS|off", default_value = "0", value_parser = parse_pm_qos)]
    pub pm_qos: PmQos,
    /// Real-time periodic threads wake this long before each activation and wait on the CPU,
    /// so the activation does not start with a cold wake-up (e.g. 50us; default off).
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = humantime::parse_duration)]
    pub wake_early: Duration,
    /// SCHED_FIFO priority (1-99) of the thread that carries the Host's data-plane MQTT traffic
    /// (heartbeats, leases, channels), so busy best-effort work cannot delay it; `off` keeps it
    /// in the normal class. Ignored with `--realtime-policy off`.
    #[arg(long, value_name = "PRIORITY|off", default_value = "10", value_parser = parse_io_priority)]
    pub io_priority: IoPriority,
}

/// The `--io-priority` setting: a SCHED_FIFO priority, or none.
#[derive(Debug, Clone, Copy)]
pub struct IoPriority(pub Option<i32>);

/// Parse `--io-priority` (also used by `silverline orchestrator` for its broker's threads).
pub fn parse_io_priority(s: &str) -> Result<IoPriority, String> {
    match s {
        "off" => Ok(IoPriority(None)),
        _ => s.parse().ok().filter(|p| (1..=99).contains(p)).map(|p| IoPriority(Some(p))).ok_or_else(|| format!("`{s}`: expected a SCHED_FIFO priority 1-99 or `off`")),
    }
}

/// The `--pm-qos` setting: a bound in microseconds, or none.
#[derive(Debug, Clone, Copy)]
pub struct PmQos(pub Option<u32>);

fn parse_pm_qos(s: &str) -> Result<PmQos, String> {
    if s == "off" {
        return Ok(PmQos(None));
    }
    s.parse().map(|us| PmQos(Some(us))).map_err(|_| format!("`{s}`: expected a number of microseconds or `off`"))
}

impl TimingArgs {
    /// Apply to a Host's configuration.
    pub fn apply(&self, config: &mut silverline_host::HostConfig) {
        config.realtime_policy(self.realtime_policy).best_effort_cpu(self.best_effort_cpu).pm_qos(self.pm_qos.0).wake_early(self.wake_early);
    }

    /// The priority of the data-plane connection's thread, if it gets one.
    pub fn io_priority(&self) -> Option<i32> {
        self.io_priority.0.filter(|_| self.realtime_policy != silverline_host::RealtimePolicy::Off)
    }
}
