//! `silverline up`: the all-in-one. The Orchestrator with its embedded broker in this process,
//! N Hosts as child processes, and with `--demo` the demo application deployed onto them.

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
    /// Deploy the demo application (sensor → filter → sink) once the Hosts are up.
    #[arg(long)]
    demo: bool,
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
    let extra: Vec<&str> = args.host_args.iter().map(String::as_str).collect();
    let mut names: Vec<(String, Vec<&str>)> = (1..=args.hosts).map(|i| (format!("host-{i}"), extra.clone())).collect();
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
    if args.demo {
        let token = std::fs::read_to_string(args.orchestrator.admin_token_file()).ok().map(|t| t.trim().to_string());
        let app = deploy_demo(&api_url, token, &args.orchestrator.data_dir)?;
        println!("demo       application `{app}` deployed: `silverline get modules` shows it");
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

fn deploy_demo(api_url: &str, token: Option<String>, data_dir: &std::path::Path) -> anyhow::Result<String> {
    let dir = data_dir.join("demo");
    std::fs::create_dir_all(&dir)?;
    for (file, text) in DEMO {
        std::fs::write(dir.join(file), text)?;
    }
    let manifest = ApplicationManifest::from_file(&dir.join("app.yaml")).map_err(|e| anyhow::anyhow!("{e}"))?;
    let http = silverline_security::tls::http_agent(std::fs::read(data_dir.join("ca.pem")).ok().as_deref())?;
    let api = Api::with_agent(api_url.to_string(), token, http);
    let name = manifest.name.as_str().to_string();
    if api.find(&format!("/v1/apps/{name}"))?.is_some() {
        return Ok(name); // kept from an earlier run (state persists under --data-dir)
    }
    super::deploy::submit(&api, &manifest, "POST", "/v1/apps")?;
    Ok(name)
}
