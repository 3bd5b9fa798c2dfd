//! `sl:datalayer`, import module `sl_datalayer`: nodes by path through handles the Host manages
//! (docs/datalayer.md has the ABI).

use crate::tree::{Datalayer, Value, Writer};
use crate::DlError;
use silverline_hostapi::{range, ApiView, Extensions, HostApi, ModuleInfo, Waker};
use std::any::Any;
use std::sync::Arc;
use wasmtime::{Caller, Linker};

/// A valid write not applied: the module's outputs are inactive (a staged update's shadow, a
/// standby replica, a Host without its lease). Not an error.
pub const DL_DROPPED_INACTIVE: i32 = 1;
/// No node at that path.
pub const DL_ENOENT: i32 = -1;
/// Bad pointer or length, or a path that is not UTF-8.
pub const DL_EINVAL: i32 = -2;
/// Not a handle of this module instance (never opened, closed, or forged).
pub const DL_EBADF: i32 = -3;
/// The value's type is not the node's (nothing changed).
pub const DL_ETYPE: i32 = -4;
/// Outside the node's bounds (nothing changed).
pub const DL_ERANGE: i32 = -5;
/// Field input: modules may not write or claim it.
pub const DL_EREADONLY: i32 = -6;
/// Another module owns the node (nothing changed).
pub const DL_EOWNED: i32 = -7;
/// The node has no value yet.
pub const DL_EEMPTY: i32 = -8;

/// The `sl:datalayer` API over a Host's datalayer.
pub struct DatalayerApi {
    layer: Arc<Datalayer>,
}

impl DatalayerApi {
    /// The API over `layer`.
    pub fn new(layer: Arc<Datalayer>) -> DatalayerApi {
        DatalayerApi { layer }
    }
}

/// The handles of one module instance. A handle is `generation << 16 | slot + 1`: a closed
/// handle's slot gets a new generation, so a stale copy of it never reaches another node.
struct Handles {
    layer: Arc<Datalayer>,
    owner: String,
    slots: Vec<(u16, Option<u32>)>,
}

impl Handles {
    fn open(&mut self, node: u32) -> i32 {
        let slot = match self.slots.iter().position(|(_, n)| n.is_none()) {
            Some(i) => i,
            None if self.slots.len() < 0xFFFE => {
                self.slots.push((1, None));
                self.slots.len() - 1
            }
            None => return DL_EINVAL,
        };
        self.slots[slot].1 = Some(node);
        (i32::from(self.slots[slot].0) << 16) | (slot as i32 + 1)
    }

    fn node(&self, handle: i32) -> Option<u32> {
        let slot = usize::try_from(handle & 0xFFFF).ok()?.checked_sub(1)?;
        let (generation, node) = self.slots.get(slot)?;
        (i32::from(*generation) == handle >> 16).then_some(*node)?
    }

    fn close(&mut self, handle: i32) -> i32 {
        if self.node(handle).is_none() {
            return DL_EBADF;
        }
        let slot = &mut self.slots[(handle & 0xFFFF) as usize - 1];
        // Generations stay below 0x8000, so a handle is never negative.
        *slot = ((slot.0 % 0x7FFF) + 1, None);
        0
    }
}

impl Drop for Handles {
    fn drop(&mut self) {
        self.layer.instance_stopped(&self.owner);
    }
}

fn code(e: &DlError) -> i32 {
    match e {
        DlError::NoNode(_) => DL_ENOENT,
        DlError::WrongType { .. } => DL_ETYPE,
        DlError::OutOfRange { .. } => DL_ERANGE,
        DlError::ReadOnly(_) => DL_EREADONLY,
        DlError::Owned { .. } => DL_EOWNED,
        DlError::BadPath(_) | DlError::Exists(_) => DL_EINVAL,
    }
}

/// The layer, this module's owner name and the node behind `handle`.
fn target<T: ApiView>(c: &mut Caller<'_, T>, handle: i32) -> Result<(Arc<Datalayer>, String, u32), i32> {
    let h = c.data_mut().extensions().get::<Handles>().ok_or(DL_EBADF)?;
    let node = h.node(handle).ok_or(DL_EBADF)?;
    Ok((h.layer.clone(), h.owner.clone(), node))
}

fn write<T: ApiView>(c: &mut Caller<'_, T>, handle: i32, v: Value) -> i32 {
    let (layer, owner, node) = match target(c, handle) {
        Ok(t) => t,
        Err(rc) => return rc,
    };
    // Checked before the gate: a shadow learns that its write was wrong as the primary would.
    if let Err(e) = layer.check(node, Writer::Module(&owner), v) {
        return code(&e);
    }
    if !c.data().outputs_open() {
        return DL_DROPPED_INACTIVE;
    }
    layer.write(node, Writer::Module(&owner), v).map_or_else(|e| code(&e), |()| 0)
}

fn read<T: ApiView>(c: &mut Caller<'_, T>, handle: i32) -> Result<Value, i32> {
    let (layer, _, node) = target(c, handle)?;
    match layer.read(node) {
        Ok((Some(v), _)) => Ok(v),
        Ok((None, _)) => Err(DL_EEMPTY),
        Err(e) => Err(code(&e)),
    }
}

/// Write `bytes` at guest address `ptr`.
fn store_bytes<T: ApiView>(c: &mut Caller<'_, T>, ptr: i32, bytes: &[u8]) -> i32 {
    let Some(mem) = c.data().memory() else { return DL_EINVAL };
    let data = mem.data_mut(c);
    let Some(r) = range(ptr, bytes.len() as i32, data.len()) else { return DL_EINVAL };
    data[r].copy_from_slice(bytes);
    0
}

fn open<T: ApiView>(mut c: Caller<'_, T>, ptr: i32, len: i32) -> i32 {
    let Some(mem) = c.data().memory() else { return DL_EINVAL };
    let data = mem.data(&c);
    let Some(path) = range(ptr, len, data.len()).and_then(|r| std::str::from_utf8(&data[r]).ok()).map(str::to_string) else { return DL_EINVAL };
    let Some(h) = c.data_mut().extensions().get_mut::<Handles>() else { return DL_EBADF };
    match h.layer.resolve(&path) {
        Ok(node) => h.open(node),
        Err(e) => code(&e),
    }
}

impl<T: ApiView> HostApi<T> for DatalayerApi {
    fn name(&self) -> &str {
        "sl:datalayer"
    }

    fn imports(&self) -> &[&str] {
        &["sl_datalayer"]
    }

    fn add_to_linker(&self, linker: &mut Linker<T>) -> anyhow::Result<()> {
        linker.func_wrap("sl_datalayer", "open", open::<T>)?;
        linker.func_wrap("sl_datalayer", "close", |mut c: Caller<'_, T>, handle: i32| -> i32 {
            c.data_mut().extensions().get_mut::<Handles>().map_or(DL_EBADF, |h| h.close(handle))
        })?;
        linker.func_wrap("sl_datalayer", "read_f64", |mut c: Caller<'_, T>, handle: i32, out: i32| -> i32 {
            match read(&mut c, handle) {
                Ok(Value::F64(x)) => store_bytes(&mut c, out, &x.to_le_bytes()),
                Ok(_) => DL_ETYPE,
                Err(rc) => rc,
            }
        })?;
        linker.func_wrap("sl_datalayer", "read_i64", |mut c: Caller<'_, T>, handle: i32, out: i32| -> i32 {
            match read(&mut c, handle) {
                Ok(Value::I64(i)) => store_bytes(&mut c, out, &i.to_le_bytes()),
                Ok(_) => DL_ETYPE,
                Err(rc) => rc,
            }
        })?;
        linker.func_wrap("sl_datalayer", "read_bool", |mut c: Caller<'_, T>, handle: i32| -> i32 {
            match read(&mut c, handle) {
                Ok(Value::Bool(b)) => i32::from(b),
                Ok(_) => DL_ETYPE,
                Err(rc) => rc,
            }
        })?;
        linker.func_wrap("sl_datalayer", "write_f64", |mut c: Caller<'_, T>, handle: i32, x: f64| write(&mut c, handle, Value::F64(x)))?;
        linker.func_wrap("sl_datalayer", "write_i64", |mut c: Caller<'_, T>, handle: i32, x: i64| write(&mut c, handle, Value::I64(x)))?;
        linker.func_wrap("sl_datalayer", "write_bool", |mut c: Caller<'_, T>, handle: i32, b: i32| write(&mut c, handle, Value::Bool(b != 0)))?;
        linker.func_wrap("sl_datalayer", "claim", |mut c: Caller<'_, T>, handle: i32| -> i32 {
            match target(&mut c, handle) {
                Ok((layer, owner, node)) => layer.claim(node, &owner).map_or_else(|e| code(&e), |()| 0),
                Err(rc) => rc,
            }
        })?;
        linker.func_wrap("sl_datalayer", "release", |mut c: Caller<'_, T>, handle: i32| -> i32 {
            match target(&mut c, handle) {
                Ok((layer, owner, node)) => layer.release(node, &owner).map_or_else(|e| code(&e), |()| 0),
                Err(rc) => rc,
            }
        })?;
        linker.func_wrap("sl_datalayer", "version", |mut c: Caller<'_, T>, handle: i32| -> i64 {
            match target(&mut c, handle) {
                Ok((layer, _, node)) => layer.read(node).map_or_else(|e| i64::from(code(&e)), |(_, v)| v as i64),
                Err(rc) => i64::from(rc),
            }
        })?;
        Ok(())
    }

    fn start(&self, module: &ModuleInfo, ext: &mut Extensions) -> anyhow::Result<()> {
        let owner = format!("{}/{}", module.app, module.module);
        self.layer.instance_started(&owner);
        ext.insert(Handles { layer: self.layer.clone(), owner, slots: Vec::new() });
        Ok(())
    }

    fn trigger(&self, _module: &ModuleInfo, source: &str, wake: Waker) -> anyhow::Result<Box<dyn Any + Send + Sync>> {
        let node = self.layer.resolve(source)?;
        Ok(Box::new(self.layer.watch(node, wake)?))
    }

    fn status(&self) -> Option<serde_json::Value> {
        Some(serde_json::json!({ "nodes": self.layer.nodes().len() }))
    }
}
