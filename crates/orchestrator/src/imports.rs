//! Placement by imports: which system APIs a module needs, read from its own binary.
//!
//! A module's import section names the import modules it links against (`sl_vss`); each is
//! provided by one API (`sl:vss`). Reading them at deploy time means a manifest need not repeat
//! them in `placement.apis`, and a module that needs an API no Host offers is refused before
//! anything runs. This file owns that mapping; it must not place anything itself.

use crate::ApiError;
use std::collections::{BTreeMap, BTreeSet};

/// Import module → API name, from the APIs every silverline Host knows and what Hosts reported.
#[derive(Debug, Clone, Default)]
pub struct ImportMap {
    providers: BTreeMap<String, String>,
    offered: BTreeSet<String>,
}

impl ImportMap {
    /// The map of the Hosts that registered, each with its (import module, API) pairs and its
    /// advertised APIs.
    pub fn new<'a>(hosts: impl IntoIterator<Item = (&'a BTreeMap<String, String>, &'a [String])>) -> Self {
        let mut map = ImportMap::default();
        for (import, api) in silverline_manifest::KNOWN_IMPORTS {
            map.providers.insert(import.to_string(), api.to_string());
        }
        for (imports, apis) in hosts {
            map.providers.extend(imports.iter().map(|(i, a)| (i.clone(), a.clone())));
            map.offered.extend(apis.iter().cloned());
        }
        map
    }

    /// The APIs a module needs, or why it cannot run on any Host: `at` is the manifest path of
    /// the module's binary, `module` its name.
    /// `imports` are the module's import modules ([`import_modules`]).
    pub fn required(&self, imports: &[String], at: &str, module: &str) -> Result<Vec<String>, ApiError> {
        let mut apis = BTreeSet::new();
        for import in imports {
            let Some(api) = self.providers.get(import) else {
                return Err(ApiError::invalid(
                    at,
                    &format!("module `{module}` importing from `{import}`"),
                    "imports that a system API provides (no API provides this import module)",
                ));
            };
            if !self.offered.contains(api) {
                return Err(ApiError::invalid(
                    at,
                    &format!("module `{module}` importing `{import}` (the API `{api}`)"),
                    &format!("APIs a Host offers (no registered Host offers `{api}`; they offer {})", self.offered_list()),
                ));
            }
            apis.insert(api.clone());
        }
        Ok(apis.into_iter().collect())
    }

    /// Refuse a trigger on an API no registered Host offers; `at` is the manifest path.
    pub fn check_offered(&self, api: &str, at: &str, module: &str) -> Result<(), ApiError> {
        match self.offered.contains(api) {
            true => Ok(()),
            false => Err(ApiError::invalid(
                at,
                &format!("module `{module}` triggered by the API `{api}`"),
                &format!("APIs a Host offers (no registered Host offers `{api}`; they offer {})", self.offered_list()),
            )),
        }
    }

    fn offered_list(&self) -> String {
        match self.offered.is_empty() {
            true => "nothing: no Host has registered".into(),
            false => self.offered.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", "),
        }
    }
}

/// The distinct import module names of a Wasm binary, in first-use order.
pub fn import_modules(wasm: &[u8]) -> Result<Vec<String>, wasmparser::BinaryReaderError> {
    let mut out: Vec<String> = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let wasmparser::Payload::ImportSection(reader) = payload? {
            for import in reader.into_imports() {
                let import = import?;
                if !out.iter().any(|m| m == import.module) {
                    out.push(import.module.to_string());
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The import modules of the module in WAT `text`.
    fn wasm(text: &str) -> Vec<String> {
        import_modules(&wat::parse_str(text).unwrap()).unwrap()
    }

    fn map(apis: &[&str]) -> ImportMap {
        let imports = BTreeMap::from([("sl_custom".to_string(), "acme:custom".to_string())]);
        let offered: Vec<String> = apis.iter().map(|s| s.to_string()).collect();
        ImportMap::new([(&imports, offered.as_slice())])
    }

    const VSS_MODULE: &str = r#"(module (import "sl_vss" "signal" (func (param i32 i32) (result i32)))
        (import "sl" "publish" (func (param i32 i32 i32 i32) (result i32))) (memory (export "memory") 1))"#;

    #[test]
    fn imports_are_listed_once_each() {
        assert_eq!(wasm(r#"(module (import "sl" "a" (func)) (import "sl_vss" "b" (func)) (import "sl" "c" (func)))"#), ["sl", "sl_vss"]);
    }

    #[test]
    fn apis_follow_from_imports() {
        let apis = map(&["sl:channels", "sl:vss"]).required(&wasm(VSS_MODULE), "modules[0].file", "ctl").unwrap();
        assert_eq!(apis, ["sl:channels", "sl:vss"]);
    }

    #[test]
    fn an_api_no_host_offers_is_refused_with_module_import_and_api() {
        let e = map(&["sl:channels"]).required(&wasm(VSS_MODULE), "modules[0].file", "ctl").unwrap_err();
        let text = e.to_string();
        for part in ["modules[0].file", "`ctl`", "`sl_vss`", "`sl:vss`", "`sl:channels`"] {
            assert!(text.contains(part), "{part} missing from: {text}");
        }
    }

    #[test]
    fn an_import_only_a_host_reported_is_known() {
        let bin = wasm(r#"(module (import "sl_custom" "f" (func)))"#);
        assert_eq!(map(&["acme:custom"]).required(&bin, "m", "x").unwrap(), ["acme:custom"]);
        let e = map(&[]).required(&wasm(r#"(module (import "nowhere" "f" (func)))"#), "m", "x").unwrap_err();
        assert!(e.to_string().contains("`nowhere`"), "{e}");
    }

    #[test]
    fn garbage_is_refused_not_panicked_on() {
        assert!(import_modules(b"\0asm\x01\0\0\0\x02\xff").is_err());
    }
}
