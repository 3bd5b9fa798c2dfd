//! Failover planning (docs/failover.md): the replicas of a replicated module and the
//! sidecars that fail them over, as ordinary module records deployed through the ordinary path;
//! what the Orchestrator learns afterwards (PROMOTED notifications); and the Orchestrator-based
//! coordinator, the baseline the paper compares sidecars against.
//!
//! Nothing here is on the path of a sidecar failover: the Orchestrator plans, deploys and is told.

use crate::model::{AppRecord, ModuleRecord, Role};
use crate::place::is_ort;
use crate::ApiError;
use silverline_failover::coordinator::{Coordinator, Out, Policy};
use silverline_failover::sidecars::Kind;
use silverline_failover::wire::{Msg, NO_PRIMARY, PROMOTED};
use silverline_manifest::{ApplicationManifest, CoordinatorKind, Failover, FailoverPolicy, ModuleSpec};
use silverline_proto::ModuleId;
use std::collections::{BTreeMap, HashMap};

/// Wall-clock time in ns since the Unix epoch (the sidecars' clock).
pub fn now_ns() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64)
}

/// Prefix of every failover data-plane topic.
pub const TOPIC_PREFIX: &str = "silverline/v1/failover";

/// `silverline/v1/failover/{app}/{module}`: the topics of one replicated module's sidecars.
pub fn base_topic(app: &str, module: &str) -> String {
    format!("{TOPIC_PREFIX}/{app}/{module}")
}

/// The sha256 of each built-in sidecar, stored as blobs at start-up.
pub type SidecarBlobs = BTreeMap<&'static str, String>;

/// Store the built-in sidecars as blobs (Hosts fetch them like any module).
pub fn store_sidecars(store: &crate::store::Store) -> anyhow::Result<SidecarBlobs> {
    Kind::ALL.iter().map(|k| Ok((k.name(), store.put_blob(&k.wasm())?))).collect()
}

/// The replica records of module `spec` (index `i` in the manifest): outputs inactive until a
/// coordinator activates one.
pub fn replica_records(app: &str, spec: &ModuleSpec, template: &ModuleRecord) -> Vec<ModuleRecord> {
    (0..spec.replicas)
        .map(|r| {
            let mut m = template.clone();
            m.id = ModuleId(format!("{app}/{}.r{r}", spec.name.as_str()));
            m.replica = Some(r);
            m.role = Role::Backup;
            crate::core::outputs_inactive(&mut m.manifest);
            m
        })
        .collect()
}

/// The replicas of `module` in the coordinator's order: the manifest's `failover.hosts` first
/// (in that order), then by replica number. Index `i` here is `cmd{i}` of the coordinator.
pub fn replica_order<'a>(app: &'a AppRecord, module: &str, failover: &Failover) -> Vec<&'a ModuleRecord> {
    let mut replicas: Vec<&ModuleRecord> = app.modules.iter().filter(|m| m.module == module && m.replica.is_some()).collect();
    let rank = |m: &ModuleRecord| m.host.as_ref().and_then(|h| failover.hosts.iter().position(|p| p == h)).unwrap_or(usize::MAX);
    replicas.sort_by_key(|m| (rank(m), m.replica));
    replicas
}

/// The coordinator's index of each replica Host of `module`: each replica Host runs one channel
/// manager, tagged with the index it answers to (`{app}/{module}.channel-manager.{i}`). Once the
/// sidecars are planned this, not the manifest's order, says which replica is which: a replica
/// re-placed after its Host was lost takes over the index of the one it replaces.
fn indices<'a>(app: &'a AppRecord, module: &str) -> Vec<(usize, &'a str)> {
    let manager = format!("{module}.{}", Kind::ChannelManager.name());
    app.modules
        .iter()
        .filter(|m| m.role == Role::Sidecar && m.module == manager)
        .filter_map(|m| Some((m.id.0.rsplit('.').next()?.parse().ok()?, m.host.as_deref()?)))
        .collect()
}

/// The replica at coordinator index `index`.
fn replica_at<'a>(app: &'a AppRecord, module: &str, failover: &Failover, index: usize) -> Option<&'a ModuleRecord> {
    let planned = indices(app, module);
    if planned.is_empty() {
        return replica_order(app, module, failover).get(index).copied();
    }
    let (_, host) = planned.into_iter().find(|(i, _)| *i == index)?;
    app.modules.iter().find(|m| m.module == module && m.replica.is_some() && m.host.as_deref() == Some(host))
}

/// Move the replica `id` of `app` from its lost Host `from` to `to`: the sidecars it had on
/// `from` are dropped and made again on `to` with the same coordinator index, so the
/// coordinator sees the index reconnect, as after a healed link, and the replica joins as a
/// backup. Returns the records to delete from `from` and the ones to deploy.
pub fn move_replica(app: &mut AppRecord, id: &ModuleId, from: &str, to: &str, blobs: &SidecarBlobs) -> (Vec<ModuleRecord>, Vec<ModuleId>) {
    let Some(module) = app.modules.iter().find(|m| &m.id == id).map(|m| m.module.clone()) else { return Default::default() };
    let Some((spec, failover)) = replicated(app).into_iter().find(|(s, _)| s.name.as_str() == module) else { return Default::default() };
    let index = indices(app, &module).into_iter().find(|(_, h)| *h == from).map(|(i, _)| i);
    let prefix = format!("{module}.");
    let (gone, kept): (Vec<ModuleRecord>, Vec<ModuleRecord>) =
        std::mem::take(&mut app.modules).into_iter().partition(|m| m.role == Role::Sidecar && m.module.starts_with(&prefix) && m.host.as_deref() == Some(from));
    app.modules = kept;
    let mut deploy = Vec::new();
    for m in app.modules.iter_mut().filter(|m| &m.id == id) {
        m.host = Some(to.to_string());
        m.role = Role::Backup;
        (m.problem, m.refused) = (None, None);
        deploy.push(m.id.clone());
    }
    if let Some(i) = index {
        let planner = Planner { app: &app.name, module: spec.name.as_str(), failover: &failover, blobs };
        let sidecars = planner.replica_sidecars(i, to, &base_topic(&app.name, &module));
        deploy.extend(sidecars.iter().map(|m| m.id.clone()));
        app.modules.extend(sidecars);
    }
    (gone, deploy)
}

/// The failover settings of every replicated module of an application.
pub fn replicated(app: &AppRecord) -> Vec<(ModuleSpec, Failover)> {
    let Ok(manifest) = ApplicationManifest::from_str(&app.manifest.to_string(), crate::core::api_base_dir()) else { return Vec::new() };
    manifest.modules.into_iter().filter_map(|s| Some((s.clone(), s.failover?))).collect()
}

/// Plan the sidecars of every replicated module of `app` whose sidecars are missing; the
/// replicas must be placed. Needs an online Host tagged `ort`.
pub fn plan(app: &mut AppRecord, hosts: &BTreeMap<String, crate::core::HostEntry>, blobs: &SidecarBlobs) -> Result<(), ApiError> {
    for (spec, failover) in replicated(app) {
        let module = spec.name.as_str().to_string();
        let i = app.manifest["modules"].as_array().and_then(|ms| ms.iter().position(|m| m["name"] == module.as_str())).unwrap_or(0);
        if app.modules.iter().any(|m| m.role == Role::Sidecar && m.module.starts_with(&format!("{module}."))) {
            continue;
        }
        let ort = hosts.iter().find(|(_, h)| h.online && is_ort(h)).map(|(n, _)| n.clone()).ok_or_else(|| {
            ApiError::invalid(
                &format!("modules[{i}].replicas"),
                &spec.replicas.to_string(),
                "replicas need an online Host tagged `ort` next to the Orchestrator for the failover sidecars (`silverline host --tags ort`)",
            )
        })?;
        let order: Vec<String> = replica_order(app, &module, &failover).iter().filter_map(|m| m.host.clone()).collect();
        if order.len() != spec.replicas as usize {
            continue; // not all replicas are placed yet; planned once they are
        }
        let sidecars = Planner { app: &app.name, module: &module, failover: &failover, blobs }.sidecars(&ort, &order);
        app.modules.extend(sidecars);
    }
    Ok(())
}

struct Planner<'a> {
    app: &'a str,
    module: &'a str,
    failover: &'a Failover,
    blobs: &'a SidecarBlobs,
}

impl Planner<'_> {
    /// ORT: an emitter, a detector per replica Host and (unless the Orchestrator coordinates) the
    /// coordinator. Each replica Host: an emitter, a detector watching ORT, a channel manager.
    fn sidecars(&self, ort: &str, order: &[String]) -> Vec<ModuleRecord> {
        let base = base_topic(self.app, self.module);
        let f = self.failover;
        let timeout = f.timeout.as_nanos();
        let mut out = vec![self.emitter("ort", ort, &format!("{base}/hb/ort"))];
        for (i, host) in order.iter().enumerate() {
            out.push(self.detector(&i.to_string(), ort, &format!("{base}/hb/{i}"), &format!("{base}/links"), format!("{i} {timeout}")));
            out.extend(self.replica_sidecars(i, host, &base));
        }
        if f.coordinator == CoordinatorKind::Sidecar {
            out.push(self.coordinator(ort, order.len(), &base));
        }
        out
    }

    /// What runs next to the replica with coordinator index `i`: its emitter, a detector
    /// watching ORT, its channel manager.
    fn replica_sidecars(&self, i: usize, host: &str, base: &str) -> Vec<ModuleRecord> {
        let timeout = self.failover.timeout.as_nanos();
        vec![
            self.emitter(&i.to_string(), host, &format!("{base}/hb/{i}")),
            self.detector(&format!("ort.{i}"), host, &format!("{base}/hb/ort"), &format!("{base}/ctl/{i}/ort"), format!("{i} {timeout}")),
            self.channel_manager(i, host, base),
        ]
    }

    fn emitter(&self, tag: &str, host: &str, topic: &str) -> ModuleRecord {
        let trigger = serde_json::json!({ "type": "periodic", "periodInNs": self.failover.heartbeat.as_nanos() as u64 });
        let mut m = self.record(Kind::Emitter, tag, host, trigger, vec![], vec![("heartbeat", topic.to_string())], String::new());
        // Heartbeats must keep their rhythm under load: a late one looks like a lost Host.
        m.manifest["modules"][0]["criticality"] = "realtime".into();
        m
    }

    fn detector(&self, tag: &str, host: &str, input: &str, output: &str, config: String) -> ModuleRecord {
        let trigger = serde_json::json!({ "type": "event", "channel": "heartbeat" });
        self.record(Kind::Detector, tag, host, trigger, vec![("heartbeat", input.to_string())], vec![("link", output.to_string())], config)
    }

    fn channel_manager(&self, i: usize, host: &str, base: &str) -> ModuleRecord {
        let trigger = serde_json::json!({ "type": "event", "channel": "control" });
        let input = vec![("control", format!("{base}/ctl/{i}/+"))];
        self.record(Kind::ChannelManager, &i.to_string(), host, trigger, input, vec![], self.module.to_string())
    }

    fn coordinator(&self, host: &str, n: usize, base: &str) -> ModuleRecord {
        let trigger = serde_json::json!({ "type": "event", "channel": "links" });
        let mut outputs: Vec<(&str, String)> = Vec::new();
        let names: Vec<String> = (0..n).map(|i| format!("cmd{i}")).collect();
        for (i, name) in names.iter().enumerate() {
            outputs.push((name, format!("{base}/ctl/{i}/cmd")));
        }
        outputs.push(("notify", format!("{base}/notify")));
        let policy = match self.failover.policy {
            FailoverPolicy::Priority => "priority",
            FailoverPolicy::LeastLoaded => "least-loaded",
        };
        let config = format!("{policy} {} {}", self.failover.lease.as_nanos(), self.failover.clock_skew.as_nanos());
        self.record(Kind::Coordinator, "ort", host, trigger, vec![("links", format!("{base}/links"))], outputs, config)
    }

    /// One sidecar instance `{app}/{module}.{kind}.{tag}` on `host`.
    #[allow(clippy::too_many_arguments)]
    fn record(&self, kind: Kind, tag: &str, host: &str, trigger: serde_json::Value, inputs: Vec<(&str, String)>, outputs: Vec<(&str, String)>, config: String) -> ModuleRecord {
        let channels = |list: Vec<(&str, String)>, depth: bool| {
            let chans: Vec<serde_json::Value> = list
                .into_iter()
                .map(|(n, e)| if depth { serde_json::json!({ "name": n, "endpoint": e, "queueDepth": 256 }) } else { serde_json::json!({ "name": n, "endpoint": e }) })
                .collect();
            serde_json::json!({ "channels": chans })
        };
        let sha = self.blobs.get(kind.name()).cloned().unwrap_or_default();
        let mut module = serde_json::json!({
            "name": format!("sidecar-{}", kind.name()),
            "file": format!("{}.wasm", kind.name()),
            "sha256": sha,
            "trigger": trigger,
            "sidecar": true,
            "restart": { "policy": "always", "maxRestarts": 1000, "backoffInNs": 10_000_000 },
        });
        if !inputs.is_empty() {
            module["inputChannels"] = channels(inputs, true);
        }
        if !outputs.is_empty() {
            module["outputChannels"] = channels(outputs, false);
        }
        if !config.is_empty() {
            module["config"] = config.into();
        }
        let suffix = if kind == Kind::Coordinator { String::new() } else { format!(".{tag}") };
        ModuleRecord {
            module: format!("{}.{}", self.module, kind.name()),
            id: ModuleId(format!("{}/{}.{}{suffix}", self.app, self.module, kind.name())),
            sha256: sha,
            host: Some(host.to_string()),
            manifest: serde_json::json!({ "name": self.app, "modules": [module] }),
            problem: None,
            refused: None,
            role: Role::Sidecar,
            remove_after_ms: None,
            auto_switch_ms: None,
            keep_ms: 0,
            took_over_at: None,
            replica: None,
        }
    }
}

/// What a failover topic carries to the Orchestrator (application, module, message).
pub enum Incoming<'a> {
    /// A coordinator's PROMOTED notification.
    Notify(&'a str, &'a str, Msg),
    /// A detector's link event (read by the Orchestrator-based coordinator only).
    Link(&'a str, &'a str, Msg),
}

/// Parse `silverline/v1/failover/{app}/{module}/{notify|links}`; anything else is `None`.
pub fn parse<'a>(topic: &'a str, payload: &[u8]) -> Option<Incoming<'a>> {
    let rest = topic.strip_prefix(TOPIC_PREFIX)?.strip_prefix('/')?;
    let mut parts = rest.split('/');
    let (app, module, leaf) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let msg = Msg::decode(payload)?;
    match leaf {
        "notify" => Some(Incoming::Notify(app, module, msg)),
        "links" => Some(Incoming::Link(app, module, msg)),
        _ => None,
    }
}

/// The Orchestrator-based coordinators (the baseline), one per replicated module that asks for
/// `coordinator: orchestrator`, created when its first link event arrives. Modules coordinated
/// by sidecars are remembered as `None`, so their link events cost a map lookup only.
#[derive(Default)]
pub struct Baseline {
    coordinators: parking_lot::Mutex<HashMap<(String, String), Option<Coordinator>>>,
}

impl Baseline {
    /// Feed a link event; `settings` (replica count and failover settings, `None` unless the
    /// Orchestrator coordinates this module) is asked once per module. Returns data-plane
    /// messages to publish and a PROMOTED, if any.
    pub fn on_link(&self, key: (String, String), settings: impl FnOnce() -> Option<(usize, Failover)>, msg: &Msg, now_ns: i64) -> (Vec<(String, Vec<u8>)>, Option<Msg>) {
        // `settings` takes the Core's lock: never call it under ours (the Core calls `forget`
        // under its lock).
        let known = self.coordinators.lock().contains_key(&key);
        let fresh = if known { None } else { settings() };
        let mut map = self.coordinators.lock();
        let entry = map.entry(key.clone()).or_insert_with(|| {
            fresh.map(|(n, f)| {
                let policy = match f.policy {
                    FailoverPolicy::Priority => Policy::Priority,
                    FailoverPolicy::LeastLoaded => Policy::LeastLoaded,
                };
                Coordinator::new(n, policy, f.lease.as_nanos() as i64, f.clock_skew.as_nanos() as i64)
            })
        });
        let Some(coordinator) = entry else { return (Vec::new(), None) };
        let base = base_topic(&key.0, &key.1);
        let mut publish = Vec::new();
        let mut promoted = None;
        for out in coordinator.on_message(msg, now_ns) {
            match out {
                Out::Cmd(i, m) => publish.push((format!("{base}/ctl/{i}/cmd"), m.encode().to_vec())),
                Out::Notify(m) => promoted = Some(m),
            }
        }
        (publish, promoted)
    }

    /// Forget the coordinators of an application (deleted or re-created).
    pub fn forget(&self, app: &str) {
        self.coordinators.lock().retain(|(a, _), _| a != app);
    }
}

/// Apply a PROMOTED: the replica at `index` in the coordinator's order becomes the primary.
/// Returns the new primary's Host (None when no replica is connected).
pub fn promote(app: &mut AppRecord, module: &str, failover: &Failover, msg: &Msg) -> Option<Option<String>> {
    if msg.kind != PROMOTED {
        return None;
    }
    let chosen = (msg.index != NO_PRIMARY).then(|| replica_at(app, module, failover, msg.index as usize).map(|m| m.id.clone())).flatten();
    let mut host = None;
    for m in app.modules.iter_mut().filter(|m| m.module == module && m.replica.is_some()) {
        m.role = if Some(&m.id) == chosen.as_ref() { Role::Primary } else { Role::Backup };
        if m.role == Role::Primary {
            host = m.host.clone();
        }
    }
    Some(host)
}
