//! `silverline get apps|hosts|modules [NAME] [-o table|json|yaml]`.

use crate::client::{api_url, Api};
use crate::{style, table};
use serde_json::Value;

/// Arguments of `silverline get`.
#[derive(clap::Args)]
pub struct GetArgs {
    /// What to list.
    #[arg(value_parser = ["apps", "app", "hosts", "host", "modules"])]
    what: String,
    /// One by name (apps, hosts).
    name: Option<String>,
    /// Output format.
    #[arg(short = 'o', long, default_value = "table", value_parser = ["table", "json", "yaml"])]
    output: String,
    /// Orchestrator REST API.
    #[arg(long)]
    api: Option<String>,
}

pub fn run(args: GetArgs) -> anyhow::Result<i32> {
    let api = Api::new(api_url(args.api.as_deref()));
    let kind = args.what.trim_end_matches('s');
    let path = match (kind, &args.name) {
        ("app", Some(n)) => format!("/v1/apps/{n}"),
        ("host", Some(n)) => format!("/v1/hosts/{n}"),
        ("module", _) => "/v1/modules".into(),
        (k, None) => format!("/v1/{k}s"),
        (k, Some(_)) => anyhow::bail!("`get {k}s` takes no name"),
    };
    let value = api.get(&path)?;
    match args.output.as_str() {
        "json" => println!("{}", serde_json::to_string_pretty(&value)?),
        "yaml" => print!("{}", serde_norway::to_string(&value)?),
        _ => println!("{}", render(kind, &value)),
    }
    Ok(0)
}

fn rows(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(a) => a.clone(),
        v => vec![v.clone()],
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        v => v.to_string(),
    }
}

fn render(kind: &str, value: &Value) -> String {
    let items = rows(value);
    match kind {
        "app" => {
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|a| {
                    let ms = a["modules"].as_array().cloned().unwrap_or_default();
                    let running = ms.iter().filter(|m| m["state"] == "running").count();
                    vec![s(&a["name"]), style::state(&s(&a["state"])), format!("{running}/{}", ms.len()), s(&a["generation"]), e2e(&a["chains"])]
                })
                .collect();
            table::render(&["NAME", "STATE", "RUNNING", "GENERATION", "E2E"], &rows)
        }
        "host" => {
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|h| {
                    vec![
                        s(&h["name"]),
                        style::state(if h["online"] == true { "online" } else { "offline" }),
                        h["modules"].as_array().map_or(0, |m| m.len()).to_string(),
                        format!("{:.2}", h["resources"]["load1"].as_f64().unwrap_or(0.0)),
                        s(&h["platform"]["cpu"]["cores"]),
                        format!("{} MiB", h["platform"]["memory"]["totalBytes"].as_u64().unwrap_or(0) >> 20),
                        realtime(h),
                        h["manifest"]["metadata"]["tags"].as_array().map(|t| t.iter().map(s).collect::<Vec<_>>().join(",")).unwrap_or_default(),
                    ]
                })
                .collect();
            table::render(&["NAME", "STATE", "MODULES", "LOAD", "CORES", "MEMORY", "REAL-TIME", "TAGS"], &rows)
        }
        _ => {
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|m| {
                    let p = &m["profile"];
                    vec![
                        s(&m["id"]),
                        s(&m["host"]),
                        s(&m["role"]),
                        style::state(&s(&m["state"])),
                        s(&p["activations"]),
                        table::nanos(p["exec_ns"]["p99"].as_u64().unwrap_or(0)),
                        table::nanos(p["start_jitter_ns"]["p99"].as_u64().unwrap_or(0)),
                        s(&p["messages_in"]),
                        s(&p["messages_out"]),
                        s(&p["messages_dropped"]),
                        m["problem"].as_str().unwrap_or("").to_string(),
                    ]
                })
                .collect();
            table::render(&["MODULE", "HOST", "ROLE", "STATE", "ACTIVATIONS", "EXEC p99", "JITTER p99", "IN", "OUT", "DROPPED", "PROBLEM"], &rows)
        }
    }
}

/// The `E2E` column: computed/declared end-to-end latency of each chain (`12.3ms/50ms`, `?/50ms`
/// when it cannot be computed), comma-separated; `-` without chains.
fn e2e(chains: &Value) -> String {
    let Some(chains) = chains.as_array().filter(|c| !c.is_empty()) else { return "-".into() };
    let ms = |ns: u64| {
        let s = format!("{:.3}", ns as f64 / 1e6);
        format!("{}ms", s.trim_end_matches('0').trim_end_matches('.'))
    };
    (chains.iter())
        .map(|c| {
            let computed = c["computed_ns"].as_u64().map_or("?".to_string(), ms);
            let bound = ms(c["bound_ns"].as_u64().unwrap_or(0));
            if chains.len() == 1 {
                format!("{computed}/{bound}")
            } else {
                format!("{}: {computed}/{bound}", s(&c["name"]))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A Host's real-time policy and the admission test it gets, e.g. `SCHED_FIFO (fixed-priority)`,
/// or `none` when it has no real-time policy (the reason is in `-o json`).
fn realtime(h: &serde_json::Value) -> String {
    match h["realtime"].as_str() {
        None => "?".into(),
        Some(p) if p.starts_with("none") => "none".into(),
        Some(p) => format!("{p} ({}){}", h["scheduler"].as_str().unwrap_or("?"), wakeup_latency(&h["wakeup_latency"])),
    }
}

/// The wake-up latency request while real-time modules run: `, wake-up ≤ 0 µs`, or that it
/// was refused; nothing when none runs.
fn wakeup_latency(w: &serde_json::Value) -> String {
    match (w["state"].as_str(), w["target_us"].as_u64()) {
        (Some("held"), Some(us)) => format!(", wake-up ≤ {us} µs"),
        (Some("refused"), _) => ", wake-up latency request refused".into(),
        _ => String::new(),
    }
}
