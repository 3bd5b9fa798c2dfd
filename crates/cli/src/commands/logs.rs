//! `silverline logs [--follow] [--app A] [-o text|json]`: the Orchestrator's event stream
//! (`GET /v1/events`, Server-Sent Events). Without `--follow` it prints the recent history the
//! Orchestrator keeps and exits; with it, it stays and prints events as they happen.

use crate::client::api_url;
use crate::style;
use anyhow::Context;
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};

/// Arguments of `silverline logs`.
#[derive(clap::Args)]
pub struct LogsArgs {
    /// Keep printing events as they happen (Ctrl-C stops).
    #[arg(short, long)]
    follow: bool,
    /// Only events of this application.
    #[arg(long)]
    app: Option<String>,
    /// Output format: aligned text, or one JSON object per line.
    #[arg(short = 'o', long, default_value = "text", value_parser = ["text", "json"])]
    output: String,
    /// Orchestrator REST API.
    #[arg(long)]
    api: Option<String>,
}

pub fn run(args: LogsArgs) -> anyhow::Result<i32> {
    let base = api_url(args.api.as_deref());
    let mut url = format!("{base}/v1/events?follow={}", args.follow);
    if let Some(app) = &args.app {
        url.push_str(&format!("&app={}", encode(app)));
    }
    let agent = crate::client::http_agent()?;
    let response = agent
        .get(&url)
        .header("accept", "text/event-stream")
        .header("authorization", &format!("Bearer {}", crate::client::token().unwrap_or_default()))
        .call()
        .map_err(|e| anyhow::anyhow!("cannot reach the Orchestrator at {base} ({e}); is it running? (`silverline up`, or set --api / SILVERLINE_API)"))?;
    anyhow::ensure!(response.status().is_success(), "GET /v1/events: HTTP {}{}", response.status().as_u16(), if response.status() == 401 { " (no valid token: set SILVERLINE_TOKEN)" } else { "" });
    let reader = BufReader::new(response.into_body().into_reader());
    let stdout = std::io::stdout();
    let mut data = String::new();
    for line in reader.lines() {
        let line = line.context("reading the event stream")?;
        if let Some(d) = line.strip_prefix("data:") {
            data.push_str(d.strip_prefix(' ').unwrap_or(d));
        } else if line.is_empty() && !data.is_empty() {
            let text = std::mem::take(&mut data);
            let mut out = stdout.lock();
            match serde_json::from_str::<Value>(&text) {
                Ok(event) if args.output == "json" => writeln!(out, "{event}")?,
                Ok(event) => writeln!(out, "{}", render(&event))?,
                Err(_) => writeln!(out, "{text}")?,
            }
            out.flush()?;
        }
        // `id:`, `event:` and `:` comments (keep-alives) carry nothing to print.
    }
    Ok(0)
}

/// `2025-01-01T12:00:00.123Z  warning  host-lost          host `h` lost; ...`
fn render(e: &Value) -> String {
    let s = |k: &str| e[k].as_str().unwrap_or_default();
    let level = match s("level") {
        "error" if style::is_tty() => "\x1b[31merror  \x1b[0m".to_string(),
        "warning" if style::is_tty() => "\x1b[33mwarning\x1b[0m".to_string(),
        other => format!("{other:<7}"),
    };
    format!("{}  {level}  {:<18} {}", s("time"), s("kind"), s("message"))
}

/// Percent-encode a query value.
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
