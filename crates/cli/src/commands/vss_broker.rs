//! `silverline vss-broker`: the vehicle signal databroker (Kuksa's `kuksa.val.v1`/`v2` gRPC API)
//! over a VSS catalog, which Hosts started with `--vss-broker URL` and Kuksa tools share.

use anyhow::Context;
use silverline_vss::SignalStore;
use silverline_vss_broker::Auth;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Arguments of `silverline vss-broker`.
#[derive(clap::Args)]
pub struct VssBrokerArgs {
    /// The signals it holds: a VSS JSON catalog (COVESA `vss-tools` export).
    #[arg(long, value_name = "FILE")]
    catalog: PathBuf,
    /// Where it listens for gRPC (Kuksa's default port is 55555).
    #[arg(long, default_value = "127.0.0.1:55555")]
    listen: SocketAddr,
    /// The bearer token clients must present; created with a random token when missing.
    #[arg(long, value_name = "FILE", default_value = ".silverline/vss-token")]
    token_file: PathBuf,
    /// Accept every client without a token (only on a network you trust).
    #[arg(long)]
    insecure_no_auth: bool,
}

/// Clients must present the token in `file`, made (owner-only, random) when it does not exist.
pub fn token_auth(file: &Path) -> anyhow::Result<Auth> {
    if !file.exists() {
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        silverline_security::secret::write_private(file, silverline_security::secret::random_secret("slvss_").as_bytes())?;
    }
    Auth::from_token_file(file)
}

/// Start the databroker on a runtime's thread: the handle stops it when dropped.
pub fn start(catalog: &Path, listen: SocketAddr, auth: Auth) -> anyhow::Result<silverline_vss_broker::BrokerHandle> {
    let catalog = super::apis::load_catalog(catalog)?;
    silverline_vss_broker::spawn(listen, silverline_vss::LocalStore::new(catalog), auth).with_context(|| format!("starting the VSS databroker on {listen}"))
}

pub fn run(args: VssBrokerArgs) -> anyhow::Result<i32> {
    let auth = match args.insecure_no_auth {
        true => Auth::None,
        false => token_auth(&args.token_file)?,
    };
    let broker = start(&args.catalog, args.listen, auth)?;
    let signals = broker.broker().values().catalog().signals().len();
    println!("VSS databroker {}   ({signals} signals of {})", broker.url(), args.catalog.display());
    match args.insecure_no_auth {
        true => println!("auth       none (--insecure-no-auth)"),
        false => println!("auth       bearer token in {}   (Hosts: --vss-broker {} --vss-token-file {})", args.token_file.display(), broker.url(), args.token_file.display()),
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async { tokio::signal::ctrl_c().await.ok() });
    broker.shutdown()?;
    Ok(0)
}
