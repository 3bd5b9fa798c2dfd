//! Glue between the Orchestrator's state and the pure placement solver: Hosts become
//! capacities (minus what is already assigned to them), modules become demands.

use crate::core::HostEntry;
use crate::model::AppRecord;
use silverline_manifest::{ApplicationManifest, ModuleSpec, Trigger};
use silverline_placement::{DeployedModule, HostCapacity, ModuleDemand, PlacementError, Placer};
use silverline_proto::ModuleId;
use std::collections::{BTreeMap, HashMap};

/// Where each module goes.
pub type Decision = HashMap<ModuleId, String>;

/// Place every module of a new application.
pub fn place_new(placer: &dyn Placer, hosts: &BTreeMap<String, HostEntry>, apps: &BTreeMap<String, AppRecord>, app: &AppRecord) -> Result<Decision, PlacementError> {
    let all: Vec<ModuleId> = app.modules.iter().map(|m| m.id.clone()).collect();
    place_some(placer, hosts, apps, app, &all)
}

/// Place the modules `which` of `app`; everything else (other apps, the rest of `app`) stays and
/// counts against the Hosts' capacity.
pub fn place_some(
    placer: &dyn Placer,
    hosts: &BTreeMap<String, HostEntry>,
    others: &BTreeMap<String, AppRecord>,
    app: &AppRecord,
    which: &[ModuleId],
) -> Result<Decision, PlacementError> {
    let mut demands_by_app: HashMap<&str, HashMap<String, ModuleDemand>> = others.values().map(|a| (a.name.as_str(), demands(a))).collect();
    demands_by_app.insert(app.name.as_str(), demands(app));
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
    for m in app.modules.iter().filter(|m| which.contains(&m.id)) {
        if let Some(d) = own.get(&m.demand_key()).filter(|d| !wanted.iter().any(|w| w.module == d.module)) {
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
    c.online = h.online;
    for (d, _) in assigned.iter().filter(|(_, host)| *host == name) {
        c.used_memory_bytes += d.memory_bytes;
        c.used_utilization += d.utilization;
        c.deployed.push(DeployedModule { app: d.app.clone(), module: d.module.clone() });
    }
    c
}

/// The demands of every module of an application, by module name, from its full manifest.
fn demands(app: &AppRecord) -> HashMap<String, ModuleDemand> {
    let Ok(manifest) = ApplicationManifest::from_str(&app.manifest.to_string(), crate::core::api_base_dir()) else {
        tracing::error!("stored manifest of `{}` no longer parses", app.name);
        return HashMap::new();
    };
    let replicated: HashMap<&str, u32> = manifest.modules.iter().filter(|s| s.replicas > 1).map(|s| (s.name.as_str(), s.replicas)).collect();
    let mut out = HashMap::new();
    for spec in &manifest.modules {
        let mut d = demand(&app.name, spec);
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

/// What a module asks of its Host, read from its manifest. Absent reservations cost nothing:
/// the paper treats such modules as best effort.
fn demand(app: &str, spec: &ModuleSpec) -> ModuleDemand {
    let mut d = ModuleDemand::new(app, spec.name.as_str());
    d.memory_bytes = spec.resources.memory_bytes.unwrap_or(0);
    if let (Trigger::Periodic { period, .. }, Some(budget)) = (&spec.trigger, spec.resources.budget) {
        d.utilization = budget.as_secs_f64() / period.as_secs_f64();
    }
    d.apis = spec.placement.apis.clone();
    d.tags = spec.placement.tags.clone();
    d.pinned_host = spec.placement.host.clone();
    d.anti_affinity = spec.placement.anti_affinity.iter().map(|n| n.as_str().to_string()).collect();
    d.replicas = 1;
    d
}
