//! The sunroof controller's C source (examples/sunroof/c/sunroof_controller.c) compiled to
//! native code by build.rs, with the `sl_vss_*` functions its header declares provided here over
//! a [`SignalStore`]: the same controller code, native, against the same store a Host's module
//! uses, for the Wasm-vs-native round trip (the paper's 4.86 vs 4.79 ms).
//!
//! One native controller per process: the C file keeps its state in globals.
#![allow(unsafe_code)] // the C ABI boundary; every function below checks its pointers

use parking_lot::Mutex;
use silverline_vss::{DataType, SignalStore, Value, VssError};
use std::ffi::c_char;
use std::sync::Arc;

static STORE: Mutex<Option<Arc<dyn SignalStore>>> = Mutex::new(None);

extern "C" {
    fn sl_init() -> i32;
    fn sl_step() -> i32;
}

/// The natively compiled controller, bound to a store.
pub struct NativeController(());

impl NativeController {
    /// Bind the controller to `store` and run its `sl_init`.
    pub fn start(store: Arc<dyn SignalStore>) -> anyhow::Result<NativeController> {
        *STORE.lock() = Some(store);
        // SAFETY: sl_init only calls the sl_vss_* functions below; it runs on one thread.
        let rc = unsafe { sl_init() };
        anyhow::ensure!(rc == 0, "the native controller's sl_init returned {rc}");
        Ok(NativeController(()))
    }

    /// One activation (`sl_step`); its return code.
    pub fn step(&mut self) -> i32 {
        // SAFETY: as in `start`; `&mut self` keeps steps from overlapping.
        unsafe { sl_step() }
    }
}

impl Drop for NativeController {
    fn drop(&mut self) {
        *STORE.lock() = None;
    }
}

fn store() -> Option<Arc<dyn SignalStore>> {
    STORE.lock().clone()
}

fn code(e: &VssError) -> i32 {
    match e {
        VssError::UnknownSignal(_) | VssError::UnknownId(_) => -1,
        VssError::WrongType { .. } => -3,
        VssError::OutOfRange { .. } | VssError::NotAllowed { .. } => -4,
        VssError::Unavailable(_) => -6,
    }
}

/// `sl_vss_signal`, as sdk/c/sl_vss.h declares it.
#[no_mangle]
pub extern "C" fn sl_vss_signal(path: *const c_char, len: i32) -> i32 {
    let (Some(s), Ok(len)) = (store(), usize::try_from(len)) else { return -2 };
    if path.is_null() {
        return -2;
    }
    // SAFETY: the C caller passes `len` readable bytes at `path` (a string literal).
    let bytes = unsafe { std::slice::from_raw_parts(path.cast::<u8>(), len) };
    match std::str::from_utf8(bytes).ok().and_then(|p| s.catalog().get(p)) {
        Some(sig) => sig.id as i32,
        None => -1,
    }
}

/// `sl_vss_get_f64`.
#[no_mangle]
pub extern "C" fn sl_vss_get_f64(signal: i32, out: *mut f64) -> i32 {
    let (Some(s), Ok(id)) = (store(), u32::try_from(signal)) else { return -1 };
    if out.is_null() {
        return -2;
    }
    match s.get(id) {
        Ok(Some(d)) => match d.value.as_f64() {
            Some(x) => {
                // SAFETY: `out` is the address of the caller's double, checked non-null.
                unsafe { *out = x };
                0
            }
            None => -3,
        },
        Ok(None) => -5,
        Err(e) => code(&e),
    }
}

/// `sl_vss_set_f64`.
#[no_mangle]
pub extern "C" fn sl_vss_set_f64(signal: i32, value: f64) -> i32 {
    let (Some(s), Ok(id)) = (store(), u32::try_from(signal)) else { return -1 };
    match s.catalog().by_id(id).map(|sig| sig.datatype) {
        Some(DataType::Float | DataType::Double) => s.set(id, Value::Float(value)).map_or_else(|e| code(&e), |()| 0),
        Some(_) => -3,
        None => -1,
    }
}
