//! The `silverline` binary: one clap enum, one file per subcommand, all logic in library crates.

mod commands;
mod table;

use clap::{Parser, Subcommand};

/// Run and orchestrate WebAssembly modules across distributed real-time systems.
#[derive(Parser)]
#[command(name = "silverline", version, about)]
struct Cli {
    /// Log filter (tracing syntax), e.g. `info` or `silverline_host=debug`.
    #[arg(long, global = true, env = "SILVERLINE_LOG", default_value = "warn")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run an application on one local Host, or a bare WASI command module.
    Run(commands::run::RunArgs),
    /// Check a manifest (application, host, platform or topology) and report every error.
    Validate(commands::validate::ValidateArgs),
    /// Print this machine's platform manifest, probed from the OS.
    Platform(commands::platform::PlatformArgs),
}

fn main() {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&cli.log).unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Run(args) => commands::run::run(args),
        Command::Validate(args) => commands::validate::run(args),
        Command::Platform(args) => commands::platform::run(args),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}
