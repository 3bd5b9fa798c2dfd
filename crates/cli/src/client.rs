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

/// The REST API at `base`.
pub struct Api {
    base: String,
    agent: ureq::Agent,
}

impl Api {
    pub fn new(base: String) -> Api {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        Api { base, agent }
    }

    pub fn get(&self, path: &str) -> anyhow::Result<Value> {
        let r = self.agent.get(&format!("{}{path}", self.base)).call();
        self.json(r, path)
    }

    /// GET that maps 404 to `None`.
    pub fn find(&self, path: &str) -> anyhow::Result<Option<Value>> {
        let r = self.agent.get(&format!("{}{path}", self.base)).call().map_err(|e| self.unreachable(e))?;
        if r.status() == 404 {
            return Ok(None);
        }
        self.json(Ok(r), path).map(Some)
    }

    pub fn send(&self, method: &str, path: &str, content_type: &str, body: &[u8]) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let r = match method {
            "POST" => self.agent.post(&url).header("content-type", content_type).send(body),
            "PUT" => self.agent.put(&url).header("content-type", content_type).send(body),
            _ => self.agent.delete(&url).call(),
        };
        self.json(r, path)
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
        bail!("{} ({})", message, status.as_u16())
    }
}
