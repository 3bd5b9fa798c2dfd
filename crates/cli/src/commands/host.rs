//! `silverline host`: a Host as its own process, joined to an Orchestrator's control plane.

use crate::client::{api_url, Api};
use anyhow::Context;
use silverline_agent::{Agent, AgentConfig, HostSecurity};
use silverline_security::credentials::HostCredentials;
use silverline_security::Principal;
use silverline_channels::{MqttBackend, MqttConfig};
use silverline_host::{Host, HostConfig};
use silverline_manifest::{HostManifest, PlatformManifest};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `silverline host [FLAGS]` runs a Host; `silverline host enroll NAME` issues its credentials.
#[derive(clap::Args, Clone)]
#[command(args_conflicts_with_subcommands = true)]
pub struct HostCommand {
    #[command(subcommand)]
    enroll: Option<HostSubcommand>,
    #[command(flatten)]
    run: HostArgs,
}

#[derive(clap::Subcommand, Clone)]
enum HostSubcommand {
    /// Ask the Orchestrator (as admin) for a Host's credentials and write them to a file.
    Enroll(EnrollArgs),
}

/// Arguments of `silverline host enroll`.
#[derive(clap::Args, Clone)]
pub struct EnrollArgs {
    /// The Host's name.
    name: String,
    /// Where to write the credentials (mode 0600).
    #[arg(long, default_value = "credentials.json")]
    out: PathBuf,
    /// The broker address as this Host reaches it, if not the Orchestrator's own view.
    #[arg(long)]
    broker: Option<String>,
    /// The blob registry URL as this Host reaches it, if not the Orchestrator's own view.
    #[arg(long)]
    registry: Option<String>,
    /// Orchestrator REST API.
    #[arg(long)]
    api: Option<String>,
}

/// How this Host joins the system.
#[derive(clap::Args, Clone)]
pub struct HostArgs {
    /// MQTT broker of the control plane (and of channels between Hosts).
    /// Default: the broker named in the credentials, else mqtt://127.0.0.1:1883.
    #[arg(long)]
    pub broker: Option<String>,
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
    #[command(flatten)]
    pub timing: super::timing::TimingArgs,
    #[command(flatten)]
    pub capacity: super::capacity::CapacityArgs,
    #[command(flatten)]
    pub apis: super::apis::ApiArgs,
    /// Serve this Host's metrics (Prometheus text format) at http://ADDR/metrics, e.g. 127.0.0.1:9464.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Credentials from `silverline host enroll` (default: `<data-dir>/credentials.json`).
    #[arg(long, value_name = "FILE")]
    pub credentials: Option<PathBuf>,
    /// Run without credentials: anonymous on the broker, unsigned commands accepted from anyone.
    /// Only for experiments with an Orchestrator started with `--insecure-no-auth`.
    #[arg(long)]
    pub insecure_no_auth: bool,
    /// `require`: run only modules signed by a publisher in `--trust-publisher`; `optional`:
    /// unsigned modules run too (a signature that is present must verify).
    #[arg(long, default_value = "optional")]
    pub module_signatures: silverline_security::provenance::TrustPolicy,
    /// A module publisher's public key (hex, from `silverline keygen`), or a file holding one.
    #[arg(long, value_name = "KEY")]
    pub trust_publisher: Vec<String>,
    /// A host directory that manifests may preopen for modules (with everything below it);
    /// repeatable. Default: only `<data-dir>/files`.
    #[arg(long, value_name = "DIR")]
    pub allow_dir: Vec<PathBuf>,
}

pub fn run(cmd: HostCommand) -> anyhow::Result<i32> {
    match cmd.enroll {
        Some(HostSubcommand::Enroll(e)) => enroll(e),
        None => serve(cmd.run),
    }
}

fn enroll(args: EnrollArgs) -> anyhow::Result<i32> {
    let api = Api::new(api_url(args.api.as_deref()));
    let body = serde_json::json!({ "broker": args.broker, "registry": args.registry });
    let creds = api.send("POST", &format!("/v1/hosts/{}/enroll", args.name), "application/json", body.to_string().as_bytes())?;
    let creds: HostCredentials = serde_json::from_value(creds).context("the Orchestrator's answer is not a credentials file")?;
    creds.save(&args.out)?;
    println!("{}", args.out.display());
    eprintln!("host `{}` enrolled: start it with `silverline host --name {} --credentials {}`", args.name, args.name, args.out.display());
    Ok(0)
}

/// The Host's security settings, from its credentials file and flags.
fn security(args: &HostArgs, name: &str) -> anyhow::Result<Option<HostSecurity>> {
    if args.insecure_no_auth {
        eprintln!("WARNING: --insecure-no-auth: this Host accepts unsigned commands from anyone who reaches the broker, and runs them.");
        return Ok(None);
    }
    let file = args.credentials.clone().unwrap_or_else(|| args.data_dir.join("credentials.json"));
    anyhow::ensure!(
        file.exists(),
        "this Host has no credentials ({} does not exist): enrol it with `silverline host enroll {name} --out {}`, or pass --credentials FILE",
        file.display(),
        file.display()
    );
    let credentials = HostCredentials::load(&file)?;
    anyhow::ensure!(credentials.host == name, "{} holds the credentials of host `{}`, not `{name}`", file.display(), credentials.host);
    let publishers = args.trust_publisher.iter().map(|k| read_key(k)).collect::<anyhow::Result<Vec<_>>>()?;
    let files = args.data_dir.join("files");
    std::fs::create_dir_all(&files)?;
    let allowed_dirs = if args.allow_dir.is_empty() { vec![files] } else { args.allow_dir.clone() };
    Ok(Some(HostSecurity { credentials, trust: args.module_signatures, publishers, allowed_dirs, state_dir: args.data_dir.clone() }))
}

/// A public key given inline (hex) or in a file.
fn read_key(arg: &str) -> anyhow::Result<String> {
    let text = if Path::new(arg).exists() { std::fs::read_to_string(arg)? } else { arg.to_string() };
    silverline_security::signing::public_key(&text)?;
    Ok(text.trim().to_string())
}

fn serve(args: HostArgs) -> anyhow::Result<i32> {
    let mut manifest = host_manifest(&args)?;
    let name = manifest.name.clone();
    let mut config = HostConfig::new();
    config.name(name.clone()).uuid(manifest.uuid.as_str()).cache_dir(args.data_dir.join("cache"));
    args.timing.apply(&mut config);
    args.capacity.apply(manifest.metadata.max_modules, &mut config);
    let security = security(&args, &name)?;
    let broker = args.broker.clone().or_else(|| security.as_ref().map(|s| s.credentials.broker.clone())).unwrap_or_else(|| "mqtt://127.0.0.1:1883".into());
    args.apis.apply(&mut config)?;
    let host = Host::new(config)?;
    if args.manifest.is_some() {
        super::apis::check_advertised(&manifest.apis, &host.apis())?;
    }
    // The Orchestrator places modules by what a Host registered, never by a stale list.
    manifest.apis = host.apis();
    // The Orchestrator places no more modules here than the Host holds.
    manifest.metadata.max_modules = Some(host.module_slots());
    let mut data = MqttConfig::from_url(&broker)?;
    data.client_id(format!("sl-data-{name}")).io_priority(args.timing.io_priority());
    if let Some(s) = &security {
        data.login(Principal::HostData(name.clone()).username(), s.credentials.data_password.clone());
        if let Some(ca) = &s.credentials.ca {
            data.tls(silverline_security::tls::client_config(ca.as_bytes())?);
        }
    }
    let backend = MqttBackend::connect(&data, host.router().remote_sink()).context("data plane")?;
    host.router().attach_remote(backend.clone());

    let rt = tokio::runtime::Runtime::new()?;
    let agent_config = AgentConfig {
        broker: broker.clone(),
        host: manifest,
        platform: platform(&args),
        status_interval: args.status_interval,
        blob_dir: Some(args.data_dir.join("blobs")),
        security,
    };
    let agent = Agent::start(host.clone(), agent_config, rt.handle())?;
    println!("host `{name}` joined {broker}");
    if let Some(listen) = args.metrics_listen {
        let addr = agent.serve_metrics(listen)?;
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
            HostManifest::generate(&default_name)
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
