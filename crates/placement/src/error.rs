//! Why a placement failed: per unplaced module replica, per Host, the constraint that said no.

use std::fmt;

use serde::{Deserialize, Serialize};

/// No placement was found. Lists the module replicas that could not be placed in the deepest
/// attempt, each with the reason every Host refused it.
///
/// Display: one line per replica (plus one counting those beyond
/// [`PlacementError::MAX_EXPLAINED`]),
/// `app/module (replica r): no host fits: edge-1: memory (needs 64 MiB, 12 MiB free); ...`;
/// with more than [`LIST_HOSTS_UP_TO`] hosts the reasons are grouped, e.g.
/// `memory on 997 hosts (e.g. h1: needs 64 MiB, 12 MiB free; ...)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{}", render_lines(.unplaced, *.more_unplaced))]
pub struct PlacementError {
    /// The replicas that found no Host, at most [`PlacementError::MAX_EXPLAINED`].
    pub unplaced: Vec<Unplaced>,
    /// How many more replicas found no Host but are not explained, to bound the size of the
    /// error (each explanation has one reason per Host).
    #[serde(default)]
    pub more_unplaced: usize,
}

impl PlacementError {
    /// At most this many unplaced replicas are explained; the rest are counted.
    pub const MAX_EXPLAINED: usize = 100;
}

/// One module replica that found no Host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unplaced {
    /// Application name.
    pub app: String,
    /// Module name.
    pub module: String,
    /// Replica index; 0 is the primary.
    pub replica: u32,
    /// For every Host given, in the order given: why it refused.
    pub reasons: Vec<(String, Rejection)>,
}

/// Why one Host refused one module replica. When several constraints fail, one is reported:
/// static ones (offline, pin, APIs, tags, an affinity partner's) first, then those that hold
/// with nothing else of the request placed, then conflicts with the rest of the request; within
/// each, in the order of these variants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Rejection {
    /// The Host is offline.
    Offline,
    /// The module is pinned to another Host (named).
    PinnedElsewhere(String),
    /// The Host lacks this API.
    MissingApi(String),
    /// The Host lacks this tag.
    MissingTag(String),
    /// Another replica of the same module is already there.
    ReplicaOnSameHost,
    /// A module it must not share a Host with (named) is there, deployed or newly placed.
    AntiAffinity(String),
    /// It must share a Host with this module, which is elsewhere or cannot be here.
    Affinity(String),
    /// Not enough memory. `needed` includes affinity partners that must come along.
    Memory {
        /// Bytes needed.
        needed: u64,
        /// Bytes free.
        free: u64,
    },
    /// Every module slot of the Host (its instance pool) is taken.
    Slots {
        /// The Host's module slots.
        slots: u32,
    },
    /// Not enough utilization left under the admission bound.
    Utilization {
        /// Utilization needed (budget/period).
        needed: f64,
        /// Utilization free.
        free: f64,
    },
    /// Under the Host's fixed-priority scheduler, no partitioning of its real-time tasks onto
    /// its cores lets every task meet its deadline with this module added.
    ResponseTime {
        /// The task that would miss (`app/module`; the newcomer or one already running).
        task: String,
        /// Its response time where it came closest (a lower bound when past the deadline).
        response_ns: u64,
        /// Its deadline.
        deadline_ns: u64,
    },
    /// The Host could take the module on its own, but the search ran out of its backtracking
    /// budget before finding a way to fit it together with the rest of the request.
    SearchExhausted,
}

/// Up to this many Hosts, every Host's reason is listed; above, reasons are grouped.
pub const LIST_HOSTS_UP_TO: usize = 6;
/// Grouped reasons name at most this many example Hosts each...
const NAMES: usize = 5;
/// ...or this many when each comes with numbers, to keep the line readable.
const DETAILS: usize = 3;

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::Memory { .. } | Rejection::Slots { .. } | Rejection::Utilization { .. } | Rejection::ResponseTime { .. } => {
                write!(f, "{} ({})", self.kind(), self.detail())
            }
            _ => f.write_str(&self.kind()),
        }
    }
}

impl Rejection {
    /// The reason without numbers: identical kinds are grouped in summaries.
    fn kind(&self) -> String {
        match self {
            Rejection::Offline => "offline".into(),
            Rejection::PinnedElsewhere(h) => format!("pinned to {h}"),
            Rejection::MissingApi(a) => format!("missing API {a}"),
            Rejection::MissingTag(t) => format!("missing tag {t}"),
            Rejection::ReplicaOnSameHost => "another replica already there".into(),
            Rejection::AntiAffinity(m) => format!("anti-affinity with {m}"),
            Rejection::Affinity(m) => format!("affinity with {m}"),
            Rejection::Memory { .. } => "memory".into(),
            Rejection::Slots { .. } => "module slots".into(),
            Rejection::Utilization { .. } => "utilization".into(),
            Rejection::ResponseTime { .. } => "response time".into(),
            Rejection::SearchExhausted => "fits alone, not with the rest (search exhausted)".into(),
        }
    }

    /// The numbers of a resource rejection, empty for the others.
    fn detail(&self) -> String {
        match self {
            Rejection::Memory { needed, free } => {
                format!("needs {}, {} free", bytes(*needed), bytes(*free))
            }
            Rejection::Slots { slots } => format!("all {slots} in use"),
            Rejection::Utilization { needed, free } => {
                format!("needs {}, {} free", ratio(*needed), ratio(*free))
            }
            Rejection::ResponseTime { task, response_ns, deadline_ns } => {
                let ms = |ns: u64| ns as f64 / 1e6;
                format!("{task} would respond in {:.3} ms or more, deadline {:.3} ms, on every core", ms(*response_ns), ms(*deadline_ns))
            }
            _ => String::new(),
        }
    }
}

impl fmt::Display for Unplaced {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} (replica {}): no host fits: ",
            self.app, self.module, self.replica
        )?;
        if self.reasons.is_empty() {
            f.write_str("no hosts")
        } else if self.reasons.len() <= LIST_HOSTS_UP_TO {
            let each: Vec<String> = self
                .reasons
                .iter()
                .map(|(h, r)| format!("{h}: {r}"))
                .collect();
            f.write_str(&each.join("; "))
        } else {
            f.write_str(&grouped(&self.reasons))
        }
    }
}

fn render_lines(unplaced: &[Unplaced], more: usize) -> String {
    let mut lines: Vec<String> = unplaced.iter().map(ToString::to_string).collect();
    if more > 0 {
        lines.push(format!("... and {more} more module replicas found no host"));
    }
    if lines.is_empty() {
        return "placement failed".into();
    }
    lines.join("\n")
}

/// `memory on 997 hosts (e.g. h1: needs ..; h2: ..); missing API sl:vss on 3 hosts (h4, h5, h6)`,
/// most frequent first so the dominant cause leads.
fn grouped(reasons: &[(String, Rejection)]) -> String {
    let mut groups: Vec<(String, Vec<&(String, Rejection)>)> = Vec::new();
    for entry in reasons {
        let kind = entry.1.kind();
        match groups.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, members)) => members.push(entry),
            None => groups.push((kind, vec![entry])),
        }
    }
    // Stable sort: equal counts keep the order of first appearance.
    groups.sort_by_key(|(_, members)| std::cmp::Reverse(members.len()));
    let parts: Vec<String> = groups
        .iter()
        .map(|(kind, members)| group(kind, members))
        .collect();
    parts.join("; ")
}

fn group(kind: &str, members: &[&(String, Rejection)]) -> String {
    if members.len() == 1 {
        let (host, reason) = members[0];
        return format!("{host}: {reason}");
    }
    if members[0].1.detail().is_empty() {
        let names: Vec<&str> = members
            .iter()
            .take(NAMES)
            .map(|(h, _)| h.as_str())
            .collect();
        let more = if members.len() > NAMES { ", ..." } else { "" };
        format!(
            "{kind} on {} hosts ({}{more})",
            members.len(),
            names.join(", ")
        )
    } else {
        let examples: Vec<String> = members
            .iter()
            .take(DETAILS)
            .map(|(h, r)| format!("{h}: {}", r.detail()))
            .collect();
        let more = if members.len() > DETAILS { "; ..." } else { "" };
        format!(
            "{kind} on {} hosts (e.g. {}{more})",
            members.len(),
            examples.join("; ")
        )
    }
}

/// Bytes in the largest binary unit that keeps at least 1, with one decimal when not whole.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value.fract() == 0.0 {
        format!("{value} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Utilization with at most 4 decimals and no trailing zeros: 0.05, 0.6875, 2.
fn ratio(x: f64) -> String {
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(bytes(64 << 20), "64 MiB");
        assert_eq!(bytes(12 * 1024 * 1024 + 512 * 1024), "12.5 MiB");
        assert_eq!(bytes(0), "0 B");
        assert_eq!(ratio(0.05), "0.05");
        assert_eq!(ratio(2.0), "2");
    }
}
