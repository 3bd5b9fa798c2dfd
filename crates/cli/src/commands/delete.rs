//! `silverline delete app NAME`.

use crate::client::{api_url, Api};

/// Arguments of `silverline delete`.
#[derive(clap::Args)]
pub struct DeleteArgs {
    /// What to delete (only `app` for now).
    #[arg(value_parser = ["app"])]
    kind: String,
    /// Its name.
    name: String,
    /// Orchestrator REST API.
    #[arg(long)]
    api: Option<String>,
}

pub fn run(args: DeleteArgs) -> anyhow::Result<i32> {
    let api = Api::new(api_url(args.api.as_deref()));
    api.send("DELETE", &format!("/v1/apps/{}", args.name), "", b"")?;
    println!("application `{}` deleted", args.name);
    Ok(0)
}
