//! `silverline deploy app.yaml [--wait]`: upload the modules, submit the manifest, optionally
//! wait until every module runs.

use crate::client::{api_url, Api};
use crate::style;
use anyhow::Context;
use serde_json::Value;
use silverline_manifest::ApplicationManifest;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Arguments of `silverline deploy`.
#[derive(clap::Args)]
pub struct DeployArgs {
    /// Application manifest (YAML or JSON).
    file: PathBuf,
    /// Wait until every module runs (or fails), showing progress.
    #[arg(long)]
    wait: bool,
    /// Give up waiting after this long.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// Orchestrator REST API (default: $SILVERLINE_API or http://127.0.0.1:7420).
    #[arg(long)]
    api: Option<String>,
}

pub fn run(args: DeployArgs) -> anyhow::Result<i32> {
    let api = Api::new(api_url(args.api.as_deref()));
    let manifest = ApplicationManifest::from_file(&args.file).map_err(|e| anyhow::anyhow!("{e}"))?;
    manifest.check_files().map_err(|e| anyhow::anyhow!("{e}"))?;
    let app = submit(&api, &manifest, "POST", "/v1/apps")?;
    print_placement(&app);
    if args.wait {
        return wait_running(&api, manifest.name.as_str(), args.timeout);
    }
    Ok(0)
}

/// Upload every module's Wasm, then send the manifest with their sha256 filled in.
pub fn submit(api: &Api, manifest: &ApplicationManifest, method: &str, path: &str) -> anyhow::Result<Value> {
    let mut json: Value = serde_json::from_str(&manifest.to_json())?;
    // Each file once, however many modules share it.
    let mut uploaded: std::collections::HashMap<&std::path::Path, Value> = std::collections::HashMap::new();
    for (i, spec) in manifest.modules.iter().enumerate() {
        if !uploaded.contains_key(spec.file.as_path()) {
            let wasm = silverline_host::read_wasm_file(&spec.file)?;
            let stored = api.send("PUT", "/v1/blobs", "application/wasm", &wasm).with_context(|| format!("uploading {}", spec.file.display()))?;
            uploaded.insert(spec.file.as_path(), stored["sha256"].clone());
        }
        json["modules"][i]["sha256"] = uploaded[spec.file.as_path()].clone();
    }
    api.send(method, path, "application/json", json.to_string().as_bytes())
}

fn print_placement(app: &Value) {
    let name = app["name"].as_str().unwrap_or("?");
    println!("application `{name}` accepted");
    for m in app["modules"].as_array().into_iter().flatten() {
        println!("  {} → {}", m["module"].as_str().unwrap_or("?"), m["host"].as_str().unwrap_or("(no host yet)"));
    }
}

/// Poll the application until every module runs; a progress line on a terminal.
pub fn wait_running(api: &Api, name: &str, timeout: Duration) -> anyhow::Result<i32> {
    let deadline = Instant::now() + timeout;
    let tty = style::is_tty();
    loop {
        let app = api.get(&format!("/v1/apps/{name}"))?;
        let modules = app["modules"].as_array().cloned().unwrap_or_default();
        let running = modules.iter().filter(|m| m["state"] == "running" || m["state"] == "completed").count();
        let failed: Vec<&Value> = modules.iter().filter(|m| m["state"] == "failed").collect();
        if tty {
            print!("\r{} {running}/{} modules running   ", style::state(app["state"].as_str().unwrap_or("?")), modules.len());
            std::io::stdout().flush().ok();
        }
        if running == modules.len() {
            println!("{}{name}: all {} modules running", if tty { "\n" } else { "" }, modules.len());
            return Ok(0);
        }
        if let Some(f) = failed.first() {
            println!("\n{}: module {} failed: {}", name, f["module"], f["problem"].as_str().unwrap_or("?"));
            return Ok(1);
        }
        if Instant::now() > deadline {
            println!("\n{name}: not running after {timeout:?}; `silverline get modules` shows why");
            return Ok(1);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
