//! `silverline orchestrator`: the Orchestrator with its REST API and (by default) embedded broker.

use silverline_manifest::TopologyManifest;
use silverline_orchestrator::auth::AuthMode;
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
    /// Check nobody: no tokens on the REST API, anonymous clients on the broker, unsigned
    /// commands accepted by Hosts started with it. Only for experiments on a machine nobody
    /// else can reach.
    #[arg(long)]
    pub insecure_no_auth: bool,
    /// REST requests per second allowed from one client address (twice that in a burst); more
    /// get 429.
    #[arg(long, default_value_t = 200.0, value_name = "PER_SECOND")]
    pub rate_limit: f64,
    /// Serve the REST API (https://) and the embedded broker (mqtts://) with TLS: the PEM
    /// certificate chain (with `--tls-key`).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's PEM private key.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The PEM of the CA that signed the certificate, given to Hosts at enrolment (default:
    /// the certificate itself, for a self-signed one).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_ca: Option<PathBuf>,
    /// What the embedded broker keeps of each topic for subscribers that lag behind (e.g. 4MiB);
    /// beyond it the oldest messages are dropped. Bounds the broker's memory per topic.
    #[arg(long, value_name = "BYTES", default_value = "4MiB", value_parser = super::capacity::parse_bytes)]
    pub broker_topic_buffer: u64,
    /// Most bytes of uploaded module blobs kept (e.g. 4GiB); an upload beyond is refused (507).
    #[arg(long, value_name = "BYTES", default_value = "4GiB", value_parser = super::capacity::parse_bytes)]
    pub blob_quota: u64,
    /// SCHED_FIFO priority (1-99) of the embedded broker's threads, so heartbeats and leases
    /// between Hosts pass it on a busy machine; `off` keeps them in the normal class.
    #[arg(long, value_name = "PRIORITY|off", default_value = "10", value_parser = super::timing::parse_io_priority)]
    pub broker_priority: super::timing::IoPriority,
}

impl OrchestratorArgs {
    pub fn config(&self) -> anyhow::Result<OrchestratorConfig> {
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => {
                anyhow::ensure!(!self.insecure_no_auth, "--tls-cert with --insecure-no-auth: TLS needs enrolled Hosts (they receive the CA with their credentials)");
                Some(silverline_security::tls::TlsFiles { cert: cert.clone(), key: key.clone(), ca: self.tls_ca.clone() })
            }
            _ => None,
        };
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
            auth: if self.insecure_no_auth { AuthMode::InsecureNoAuth } else { AuthMode::Secured },
            admin_token_file: Some(self.admin_token_file()),
            rate_limit: silverline_orchestrator::limits::RateLimit { per_second: self.rate_limit, burst: 2.0 * self.rate_limit },
            tls,
            broker_topic_buffer: self.broker_topic_buffer as usize,
            blob_quota: self.blob_quota,
            broker_priority: self.broker_priority.0,
        })
    }

    /// Where the first admin token is written.
    pub fn admin_token_file(&self) -> PathBuf {
        self.data_dir.join("admin.token")
    }

    /// Keep the CA a TLS-serving Orchestrator's clients need in `<data-dir>/ca.pem`, where a
    /// local CLI finds it.
    pub fn write_ca(&self, o: &Orchestrator) -> anyhow::Result<()> {
        if let Some(pem) = o.ca_pem() {
            let file = self.data_dir.join("ca.pem");
            std::fs::create_dir_all(&self.data_dir)?;
            std::fs::write(&file, pem)?;
            println!("TLS CA    {}   (the CLI trusts it from there, or from SILVERLINE_CA)", file.display());
        }
        Ok(())
    }

    /// Say loudly what `--insecure-no-auth` means, or where the admin token is.
    pub fn announce_auth(&self) {
        if self.insecure_no_auth {
            eprintln!("WARNING: --insecure-no-auth: NO AUTHENTICATION. Anyone who can reach the REST API or the MQTT broker can deploy and run code here.");
        } else {
            println!("admin token {}   (the CLI reads it from there, or from SILVERLINE_TOKEN)", self.admin_token_file().display());
        }
    }
}

pub fn run(args: OrchestratorArgs) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let o = Orchestrator::start(args.config()?).await?;
        println!("orchestrator: REST API on {}  MQTT broker {}", o.api_url(), o.broker_url());
        args.announce_auth();
        args.write_ca(&o)?;
        tokio::signal::ctrl_c().await?;
        Ok(0)
    })
}
