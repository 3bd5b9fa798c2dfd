//! `silverline switchover APP MODULE [--back]`: hand a module's outputs from the running version
//! to its staged shadow on a period boundary (or back to the previous version).

use crate::client::{api_url, Api};
use std::time::Duration;

/// Arguments of `silverline switchover`.
#[derive(clap::Args)]
pub struct SwitchoverArgs {
    /// Application.
    app: String,
    /// Module.
    module: String,
    /// Roll back: to the previous version after a switchover, or discard a staged shadow.
    #[arg(long)]
    back: bool,
    /// How long the previous version is kept for `--back`.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    keep: Duration,
    /// Orchestrator REST API.
    #[arg(long)]
    api: Option<String>,
}

pub fn run(args: SwitchoverArgs) -> anyhow::Result<i32> {
    let api = Api::new(api_url(args.api.as_deref()));
    let path = format!(
        "/v1/apps/{}/modules/{}/switchover?back={}&keep={}",
        args.app,
        args.module,
        args.back,
        humantime::format_duration(args.keep).to_string().replace(' ', "")
    );
    let app = api.send("POST", &path, "application/json", b"")?;
    for m in app["modules"].as_array().into_iter().flatten().filter(|m| m["module"] == args.module.as_str()) {
        println!("{:<28} {:<9} on {}", m["id"].as_str().unwrap_or("?"), m["role"].as_str().unwrap_or("?"), m["host"].as_str().unwrap_or("?"));
    }
    Ok(0)
}
