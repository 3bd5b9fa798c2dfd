//! Stage two for application manifests: raw structs into the public types, with every rule
//! that serde cannot express (ranges, cross-references, uniqueness).
//!
//! Validators always produce a value and push errors on the side, so one pass reports every
//! problem; the value is thrown away if any error was pushed.

use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::path::Path;
use std::time::Duration;

use super::raw::*;
use super::*;
use crate::error::quoted;
use crate::ids::{check_api, check_filter, check_name, check_topic};

const NS: &str = "a positive integer number of nanoseconds";
const GIB4: i64 = 4 << 30;
const MIB: i64 = 1 << 20;

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
    let named: Vec<(&str, String)> =
        (names.iter().enumerate()).map(|(i, n)| (*n, join(&at("modules", i), "name"))).collect();
    unique(&mut errs, &named);
    let modules = (raw.modules.iter().enumerate())
        .map(|(i, m)| module(&mut errs, &at("modules", i), m, base, &names))
        .collect();
    let app = ApplicationManifest {
        name: AppName::unchecked(raw.name),
        modules,
        base_dir: base.to_path_buf(),
    };
    errs.finish(app)
}

/// Reports every repeated name at its own path, pointing back at the first use.
fn unique(errs: &mut Errors, items: &[(&str, String)]) {
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

fn name(errs: &mut Errors, path: &str, value: &str) {
    if let Err(expected) = check_name(value) {
        errs.push(path, quoted(value), expected);
    }
}

/// `Some(v)` if `v` is in `range`, otherwise an error saying `expected`.
fn int_in(
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

fn nanos(v: i64) -> Duration {
    Duration::from_nanos(v.unsigned_abs())
}

fn module(errs: &mut Errors, p: &str, m: &RawModule, base: &Path, names: &[&str]) -> ModuleSpec {
    name(errs, &join(p, "name"), &m.name);
    file(errs, &join(p, "file"), &m.file);
    if let Some(h) = &m.sha256 {
        sha256(errs, &join(p, "sha256"), h);
    }
    let inputs = channels(errs, &join(p, "inputChannels"), m.input_channels.as_ref(), true);
    let outputs = channels(errs, &join(p, "outputChannels"), m.output_channels.as_ref(), false);
    unique_channels(errs, p, m);
    let trigger = trigger(errs, &join(p, "trigger"), &m.trigger, &inputs);
    let period = match &trigger {
        Trigger::Periodic { period, .. } => Some(*period),
        _ => None,
    };
    let default = RawResources::default();
    let res = m.resources.as_ref().unwrap_or(&default);
    let replicas = m.replicas.unwrap_or(1);
    let replicas = int_in(errs, &join(p, "replicas"), replicas, 1..=u32::MAX.into(), "at least 1");
    ModuleSpec {
        name: ModuleName::unchecked(m.name.clone()),
        file: base.join(&m.file),
        file_as_written: m.file.clone(),
        sha256: m.sha256.clone(),
        trigger,
        inputs,
        outputs,
        resources: resources(errs, &join(p, "resources"), res, period),
        criticality: m.criticality.unwrap_or_default(),
        restart: restart(errs, &join(p, "restart"), m.restart.as_ref()),
        wasi: wasi(errs, &join(p, "wasi"), m.wasi.as_ref(), base),
        placement: placement(errs, &join(p, "placement"), m.placement.as_ref(), &m.name, names),
        replicas: replicas.unwrap_or(1) as u32,
    }
}

fn file(errs: &mut Errors, path: &str, f: &str) {
    // `Path::extension` is None for a bare ".wasm", which is a hidden file, not a module.
    let ext = Path::new(f).extension().and_then(|e| e.to_str());
    if !matches!(ext, Some("wasm" | "wat")) {
        errs.push(path, quoted(f), "a path to a `.wasm` or `.wat` file");
    }
}

fn sha256(errs: &mut Errors, path: &str, h: &str) {
    let hex = h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if h.len() != 64 || !hex {
        errs.push(path, quoted(h), "64 lowercase hexadecimal characters (a SHA-256 digest)");
    }
}

fn channels(
    errs: &mut Errors,
    p: &str,
    group: Option<&RawChannelGroup>,
    input: bool,
) -> Vec<ChannelSpec> {
    let Some(group) = group else { return Vec::new() };
    let group_active = group.active.unwrap_or(true);
    let p = join(p, "channels");
    (group.channels.iter().enumerate())
        .map(|(i, c)| channel(errs, &at(&p, i), c, input, group_active))
        .collect()
}

fn channel(errs: &mut Errors, p: &str, c: &RawChannel, input: bool, active: bool) -> ChannelSpec {
    name(errs, &join(p, "name"), &c.name);
    let rule = if input { check_filter(&c.endpoint) } else { check_topic(&c.endpoint) };
    if let Err(expected) = rule {
        errs.push(&join(p, "endpoint"), quoted(&c.endpoint), expected);
    }
    let size = c.payload_size_in_bytes.and_then(|s| {
        int_in(errs, &join(p, "payloadSizeInBytes"), s, 1..=MIB, "a size from 1 to 1048576 bytes (1 MiB)")
    });
    let depth = match (c.queue_depth, input) {
        (None, _) => None,
        (Some(d), true) => {
            int_in(errs, &join(p, "queueDepth"), d, 1..=65536, "a queue depth from 1 to 65536")
        }
        (Some(d), false) => {
            let expected = "no `queueDepth` on an output channel (only inputs queue messages)";
            errs.push(&join(p, "queueDepth"), d.to_string(), expected);
            None
        }
    };
    ChannelSpec {
        name: ChannelName::unchecked(c.name.clone()),
        endpoint: Endpoint::unchecked(c.endpoint.clone()),
        payload_size: size.map(|s| s as u32),
        queue_depth: depth.map_or(DEFAULT_QUEUE_DEPTH, |d| d as usize),
        active: c.active.unwrap_or(active),
    }
}

/// Channel names are unique per module across inputs and outputs, because a module opens a
/// channel by name alone.
fn unique_channels(errs: &mut Errors, p: &str, m: &RawModule) {
    let mut all: Vec<(&str, String)> = Vec::new();
    let groups = [("inputChannels", &m.input_channels), ("outputChannels", &m.output_channels)];
    for (key, group) in groups {
        for (i, c) in group.iter().flat_map(|g| g.channels.iter()).enumerate() {
            all.push((&c.name, format!("{p}.{key}.channels[{i}].name")));
        }
    }
    unique(errs, &all);
}

fn trigger(errs: &mut Errors, p: &str, t: &RawTrigger, inputs: &[ChannelSpec]) -> Trigger {
    let kind = match t.kind {
        TriggerType::Periodic => "periodic",
        TriggerType::Event => "event",
        TriggerType::Command => "command",
    };
    // Each field only makes sense for some trigger types; point at the one that does not.
    let unused = |errs: &mut Errors, key: &str, found: String| {
        errs.push(&join(p, key), found, format!("no `{key}` for a {kind} trigger"));
    };
    if t.kind != TriggerType::Event {
        if let Some(c) = &t.channel {
            unused(errs, "channel", quoted(c));
        }
    }
    if t.kind != TriggerType::Periodic {
        for (key, v) in [("periodInNs", t.period_in_ns), ("offsetInNs", t.offset_in_ns)] {
            if let Some(v) = v {
                unused(errs, key, v.to_string());
            }
        }
    }
    match t.kind {
        TriggerType::Periodic => periodic(errs, p, t),
        TriggerType::Event => event(errs, p, t.channel.as_deref(), inputs),
        TriggerType::Command => Trigger::Command,
    }
}

fn periodic(errs: &mut Errors, p: &str, t: &RawTrigger) -> Trigger {
    let min = MIN_PERIOD.as_nanos() as i64;
    let expected = format!("{NS}, at least {min} (10 µs)");
    let period = match t.period_in_ns {
        Some(v) => int_in(errs, &join(p, "periodInNs"), v, min..=i64::MAX, &expected),
        None => {
            errs.push(&join(p, "periodInNs"), "nothing (the field is missing)", expected);
            None
        }
    };
    let offset = t.offset_in_ns.unwrap_or(0);
    if let Some(period) = period {
        let expected = format!("an offset in nanoseconds from 0 to less than the period ({period})");
        int_in(errs, &join(p, "offsetInNs"), offset, 0..=period - 1, &expected);
    }
    Trigger::Periodic { period: nanos(period.unwrap_or(min)), offset: nanos(offset) }
}

fn event(errs: &mut Errors, p: &str, channel: Option<&str>, inputs: &[ChannelSpec]) -> Trigger {
    let names: Vec<String> = inputs.iter().map(|c| format!("`{}`", c.name)).collect();
    let expected = if names.is_empty() {
        "the name of one of this module's input channels (it has none)".to_string()
    } else {
        format!("the name of one of this module's input channels ({})", names.join(", "))
    };
    match channel {
        Some(c) if inputs.iter().any(|i| i.name == c) => {}
        Some(c) => errs.push(&join(p, "channel"), quoted(c), expected),
        None => errs.push(&join(p, "channel"), "nothing (the field is missing)", expected),
    }
    Trigger::Event { channel: ChannelName::unchecked(channel.unwrap_or_default().to_string()) }
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
    let fuel = r.fuel.and_then(|f| int_in(errs, &join(p, "fuel"), f, 1..=i64::MAX, "a positive amount of fuel"));
    Resources {
        memory_bytes: memory.map(|m| m as u64),
        budget: budget.map(nanos),
        deadline: deadline.map(nanos),
        fuel: fuel.map(|f| f as u64),
    }
}

fn restart(errs: &mut Errors, p: &str, r: Option<&RawRestart>) -> RestartPolicy {
    let mut policy = RestartPolicy::default();
    let Some(r) = r else { return policy };
    policy.policy = r.policy.unwrap_or_default();
    if let Some(n) = r.max_restarts {
        let range = 0..=i64::from(u32::MAX);
        if let Some(n) = int_in(errs, &join(p, "maxRestarts"), n, range, "a non-negative integer") {
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

fn wasi(errs: &mut Errors, p: &str, w: Option<&RawWasi>, base: &Path) -> WasiGrants {
    let Some(w) = w else { return WasiGrants::default() };
    for (i, a) in w.args.iter().enumerate() {
        if a.contains('\0') {
            errs.push(&at(&join(p, "args"), i), quoted(a), "an argument without NUL characters");
        }
    }
    for (k, v) in &w.env {
        if k.is_empty() || k.contains(['=', '\0']) || v.contains('\0') {
            let expected = "a non-empty variable name without `=` or NUL, and a value without NUL";
            errs.push(&format!("{p}.env.{k}"), format!("{k:?}: {v:?}"), expected);
        }
    }
    let dirs = (w.dirs.iter().enumerate())
        .map(|(i, d)| preopen(errs, &at(&join(p, "dirs"), i), d, base))
        .collect();
    WasiGrants { args: w.args.clone(), env: w.env.clone(), dirs }
}

fn preopen(errs: &mut Errors, p: &str, d: &RawDir, base: &Path) -> PreopenDir {
    for (key, v) in [("host", &d.host), ("guest", &d.guest)] {
        if v.is_empty() || v.contains('\0') {
            errs.push(&join(p, key), quoted(v), "a non-empty directory path");
        }
    }
    PreopenDir {
        host: base.join(&d.host),
        host_as_written: d.host.clone(),
        guest: d.guest.clone(),
        readonly: d.readonly.unwrap_or(true),
    }
}

fn placement(
    errs: &mut Errors,
    p: &str,
    pl: Option<&RawPlacement>,
    own: &str,
    names: &[&str],
) -> Placement {
    let Some(pl) = pl else { return Placement::default() };
    if pl.host.as_deref().is_some_and(|h| h.trim().is_empty()) {
        errs.push(&join(p, "host"), quoted(""), "a non-empty host name");
    }
    for (i, t) in pl.tags.iter().enumerate() {
        if t.trim().is_empty() {
            errs.push(&at(&join(p, "tags"), i), quoted(t), "a non-empty tag");
        }
    }
    for (i, a) in pl.apis.iter().enumerate() {
        if let Err(expected) = check_api(a) {
            errs.push(&at(&join(p, "apis"), i), quoted(a), expected);
        }
    }
    for (i, other) in pl.anti_affinity.iter().enumerate() {
        let path = at(&join(p, "antiAffinity"), i);
        if other == own {
            errs.push(&path, quoted(other), "the name of another module (not this one)");
        } else if !names.contains(&other.as_str()) {
            errs.push(&path, quoted(other), "the name of a module of this application");
        }
    }
    Placement {
        host: pl.host.clone(),
        tags: pl.tags.clone(),
        apis: pl.apis.clone(),
        anti_affinity: pl.anti_affinity.iter().map(|n| ModuleName::unchecked(n.clone())).collect(),
    }
}
