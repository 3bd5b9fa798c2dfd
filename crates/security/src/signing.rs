//! Commands authenticated end to end: the Orchestrator signs, each Host verifies.
//!
//! The broker only carries commands; it is not trusted with them. Every [`SignedCommand`] is
//! signed with the Orchestrator's ed25519 key over `silverline-command-v1`, the target Host's
//! name, a counter and the command's bytes. A Host that learnt the Orchestrator's public key at
//! enrolment executes a command only if
//!
//! * the signature verifies (a client with stolen Host credentials, or a compromised broker,
//!   cannot forge one),
//! * it names this Host (a command captured on another Host's topic is refused),
//! * its counter was not seen before and is not older than the newest accepted counter minus a
//!   reordering window, nor further than the allowed clock skew from the Host's clock (a
//!   recorded command replayed later is refused). The newest accepted counter survives restarts
//!   of the Host (it is kept in a file), so a restart does not reopen the past.

use crate::secret::{random_bytes, write_private};
use anyhow::Context;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use silverline_proto::SignedCommand;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const COMMAND_CONTEXT: &[u8] = b"silverline-command-v1\0";

/// An ed25519 signing key kept in a file (64 hex digits of its seed, mode 0600).
pub struct KeyPair {
    key: SigningKey,
}

impl KeyPair {
    /// A new random key.
    pub fn generate() -> KeyPair {
        KeyPair { key: SigningKey::from_bytes(&random_bytes()) }
    }

    /// Load the key in `path`, creating it on first use.
    pub fn load_or_create(path: &Path) -> anyhow::Result<KeyPair> {
        if path.exists() {
            return KeyPair::load(path);
        }
        let pair = KeyPair::generate();
        write_private(path, hex::encode(pair.key.to_bytes()).as_bytes())?;
        Ok(pair)
    }

    /// Load the key in `path`.
    pub fn load(path: &Path) -> anyhow::Result<KeyPair> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading key {}", path.display()))?;
        let seed: [u8; 32] = hex::decode(text.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .with_context(|| format!("{}: expected 64 hex digits (an ed25519 seed)", path.display()))?;
        Ok(KeyPair { key: SigningKey::from_bytes(&seed) })
    }

    /// The public half, hex.
    pub fn public_hex(&self) -> String {
        hex::encode(self.key.verifying_key().to_bytes())
    }

    /// Sign `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }
}

/// Parse a public key written as 64 hex digits.
pub fn public_key(hex_key: &str) -> anyhow::Result<VerifyingKey> {
    let bytes: [u8; 32] = hex::decode(hex_key.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .with_context(|| format!("`{hex_key}` is not an ed25519 public key (64 hex digits)"))?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| anyhow::anyhow!("`{hex_key}` is not an ed25519 public key: {e}"))
}

/// Verify `signature` (64 bytes) over `message` with `key`.
pub fn verify(key: &VerifyingKey, message: &[u8], signature: &[u8]) -> bool {
    Signature::from_slice(signature).is_ok_and(|s| key.verify_strict(message, &s).is_ok())
}

fn command_message(host: &str, counter: u64, body: &str) -> Vec<u8> {
    let mut m = Vec::with_capacity(COMMAND_CONTEXT.len() + host.len() + body.len() + 10);
    m.extend_from_slice(COMMAND_CONTEXT);
    m.extend_from_slice(host.as_bytes());
    m.push(0);
    m.extend_from_slice(&counter.to_be_bytes());
    m.extend_from_slice(body.as_bytes());
    m
}

/// The Orchestrator's side: signs commands with strictly increasing counters.
pub struct CommandSigner {
    key: KeyPair,
    last: AtomicU64,
}

impl CommandSigner {
    /// Sign with `key`.
    pub fn new(key: KeyPair) -> CommandSigner {
        CommandSigner { key, last: AtomicU64::new(0) }
    }

    /// The public key Hosts verify with.
    pub fn public_hex(&self) -> String {
        self.key.public_hex()
    }

    /// Sign `body` (an encoded command) for `host`.
    pub fn sign(&self, host: &str, body: String) -> SignedCommand {
        self.sign_with_counter(host, self.next_counter(), body)
    }

    fn sign_with_counter(&self, host: &str, counter: u64, body: String) -> SignedCommand {
        let signature = hex::encode(self.key.sign(&command_message(host, counter, &body)));
        SignedCommand { host: host.to_string(), counter, body, signature }
    }

    /// The clock in µs, but never less than one more than the last counter handed out.
    fn next_counter(&self) -> u64 {
        let now = now_us();
        let mut last = self.last.load(Ordering::Relaxed);
        loop {
            let next = now.max(last + 1);
            match self.last.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return next,
                Err(seen) => last = seen,
            }
        }
    }
}

/// Microseconds since the Unix epoch.
pub fn now_us() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
}

/// Why a Host refused a command.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CommandRefused {
    /// The signature does not verify with any trusted key.
    #[error("the signature does not verify with the Orchestrator's key (forged or tampered)")]
    BadSignature,
    /// Signed for another Host.
    #[error("signed for host `{0}`, not this one")]
    OtherHost(String),
    /// The counter was accepted before, or is older than the window allows.
    #[error("counter {0} was seen before or is too old (replayed)")]
    Replayed(u64),
    /// The counter is too far from this Host's clock.
    #[error("counter {counter} is {skew_s:.0} s away from this Host's clock (more than the allowed skew): replayed, or the clocks disagree")]
    Skew {
        /// The counter.
        counter: u64,
        /// Its distance from the Host's clock, in seconds.
        skew_s: f64,
    },
}

/// Freshness rules of a [`CommandVerifier`].
#[derive(Debug, Clone, Copy)]
pub struct Freshness {
    /// Commands may arrive out of order by this much.
    pub reorder_window: Duration,
    /// The Orchestrator's and the Host's clocks may differ by this much.
    pub max_clock_skew: Duration,
}

impl Default for Freshness {
    fn default() -> Self {
        Freshness { reorder_window: Duration::from_secs(30), max_clock_skew: Duration::from_secs(300) }
    }
}

/// The Host's side: verifies signatures and refuses replays.
pub struct CommandVerifier {
    host: String,
    keys: Vec<VerifyingKey>,
    freshness: Freshness,
    newest: u64,
    seen: BTreeSet<u64>,
    state: Option<PathBuf>,
}

impl CommandVerifier {
    /// Verify commands for `host` signed by any of `keys`; `state` keeps the newest accepted
    /// counter across restarts.
    pub fn new(host: &str, keys: Vec<VerifyingKey>, freshness: Freshness, state: Option<PathBuf>) -> CommandVerifier {
        let newest = state.as_deref().and_then(|p| std::fs::read_to_string(p).ok()).and_then(|s| s.trim().parse().ok()).unwrap_or(0);
        CommandVerifier { host: host.to_string(), keys, freshness, newest, seen: BTreeSet::new(), state }
    }

    /// Check `cmd` at Host time `now_us`; on success the counter is remembered and the body
    /// (an encoded command) returned.
    pub fn verify<'c>(&mut self, cmd: &'c SignedCommand, now_us: u64) -> Result<&'c str, CommandRefused> {
        let signature = hex::decode(&cmd.signature).map_err(|_| CommandRefused::BadSignature)?;
        let message = command_message(&cmd.host, cmd.counter, &cmd.body);
        if !self.keys.iter().any(|k| verify(k, &message, &signature)) {
            return Err(CommandRefused::BadSignature);
        }
        if cmd.host != self.host {
            return Err(CommandRefused::OtherHost(cmd.host.clone()));
        }
        self.check_fresh(cmd.counter, now_us)?;
        self.remember(cmd.counter);
        Ok(&cmd.body)
    }

    fn check_fresh(&self, counter: u64, now_us: u64) -> Result<(), CommandRefused> {
        let skew = counter.abs_diff(now_us);
        if skew > self.freshness.max_clock_skew.as_micros() as u64 {
            return Err(CommandRefused::Skew { counter, skew_s: skew as f64 / 1e6 });
        }
        let floor = self.newest.saturating_sub(self.freshness.reorder_window.as_micros() as u64);
        if counter <= floor || self.seen.contains(&counter) {
            return Err(CommandRefused::Replayed(counter));
        }
        Ok(())
    }

    fn remember(&mut self, counter: u64) {
        self.seen.insert(counter);
        if counter > self.newest {
            self.newest = counter;
            if let Some(path) = &self.state {
                if let Err(e) = write_private(path, counter.to_string().as_bytes()) {
                    tracing::warn!("cannot keep the newest command counter in {}: {e:#}", path.display());
                }
            }
        }
        let floor = self.newest.saturating_sub(self.freshness.reorder_window.as_micros() as u64);
        self.seen = self.seen.split_off(&(floor + 1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (CommandSigner, CommandVerifier) {
        let signer = CommandSigner::new(KeyPair::generate());
        let verifier = CommandVerifier::new("edge-1", vec![public_key(&signer.public_hex()).unwrap()], Freshness::default(), None);
        (signer, verifier)
    }

    #[test]
    fn signed_commands_verify_once() {
        let (signer, mut verifier) = pair();
        let cmd = signer.sign("edge-1", "{\"x\":1}".into());
        assert_eq!(verifier.verify(&cmd, now_us()), Ok("{\"x\":1}"));
        assert_eq!(verifier.verify(&cmd, now_us()), Err(CommandRefused::Replayed(cmd.counter)));
        let later = signer.sign("edge-1", "{\"x\":2}".into());
        assert!(later.counter > cmd.counter);
        assert!(verifier.verify(&later, now_us()).is_ok());
    }

    #[test]
    fn forged_tampered_misdirected_and_stale_commands_are_refused() {
        let (signer, mut verifier) = pair();
        let mut tampered = signer.sign("edge-1", "{\"x\":1}".into());
        tampered.body = "{\"x\":2}".into();
        assert_eq!(verifier.verify(&tampered, now_us()), Err(CommandRefused::BadSignature));
        let forged = CommandSigner::new(KeyPair::generate()).sign("edge-1", "{}".into());
        assert_eq!(verifier.verify(&forged, now_us()), Err(CommandRefused::BadSignature));
        let other = signer.sign("edge-2", "{}".into());
        assert_eq!(verifier.verify(&other, now_us()), Err(CommandRefused::OtherHost("edge-2".into())));
        let old = signer.sign("edge-1", "{}".into());
        let an_hour_later = old.counter + 3_600_000_000;
        assert!(matches!(verifier.verify(&old, an_hour_later), Err(CommandRefused::Skew { .. })));
    }

    #[test]
    fn an_old_command_is_refused_after_newer_ones_even_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("counter");
        let signer = CommandSigner::new(KeyPair::generate());
        let keys = vec![public_key(&signer.public_hex()).unwrap()];
        let freshness = Freshness { reorder_window: Duration::from_secs(1), ..Freshness::default() };
        let now = now_us();
        let old = signer.sign_with_counter("edge-1", now, "{}".into());
        let newer = signer.sign_with_counter("edge-1", now + 2_000_000, "{}".into());
        let mut v = CommandVerifier::new("edge-1", keys.clone(), freshness, Some(state.clone()));
        assert!(v.verify(&newer, now).is_ok());
        assert_eq!(v.verify(&old, now), Err(CommandRefused::Replayed(old.counter)), "older than the reordering window");
        let mut restarted = CommandVerifier::new("edge-1", keys, freshness, Some(state));
        assert_eq!(restarted.verify(&old, now), Err(CommandRefused::Replayed(old.counter)), "the newest counter survives a restart");
        let within = signer.sign_with_counter("edge-1", now + 1_500_000, "{}".into());
        assert!(restarted.verify(&within, now).is_ok(), "reordering within the window is accepted");
    }

    #[test]
    fn keys_persist() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("orchestrator.key");
        let a = KeyPair::load_or_create(&p).unwrap();
        let b = KeyPair::load_or_create(&p).unwrap();
        assert_eq!(a.public_hex(), b.public_hex());
        assert!(public_key("zz").is_err());
    }
}
