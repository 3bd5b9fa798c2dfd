//! `sl:vss`, import module `sl_vss`: signals by path for modules (docs/vss.md has the ABI).

use crate::store::SignalStore;
use crate::value::{DataType, Value};
use crate::VssError;
use silverline_hostapi::{range, ApiView, HostApi, ModuleInfo, Waker};
use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use wasmtime::{Caller, Linker};

/// Not applied, and not an error: the module's outputs are inactive (a staged update's shadow,
/// a standby replica, a Host without its lease), so it changes nothing outside itself. The
/// write was valid.
pub const VSS_DROPPED_INACTIVE: i32 = 1;
/// No signal of that path or id.
pub const VSS_ENOENT: i32 = -1;
/// Bad pointer or length, or a path that is not UTF-8.
pub const VSS_EINVAL: i32 = -2;
/// The value's type is not the signal's datatype (nothing changed).
pub const VSS_ETYPE: i32 = -3;
/// The value is outside the signal's min/max or allowed values (nothing changed).
pub const VSS_ERANGE: i32 = -4;
/// The signal has no value yet.
pub const VSS_EMPTY: i32 = -5;
/// The signal store (databroker) cannot be reached (nothing changed).
pub const VSS_EUNAVAILABLE: i32 = -6;

/// The `sl:vss` API over a signal store.
pub struct VssApi {
    store: Arc<dyn SignalStore>,
    counters: Arc<WriteCounters>,
}

/// What became of modules' writes, across the Host.
#[derive(Debug, Default)]
struct WriteCounters {
    applied: AtomicU64,
    refused: AtomicU64,
    dropped_inactive: AtomicU64,
}

impl VssApi {
    /// The API over `store`.
    pub fn new(store: Arc<dyn SignalStore>) -> VssApi {
        VssApi { store, counters: Arc::default() }
    }
}

/// Each module instance reaches the store (and the Host's write counters) through this, in its
/// extensions.
struct VssCtx(Arc<dyn SignalStore>, Arc<WriteCounters>);

fn code(e: &VssError) -> i32 {
    match e {
        VssError::UnknownSignal(_) | VssError::UnknownId(_) => VSS_ENOENT,
        VssError::WrongType { .. } => VSS_ETYPE,
        VssError::OutOfRange { .. } | VssError::NotAllowed { .. } => VSS_ERANGE,
        VssError::Unavailable(_) => VSS_EUNAVAILABLE,
    }
}

fn store<T: ApiView>(c: &mut Caller<'_, T>) -> Option<Arc<dyn SignalStore>> {
    c.data_mut().extensions().get::<VssCtx>().map(|v| v.0.clone())
}

fn counters<T: ApiView>(c: &mut Caller<'_, T>) -> Option<Arc<WriteCounters>> {
    c.data_mut().extensions().get::<VssCtx>().map(|v| v.1.clone())
}

fn id(id: i32) -> Option<u32> {
    u32::try_from(id).ok()
}

/// Apply `set` with the value the guest gave, as the signal's datatype takes it.
fn set<T: ApiView>(c: &mut Caller<'_, T>, signal: i32, make: impl FnOnce(DataType) -> Result<Value, i32>) -> i32 {
    let (Some(s), Some(counters)) = (store(c), counters(c)) else { return VSS_ENOENT };
    let refused = |rc: i32| {
        counters.refused.fetch_add(1, Ordering::Relaxed);
        rc
    };
    let Some((signal, sig)) = id(signal).and_then(|id| Some((id, s.catalog().by_id(id)?))) else { return refused(VSS_ENOENT) };
    // Checked before the gate: a shadow learns that its write was wrong exactly as the
    // primary would.
    let v = match make(sig.datatype).and_then(|v| sig.check(&v).map(|()| v).map_err(|e| code(&e))) {
        Ok(v) => v,
        Err(rc) => return refused(rc),
    };
    if !c.data().outputs_open() {
        counters.dropped_inactive.fetch_add(1, Ordering::Relaxed);
        return VSS_DROPPED_INACTIVE;
    }
    match s.set(signal, v) {
        Ok(()) => {
            counters.applied.fetch_add(1, Ordering::Relaxed);
            0
        }
        Err(e) => refused(code(&e)),
    }
}

/// The current value of `signal`, or an error code.
fn get<T: ApiView>(c: &mut Caller<'_, T>, signal: i32) -> Result<Value, i32> {
    let (Some(s), Some(signal)) = (store(c), id(signal)) else { return Err(VSS_ENOENT) };
    match s.get(signal) {
        Ok(Some(d)) => Ok(d.value),
        Ok(None) => Err(VSS_EMPTY),
        Err(e) => Err(code(&e)),
    }
}

/// Write `bytes` at guest address `ptr` (0, or `VSS_EINVAL` when out of bounds).
fn write<T: ApiView>(c: &mut Caller<'_, T>, ptr: i32, bytes: &[u8]) -> i32 {
    let Some(mem) = c.data().memory() else { return VSS_EINVAL };
    let data = mem.data_mut(c);
    let Some(r) = range(ptr, bytes.len() as i32, data.len()) else { return VSS_EINVAL };
    data[r].copy_from_slice(bytes);
    0
}

fn read_str<T: ApiView>(c: &mut Caller<'_, T>, ptr: i32, len: i32) -> Option<String> {
    let mem = c.data().memory()?;
    let data = mem.data(&*c);
    let r = range(ptr, len, data.len())?;
    std::str::from_utf8(&data[r]).ok().map(str::to_string)
}

impl<T: ApiView> HostApi<T> for VssApi {
    fn name(&self) -> &str {
        "sl:vss"
    }

    fn imports(&self) -> &[&str] {
        &["sl_vss"]
    }

    fn add_to_linker(&self, linker: &mut Linker<T>) -> anyhow::Result<()> {
        linker.func_wrap("sl_vss", "signal", |mut c: Caller<'_, T>, ptr: i32, len: i32| -> i32 {
            let Some(path) = read_str(&mut c, ptr, len) else { return VSS_EINVAL };
            let Some(s) = store(&mut c) else { return VSS_ENOENT };
            s.catalog().get(&path).map_or(VSS_ENOENT, |sig| sig.id as i32)
        })?;
        linker.func_wrap("sl_vss", "get_f64", |mut c: Caller<'_, T>, signal: i32, out: i32| -> i32 {
            match get(&mut c, signal) {
                Ok(v) => v.as_f64().map_or(VSS_ETYPE, |x| write(&mut c, out, &x.to_le_bytes())),
                Err(e) => e,
            }
        })?;
        linker.func_wrap("sl_vss", "get_i64", |mut c: Caller<'_, T>, signal: i32, out: i32| -> i32 {
            let x = match get(&mut c, signal) {
                Ok(Value::Int(i)) => i,
                Ok(Value::UInt(u)) => match i64::try_from(u) {
                    Ok(i) => i,
                    Err(_) => return VSS_ERANGE,
                },
                Ok(_) => return VSS_ETYPE,
                Err(e) => return e,
            };
            write(&mut c, out, &x.to_le_bytes())
        })?;
        linker.func_wrap("sl_vss", "get_bool", |mut c: Caller<'_, T>, signal: i32| -> i32 {
            match get(&mut c, signal) {
                Ok(Value::Bool(b)) => b as i32,
                Ok(_) => VSS_ETYPE,
                Err(e) => e,
            }
        })?;
        linker.func_wrap("sl_vss", "get_string", |mut c: Caller<'_, T>, signal: i32, buf: i32, cap: i32| -> i32 {
            match get(&mut c, signal) {
                Ok(Value::String(s)) => {
                    let n = s.len().min(usize::try_from(cap).unwrap_or(0));
                    match write(&mut c, buf, &s.as_bytes()[..n]) {
                        0 => s.len().min(i32::MAX as usize) as i32,
                        e => e,
                    }
                }
                Ok(_) => VSS_ETYPE,
                Err(e) => e,
            }
        })?;
        linker.func_wrap("sl_vss", "set_f64", |mut c: Caller<'_, T>, signal: i32, x: f64| -> i32 {
            set(&mut c, signal, |t| matches!(t, DataType::Float | DataType::Double).then_some(Value::Float(x)).ok_or(VSS_ETYPE))
        })?;
        linker.func_wrap("sl_vss", "set_i64", |mut c: Caller<'_, T>, signal: i32, x: i64| -> i32 {
            set(&mut c, signal, |t| match t {
                DataType::Int(_) => Ok(Value::Int(x)),
                // A negative value for an unsigned signal is out of its range, not of its type.
                DataType::UInt(_) => Ok(u64::try_from(x).map_or(Value::Int(x), Value::UInt)),
                _ => Err(VSS_ETYPE),
            })
        })?;
        linker.func_wrap("sl_vss", "set_bool", |mut c: Caller<'_, T>, signal: i32, b: i32| -> i32 {
            set(&mut c, signal, |t| (t == DataType::Boolean).then_some(Value::Bool(b != 0)).ok_or(VSS_ETYPE))
        })?;
        linker.func_wrap("sl_vss", "set_string", |mut c: Caller<'_, T>, signal: i32, ptr: i32, len: i32| -> i32 {
            let text = read_str(&mut c, ptr, len);
            set(&mut c, signal, |t| match (t, text) {
                (_, None) => Err(VSS_EINVAL),
                (DataType::String, Some(text)) => Ok(Value::String(text)),
                _ => Err(VSS_ETYPE),
            })
        })?;
        linker.func_wrap("sl_vss", "version", |mut c: Caller<'_, T>, signal: i32| -> i64 {
            let (Some(s), Some(signal)) = (store(&mut c), id(signal)) else { return VSS_ENOENT as i64 };
            match s.get(signal) {
                Ok(d) => d.map_or(0, |d| d.version as i64),
                Err(e) => code(&e) as i64,
            }
        })?;
        Ok(())
    }

    fn start(&self, _module: &ModuleInfo, ext: &mut silverline_hostapi::Extensions) -> anyhow::Result<()> {
        ext.insert(VssCtx(self.store.clone(), self.counters.clone()));
        Ok(())
    }

    fn trigger(&self, _module: &ModuleInfo, source: &str, wake: Waker) -> anyhow::Result<Box<dyn Any + Send + Sync>> {
        let signal = self.store.catalog().resolve(source)?.id;
        Ok(Box::new(self.store.watch(signal, wake)?))
    }

    fn status(&self) -> Option<serde_json::Value> {
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let c = &self.counters;
        Some(serde_json::json!({
            "signals": self.store.catalog().signals().len(),
            "writes_applied": n(&c.applied),
            "writes_refused": n(&c.refused),
            "writes_dropped_inactive": n(&c.dropped_inactive),
        }))
    }
}
