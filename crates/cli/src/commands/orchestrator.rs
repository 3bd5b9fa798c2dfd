//! `silverline orchestrator`: the Orchestrator with its REST API and (by default) embedded broker.

use silverline_manifest::TopologyManifest;
use silverline_orchestrator::{Orchestrator, OrchestratorConfig};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Where the Orchestrator listens and keeps its state.
#[derive(clap::Args, Clone)]
pub struct OrchestratorArgs {
    /// REST API address.
    #[arg(long, default_value = "127.0.0.1:7420")]
    pub listen: SocketAddr,
    /// Embedded MQTT broker address.
    #[arg(long, default_value = "127.0.0.1:1883")]
    pub mqtt_listen: SocketAddr,
    /// Use an external MQTT broker (`mqtt://HOST:PORT`) instead of the embedded one.
    #[arg(long)]
    pub broker: Option<String>,
    /// Where applications and module blobs are persisted.
    #[arg(long, default_value = ".silverline")]
    pub data_dir: PathBuf,
    /// A Host silent this long is lost and its modules are re-placed.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    pub host_timeout: std::time::Duration,
    /// A topology manifest (platforms and links with latency and bandwidth), used to bound the
    /// end-to-end latency of applications' chains; without it a hop between Hosts costs 1 ms.
    #[arg(long, value_name = "FILE")]
    pub topology: Option<PathBuf>,
}

impl OrchestratorArgs {
    pub fn config(&self) -> anyhow::Result<OrchestratorConfig> {
        let topology = match &self.topology {
            Some(path) => Some(TopologyManifest::from_file(path).map_err(|e| anyhow::anyhow!("{e}"))?),
            None => None,
        };
        Ok(OrchestratorConfig {
            listen: self.listen,
            mqtt_listen: self.mqtt_listen,
            broker: self.broker.clone(),
            data_dir: self.data_dir.join("orchestrator"),
            host_timeout: self.host_timeout,
            topology,
        })
    }
}

pub fn run(args: OrchestratorArgs) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let o = Orchestrator::start(args.config()?).await?;
        println!("orchestrator: REST API on http://{}  MQTT broker {}", o.api_addr(), o.broker_url());
        tokio::signal::ctrl_c().await?;
        Ok(0)
    })
}
