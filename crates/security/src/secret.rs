//! Random secrets and files that hold them.
//!
//! Every secret silverline makes (API tokens, MQTT passwords, signing keys) is 32 bytes from the
//! operating system's generator. Files holding secrets are created with mode 0600 before anything
//! is written into them, so there is no moment at which another user can read them.

use anyhow::Context;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;

/// 32 random bytes from the operating system.
pub fn random_bytes() -> [u8; 32] {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("the operating system's random generator works");
    b
}

/// A random secret as 64 hex digits, prefixed (`slt_…` for tokens) so that a leaked secret can
/// be recognised by scanners.
pub fn random_secret(prefix: &str) -> String {
    format!("{prefix}{}", hex::encode(random_bytes()))
}

/// sha256 of a secret, hex. Secrets are 256-bit random values, so a fast hash is enough: there
/// is nothing to brute-force.
pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Compare two equal-length strings without an early exit.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Write `contents` to `path` readable by its owner only (mode 0600), replacing it atomically.
pub fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    file.write_all(contents)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

/// The JSON value in `path`, or the type's default when the file does not exist yet.
pub fn read_json_or_default<T: serde::de::DeserializeOwned + Default>(path: &Path) -> anyhow::Result<T> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| format!("reading {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_files_are_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/secret");
        write_private(&p, b"x").unwrap();
        write_private(&p, b"y").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"y");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn secrets_differ_and_compare() {
        let (a, b) = (random_secret("slt_"), random_secret("slt_"));
        assert_ne!(a, b);
        assert!(a.starts_with("slt_") && a.len() == 68);
        assert!(constant_time_eq(&hash(&a), &hash(&a)));
        assert!(!constant_time_eq(&hash(&a), &hash(&b)));
    }
}
