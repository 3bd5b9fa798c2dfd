//! The topology manifest: which platforms a deployment has and the network links between
//! them, with latency and bandwidth, for the Orchestrator's placement decisions. Fixed for a
//! deployment, as in the paper.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize, Serializer};

use crate::error::{at, join, quoted, Errors, ManifestErrors};
use crate::parse;

/// A validated topology manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopologyManifest {
    /// Platform ids (as in platform manifests' `id`), unique.
    pub platforms: Vec<String>,
    /// Links between two distinct listed platforms, at most one per pair.
    pub links: Vec<Link>,
}

/// A network link between two platforms (undirected).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The two platform ids, as written.
    pub between: [String; 2],
    /// One-way latency.
    pub latency: Duration,
    /// Bandwidth in bits per second.
    pub bandwidth_bits_per_second: u64,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[serde(expecting = "a topology manifest (a mapping with `platforms` and `links`)")]
struct RawTopology {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    platforms: Vec<String>,
    #[serde(default)]
    links: Vec<RawLink>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[serde(expecting = "a link (a mapping with `between`, `latencyInNs`, `bandwidthBitsPerSecond`)")]
struct RawLink {
    // A list rather than a pair so that a wrong length gets our message, not serde's.
    between: Vec<String>,
    latency_in_ns: i64,
    bandwidth_bits_per_second: i64,
}

impl TopologyManifest {
    /// Reads, parses and validates the topology manifest at `path`.
    pub fn from_file(path: &Path) -> Result<Self, ManifestErrors> {
        parse::read_file(path)?
            .parse()
            .map_err(|e: ManifestErrors| e.in_file(path))
    }

    /// The link between `a` and `b`, in either order.
    pub fn link(&self, a: &str, b: &str) -> Option<&Link> {
        self.links.iter().find(|l| {
            let [x, y] = &l.between;
            (x == a && y == b) || (x == b && y == a)
        })
    }

    /// The manifest as JSON in the manifest schema.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("manifest types always serialize")
    }

    /// The manifest as YAML in the manifest schema.
    pub fn to_yaml(&self) -> String {
        serde_norway::to_string(self).expect("manifest types always serialize")
    }

    fn to_raw(&self) -> RawTopology {
        let link = |l: &Link| RawLink {
            between: l.between.to_vec(),
            latency_in_ns: i64::try_from(l.latency.as_nanos()).unwrap_or(i64::MAX),
            bandwidth_bits_per_second: i64::try_from(l.bandwidth_bits_per_second)
                .unwrap_or(i64::MAX),
        };
        RawTopology {
            kind: Some("topology".into()),
            platforms: self.platforms.clone(),
            links: self.links.iter().map(link).collect(),
        }
    }
}

impl FromStr for TopologyManifest {
    type Err = ManifestErrors;

    /// Parses and validates a topology manifest (YAML, or JSON if it starts with `{`).
    fn from_str(text: &str) -> Result<Self, ManifestErrors> {
        validate(parse::from_text(text)?)
    }
}

impl Serialize for TopologyManifest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_raw().serialize(s)
    }
}

fn validate(raw: RawTopology) -> Result<TopologyManifest, ManifestErrors> {
    let mut errs = Errors::default();
    if let Err(e) = parse::check_kind(raw.kind.as_deref(), "topology") {
        errs.add(e);
    }
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (i, p) in raw.platforms.iter().enumerate() {
        if p.trim().is_empty() {
            errs.push(&at("platforms", i), quoted(p), "a non-empty platform id");
        } else if let Some(j) = first.insert(p, i) {
            let expected = format!("a platform id not listed before (already at platforms[{j}])");
            errs.push(&at("platforms", i), quoted(p), expected);
        }
    }
    let mut pairs: HashMap<(String, String), usize> = HashMap::new();
    let links = (raw.links.iter().enumerate())
        .map(|(i, l)| link(&mut errs, i, l, &raw.platforms, &mut pairs))
        .collect();
    errs.finish(TopologyManifest {
        platforms: raw.platforms,
        links,
    })
}

fn link(
    errs: &mut Errors,
    index: usize,
    l: &RawLink,
    platforms: &[String],
    pairs: &mut HashMap<(String, String), usize>,
) -> Link {
    let p = &at("links", index);
    let bp = join(p, "between");
    if l.between.len() != 2 {
        let found = format!("a list of {} platform ids", l.between.len());
        errs.push(&bp, found, "exactly two platform ids");
    }
    for (k, id) in l.between.iter().enumerate() {
        if !platforms.contains(id) {
            errs.push(
                &at(&bp, k),
                quoted(id),
                "a platform id listed in `platforms`",
            );
        }
    }
    let a = l.between.first().cloned().unwrap_or_default();
    let b = l.between.get(1).cloned().unwrap_or_default();
    if l.between.len() == 2 && a == b {
        errs.push(
            &at(&bp, 1),
            quoted(&b),
            "a platform other than the first end of the link",
        );
    }
    // Links are undirected: A–B and B–A are the same link.
    let key = if a <= b {
        (a.clone(), b.clone())
    } else {
        (b.clone(), a.clone())
    };
    if l.between.len() == 2 {
        if let Some(j) = pairs.insert(key, index) {
            let expected = format!("one link per pair of platforms (already at links[{j}])");
            errs.push(&bp, format!("{a:?} and {b:?} again"), expected);
        }
    }
    if l.latency_in_ns <= 0 {
        let found = l.latency_in_ns.to_string();
        errs.push(
            &join(p, "latencyInNs"),
            found,
            "a positive integer number of nanoseconds",
        );
    }
    if l.bandwidth_bits_per_second <= 0 {
        let found = l.bandwidth_bits_per_second.to_string();
        errs.push(
            &join(p, "bandwidthBitsPerSecond"),
            found,
            "a positive number of bits per second",
        );
    }
    Link {
        between: [a, b],
        latency: Duration::from_nanos(l.latency_in_ns.unsigned_abs()),
        bandwidth_bits_per_second: l.bandwidth_bits_per_second.unsigned_abs(),
    }
}
