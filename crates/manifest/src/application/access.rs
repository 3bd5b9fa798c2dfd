//! Validation of what a module may touch: its channels, its WASI grants and where it may be
//! placed. Split from `validate.rs` only to keep files short; same conventions.

use std::path::Path;

use super::raw::*;
use super::validate::{int_in, name, unique};
use super::*;
use crate::error::quoted;
use crate::ids::{check_api, check_filter, check_topic};

const MIB: i64 = 1 << 20;

pub(super) fn channels(
    errs: &mut Errors,
    p: &str,
    group: Option<&RawChannelGroup>,
    input: bool,
) -> Vec<ChannelSpec> {
    let Some(group) = group else {
        return Vec::new();
    };
    let group_active = group.active.unwrap_or(true);
    let p = join(p, "channels");
    (group.channels.iter().enumerate())
        .map(|(i, c)| channel(errs, &at(&p, i), c, input, group_active))
        .collect()
}

fn channel(errs: &mut Errors, p: &str, c: &RawChannel, input: bool, active: bool) -> ChannelSpec {
    name(errs, &join(p, "name"), &c.name);
    let rule = if input {
        check_filter(&c.endpoint)
    } else {
        check_topic(&c.endpoint)
    };
    if let Err(expected) = rule {
        errs.push(&join(p, "endpoint"), quoted(&c.endpoint), expected);
    }
    let size = c.payload_size_in_bytes.and_then(|s| {
        int_in(
            errs,
            &join(p, "payloadSizeInBytes"),
            s,
            1..=MIB,
            "a size from 1 to 1048576 bytes (1 MiB)",
        )
    });
    let depth = match (c.queue_depth, input) {
        (None, _) => None,
        (Some(d), true) => int_in(
            errs,
            &join(p, "queueDepth"),
            d,
            1..=65536,
            "a queue depth from 1 to 65536",
        ),
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
pub(super) fn unique_channels(errs: &mut Errors, p: &str, m: &RawModule) {
    let mut all: Vec<(&str, String)> = Vec::new();
    let groups = [
        ("inputChannels", &m.input_channels),
        ("outputChannels", &m.output_channels),
    ];
    for (key, group) in groups {
        for (i, c) in group.iter().flat_map(|g| g.channels.iter()).enumerate() {
            all.push((&c.name, format!("{p}.{key}.channels[{i}].name")));
        }
    }
    unique(errs, &all);
}

pub(super) fn wasi(errs: &mut Errors, p: &str, w: Option<&RawWasi>, base: &Path) -> WasiGrants {
    let Some(w) = w else {
        return WasiGrants::default();
    };
    for (i, a) in w.args.iter().enumerate() {
        if a.contains('\0') {
            errs.push(
                &at(&join(p, "args"), i),
                quoted(a),
                "an argument without NUL characters",
            );
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
    WasiGrants {
        args: w.args.clone(),
        env: w.env.clone(),
        dirs,
    }
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

pub(super) fn placement(
    errs: &mut Errors,
    p: &str,
    pl: Option<&RawPlacement>,
    own: &str,
    names: &[&str],
) -> Placement {
    let Some(pl) = pl else {
        return Placement::default();
    };
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
            errs.push(
                &path,
                quoted(other),
                "the name of another module (not this one)",
            );
        } else if !names.contains(&other.as_str()) {
            errs.push(
                &path,
                quoted(other),
                "the name of a module of this application",
            );
        }
    }
    Placement {
        host: pl.host.clone(),
        tags: pl.tags.clone(),
        apis: pl.apis.clone(),
        anti_affinity: pl
            .anti_affinity
            .iter()
            .map(|n| ModuleName::unchecked(n.clone()))
            .collect(),
    }
}
