//! Helpers shared by the sections: Hosts, manifests, module bytes, machine description.

use crate::Meta;
use silverline_host::{Host, HostConfig, ModuleId, Stream};
use silverline_manifest::{ApplicationManifest, ModuleSpec};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// A Host whose modules' output is discarded (printing would be measured otherwise).
pub(crate) fn quiet(mut config: HostConfig) -> HostConfig {
    config.output(Arc::new(|_: &str, _: Stream, _: &str| {}));
    config
}

/// The spec of the single module of an inline application manifest (`file` is never read:
/// the bytes are passed to `Host::deploy`).
pub(crate) fn spec(module_yaml: &str) -> anyhow::Result<ModuleSpec> {
    let yaml = format!("name: bench\nmodules:\n  - name: m\n    file: bench.wasm\n{module_yaml}");
    let app = ApplicationManifest::from_str(&yaml, std::path::Path::new("/")).map_err(|e| anyhow::anyhow!("bench manifest: {e}\n{yaml}"))?;
    Ok(app.modules.into_iter().next().expect("one module"))
}

/// `trigger: event` on input `in`, output `out`.
pub(crate) fn event_spec(in_topic: &str, out_topic: &str, depth: usize) -> anyhow::Result<ModuleSpec> {
    spec(&format!(
        "    trigger: {{ type: event, channel: in }}\n    inputChannels:\n      channels: [{{ name: in, endpoint: {in_topic}, queueDepth: {depth} }}]\n    outputChannels:\n      channels: [{{ name: out, endpoint: {out_topic} }}]\n"
    ))
}

/// `trigger: periodic` with optional input `in` and output `out`.
pub(crate) fn periodic_spec(period: Duration, in_topic: Option<&str>, out_topic: Option<&str>) -> anyhow::Result<ModuleSpec> {
    let mut y = format!("    trigger: {{ type: periodic, periodInNs: {} }}\n", period.as_nanos());
    if let Some(t) = in_topic {
        y.push_str(&format!("    inputChannels:\n      channels: [{{ name: in, endpoint: {t} }}]\n"));
    }
    if let Some(t) = out_topic {
        y.push_str(&format!("    outputChannels:\n      channels: [{{ name: out, endpoint: {t} }}]\n"));
    }
    spec(&y)
}

/// Binary Wasm from WAT text.
pub(crate) fn wasm(wat: &str) -> anyhow::Result<Vec<u8>> {
    silverline_host::wasm_from_bytes(wat.as_bytes())
}

/// The same module with a custom section appended, so its sha256 (and cache key) is new.
pub(crate) fn with_nonce(wasm: &[u8], nonce: u64) -> Vec<u8> {
    let name = b"silverline-bench-nonce";
    let mut payload = vec![name.len() as u8];
    payload.extend_from_slice(name);
    payload.extend_from_slice(&nonce.to_le_bytes());
    payload.extend_from_slice(&u64::from(std::process::id()).to_le_bytes());
    let mut out = wasm.to_vec();
    out.push(0); // custom section
    out.push(payload.len() as u8); // < 128: one LEB128 byte
    out.extend_from_slice(&payload);
    out
}

/// Run a periodic module until it has `warmup + n` activations; return the execution time of
/// the `n` activations after the warm-up ones, from the Host's activation log.
pub(crate) fn periodic_exec_ns(host: &Host, id: &ModuleId, warmup: usize, n: usize, period: Duration) -> anyhow::Result<Vec<f64>> {
    let need = (warmup + n) as u64;
    let timeout = period * (need as u32) * 4 + Duration::from_secs(20);
    let key = id.as_str().to_string();
    let ok = host.wait_for(timeout, |s| s.module(&key).is_some_and(|m| m.activations >= need));
    let status = host.status();
    let m = status.module(&key).ok_or_else(|| anyhow::anyhow!("module {key} vanished"))?;
    if !ok {
        anyhow::bail!("module {key}: {} activations after {timeout:?}, wanted {need} (state {:?})", m.activations, m.state);
    }
    if m.step_errors > 0 || m.traps > 0 {
        anyhow::bail!("module {key}: {} step errors, {} traps", m.step_errors, m.traps);
    }
    let mut log = host.activation_log(id);
    log.sort_by_key(|r| r.index);
    Ok(log.iter().skip(warmup).take(n).map(|r| r.exec_ns as f64).collect())
}

/// Sleep until `at` (no-op if past).
pub(crate) fn sleep_until(at: Instant) {
    let now = Instant::now();
    if at > now {
        std::thread::sleep(at - now);
    }
}

pub(crate) fn meta(date_utc: String, quick: bool, broker: Option<String>) -> Meta {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split_once(':')).map(|(_, v)| v.trim().to_string()))
        .unwrap_or_else(|| "unknown CPU".into());
    Meta {
        date_utc,
        cpu,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| s.trim().to_string()).unwrap_or_else(|_| "?".into()),
        build: if cfg!(debug_assertions) { "debug" } else { "release" }.into(),
        quick,
        broker,
        version: env!("CARGO_PKG_VERSION").into(),
    }
}

/// `YYYY-MM-DD HH:MM:SSZ` (days-to-civil from Howard Hinnant's date algorithms).
pub(crate) fn utc_now() -> String {
    let secs = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}
