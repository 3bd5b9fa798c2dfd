//! The `silverline` binary: one clap enum, one file per subcommand, all logic in library crates.

mod client;
mod commands;
mod style;
mod table;

use clap::{Parser, Subcommand};

/// Run and orchestrate WebAssembly modules across distributed real-time systems.
#[derive(Parser)]
#[command(name = "silverline", version, about)]
struct Cli {
    /// Log filter (tracing syntax), e.g. `info` or `silverline_host=debug`.
    #[arg(long, global = true, env = "SILVERLINE_LOG", default_value = "warn,rumqttd=off")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// All in one: an Orchestrator with its broker and N local Hosts (`--demo` deploys an app).
    Up(commands::up::UpArgs),
    /// Run the Orchestrator (REST API, control plane, embedded MQTT broker).
    Orchestrator(commands::orchestrator::OrchestratorArgs),
    /// Run a Host that joins an Orchestrator's control plane (`host enroll NAME`: issue its credentials).
    Host(commands::host::HostCommand),
    /// Issue, list and revoke REST API tokens (admin).
    Token(commands::token::TokenArgs),
    /// Files for an external Mosquitto broker (`broker acl`).
    Broker(commands::broker::BrokerArgs),
    /// Run the vehicle signal databroker (Kuksa's gRPC API) that Hosts share with `--vss-broker`.
    VssBroker(commands::vss_broker::VssBrokerArgs),
    /// Make a module publisher's signing key (prints the public key).
    Keygen(commands::sign::KeygenArgs),
    /// Sign a module as its publisher.
    Sign(commands::sign::SignArgs),
    /// Submit an application manifest to the Orchestrator.
    Deploy(commands::deploy::DeployArgs),
    /// List applications, Hosts or modules.
    Get(commands::get::GetArgs),
    /// Delete an application.
    Delete(commands::delete::DeleteArgs),
    /// Print the Orchestrator's event stream (history; `--follow` for live events).
    Logs(commands::logs::LogsArgs),
    /// Stage a changed application: changed modules run as shadows, outputs inactive.
    Update(commands::update::UpdateArgs),
    /// Hand a module over to its staged shadow on a period boundary (or `--back`).
    Switchover(commands::switchover::SwitchoverArgs),
    /// Run an application on one local Host, or a bare WASI command module.
    Run(commands::run::RunArgs),
    /// Check a manifest (application, host, platform or topology) and report every error.
    Validate(commands::validate::ValidateArgs),
    /// Print this machine's platform manifest, probed from the OS.
    Platform(commands::platform::PlatformArgs),
    /// Measure the Host: instantiation, host calls, loopback vs broker, publish overhead.
    Bench(commands::bench::BenchArgs),
}

impl Command {
    /// Commands whose output is often piped into `head` or `grep -q`. Long-running ones keep
    /// Rust's default (SIGPIPE ignored): their sockets must never kill the process.
    fn prints_for_pipes(&self) -> bool {
        matches!(self, Command::Get(_) | Command::Logs(_) | Command::Validate(_) | Command::Platform(_) | Command::Token(_))
    }
}

/// A reader that went away (`silverline get modules | head`) ends the process the way it ends
/// `ls`, silently, instead of a panic in `println!`.
#[allow(unsafe_code)]
fn end_quietly_on_closed_pipe() {
    // SAFETY: called first thing in `main`, before any thread exists; restores the default
    // disposition of one signal.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() {
    let cli = Cli::parse();
    if cli.command.prints_for_pipes() {
        end_quietly_on_closed_pipe();
    }
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&cli.log).unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Up(args) => commands::up::run(args),
        Command::Orchestrator(args) => commands::orchestrator::run(args),
        Command::Host(args) => commands::host::run(args),
        Command::Token(args) => commands::token::run(args),
        Command::Broker(args) => commands::broker::run(args),
        Command::VssBroker(args) => commands::vss_broker::run(args),
        Command::Keygen(args) => commands::sign::keygen(args),
        Command::Sign(args) => commands::sign::sign(args),
        Command::Deploy(args) => commands::deploy::run(args),
        Command::Get(args) => commands::get::run(args),
        Command::Delete(args) => commands::delete::run(args),
        Command::Logs(args) => commands::logs::run(args),
        Command::Update(args) => commands::update::run(args),
        Command::Switchover(args) => commands::switchover::run(args),
        Command::Run(args) => commands::run::run(args),
        Command::Validate(args) => commands::validate::run(args),
        Command::Platform(args) => commands::platform::run(args),
        Command::Bench(args) => commands::bench::run(args),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}
