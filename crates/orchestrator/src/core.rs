//! The Orchestrator's brain: desired state (applications and their placement), observed state
//! (Hosts and what they report), and the decisions that move the second towards the first.
//!
//! Everything here is synchronous and lock-protected; it returns the commands to send instead of
//! sending them, so the control plane (and tests) stay outside.

use crate::model::*;
use crate::place;
use crate::store::Store;
use crate::ApiError;
use parking_lot::Mutex;
use silverline_manifest::{ApplicationManifest, HostManifest, PlatformManifest};
use silverline_placement::Placer;
use silverline_proto::status::{HostEvent, ModuleState, ModuleStatus};
use silverline_proto::{CommandKind, DeployModule, ModuleId, Registration, StatusReport};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

mod update;
pub use update::AutoSwitch;

/// A command for one Host.
pub type Outgoing = (String, CommandKind);

/// What the Orchestrator knows about a Host.
pub struct HostEntry {
    pub(crate) manifest: HostManifest,
    pub(crate) platform: PlatformManifest,
    pub(crate) online: bool,
    pub(crate) last_seen: Instant,
    pub(crate) status: Option<StatusReport>,
    /// Until when the Host may still hold a lease this Orchestrator granted (with a margin):
    /// its modules are not re-placed before.
    pub(crate) lease_ends: Option<Instant>,
    /// Import module → API, as the Host reported its APIs.
    pub(crate) api_imports: BTreeMap<String, String>,
}

struct State {
    apps: BTreeMap<String, AppRecord>,
    hosts: BTreeMap<String, HostEntry>,
    /// Execution times the Hosts measured, for admission of modules that declare no budget.
    profiles: place::Profiles,
    /// When each unregistered Host was last asked to register.
    asked_to_register: BTreeMap<String, Instant>,
}

/// Desired and observed state, and the logic between them.
pub struct Core {
    store: Store,
    state: Mutex<State>,
    placer: Box<dyn Placer + Send + Sync>,
    blob_url: String,
    events: std::sync::Arc<crate::events::EventBus>,
    pub(crate) topology: Option<silverline_manifest::TopologyManifest>,
    /// The lease granted to Hosts on their outputs (docs/protocol.md, "Fencing").
    pub(crate) lease: Duration,
    sidecar_blobs: crate::failover::SidecarBlobs,
    baseline: crate::failover::Baseline,
    /// The import modules of each stored blob, read once: blobs never change under their sha256.
    imports_of: Mutex<BTreeMap<String, Vec<String>>>,
}

impl Core {
    /// Load the desired state from `store`.
    pub fn new(store: Store, placer: Box<dyn Placer + Send + Sync>, blob_url: String) -> anyhow::Result<Core> {
        let apps = store.load_apps()?.into_iter().map(|a| (a.name.clone(), a)).collect();
        let sidecar_blobs = crate::failover::store_sidecars(&store)?;
        Ok(Core {
            store,
            state: Mutex::new(State { apps, hosts: BTreeMap::new(), profiles: place::Profiles::default(), asked_to_register: BTreeMap::new() }),
            placer,
            blob_url,
            events: Default::default(),
            topology: None,
            lease: Duration::from_secs(3),
            imports_of: Mutex::default(),
            sidecar_blobs,
            baseline: Default::default(),
        })
    }

    /// Grant every placed module's topics to its Host: what the Hosts run from before this
    /// Orchestrator started.
    pub fn grant_placed(&self, grants: &silverline_security::grants::DataGrants) {
        let st = self.state.lock();
        for m in st.apps.values().flat_map(|a| &a.modules) {
            if let Some(host) = &m.host {
                grants.grant(host, &m.id.0, silverline_security::grants::Endpoints::of_manifest(&m.manifest));
            }
        }
    }

    /// The persistent store (blobs).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The event stream.
    pub fn events(&self) -> &std::sync::Arc<crate::events::EventBus> {
        &self.events
    }

    // ----- applications -------------------------------------------------------------------

    /// Accept a new application: validate, place, persist; returns the deploy commands.
    pub fn create_app(&self, manifest: &ApplicationManifest) -> Result<(AppView, Vec<Outgoing>), ApiError> {
        let exists = |st: &State| match st.apps.contains_key(manifest.name.as_str()) {
            true => Err(ApiError::conflict(format!("application `{}` exists; update it with PUT /v1/apps/{}", manifest.name, manifest.name))),
            false => Ok(()),
        };
        exists(&self.state.lock())?;
        // Built without the lock: it is linear in the manifest, and status must not wait.
        let mut record = self.record_for(manifest, 1)?;
        let mut st = self.state.lock();
        exists(&st)?;
        crate::isolation::check(manifest, st.apps.values())?;
        let (placement, colocated) = crate::latency::search(&record, &st.hosts, self.topology.as_ref(), |colocate| {
            place::place_new(&*self.placer, &st.hosts, &st.profiles, &st.apps, &record, colocate)
        })?;
        for m in &mut record.modules {
            m.host = placement.get(&m.id).cloned();
        }
        crate::failover::plan(&mut record, &st.hosts, &self.sidecar_blobs)?;
        self.baseline.forget(&record.name);
        self.events.colocated(&record.name, &colocated);
        self.store.put_app(&record).map_err(ApiError::internal)?;
        let commands = record.modules.iter().filter_map(|m| self.deploy_command(&record.name, m)).collect();
        st.apps.insert(record.name.clone(), record.clone());
        self.events.app_created(&record);
        Ok((view_app(&record, &st.hosts, self.topology.as_ref()), commands))
    }

    /// Replace an application's manifest. Unchanged modules stay as they are; a changed module
    /// gets a **shadow**: the new version deployed next to the old one with its outputs inactive,
    /// waiting for a switchover (see `update.rs`); new modules are placed; removed ones deleted.
    pub fn update_app(&self, manifest: &ApplicationManifest, auto: Option<AutoSwitch>) -> Result<(AppView, Vec<Outgoing>), ApiError> {
        let name = manifest.name.as_str().to_string();
        if !self.state.lock().apps.contains_key(&name) {
            return Err(ApiError::not_found(format!("no application `{name}`")));
        }
        let mut fresh = self.record_for(manifest, 0)?;
        let mut st = self.state.lock();
        let old = st.apps.get(&name).cloned().ok_or_else(|| ApiError::not_found(format!("no application `{name}`")))?;
        fresh.generation = old.generation + 1;
        crate::isolation::check(manifest, st.apps.values())?;
        if let Some(busy) = old.modules.iter().find(|m| m.is_staged()) {
            return Err(ApiError::conflict(format!(
                "an update of `{}` is in progress ({:?} {}); switch over or roll back first",
                busy.module, busy.role, busy.id
            )));
        }
        let mut commands = Vec::new();
        let mut modules = Vec::new();
        let mut to_place = Vec::new();
        for f in fresh.modules {
            let same_placement = module_entry(&old.manifest, &f.module)["placement"] == module_entry(&fresh.manifest, &f.module)["placement"];
            let same_failover = module_entry(&old.manifest, &f.module)["failover"] == module_entry(&fresh.manifest, &f.module)["failover"];
            // The running instance this one replaces: the primary (or backup) of the same module
            // and replica, whatever its id (a shadow that took over keeps its `@generation` id).
            let running = old.modules.iter().find(|o| o.demand_key() == f.demand_key() && matches!(o.role, Role::Primary | Role::Backup));
            match running {
                Some(o) if o.sha256 == f.sha256 && o.manifest == f.manifest && same_placement && same_failover => {
                    modules.push(o.clone());
                }
                _ if f.replica.is_some() || old.modules.iter().any(|o| o.module == f.module && o.replica.is_some()) => {
                    return Err(ApiError::conflict(format!(
                        "module `{}` is replicated: changing it (or its replicas or failover settings) in place is not supported yet; delete and re-create `{name}`",
                        f.module
                    )));
                }
                Some(o) => {
                    modules.push(o.clone());
                    let shadow = update::shadow_of(f, &name, fresh.generation, auto);
                    to_place.push(shadow.id.clone());
                    modules.push(shadow);
                }
                None => {
                    to_place.push(f.id.clone());
                    modules.push(f);
                }
            }
        }
        // The sidecars of replicated modules that stay, stay with them.
        let kept_sidecars: Vec<ModuleRecord> =
            old.modules.iter().filter(|o| o.role == Role::Sidecar && modules.iter().any(|m| m.replica.is_some() && o.module.starts_with(&format!("{}.", m.module)))).cloned().collect();
        modules.extend(kept_sidecars);
        for o in old.modules.iter().filter(|o| !modules.iter().any(|m| m.id == o.id)) {
            if let Some(h) = &o.host {
                commands.push((h.clone(), CommandKind::Delete { module: o.id.clone() }));
            }
        }
        let mut record = AppRecord { name: name.clone(), manifest: fresh.manifest, modules, generation: fresh.generation };
        let mut others = st.apps.clone();
        others.remove(&name);
        let (placement, colocated) = crate::latency::search(&record, &st.hosts, self.topology.as_ref(), |colocate| {
            place::place_some(&*self.placer, &st.hosts, &st.profiles, &others, &record, &to_place, colocate)
        })?;
        let placing: std::collections::HashSet<ModuleId> = to_place.iter().cloned().collect();
        for m in record.modules.iter_mut().filter(|m| placing.contains(&m.id)) {
            m.host = placement.get(&m.id).cloned();
        }
        self.events.colocated(&record.name, &colocated);
        let before: std::collections::HashSet<ModuleId> = record.modules.iter().map(|m| m.id.clone()).collect();
        crate::failover::plan(&mut record, &st.hosts, &self.sidecar_blobs)?;
        for m in record.modules.iter().filter(|m| placing.contains(&m.id) || !before.contains(&m.id)) {
            commands.extend(self.deploy_command(&name, m));
        }
        self.store.put_app(&record).map_err(ApiError::internal)?;
        st.apps.insert(name, record.clone());
        self.events.app_updated(&old, &record, &to_place);
        self.baseline.forget(&record.name);
        Ok((view_app(&record, &st.hosts, self.topology.as_ref()), commands))
    }

    /// Forget an application; returns the delete commands.
    pub fn delete_app(&self, name: &str) -> Result<Vec<Outgoing>, ApiError> {
        let mut st = self.state.lock();
        let app = st.apps.remove(name).ok_or_else(|| ApiError::not_found(format!("no application `{name}`")))?;
        if let Err(e) = self.store.delete_app(name) {
            st.apps.insert(name.to_string(), app);
            return Err(ApiError::internal(e));
        }
        self.events.app_deleted(&app);
        self.baseline.forget(name);
        self.collect_blobs(&st);
        Ok(app.modules.iter().filter_map(|m| Some((m.host.clone()?, CommandKind::Delete { module: m.id.clone() }))).collect())
    }

    /// Drop module blobs no application (and no sidecar) uses any more.
    fn collect_blobs(&self, st: &State) {
        let mut referenced: std::collections::HashSet<String> = st.apps.values().flat_map(|a| a.modules.iter().map(|m| m.sha256.clone())).collect();
        referenced.extend(self.sidecar_blobs.values().cloned());
        let removed = self.store.collect_blobs(&referenced, BLOB_GRACE);
        if removed > 0 {
            tracing::info!("removed {removed} module blobs no application uses");
        }
    }

    /// Build the record of a manifest: every module must reference a stored blob.
    /// The APIs a module imports are added to its `placement.apis`, so that it is placed only
    /// where they are offered.
    fn record_for(&self, manifest: &ApplicationManifest, generation: u64) -> Result<AppRecord, ApiError> {
        let mut manifest = manifest.clone();
        let imports = self.import_map();
        let mut shas = Vec::new();
        for (i, spec) in manifest.modules.iter_mut().enumerate() {
            let path = format!("modules[{i}].sha256");
            let sha = spec.sha256.clone().ok_or_else(|| {
                ApiError::invalid(&path, "missing", "the sha256 of a module uploaded with PUT /v1/blobs (`silverline deploy` does this)")
            })?;
            let at = format!("modules[{i}].file");
            let mut apis = imports.required(&self.blob_imports(&sha, &path, &at)?, &at, spec.name.as_str())?;
            if let silverline_manifest::Trigger::Api { api, .. } = &spec.trigger {
                imports.check_offered(api, &format!("modules[{i}].trigger.api"), spec.name.as_str())?;
                apis.push(api.clone());
            }
            for api in apis {
                if !spec.placement.apis.contains(&api) {
                    spec.placement.apis.push(api);
                }
            }
            shas.push(sha);
        }
        let json: serde_json::Value = serde_json::from_str(&manifest.to_json()).map_err(ApiError::internal)?;
        let mut modules = Vec::new();
        for ((i, spec), sha) in manifest.modules.iter().enumerate().zip(shas) {
            let single = single_module_manifest(&json, i);
            let record = ModuleRecord {
                module: spec.name.as_str().to_string(),
                id: ModuleId::new(manifest.name.as_str(), spec.name.as_str()),
                sha256: sha,
                host: None,
                manifest: single,
                problem: None,
                refused: None,
                role: Role::Primary,
                remove_after_ms: None,
                auto_switch_ms: None,
                keep_ms: 0,
                took_over_at: None,
                replica: None,
            };
            if spec.replicas > 1 {
                modules.extend(crate::failover::replica_records(manifest.name.as_str(), spec, &record));
            } else {
                modules.push(record);
            }
        }
        Ok(AppRecord { name: manifest.name.as_str().to_string(), manifest: json, modules, generation })
    }

    /// The import modules of stored blob `sha` (`sha_at`, `file_at`: the manifest paths to name
    /// when it is missing or does not parse).
    fn blob_imports(&self, sha: &str, sha_at: &str, file_at: &str) -> Result<Vec<String>, ApiError> {
        if let Some(known) = self.imports_of.lock().get(sha) {
            return Ok(known.clone());
        }
        let Some(wasm) = self.store.blob(sha) else {
            return Err(ApiError::invalid(sha_at, sha, "the sha256 of a module uploaded with PUT /v1/blobs"));
        };
        let imports = crate::imports::import_modules(&wasm).map_err(|e| ApiError::invalid(file_at, "a binary that does not parse", &format!("a WebAssembly module ({e})")))?;
        self.imports_of.lock().insert(sha.to_string(), imports.clone());
        Ok(imports)
    }

    /// What the registered Hosts offer, for [`Self::record_for`] (taken briefly: placement
    /// itself checks again under the lock).
    fn import_map(&self) -> crate::imports::ImportMap {
        let st = self.state.lock();
        crate::imports::ImportMap::new(st.hosts.values().map(|h| (&h.api_imports, h.manifest.apis.as_slice())))
    }

    fn deploy_command(&self, app: &str, m: &ModuleRecord) -> Option<Outgoing> {
        let host = m.host.clone()?;
        let deploy = DeployModule {
            module: m.id.clone(),
            app: app.to_string(),
            manifest: m.manifest.clone(),
            sha256: m.sha256.clone(),
            blob_url: self.blob_url.clone(),
        };
        Some((host, CommandKind::Deploy(deploy)))
    }

    /// Record why a module is not where it should be (a failed deploy command).
    /// The outcome of a deploy on `host`: `Some(error)` when the Host refused it.
    pub fn note_deploy(&self, id: &ModuleId, host: &str, refused: Option<String>) {
        let mut st = self.state.lock();
        let app = id.as_str().split('/').next().unwrap_or_default();
        if let Some(app) = st.apps.get_mut(app) {
            for m in app.modules.iter_mut().filter(|m| &m.id == id && m.host.as_deref() == Some(host)) {
                m.problem = refused.as_ref().map(|e| format!("deploy on `{host}` failed: {e}"));
                m.refused = refused.clone();
            }
        }
    }

    // ----- hosts ----------------------------------------------------------------------------

    /// A Host (re)registered: reconcile what it runs with what it should run, and place
    /// modules that were waiting for a Host.
    pub fn host_registered(&self, reg: Registration) -> Vec<Outgoing> {
        let mut st = self.state.lock();
        let name = reg.host.name.clone();
        let was_online = st.hosts.get(&name).map(|h| h.online);
        // A Host that re-registers while online (it reconnected) keeps its last status until
        // the next report, rather than showing all its modules as deploying meanwhile.
        let status = st.hosts.remove(&name).filter(|h| h.online).and_then(|h| h.status);
        st.hosts.insert(
            name.clone(),
            HostEntry {
                manifest: reg.host,
                platform: reg.platform,
                online: true,
                last_seen: Instant::now(),
                status,
                lease_ends: None,
                api_imports: reg.api_imports,
            },
        );
        st.asked_to_register.remove(&name);
        self.events.host_joined(&name, was_online, &st.hosts[&name], reg.modules.len());
        let mut commands = Vec::new();
        let desired: Vec<&ModuleRecord> = st.apps.values().flat_map(|a| &a.modules).filter(|m| m.host.as_deref() == Some(&name)).collect();
        for running in &reg.modules {
            if !desired.iter().any(|m| m.id == running.id && m.sha256 == running.sha256) {
                commands.push((name.clone(), CommandKind::Delete { module: running.id.clone() }));
            }
        }
        for m in desired {
            if !reg.modules.iter().any(|r| r.id == m.id && r.sha256 == m.sha256) {
                let app = m.id.as_str().split('/').next().unwrap_or_default();
                commands.extend(self.deploy_command(app, m));
            }
        }
        commands.extend(self.place_waiting(&mut st));
        // Last, so that the Host opens its outputs only after it has reconciled.
        let h = st.hosts.get_mut(&name).expect("just inserted");
        commands.push(self.grant(h, &name, reg.lease_ref));
        commands
    }

    /// A Host reported its status: renew its lease. A Host this Orchestrator has given up
    /// (or never heard register) gets no lease but is asked to register, and reconciles.
    pub fn host_status(&self, host: &str, report: StatusReport) -> Vec<Outgoing> {
        let mut st = self.state.lock();
        st.profiles.learn(&report.status);
        if let Some(h) = st.hosts.get_mut(host).filter(|h| h.online) {
            h.last_seen = Instant::now();
            let from = report.lease_ref;
            h.status = Some(merge_page(h.status.take(), report));
            return vec![self.grant(h, host, from)];
        }
        let now = Instant::now();
        match st.asked_to_register.get(host) {
            Some(at) if now.duration_since(*at) < Duration::from_secs(1) => Vec::new(),
            _ => {
                st.asked_to_register.insert(host.to_string(), now);
                vec![(host.to_string(), CommandKind::Register)]
            }
        }
    }

    /// Grant Host `host` a lease counted from its report made at `from_ns` (its clock).
    fn grant(&self, h: &mut HostEntry, host: &str, from_ns: u64) -> Outgoing {
        h.lease_ends = Some(Instant::now() + self.lease + lease_margin(self.lease));
        (host.to_string(), CommandKind::Lease { from_ns, lease_ms: self.lease.as_millis() as u64 })
    }

    /// The control plane came back after the Orchestrator lost the broker: what the Hosts
    /// could not say meanwhile is not their silence. Each gets a full timeout again.
    pub fn grace_hosts(&self) {
        let mut st = self.state.lock();
        let now = Instant::now();
        for h in st.hosts.values_mut().filter(|h| h.online) {
            h.last_seen = now;
        }
    }

    /// A Host event arrived (kept for the event stream; logged for now).
    pub fn host_event(&self, host: &str, event: &HostEvent) {
        tracing::info!(host, module = %event.module, "event {:?}", event.kind);
    }

    /// A Host went away (last will, clean shutdown or silence): move its modules elsewhere.
    pub fn host_lost(&self, host: &str) -> Vec<Outgoing> {
        let mut st = self.state.lock();
        match st.hosts.get_mut(host) {
            Some(h) if h.online => {
                h.online = false;
                h.status = None;
            }
            _ => return Vec::new(),
        }
        let wait = st.hosts[host].lease_ends.map(|t| t.saturating_duration_since(Instant::now())).unwrap_or_default();
        tracing::warn!("host `{host}` lost; its modules move once its lease has run out (in {} ms)", wait.as_millis());
        self.events.host_lost(host, &st.apps);
        for app in st.apps.values_mut() {
            for m in app.modules.iter_mut().filter(|m| m.host.as_deref() == Some(host)) {
                m.problem = Some(match m.role != Role::Sidecar {
                    true => format!("host `{host}` lost; the module moves elsewhere once the lease the Host holds has run out"),
                    false => format!("host `{host}` lost"),
                });
            }
        }
        self.evacuate(&mut st)
    }

    /// Move the modules of lost Hosts whose lease has run out: they are fenced now, so their
    /// modules can run elsewhere without ever running twice. A replica moves with its sidecars
    /// (the other replicas covered for it meanwhile, docs/failover.md); the sidecars on ORT stay.
    fn evacuate(&self, st: &mut State) -> Vec<Outgoing> {
        let now = Instant::now();
        let fenced: Vec<&String> = st.hosts.iter().filter(|(_, h)| !h.online && h.lease_ends.is_none_or(|t| t <= now)).map(|(n, _)| n).collect();
        if fenced.is_empty() {
            return Vec::new();
        }
        let fenced: std::collections::HashSet<String> = fenced.into_iter().cloned().collect();
        let mut moved = false;
        for app in st.apps.values_mut() {
            for m in app.modules.iter_mut().filter(|m| m.replica.is_none() && m.role != Role::Sidecar) {
                if let Some(host) = m.host.take_if(|h| fenced.contains(h.as_str())) {
                    m.problem = Some(format!("host `{host}` lost"));
                    moved = true;
                }
            }
        }
        let mut commands = self.move_lost_replicas(st, &fenced);
        if moved {
            commands.extend(self.place_waiting(st));
        }
        commands
    }

    /// Re-place every replica whose Host is lost (fenced) on another Host that fits it, with the
    /// sidecars it needs there, so the application returns to its number of replicas. A replica
    /// no other Host fits stays where it was, saying why, and is tried again at the next round.
    fn move_lost_replicas(&self, st: &mut State, fenced: &std::collections::HashSet<String>) -> Vec<Outgoing> {
        let mut commands = Vec::new();
        let names: Vec<String> = st.apps.iter().filter(|(_, a)| a.modules.iter().any(|m| lost_replica(m, fenced))).map(|(n, _)| n.clone()).collect();
        for name in names {
            let Some(mut app) = st.apps.remove(&name) else { continue };
            let lost: Vec<(ModuleId, String)> = app.modules.iter().filter(|m| lost_replica(m, fenced)).filter_map(|m| Some((m.id.clone(), m.host.clone()?))).collect();
            for (id, from) in lost {
                let mut trial = app.clone();
                trial.modules.iter_mut().filter(|m| m.id == id).for_each(|m| m.host = None);
                let to = place::place_some(&*self.placer, &st.hosts, &st.profiles, &st.apps, &trial, std::slice::from_ref(&id), &[]);
                match to.map(|d| d.get(&id).cloned()) {
                    Ok(Some(to)) => commands.extend(self.move_replica(&mut app, &id, &from, &to)),
                    Ok(None) => set_problem(&mut app, &id, format!("host `{from}` lost; no other Host fits this replica")),
                    Err(e) => set_problem(&mut app, &id, format!("host `{from}` lost; no other Host fits this replica: {e}")),
                }
            }
            if let Err(e) = self.store.put_app(&app) {
                tracing::error!("persisting `{name}`: {e:#}");
            }
            st.apps.insert(name, app);
        }
        commands
    }

    fn move_replica(&self, app: &mut AppRecord, id: &ModuleId, from: &str, to: &str) -> Vec<Outgoing> {
        let (gone, deploy) = crate::failover::move_replica(app, id, from, to, &self.sidecar_blobs);
        let mut commands: Vec<Outgoing> = gone.into_iter().map(|m| (from.to_string(), CommandKind::Delete { module: m.id })).collect();
        let constraints = crate::events::Constraints::of(&app.manifest);
        for m in app.modules.iter().filter(|m| deploy.contains(&m.id)) {
            if m.id == *id {
                self.events.placed(&app.name, m, &format!("re-placed: host `{from}` lost"), &constraints);
            }
            commands.extend(self.deploy_command(&app.name, m));
        }
        commands
    }

    /// Hosts silent for longer than `timeout`: lose them.
    pub fn expire_hosts(&self, timeout: Duration) -> Vec<Outgoing> {
        let silent: Vec<String> = {
            let st = self.state.lock();
            st.hosts.iter().filter(|(_, h)| h.online && h.last_seen.elapsed() > timeout).map(|(n, _)| n.clone()).collect()
        };
        silent.iter().for_each(|h| self.events.host_silent(h, timeout));
        let mut commands: Vec<Outgoing> = silent.iter().flat_map(|h| self.host_lost(h)).collect();
        commands.extend(self.evacuate(&mut self.state.lock()));
        commands
    }

    /// Modules assigned to Hosts that never (re)appeared since start-up: move them.
    pub fn adopt_orphans(&self) -> Vec<Outgoing> {
        let mut st = self.state.lock();
        let known: Vec<String> = st.hosts.iter().filter(|(_, h)| h.online).map(|(n, _)| n.clone()).collect();
        for app in st.apps.values_mut() {
            for m in app.modules.iter_mut().filter(|m| m.replica.is_none() && m.role != Role::Sidecar) {
                if m.host.as_ref().is_some_and(|h| !known.contains(h)) {
                    m.problem = Some(format!("host `{}` did not come back", m.host.take().unwrap_or_default()));
                }
            }
        }
        self.place_waiting(&mut st)
    }

    /// Place every module without a Host, app by app; persist what changed.
    fn place_waiting(&self, st: &mut State) -> Vec<Outgoing> {
        let mut commands = Vec::new();
        let names: Vec<String> = st.apps.keys().cloned().collect();
        for name in names {
            let Some(app) = st.apps.get(&name).cloned() else { continue };
            let waiting: Vec<ModuleId> = app.modules.iter().filter(|m| m.host.is_none()).map(|m| m.id.clone()).collect();
            if waiting.is_empty() {
                continue;
            }
            let mut others = st.apps.clone();
            others.remove(&name);
            let mut app = app;
            match place::place_some(&*self.placer, &st.hosts, &st.profiles, &others, &app, &waiting, &[]) {
                Ok(placement) => {
                    let constraints = crate::events::Constraints::of(&app.manifest);
                    // Exactly the waiting ones: those still without a Host.
                    for m in app.modules.iter_mut().filter(|m| m.host.is_none()) {
                        m.host = placement.get(&m.id).cloned();
                        self.events.placed(&name, m, m.problem.as_deref().unwrap_or("waiting for a Host"), &constraints);
                        (m.problem, m.refused) = (None, None);
                        commands.extend(self.deploy_command(&name, m));
                    }
                }
                Err(e) => {
                    self.events.placement_failed(&name, &waiting, &e);
                    for m in app.modules.iter_mut().filter(|m| m.host.is_none()) {
                        m.problem = Some(unplaced_problem(&e, m));
                    }
                }
            }
            if let Err(e) = self.store.put_app(&app) {
                tracing::error!("persisting `{name}`: {e:#}");
            }
            st.apps.insert(name, app);
        }
        commands
    }

    // ----- failover -------------------------------------------------------------------------

    /// A message on a failover topic: a coordinator's PROMOTED (recorded, announced), or a
    /// detector's link event for the Orchestrator-based coordinator (the baseline). Returns
    /// data-plane messages to publish.
    pub fn failover_message(&self, topic: &str, payload: &[u8]) -> Vec<(String, Vec<u8>)> {
        use crate::failover::Incoming;
        match crate::failover::parse(topic, payload) {
            Some(Incoming::Notify(app, module, msg)) => {
                self.failover_promoted(app, module, &msg, "sidecar coordinator");
                Vec::new()
            }
            Some(Incoming::Link(app, module, msg)) => {
                let key = (app.to_string(), module.to_string());
                let settings = || self.failover_settings(app, module).filter(|(_, f)| f.coordinator == silverline_manifest::CoordinatorKind::Orchestrator);
                let (publish, promoted) = self.baseline.on_link(key, settings, &msg, crate::failover::now_ns());
                if let Some(p) = promoted {
                    self.failover_promoted(app, module, &p, "Orchestrator");
                }
                publish
            }
            None => {
                tracing::warn!("dropping a malformed failover message on `{topic}`");
                Vec::new()
            }
        }
    }

    fn failover_settings(&self, app: &str, module: &str) -> Option<(usize, silverline_manifest::Failover)> {
        let st = self.state.lock();
        let record = st.apps.get(app)?;
        let (spec, f) = crate::failover::replicated(record).into_iter().find(|(s, _)| s.name.as_str() == module)?;
        Some((spec.replicas as usize, f))
    }

    fn failover_promoted(&self, app: &str, module: &str, msg: &silverline_failover::wire::Msg, by: &str) {
        let Some((_, failover)) = self.failover_settings(app, module) else { return };
        let mut st = self.state.lock();
        let Some(record) = st.apps.get_mut(app) else { return };
        let Some(host) = crate::failover::promote(record, module, &failover, msg) else { return };
        if let Err(e) = self.store.put_app(record) {
            tracing::error!("persisting `{app}`: {e:#}");
        }
        self.events.promoted(app, module, host.as_deref(), by);
    }

    // ----- views ----------------------------------------------------------------------------

    /// Every application.
    pub fn apps(&self) -> Vec<AppView> {
        let st = self.state.lock();
        st.apps.values().map(|a| view_app(a, &st.hosts, self.topology.as_ref())).collect()
    }

    /// One application.
    pub fn app(&self, name: &str) -> Option<AppView> {
        let st = self.state.lock();
        st.apps.get(name).map(|a| view_app(a, &st.hosts, self.topology.as_ref()))
    }

    /// Every Host.
    pub fn hosts(&self) -> Vec<HostView> {
        let st = self.state.lock();
        st.hosts.iter().map(|(n, h)| view_host(n, h, &st.apps)).collect()
    }

    /// One Host.
    pub fn host(&self, name: &str) -> Option<HostView> {
        let st = self.state.lock();
        st.hosts.get(name).map(|h| view_host(name, h, &st.apps))
    }

    /// Every module instance.
    pub fn modules(&self) -> Vec<ModuleView> {
        self.apps().into_iter().flat_map(|a| a.modules).collect()
    }
}

/// Why module `m` waits, from a failed placement: its own explanation when the error has one,
/// else a pointer to the summary (one copy of the whole error per module would make an
/// application of thousands of modules megabytes to show).
fn unplaced_problem(e: &silverline_placement::PlacementError, m: &ModuleRecord) -> String {
    let key = m.demand_key();
    match e.unplaced.iter().find(|u| u.module == key) {
        Some(own) => own.to_string(),
        None => format!("no host fits this module together with the rest of the application ({} modules found none)", e.unplaced.len() + e.more_unplaced),
    }
}

/// A blob uploaded this recently is kept even if no application uses it: its deploy may be
/// between the upload and the manifest.
const BLOB_GRACE: Duration = Duration::from_secs(600);

/// How long past a lease it granted the Orchestrator still counts a Host as possibly holding
/// it: monotonic clocks run at slightly different rates, and the grant's own timing is loose.
fn lease_margin(lease: Duration) -> Duration {
    Duration::from_millis(100) + lease / 20
}

/// The entry of module `name` in an application manifest (JSON), or null.
fn module_entry<'a>(manifest: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    manifest["modules"].as_array().and_then(|ms| ms.iter().find(|m| m["name"] == name)).unwrap_or(&serde_json::Value::Null)
}

/// Make every output channel of the (single-module) manifest a Host receives inactive.
pub(crate) fn outputs_inactive(manifest: &mut serde_json::Value) {
    let module = &mut manifest["modules"][0];
    // Also without output channels: the group's flag gates writes through system APIs.
    if module.get("outputChannels").is_none() {
        module["outputChannels"] = serde_json::json!({ "channels": [] });
    }
    if let Some(outputs) = module.get_mut("outputChannels") {
        outputs["active"] = false.into();
        for ch in outputs["channels"].as_array_mut().into_iter().flatten() {
            if let Some(obj) = ch.as_object_mut() {
                obj.remove("active");
            }
        }
    }
}

/// An application manifest holding only module `i` of `manifest` (what one Host needs).
fn single_module_manifest(manifest: &serde_json::Value, i: usize) -> serde_json::Value {
    let Some(fields) = manifest.as_object() else { return serde_json::Value::Null };
    let mut single = serde_json::Map::new();
    for (key, value) in fields {
        match key.as_str() {
            // Chains name modules this manifest lacks.
            "chains" => {}
            "modules" => {
                let mut one = value.get(i).cloned();
                // Placement is the Orchestrator's business; it may also name absent modules.
                if let Some(obj) = one.as_mut().and_then(|o| o.as_object_mut()) {
                    obj.remove("placement");
                }
                single.insert(key.clone(), serde_json::Value::Array(one.into_iter().collect()));
            }
            _ => {
                single.insert(key.clone(), value.clone());
            }
        }
    }
    serde_json::Value::Object(single)
}

fn observed<'a>(hosts: &'a BTreeMap<String, HostEntry>, m: &ModuleRecord) -> Option<&'a ModuleStatus> {
    let host = hosts.get(m.host.as_ref()?)?;
    host.status.as_ref()?.status.modules.iter().find(|s| s.id == m.id && s.sha256 == m.sha256)
}

fn view_module(app: &str, m: &ModuleRecord, hosts: &BTreeMap<String, HostEntry>) -> ModuleView {
    let profile = observed(hosts, m).cloned();
    let online = m.host.as_ref().and_then(|h| hosts.get(h)).is_some_and(|h| h.online);
    let state = match (&m.host, online, &profile) {
        (None, _, _) => "pending".to_string(),
        (Some(_), false, _) => "lost".to_string(),
        (Some(_), true, None) if m.refused.is_some() => "failed".to_string(),
        (Some(_), true, None) => "deploying".to_string(),
        (Some(_), true, Some(p)) => state_word(&p.state).to_string(),
    };
    let problem = match &profile {
        Some(ModuleStatus { state: ModuleState::Failed { failure } | ModuleState::Restarting { failure, .. }, .. }) => Some(failure.to_string()),
        _ => m.problem.clone(),
    };
    let would_send = profile.as_ref().map_or(0, |p| p.channels.iter().filter(|c| c.direction == "out").map(|c| c.dropped).sum());
    ModuleView {
        app: app.to_string(),
        module: m.module.clone(),
        id: m.id.clone(),
        host: m.host.clone(),
        sha256: m.sha256.clone(),
        role: m.role,
        would_send,
        took_over_at: m.took_over_at,
        state,
        problem,
        profile,
    }
}

fn state_word(s: &ModuleState) -> &'static str {
    match s {
        ModuleState::Starting => "deploying",
        ModuleState::Running => "running",
        ModuleState::Restarting { .. } => "restarting",
        ModuleState::Failed { .. } => "failed",
        ModuleState::Completed { .. } => "completed",
        ModuleState::Stopped => "stopped",
    }
}

fn view_app(app: &AppRecord, hosts: &BTreeMap<String, HostEntry>, topology: Option<&silverline_manifest::TopologyManifest>) -> AppView {
    let modules: Vec<ModuleView> = app.modules.iter().map(|m| view_module(&app.name, m, hosts)).collect();
    let staged = app.modules.iter().any(|m| m.is_staged());
    let state = if modules.iter().all(|m| m.state == "running" || m.state == "completed") {
        if staged {
            "updating"
        } else {
            "running"
        }
    } else if modules.iter().all(|m| m.state == "pending") {
        "pending"
    } else if modules.iter().any(|m| matches!(m.state.as_str(), "failed" | "lost" | "pending" | "restarting")) {
        "degraded"
    } else {
        "deploying"
    };
    AppView { name: app.name.clone(), state: state.into(), generation: app.generation, modules, manifest: app.manifest.clone(), chains: crate::latency::views(app, hosts, topology) }
}

fn view_host(name: &str, h: &HostEntry, apps: &BTreeMap<String, AppRecord>) -> HostView {
    HostView {
        name: name.to_string(),
        manifest: h.manifest.clone(),
        platform: h.platform.clone(),
        online: h.online,
        last_seen_ms: h.last_seen.elapsed().as_millis() as u64,
        resources: h.status.as_ref().map(|s| s.resources),
        modules: h.status.as_ref().map(|s| s.status.modules.clone()).unwrap_or_default(),
        assigned: apps.values().flat_map(|a| &a.modules).filter(|m| m.host.as_deref() == Some(name)).map(|m| m.id.clone()).collect(),
        realtime: h.status.as_ref().map(|s| s.status.realtime.clone()),
        wakeup_latency: h.status.as_ref().map(|s| s.status.wakeup_latency.clone()),
        scheduler: place::scheduler(h),
    }
}

/// Used by tests: the base dir for manifests submitted over the API (files are not read).
pub fn api_base_dir() -> &'static Path {
    Path::new("/")
}

/// A Host's status after `report`: a whole report replaces what was known; a page replaces
/// the modules it carries, and its round's first page (listing every id) drops the others.
fn merge_page(known: Option<StatusReport>, mut report: StatusReport) -> StatusReport {
    let (Some(page), Some(known)) = (&report.page, known) else { return report };
    let mut modules: BTreeMap<ModuleId, silverline_proto::status::ModuleStatus> =
        known.status.modules.into_iter().map(|m| (m.id.clone(), m)).collect();
    if let Some(ids) = &page.ids {
        let listed: std::collections::HashSet<&ModuleId> = ids.iter().collect();
        modules.retain(|id, _| listed.contains(id));
    }
    for m in std::mem::take(&mut report.status.modules) {
        modules.insert(m.id.clone(), m);
    }
    report.status.modules = modules.into_values().collect();
    report
}

/// A replica (not a sidecar) on one of the `fenced` Hosts.
fn lost_replica(m: &ModuleRecord, fenced: &std::collections::HashSet<String>) -> bool {
    m.replica.is_some() && m.role != Role::Sidecar && m.host.as_ref().is_some_and(|h| fenced.contains(h))
}

fn set_problem(app: &mut AppRecord, id: &ModuleId, problem: String) {
    app.modules.iter_mut().filter(|m| m.id == *id).for_each(|m| m.problem = Some(problem.clone()));
}
