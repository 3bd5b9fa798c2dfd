//! `silverline broker acl`: silverline's access policy as files for an external Mosquitto.

use silverline_orchestrator::auth::{AuthMode, Security};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Arguments of `silverline broker`.
#[derive(clap::Args)]
pub struct BrokerArgs {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Write Mosquitto's password file, ACL file and a configuration that uses them.
    Acl {
        /// The Orchestrator's data directory (the same `--data-dir` it runs with).
        #[arg(long, default_value = ".silverline")]
        data_dir: PathBuf,
        /// Where Mosquitto listens.
        #[arg(long, default_value = "127.0.0.1:1883")]
        listen: SocketAddr,
    },
}

pub fn run(args: BrokerArgs) -> anyhow::Result<i32> {
    let Action::Acl { data_dir, listen } = args.action;
    let security = Security::open(&data_dir.join("orchestrator"), AuthMode::Secured)?;
    let dir = data_dir.join("orchestrator").join("mosquitto");
    security.users().write_mosquitto_files(&dir)?;
    let conf = dir.join("mosquitto.conf");
    let text = silverline_security::mosquitto::config(listen, &dir.join("passwd"), &dir.join("acl"));
    silverline_security::secret::write_private(&conf, text.as_bytes())?;
    println!("{}", conf.display());
    eprintln!("start Mosquitto with `mosquitto -c {}`, and the Orchestrator with `--broker mqtt://{listen} --data-dir {}`;", conf.display(), data_dir.display());
    eprintln!("the Orchestrator rewrites {}/passwd and acl whenever it enrols a Host: send Mosquitto SIGHUP to reload them", dir.display());
    Ok(0)
}
