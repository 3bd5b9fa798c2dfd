//! Generates the platform manifest of the machine we run on, from Linux's /proc and /sys and
//! (for addresses) `ip -j addr`.
//!
//! Every field degrades on its own: a missing or unreadable file leaves that field empty
//! instead of failing the probe, so the same code runs in containers, on other kernels and on
//! other operating systems. Values that would not pass validation are dropped rather than
//! reported, because the manifest describes what could be measured.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use crate::platform::{is_cidr, is_mac};
use crate::platform::{
    CpuInfo, MemoryInfo, NetworkInfo, NetworkInterface, OsInfo, PlatformManifest,
};

impl PlatformManifest {
    /// Describes this machine. Never panics; fields that cannot be read are left out (on a
    /// system without /proc/meminfo, `memory.totalBytes` is 0 and `validate` rejects it).
    pub fn probe() -> PlatformManifest {
        Prober {
            root: PathBuf::from("/"),
            run_ip: true,
        }
        .probe()
    }
}

/// Reads files below `root` ("/" in real use, a fake tree in tests).
struct Prober {
    root: PathBuf,
    run_ip: bool,
}

impl Prober {
    fn probe(&self) -> PlatformManifest {
        PlatformManifest {
            id: None,
            cpu: self.cpu(),
            memory: self.memory(),
            network: self.network(),
            os: Some(self.os()),
            qos: BTreeMap::new(),
        }
    }

    fn read(&self, path: &str) -> Option<String> {
        let s = fs::read_to_string(self.root.join(path.trim_start_matches('/'))).ok()?;
        Some(s.trim().to_string()).filter(|s| !s.is_empty())
    }

    fn cpu(&self) -> CpuInfo {
        let info = self.read("/proc/cpuinfo").unwrap_or_default();
        let field = |key: &str| cpuinfo_field(&info, key);
        let (l1d, l2, l3) = self.caches();
        CpuInfo {
            arch: arch_name(std::env::consts::ARCH),
            bits: Some(usize::BITS),
            vendor: field("vendor_id"),
            model_name: field("model name"),
            family: field("cpu family").and_then(|v| v.parse().ok()),
            model: field("model").and_then(|v| v.parse().ok()),
            cores: cores(&info),
            cpufreq_mhz: self.freq_mhz(&info),
            l1d_size_bytes: l1d,
            l2_size_bytes: l2,
            l3_size_bytes: l3,
        }
    }

    /// Nominal maximum frequency from cpufreq when the kernel exposes it (stable across
    /// probes), else the current "cpu MHz" of /proc/cpuinfo.
    fn freq_mhz(&self, cpuinfo: &str) -> Option<f64> {
        let khz = self.read("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq");
        let mhz = match khz.and_then(|k| k.parse::<f64>().ok()) {
            Some(k) => Some(k / 1000.0),
            None => cpuinfo_field(cpuinfo, "cpu MHz").and_then(|v| v.parse().ok()),
        };
        // Three decimals are all that is meaningful, and they keep the manifest readable.
        mhz.filter(|f: &f64| f.is_finite() && *f > 0.0)
            .map(|f| (f * 1000.0).round() / 1000.0)
    }

    /// (L1 data, L2, L3) sizes of cpu0's caches.
    fn caches(&self) -> (Option<u64>, Option<u64>, Option<u64>) {
        let (mut l1d, mut l2, mut l3) = (None, None, None);
        let dir = self.root.join("sys/devices/system/cpu/cpu0/cache");
        for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with("index") {
                continue;
            }
            let base = format!("/sys/devices/system/cpu/cpu0/cache/{name}");
            let level = self.read(&format!("{base}/level"));
            let kind = self.read(&format!("{base}/type"));
            let size = self
                .read(&format!("{base}/size"))
                .and_then(|s| parse_size(&s));
            match (level.as_deref(), kind.as_deref()) {
                (Some("1"), Some("Data")) => l1d = size.or(l1d),
                (Some("2"), _) => l2 = size.or(l2),
                (Some("3"), _) => l3 = size.or(l3),
                _ => {}
            }
        }
        (l1d, l2, l3)
    }

    fn memory(&self) -> MemoryInfo {
        let info = self.read("/proc/meminfo").unwrap_or_default();
        let total = meminfo_bytes(&info, "MemTotal").unwrap_or(0);
        let available = meminfo_bytes(&info, "MemAvailable").filter(|a| *a <= total);
        MemoryInfo {
            total_bytes: total,
            available_bytes: available,
        }
    }

    fn network(&self) -> NetworkInfo {
        let addresses = if self.run_ip {
            ip_addresses()
        } else {
            BTreeMap::new()
        };
        let dir = self.root.join("sys/class/net");
        let mut names: Vec<String> = (fs::read_dir(dir).into_iter().flatten().flatten())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.is_empty())
            .collect();
        names.sort();
        let interfaces = names
            .into_iter()
            .map(|name| self.interface(name, &addresses))
            .collect();
        NetworkInfo { interfaces }
    }

    fn interface(
        &self,
        name: String,
        addresses: &BTreeMap<String, Vec<String>>,
    ) -> NetworkInterface {
        let base = format!("/sys/class/net/{name}");
        let mac = self.read(&format!("{base}/address")).filter(|m| is_mac(m));
        let positive = |file: &str| {
            let v = self.read(&format!("{base}/{file}"))?.parse::<i64>().ok()?;
            u32::try_from(v).ok().filter(|v| *v > 0)
        };
        NetworkInterface {
            addresses: addresses.get(&name).cloned().unwrap_or_default(),
            mac,
            mtu: positive("mtu"),
            // Reading `speed` fails (EINVAL) or gives -1 for virtual or down links.
            speed_mbps: positive("speed"),
            name,
        }
    }

    fn os(&self) -> OsInfo {
        OsInfo {
            name: Some(std::env::consts::OS.to_string()),
            kernel: self.read("/proc/sys/kernel/osrelease"),
            hostname: self.read("/proc/sys/kernel/hostname"),
        }
    }
}

/// The paper's spelling of Rust's architecture names.
fn arch_name(rust_arch: &str) -> String {
    match rust_arch {
        "x86_64" => "X86_64".into(),
        "x86" => "X86".into(),
        "aarch64" => "AARCH64".into(),
        "arm" => "ARM".into(),
        "riscv64" => "RISCV64".into(),
        other => other
            .to_ascii_uppercase()
            .replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
    }
}

/// CPUs this process may use (affinity and cgroup quota included), falling back to the
/// processors listed in /proc/cpuinfo, then to 1.
fn cores(cpuinfo: &str) -> u32 {
    let listed = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let n = std::thread::available_parallelism().map_or(listed, |n| n.get());
    u32::try_from(n.max(1)).unwrap_or(u32::MAX)
}

/// The value of the first `key : value` line of /proc/cpuinfo.
fn cpuinfo_field(info: &str, key: &str) -> Option<String> {
    info.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// `MemTotal:  24576000 kB` → bytes.
fn meminfo_bytes(info: &str, key: &str) -> Option<u64> {
    let line = info.lines().find(|l| l.split(':').next() == Some(key))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kb.checked_mul(1024).filter(|b| *b > 0)
}

/// Cache sizes as sysfs writes them: `32K`, `8M`, `1G` or plain bytes.
fn parse_size(s: &str) -> Option<u64> {
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = digits.parse().ok()?;
    let mult = match unit.trim() {
        "" => 1,
        "K" | "KB" => 1 << 10,
        "M" | "MB" => 1 << 20,
        "G" | "GB" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult).filter(|b| *b > 0)
}

/// Interface name → `address/prefix` list from `ip -j addr`; empty if `ip` is missing or its
/// output is not what we expect. Parsing /proc/net/fib_trie instead is not worth the code.
fn ip_addresses() -> BTreeMap<String, Vec<String>> {
    let output = std::process::Command::new("ip")
        .args(["-j", "addr"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output();
    match output {
        Ok(o) if o.status.success() => parse_ip_json(&o.stdout),
        _ => BTreeMap::new(),
    }
}

fn parse_ip_json(json: &[u8]) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    let Ok(serde_json::Value::Array(links)) = serde_json::from_slice(json) else {
        return out;
    };
    for link in &links {
        let Some(name) = link["ifname"].as_str() else {
            continue;
        };
        let addrs = (link["addr_info"].as_array().into_iter().flatten())
            .filter_map(|a| {
                Some(format!(
                    "{}/{}",
                    a["local"].as_str()?,
                    a["prefixlen"].as_u64()?
                ))
            })
            // Addresses that would not validate (odd `ip` builds) are dropped.
            .filter(|a| is_cidr(a))
            .collect();
        out.insert(name.to_string(), addrs);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn write(root: &Path, path: &str, text: &str) {
        let p = root.join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    #[test]
    fn reads_a_fake_tree() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        write(r, "proc/cpuinfo", "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 85\nmodel name\t: Xeon\ncpu MHz\t\t: 2999.9001\n");
        write(
            r,
            "proc/meminfo",
            "MemTotal:       1000 kB\nMemFree: 10 kB\nMemAvailable:    500 kB\n",
        );
        write(r, "sys/devices/system/cpu/cpu0/cache/index0/level", "1\n");
        write(r, "sys/devices/system/cpu/cpu0/cache/index0/type", "Data\n");
        write(r, "sys/devices/system/cpu/cpu0/cache/index0/size", "32K\n");
        write(r, "sys/devices/system/cpu/cpu0/cache/index2/level", "3\n");
        write(
            r,
            "sys/devices/system/cpu/cpu0/cache/index2/type",
            "Unified\n",
        );
        write(r, "sys/devices/system/cpu/cpu0/cache/index2/size", "8M\n");
        write(r, "sys/class/net/eth0/address", "aa:bb:cc:dd:ee:ff\n");
        write(r, "sys/class/net/eth0/mtu", "1500\n");
        write(r, "sys/class/net/eth0/speed", "-1\n");
        let p = Prober {
            root: r.to_path_buf(),
            run_ip: false,
        }
        .probe();
        assert_eq!(p.cpu.vendor.as_deref(), Some("GenuineIntel"));
        assert_eq!((p.cpu.family, p.cpu.model), (Some(6), Some(85)));
        assert_eq!(p.cpu.cpufreq_mhz, Some(2999.9));
        assert_eq!(
            (p.cpu.l1d_size_bytes, p.cpu.l2_size_bytes),
            (Some(32768), None)
        );
        assert_eq!(p.cpu.l3_size_bytes, Some(8 << 20));
        assert_eq!(
            p.memory,
            MemoryInfo {
                total_bytes: 1_024_000,
                available_bytes: Some(512_000)
            }
        );
        let eth0 = &p.network.interfaces[0];
        assert_eq!((eth0.mtu, eth0.speed_mbps), (Some(1500), None));
        p.validate().unwrap();
    }

    #[test]
    fn degrades_on_an_empty_tree() {
        let dir = tempfile::tempdir().unwrap();
        let p = Prober {
            root: dir.path().to_path_buf(),
            run_ip: false,
        }
        .probe();
        assert!(p.cpu.vendor.is_none() && p.cpu.cores >= 1);
        assert_eq!(p.memory.total_bytes, 0);
        assert!(p.network.interfaces.is_empty());
    }

    #[test]
    fn parses_ip_json_and_sizes() {
        let json = br#"[{"ifname":"lo","addr_info":[{"local":"127.0.0.1","prefixlen":8},{"local":"::1","prefixlen":128}]},{"ifname":"x"}]"#;
        let m = parse_ip_json(json);
        assert_eq!(m["lo"], vec!["127.0.0.1/8", "::1/128"]);
        assert!(m["x"].is_empty());
        assert!(parse_ip_json(b"not json").is_empty());
        assert_eq!(parse_size("1024K"), Some(1 << 20));
        assert_eq!(parse_size("12 Q"), None);
        assert_eq!(arch_name("x86_64"), "X86_64");
        assert_eq!(arch_name("powerpc64"), "POWERPC64");
    }
}
