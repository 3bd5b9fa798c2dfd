//! Stage two for application manifests: raw structs into the public types, with every rule
//! that serde cannot express (ranges, cross-references, uniqueness).
//!
//! Validators always produce a value and push errors on the side, so one pass reports every
//! problem; the value is thrown away if any error was pushed.

use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::path::Path;
use std::time::Duration;

use super::access::{channels, placement, unique_channels, wasi};
use super::raw::*;
use super::*;
use crate::error::quoted;
use crate::ids::check_name;

const NS: &str = "a positive integer number of nanoseconds";
const GIB4: i64 = 4 << 30;

pub(super) fn application(
    raw: RawApplication,
    base: &Path,
) -> Result<ApplicationManifest, ManifestErrors> {
    let mut errs = Errors::default();
    if let Err(e) = parse::check_kind(raw.kind.as_deref(), "application") {
        errs.add(e);
    }
    name(&mut errs, "name", &raw.name);
    if raw.modules.is_empty() {
        errs.push("modules", "an empty list", "at least one module");
    }
    let names: Vec<&str> = raw.modules.iter().map(|m| m.name.as_str()).collect();
    let named: Vec<(&str, String)> = (names.iter().enumerate())
        .map(|(i, n)| (*n, join(&at("modules", i), "name")))
        .collect();
    unique(&mut errs, &named);
    let modules: Vec<ModuleSpec> = (raw.modules.iter().enumerate())
        .map(|(i, m)| module(&mut errs, &at("modules", i), m, base, &names))
        .collect();
    let chains = chains(&mut errs, &raw.chains, &modules);
    let exports = exports(&mut errs, &raw.exports);
    let app = ApplicationManifest {
        name: AppName::unchecked(raw.name),
        modules,
        chains,
        exports,
        base_dir: base.to_path_buf(),
    };
    errs.finish(app)
}

/// `exports`: topic filters other applications may also use.
fn exports(errs: &mut Errors, raw: &[String]) -> Vec<Endpoint> {
    (raw.iter().enumerate())
        .filter_map(|(i, e)| match crate::ids::check_filter(e) {
            Ok(()) => Some(Endpoint::unchecked(e.clone())),
            Err(expected) => {
                errs.push(&at("exports", i), quoted(e), expected);
                None
            }
        })
        .collect()
}

/// Reports every repeated name at its own path, pointing back at the first use.
pub(super) fn unique(errs: &mut Errors, items: &[(&str, String)]) {
    let mut first: HashMap<&str, &str> = HashMap::new();
    for (name, path) in items {
        match first.get(name) {
            Some(earlier) => errs.push(
                path,
                quoted(name),
                format!("a name not used before (already used at {earlier})"),
            ),
            None => {
                first.insert(name, path);
            }
        }
    }
}

pub(super) fn name(errs: &mut Errors, path: &str, value: &str) {
    if let Err(expected) = check_name(value) {
        errs.push(path, quoted(value), expected);
    }
}

/// `Some(v)` if `v` is in `range`, otherwise an error saying `expected`.
pub(super) fn int_in(
    errs: &mut Errors,
    path: &str,
    v: i64,
    range: RangeInclusive<i64>,
    expected: &str,
) -> Option<i64> {
    if range.contains(&v) {
        Some(v)
    } else {
        errs.push(path, v.to_string(), expected);
        None
    }
}

pub(super) fn nanos(v: i64) -> Duration {
    Duration::from_nanos(v.unsigned_abs())
}

fn module(errs: &mut Errors, p: &str, m: &RawModule, base: &Path, names: &[&str]) -> ModuleSpec {
    name(errs, &join(p, "name"), &m.name);
    file(errs, &join(p, "file"), &m.file);
    if let Some(h) = &m.sha256 {
        sha256(errs, &join(p, "sha256"), h);
    }
    let inputs = channels(
        errs,
        &join(p, "inputChannels"),
        m.input_channels.as_ref(),
        true,
    );
    let outputs = channels(
        errs,
        &join(p, "outputChannels"),
        m.output_channels.as_ref(),
        false,
    );
    unique_channels(errs, p, m);
    let trigger = trigger(errs, &join(p, "trigger"), &m.trigger, &inputs);
    // Limits are checked against the period only when it is valid itself, so that one bad
    // period does not also produce errors for every limit compared with it.
    let min = MIN_PERIOD.as_nanos() as i64;
    let period = match (m.trigger.kind, m.trigger.period_in_ns) {
        (TriggerType::Periodic, Some(v)) if v >= min => Some(nanos(v)),
        _ => None,
    };
    let default = RawResources::default();
    let res = m.resources.as_ref().unwrap_or(&default);
    let replicas = m.replicas.unwrap_or(1);
    let replicas = int_in(
        errs,
        &join(p, "replicas"),
        replicas,
        1..=u32::MAX.into(),
        "at least 1",
    );
    ModuleSpec {
        name: ModuleName::unchecked(m.name.clone()),
        file: base.join(&m.file),
        file_as_written: m.file.clone(),
        sha256: m.sha256.clone(),
        trigger,
        inputs,
        outputs,
        outputs_active: m.output_channels.as_ref().and_then(|g| g.active).unwrap_or(true),
        resources: resources(errs, &join(p, "resources"), res, period),
        criticality: m.criticality.unwrap_or_default(),
        restart: restart(errs, &join(p, "restart"), m.restart.as_ref()),
        wasi: wasi(errs, &join(p, "wasi"), m.wasi.as_ref(), base),
        placement: placement(
            errs,
            &join(p, "placement"),
            m.placement.as_ref(),
            &m.name,
            names,
        ),
        replicas: replicas.unwrap_or(1) as u32,
        failover: failover(errs, p, m, replicas.unwrap_or(1)),
        sidecar: m.sidecar.unwrap_or(false),
        config: m.config.clone().unwrap_or_default(),
    }
}

/// Most replicas a failover coordinator tracks.
const MAX_REPLICAS: i64 = 8;

/// Failover settings: present exactly for replicated modules, defaults filled in, and the lease
/// rule of docs/failover.md checked (a lease must run out before a silent Host is declared lost).
fn failover(errs: &mut Errors, p: &str, m: &RawModule, replicas: i64) -> Option<Failover> {
    let path = join(p, "failover");
    if replicas == 1 {
        if m.failover.is_some() {
            errs.push(&path, "failover settings".to_string(), "no `failover` for a module with 1 replica");
        }
        return None;
    }
    if replicas > MAX_REPLICAS {
        errs.push(&join(p, "replicas"), replicas.to_string(), format!("at most {MAX_REPLICAS} for a replicated module"));
    }
    if m.trigger.kind == TriggerType::Command {
        errs.push(&join(p, "trigger.type"), "\"command\"".to_string(), "a periodic or event trigger for a replicated module");
    }
    let default = RawFailover::default();
    let f = m.failover.as_ref().unwrap_or(&default);
    let time = |errs: &mut Errors, key: &str, v: Option<i64>, d: Duration| {
        let v = v.unwrap_or(d.as_nanos() as i64);
        int_in(errs, &join(&path, key), v, 1..=60_000_000_000, "between 1 ns and 60 s").map(nanos).unwrap_or(d)
    };
    let heartbeat = time(errs, "heartbeatInNs", f.heartbeat_in_ns, DEFAULT_HEARTBEAT);
    let timeout = time(errs, "timeoutInNs", f.timeout_in_ns, DEFAULT_TIMEOUT);
    let lease = time(errs, "leaseInNs", f.lease_in_ns, DEFAULT_LEASE);
    let clock_skew = f.clock_skew_in_ns.map_or(DEFAULT_CLOCK_SKEW, |v| {
        int_in(errs, &join(&path, "clockSkewInNs"), v, 0..=60_000_000_000, "between 0 and 60 s").map_or(DEFAULT_CLOCK_SKEW, nanos)
    });
    if lease + heartbeat >= timeout {
        errs.push(
            &join(&path, "leaseInNs"),
            lease.as_nanos().to_string(),
            format!("less than timeoutInNs - heartbeatInNs ({} ns), so that a lease runs out before its Host is declared lost", timeout.as_nanos().saturating_sub(heartbeat.as_nanos())),
        );
    }
    for (i, h) in f.hosts.iter().enumerate() {
        if f.hosts[..i].contains(h) {
            errs.push(&format!("{path}.hosts[{i}]"), quoted(h), "each Host once");
        }
    }
    Some(Failover {
        policy: f.policy.unwrap_or_default(),
        hosts: f.hosts.clone(),
        coordinator: f.coordinator.unwrap_or_default(),
        heartbeat,
        timeout,
        lease,
        clock_skew,
    })
}

fn file(errs: &mut Errors, path: &str, f: &str) {
    // `Path::extension` is None for a bare ".wasm", which is a hidden file, not a module.
    let ext = Path::new(f).extension().and_then(|e| e.to_str());
    if !matches!(ext, Some("wasm" | "wat")) {
        errs.push(path, quoted(f), "a path to a `.wasm` or `.wat` file");
    }
}

fn sha256(errs: &mut Errors, path: &str, h: &str) {
    let hex = h
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if h.len() != 64 || !hex {
        errs.push(
            path,
            quoted(h),
            "64 lowercase hexadecimal characters (a SHA-256 digest)",
        );
    }
}

fn trigger(errs: &mut Errors, p: &str, t: &RawTrigger, inputs: &[ChannelSpec]) -> Trigger {
    let kind = match t.kind {
        TriggerType::Periodic => "periodic",
        TriggerType::Event => "event",
        TriggerType::Command => "command",
        TriggerType::Api => "api",
    };
    // Each field only makes sense for some trigger types; point at the one that does not.
    let unused = |errs: &mut Errors, key: &str, found: String| {
        errs.push(
            &join(p, key),
            found,
            format!("no `{key}` for a {kind} trigger"),
        );
    };
    if t.kind != TriggerType::Event {
        if let Some(c) = &t.channel {
            unused(errs, "channel", quoted(c));
        }
    }
    if t.kind != TriggerType::Api {
        for (key, v) in [("api", &t.api), ("source", &t.source)] {
            if let Some(v) = v {
                unused(errs, key, quoted(v));
            }
        }
    }
    if t.kind != TriggerType::Periodic {
        for (key, v) in [
            ("periodInNs", t.period_in_ns),
            ("offsetInNs", t.offset_in_ns),
        ] {
            if let Some(v) = v {
                unused(errs, key, v.to_string());
            }
        }
    }
    match t.kind {
        TriggerType::Periodic => periodic(errs, p, t),
        TriggerType::Event => event(errs, p, t.channel.as_deref(), inputs),
        TriggerType::Command => Trigger::Command,
        TriggerType::Api => api_trigger(errs, p, t),
    }
}

fn api_trigger(errs: &mut Errors, p: &str, t: &RawTrigger) -> Trigger {
    let api = t.api.clone().unwrap_or_default();
    if !crate::ids::is_api_name(&api) {
        let found = t.api.as_deref().map_or("nothing".to_string(), quoted);
        errs.push(&join(p, "api"), found, "the name of a system API (`namespace:name`, e.g. \"sl:vss\")");
    }
    let source = t.source.clone().unwrap_or_default();
    if source.trim().is_empty() {
        let found = t.source.as_deref().map_or("nothing".to_string(), quoted);
        errs.push(&join(p, "source"), found, "what the API watches (e.g. a VSS signal path)");
    }
    Trigger::Api { api, source }
}

fn periodic(errs: &mut Errors, p: &str, t: &RawTrigger) -> Trigger {
    let min = MIN_PERIOD.as_nanos() as i64;
    let expected = format!("{NS}, at least {min} (10 µs)");
    let period = match t.period_in_ns {
        Some(v) => int_in(errs, &join(p, "periodInNs"), v, min..=i64::MAX, &expected),
        None => {
            errs.push(&join(p, "periodInNs"), "nothing", expected);
            None
        }
    };
    let offset = t.offset_in_ns.unwrap_or(0);
    if let Some(period) = period {
        let expected =
            format!("an offset in nanoseconds from 0 to less than the period ({period})");
        int_in(
            errs,
            &join(p, "offsetInNs"),
            offset,
            0..=period - 1,
            &expected,
        );
    }
    Trigger::Periodic {
        period: nanos(period.unwrap_or(min)),
        offset: nanos(offset),
    }
}

fn event(errs: &mut Errors, p: &str, channel: Option<&str>, inputs: &[ChannelSpec]) -> Trigger {
    let names: Vec<String> = inputs.iter().map(|c| format!("`{}`", c.name)).collect();
    let expected = if names.is_empty() {
        "the name of one of this module's input channels (it has none)".to_string()
    } else {
        format!(
            "the name of one of this module's input channels ({})",
            names.join(", ")
        )
    };
    match channel {
        Some(c) if inputs.iter().any(|i| i.name == c) => {}
        Some(c) => errs.push(&join(p, "channel"), quoted(c), expected),
        None => errs.push(&join(p, "channel"), "nothing", expected),
    }
    Trigger::Event {
        channel: ChannelName::unchecked(channel.unwrap_or_default().to_string()),
    }
}

fn resources(errs: &mut Errors, p: &str, r: &RawResources, period: Option<Duration>) -> Resources {
    let memory = r.memory_bytes.and_then(|m| {
        let expected = "a memory limit from 65536 bytes (one Wasm page) to 4294967296 (4 GiB)";
        int_in(errs, &join(p, "memoryBytes"), m, 65536..=GIB4, expected)
    });
    let period_ns = period.map_or(i64::MAX, |d| d.as_nanos() as i64);
    let deadline = r.deadline_in_ns.and_then(|d| {
        let expected = match period {
            Some(_) => format!("{NS}, at most the period ({period_ns})"),
            None => NS.to_string(),
        };
        int_in(errs, &join(p, "deadlineInNs"), d, 1..=period_ns, &expected)
    });
    let budget = r.budget_in_ns.and_then(|b| {
        let max = deadline.unwrap_or(i64::MAX).min(period_ns);
        let expected = match (deadline, period) {
            (Some(d), _) => format!("{NS}, at most the deadline ({d})"),
            (None, Some(_)) => format!("{NS}, at most the period ({period_ns})"),
            (None, None) => NS.to_string(),
        };
        int_in(errs, &join(p, "budgetInNs"), b, 1..=max, &expected)
    });
    if r.on_overrun.is_some_and(|o| o != OverrunPolicy::Continue) && period.is_none() {
        let found = serde_json::to_value(r.on_overrun).ok().and_then(|v| v.as_str().map(quoted)).unwrap_or_default();
        errs.push(&join(p, "onOverrun"), found, "`continue` for a module without a (valid) periodic trigger: overruns are counted against its period");
    }
    let fuel = r.fuel.and_then(|f| {
        int_in(
            errs,
            &join(p, "fuel"),
            f,
            1..=i64::MAX,
            "a positive amount of fuel",
        )
    });
    let max_publish_per_second = r
        .max_publish_per_second
        .and_then(|v| int_in(errs, &join(p, "maxPublishPerSecond"), v, 1..=10_000_000, "messages per second, 1 to 10000000"))
        .map_or(Resources::DEFAULT_PUBLISH_PER_SECOND, |v| v as u64);
    let max_publish_bytes_per_second = r
        .max_publish_bytes_per_second
        .and_then(|v| {
            let expected = "bytes per second, from 1048576 (one message of the largest size) to 1099511627776";
            int_in(errs, &join(p, "maxPublishBytesPerSecond"), v, 1 << 20..=1 << 40, expected)
        })
        .map_or(Resources::DEFAULT_PUBLISH_BYTES_PER_SECOND, |v| v as u64);
    Resources {
        memory_bytes: memory.map(|m| m as u64),
        budget: budget.map(nanos),
        deadline: deadline.map(nanos),
        fuel: fuel.map(|f| f as u64),
        on_overrun: r.on_overrun.unwrap_or_default(),
        max_publish_per_second,
        max_publish_bytes_per_second,
    }
}

fn restart(errs: &mut Errors, p: &str, r: Option<&RawRestart>) -> RestartPolicy {
    let mut policy = RestartPolicy::default();
    let Some(r) = r else { return policy };
    policy.policy = r.policy.unwrap_or_default();
    if let Some(n) = r.max_restarts {
        let range = 0..=i64::from(u32::MAX);
        if let Some(n) = int_in(
            errs,
            &join(p, "maxRestarts"),
            n,
            range,
            "a non-negative integer",
        ) {
            policy.max_restarts = n as u32;
        }
    }
    if let Some(b) = r.backoff_in_ns {
        let expected = "a non-negative integer number of nanoseconds";
        if let Some(b) = int_in(errs, &join(p, "backoffInNs"), b, 0..=i64::MAX, expected) {
            policy.backoff = nanos(b);
        }
    }
    policy
}

/// `chains`: names unique, at least two known modules each, consecutive modules connected by a
/// channel, a positive bound.
fn chains(errs: &mut Errors, raw: &[RawChain], modules: &[ModuleSpec]) -> Vec<Chain> {
    let named: Vec<(&str, String)> = (raw.iter().enumerate())
        .map(|(i, c)| (c.name.as_str(), join(&at("chains", i), "name")))
        .collect();
    unique(errs, &named);
    let known: Vec<String> = modules.iter().map(|m| format!("`{}`", m.name)).collect();
    let mut out = Vec::new();
    for (i, c) in raw.iter().enumerate() {
        let p = at("chains", i);
        name(errs, &join(&p, "name"), &c.name);
        let mp = join(&p, "modules");
        if c.modules.len() < 2 {
            let found = format!("a list of {} module(s)", c.modules.len());
            errs.push(
                &mp,
                found,
                "at least two modules of this application, in data-flow order",
            );
        }
        let specs: Vec<Option<&ModuleSpec>> = (c.modules.iter().enumerate())
            .map(|(k, m)| {
                let spec = modules.iter().find(|s| s.name == m.as_str());
                if spec.is_none() {
                    let expected = format!(
                        "the name of a module of this application ({})",
                        known.join(", ")
                    );
                    errs.push(&at(&mp, k), quoted(m), expected);
                }
                spec
            })
            .collect();
        for (k, pair) in specs.windows(2).enumerate() {
            let (Some(a), Some(b)) = (pair[0], pair[1]) else {
                continue;
            };
            if a.feeds(b).is_none() {
                let outs: Vec<&str> = a.outputs.iter().map(|o| o.endpoint.as_str()).collect();
                let expected = format!(
                    "a module that reads what `{}` writes (an input endpoint matching one of its outputs: {})",
                    a.name,
                    if outs.is_empty() { "it has none".to_string() } else { outs.join(", ") }
                );
                errs.push(&at(&mp, k + 1), quoted(b.name.as_str()), expected);
            }
        }
        let bp = join(&p, "boundInNs");
        let bound = match c.bound_in_ns {
            Some(b) => int_in(errs, &bp, b, 1..=i64::MAX, NS),
            None => {
                errs.push(&bp, "nothing", NS);
                None
            }
        };
        out.push(Chain {
            name: c.name.clone(),
            modules: c
                .modules
                .iter()
                .map(|m| ModuleName::unchecked(m.clone()))
                .collect(),
            bound: nanos(bound.unwrap_or(1)),
        });
    }
    out
}
