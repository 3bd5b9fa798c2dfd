//! The four built-in sidecar modules (docs/failover.md, "The four sidecars"), hand-written WAT in
//! `sidecars/` at the workspace root, bundled into this crate.
//!
//! | sidecar | trigger | channels | `config` |
//! | --- | --- | --- | --- |
//! | emitter | periodic (heartbeat period) | out `heartbeat` | - |
//! | detector | event `heartbeat` | in `heartbeat`, out `link` | [`detector_config`] |
//! | coordinator | event `links` | in `links`, out `cmd0`..`cmd{N-1}`, `notify` | [`coordinator_config`] |
//! | channel manager | event `control` | in `control` | the managed module's name |
//!
//! All of them fail `sl_init` when a channel they need is missing or the config does not parse
//! (decimal numbers separated by single spaces, nothing before or after), and ignore messages that
//! are not 32 bytes or of a kind they do not handle. Imports: `sl.channel_*` and
//!
//! - emitter: `sl.now`, `sl.activation`, `sl_sidecar.host_load`;
//! - detector: `sl.now`, `sl.wake_at`, `sl.config`;
//! - coordinator: `sl.now`, `sl.config`;
//! - channel manager: `sl.config`, `sl_sidecar.set_outputs` (the only one that acts on outputs).

use crate::coordinator::Policy;

/// One of the built-in sidecars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Periodic; publishes a HEARTBEAT every activation.
    Emitter,
    /// Turns one emitter's heartbeats into ALIVE, and their absence into DOWN.
    Detector,
    /// The failover coordinator: elects the primary and grants leases.
    Coordinator,
    /// Applies the coordinator's commands to the outputs of a replica on its Host.
    ChannelManager,
}

impl Kind {
    /// Every sidecar.
    pub const ALL: [Kind; 4] = [Kind::Emitter, Kind::Detector, Kind::Coordinator, Kind::ChannelManager];

    /// The name sidecars of this kind are given (`"emitter"`, `"detector"`, `"coordinator"`,
    /// `"channel-manager"`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Emitter => "emitter",
            Kind::Detector => "detector",
            Kind::Coordinator => "coordinator",
            Kind::ChannelManager => "channel-manager",
        }
    }

    /// The module's WebAssembly text.
    pub fn wat(self) -> &'static str {
        match self {
            Kind::Emitter => include_str!("../../../sidecars/emitter.wat"),
            Kind::Detector => include_str!("../../../sidecars/detector.wat"),
            Kind::Coordinator => include_str!("../../../sidecars/coordinator.wat"),
            Kind::ChannelManager => include_str!("../../../sidecars/channel_manager.wat"),
        }
    }

    /// The module compiled to a Wasm binary.
    ///
    /// # Panics
    /// If the bundled text does not parse, which is a bug of this crate (a test parses all four).
    pub fn wasm(self) -> Vec<u8> {
        wat::parse_str(self.wat())
            .unwrap_or_else(|e| panic!("the bundled {} sidecar does not parse as WAT: {e}", self.name()))
    }
}

/// The detector's `config`: `"INDEX TIMEOUT_NS"`.
pub fn detector_config(index: u32, timeout_ns: u64) -> String {
    format!("{index} {timeout_ns}")
}

/// The coordinator's `config`: `"POLICY LEASE_NS SKEW_NS"`.
pub fn coordinator_config(policy: Policy, lease_ns: u64, skew_ns: u64) -> String {
    format!("{policy} {lease_ns} {skew_ns}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use wasmparser::{ExternalKind, FuncType, Parser, Payload, TypeRef, Validator};

    /// What a module imports and exports, with function signatures written `"i32 i32 -> i32"`.
    #[derive(Default)]
    struct Interface {
        imports: BTreeMap<String, String>,
        exports: BTreeMap<String, String>,
    }

    fn signature(t: &FuncType) -> String {
        let list = |v: &[wasmparser::ValType]| v.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(" ");
        format!("{} -> {}", list(t.params()), list(t.results())).trim().to_string()
    }

    fn interface(wasm: &[u8]) -> Interface {
        let mut types = Vec::new(); // type index -> signature
        let mut funcs = Vec::new(); // function index -> signature
        let mut exports = Vec::new();
        let mut out = Interface::default();
        for payload in Parser::new(0).parse_all(wasm) {
            match payload.expect("parses") {
                Payload::TypeSection(r) => {
                    for t in r.into_iter_err_on_gc_types() {
                        types.push(signature(&t.expect("a function type")));
                    }
                }
                Payload::ImportSection(r) => {
                    for i in r.into_imports() {
                        let i = i.expect("an import");
                        let TypeRef::Func(t) = i.ty else { panic!("{}.{} is not a function", i.module, i.name) };
                        funcs.push(types[t as usize].clone());
                        out.imports.insert(format!("{}.{}", i.module, i.name), types[t as usize].clone());
                    }
                }
                Payload::FunctionSection(r) => {
                    for t in r {
                        funcs.push(types[t.expect("a function") as usize].clone());
                    }
                }
                Payload::ExportSection(r) => {
                    for e in r {
                        let e = e.expect("an export");
                        exports.push((e.name.to_string(), e.kind, e.index));
                    }
                }
                _ => {}
            }
        }
        for (name, kind, index) in exports {
            let what = match kind {
                ExternalKind::Func => funcs[index as usize].clone(),
                ExternalKind::Memory => "memory".to_string(),
                other => format!("{other:?}"),
            };
            out.exports.insert(name, what);
        }
        out
    }

    /// The documented signature of every import a sidecar may use.
    fn documented(import: &str) -> &'static str {
        match import {
            "sl.channel_open" | "sl.channel_publish" | "sl.channel_receive" => "i32 i32 i32 -> i32",
            "sl.activation" | "sl.now" => "-> i64",
            "sl.wake_at" => "i64 ->",
            "sl.config" => "i32 i32 -> i32",
            "sl_sidecar.set_outputs" => "i32 i32 i32 i64 i64 i64 -> i32",
            "sl_sidecar.host_load" => "-> i32",
            other => panic!("undocumented import {other}"),
        }
    }

    #[test]
    fn every_sidecar_parses_and_validates() {
        for kind in Kind::ALL {
            let wasm = kind.wasm();
            Validator::new().validate_all(&wasm).unwrap_or_else(|e| panic!("{}: {e}", kind.name()));
        }
    }

    #[test]
    fn imports_are_exactly_what_each_sidecar_uses() {
        let channels = ["sl.channel_open", "sl.channel_publish", "sl.channel_receive"];
        let expected: [(Kind, &[&str]); 4] = [
            (Kind::Emitter, &["sl.channel_open", "sl.channel_publish", "sl.now", "sl.activation", "sl_sidecar.host_load"]),
            (Kind::Detector, &[channels[0], channels[1], channels[2], "sl.now", "sl.wake_at", "sl.config"]),
            (Kind::Coordinator, &[channels[0], channels[1], channels[2], "sl.now", "sl.config"]),
            (Kind::ChannelManager, &["sl.channel_open", "sl.channel_receive", "sl.config", "sl_sidecar.set_outputs"]),
        ];
        for (kind, names) in expected {
            let iface = interface(&kind.wasm());
            let mut want: Vec<&str> = names.to_vec();
            want.sort();
            assert_eq!(iface.imports.keys().map(String::as_str).collect::<Vec<_>>(), want, "{}", kind.name());
            for (name, sig) in &iface.imports {
                assert_eq!(sig, documented(name), "{}: signature of {name}", kind.name());
            }
        }
    }

    #[test]
    fn only_the_channel_manager_sets_outputs() {
        for kind in Kind::ALL {
            let sets = interface(&kind.wasm()).imports.contains_key("sl_sidecar.set_outputs");
            assert_eq!(sets, kind == Kind::ChannelManager, "{}", kind.name());
        }
    }

    #[test]
    fn every_sidecar_exports_memory_init_and_step() {
        for kind in Kind::ALL {
            let exports = interface(&kind.wasm()).exports;
            let got: Vec<(&str, &str)> = exports.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            assert_eq!(got, [("memory", "memory"), ("sl_init", "-> i32"), ("sl_step", "-> i32")], "{}", kind.name());
        }
    }

    #[test]
    fn names_and_configs() {
        let names: Vec<_> = Kind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names, ["emitter", "detector", "coordinator", "channel-manager"]);
        assert_eq!(detector_config(3, 20_000_000), "3 20000000");
        assert_eq!(coordinator_config(Policy::LeastLoaded, 10, 1), "least-loaded 10 1");
    }
}
