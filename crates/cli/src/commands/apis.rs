//! The flags `silverline host` and `silverline run` share to choose the optional system APIs a
//! Host offers beyond the built-in ones (docs/extending.md). A Host advertises exactly what is
//! registered here.

use silverline_host::HostConfig;
use std::path::PathBuf;
use std::sync::Arc;

/// Optional APIs of a Host.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ApiArgs {
    /// Offer the vehicle signal API `sl:vss` (docs/vss.md) over the signals of this VSS JSON
    /// catalog (a COVESA `vss-tools` JSON export), kept in this Host.
    #[arg(long, value_name = "FILE")]
    pub vss_catalog: Option<PathBuf>,
}

impl ApiArgs {
    /// Register the chosen APIs.
    pub fn apply(&self, config: &mut HostConfig) -> anyhow::Result<()> {
        if let Some(file) = &self.vss_catalog {
            let catalog = silverline_vss::Catalog::from_file(file)?;
            config.api(Arc::new(silverline_vss::VssApi::new(silverline_vss::LocalStore::new(catalog))))?;
        }
        Ok(())
    }
}

/// Refuse a host manifest that promises an API this Host does not register.
pub fn check_advertised(manifest: &[String], registered: &[String]) -> anyhow::Result<()> {
    let missing: Vec<&String> = manifest.iter().filter(|a| !registered.contains(a)).collect();
    anyhow::ensure!(
        missing.is_empty(),
        "the host manifest lists {}, which this Host does not offer (it offers {}; `--vss-catalog FILE` adds `sl:vss`)",
        missing.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", "),
        registered.join(", ")
    );
    Ok(())
}
