//! Vehicle signals (`sl:vss`, import module `sl_vss`, docs/vss.md): a signal is resolved once
//! by its VSS path, then read and written by id. A refused write is an [`VssError`] and changes
//! nothing in the Host.

mod raw {
    #[cfg_attr(target_arch = "wasm32", link(wasm_import_module = "sl_vss"))]
    extern "C" {
        pub fn signal(path: *const u8, len: i32) -> i32;
        pub fn get_f64(id: i32, out: *mut f64) -> i32;
        pub fn get_i64(id: i32, out: *mut i64) -> i32;
        pub fn get_bool(id: i32) -> i32;
        pub fn set_f64(id: i32, value: f64) -> i32;
        pub fn set_i64(id: i32, value: i64) -> i32;
        pub fn set_bool(id: i32, value: i32) -> i32;
        pub fn set_string(id: i32, ptr: *const u8, len: i32) -> i32;
        pub fn version(id: i32) -> i64;
    }
}

/// Why a signal call failed (the negative codes of docs/vss.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VssError {
    /// `-1`: no signal of that path or id.
    NoSuchSignal,
    /// `-2`: bad pointer or length.
    Invalid,
    /// `-3`: not the signal's datatype.
    WrongType,
    /// `-4`: outside the signal's min/max or allowed values.
    OutOfRange,
    /// `-6`: the databroker cannot be reached.
    Unavailable,
    /// Any other negative code.
    Other(i32),
}

fn check(rc: i32) -> Result<(), VssError> {
    match rc {
        rc if rc >= 0 => Ok(()),
        -1 => Err(VssError::NoSuchSignal),
        -2 => Err(VssError::Invalid),
        -3 => Err(VssError::WrongType),
        -4 => Err(VssError::OutOfRange),
        -6 => Err(VssError::Unavailable),
        rc => Err(VssError::Other(rc)),
    }
}

/// What became of a valid write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Applied.
    Applied,
    /// `1`: not applied because this module's outputs are inactive (a staged update's shadow, a
    /// standby replica); the active instance's write is the one that counts.
    DroppedInactive,
}

fn written(rc: i32) -> Result<Written, VssError> {
    check(rc).map(|()| if rc == 1 { Written::DroppedInactive } else { Written::Applied })
}

/// `-5`, "no value yet", is a reading, not a failure.
const EMPTY: i32 = -5;

/// A signal, resolved by path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signal(i32);

impl Signal {
    /// Resolve `path` (`Vehicle.Cabin.Sunroof.Position`); do it once, in `sl_init`.
    pub fn resolve(path: &str) -> Result<Signal, VssError> {
        // SAFETY: the Host reads `len` bytes at `path` during the call only.
        let id = unsafe { raw::signal(path.as_ptr(), path.len() as i32) };
        check(id).map(|()| Signal(id))
    }

    /// A numeric signal's value as `f64`; `None` when nobody has written it yet.
    pub fn get_f64(self) -> Result<Option<f64>, VssError> {
        let mut x = 0.0;
        // SAFETY: the Host writes 8 bytes at `&mut x` during the call only.
        match unsafe { raw::get_f64(self.0, &mut x) } {
            EMPTY => Ok(None),
            rc => check(rc).map(|()| Some(x)),
        }
    }

    /// An integer signal's value; `None` when nobody has written it yet.
    pub fn get_i64(self) -> Result<Option<i64>, VssError> {
        let mut x = 0;
        // SAFETY: the Host writes 8 bytes at `&mut x` during the call only.
        match unsafe { raw::get_i64(self.0, &mut x) } {
            EMPTY => Ok(None),
            rc => check(rc).map(|()| Some(x)),
        }
    }

    /// A boolean signal's value; `None` when nobody has written it yet.
    pub fn get_bool(self) -> Result<Option<bool>, VssError> {
        // SAFETY: no memory is shared.
        match unsafe { raw::get_bool(self.0) } {
            EMPTY => Ok(None),
            rc => check(rc).map(|()| Some(rc != 0)),
        }
    }

    /// Write a float or double signal.
    pub fn set_f64(self, value: f64) -> Result<Written, VssError> {
        // SAFETY: no memory is shared.
        written(unsafe { raw::set_f64(self.0, value) })
    }

    /// Write an integer signal of any width.
    pub fn set_i64(self, value: i64) -> Result<Written, VssError> {
        // SAFETY: no memory is shared.
        written(unsafe { raw::set_i64(self.0, value) })
    }

    /// Write a boolean signal.
    pub fn set_bool(self, value: bool) -> Result<Written, VssError> {
        // SAFETY: no memory is shared.
        written(unsafe { raw::set_bool(self.0, value as i32) })
    }

    /// Write a string signal.
    pub fn set_string(self, value: &str) -> Result<Written, VssError> {
        // SAFETY: the Host reads `len` bytes at `ptr` during the call only.
        written(unsafe { raw::set_string(self.0, value.as_ptr(), value.len() as i32) })
    }

    /// How many times the signal has been written (0: never).
    pub fn version(self) -> Result<u64, VssError> {
        // SAFETY: no memory is shared.
        let v = unsafe { raw::version(self.0) };
        i32::try_from(v).map_or(Ok(()), check).map(|()| v as u64)
    }
}
