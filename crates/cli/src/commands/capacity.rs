//! The capacity flags `silverline host` and `silverline run` share: how many module instances a
//! Host holds and how far each module's memory may grow (docs/host.md, "Capacity").

use silverline_host::{EngineConfig, HostConfig};

/// Capacity settings of a Host.
#[derive(clap::Args, Debug, Clone)]
pub struct CapacityArgs {
    /// Most module instances this Host holds at once: its module slots, the size of its
    /// instance pool. Default: the host manifest's `metadata.maxModules`, else 4096.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_modules: Option<u32>,
    /// Largest linear memory of any module (e.g. `64MiB`, `4GiB`, the default). Below 4 GiB
    /// every memory access is bounds-checked (slower), but the pool reserves less address space.
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    pub max_memory: Option<u64>,
}

impl CapacityArgs {
    /// The module slots to use: the flag, else the manifest's, else the Host's default.
    pub fn max_modules(&self, manifest: Option<u32>) -> u32 {
        self.max_modules.or(manifest).unwrap_or(silverline_host::DEFAULT_MAX_MODULES)
    }

    /// Apply to a Host's configuration, with the host manifest's `maxModules` if any.
    pub fn apply(&self, manifest: Option<u32>, config: &mut HostConfig) {
        let mut engine = EngineConfig::new();
        engine.max_modules(self.max_modules(manifest));
        if let Some(bytes) = self.max_memory {
            engine.max_memory_bytes(bytes);
        }
        config.engine(engine);
    }
}

/// `65536`, `64KiB`, `64MiB`, `4GiB` (also `K`, `M`, `G`, `KB`, `MB`, `GB`, all powers of 1024).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let at = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(at);
    let n: u64 = digits.parse().map_err(|_| format!("`{s}`: expected a size such as 65536, 64MiB or 4GiB"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        other => return Err(format!("`{s}`: unknown unit `{other}` (use KiB, MiB or GiB)")),
    };
    n.checked_mul(1 << shift).ok_or_else(|| format!("`{s}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn sizes_parse_in_powers_of_1024() {
        assert_eq!(parse_bytes("65536"), Ok(65536));
        assert_eq!(parse_bytes("64MiB"), Ok(64 << 20));
        assert_eq!(parse_bytes("4G"), Ok(4 << 30));
        assert!(parse_bytes("4 lightyears").unwrap_err().contains("unknown unit"));
        assert!(parse_bytes("MiB").is_err());
    }
}
