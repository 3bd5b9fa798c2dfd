//! A small client of the Orchestrator's REST API for the CLI's commands.

use anyhow::{bail, Context};
use serde_json::Value;

/// Where the REST API is: `--api`, else `SILVERLINE_API`, else the default.
pub fn api_url(flag: Option<&str>) -> String {
    flag.map(str::to_string)
        .or_else(|| std::env::var("SILVERLINE_API").ok())
        .unwrap_or_else(|| "http://127.0.0.1:7420".into())
        .trim_end_matches('/')
        .to_string()
}

/// The token the CLI authenticates with: `SILVERLINE_TOKEN`, else the admin token a local
/// Orchestrator wrote at its first start (`<data-dir>/admin.token`, data dir `.silverline` or
/// `SILVERLINE_DATA_DIR`).
pub fn token() -> Option<String> {
    if let Ok(t) = std::env::var("SILVERLINE_TOKEN") {
        return Some(t.trim().to_string()).filter(|t| !t.is_empty());
    }
    std::fs::read_to_string(data_dir().join("admin.token")).ok().map(|t| t.trim().to_string())
}

fn data_dir() -> std::path::PathBuf {
    std::env::var("SILVERLINE_DATA_DIR").unwrap_or_else(|_| ".silverline".into()).into()
}

/// The CA to trust for an `https://` API: the PEM file `SILVERLINE_CA`, else the `ca.pem` a
/// local Orchestrator serving TLS wrote into its data directory.
pub fn ca() -> Option<Vec<u8>> {
    let file = std::env::var("SILVERLINE_CA").map(std::path::PathBuf::from).unwrap_or_else(|_| data_dir().join("ca.pem"));
    std::fs::read(file).ok()
}

/// An HTTP client for the REST API (trusting [`ca`] for `https://`).
pub fn http_agent() -> anyhow::Result<ureq::Agent> {
    silverline_security::tls::http_agent(ca().as_deref())
}

/// The REST API at `base`.
pub struct Api {
    base: String,
    agent: ureq::Agent,
    token: Option<String>,
}

impl Api {
    pub fn new(base: String) -> Api {
        Api::with_token(base, token())
    }

    pub fn with_token(base: String, token: Option<String>) -> Api {
        Api::with_agent(base, token, http_agent().unwrap_or_else(|e| {
            eprintln!("warning: ignoring the CA file: {e:#}");
            ureq::Agent::config_builder().http_status_as_error(false).build().into()
        }))
    }

    pub fn with_agent(base: String, token: Option<String>, agent: ureq::Agent) -> Api {
        Api { base, agent, token }
    }

    fn bearer(&self) -> String {
        format!("Bearer {}", self.token.as_deref().unwrap_or(""))
    }

    pub fn get(&self, path: &str) -> anyhow::Result<Value> {
        let r = self.agent.get(&format!("{}{path}", self.base)).header("authorization", &self.bearer()).call();
        self.json(r, path)
    }

    /// GET that maps 404 to `None`.
    pub fn find(&self, path: &str) -> anyhow::Result<Option<Value>> {
        let r = self.agent.get(&format!("{}{path}", self.base)).header("authorization", &self.bearer()).call().map_err(|e| self.unreachable(e))?;
        if r.status() == 404 {
            return Ok(None);
        }
        self.json(Ok(r), path).map(Some)
    }

    pub fn send(&self, method: &str, path: &str, content_type: &str, body: &[u8]) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let auth = self.bearer();
        let r = match method {
            "POST" => self.agent.post(&url).header("content-type", content_type).header("authorization", &auth).send(body),
            "PUT" => self.agent.put(&url).header("content-type", content_type).header("authorization", &auth).send(body),
            _ => self.agent.delete(&url).header("authorization", &auth).call(),
        };
        match r {
            // The body limit answers before any handler, without a JSON error to show.
            Ok(mut r) if r.status() == 413 => {
                let text = r.body_mut().read_to_string().unwrap_or_default();
                let said = serde_json::from_str::<Value>(&text).ok().and_then(|v| v["error"]["message"].as_str().map(str::to_string));
                let limit = format!("more than the Orchestrator accepts ({} MiB)", silverline_orchestrator::MAX_BODY_BYTES >> 20);
                bail!("{path}: the request is {:.1} MiB, {} (413)", body.len() as f64 / (1 << 20) as f64, said.unwrap_or(limit))
            }
            r => self.json(r, path),
        }
    }

    fn unreachable(&self, e: ureq::Error) -> anyhow::Error {
        anyhow::anyhow!("cannot reach the Orchestrator at {} ({e}); is it running? (`silverline up`, or set --api / SILVERLINE_API)", self.base)
    }

    fn json(&self, r: Result<ureq::http::Response<ureq::Body>, ureq::Error>, path: &str) -> anyhow::Result<Value> {
        let mut r = r.map_err(|e| self.unreachable(e))?;
        let status = r.status();
        let text = r.body_mut().read_to_string().with_context(|| format!("reading the answer to {path}"))?;
        let value: Value = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        if status.is_success() {
            return Ok(value);
        }
        let message = value["error"]["message"].as_str().map(str::to_string).unwrap_or_else(|| value.to_string());
        if status.as_u16() == 401 {
            let hint = if self.token.is_some() { "the token was refused (revoked or expired?)" } else { "no token: set SILVERLINE_TOKEN, or run where `.silverline/admin.token` is" };
            bail!("{message} (401; {hint})");
        }
        bail!("{} ({})", message, status.as_u16())
    }
}
