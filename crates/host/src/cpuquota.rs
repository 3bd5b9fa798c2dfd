//! A CPU quota for best-effort modules: the Host's worker pool (and command threads) go into a
//! cgroup of their own whose CFS bandwidth is limited, so best-effort work cannot take more than
//! its share of the machine however much of it there is. Real-time threads stay outside.
//!
//! cgroup v1 (`/sys/fs/cgroup/cpu`) places single threads by writing their ids to `tasks`;
//! the v2 unified hierarchy needs a threaded subtree with the `cpu` controller delegated, which
//! is rarely available to a process — where neither works the Host says why and runs without
//! a quota (never silently). This is the only place that writes to cgroups.

use std::path::{Path, PathBuf};

/// The CFS period the quota is expressed in.
const PERIOD_US: u64 = 100_000;

/// A cgroup holding the Host's best-effort threads, removed when dropped.
pub(crate) struct CpuQuota {
    dir: PathBuf,
    cores: f64,
}

impl CpuQuota {
    /// Create the cgroup with a quota of `cores` CPUs (e.g. 0.5), named after the process, a
    /// sequence number and the Host, so that no two Hosts share it.
    pub(crate) fn create(cores: f64, host: &str) -> Result<CpuQuota, String> {
        let root = Path::new("/sys/fs/cgroup/cpu");
        if !root.join("cpu.cfs_quota_us").exists() {
            return Err("no cgroup v1 cpu controller at /sys/fs/cgroup/cpu".into());
        }
        if !(cores > 0.0 && cores.is_finite()) {
            return Err(format!("a quota of {cores} CPUs: expected a positive number"));
        }
        let parent = root.join("silverline");
        remove_stale(&parent);
        static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = parent.join(format!("{}-{seq}-{}", std::process::id(), sanitize(host)));
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let quota = ((cores * PERIOD_US as f64).round() as u64).max(1000);
        let write = |file: &str, value: String| std::fs::write(dir.join(file), value).map_err(|e| format!("writing {file} in {}: {e}", dir.display()));
        write("cpu.cfs_period_us", PERIOD_US.to_string())?;
        write("cpu.cfs_quota_us", quota.to_string())?;
        Ok(CpuQuota { dir, cores })
    }

    /// Move the calling thread into the cgroup.
    pub(crate) fn join_current_thread(&self) -> Result<(), String> {
        // SAFETY: gettid has no preconditions.
        #[allow(unsafe_code)]
        let tid = unsafe { libc::gettid() };
        std::fs::write(self.dir.join("tasks"), tid.to_string()).map_err(|e| format!("moving thread {tid} into {}: {e}", self.dir.display()))
    }

    /// What the Host reports.
    pub(crate) fn describe(&self) -> String {
        format!("{:.2} CPU (cgroup {})", self.cores, self.dir.display())
    }
}

impl Drop for CpuQuota {
    fn drop(&mut self) {
        // Fails while threads are still inside; `remove_stale` catches it on a later start.
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Remove the cgroups of Hosts that are gone (an empty cgroup whose process no longer exists).
fn remove_stale(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let pid = name.split('-').next().and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|p| !Path::new(&format!("/proc/{p}")).exists()) {
            let _ = std::fs::remove_dir(e.path());
        }
    }
}

fn sanitize(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}
