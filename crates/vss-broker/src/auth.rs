//! Who may talk to the broker: a bearer token on every call, unless the operator chose no auth.
//!
//! Kuksa clients send the token as `authorization: Bearer <token>` metadata (kuksa-client's
//! `token` / `--token_or_tokenfile`); without a token they still send the header, empty or as
//! `Bearer `, which [`Auth::None`] ignores.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tonic::{Request, Status};

/// How callers are authenticated.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// Every call must carry `authorization: Bearer <token>`; anything else is UNAUTHENTICATED.
    Token(String),
    /// No authentication: anyone who reaches the port may read and write every signal. Only
    /// for a broker bound to a trusted network, and only when chosen explicitly.
    None,
}

impl std::fmt::Debug for Auth {
    // Never print the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Token(_) => f.write_str("Auth::Token(..)"),
            Auth::None => f.write_str("Auth::None"),
        }
    }
}

impl Auth {
    /// A token read from a file (surrounding whitespace and the final newline dropped); an
    /// empty file is refused rather than turning auth off.
    pub fn from_token_file(path: &Path) -> anyhow::Result<Auth> {
        let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("reading the token file {}: {e}", path.display()))?;
        let token = text.trim();
        anyhow::ensure!(!token.is_empty(), "the token file {} is empty", path.display());
        Ok(Auth::Token(token.to_string()))
    }

    /// Does this `authorization` header value pass? An empty token admits nobody: it would
    /// otherwise match the `Bearer ` that token-less clients send.
    pub fn admits(&self, header: Option<&str>) -> bool {
        match self {
            Auth::None => true,
            Auth::Token(token) if token.trim().is_empty() => false,
            Auth::Token(token) => header.and_then(|h| h.strip_prefix("Bearer ")).is_some_and(|given| same(given.trim().as_bytes(), token.as_bytes())),
        }
    }
}

/// Equal in time that does not depend on where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The tonic interceptor in front of both services.
#[derive(Clone)]
pub(crate) struct AuthCheck {
    pub(crate) auth: Arc<Auth>,
    pub(crate) refused: Arc<AtomicU64>,
}

impl tonic::service::Interceptor for AuthCheck {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let header = request.metadata().get("authorization").and_then(|h| h.to_str().ok());
        if self.auth.admits(header) {
            return Ok(request);
        }
        let n = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
        let peer = request.remote_addr().map_or_else(|| "an unknown peer".to_string(), |a| a.to_string());
        let why = if header.is_none_or(|h| h.trim().is_empty() || h.trim() == "Bearer") { "no token" } else { "a wrong token" };
        tracing::warn!(%peer, refused_so_far = n, "vss-broker: refused a call with {why}");
        Err(Status::unauthenticated(format!("{why}: send `authorization: Bearer <token>`")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_must_match_exactly() {
        let auth = Auth::Token("s3cret".into());
        assert!(auth.admits(Some("Bearer s3cret")));
        for bad in [None, Some(""), Some("Bearer "), Some("Bearer s3cre"), Some("Bearer s3cret2"), Some("s3cret"), Some("bearer s3cret")] {
            assert!(!auth.admits(bad), "{bad:?}");
        }
    }

    #[test]
    fn an_empty_token_admits_nobody() {
        for h in [None, Some(""), Some("Bearer "), Some("Bearer  ")] {
            assert!(!Auth::Token(String::new()).admits(h), "{h:?}");
        }
    }

    #[test]
    fn no_auth_ignores_the_empty_headers_kuksa_client_sends() {
        for h in [None, Some(""), Some("Bearer "), Some("Bearer anything")] {
            assert!(Auth::None.admits(h));
        }
    }

    #[test]
    fn the_token_never_shows_in_debug_output() {
        assert_eq!(format!("{:?}", Auth::Token("s3cret".into())), "Auth::Token(..)");
    }
}
