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
}
