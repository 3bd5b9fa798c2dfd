//! Capabilities a module asks for by importing them, checked against what its manifest grants
//! before it is linked.
//!
//! A Host links the same APIs for every module, so this check is what makes a grant mean
//! something: a module that imports the sidecar API without `sidecar: true` in its manifest,
//! or WASI's socket functions (silverline grants no sockets), is refused at deploy with the
//! import named. Unknown import modules are refused by the linker itself.

/// What a module's manifest grants it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Grants {
    /// The `sl_sidecar` API (failover sidecars only).
    pub sidecar: bool,
}

/// The (module, name) pairs `wasm` imports.
pub fn imports(wasm: &[u8]) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let wasmparser::Payload::ImportSection(reader) = payload.map_err(|e| format!("not a valid Wasm module: {e}"))? {
            for import in reader.into_imports() {
                let import = import.map_err(|e| format!("not a valid Wasm module: {e}"))?;
                out.push((import.module.to_string(), import.name.to_string()));
            }
        }
    }
    Ok(out)
}

/// Refuse `wasm` if it imports a capability `grants` does not include.
pub fn check(wasm: &[u8], grants: Grants) -> Result<(), String> {
    for (module, name) in imports(wasm)? {
        let refused = match module.as_str() {
            "sl_sidecar" => !grants.sidecar,
            "wasi_snapshot_preview1" | "wasi_unstable" => name.starts_with("sock_"),
            _ => false,
        };
        if refused {
            return Err(format!("it imports `{module}.{name}`, a capability its manifest does not grant{}", if module == "sl_sidecar" { " (only `sidecar: true` modules may use the sidecar API)" } else { " (silverline grants modules no sockets)" }));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // (module (import "sl_sidecar" "set_outputs" (func)))
    const SIDECAR_IMPORT: &[u8] = &[
        0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 2, 26, 1, 10, b's', b'l', b'_', b's', b'i', b'd', b'e', b'c', b'a', b'r', 11, b's', b'e', b't', b'_', b'o',
        b'u', b't', b'p', b'u', b't', b's', 0, 0,
    ];

    #[test]
    fn the_sidecar_api_needs_a_grant() {
        assert_eq!(imports(SIDECAR_IMPORT).unwrap(), vec![("sl_sidecar".to_string(), "set_outputs".to_string())]);
        assert!(check(SIDECAR_IMPORT, Grants { sidecar: true }).is_ok());
        let e = check(SIDECAR_IMPORT, Grants::default()).unwrap_err();
        assert!(e.contains("sl_sidecar.set_outputs"), "{e}");
        assert!(check(b"junk", Grants::default()).is_err());
    }
}
