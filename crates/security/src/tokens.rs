//! REST API tokens and their roles.
//!
//! A token is a bearer secret (`slt_` + 64 hex digits) with a [`Role`]. The Orchestrator keeps
//! only its sha256 (in `tokens.json`, mode 0600), so a copy of the data directory does not give
//! access; the token itself is shown once, when it is issued. Tokens may expire, and one-time
//! tokens (the dashboard login link `silverline up` prints) are consumed by their first use.

use crate::secret::{hash, random_secret, write_private};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

/// What a token may do. Each role may do everything the roles before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A Host: may fetch module blobs, nothing else.
    Host,
    /// Read everything (GET).
    Viewer,
    /// Also deploy, update, switch over and delete applications, upload blobs.
    Operator,
    /// Also issue and revoke tokens and enrol Hosts.
    Admin,
}

impl Role {
    /// The role's name as users write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Host => "host",
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        match s {
            "host" => Ok(Role::Host),
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            other => Err(format!("unknown role `{other}`: expected viewer, operator, admin or host")),
        }
    }
}

/// A stored token: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// Public id (to list and revoke it).
    pub id: String,
    /// Its role.
    pub role: Role,
    /// Who or what it is for (free text).
    pub name: String,
    /// When it was issued (ms since the Unix epoch).
    pub created_ms: u64,
    /// When it stops working, if ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_ms: Option<u64>,
    /// Consumed by its first use.
    #[serde(default)]
    pub one_time: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    #[serde(flatten)]
    info: TokenInfo,
    sha256: String,
}

/// How a token should be issued.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// Its role.
    pub role: Role,
    /// Who or what it is for.
    pub name: String,
    /// Lifetime, if limited.
    pub ttl: Option<std::time::Duration>,
    /// Consumed by its first use.
    pub one_time: bool,
}

/// The Orchestrator's tokens, persisted in a file.
pub struct TokenStore {
    path: Option<PathBuf>,
    tokens: Mutex<Vec<Stored>>,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl TokenStore {
    /// Tokens kept only in memory (tests).
    pub fn in_memory() -> TokenStore {
        TokenStore { path: None, tokens: Mutex::new(Vec::new()) }
    }

    /// Load the tokens in `path` (none yet if it does not exist).
    pub fn open(path: PathBuf) -> anyhow::Result<TokenStore> {
        let tokens = crate::secret::read_json_or_default(&path)?;
        Ok(TokenStore { path: Some(path), tokens: Mutex::new(tokens) })
    }

    /// Issue a token; the returned secret is not stored anywhere.
    pub fn issue(&self, req: TokenRequest) -> anyhow::Result<(String, TokenInfo)> {
        let secret = random_secret("slt_");
        let created_ms = now_ms();
        let info = TokenInfo {
            id: hex::encode(&crate::secret::random_bytes()[..6]),
            role: req.role,
            name: req.name,
            created_ms,
            expires_ms: req.ttl.map(|t| created_ms + t.as_millis() as u64),
            one_time: req.one_time,
        };
        let mut tokens = self.tokens.lock();
        tokens.push(Stored { info: info.clone(), sha256: hash(&secret) });
        self.save(&tokens)?;
        Ok((secret, info))
    }

    /// The token `secret` stands for, if it is valid now; a one-time token is consumed.
    pub fn authenticate(&self, secret: &str) -> Option<TokenInfo> {
        let digest = hash(secret);
        let now = now_ms();
        let mut tokens = self.tokens.lock();
        let at = tokens.iter().position(|t| crate::secret::constant_time_eq(&t.sha256, &digest))?;
        let info = tokens[at].info.clone();
        if info.expires_ms.is_some_and(|e| e <= now) {
            return None;
        }
        if info.one_time {
            tokens.remove(at);
            if let Err(e) = self.save(&tokens) {
                tracing::error!("cannot persist a consumed one-time token: {e:#}");
                return None;
            }
        }
        Some(info)
    }

    /// Every token (without secrets), expired ones dropped.
    pub fn list(&self) -> Vec<TokenInfo> {
        let now = now_ms();
        self.tokens.lock().iter().map(|t| t.info.clone()).filter(|t| t.expires_ms.is_none_or(|e| e > now)).collect()
    }

    /// Revoke the token with public id `id`; false if there is none.
    pub fn revoke(&self, id: &str) -> anyhow::Result<bool> {
        let mut tokens = self.tokens.lock();
        let before = tokens.len();
        tokens.retain(|t| t.info.id != id);
        let removed = tokens.len() != before;
        if removed {
            self.save(&tokens)?;
        }
        Ok(removed)
    }

    fn save(&self, tokens: &[Stored]) -> anyhow::Result<()> {
        let now = now_ms();
        let live: Vec<&Stored> = tokens.iter().filter(|t| t.info.expires_ms.is_none_or(|e| e > now)).collect();
        match &self.path {
            Some(p) => write_private(p, &serde_json::to_vec_pretty(&live)?),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(role: Role, one_time: bool) -> TokenRequest {
        TokenRequest { role, name: "t".into(), ttl: None, one_time }
    }

    #[test]
    fn tokens_are_stored_hashed_and_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.json");
        let store = TokenStore::open(path.clone()).unwrap();
        let (secret, info) = store.issue(req(Role::Operator, false)).unwrap();
        let file = std::fs::read_to_string(&path).unwrap();
        assert!(!file.contains(&secret), "the secret itself is never written");
        let reopened = TokenStore::open(path).unwrap();
        assert_eq!(reopened.authenticate(&secret), Some(info.clone()));
        assert_eq!(reopened.authenticate("slt_wrong"), None);
        assert!(reopened.revoke(&info.id).unwrap());
        assert_eq!(reopened.authenticate(&secret), None);
    }

    #[test]
    fn one_time_tokens_work_once_and_expired_ones_never() {
        let store = TokenStore::in_memory();
        let (once, _) = store.issue(req(Role::Admin, true)).unwrap();
        assert!(store.authenticate(&once).is_some());
        assert!(store.authenticate(&once).is_none());
        let (old, _) = store.issue(TokenRequest { ttl: Some(std::time::Duration::ZERO), ..req(Role::Viewer, false) }).unwrap();
        assert!(store.authenticate(&old).is_none());
        assert!(Role::Host < Role::Viewer && Role::Viewer < Role::Operator && Role::Operator < Role::Admin);
        assert_eq!("operator".parse::<Role>(), Ok(Role::Operator));
    }
}
