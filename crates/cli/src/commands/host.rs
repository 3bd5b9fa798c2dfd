//! `silverline host`: a Host as its own process, joined to an Orchestrator's control plane.

use anyhow::Context;
use silverline_agent::{Agent, AgentConfig};
use silverline_channels::{MqttBackend, MqttConfig};
use silverline_host::{Host, HostConfig};
use silverline_manifest::{HostManifest, PlatformManifest};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How this Host joins the system.
#[derive(clap::Args, Clone)]
pub struct HostArgs {
    /// MQTT broker of the control plane (and of channels between Hosts).
    #[arg(long, default_value = "mqtt://127.0.0.1:1883")]
    pub broker: String,
    /// Host name (unique in the system).
    #[arg(long)]
    pub name: Option<String>,
    /// A host manifest file (uuid, name, apis, tags); generated when absent.
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// Tags for placement, comma-separated (added to the manifest's).
    #[arg(long, value_delimiter = ',')]
    pub tags: Vec<String>,
    /// Platform id for placement (replicas prefer distinct platforms).
    #[arg(long)]
    pub platform_id: Option<String>,
    /// Module cache and blobs; also keeps the generated host manifest (stable uuid).
    #[arg(long, default_value = ".silverline/host")]
    pub data_dir: PathBuf,
    /// How often status and profiles are reported.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub status_interval: Duration,
    /// Real-time policy for real-time modules: auto (SCHED_DEADLINE, else SCHED_FIFO), fifo
    /// (fixed priorities, partitioned onto cores) or off.
    #[arg(long, default_value = "auto")]
    pub realtime_policy: silverline_host::RealtimePolicy,
    /// Confine best-effort modules to this many CPUs (e.g. 0.5) with a cgroup CPU quota;
    /// real-time modules are not confined.
    #[arg(long, value_name = "CPUS")]
    pub best_effort_cpu: Option<f64>,
    /// Serve this Host's metrics (Prometheus text format) at http://ADDR/metrics, e.g. 127.0.0.1:9464.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<std::net::SocketAddr>,
}

/// The APIs every silverline Host offers.
pub const HOST_APIS: &[&str] = &["sl:channels", "wasm:wasi_preview1", "env:reference-runtime"];

pub fn run(args: HostArgs) -> anyhow::Result<i32> {
    let manifest = host_manifest(&args)?;
    let name = manifest.name.clone();
    let mut config = HostConfig::new();
    config.name(name.clone()).uuid(manifest.uuid.as_str()).cache_dir(args.data_dir.join("cache")).realtime_policy(args.realtime_policy).best_effort_cpu(args.best_effort_cpu);
    let host = Host::new(config)?;
    let mut data = MqttConfig::from_url(&args.broker)?;
    data.client_id(format!("sl-data-{name}"));
    let backend = MqttBackend::connect(&data, host.router().remote_sink()).context("data plane")?;
    host.router().attach_remote(backend.clone());

    let rt = tokio::runtime::Runtime::new()?;
    let agent_config = AgentConfig {
        broker: args.broker.clone(),
        host: manifest,
        platform: platform(&args),
        status_interval: args.status_interval,
        blob_dir: Some(args.data_dir.join("blobs")),
    };
    let agent = Agent::start(host.clone(), agent_config, rt.handle())?;
    println!("host `{name}` joined {}", args.broker);
    if let Some(listen) = args.metrics_listen {
        let addr = agent.serve_metrics(listen)?; // issue 8
        println!("metrics    http://{addr}/metrics");
    }
    rt.block_on(async {
        tokio::signal::ctrl_c().await.ok();
        agent.shutdown(&name).await;
    });
    host.shutdown();
    Ok(0)
}

fn platform(args: &HostArgs) -> PlatformManifest {
    let mut p = PlatformManifest::probe();
    if args.platform_id.is_some() {
        p.id = args.platform_id.clone();
    }
    p
}

/// The given manifest, or the one generated on an earlier run, or a new one (saved).
fn host_manifest(args: &HostArgs) -> anyhow::Result<HostManifest> {
    let saved = args.data_dir.join("host.json");
    let mut m = match (&args.manifest, saved.exists()) {
        (Some(file), _) => HostManifest::from_file(file).map_err(|e| anyhow::anyhow!("{e}"))?,
        (None, true) => HostManifest::from_file(&saved).map_err(|e| anyhow::anyhow!("{e}"))?,
        (None, false) => {
            let default_name = args.name.clone().unwrap_or_else(hostname);
            let mut m = HostManifest::generate(&default_name);
            m.apis = HOST_APIS.iter().map(|s| s.to_string()).collect();
            m
        }
    };
    if let Some(name) = &args.name {
        m.name = name.clone();
    }
    for tag in &args.tags {
        if !m.metadata.tags.contains(tag) {
            m.metadata.tags.push(tag.clone());
        }
    }
    if args.platform_id.is_some() {
        m.metadata.platform_id = args.platform_id.clone();
    }
    save(&saved, &m)?;
    Ok(m)
}

fn save(path: &Path, m: &HostManifest) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, m.to_json()).with_context(|| format!("saving {}", path.display()))
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname").map(|s| s.trim().to_string()).ok().filter(|s| !s.is_empty()).unwrap_or_else(|| "host".into())
}
