//! End-to-end latency of chains of modules: a compositional worst-case bound
//! given where each module runs. The model is documented in `docs/timing.md`; in short, the
//! bound of a chain is the sum of
//!
//! * per module: its worst-case response time R (`deadlineInNs`, else `budgetInNs`, else the
//!   period of a periodic module; unknown for an event-triggered one, which makes the chain
//!   unboundable) and, for a periodic module, a sampling delay of one period;
//! * per hop between consecutive modules: 0 on the same Host (loopback); else the topology
//!   link's latency plus payload / bandwidth between the two Hosts' platforms, or
//!   [`DEFAULT_LINK_LATENCY`] when the topology has no such link.
//!
//! Pure functions: no locks, no I/O.

use crate::core::HostEntry;
use crate::model::{AppRecord, ChainView, Role};
use serde::Serialize;
use silverline_manifest::{ApplicationManifest, Chain, ModuleSpec, TopologyManifest, Trigger};
use std::collections::BTreeMap;
use std::time::Duration;

/// Payload assumed for a channel that declares no `payloadSizeInBytes`.
pub const DEFAULT_PAYLOAD_BYTES: u64 = 64;
/// Latency assumed for a hop between two Hosts whose platforms have no link in the topology
/// (or when the Orchestrator has no topology at all).
pub const DEFAULT_LINK_LATENCY: Duration = Duration::from_millis(1);

/// Where a module runs: its Host and that Host's platform id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// Host name.
    pub host: String,
    /// Platform id (host manifest `metadata.platformId`, else platform manifest `id`, else the
    /// host name).
    pub platform: String,
}

/// The computed bound of one chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainBound {
    /// Chain name.
    pub name: String,
    /// The worst-case end-to-end latency.
    pub computed: Duration,
    /// The bound the manifest declares.
    pub bound: Duration,
    /// How `computed` adds up, one human-readable term each.
    pub terms: Vec<String>,
}

impl ChainBound {
    /// Does the computed bound stay within the declared one?
    pub fn holds(&self) -> bool {
        self.computed <= self.bound
    }
}

/// The worst-case end-to-end latency of `chain` of `app`, with module `m` running at
/// `site(m)`. Errors name the module whose response time is unknown or which has no Host.
pub fn chain_bound(
    app: &ApplicationManifest,
    chain: &Chain,
    site: &dyn Fn(&str) -> Option<Site>,
    topology: Option<&TopologyManifest>,
) -> Result<ChainBound, String> {
    let mut total = Duration::ZERO;
    let mut terms = Vec::new();
    let mut prev: Option<(&ModuleSpec, Site)> = None;
    for name in &chain.modules {
        let spec = app.module(name.as_str()).ok_or_else(|| format!("chain `{}`: no module `{name}`", chain.name))?;
        let here = site(name.as_str()).ok_or_else(|| format!("chain `{}`: module `{name}` has no Host yet", chain.name))?;
        if let Some((from, there)) = &prev {
            let (cost, term) = hop(from, spec, there, &here, topology);
            total += cost;
            terms.push(term);
        }
        if let Trigger::Periodic { period, .. } = spec.trigger {
            total += period;
            terms.push(format!("{name}: sampling {}", fmt_duration(period)));
        }
        let r = response_time(spec).ok_or_else(|| {
            format!(
                "chain `{}`: the response time of `{name}` ({} trigger) is unknown; declare `resources.deadlineInNs` or `resources.budgetInNs`",
                chain.name,
                spec.trigger.kind()
            )
        })?;
        total += r;
        terms.push(format!("{name}: response {}", fmt_duration(r)));
        prev = Some((spec, here));
    }
    Ok(ChainBound { name: chain.name.clone(), computed: total, bound: chain.bound, terms })
}

/// Worst-case response time: the deadline, else the budget, else a periodic module's period.
pub fn response_time(spec: &ModuleSpec) -> Option<Duration> {
    spec.resources.deadline.or(spec.resources.budget).or(match spec.trigger {
        Trigger::Periodic { period, .. } => Some(period),
        _ => None,
    })
}

/// The cost of the hop from `from` (at `a`) to `to` (at `b`), and its term.
fn hop(from: &ModuleSpec, to: &ModuleSpec, a: &Site, b: &Site, topology: Option<&TopologyManifest>) -> (Duration, String) {
    let arrow = format!("{}→{}", from.name, to.name);
    if a.host == b.host {
        return (Duration::ZERO, format!("{arrow} on {}: loopback 0", a.host));
    }
    let on = format!("{arrow} on {}→{}", a.platform, b.platform);
    match topology.and_then(|t| t.link(&a.platform, &b.platform)) {
        Some(link) => {
            let bytes = from.feeds(to).and_then(|c| c.payload_size).map_or(DEFAULT_PAYLOAD_BYTES, u64::from);
            let tx = transmission(bytes, link.bandwidth_bits_per_second);
            let term = format!(
                "{on}: link {} + {bytes} B at {} ({})",
                fmt_duration(link.latency),
                fmt_bandwidth(link.bandwidth_bits_per_second),
                fmt_duration(tx)
            );
            (link.latency + tx, term)
        }
        None => (DEFAULT_LINK_LATENCY, format!("{on}: link {} (assumed: no link in the topology)", fmt_duration(DEFAULT_LINK_LATENCY))),
    }
}

/// Time to put `bytes` on a link of `bits_per_second`, rounded up to the nanosecond.
pub fn transmission(bytes: u64, bits_per_second: u64) -> Duration {
    let bits = u128::from(bytes) * 8;
    let bps = u128::from(bits_per_second.max(1));
    let ns = (bits * 1_000_000_000).div_ceil(bps);
    Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
}

/// The platform id of a Host as the analysis sees it.
pub fn platform_of(name: &str, h: &HostEntry) -> String {
    h.manifest.metadata.platform_id.clone().or_else(|| h.platform.id.clone()).unwrap_or_else(|| name.to_string())
}

/// Where each module of `record` runs, by module name: a staged shadow (the version the
/// manifest describes) if there is one, else the primary instance.
pub fn sites(record: &AppRecord, hosts: &BTreeMap<String, HostEntry>) -> BTreeMap<String, Site> {
    let mut out = BTreeMap::new();
    for m in record.modules.iter().filter(|m| m.role != Role::Previous) {
        let Some(host) = m.host.clone() else { continue };
        if m.role == Role::Primary && out.contains_key(&m.module) {
            continue;
        }
        let platform = hosts.get(&host).map_or_else(|| host.clone(), |h| platform_of(&host, h));
        out.insert(m.module.clone(), Site { host, platform });
    }
    out
}

/// Admission: every chain of `record` with its current placement, or the refusal (422
/// `latency-bound`) naming the first chain that misses its bound or cannot be bounded.
pub fn admit(record: &AppRecord, hosts: &BTreeMap<String, HostEntry>, topology: Option<&TopologyManifest>) -> Result<(), crate::ApiError> {
    let Some(manifest) = manifest_of(record) else { return Ok(()) };
    let sites = sites(record, hosts);
    for chain in &manifest.chains {
        match chain_bound(&manifest, chain, &|m| sites.get(m).cloned(), topology) {
            Ok(b) if b.holds() => {}
            Ok(b) => {
                return Err(crate::ApiError::latency_bound(format!(
                    "chain `{}`: worst-case end-to-end latency {} exceeds its bound {} (boundInNs {}); terms: {}",
                    b.name,
                    fmt_duration(b.computed),
                    fmt_duration(b.bound),
                    b.bound.as_nanos(),
                    b.terms.join("; ")
                )))
            }
            Err(e) => return Err(crate::ApiError::latency_bound(e)),
        }
    }
    Ok(())
}

/// The most hop subsets [`search`] tries (all of them for up to 8 distinct hops).
pub const MAX_TRIES: usize = 256;

/// Find a placement of `record` under which every chain meets its bound (this is the latency
/// admission of a create or update: what it returns has passed [`admit`]). `place(colocate)`
/// places the modules with each pair in `colocate` on one Host. The plain placement is tried
/// first; if a chain misses its bound, the only term placement changes is the network: hops
/// are co-located (loopback costs nothing), smallest sets first, in chain order within a size,
/// until one placement meets every bound or the placer refuses them all.
/// Returns the placement and the hops it co-located, or the refusal of the plain placement
/// (which says why) extended with what the search tried.
pub fn search(
    record: &AppRecord,
    hosts: &BTreeMap<String, HostEntry>,
    topology: Option<&TopologyManifest>,
    mut place: impl FnMut(&[(String, String)]) -> Result<crate::place::Decision, silverline_placement::PlacementError>,
) -> Result<(crate::place::Decision, Vec<(String, String)>), crate::ApiError> {
    let first = place(&[]).map_err(crate::ApiError::unplaceable)?;
    let refusal = match admit(&with(record, &first), hosts, topology) {
        Ok(()) => return Ok((first, Vec::new())),
        Err(e) => e,
    };
    let hops = hops(record);
    let subsets = subsets_by_size(hops.len()).into_iter().take(MAX_TRIES);
    let mut tried = 0;
    for subset in subsets {
        let colocate: Vec<(String, String)> = subset.iter().map(|&i| hops[i].clone()).collect();
        tried += 1;
        let Ok(decision) = place(&colocate) else { continue };
        if admit(&with(record, &decision), hosts, topology).is_ok() {
            return Ok((decision, colocate));
        }
    }
    Err(refusal.context(format!("no placement co-locating any of its {} hop(s) meets it either ({tried} tried)", hops.len())))
}

/// `record` with the Hosts of `decision` filled in.
fn with(record: &AppRecord, decision: &crate::place::Decision) -> AppRecord {
    let mut r = record.clone();
    for m in &mut r.modules {
        if let Some(h) = decision.get(&m.id) {
            m.host = Some(h.clone());
        }
    }
    r
}

/// The distinct hops (consecutive module pairs) of the chains of `record`, in chain order.
fn hops(record: &AppRecord) -> Vec<(String, String)> {
    let Some(manifest) = manifest_of(record) else { return Vec::new() };
    let mut out: Vec<(String, String)> = Vec::new();
    for chain in &manifest.chains {
        for w in chain.modules.windows(2) {
            let pair = (w[0].as_str().to_string(), w[1].as_str().to_string());
            if !out.contains(&pair) {
                out.push(pair);
            }
        }
    }
    out
}

/// Non-empty subsets of `0..n` (n ≤ 16), by size, then lexicographically.
fn subsets_by_size(n: usize) -> Vec<Vec<usize>> {
    let n = n.min(16);
    let mut all: Vec<Vec<usize>> = (1u32..(1 << n)).map(|mask| (0..n).filter(|i| mask & (1 << i) != 0).collect()).collect();
    all.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
    all
}

/// The chains of `record` as the API shows them.
pub fn views(record: &AppRecord, hosts: &BTreeMap<String, HostEntry>, topology: Option<&TopologyManifest>) -> Vec<ChainView> {
    let Some(manifest) = manifest_of(record) else { return Vec::new() };
    let sites = sites(record, hosts);
    (manifest.chains.iter())
        .map(|chain| match chain_bound(&manifest, chain, &|m| sites.get(m).cloned(), topology) {
            Ok(b) => ChainView {
                name: b.name,
                bound_ns: nanos(b.bound),
                computed_ns: Some(nanos(b.computed)),
                terms: b.terms,
                problem: None,
            },
            Err(e) => ChainView { name: chain.name.clone(), bound_ns: nanos(chain.bound), computed_ns: None, terms: Vec::new(), problem: Some(e) },
        })
        .collect()
}

fn manifest_of(record: &AppRecord) -> Option<ApplicationManifest> {
    ApplicationManifest::from_str(&record.manifest.to_string(), crate::core::api_base_dir()).ok()
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// `10ms`, `200µs`, `18.200512ms`, `512ns`, `1.5s`: the largest unit with an integer part,
/// exact (trailing zeros dropped).
pub fn fmt_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    let (div, unit) = match ns {
        0 => return "0".into(),
        n if n >= 1_000_000_000 => (1_000_000_000, "s"),
        n if n >= 1_000_000 => (1_000_000, "ms"),
        n if n >= 1_000 => (1_000, "µs"),
        _ => (1, "ns"),
    };
    let (whole, frac) = (ns / div, ns % div);
    if frac == 0 {
        return format!("{whole}{unit}");
    }
    let width = div.ilog10() as usize;
    let frac = format!("{frac:0width$}");
    format!("{whole}.{}{unit}", frac.trim_end_matches('0'))
}

/// `1 Gbit/s`, `100 Mbit/s`, `2.5 kbit/s`, `300 bit/s`.
pub fn fmt_bandwidth(bps: u64) -> String {
    let (div, unit) = match bps {
        b if b >= 1_000_000_000 => (1_000_000_000f64, "Gbit/s"),
        b if b >= 1_000_000 => (1_000_000f64, "Mbit/s"),
        b if b >= 1_000 => (1_000f64, "kbit/s"),
        _ => (1f64, "bit/s"),
    };
    let v = bps as f64 / div;
    let s = format!("{v:.3}");
    format!("{} {unit}", s.trim_end_matches('0').trim_end_matches('.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// The worked example of docs/timing.md.
    const EXAMPLE: &str = r#"
name: loop
modules:
  - name: sensor
    file: sensor.wasm
    trigger: { type: periodic, periodInNs: 10000000 }
    resources: { budgetInNs: 2000000 }
    outputChannels: { channels: [{ name: out, endpoint: loop/raw }] }
  - name: filter
    file: filter.wasm
    trigger: { type: event, channel: in }
    resources: { deadlineInNs: 5000000 }
    inputChannels: { channels: [{ name: in, endpoint: loop/raw }] }
    outputChannels: { channels: [{ name: out, endpoint: loop/filtered, payloadSizeInBytes: 1250 }] }
  - name: sink
    file: sink.wasm
    trigger: { type: event, channel: in }
    resources: { budgetInNs: 1000000 }
    inputChannels: { channels: [{ name: in, endpoint: loop/filtered }] }
chains:
  - name: control-loop
    modules: [sensor, filter, sink]
    boundInNs: 20000000
"#;

    const TOPOLOGY: &str = r#"
platforms: [edge-1, edge-2]
links:
  - between: [edge-1, edge-2]
    latencyInNs: 200000
    bandwidthBitsPerSecond: 1000000000
"#;

    fn site(host: &str, platform: &str) -> Site {
        Site { host: host.into(), platform: platform.into() }
    }

    fn example() -> (ApplicationManifest, TopologyManifest) {
        (ApplicationManifest::from_str(EXAMPLE, Path::new("/")).unwrap(), TOPOLOGY.parse().unwrap())
    }

    #[test]
    fn worked_example_of_the_docs() {
        let (app, topo) = example();
        let place = |m: &str| Some(if m == "sensor" { site("h1", "edge-1") } else { site("h2", "edge-2") });
        let b = chain_bound(&app, &app.chains[0], &place, Some(&topo)).unwrap();
        assert_eq!(
            b.terms,
            [
                "sensor: sampling 10ms",
                "sensor: response 2ms",
                "sensor→filter on edge-1→edge-2: link 200µs + 64 B at 1 Gbit/s (512ns)",
                "filter: response 5ms",
                "filter→sink on h2: loopback 0",
                "sink: response 1ms",
            ]
        );
        assert_eq!(b.computed, Duration::from_nanos(18_200_512));
        assert_eq!(fmt_duration(b.computed), "18.200512ms");
        assert!(b.holds());
    }

    #[test]
    fn all_on_one_host_and_unknown_links() {
        let (app, topo) = example();
        let b = chain_bound(&app, &app.chains[0], &|_| Some(site("h1", "edge-1")), Some(&topo)).unwrap();
        assert_eq!(b.computed, Duration::from_millis(18));
        // filter→sink across Hosts of platforms with no link: the documented default.
        let place = |m: &str| Some(if m == "sink" { site("h3", "cloud") } else { site("h1", "edge-1") });
        let b = chain_bound(&app, &app.chains[0], &place, Some(&topo)).unwrap();
        assert_eq!(b.computed, Duration::from_millis(19));
        assert!(b.terms.iter().any(|t| t == "filter→sink on edge-1→cloud: link 1ms (assumed: no link in the topology)"), "{:?}", b.terms);
        let b = chain_bound(&app, &app.chains[0], &place, None).unwrap();
        assert_eq!(b.computed, Duration::from_millis(19));
    }

    #[test]
    fn payload_and_bandwidth_count() {
        let (app, _) = example();
        let topo: TopologyManifest = "platforms: [a, b]\nlinks: [{ between: [a, b], latencyInNs: 1000, bandwidthBitsPerSecond: 1000000 }]\n".parse().unwrap();
        let place = |m: &str| Some(if m == "sink" { site("h2", "b") } else { site("h1", "a") });
        let b = chain_bound(&app, &app.chains[0], &place, Some(&topo)).unwrap();
        // 1250 B = 10000 bit at 1 Mbit/s = 10 ms, plus 1 µs.
        assert!(b.terms.contains(&"filter→sink on a→b: link 1µs + 1250 B at 1 Mbit/s (10ms)".to_string()), "{:?}", b.terms);
        assert_eq!(b.computed, Duration::from_millis(28) + Duration::from_micros(1));
        assert!(!b.holds());
    }

    #[test]
    fn an_event_module_without_deadline_or_budget_cannot_be_bounded() {
        let text = EXAMPLE.replace("    resources: { deadlineInNs: 5000000 }\n", "");
        let app = ApplicationManifest::from_str(&text, Path::new("/")).unwrap();
        let e = chain_bound(&app, &app.chains[0], &|_| Some(site("h", "p")), None).unwrap_err();
        assert!(e.contains("`filter`") && e.contains("deadlineInNs") && e.contains("budgetInNs"), "{e}");
        let (app, _) = example();
        let e = chain_bound(&app, &app.chains[0], &|m| (m != "sink").then(|| site("h", "p")), None).unwrap_err();
        assert!(e.contains("no Host"), "{e}");
    }

    #[test]
    fn formats() {
        assert_eq!(fmt_duration(Duration::from_micros(200)), "200µs");
        assert_eq!(fmt_duration(Duration::from_micros(12_300)), "12.3ms");
        assert_eq!(fmt_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(fmt_duration(Duration::from_nanos(512)), "512ns");
        assert_eq!(fmt_bandwidth(1_000_000_000), "1 Gbit/s");
        assert_eq!(fmt_bandwidth(2_500), "2.5 kbit/s");
        assert_eq!(transmission(64, 1_000_000_000), Duration::from_nanos(512));
        assert_eq!(transmission(1, 3), Duration::from_nanos(2_666_666_667));
    }

    #[test]
    fn hop_subsets_come_smallest_first() {
        let v = |x: &[usize]| x.to_vec();
        assert_eq!(subsets_by_size(3), vec![v(&[0]), v(&[1]), v(&[2]), v(&[0, 1]), v(&[0, 2]), v(&[1, 2]), v(&[0, 1, 2])]);
        assert_eq!(subsets_by_size(8).len(), MAX_TRIES - 1);
    }
}
