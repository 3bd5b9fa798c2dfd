//! Micro-benchmarks of the silverline Host.
//!
//! Four sections, each comparing silverline against a baseline measured **in the same process and
//! the same run** (never against a figure written down somewhere):
//!
//! | section | measures | baseline |
//! | --- | --- | --- |
//! | `instantiate` | `Host::deploy` of an already-compiled module (InstancePre + Store + WASI ctx + `_initialize` + `sl_init`), pooled and on-demand; deploy → first activation | a cold deploy / `Host::precompile` of never-seen bytes |
//! | `host-call` | an `sl` import (`channel_pending`) called N times from `sl_step` | the same loop calling a guest function, and an empty loop |
//! | `latency` | publish on an `OutputPort` → message in a subscriber's `InputQueue`, loopback | the same through Mosquitto (`RoutingMode::BrokerOnly` + `MqttBackend`), and a raw rumqttc client through the same broker |
//! | `publish` | a Wasm module publishing N × 64 B with `channel_publish` to an MQTT-backed output | a raw rumqttc `Client` publishing the same N payloads to the same broker |
//!
//! Every measurement reports n, median and p99 after warm-up iterations. Timing lives here and
//! only here: tests assert the shape of a [`Report`], never a speed.
//!
//! ```no_run
//! let report = silverline_bench::run(&silverline_bench::BenchConfig::quick())?;
//! println!("{}", report.to_markdown());
//! # Ok::<(), anyhow::Error>(())
//! ```
#![deny(missing_docs)]

mod broker;
pub mod native_sunroof;
mod host_call;
mod instantiate;
mod latency;
mod publish;
mod stats;
mod util;
mod wat;

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

pub use stats::{fmt_ns, summarize};

/// Section names, in the order they run.
pub const SECTIONS: &[&str] = &["instantiate", "host-call", "latency", "publish"];

/// What to run and how long.
#[derive(Debug, Clone, Default)]
pub struct BenchConfig {
    /// Small N everywhere (a few seconds in all): a smoke run, not for figures.
    pub quick: bool,
    /// Run only these sections (names from [`SECTIONS`]); empty means all.
    pub only: Vec<String>,
    /// Use this MQTT broker (`mqtt://HOST:PORT`) instead of starting a private Mosquitto.
    pub broker: Option<String>,
    /// Extra modules to measure in `instantiate`: event-triggered reactors whose manifest has an
    /// input `in` and an output `out` (e.g. the C `echo` guest of `crates/test-programs`).
    pub modules: Vec<PathBuf>,
    /// Print one line per step on stderr while running.
    pub progress: bool,
}

impl BenchConfig {
    /// The full benchmark (about a minute on 2 cores).
    pub fn full() -> Self {
        BenchConfig::default()
    }

    /// Small N: a few seconds, for CI smoke runs.
    pub fn quick() -> Self {
        BenchConfig { quick: true, ..BenchConfig::default() }
    }

    fn wants(&self, section: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == section)
    }

    fn say(&self, what: &str) {
        if self.progress {
            eprintln!("bench: {what}");
        }
    }
}

/// Everything one run measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// When and where.
    pub meta: Meta,
    /// One per section run, in [`SECTIONS`] order.
    pub sections: Vec<Section>,
}

/// When and where a report was made.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meta {
    /// UTC date and time the run started, `YYYY-MM-DD HH:MM:SSZ`.
    pub date_utc: String,
    /// CPU model (`model name` of /proc/cpuinfo).
    pub cpu: String,
    /// Cores available to this process.
    pub cores: usize,
    /// Kernel release.
    pub kernel: String,
    /// `release` or `debug` (debug builds give meaningless ratios).
    pub build: String,
    /// Quick (smoke) mode?
    pub quick: bool,
    /// The broker used by `latency` and `publish`, with its version when known.
    pub broker: Option<String>,
    /// silverline version.
    pub version: String,
}

/// One section of the report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Section {
    /// Short name (see [`SECTIONS`]); what `--only` selects.
    pub name: String,
    /// Human title.
    pub title: String,
    /// Measurements: distributions of samples.
    pub rows: Vec<Row>,
    /// Ratios and derived values, with the issue's target where it set one.
    pub figures: Vec<Figure>,
    /// What exactly was measured, and caveats.
    pub notes: Vec<String>,
    /// Set when the section could not run (e.g. no broker); rows are then empty.
    pub skipped: Option<String>,
}

impl Section {
    fn new(name: &str, title: &str) -> Section {
        Section { name: name.into(), title: title.into(), rows: vec![], figures: vec![], notes: vec![], skipped: None }
    }

    fn note(&mut self, s: impl Into<String>) {
        self.notes.push(s.into());
    }

    fn row(&self, name: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.name == name)
    }

    /// Add `num / den` (ratio of medians) as a figure.
    fn ratio(&mut self, name: &str, num: &str, den: &str, target: Option<Target>) {
        if let (Some(a), Some(b)) = (self.row(num), self.row(den)) {
            if b.median_ns > 0.0 {
                let value = a.median_ns / b.median_ns;
                self.figures.push(Figure::new(name, value, "x", target));
            }
        }
    }
}

/// A distribution of samples, in nanoseconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    /// What one sample is.
    pub name: String,
    /// Samples kept (after warm-up).
    pub n: usize,
    /// Median.
    pub median_ns: f64,
    /// 99th percentile (nearest rank; equals the maximum when n < 100).
    pub p99_ns: f64,
    /// Mean.
    pub mean_ns: f64,
    /// Smallest sample.
    pub min_ns: f64,
    /// Largest sample.
    pub max_ns: f64,
}

/// A derived value: a ratio of medians (unit `x`), a difference (`ns`), a rate (`msg/s`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Figure {
    /// What it is.
    pub name: String,
    /// Its value.
    pub value: f64,
    /// `x`, `ns` or `msg/s`.
    pub unit: String,
    /// The issue's target, if it set one.
    pub target: Option<Target>,
    /// Whether the target is met (None without a target).
    pub met: Option<bool>,
}

impl Figure {
    fn new(name: &str, value: f64, unit: &str, target: Option<Target>) -> Figure {
        let met = target.as_ref().map(|t| t.holds(value));
        Figure { name: name.into(), value, unit: unit.into(), target, met }
    }
}

/// A target from the issue text.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Target {
    /// `>=` or `<=`.
    pub op: String,
    /// Bound.
    pub value: f64,
}

impl Target {
    fn at_least(v: f64) -> Option<Target> {
        Some(Target { op: ">=".into(), value: v })
    }
    fn at_most(v: f64) -> Option<Target> {
        Some(Target { op: "<=".into(), value: v })
    }
    fn holds(&self, v: f64) -> bool {
        if self.op == ">=" {
            v >= self.value
        } else {
            v <= self.value
        }
    }
}

/// Run the selected sections. Errors only on bad configuration; a section that cannot run
/// (no broker, say) is reported as skipped.
pub fn run(config: &BenchConfig) -> anyhow::Result<Report> {
    if let Some(bad) = config.only.iter().find(|s| !SECTIONS.contains(&s.as_str())) {
        anyhow::bail!("unknown benchmark `{bad}`; expected one of: {}", SECTIONS.join(", "));
    }
    let started = util::utc_now();
    let mut broker: Option<anyhow::Result<broker::Broker>> = None;
    let mut get_broker = |config: &BenchConfig| -> Result<broker::Endpoint, String> {
        let b = broker.get_or_insert_with(|| match &config.broker {
            Some(url) => broker::Broker::external(url),
            None => broker::Broker::start(),
        });
        b.as_ref().map(|b| b.endpoint()).map_err(|e| format!("{e:#}"))
    };
    let mut sections = Vec::new();
    let mut broker_desc = None;
    for &name in SECTIONS {
        if !config.wants(name) {
            continue;
        }
        config.say(&format!("section {name}"));
        let section = match name {
            "instantiate" => instantiate::run(config),
            "host-call" => host_call::run(config),
            other => match get_broker(config) {
                Ok(ep) => {
                    broker_desc = Some(ep.description.clone());
                    if other == "latency" {
                        latency::run(config, &ep)
                    } else {
                        publish::run(config, &ep)
                    }
                }
                Err(e) => Ok(skipped(other, &format!("no MQTT broker: {e}"))),
            },
        };
        sections.push(section.unwrap_or_else(|e| skipped(name, &format!("{e:#}"))));
    }
    Ok(Report { meta: util::meta(started, config.quick, broker_desc), sections })
}

fn skipped(name: &str, why: &str) -> Section {
    let title = match name {
        "instantiate" => instantiate::TITLE,
        "host-call" => host_call::TITLE,
        "latency" => latency::TITLE,
        _ => publish::TITLE,
    };
    let mut s = Section::new(name, title);
    s.skipped = Some(why.to_string());
    s
}

impl Report {
    /// The section called `name`.
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }

    /// Markdown: a header line with the machine, then per section a table of measurements, a
    /// table of ratios with their targets, and notes.
    pub fn to_markdown(&self) -> String {
        let m = &self.meta;
        let mut out = String::new();
        out.push_str(&format!(
            "Run started {} on {} ({} cores), Linux {}, {} build{}{}.\n",
            m.date_utc,
            m.cpu,
            m.cores,
            m.kernel,
            m.build,
            if m.quick { ", **quick mode (smoke run, not for figures)**" } else { "" },
            m.broker.as_ref().map(|b| format!(", broker: {b}")).unwrap_or_default(),
        ));
        if m.build != "release" {
            out.push_str("\n**Warning: not a release build; the figures below are not meaningful.**\n");
        }
        for s in &self.sections {
            out.push_str(&format!("\n#### `{}`: {}\n\n", s.name, s.title));
            if let Some(why) = &s.skipped {
                out.push_str(&format!("Skipped: {why}\n"));
                continue;
            }
            out.push_str("| measurement | n | median | p99 |\n| --- | ---: | ---: | ---: |\n");
            for r in &s.rows {
                out.push_str(&format!("| {} | {} | {} | {} |\n", r.name, r.n, fmt_ns(r.median_ns), fmt_ns(r.p99_ns)));
            }
            if !s.figures.is_empty() {
                out.push_str("\n| figure | value | target | met |\n| --- | ---: | ---: | :---: |\n");
                for f in &s.figures {
                    let value = match f.unit.as_str() {
                        // Enough digits that a value shown next to its target agrees with `met`.
                        "x" if f.value.abs() < 10.0 => format!("{:.3}x", f.value),
                        "x" => format!("{:.1}x", f.value),
                        "ns" => fmt_ns(f.value),
                        "msg/s" => format!("{:.0} msg/s", f.value),
                        u => format!("{:.3} {u}", f.value),
                    };
                    let target = f.target.as_ref().map(|t| format!("{} {}{}", t.op, t.value, f.unit)).unwrap_or_else(|| "—".into());
                    let met = match f.met {
                        Some(true) => "yes",
                        Some(false) => "**no**",
                        None => "—",
                    };
                    out.push_str(&format!("| {} | {value} | {target} | {met} |\n", f.name));
                }
            }
            if !s.notes.is_empty() {
                out.push('\n');
                for n in &s.notes {
                    out.push_str(&format!("- {n}\n"));
                }
            }
        }
        out
    }
}
