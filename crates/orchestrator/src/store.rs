//! Durable desired state: applications (with their placement) in an embedded database, module
//! blobs as files named by sha256. A restarted Orchestrator loads both and loses nothing.

use crate::model::AppRecord;
use anyhow::Context;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

const APPS: TableDefinition<&str, &[u8]> = TableDefinition::new("apps");

/// The Orchestrator's persistent state under `--data-dir`.
pub struct Store {
    db: Database,
    blobs: PathBuf,
}

impl Store {
    /// Open (or create) the store in `dir`.
    pub fn open(dir: &Path) -> anyhow::Result<Store> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let blobs = dir.join("blobs");
        std::fs::create_dir_all(&blobs)?;
        let path = dir.join("state.redb");
        let db = Database::create(&path).with_context(|| format!("opening {}", path.display()))?;
        let txn = db.begin_write()?;
        txn.open_table(APPS)?;
        txn.commit()?;
        Ok(Store { db, blobs })
    }

    /// Every stored application.
    pub fn load_apps(&self) -> anyhow::Result<Vec<AppRecord>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(APPS)?;
        let mut apps = Vec::new();
        for entry in table.iter()? {
            let (name, value) = entry?;
            match serde_json::from_slice(value.value()) {
                Ok(app) => apps.push(app),
                Err(e) => tracing::error!("skipping unreadable stored application `{}`: {e}", name.value()),
            }
        }
        Ok(apps)
    }

    /// Insert or replace an application.
    pub fn put_app(&self, app: &AppRecord) -> anyhow::Result<()> {
        let bytes = serde_json::to_vec(app)?;
        let txn = self.db.begin_write()?;
        txn.open_table(APPS)?.insert(app.name.as_str(), bytes.as_slice())?;
        txn.commit()?;
        Ok(())
    }

    /// Remove an application.
    pub fn delete_app(&self, name: &str) -> anyhow::Result<()> {
        let txn = self.db.begin_write()?;
        txn.open_table(APPS)?.remove(name)?;
        txn.commit()?;
        Ok(())
    }

    /// Store a module blob; returns its sha256.
    pub fn put_blob(&self, bytes: &[u8]) -> anyhow::Result<String> {
        let sha = hex::encode(Sha256::digest(bytes));
        let path = self.blob_path(&sha);
        if !path.exists() {
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, bytes)?;
            std::fs::rename(&tmp, &path)?;
        }
        Ok(sha)
    }

    /// A module blob, if present.
    pub fn blob(&self, sha256: &str) -> Option<Vec<u8>> {
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        std::fs::read(self.blob_path(sha256)).ok()
    }

    /// Is this blob stored?
    pub fn has_blob(&self, sha256: &str) -> bool {
        self.blob(sha256).is_some()
    }

    fn blob_path(&self, sha256: &str) -> PathBuf {
        self.blobs.join(format!("{}.wasm", sha256.to_ascii_lowercase()))
    }
}
