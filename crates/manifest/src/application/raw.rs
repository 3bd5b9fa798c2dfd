//! The application manifest exactly as written: serde structs with the manifest's camelCase
//! keys, unknown keys rejected, numbers kept as `i64` so that validation can report the value
//! that was actually written (`-5`) instead of serde's "expected u64".
//!
//! The same structs serialize the validated manifest back (see `to_raw`), which is what makes
//! `to_json()` output acceptable to `from_str`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ApplicationManifest, ChannelSpec, ModuleSpec, Trigger};
use super::{CoordinatorKind, Criticality, Failover, FailoverPolicy, OverrunPolicy, PreopenDir, Resources, RestartMode, WasiGrants};

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[serde(expecting = "an application manifest (a mapping with `name` and `modules`)")]
pub(crate) struct RawApplication {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub name: String,
    pub modules: Vec<RawModule>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chains: Vec<RawChain>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exports: Vec<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[serde(expecting = "a chain (a mapping with `name`, `modules` and `boundInNs`)")]
pub(crate) struct RawChain {
    pub name: String,
    #[serde(default)]
    pub modules: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound_in_ns: Option<i64>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[serde(expecting = "a module (a mapping with `name`, `file` and `trigger`)")]
pub(crate) struct RawModule {
    pub name: String,
    pub file: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    pub trigger: RawTrigger,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_channels: Option<RawChannelGroup>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_channels: Option<RawChannelGroup>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<RawResources>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub criticality: Option<Criticality>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<RawRestart>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wasi: Option<RawWasi>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<RawPlacement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover: Option<RawFailover>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sidecar: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
}

/// Failover settings of a replicated module.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[serde(expecting = "failover settings (a mapping)")]
pub(crate) struct RawFailover {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<FailoverPolicy>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coordinator: Option<CoordinatorKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_in_ns: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_in_ns: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_in_ns: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_skew_in_ns: Option<i64>,
}

/// The trigger kinds; serde's "unknown variant" error lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum TriggerType {
    Periodic,
    Event,
    Command,
    Api,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[serde(expecting = "a trigger (a mapping with `type`)")]
pub(crate) struct RawTrigger {
    #[serde(rename = "type")]
    pub kind: TriggerType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_in_ns: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset_in_ns: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[serde(expecting = "a channel group (a mapping with `channels`)")]
pub(crate) struct RawChannelGroup {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    #[serde(default)]
    pub channels: Vec<RawChannel>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[serde(expecting = "a channel (a mapping with `name` and `endpoint`)")]
pub(crate) struct RawChannel {
    pub name: String,
    pub endpoint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_size_in_bytes: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_depth: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[serde(expecting = "a mapping of resource limits")]
pub(crate) struct RawResources {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_in_ns: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_in_ns: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuel: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_overrun: Option<OverrunPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_publish_per_second: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_publish_bytes_per_second: Option<i64>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[serde(expecting = "a restart policy (a mapping)")]
pub(crate) struct RawRestart {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<RestartMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_restarts: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_in_ns: Option<i64>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[serde(expecting = "WASI grants (a mapping)")]
pub(crate) struct RawWasi {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dirs: Vec<RawDir>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[serde(expecting = "a preopened directory (a mapping with `host` and `guest`)")]
pub(crate) struct RawDir {
    pub host: String,
    pub guest: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readonly: Option<bool>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[serde(expecting = "placement constraints (a mapping)")]
pub(crate) struct RawPlacement {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apis: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub anti_affinity: Vec<String>,
}

/// Nanoseconds as written in the manifest; durations that overflow `i64` (292 years) saturate,
/// and validation never produces them.
fn ns(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

impl ApplicationManifest {
    /// The raw form, with every default written out only where it matters for reading back.
    pub(crate) fn to_raw(&self) -> RawApplication {
        RawApplication {
            kind: Some("application".into()),
            name: self.name.to_string(),
            modules: self.modules.iter().map(ModuleSpec::to_raw).collect(),
            chains: (self.chains.iter())
                .map(|c| RawChain {
                    name: c.name.clone(),
                    modules: c.modules.iter().map(|m| m.to_string()).collect(),
                    bound_in_ns: Some(ns(c.bound)),
                })
                .collect(),
            exports: self.exports.iter().map(|e| e.to_string()).collect(),
        }
    }
}

impl ModuleSpec {
    /// Sections equal to their defaults are left out, so the output reads like a manifest a
    /// person would write.
    pub(crate) fn to_raw(&self) -> RawModule {
        RawModule {
            name: self.name.to_string(),
            file: self.file_as_written.clone(),
            sha256: self.sha256.clone(),
            trigger: self.trigger.to_raw(),
            input_channels: group(&self.inputs, true, true),
            output_channels: group(&self.outputs, false, self.outputs_active),
            resources: non_default(&self.resources, resources_raw),
            criticality: non_default(&self.criticality, |c| *c),
            restart: non_default(&self.restart, |r| RawRestart {
                policy: Some(r.policy),
                max_restarts: Some(i64::from(r.max_restarts)),
                backoff_in_ns: Some(ns(r.backoff)),
            }),
            wasi: non_default(&self.wasi, wasi_raw),
            placement: non_default(&self.placement, |p| RawPlacement {
                host: p.host.clone(),
                tags: p.tags.clone(),
                apis: p.apis.clone(),
                anti_affinity: p.anti_affinity.iter().map(|m| m.to_string()).collect(),
            }),
            replicas: (self.replicas != 1).then_some(i64::from(self.replicas)),
            failover: self.failover.as_ref().map(failover_raw),
            sidecar: self.sidecar.then_some(true),
            config: (!self.config.is_empty()).then(|| self.config.clone()),
        }
    }
}

/// `None` for the default value, else `to_raw(value)`.
fn non_default<T: Default + PartialEq, R>(value: &T, to_raw: impl Fn(&T) -> R) -> Option<R> {
    (*value != T::default()).then(|| to_raw(value))
}

fn failover_raw(f: &Failover) -> RawFailover {
    RawFailover {
        policy: Some(f.policy),
        hosts: f.hosts.clone(),
        coordinator: Some(f.coordinator),
        heartbeat_in_ns: Some(ns(f.heartbeat)),
        timeout_in_ns: Some(ns(f.timeout)),
        lease_in_ns: Some(ns(f.lease)),
        clock_skew_in_ns: Some(ns(f.clock_skew)),
    }
}

fn resources_raw(r: &Resources) -> RawResources {
    RawResources {
        memory_bytes: r.memory_bytes.map(|b| b as i64),
        budget_in_ns: r.budget.map(ns),
        deadline_in_ns: r.deadline.map(ns),
        fuel: r.fuel.map(|f| f as i64),
        on_overrun: (r.on_overrun != OverrunPolicy::Continue).then_some(r.on_overrun),
        max_publish_per_second: (r.max_publish_per_second != Resources::DEFAULT_PUBLISH_PER_SECOND).then_some(r.max_publish_per_second as i64),
        max_publish_bytes_per_second: (r.max_publish_bytes_per_second != Resources::DEFAULT_PUBLISH_BYTES_PER_SECOND).then_some(r.max_publish_bytes_per_second as i64),
    }
}

fn wasi_raw(w: &WasiGrants) -> RawWasi {
    let dir = |d: &PreopenDir| RawDir {
        host: d.host_as_written.clone(),
        guest: d.guest.clone(),
        readonly: Some(d.readonly),
    };
    RawWasi {
        args: w.args.clone(),
        env: w.env.clone(),
        dirs: w.dirs.iter().map(dir).collect(),
    }
}

impl Trigger {
    pub(crate) fn to_raw(&self) -> RawTrigger {
        let mut raw = RawTrigger {
            kind: TriggerType::Command,
            period_in_ns: None,
            offset_in_ns: None,
            channel: None,
            api: None,
            source: None,
        };
        match self {
            Trigger::Periodic { period, offset } => {
                raw.kind = TriggerType::Periodic;
                raw.period_in_ns = Some(ns(*period));
                raw.offset_in_ns = (!offset.is_zero()).then(|| ns(*offset));
            }
            Trigger::Event { channel } => {
                raw.kind = TriggerType::Event;
                raw.channel = Some(channel.to_string());
            }
            Trigger::Api { api, source } => {
                raw.kind = TriggerType::Api;
                raw.api = Some(api.clone());
                raw.source = Some(source.clone());
            }
            Trigger::Command => {}
        }
        raw
    }
}

/// Channels are written with their effective `active` flag each where it differs from the
/// group's; an empty, active group is left out.
fn group(channels: &[ChannelSpec], input: bool, active: bool) -> Option<RawChannelGroup> {
    if channels.is_empty() && active {
        return None;
    }
    let channels = channels
        .iter()
        .map(|c| RawChannel {
            active: (c.active != active).then_some(c.active),
            ..c.to_raw(input)
        })
        .collect();
    Some(RawChannelGroup {
        active: (!active).then_some(false),
        channels,
    })
}

impl ChannelSpec {
    pub(crate) fn to_raw(&self, input: bool) -> RawChannel {
        RawChannel {
            name: self.name.to_string(),
            endpoint: self.endpoint.to_string(),
            payload_size_in_bytes: self.payload_size.map(i64::from),
            queue_depth: input.then_some(self.queue_depth as i64),
            active: (!self.active).then_some(false),
        }
    }
}
