//! Compiled modules, cached by the sha256 of their Wasm bytes: in memory, and on disk when a
//! cache directory is given. Compiling is milliseconds; loading a precompiled module is tens of
//! microseconds, which is what makes deploy-to-first-activation fast.

use anyhow::Context;
use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::{Engine, Module};

/// A sha256 digest in lowercase hex: how modules are named everywhere in silverline.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Digest256(pub String);

impl Digest256 {
    /// Hash some bytes.
    pub fn of(bytes: &[u8]) -> Digest256 {
        Digest256(hex::encode(Sha256::digest(bytes)))
    }
}

impl std::fmt::Display for Digest256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Compile-once cache of modules.
pub struct ModuleCache {
    engine: Engine,
    memory: Mutex<HashMap<Digest256, Module>>,
    dir: Option<PathBuf>,
    /// Precompiled code is only valid for an engine with the same configuration.
    engine_key: String,
}

impl ModuleCache {
    /// A cache for `engine`; `dir` adds a disk layer that survives restarts.
    pub fn new(engine: Engine, dir: Option<PathBuf>) -> anyhow::Result<Self> {
        if let Some(dir) = &dir {
            std::fs::create_dir_all(dir).with_context(|| format!("creating module cache {}", dir.display()))?;
        }
        let mut h = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        Ok(ModuleCache { engine, memory: Mutex::new(HashMap::new()), dir, engine_key: format!("{:016x}", h.finish()) })
    }

    /// The compiled module for `wasm` (binary Wasm), compiling it at most once.
    pub fn get_or_compile(&self, wasm: &[u8]) -> anyhow::Result<(Digest256, Module)> {
        let digest = Digest256::of(wasm);
        if let Some(m) = self.memory.lock().get(&digest) {
            return Ok((digest, m.clone()));
        }
        let module = match self.load_from_disk(&digest) {
            Some(m) => m,
            None => self.compile_and_store(&digest, wasm)?,
        };
        self.memory.lock().insert(digest.clone(), module.clone());
        Ok((digest, module))
    }

    /// Number of modules held in memory.
    pub fn len(&self) -> usize {
        self.memory.lock().len()
    }

    fn path_for(&self, digest: &Digest256) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(format!("{}-{}.cwasm", digest.0, self.engine_key)))
    }

    fn compile_and_store(&self, digest: &Digest256, wasm: &[u8]) -> anyhow::Result<Module> {
        let module = Module::new(&self.engine, wasm).map_err(|e| anyhow::anyhow!("compiling the module: {e:#}"))?;
        if let Some(path) = self.path_for(digest) {
            if let Err(e) = write_atomically(&path, &module.serialize()?) {
                tracing::warn!("cannot write module cache {}: {e:#}", path.display());
            }
        }
        Ok(module)
    }

    #[allow(unsafe_code)]
    fn load_from_disk(&self, digest: &Digest256) -> Option<Module> {
        let path = self.path_for(digest)?;
        if !path.exists() {
            return None;
        }
        // SAFETY: the file was written by `compile_and_store` into our own cache directory,
        // named by the module's sha256 and this engine's compatibility hash; wasmtime checks the
        // header and refuses code built for another engine configuration.
        match unsafe { Module::deserialize_file(&self.engine, &path) } {
            Ok(m) => Some(m),
            Err(e) => {
                tracing::warn!("ignoring unusable cache entry {}: {e:#}", path.display());
                None
            }
        }
    }
}

/// Write via a temporary file and rename, so a crash never leaves half a module in the cache.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// Read a module file: `.wat` text is converted, anything else must be binary Wasm.
pub fn read_wasm_file(path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    wasm_from_bytes(&bytes).with_context(|| format!("in {}", path.display()))
}

/// Accept binary Wasm as is, convert WAT text to binary.
pub fn wasm_from_bytes(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    if bytes.starts_with(b"\0asm") {
        Ok(bytes.to_vec())
    } else {
        wat::parse_bytes(bytes).map(|b| b.into_owned()).context("not binary Wasm, and not valid WAT")
    }
}
