//! The data of a module instance's `Store`: each API's context side by side, and the views
//! through which each API reaches its own. The built-in APIs are registered here; plug-in
//! APIs keep their state in [`Extensions`].

use crate::abi::{ChannelCtx, ChannelView, Channels};
use crate::refabi::{RefState, RefView, ReferenceRuntime};
use crate::sidecar::{SidecarCtx, SidecarView, Sidecars};
use silverline_hostapi::{ApiSet, ApiView, Extensions, HostApi};
use std::sync::Arc;
use wasmtime::{Linker, Memory, StoreLimits};
use wasmtime_wasi::p1::WasiP1Ctx;

/// The store data of one module instance. Plug-in APIs reach it only through [`ApiView`].
pub struct ModuleCtx {
    pub(crate) wasi: WasiP1Ctx,
    pub(crate) limits: StoreLimits,
    pub(crate) memory: Option<Memory>,
    pub(crate) channels: ChannelCtx,
    pub(crate) refabi: Option<RefState>,
    pub(crate) sidecar: SidecarCtx,
    pub(crate) ext: Extensions,
    /// The gate of writes through plug-in APIs (`None`: the module imports none).
    pub(crate) api_writes: Option<Arc<silverline_channels::OutputPort>>,
}

impl ApiView for ModuleCtx {
    fn memory(&self) -> Option<Memory> {
        self.memory
    }
    fn extensions(&mut self) -> &mut Extensions {
        &mut self.ext
    }
    fn outputs_open(&self) -> bool {
        self.api_writes.as_ref().is_none_or(|gate| gate.admit())
    }
}

impl ChannelView for ModuleCtx {
    fn channels(&mut self) -> &mut ChannelCtx {
        &mut self.channels
    }
}

impl RefView for ModuleCtx {
    fn refabi(&mut self) -> Option<&mut RefState> {
        self.refabi.as_mut()
    }
}

impl SidecarView for ModuleCtx {
    fn sidecar(&self) -> &SidecarCtx {
        &self.sidecar
    }
}

/// `wasm:wasi_preview1`: WASI preview 1 (import module `wasi_snapshot_preview1`), with what the
/// module's manifest grants.
struct Wasi;

impl HostApi<ModuleCtx> for Wasi {
    fn name(&self) -> &str {
        "wasm:wasi_preview1"
    }
    fn imports(&self) -> &[&str] {
        &["wasi_snapshot_preview1"]
    }
    fn add_to_linker(&self, linker: &mut Linker<ModuleCtx>) -> anyhow::Result<()> {
        Ok(wasmtime_wasi::p1::add_to_linker_sync(linker, |c: &mut ModuleCtx| &mut c.wasi)?)
    }
}

/// The import modules of the built-in APIs: whatever else a module imports comes from a plug-in.
const BUILTIN_IMPORTS: [&str; 4] = ["sl", "sl_sidecar", "wasi_snapshot_preview1", "env"];

/// Does the module import a plug-in API (and so may write outside itself through it)?
pub(crate) fn writes_through_plugins(module: &wasmtime::Module) -> bool {
    module.imports().any(|i| !BUILTIN_IMPORTS.contains(&i.module()))
}

/// The APIs every Host offers: channels, sidecar primitives, WASI and the reference runtime's.
pub fn builtin_apis() -> ApiSet<ModuleCtx> {
    let mut set = ApiSet::new();
    let builtins: [Arc<dyn HostApi<ModuleCtx>>; 4] = [Arc::new(Channels), Arc::new(Sidecars), Arc::new(Wasi), Arc::new(ReferenceRuntime)];
    for api in builtins {
        set.register(api).expect("the built-in APIs have distinct names and imports");
    }
    set
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_built_in_apis_provide_the_imports_the_manifest_crate_names_them_by() {
        for (import, api) in super::builtin_apis().imports() {
            assert_eq!(silverline_manifest::api_of_import(&import), Some(api.as_str()), "import module `{import}`");
        }
    }
}
