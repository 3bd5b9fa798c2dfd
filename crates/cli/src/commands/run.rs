//! `silverline run`: an application on one local Host until Ctrl-C or `--for`, or a bare WASI
//! command module the way `wasmtime run` runs it.

use crate::table;
use anyhow::Context;
use silverline_channels::{MqttBackend, MqttConfig, Router, RoutingMode};
use silverline_host::{run_command, CommandGrants, Host, HostConfig, HostStatus, ModuleState};
use silverline_manifest::ApplicationManifest;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Arguments of `silverline run`.
#[derive(clap::Args)]
pub struct RunArgs {
    /// An application manifest (.yaml, .yml, .json) or a WASI command module (.wasm, .wat).
    target: PathBuf,
    /// Stop after this long (e.g. `3s`, `500ms`); default: until Ctrl-C.
    #[arg(long = "for", value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
    /// MQTT broker (`mqtt://[USER:PASSWORD@]HOST:PORT`) for channels to and from other Hosts and
    /// observers, for an application's modules as for a command module.
    #[arg(long)]
    broker: Option<String>,
    /// Route every channel through the broker, even between co-located modules.
    #[arg(long, requires = "broker")]
    via_broker: bool,
    /// Print every module's status and profile at the end: `table` (default) or `json`.
    #[arg(long, num_args = 0..=1, default_missing_value = "table", value_parser = ["table", "json"])]
    status: Option<String>,
    /// This Host's name.
    #[arg(long, default_value = "local")]
    name: String,
    /// Keep compiled modules here between runs.
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Command modules: preopen a directory, `HOST::GUEST` (or `DIR` for the same path).
    #[arg(long = "dir", value_name = "HOST::GUEST")]
    dirs: Vec<String>,
    /// Command modules: set an environment variable, `KEY=VALUE`.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    #[command(flatten)]
    timing: super::timing::TimingArgs,
    #[command(flatten)]
    capacity: super::capacity::CapacityArgs,
    #[command(flatten)]
    apis: super::apis::ApiArgs,
    /// Command modules: arguments after `--`.
    #[arg(last = true)]
    args: Vec<String>,
}

pub fn run(args: RunArgs) -> anyhow::Result<i32> {
    if is_manifest(&args.target) {
        run_app(&args)
    } else {
        run_module(&args)
    }
}

fn is_manifest(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json"))
}

fn run_module(args: &RunArgs) -> anyhow::Result<i32> {
    let wasm = std::fs::read(&args.target).with_context(|| format!("reading {}", args.target.display()))?;
    let mut grants = CommandGrants::default();
    grants.args.push(args.target.file_name().map_or("module".into(), |n| n.to_string_lossy().into_owned()));
    grants.args.extend(args.args.iter().cloned());
    for e in &args.env {
        let (k, v) = e.split_once('=').with_context(|| format!("--env `{e}`: expected KEY=VALUE"))?;
        grants.env.push((k.into(), v.into()));
    }
    for d in &args.dirs {
        let (host, guest) = d.split_once("::").unwrap_or((d, d));
        grants.dirs.push((PathBuf::from(host), guest.to_string()));
    }
    if args.via_broker {
        anyhow::bail!("--via-broker applies to applications; a command module's channels go through the broker whenever --broker is given");
    }
    let router = Router::new(RoutingMode::LoopbackFirst);
    let backend = args.broker.as_deref().map(|url| connect_broker(&router, &args.name, url, args.timing.io_priority())).transpose()?;
    grants.router = Some(router);
    let code = run_command(&wasm, &grants);
    close(backend);
    code
}

/// Send what the modules published before the process ends.
fn close(backend: Option<Arc<MqttBackend>>) {
    if let Some(b) = backend {
        if !b.close(Duration::from_secs(2)) {
            eprintln!("warning: the broker connection did not close cleanly; the last messages may not have been sent");
        }
    }
}

fn run_app(args: &RunArgs) -> anyhow::Result<i32> {
    let app = ApplicationManifest::from_file(&args.target).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut config = HostConfig::new();
    config.name(args.name.clone());
    args.timing.apply(&mut config);
    args.capacity.apply(None, &mut config);
    args.apis.apply(&mut config)?;
    if args.via_broker {
        config.routing(RoutingMode::BrokerOnly);
    }
    if let Some(dir) = &args.cache_dir {
        config.cache_dir(dir);
    }
    let host = Host::new(config)?;
    let backend = match &args.broker {
        Some(url) => Some(connect_broker(host.router(), host.name(), url, args.timing.io_priority())?),
        None => None,
    };
    host.deploy_app(&app)?;
    wait(&host, args.duration)?;
    let status = host.status();
    host.shutdown();
    close(backend);
    if let Some(format) = &args.status {
        print_status(&status, format)?;
    }
    Ok(exit_code(&status))
}

fn connect_broker(router: &Arc<Router>, name: &str, url: &str, priority: Option<i32>) -> anyhow::Result<Arc<MqttBackend>> {
    let mut cfg = MqttConfig::from_url(url)?;
    cfg.client_id(format!("silverline-run-{name}-{}", std::process::id())).io_priority(priority);
    let backend = MqttBackend::connect(&cfg, router.remote_sink())?;
    router.attach_remote(backend.clone());
    Ok(backend)
}

/// Until Ctrl-C, the duration, or every module being a finished command.
fn wait(host: &Host, duration: Option<Duration>) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let host = host.clone();
    let all_done = rt.spawn_blocking(move || {
        host.wait_for(duration.unwrap_or(Duration::MAX), |s| {
            !s.modules.is_empty() && s.modules.iter().all(|m| is_finished(&m.state))
        })
    });
    rt.block_on(async {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match duration { Some(d) => tokio::time::sleep(d).await, None => std::future::pending().await } } => {}
            _ = all_done => {}
        }
    });
    rt.shutdown_background();
    Ok(())
}

fn is_finished(state: &ModuleState) -> bool {
    matches!(state, ModuleState::Completed { .. } | ModuleState::Failed { .. } | ModuleState::Stopped)
}

/// Non-zero when a module failed, or the exit code of a lone command module.
fn exit_code(status: &HostStatus) -> i32 {
    if status.modules.iter().any(|m| matches!(m.state, ModuleState::Failed { .. })) {
        return 2;
    }
    match status.modules.as_slice() {
        [one] => match one.state {
            ModuleState::Completed { exit_code } => exit_code,
            _ => 0,
        },
        _ => 0,
    }
}

fn print_status(status: &HostStatus, format: &str) -> anyhow::Result<()> {
    if format == "json" {
        println!("{}", serde_json::to_string_pretty(status)?);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = status
        .modules
        .iter()
        .map(|m| {
            vec![
                m.id.to_string(),
                state_word(&m.state),
                m.trigger.clone(),
                m.activations.to_string(),
                format!("{}/{}", table::nanos(m.exec_ns.p50), table::nanos(m.exec_ns.p99)),
                table::nanos(m.start_jitter_ns.p99),
                m.messages_in.to_string(),
                m.messages_out.to_string(),
                m.messages_dropped.to_string(),
                m.fuel_last.to_string(),
                format!("{}K", m.memory_bytes / 1024),
            ]
        })
        .collect();
    let header = ["MODULE", "STATE", "TRIGGER", "ACTIVATIONS", "EXEC p50/p99", "JITTER p99", "IN", "OUT", "DROPPED", "FUEL", "MEMORY"];
    println!("{}", table::render(&header, &rows));
    for m in &status.modules {
        if let ModuleState::Failed { failure } | ModuleState::Restarting { failure, .. } = &m.state {
            println!("{}: {failure}", m.id);
        }
    }
    Ok(())
}

fn state_word(s: &ModuleState) -> String {
    match s {
        ModuleState::Starting => "starting".into(),
        ModuleState::Running => "running".into(),
        ModuleState::Restarting { attempt, .. } => format!("restarting#{attempt}"),
        ModuleState::Failed { .. } => "failed".into(),
        ModuleState::Completed { exit_code } => format!("exited({exit_code})"),
        ModuleState::Stopped => "stopped".into(),
    }
}
