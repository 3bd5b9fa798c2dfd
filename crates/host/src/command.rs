//! Running a bare WASI command module once, the way `wasmtime run` does: inherited stdio,
//! granted args, env and directories, the module's exit code as the result.

use crate::abi::{ChannelCtx, ChannelTable};
use crate::ctx::ModuleCtx;
use crate::engine::{Allocation, EngineConfig, Metering, SlEngine};
use crate::output::{print_sink, LineWriter, Stream};
use anyhow::bail;
use std::path::PathBuf;
use crate::refabi::RefState;
use silverline_channels::{Router, RoutingMode};
use silverline_manifest::HostUuid;
use std::sync::Arc;
use std::time::Instant;
use wasmtime::{Module, Store, StoreLimitsBuilder};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

/// What a command module may see. `Default` grants nothing but stdio, clocks and randomness,
/// and its channels loop back within the module.
#[derive(Clone, Default)]
pub struct CommandGrants {
    /// `argv`, including `argv[0]`.
    pub args: Vec<String>,
    /// Environment variables.
    pub env: Vec<(String, String)>,
    /// Preopened directories: (host path, guest path).
    pub dirs: Vec<(PathBuf, String)>,
    /// Where the module's channels go: a router with a broker attached reaches other Hosts and
    /// observers. `None`: a router of its own, so channels stay within the module.
    pub router: Option<Arc<Router>>,
}

/// Run `wasm` (binary or WAT) as a WASI command and return its exit code.
pub fn run_command(wasm: &[u8], grants: &CommandGrants) -> anyhow::Result<i32> {
    // One module, run to its end: unmetered code, no pool.
    let engines = SlEngine::new(EngineConfig::new().allocation(Allocation::OnDemand).max_modules(1))?;
    let engine = engines.engine(Metering::Unmetered);
    let wasm = crate::cache::wasm_from_bytes(wasm)?;
    let module = Module::new(engine, &wasm).map_err(|e| anyhow::anyhow!("compiling the module: {e:#}"))?;
    let linker = crate::host::linker(engine, &crate::ctx::builtin_apis())?;
    let mut store = Store::new(engine, context(grants)?);
    store.limiter(|c| &mut c.limits);
    store.epoch_deadline_callback(|_| Ok(wasmtime::UpdateDeadline::Continue(u64::MAX / 2)));
    let instance = crate::refabi::instantiate_pre(&linker, &module)?.instantiate(&mut store)?;
    store.data_mut().memory = instance.get_memory(&mut store, "memory");
    let Ok(start) = instance.get_typed_func::<(), ()>(&mut store, "_start") else {
        bail!("the module exports no `_start`: it is not a WASI command (reactor modules run from a manifest)");
    };
    match start.call(&mut store, ()) {
        Ok(()) => Ok(0),
        Err(e) => match e.downcast_ref::<wasmtime_wasi::I32Exit>() {
            Some(exit) => Ok(exit.0),
            None => Err(anyhow::Error::from(e).context("the module trapped")),
        },
    }
}

fn context(g: &CommandGrants) -> anyhow::Result<ModuleCtx> {
    let mut b = WasiCtxBuilder::new();
    b.inherit_stdio().args(&g.args);
    for (k, v) in &g.env {
        b.env(k, v);
    }
    for (host, guest) in &g.dirs {
        b.preopened_dir(host, guest, FsPerms::ReadWrite)
            .map_err(|e| anyhow::anyhow!("preopening {} as {guest}: {e}", host.display()))?;
    }
    Ok(ModuleCtx {
        wasi: b.build_p1(),
        limits: StoreLimitsBuilder::new().build(),
        memory: None,
        channels: ChannelCtx { table: ChannelTable::default(), activation: 0, log: LineWriter::new(Arc::from("command"), Stream::Log, print_sink()) },
        // Reference-ABI calls work too, on the given router.
        refabi: Some({
            let router = g.router.clone().unwrap_or_else(|| Router::new(RoutingMode::LoopbackFirst));
            let template = router.output_port("silverline/template", false);
            let uuid = || HostUuid::new_v4().as_str().to_string();
            RefState::new(router, Arc::default(), Arc::default(), uuid(), uuid(), Arc::default(), Instant::now(), Vec::new(), Vec::new(), template)
        }),
        sidecar: crate::sidecar::SidecarCtx::standalone(),
        ext: silverline_hostapi::Extensions::default(),
        // A bare command is no shadow or replica: nothing gates its writes.
        api_writes: None,
    })
}
