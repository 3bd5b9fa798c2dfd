//! `silverline token create|list|revoke`: REST API tokens (needs an admin token).

use crate::client::{api_url, Api};

/// Arguments of `silverline token`.
#[derive(clap::Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    action: Action,
    /// Orchestrator REST API.
    #[arg(long, global = true)]
    api: Option<String>,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Issue a token and print it (it is shown only this once).
    Create {
        /// viewer (read), operator (deploy, update, switch over, delete) or admin (tokens, enrolment).
        #[arg(long)]
        role: String,
        /// Who or what it is for.
        #[arg(long)]
        name: Option<String>,
        /// Lifetime, e.g. `24h`; without it the token lasts until revoked.
        #[arg(long)]
        ttl: Option<String>,
    },
    /// List tokens (ids, roles, names; never the secrets).
    List,
    /// Revoke a token by id.
    Revoke {
        /// The id `token list` shows.
        id: String,
    },
}

pub fn run(args: TokenArgs) -> anyhow::Result<i32> {
    let api = Api::new(api_url(args.api.as_deref()));
    match args.action {
        Action::Create { role, name, ttl } => {
            let body = serde_json::json!({ "role": role, "name": name, "ttl": ttl });
            let created = api.send("POST", "/v1/tokens", "application/json", body.to_string().as_bytes())?;
            println!("{}", created["token"].as_str().unwrap_or_default());
        }
        Action::List => {
            let tokens = api.get("/v1/tokens")?;
            println!("{:<14} {:<9} {:<10} NAME", "ID", "ROLE", "EXPIRES");
            for t in tokens.as_array().into_iter().flatten() {
                let expires = if t["expires_ms"].is_u64() { "yes" } else { "never" };
                println!("{:<14} {:<9} {:<10} {}", t["id"].as_str().unwrap_or(""), t["role"].as_str().unwrap_or(""), expires, t["name"].as_str().unwrap_or(""));
            }
        }
        Action::Revoke { id } => {
            api.send("DELETE", &format!("/v1/tokens/{id}"), "", b"")?;
            println!("token {id} revoked");
        }
    }
    Ok(0)
}
