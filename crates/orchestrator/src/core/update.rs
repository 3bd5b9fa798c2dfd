//! Zero-downtime update (paper section V-B, done differently): a changed module is staged as a
//! **shadow** whose inputs are live and outputs inactive; a **switchover** then flips outputs on
//! an agreed periodic activation index K, computed from the module's period with a safety margin:
//! the old version publishes activations < K, the new one activations >= K. Both Hosts apply the
//! flip themselves when activation K starts (`SetChannelActive { from_activation: K }`), so the
//! handover is exact across Hosts and never waits for the network at the boundary. The old
//! version is kept as **previous** for a while so that the switch can be reversed the same way.
//!
//! Modules that are not periodic have no index to agree on: they switch as soon as the commands
//! arrive, which may lose or duplicate messages in flight (documented in docs/update.md).

use super::{view_app, Core, Outgoing};
use crate::model::{AppRecord, ModuleRecord, Role};
use crate::ApiError;
use silverline_manifest::{ApplicationManifest, Trigger};
use silverline_proto::status::ModuleState;
use silverline_proto::{CommandKind, ModuleId};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Switch over by itself after a validation window, keeping the previous version for `keep`.
#[derive(Debug, Clone, Copy)]
pub struct AutoSwitch {
    /// How long the shadow must run healthily before switching.
    pub validate: Duration,
    /// How long the previous version stays for rollback after the switch.
    pub keep: Duration,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64
}

/// The shadow of `fresh`: own id, outputs inactive in the manifest its Host receives.
pub(super) fn shadow_of(mut fresh: ModuleRecord, app: &str, generation: u64, auto: Option<AutoSwitch>) -> ModuleRecord {
    fresh.id = ModuleId(format!("{app}/{}@{generation}", fresh.module));
    fresh.role = Role::Shadow;
    super::outputs_inactive(&mut fresh.manifest);
    if let Some(a) = auto {
        fresh.auto_switch_ms = Some(now_ms() + a.validate.as_millis() as u64);
        fresh.keep_ms = a.keep.as_millis() as u64;
    }
    fresh
}

/// The module's trigger and output channel names, from the manifest its Host received.
fn shape(m: &ModuleRecord) -> Option<(Trigger, Vec<String>)> {
    let manifest = ApplicationManifest::from_str(&m.manifest.to_string(), super::api_base_dir()).ok()?;
    let spec = manifest.modules.into_iter().next()?;
    Some((spec.trigger, spec.outputs.iter().map(|c| c.name.as_str().to_string()).collect()))
}

/// The first activation index at least `margin` from now, and its Unix time in ms.
fn handover_index(period: Duration, offset: Duration, margin: Duration) -> (i64, u64) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
    let p = period.as_nanos().max(1);
    let t = (now + margin.as_nanos()).saturating_sub(offset.as_nanos());
    let k = t.div_ceil(p);
    (k as i64, ((k * p + offset.as_nanos()) / 1_000_000) as u64)
}

/// Commands flipping `from`'s outputs off and `to`'s on at the same index; returns the switch
/// time (ms) as well.
fn flip(from: &ModuleRecord, to: &mut ModuleRecord) -> (Vec<Outgoing>, u64) {
    let (trigger, outputs) = shape(to).unwrap_or((Trigger::Command, Vec::new()));
    let (index, at_ms) = match trigger {
        // A margin of several periods (and at least half a second) lets both commands arrive
        // before index K starts on either Host.
        Trigger::Periodic { period, offset } => {
            let (k, at) = handover_index(period, offset, (period * 3).max(Duration::from_millis(500)));
            (Some(k), at)
        }
        _ => (None, now_ms()),
    };
    to.took_over_at = index;
    let mut commands = Vec::new();
    // Writes through system APIs (vehicle signals, ...) hand over with the channels.
    for channel in outputs.into_iter().chain([silverline_manifest::API_WRITES.to_string()]) {
        for (m, active) in [(from, false), (&*to, true)] {
            if let Some(host) = &m.host {
                let kind = CommandKind::SetChannelActive { module: m.id.clone(), channel: channel.clone(), active, from_activation: index };
                commands.push((host.clone(), kind));
            }
        }
    }
    (commands, at_ms)
}

fn find(app: &AppRecord, module: &str, role: Role) -> Option<usize> {
    app.modules.iter().position(|m| m.module == module && m.role == role)
}

impl Core {
    /// Switch `module` of `app` over to its shadow (or back to the previous version, or discard
    /// an unswitched shadow, with `back`). The previous version is kept for `keep`.
    pub fn switchover(&self, app: &str, module: &str, back: bool, keep: Duration) -> Result<(super::AppView, Vec<Outgoing>), ApiError> {
        let mut st = self.state.lock();
        let mut record = st.apps.get(app).cloned().ok_or_else(|| ApiError::not_found(format!("no application `{app}`")))?;
        if !record.modules.iter().any(|m| m.module == module) {
            return Err(ApiError::not_found(format!("application `{app}` has no module `{module}`")));
        }
        let commands = if back { roll_back(&mut record, module)? } else { switch_forward(&mut record, module, keep, &self.failed_ids(&st.hosts))? };
        self.store.put_app(&record).map_err(ApiError::internal)?;
        self.announce(&record, module, if back { "rollback" } else { "switchover" });
        st.apps.insert(app.to_string(), record.clone());
        Ok((view_app(&record, &st.hosts, self.topology.as_ref()) /* e2e latency */, commands))
    }

    /// Module instances whose Host reports them failed or restarting.
    fn failed_ids(&self, hosts: &std::collections::BTreeMap<String, super::HostEntry>) -> Vec<ModuleId> {
        hosts
            .values()
            .filter_map(|h| h.status.as_ref())
            .flat_map(|s| &s.status.modules)
            .filter(|m| matches!(m.state, ModuleState::Failed { .. } | ModuleState::Restarting { .. }))
            .map(|m| m.id.clone())
            .collect()
    }

    /// Timers of updates, called periodically: automatic switchovers of healthy shadows,
    /// automatic rollback of failed shadows and failed new versions, removal of previous versions.
    pub fn tick_updates(&self) -> Vec<Outgoing> {
        let mut st = self.state.lock();
        // Every 250 ms under the lock: only applications in the middle of an update count.
        let names: Vec<String> = st.apps.iter().filter(|(_, a)| a.modules.iter().any(in_update)).map(|(n, _)| n.clone()).collect();
        if names.is_empty() {
            return Vec::new();
        }
        let failed = self.failed_ids(&st.hosts);
        let now = now_ms();
        let mut commands = Vec::new();
        for name in names {
            let Some(mut app) = st.apps.get(&name).cloned() else { continue };
            let before = commands.len();
            let roles: std::collections::HashMap<ModuleId, Role> = app.modules.iter().map(|m| (m.id.clone(), m.role)).collect();
            commands.extend(tick_app(&mut app, &failed, now));
            for m in app.modules.iter().filter(|m| m.role == Role::Primary) {
                match roles.get(&m.id).copied() {
                    Some(Role::Shadow) => self.announce(&app, &m.module, "switchover"),
                    Some(Role::Previous) => self.announce(&app, &m.module, "rollback"),
                    _ => {}
                }
            }
            if commands.len() != before {
                if let Err(e) = self.store.put_app(&app) {
                    tracing::error!("persisting `{name}`: {e:#}");
                }
                st.apps.insert(name, app);
            }
        }
        commands
    }
}

impl Core {
    /// Tell the event stream which instance of `module` is primary now, and from which index.
    fn announce(&self, app: &AppRecord, module: &str, kind: &str) {
        let Some(p) = find(app, module, Role::Primary) else { return };
        let m = &app.modules[p];
        let at = m.took_over_at.map_or("at once".to_string(), |k| format!("from activation {k}"));
        let event = crate::events::Event::new(kind, format!("{} ({}) takes over {at}", m.id, m.host.as_deref().unwrap_or("?")))
            .app(&app.name)
            .module(&m.id);
        self.events.emit(match &m.host {
            Some(h) => event.host(h),
            None => event,
        });
    }
}

fn switch_forward(record: &mut AppRecord, module: &str, keep: Duration, failed: &[ModuleId]) -> Result<Vec<Outgoing>, ApiError> {
    let Some(s) = find(record, module, Role::Shadow) else {
        return Err(ApiError::conflict(format!("nothing staged for `{module}`: update the application first")));
    };
    if failed.contains(&record.modules[s].id) {
        return Err(ApiError::conflict(format!("the shadow of `{module}` has failed; roll back with --back or update again")));
    }
    let p = find(record, module, Role::Primary).ok_or_else(|| ApiError::internal("a shadow without a primary"))?;
    let mut to = record.modules[s].clone();
    let (commands, at_ms) = flip(&record.modules[p], &mut to);
    record.modules[s] = to;
    let old = &mut record.modules[p];
    old.role = Role::Previous;
    old.remove_after_ms = Some(at_ms + keep.as_millis() as u64);
    let new = &mut record.modules[s];
    new.role = Role::Primary;
    new.auto_switch_ms = None;
    Ok(commands)
}

fn roll_back(record: &mut AppRecord, module: &str) -> Result<Vec<Outgoing>, ApiError> {
    if let Some(s) = find(record, module, Role::Shadow) {
        let shadow = record.modules.remove(s);
        return Ok(shadow.host.map(|h| (h, CommandKind::Delete { module: shadow.id })).into_iter().collect());
    }
    let Some(prev) = find(record, module, Role::Previous) else {
        return Err(ApiError::conflict(format!("nothing to roll back for `{module}`: no shadow and no previous version")));
    };
    let cur = find(record, module, Role::Primary).ok_or_else(|| ApiError::internal("a previous version without a primary"))?;
    let mut to = record.modules[prev].clone();
    let (commands, at_ms) = flip(&record.modules[cur], &mut to);
    record.modules[prev] = to;
    let failed_new = &mut record.modules[cur];
    failed_new.role = Role::Previous;
    // The rolled-back version goes as soon as the handover is done; it is not a rollback target.
    failed_new.remove_after_ms = Some(at_ms + 100);
    let old = &mut record.modules[prev];
    old.role = Role::Primary;
    old.remove_after_ms = None;
    Ok(commands)
}

/// A shadow waiting for its switchover, or a previous version kept for a rollback.
fn in_update(m: &ModuleRecord) -> bool {
    matches!(m.role, Role::Shadow | Role::Previous)
}

fn tick_app(app: &mut AppRecord, failed: &[ModuleId], now: u64) -> Vec<Outgoing> {
    let mut commands = Vec::new();
    // Only modules with a shadow or a previous version have anything to do.
    let mut modules: Vec<String> = app.modules.iter().filter(|m| in_update(m)).map(|m| m.module.clone()).collect();
    modules.sort();
    modules.dedup();
    for module in modules {
        if let Some(s) = find(app, &module, Role::Shadow) {
            let shadow = &app.modules[s];
            if failed.contains(&shadow.id) {
                tracing::warn!("shadow {} failed: discarding the update", shadow.id);
                let problem = format!("update rolled back: shadow {} failed", shadow.id);
                commands.extend(roll_back(app, &module).unwrap_or_default());
                if let Some(p) = find(app, &module, Role::Primary) {
                    app.modules[p].problem = Some(problem);
                }
                continue;
            }
            if shadow.auto_switch_ms.is_some_and(|t| now >= t) {
                let keep = Duration::from_millis(shadow.keep_ms);
                commands.extend(switch_forward(app, &module, keep, failed).unwrap_or_default());
                continue;
            }
        }
        if let (Some(p), Some(prev)) = (find(app, &module, Role::Primary), find(app, &module, Role::Previous)) {
            let rollback_target = app.modules[prev].remove_after_ms.is_some_and(|t| t > now + 100);
            if failed.contains(&app.modules[p].id) && rollback_target {
                tracing::warn!("new version {} failed: switching back", app.modules[p].id);
                commands.extend(roll_back(app, &module).unwrap_or_default());
                continue;
            }
        }
        while let Some(i) = app.modules.iter().position(|m| m.module == module && m.role == Role::Previous && m.remove_after_ms.is_some_and(|t| now >= t)) {
            let gone = app.modules.remove(i);
            commands.extend(gone.host.map(|h| (h, CommandKind::Delete { module: gone.id })));
        }
    }
    commands
}
