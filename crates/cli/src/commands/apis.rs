//! The flags `silverline host` and `silverline run` share to choose the optional system APIs a
//! Host offers beyond the built-in ones (docs/extending.md). A Host advertises exactly what is
//! registered here.

use anyhow::Context;
use silverline_host::HostConfig;
use std::path::PathBuf;
use std::sync::Arc;

/// Optional APIs of a Host.
#[derive(clap::Args, Debug, Clone)]
pub struct ApiArgs {
    /// Offer the vehicle signal API `sl:vss` (docs/vss.md) over the signals of this VSS JSON
    /// catalog (a COVESA `vss-tools` JSON export), kept in this Host.
    #[arg(long, value_name = "FILE", conflicts_with = "vss_broker")]
    pub vss_catalog: Option<PathBuf>,
    /// Offer `sl:vss` over the signals of a VSS databroker (`silverline vss-broker`, or any
    /// server of Kuksa's `kuksa.val.v2` API), shared with the other Hosts and tools using it:
    /// `http://HOST:PORT`. Its catalog comes from the broker.
    #[arg(long, value_name = "URL")]
    pub vss_broker: Option<String>,
    /// The databroker's bearer token, in this file (`silverline vss-broker --token-file`).
    #[arg(long, value_name = "FILE", requires = "vss_broker")]
    pub vss_token_file: Option<PathBuf>,
    /// How long a module's `sl:vss` call waits for the databroker before it gets
    /// `SL_VSS_EUNAVAILABLE` (then calls fail at once for a second): well below the activation
    /// watchdog, so that a silent broker never gets a module stopped.
    #[arg(long, default_value = "250ms", value_parser = humantime::parse_duration, requires = "vss_broker")]
    pub vss_timeout: std::time::Duration,
}

impl ApiArgs {
    /// Register the chosen APIs.
    pub fn apply(&self, config: &mut HostConfig) -> anyhow::Result<()> {
        if let Some(file) = &self.vss_catalog {
            let catalog = load_catalog(file)?;
            config.api(Arc::new(silverline_vss::VssApi::new(silverline_vss::LocalStore::new(catalog))))?;
        }
        if let Some(url) = &self.vss_broker {
            let token = match &self.vss_token_file {
                Some(file) => Some(std::fs::read_to_string(file).with_context(|| format!("reading the VSS token file {}", file.display()))?.trim().to_string()),
                None => None,
            };
            let store = silverline_vss_broker::RemoteStore::connect(url, token.as_deref(), self.vss_timeout)
                .with_context(|| format!("connecting to the VSS databroker {url}"))?;
            config.api(Arc::new(silverline_vss::VssApi::new(store)))?;
        }
        Ok(())
    }
}

/// A VSS catalog, saying what of it cannot be held (arrays, struct types).
pub fn load_catalog(file: &std::path::Path) -> anyhow::Result<silverline_vss::Catalog> {
    let catalog = silverline_vss::Catalog::from_file(file)?;
    if let Some((path, datatype)) = catalog.skipped().first() {
        tracing::warn!("{}: {} signals left out (datatypes that are not scalars, e.g. `{path}`: {datatype})", file.display(), catalog.skipped().len());
    }
    Ok(catalog)
}

/// Refuse a host manifest that promises an API this Host does not register.
pub fn check_advertised(manifest: &[String], registered: &[String]) -> anyhow::Result<()> {
    let missing: Vec<&String> = manifest.iter().filter(|a| !registered.contains(a)).collect();
    anyhow::ensure!(
        missing.is_empty(),
        "the host manifest lists {}, which this Host does not offer (it offers {}; `--vss-catalog FILE` or `--vss-broker URL` adds `sl:vss`)",
        missing.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", "),
        registered.join(", ")
    );
    Ok(())
}
