//! The plug-in interface between a silverline Host and the system APIs it offers modules.
//!
//! A [`HostApi`] is one API as a Host advertises it in its host manifest's `apis` (`sl:vss`):
//! the Wasm import modules it provides, how its functions are linked, and the state it keeps
//! for each module instance. The Host registers APIs in an [`ApiSet`], advertises exactly their
//! names, links them all into one `Linker`, and lets each create its per-instance state when an
//! instance starts. An API reaches that state and the guest's memory through [`ApiView`], which
//! the Host's store data implements: the API never sees the Host's types, and the Host never
//! sees the API's (the shape of wasmtime-wasi's `WasiView` + `add_to_linker`).
//!
//! This crate owns the trait, the per-instance state map ([`Extensions`]) and the guest-memory
//! helpers every API needs. It must not know any particular API, nor how the Host schedules.
//!
//! ```
//! use silverline_hostapi::{ApiView, Extensions, HostApi, ModuleInfo};
//! use wasmtime::{Caller, Linker};
//!
//! /// `sl_counter.next() -> i64`: a per-module counter.
//! struct Counter;
//! struct Count(i64);
//!
//! impl<T: ApiView> HostApi<T> for Counter {
//!     fn name(&self) -> &str { "demo:counter" }
//!     fn imports(&self) -> &[&str] { &["sl_counter"] }
//!     fn add_to_linker(&self, linker: &mut Linker<T>) -> anyhow::Result<()> {
//!         linker.func_wrap("sl_counter", "next", |mut c: Caller<'_, T>| {
//!             let n = c.data_mut().extensions().get_mut::<Count>().map_or(-1, |n| { n.0 += 1; n.0 });
//!             n
//!         })?;
//!         Ok(())
//!     }
//!     fn start(&self, _module: &ModuleInfo, ext: &mut Extensions) -> anyhow::Result<()> {
//!         ext.insert(Count(0));
//!         Ok(())
//!     }
//! }
//! ```
#![deny(missing_docs)]

use std::any::{Any, TypeId};
use std::sync::Arc;
use wasmtime::{Linker, Memory};

/// What an API may reach in a module instance's store data.
pub trait ApiView: Send + 'static {
    /// The instance's exported `memory`, once instantiated.
    fn memory(&self) -> Option<Memory>;
    /// The per-instance state of every plug-in API.
    fn extensions(&mut self) -> &mut Extensions;
    /// May the instance change anything outside itself now? False for a staged update's
    /// shadow, a standby replica and a Host without its lease, exactly when its output
    /// channels would drop a message. An API checks it before every write and, when false,
    /// applies nothing and tells the module (a refusal is counted by the Host).
    fn outputs_open(&self) -> bool;
}

/// One system API a Host offers modules.
pub trait HostApi<T>: Send + Sync + 'static {
    /// The name a host manifest advertises (`namespace:name`, e.g. `sl:vss`) and application
    /// manifests ask for in `placement.apis`.
    fn name(&self) -> &str;
    /// The Wasm import modules it provides (e.g. `sl_vss`): a module importing from one of them
    /// needs this API, and is placed only on Hosts that offer it.
    fn imports(&self) -> &[&str];
    /// Link its functions.
    fn add_to_linker(&self, linker: &mut Linker<T>) -> anyhow::Result<()>;
    /// Create its state for a module instance that is starting (an error stops the start).
    fn start(&self, _module: &ModuleInfo, _ext: &mut Extensions) -> anyhow::Result<()> {
        Ok(())
    }
    /// Arrange for `wake` to be called whenever `source` (API-specific, e.g. a signal path)
    /// changes, for a module whose manifest triggers it on this API. The subscription lasts as
    /// long as the returned value.
    fn trigger(&self, _module: &ModuleInfo, source: &str, _wake: Waker) -> anyhow::Result<Box<dyn Any + Send + Sync>> {
        anyhow::bail!("the API `{}` cannot trigger modules (asked for `{source}`)", self.name())
    }
    /// Its counters and settings for the Host's status (`None`: nothing to report).
    fn status(&self) -> Option<serde_json::Value> {
        None
    }
}

/// Activates one module once (an event activation); cheap to clone and to call.
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// What an API learns about a module instance that starts.
#[derive(Debug, Clone)]
pub struct ModuleInfo {
    /// Instance id (`app/module`, with `.rN` for a replica).
    pub id: String,
    /// Application name.
    pub app: String,
    /// The module's name in its application (the same for its shadow and its replicas).
    pub module: String,
    /// The module's `config` text from its manifest.
    pub config: Arc<str>,
}

/// The APIs a Host offers, in registration order.
pub struct ApiSet<T> {
    apis: Vec<Arc<dyn HostApi<T>>>,
}

impl<T> Clone for ApiSet<T> {
    fn clone(&self) -> Self {
        ApiSet { apis: self.apis.clone() }
    }
}

impl<T> Default for ApiSet<T> {
    fn default() -> Self {
        ApiSet { apis: Vec::new() }
    }
}

impl<T: 'static> ApiSet<T> {
    /// No APIs.
    pub fn new() -> Self {
        Self::default()
    }

    /// Register `api`. Names and import modules must be unique across the set.
    pub fn register(&mut self, api: Arc<dyn HostApi<T>>) -> anyhow::Result<&mut Self> {
        anyhow::ensure!(silverline_manifest::is_api_name(api.name()), "`{}` is not an API name (`namespace:name`)", api.name());
        if self.get(api.name()).is_some() {
            anyhow::bail!("the API `{}` is registered twice", api.name());
        }
        for import in api.imports() {
            if let Some(other) = self.provider(import) {
                anyhow::bail!("`{}` and `{}` both provide the import module `{import}`", other.name(), api.name());
            }
        }
        self.apis.push(api);
        Ok(self)
    }

    /// The advertised names, in registration order.
    pub fn names(&self) -> Vec<String> {
        self.apis.iter().map(|a| a.name().to_string()).collect()
    }

    /// Every (import module, API name) pair.
    pub fn imports(&self) -> Vec<(String, String)> {
        self.apis.iter().flat_map(|a| a.imports().iter().map(|i| (i.to_string(), a.name().to_string()))).collect()
    }

    /// The API called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn HostApi<T>>> {
        self.apis.iter().find(|a| a.name() == name)
    }

    /// The API that provides import module `import`.
    pub fn provider(&self, import: &str) -> Option<&Arc<dyn HostApi<T>>> {
        self.apis.iter().find(|a| a.imports().contains(&import))
    }

    /// Link every API.
    pub fn add_to_linker(&self, linker: &mut Linker<T>) -> anyhow::Result<()> {
        for api in &self.apis {
            api.add_to_linker(linker).map_err(|e| e.context(format!("linking the API `{}`", api.name())))?;
        }
        Ok(())
    }

    /// Every API's state for a starting instance.
    pub fn start(&self, module: &ModuleInfo) -> anyhow::Result<Extensions> {
        let mut ext = Extensions::default();
        for api in &self.apis {
            api.start(module, &mut ext).map_err(|e| e.context(format!("the API `{}`", api.name())))?;
        }
        Ok(ext)
    }

    /// Each API's status, by name.
    pub fn status(&self) -> serde_json::Map<String, serde_json::Value> {
        self.apis.iter().filter_map(|a| Some((a.name().to_string(), a.status()?))).collect()
    }
}

/// Per-instance state of the plug-in APIs, one value per type.
#[derive(Default)]
pub struct Extensions {
    // A handful of entries: a linear scan beats hashing.
    slots: Vec<(TypeId, Box<dyn Any + Send>)>,
}

impl Extensions {
    /// Store `value`, replacing one of the same type.
    pub fn insert<S: Any + Send>(&mut self, value: S) {
        let id = TypeId::of::<S>();
        match self.slots.iter_mut().find(|(t, _)| *t == id) {
            Some(slot) => slot.1 = Box::new(value),
            None => self.slots.push((id, Box::new(value))),
        }
    }

    /// The value of type `S`.
    pub fn get<S: Any + Send>(&self) -> Option<&S> {
        let id = TypeId::of::<S>();
        self.slots.iter().find(|(t, _)| *t == id).and_then(|(_, v)| v.downcast_ref())
    }

    /// The value of type `S`, mutable.
    pub fn get_mut<S: Any + Send>(&mut self) -> Option<&mut S> {
        let id = TypeId::of::<S>();
        self.slots.iter_mut().find(|(t, _)| *t == id).and_then(|(_, v)| v.downcast_mut())
    }
}

/// Guest memory `[ptr, ptr + len)` as a byte range of a memory `mem_len` bytes long, or `None`
/// when it is out of bounds or negative.
pub fn range(ptr: i32, len: i32, mem_len: usize) -> Option<std::ops::Range<usize>> {
    let start = u32::try_from(ptr).ok()? as usize;
    let end = start.checked_add(u32::try_from(len).ok()? as usize)?;
    (end <= mem_len).then_some(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_hold_one_value_per_type() {
        let mut e = Extensions::default();
        e.insert(1u32);
        e.insert("x".to_string());
        e.insert(2u32);
        assert_eq!(e.get::<u32>(), Some(&2));
        assert_eq!(e.get::<String>().map(String::as_str), Some("x"));
        assert!(e.get::<u64>().is_none());
    }

    #[test]
    fn ranges_outside_memory_are_none() {
        assert_eq!(range(0, 4, 4), Some(0..4));
        assert_eq!(range(1, 4, 4), None);
        assert_eq!(range(-1, 1, 4), None);
        assert_eq!(range(0, -1, 4), None);
    }
}
