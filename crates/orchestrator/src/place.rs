//! Glue between the Orchestrator's state and the pure placement solver: Hosts become
//! capacities (minus what is already assigned to them), modules become demands.

use crate::core::HostEntry;
use crate::model::AppRecord;
use silverline_manifest::{ApplicationManifest, Criticality, ModuleSpec, Trigger};
use silverline_placement::rta::{default_budget, reserved_runtime, SPORADIC_DEADLINE};
use silverline_placement::{DeployedModule, HostCapacity, ModuleDemand, PlacementError, Placer, RtTask, Scheduler};
use std::time::Duration;
use silverline_proto::ModuleId;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Where each module goes.
pub type Decision = HashMap<ModuleId, String>;

/// Place every module of a new application.
pub fn place_new(placer: &dyn Placer, hosts: &BTreeMap<String, HostEntry>, profiles: &Profiles, apps: &BTreeMap<String, AppRecord>, app: &AppRecord, colocate: &[(String, String)]) -> Result<Decision, PlacementError> {
    let all: Vec<ModuleId> = app.modules.iter().map(|m| m.id.clone()).collect();
    place_some(placer, hosts, profiles, apps, app, &all, colocate)
}

/// Execution times measured by the Hosts, per Wasm (sha256): the admission budget of modules
/// that declare none. Kept after the module goes, so a redeploy is admitted on what it did.
#[derive(Default)]
pub struct Profiles(HashMap<String, u64>);

/// Measurements below this many activations are not trusted for admission.
const MIN_SAMPLES: u64 = 20;

impl Profiles {
    /// Take in a Host's latest status.
    pub fn learn(&mut self, status: &silverline_proto::status::HostStatus) {
        for m in status.modules.iter().filter(|m| m.exec_ns.count >= MIN_SAMPLES) {
            self.0.insert(m.sha256.clone(), m.exec_ns.p99);
        }
    }

    /// The budget admission assumes for a module with this Wasm: its measured p99 execution
    /// time plus 20% (measurements are wall-clock and recent; the margin absorbs both).
    pub fn budget(&self, sha256: &str) -> Option<Duration> {
        self.0.get(sha256).map(|&ns| Duration::from_nanos(ns + ns / 5))
    }
}

/// Place the modules `which` of `app`; everything else (other apps, the rest of `app`) stays and
/// counts against the Hosts' capacity. Each pair of module names in `colocate` must share a
/// Host (the latency search's lever, see `latency::search`).
pub fn place_some(
    placer: &dyn Placer,
    hosts: &BTreeMap<String, HostEntry>,
    profiles: &Profiles,
    others: &BTreeMap<String, AppRecord>,
    app: &AppRecord,
    which: &[ModuleId],
    colocate: &[(String, String)],
) -> Result<Decision, PlacementError> {
    let which: HashSet<&ModuleId> = which.iter().collect();
    let mut demands_by_app: HashMap<&str, HashMap<String, ModuleDemand>> = others.values().map(|a| (a.name.as_str(), demands(a, profiles))).collect();
    let mut own = demands(app, profiles);
    // Pairs the latency search wants on one Host (the placer makes affinity symmetric).
    for (a, b) in colocate {
        if let Some(d) = own.get_mut(a) {
            d.affinity.push(b.clone());
        }
    }
    demands_by_app.insert(app.name.as_str(), own);
    let assigned: Vec<(&ModuleDemand, &str)> = others
        .values()
        .flat_map(|a| a.modules.iter().map(move |m| (a.name.as_str(), m)))
        .chain(app.modules.iter().filter(|m| !which.contains(&m.id)).map(|m| (app.name.as_str(), m)))
        .filter_map(|(a, m)| Some((demands_by_app.get(a)?.get(&m.demand_key())?, m.host.as_deref()?)))
        .collect();
    // Hosts tagged `ort` run the failover sidecars next to the Orchestrator, nothing else.
    let capacities: Vec<HostCapacity> = hosts.iter().filter(|(_, h)| !is_ort(h)).map(|(name, h)| capacity(name, h, &assigned)).collect();
    let own = &demands_by_app[app.name.as_str()];
    let mut wanted: Vec<ModuleDemand> = Vec::new();
    let mut seen = HashSet::new();
    for m in app.modules.iter().filter(|m| which.contains(&m.id)) {
        if let Some(d) = own.get(&m.demand_key()).filter(|d| seen.insert(d.module.as_str())) {
            wanted.push(d.clone());
        }
    }
    if wanted.is_empty() {
        return Ok(Decision::new());
    }
    let placement = placer.place(&capacities, &wanted)?;
    // By demand key, not id: a staged shadow has its own id but its module's name.
    Ok(app
        .modules
        .iter()
        .filter(|m| which.contains(&m.id))
        .filter_map(|m| Some((m.id.clone(), placement.host_of(&app.name, &m.demand_key(), 0)?.to_string())))
        .collect())
}

/// The tag of the Host that runs the failover coordinator and detectors (the paper's "ORT").
pub const ORT_TAG: &str = "ort";

/// Is this the ORT Host (reserved for failover sidecars)?
pub fn is_ort(h: &HostEntry) -> bool {
    h.manifest.metadata.tags.iter().any(|t| t == ORT_TAG)
}

fn capacity(name: &str, h: &HostEntry, assigned: &[(&ModuleDemand, &str)]) -> HostCapacity {
    let mut c = HostCapacity::new(name, h.platform.memory.total_bytes, h.platform.cpu.cores.max(1));
    c.platform = h.manifest.metadata.platform_id.clone().or_else(|| h.platform.id.clone());
    c.apis = h.manifest.apis.clone();
    c.tags = h.manifest.metadata.tags.clone();
    c.module_slots = h.manifest.metadata.max_modules.or_else(|| h.status.as_ref().map(|s| s.status.module_slots).filter(|&n| n > 0));
    c.online = h.online;
    c.scheduler = scheduler(h);
    for (d, _) in assigned.iter().filter(|(_, host)| *host == name) {
        c.used_memory_bytes += d.memory_bytes;
        c.used_utilization += d.utilization;
        c.deployed.push(DeployedModule { app: d.app.clone(), module: d.module.clone() });
        c.realtime.extend(d.realtime.clone());
    }
    c
}

/// The Host's real-time scheduler as its status reports it: fixed priorities when it gets
/// `SCHED_FIFO` (and not `SCHED_DEADLINE`), EDF otherwise (also when it gets no real-time
/// policy at all: the utilization bound is then all that admission can promise, and the Host
/// reports its fallback).
pub fn scheduler(h: &HostEntry) -> Scheduler {
    match h.status.as_ref() {
        Some(s) if s.status.realtime.starts_with("SCHED_FIFO") => Scheduler::FixedPriority,
        _ => Scheduler::Edf,
    }
}

/// The demands of every module of an application, by module name, from its full manifest.
fn demands(app: &AppRecord, profiles: &Profiles) -> HashMap<String, ModuleDemand> {
    let Ok(manifest) = ApplicationManifest::from_str(&app.manifest.to_string(), crate::core::api_base_dir()) else {
        tracing::error!("stored manifest of `{}` no longer parses", app.name);
        return HashMap::new();
    };
    let sha_of: HashMap<&str, &str> = app.modules.iter().map(|m| (m.module.as_str(), m.sha256.as_str())).collect();
    let replicated: HashMap<&str, u32> = manifest.modules.iter().filter(|s| s.replicas > 1).map(|s| (s.name.as_str(), s.replicas)).collect();
    let mut out = HashMap::new();
    for spec in &manifest.modules {
        let measured = sha_of.get(spec.name.as_str()).and_then(|s| profiles.budget(s));
        let mut d = demand(&app.name, spec, measured);
        // Anti-affinity with a replicated module means with each of its replicas.
        d.anti_affinity = d.anti_affinity.iter().flat_map(|n| replica_keys(n, replicated.get(n.as_str()).copied())).collect();
        if spec.replicas == 1 {
            out.insert(spec.name.as_str().to_string(), d);
            continue;
        }
        let keys = replica_keys(spec.name.as_str(), Some(spec.replicas));
        let pins = spec.failover.as_ref().map(|f| f.hosts.clone()).unwrap_or_default();
        for (r, key) in keys.iter().enumerate() {
            let mut one = d.clone();
            one.module = key.clone();
            if let Some(t) = &mut one.realtime {
                t.name = format!("{}/{key}", app.name);
            }
            one.pinned_host = pins.get(r).cloned().or(d.pinned_host.clone());
            one.anti_affinity.extend(keys.iter().filter(|k| *k != key).cloned());
            out.insert(key.clone(), one);
        }
    }
    out
}

/// The placer's names of the replicas of `module` (`M.r0`, `M.r1`, ...), or `M` itself.
fn replica_keys(module: &str, replicas: Option<u32>) -> Vec<String> {
    match replicas {
        Some(n) if n > 1 => (0..n).map(|r| format!("{module}.r{r}")).collect(),
        _ => vec![module.to_string()],
    }
}

/// What a module asks of its Host, read from its manifest. The CPU budget of a periodic (or
/// real-time event-triggered) module is the declared one, else the `measured` one; a real-time module with neither is
/// charged what its Host reserves for it (docs/timing.md). Other modules without a budget cost
/// nothing: the paper treats them as best effort.
fn demand(app: &str, spec: &ModuleSpec, measured: Option<Duration>) -> ModuleDemand {
    let mut d = ModuleDemand::new(app, spec.name.as_str());
    d.memory_bytes = spec.resources.memory_bytes.unwrap_or(0);
    let realtime = spec.criticality == Criticality::Realtime;
    let period = match &spec.trigger {
        Trigger::Periodic { period, .. } => Some(*period),
        // A sporadic task: its minimum inter-arrival time is taken to be its deadline, as the
        // Host's reservation does.
        Trigger::Event { .. } | Trigger::Api { .. } if realtime => Some(spec.resources.deadline.unwrap_or(SPORADIC_DEADLINE)),
        _ => None,
    };
    if let Some(period) = period {
        let default = realtime.then(|| default_budget(period));
        if let Some(budget) = spec.resources.budget.or(measured).or(default) {
            let deadline = spec.resources.deadline.unwrap_or(period).min(period);
            // A real-time module is charged what its Host reserves for it, overhead included.
            let budget = if realtime { reserved_runtime(budget, deadline) } else { budget.min(deadline) };
            d.utilization = budget.as_secs_f64() / period.as_secs_f64();
            d.realtime = realtime.then(|| RtTask {
                name: format!("{app}/{}", spec.name),
                period_ns: period.as_nanos() as u64,
                budget_ns: budget.as_nanos() as u64,
                deadline_ns: deadline.as_nanos() as u64,
            });
        }
    }
    d.apis = spec.placement.apis.clone();
    d.tags = spec.placement.tags.clone();
    d.pinned_host = spec.placement.host.clone();
    d.anti_affinity = spec.placement.anti_affinity.iter().map(|n| n.as_str().to_string()).collect();
    d.replicas = 1;
    d
}
