//! Module blobs (Wasm bytes) by sha256: memory, then disk, then the registry over HTTP.
//! Fetched bytes are verified against their sha256 before anything uses them.

use anyhow::{bail, Context};
use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

/// A content-addressed store of module bytes.
#[derive(Default)]
pub struct BlobStore {
    memory: Mutex<HashMap<String, Arc<Vec<u8>>>>,
    dir: Mutex<Option<PathBuf>>,
}

impl BlobStore {
    /// Keep blobs on disk under `dir` too.
    pub fn set_dir(&self, dir: Option<PathBuf>) -> anyhow::Result<()> {
        if let Some(d) = &dir {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        *self.dir.lock() = dir;
        Ok(())
    }

    /// The bytes of `sha256`, fetching `GET {registry}/{sha256}` (with `token` as bearer) if
    /// they are not here.
    pub fn get(&self, http: &ureq::Agent, sha256: &str, registry: &str, token: Option<&str>) -> anyhow::Result<Arc<Vec<u8>>> {
        anyhow::ensure!(sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit()), "`{sha256}` is not a sha256");
        if let Some(b) = self.memory.lock().get(sha256) {
            return Ok(b.clone());
        }
        let bytes = match self.read_disk(sha256) {
            Some(b) => b,
            None => {
                let fetched = fetch(http, &format!("{}/{sha256}", registry.trim_end_matches('/')), token)?;
                verify(sha256, &fetched)?;
                self.write_disk(sha256, &fetched);
                fetched
            }
        };
        let bytes = Arc::new(bytes);
        self.memory.lock().insert(sha256.to_string(), bytes.clone());
        Ok(bytes)
    }

    fn read_disk(&self, sha256: &str) -> Option<Vec<u8>> {
        let path = self.dir.lock().as_ref()?.join(format!("{sha256}.wasm"));
        let bytes = std::fs::read(path).ok()?;
        verify(sha256, &bytes).ok().map(|_| bytes)
    }

    fn write_disk(&self, sha256: &str, bytes: &[u8]) {
        if let Some(dir) = self.dir.lock().as_ref() {
            let tmp = dir.join(format!("{sha256}.tmp"));
            if std::fs::write(&tmp, bytes).and_then(|_| std::fs::rename(&tmp, dir.join(format!("{sha256}.wasm")))).is_err() {
                tracing::warn!("cannot cache blob {sha256} in {}", dir.display());
            }
        }
    }
}

fn verify(sha256: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let actual = hex::encode(Sha256::digest(bytes));
    if actual != sha256.to_ascii_lowercase() {
        bail!("fetched module has sha256 {actual}, expected {sha256}");
    }
    Ok(())
}

fn fetch(http: &ureq::Agent, url: &str, token: Option<&str>) -> anyhow::Result<Vec<u8>> {
    let mut request = http.get(url);
    if let Some(t) = token {
        request = request.header("authorization", &format!("Bearer {t}"));
    }
    let mut response = request.call().with_context(|| format!("fetching {url}"))?;
    anyhow::ensure!(response.status().is_success(), "fetching {url}: HTTP {}", response.status().as_u16());
    let mut bytes = Vec::new();
    response.body_mut().as_reader().read_to_end(&mut bytes).with_context(|| format!("reading {url}"))?;
    Ok(bytes)
}
