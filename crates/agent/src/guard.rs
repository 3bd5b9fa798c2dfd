//! What a secured Host lets in: only commands its Orchestrator signed (and not replays), only
//! module bytes from its own registry, only modules its trust policy accepts, only the host
//! directories its policy allows (docs/security.md).

use parking_lot::Mutex;
use silverline_manifest::ModuleSpec;
use silverline_proto::SignedCommand;
use silverline_security::credentials::HostCredentials;
use silverline_security::capabilities;
use silverline_security::provenance::{self, TrustPolicy};
use silverline_security::signing::{now_us, public_key, CommandVerifier, Freshness};
use std::path::{Path, PathBuf};

/// A Host's security settings.
#[derive(Debug, Clone)]
pub struct HostSecurity {
    /// Issued at enrolment.
    pub credentials: HostCredentials,
    /// Whether modules must be signed by a trusted publisher.
    pub trust: TrustPolicy,
    /// Public keys (hex) of the module publishers this Host trusts.
    pub publishers: Vec<String>,
    /// Host directories (and everything below them) that a manifest may preopen.
    pub allowed_dirs: Vec<PathBuf>,
    /// Where the newest accepted command counter is kept across restarts.
    pub state_dir: PathBuf,
}

/// The checks, ready to run.
pub(crate) struct Guard {
    settings: HostSecurity,
    verifier: Mutex<CommandVerifier>,
    publishers: Vec<ed25519_dalek::VerifyingKey>,
}

impl Guard {
    pub(crate) fn new(settings: HostSecurity) -> anyhow::Result<Guard> {
        let key = public_key(&settings.credentials.orchestrator_key)?;
        let state = settings.state_dir.join("command-counter");
        let verifier = CommandVerifier::new(&settings.credentials.host, vec![key], Freshness::default(), Some(state));
        let publishers = settings.publishers.iter().map(|p| public_key(p)).collect::<anyhow::Result<_>>()?;
        Ok(Guard { settings, verifier: Mutex::new(verifier), publishers })
    }

    pub(crate) fn credentials(&self) -> &HostCredentials {
        &self.settings.credentials
    }

    /// The command's body if the Orchestrator signed it for this Host and it is fresh.
    pub(crate) fn open<'c>(&self, cmd: &'c SignedCommand) -> Result<&'c str, String> {
        self.verifier.lock().verify(cmd, now_us()).map_err(|e| e.to_string())
    }

    /// Refuse modules the trust policy or the directory policy does not allow.
    pub(crate) fn admit(&self, spec: &ModuleSpec, wasm: &[u8]) -> Result<(), String> {
        provenance::check(wasm, self.settings.trust, &self.publishers).map_err(|e| format!("module refused: {e}"))?;
        capabilities::check(wasm, capabilities::Grants { sidecar: spec.sidecar }).map_err(|e| format!("module refused: {e}"))?;
        for dir in &spec.wasi.dirs {
            if !self.dir_allowed(&dir.host) {
                let allowed: Vec<String> = self.settings.allowed_dirs.iter().map(|d| d.display().to_string()).collect();
                return Err(format!(
                    "module refused: it asks to preopen `{}`, which this Host's policy does not allow (allowed: {}; see `silverline host --allow-dir`)",
                    dir.host_as_written,
                    if allowed.is_empty() { "nothing".into() } else { allowed.join(", ") }
                ));
            }
        }
        Ok(())
    }

    /// Inside an allowed directory, after resolving `..` and symbolic links.
    fn dir_allowed(&self, dir: &Path) -> bool {
        let Ok(real) = dir.canonicalize() else { return false };
        self.settings.allowed_dirs.iter().filter_map(|a| a.canonicalize().ok()).any(|a| real.starts_with(a))
    }
}
