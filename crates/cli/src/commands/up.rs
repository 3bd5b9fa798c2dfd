//! `silverline up`: the all-in-one. The Orchestrator with its embedded broker in this process,
//! N Hosts as child processes, and with `--demo` a demo application deployed onto them (the
//! sunroof demo also runs a VSS databroker here, which its Hosts share).

use super::orchestrator::OrchestratorArgs;
use crate::client::Api;
use anyhow::Context;
use silverline_manifest::ApplicationManifest;
use silverline_orchestrator::Orchestrator;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Arguments of `silverline up`.
#[derive(clap::Args)]
pub struct UpArgs {
    /// How many local Hosts to start.
    #[arg(long, default_value_t = 2)]
    hosts: u32,
    /// Deploy a demo application once the Hosts are up: `pipeline` (the default: sensor →
    /// filter → sink) or `sunroof` (the paper's automotive case study: a VSS databroker, Hosts
    /// `vcu` and `zcu` on it, knob, controller and motor; docs/vss.md).
    #[arg(long, value_name = "DEMO", num_args = 0..=1, default_missing_value = "pipeline")]
    demo: Option<Demo>,
    /// Where the sunroof demo's VSS databroker listens (Kuksa's gRPC API).
    #[arg(long, default_value = "127.0.0.1:55555")]
    vss_listen: std::net::SocketAddr,
    /// Also start the ORT Host (named `ort`, tagged `ort`) that carries the failover sidecars of
    /// replicated modules (docs/failover.md).
    #[arg(long)]
    ort: bool,
    /// An argument for every Host started (repeatable), e.g.
    /// `--host-arg=--realtime-policy --host-arg=fifo` or `--host-arg=--best-effort-cpu=0.5`.
    #[arg(long = "host-arg", value_name = "ARG", allow_hyphen_values = true)]
    host_args: Vec<String>,
    #[command(flatten)]
    orchestrator: OrchestratorArgs,
}

/// The demos of `up --demo`.
#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq, Debug)]
enum Demo {
    Pipeline,
    Sunroof,
}

/// The sunroof example in this source tree: its modules are C, built with the tree's Makefile.
const SUNROOF_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/sunroof");

/// The demo application, compiled into the binary so `up --demo` works from any directory.
const DEMO: [(&str, &str); 4] = [
    ("app.yaml", include_str!("../../../../examples/pipeline/app.yaml")),
    ("sensor.wat", include_str!("../../../../examples/pipeline/sensor.wat")),
    ("filter.wat", include_str!("../../../../examples/pipeline/filter.wat")),
    ("sink.wat", include_str!("../../../../examples/pipeline/sink.wat")),
];

pub fn run(args: UpArgs) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Runtime::new()?;
    let o = rt.block_on(Orchestrator::start(args.orchestrator.config()?))?;
    let api_url = o.api_url();
    println!("REST API   {api_url}   (export SILVERLINE_API={api_url})");
    println!("MQTT       {}", o.broker_url());
    args.orchestrator.announce_auth();
    args.orchestrator.write_ca(&o)?;
    let secured = !args.orchestrator.insecure_no_auth;
    if secured {
        let observer = args.orchestrator.data_dir.join("mqtt-observer.txt");
        o.security().write_observer(&observer)?;
        println!("observer   {}   (USERNAME PASSWORD of a read-only MQTT client of application data)", observer.display());
    }
    let mut hosts = HostProcesses::default();
    let vss = match args.demo {
        Some(Demo::Sunroof) => Some(SunroofDemo::start(&args)?),
        _ => None,
    };
    let mut extra: Vec<&str> = args.host_args.iter().map(String::as_str).collect();
    if let Some(v) = &vss {
        extra.extend(["--vss-broker", &v.url, "--vss-token-file", &v.token_file]);
    }
    let mut names: Vec<(String, Vec<&str>)> = (1..=args.hosts).map(|i| (host_name(args.demo, i), extra.clone())).collect();
    if vss.is_some() {
        // Tagged as named (host_name): the sunroof's manifest places by these tags.
        for ((_, flags), tag) in names.iter_mut().zip(["vcu", "zcu"]) {
            flags.extend(["--tags", tag]);
        }
    }
    if args.ort {
        names.push(("ort".into(), ["--tags", "ort"].into_iter().chain(extra.iter().copied()).collect()));
    }
    for (name, flags) in &names {
        let dir = args.orchestrator.data_dir.join("hosts").join(name);
        let mut flags = flags.clone();
        let creds = dir.join("credentials.json");
        if secured {
            o.enroll(name)?.save(&creds)?;
            flags.extend(["--credentials", creds.to_str().context("data dir path is not UTF-8")?]);
        } else {
            flags.push("--insecure-no-auth");
        }
        hosts.spawn(name, o.broker_url(), &dir, &flags)?;
    }
    let all = args.hosts as usize + usize::from(args.ort);
    wait_hosts(&o, all)?;
    println!("hosts      {all} online");
    if secured {
        let login = o.security().login_token(silverline_security::Role::Admin, std::time::Duration::from_secs(600))?;
        println!("dashboard  {api_url}/?login={login}");
    } else {
        println!("dashboard  {api_url}/");
    }
    if let Some(demo) = args.demo {
        let token = std::fs::read_to_string(args.orchestrator.admin_token_file()).ok().map(|t| t.trim().to_string());
        let app = deploy_demo(demo, &api_url, token, &args.orchestrator.data_dir)?;
        println!("demo       application `{app}` deployed: `silverline get modules` shows it");
    }
    if let Some(v) = &vss {
        v.announce();
    }
    println!("Ctrl-C stops everything.");
    rt.block_on(async { tokio::signal::ctrl_c().await.ok() });
    Ok(0)
}

/// Child Host processes, killed when this process ends.
#[derive(Default)]
struct HostProcesses(Vec<Child>);

impl HostProcesses {
    fn spawn(&mut self, name: &str, broker: &str, dir: &std::path::Path, extra: &[&str]) -> anyhow::Result<()> {
        let exe = std::env::current_exe()?;
        let mut cmd = Command::new(exe);
        cmd.args(["host", "--broker", broker, "--name", name, "--data-dir"]).arg(dir).args(extra);
        die_with_parent(&mut cmd);
        let child = cmd
            .spawn()
            .with_context(|| format!("starting host `{name}`"))?;
        println!("host {name} pid {}", child.id()); // tests (and operators) can find a Host to kill
        self.0.push(child);
        Ok(())
    }
}

/// The Hosts of `up` end with it even when it is killed (SIGKILL runs no destructor).
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl(PR_SET_PDEATHSIG) is async-signal-safe and touches no memory of the parent;
    // it is all that runs between fork and exec here.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_: &mut Command) {}

impl Drop for HostProcesses {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wait_hosts(o: &Orchestrator, n: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while o.core().hosts().iter().filter(|h| h.online).count() < n {
        anyhow::ensure!(Instant::now() < deadline, "the local Hosts did not register within 30 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Host `i` (from 1) of `up`; the sunroof demo's first two are the vehicle computer and the
/// zone controller.
fn host_name(demo: Option<Demo>, i: u32) -> String {
    match (demo, i) {
        (Some(Demo::Sunroof), 1) => "vcu".into(),
        (Some(Demo::Sunroof), 2) => "zcu".into(),
        _ => format!("host-{i}"),
    }
}

/// The sunroof demo's databroker, in this process, and how Hosts and tools reach it.
struct SunroofDemo {
    broker: silverline_vss_broker::BrokerHandle,
    url: String,
    token_file: String,
}

impl SunroofDemo {
    fn start(args: &UpArgs) -> anyhow::Result<SunroofDemo> {
        anyhow::ensure!(args.hosts >= 2, "the sunroof demo needs two Hosts (vcu and zcu): --hosts 2 or more");
        let token_file = args.orchestrator.data_dir.join("vss-token");
        let auth = match args.orchestrator.insecure_no_auth {
            true => silverline_vss_broker::Auth::None,
            false => super::vss_broker::token_auth(&token_file)?,
        };
        let broker = super::vss_broker::start(&std::path::Path::new(SUNROOF_DIR).join("vss.json"), args.vss_listen, auth)?;
        let url = broker.url();
        println!("VSS        {url}   (Kuksa's kuksa.val.v1/v2 gRPC API)");
        let token_file = token_file.to_str().context("data dir path is not UTF-8")?.to_string();
        Ok(SunroofDemo { broker, url, token_file })
    }

    fn announce(&self) {
        let port = self.broker.addr().port();
        println!("sunroof    the roof follows the simulated knob; read it with Kuksa's client:");
        println!("           kuksa-client --token_or_tokenfile {} grpc://127.0.0.1:{port}   then: getValue Vehicle.Cabin.Sunroof.Position", self.token_file);
    }
}

/// Build the sunroof's modules in the source tree (clang for wasm32-wasi, as the tests do).
fn build_sunroof() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::path::Path::new(SUNROOF_DIR).join("c");
    anyhow::ensure!(dir.exists(), "the sunroof demo builds its modules from {}, which this machine does not have (a silverline built from a source checkout runs it)", dir.display());
    let out = Command::new("make").arg("-C").arg(&dir).output().context("running make for the sunroof modules")?;
    anyhow::ensure!(
        out.status.success(),
        "building the sunroof modules failed (they need clang, lld, wasi-libc and libclang-rt-dev-wasm32):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(std::path::Path::new(SUNROOF_DIR).join("app.yaml"))
}

/// The pipeline demo's files, written where the Orchestrator's data lives.
fn write_pipeline(data_dir: &std::path::Path) -> anyhow::Result<std::path::PathBuf> {
    let dir = data_dir.join("demo");
    std::fs::create_dir_all(&dir)?;
    for (file, text) in DEMO {
        std::fs::write(dir.join(file), text)?;
    }
    Ok(dir.join("app.yaml"))
}

fn deploy_demo(demo: Demo, api_url: &str, token: Option<String>, data_dir: &std::path::Path) -> anyhow::Result<String> {
    let file = match demo {
        Demo::Pipeline => write_pipeline(data_dir)?,
        Demo::Sunroof => build_sunroof()?,
    };
    let manifest = ApplicationManifest::from_file(&file).map_err(|e| anyhow::anyhow!("{e}"))?;
    let http = silverline_security::tls::http_agent(std::fs::read(data_dir.join("ca.pem")).ok().as_deref())?;
    let api = Api::with_agent(api_url.to_string(), token, http);
    let name = manifest.name.as_str().to_string();
    if api.find(&format!("/v1/apps/{name}"))?.is_some() {
        return Ok(name); // kept from an earlier run (state persists under --data-dir)
    }
    super::deploy::submit(&api, &manifest, "POST", "/v1/apps")?;
    Ok(name)
}
