//! Durable desired state: applications (with their placement) in an embedded database, module
//! blobs as files named by sha256. A restarted Orchestrator loads both and loses nothing.

use crate::model::AppRecord;
use anyhow::Context;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use sha2::{Digest, Sha256};
use parking_lot::RwLock;
use std::path::{Path, PathBuf};

const APPS: TableDefinition<&str, &[u8]> = TableDefinition::new("apps");

/// The Orchestrator's persistent state under `--data-dir`.
pub struct Store {
    /// Reopened after an I/O error: redb refuses every later write on a database that saw one
    /// (a full disk), even once space is free again.
    db: RwLock<Database>,
    path: PathBuf,
    blobs: PathBuf,
    blob_quota: u64,
}

/// The default [`Store::set_blob_quota`]: 4 GiB of module blobs.
pub const DEFAULT_BLOB_QUOTA: u64 = 4 << 30;

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
        Ok(Store { db: RwLock::new(db), path, blobs, blob_quota: DEFAULT_BLOB_QUOTA })
    }

    /// Refuse blobs that would make the stored ones exceed `bytes` in total.
    pub fn set_blob_quota(&mut self, bytes: u64) {
        self.blob_quota = bytes;
    }

    /// Every stored application.
    pub fn load_apps(&self) -> anyhow::Result<Vec<AppRecord>> {
        let db = self.db.read();
        let txn = db.begin_read()?;
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
        self.write(|txn| {
            txn.open_table(APPS)?.insert(app.name.as_str(), bytes.as_slice())?;
            Ok(())
        })
    }

    /// Remove an application.
    pub fn delete_app(&self, name: &str) -> anyhow::Result<()> {
        self.write(|txn| {
            txn.open_table(APPS)?.remove(name)?;
            Ok(())
        })
    }

    /// Run `change` in a write transaction and commit it. After an I/O error (the disk was
    /// full) the database is reopened for the next write, which then succeeds once the cause
    /// is gone, without a restart.
    fn write(&self, change: impl Fn(&redb::WriteTransaction) -> Result<(), redb::Error>) -> anyhow::Result<()> {
        let attempt = || -> Result<(), redb::Error> {
            let db = self.db.read();
            let txn = db.begin_write()?;
            change(&txn)?;
            txn.commit()?;
            Ok(())
        };
        match attempt() {
            Err(redb::Error::PreviousIo) => {
                self.reopen()?;
                attempt().map_err(Into::into)
            }
            other => other.map_err(Into::into),
        }
    }

    fn reopen(&self) -> anyhow::Result<()> {
        let mut db = self.db.write();
        // The old handle must go first: the file is locked while it is open.
        let placeholder = Database::builder().create_with_backend(redb::backends::InMemoryBackend::new())?;
        drop(std::mem::replace(&mut *db, placeholder));
        *db = Database::create(&self.path).with_context(|| format!("reopening {}", self.path.display()))?;
        tracing::warn!("reopened {} after an I/O error", self.path.display());
        Ok(())
    }

    /// Store a module blob; returns its sha256.
    pub fn put_blob(&self, bytes: &[u8]) -> Result<String, BlobError> {
        let sha = hex::encode(Sha256::digest(bytes));
        let path = self.blob_path(&sha);
        if path.exists() {
            // Uploaded again: it is about to be used, so it is as young as a new upload.
            std::fs::File::options().append(true).open(&path)?.set_modified(std::time::SystemTime::now())?;
        } else {
            let stored = self.blob_bytes();
            if stored + bytes.len() as u64 > self.blob_quota {
                return Err(BlobError::Quota { stored, quota: self.blob_quota, size: bytes.len() as u64 });
            }
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, bytes)?;
            std::fs::rename(&tmp, &path)?;
        }
        Ok(sha)
    }

    /// A module blob, if present.
    pub fn blob(&self, sha256: &str) -> Option<Vec<u8>> {
        if !valid_sha(sha256) {
            return None;
        }
        std::fs::read(self.blob_path(sha256)).ok()
    }

    /// Is this blob stored?
    pub fn has_blob(&self, sha256: &str) -> bool {
        valid_sha(sha256) && self.blob_path(sha256).is_file()
    }

    /// Remove the blobs not in `referenced` that were last uploaded more than `grace` ago (a
    /// younger one may belong to a deploy between its upload and its manifest); returns how
    /// many went.
    pub fn collect_blobs(&self, referenced: &std::collections::HashSet<String>, grace: std::time::Duration) -> usize {
        let Ok(dir) = std::fs::read_dir(&self.blobs) else { return 0 };
        let now = std::time::SystemTime::now();
        let old = |m: &std::fs::Metadata| m.modified().ok().and_then(|t| now.duration_since(t).ok()).is_some_and(|age| age >= grace);
        let mut removed = 0;
        for entry in dir.flatten() {
            let path = entry.path();
            let Some(sha) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".wasm")) else { continue };
            if !referenced.contains(sha) && entry.metadata().is_ok_and(|m| old(&m)) && std::fs::remove_file(&path).is_ok() {
                removed += 1;
            }
        }
        removed
    }

    /// Bytes of all stored blobs.
    pub fn blob_bytes(&self) -> u64 {
        let Ok(dir) = std::fs::read_dir(&self.blobs) else { return 0 };
        dir.filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum()
    }

    fn blob_path(&self, sha256: &str) -> PathBuf {
        self.blobs.join(format!("{}.wasm", sha256.to_ascii_lowercase()))
    }
}

fn valid_sha(sha256: &str) -> bool {
    sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Why a blob was not stored.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// It would take the store past its quota.
    #[error("the blob store holds {stored} bytes of its {quota}-byte quota; this module of {size} bytes does not fit (delete applications, or raise `--blob-quota`)")]
    Quota {
        /// Bytes stored now.
        stored: u64,
        /// The quota.
        quota: u64,
        /// The blob's size.
        size: u64,
    },
    /// Writing it failed (e.g. the disk is full).
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn app(name: &str, padding: usize) -> AppRecord {
        AppRecord { name: name.into(), manifest: serde_json::json!({ "padding": "x".repeat(padding) }), modules: Vec::new(), generation: 1 }
    }

    /// A 4 MiB tmpfs at a fresh directory (root only, as the netns tests), unmounted on drop.
    struct SmallDisk(tempfile::TempDir);

    impl SmallDisk {
        fn mount() -> SmallDisk {
            let dir = tempfile::tempdir().unwrap();
            let ok = Command::new("mount").args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"]).arg(dir.path()).status().is_ok_and(|s| s.success());
            assert!(ok, "mounting a 4 MiB tmpfs needs root (as the netns tests do)");
            SmallDisk(dir)
        }
    }

    impl Drop for SmallDisk {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(self.0.path()).status();
        }
    }

    #[test]
    fn after_a_full_disk_writes_succeed_again_once_space_is_free_without_a_restart() {
        let disk = SmallDisk::mount();
        let store = Store::open(disk.0.path()).unwrap();
        store.put_app(&app("small", 10)).unwrap();
        // Fill the disk.
        let filler = disk.0.path().join("filler");
        let mut f = std::fs::File::create(&filler).unwrap();
        while std::io::Write::write_all(&mut f, &[0u8; 64 << 10]).is_ok() {}
        drop(f);
        assert!(store.put_app(&app("big", 1 << 20)).is_err(), "the disk is full");
        assert!(store.put_app(&app("big", 1 << 20)).is_err(), "still full");
        std::fs::remove_file(&filler).unwrap();
        store.put_app(&app("big", 1 << 20)).expect("space is free again: the write succeeds");
        let names: Vec<String> = store.load_apps().unwrap().into_iter().map(|a| a.name).collect();
        assert_eq!(names, ["big", "small"]);
    }

    #[test]
    fn blobs_beyond_the_quota_are_refused_with_the_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        store.set_blob_quota(100);
        let a = store.put_blob(&[1u8; 60]).unwrap();
        assert_eq!(store.put_blob(&[1u8; 60]).unwrap(), a, "the same bytes again take no room");
        let e = store.put_blob(&[2u8; 60]).unwrap_err().to_string();
        assert!(e.contains("60 bytes of its 100-byte quota") && e.contains("--blob-quota"), "{e}");
        assert!(store.has_blob(&a));
        assert_eq!(store.blob_bytes(), 60);
    }

    #[test]
    fn unreferenced_blobs_are_collected_after_their_grace() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (kept, gone) = (store.put_blob(b"kept").unwrap(), store.put_blob(b"gone").unwrap());
        let referenced = std::collections::HashSet::from([kept.clone()]);
        assert_eq!(store.collect_blobs(&referenced, std::time::Duration::from_secs(600)), 0, "both are young");
        assert_eq!(store.collect_blobs(&referenced, std::time::Duration::ZERO), 1);
        assert!(store.has_blob(&kept) && !store.has_blob(&gone));
    }
}
