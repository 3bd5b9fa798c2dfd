//! `silverline update app.yaml [--auto]`: stage changed modules as shadows next to the running
//! versions (outputs inactive); switch them over with `silverline switchover`, or let `--auto`
//! do it after a validation window.

use crate::client::{api_url, Api};
use silverline_manifest::ApplicationManifest;
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `silverline update`.
#[derive(clap::Args)]
pub struct UpdateArgs {
    /// The changed application manifest.
    file: PathBuf,
    /// Switch every staged shadow over by itself once it ran healthily for `--validate`.
    #[arg(long)]
    auto: bool,
    /// Validation window before an automatic switchover.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    validate: Duration,
    /// How long the previous version is kept for `switchover --back` after an automatic switch.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    keep: Duration,
    /// Orchestrator REST API.
    #[arg(long)]
    api: Option<String>,
}

pub fn run(args: UpdateArgs) -> anyhow::Result<i32> {
    let api = Api::new(api_url(args.api.as_deref()));
    let manifest = ApplicationManifest::from_file(&args.file).map_err(|e| anyhow::anyhow!("{e}"))?;
    manifest.check_files().map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut path = format!("/v1/apps/{}", manifest.name);
    if args.auto {
        path += &format!("?switchover=auto&validate={}&keep={}", humantime::format_duration(args.validate), humantime::format_duration(args.keep))
            .replace(' ', "");
    }
    let app = super::deploy::submit(&api, &manifest, "PUT", &path)?;
    let staged: Vec<&serde_json::Value> = app["modules"].as_array().into_iter().flatten().filter(|m| m["role"] == "shadow").collect();
    if staged.is_empty() {
        println!("`{}`: nothing changed that needs a shadow", manifest.name);
    }
    for m in staged {
        println!("staged {} on {} (outputs inactive){}", m["id"].as_str().unwrap_or("?"), m["host"].as_str().unwrap_or("?"),
            if args.auto { "; switches over by itself when healthy" } else { "; `silverline switchover` when ready" });
    }
    Ok(0)
}
