//! Rust bindings of silverline's channel ABI (import module `sl`, docs/channel-abi.md) and of
//! the vehicle signal API ([`vss`], import module `sl_vss`, docs/vss.md) for guest modules
//! compiled to `wasm32-unknown-unknown` or `wasm32-wasip1`.
//!
//! This crate owns the guest's view of channels: safe wrappers over the raw imports, with the
//! return codes turned into [`Error`]s. It must not know anything of the Host's internals.
//!
//! A periodic module that publishes its activation index:
//!
//! ```ignore
//! use silverline_guest::{activation, Output};
//!
//! static mut OUT: Option<Output> = None;
//!
//! #[no_mangle]
//! pub extern "C" fn sl_init() -> i32 {
//!     match Output::open("out") { Ok(o) => { unsafe { OUT = Some(o) }; 0 } Err(_) => 1 }
//! }
//!
//! #[no_mangle]
//! pub extern "C" fn sl_step() -> i32 {
//!     let out = unsafe { OUT.as_ref().unwrap() };
//!     out.publish(&activation().to_le_bytes()).map_or(-1, |_| 0)
//! }
//! ```
//!
//! Build with `cargo build --release --target wasm32-unknown-unknown` (add
//! `crate-type = ["cdylib"]`; `RUSTFLAGS="-C target-feature=+simd128"` enables Wasm SIMD, which
//! the Host runs). The machines silverline is developed on have no wasm32 Rust target,
//! so this crate is only type-checked there; its examples are not built by the test suite.
#![no_std]
#![deny(missing_docs)]
#![allow(unsafe_code)] // the FFI boundary: every call is wrapped and commented below

pub mod vss;

mod raw {
    #[cfg_attr(target_arch = "wasm32", link(wasm_import_module = "sl"))]
    extern "C" {
        pub fn channel_open(name: *const u8, len: i32, direction: i32) -> i32;
        pub fn channel_publish(handle: i32, ptr: *const u8, len: i32) -> i32;
        pub fn channel_receive(handle: i32, ptr: *mut u8, cap: i32) -> i32;
        pub fn channel_pending(handle: i32) -> i32;
        pub fn channel_close(handle: i32) -> i32;
        pub fn activation() -> i64;
        pub fn log(ptr: *const u8, len: i32);
    }
}

/// Errors of the channel ABI (the negative return codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// `-1`: no channel of that name and direction in the manifest.
    NoSuchChannel,
    /// `-2`: bad pointer or length, or a name that is not UTF-8.
    Invalid,
    /// `-3`: bad handle, or a handle of the wrong direction.
    BadHandle,
    /// `-4`: message larger than 1 MiB.
    TooBig,
    /// `-6`: the Host could not queue the message for the broker (its outgoing queue is full);
    /// nothing was sent beyond the Host. Retry later or drop it.
    NotQueued,
    /// `-7`: the module is over its publish budget (manifest `resources.maxPublishPerSecond`,
    /// `maxPublishBytesPerSecond`); nothing was delivered.
    RateLimited,
    /// Any other negative code.
    Other(i32),
}

fn check(rc: i32) -> Result<i32, Error> {
    match rc {
        rc if rc >= 0 => Ok(rc),
        -1 => Err(Error::NoSuchChannel),
        -2 => Err(Error::Invalid),
        -3 => Err(Error::BadHandle),
        -4 => Err(Error::TooBig),
        -6 => Err(Error::NotQueued),
        -7 => Err(Error::RateLimited),
        rc => Err(Error::Other(rc)),
    }
}

fn open(name: &str, direction: i32) -> Result<i32, Error> {
    // SAFETY: the Host reads `len` bytes of our memory at `name`; the slice is valid for the call.
    check(unsafe { raw::channel_open(name.as_ptr(), name.len() as i32, direction) })
}

/// What happened to a published message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// Handed to the channel.
    Sent,
    /// The channel is inactive (decided outside the module): dropped and counted.
    DroppedInactive,
}

/// An output channel, by its name in the manifest.
#[derive(Debug)]
pub struct Output(i32);

impl Output {
    /// Open the output channel `name`.
    pub fn open(name: &str) -> Result<Output, Error> {
        open(name, 1).map(Output)
    }

    /// Publish one message.
    pub fn publish(&self, bytes: &[u8]) -> Result<Published, Error> {
        // SAFETY: the Host reads `len` bytes at `ptr` from our memory during the call only.
        let rc = check(unsafe { raw::channel_publish(self.0, bytes.as_ptr(), bytes.len() as i32) })?;
        Ok(if rc == 1 { Published::DroppedInactive } else { Published::Sent })
    }
}

/// A received message: its full length, and whether it was cut to fit the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// Bytes copied into the buffer.
    pub copied: usize,
    /// The message's full length.
    pub length: usize,
}

impl Received {
    /// The buffer was too small: the rest of the message is lost.
    pub fn truncated(&self) -> bool {
        self.length > self.copied
    }
}

/// An input channel, by its name in the manifest.
#[derive(Debug)]
pub struct Input(i32);

impl Input {
    /// Open the input channel `name`.
    pub fn open(name: &str) -> Result<Input, Error> {
        open(name, 0).map(Input)
    }

    /// Take the oldest message into `buf`; `None` when nothing is waiting.
    pub fn receive(&self, buf: &mut [u8]) -> Result<Option<Received>, Error> {
        // SAFETY: the Host writes at most `cap` bytes into `buf` during the call only.
        let rc = unsafe { raw::channel_receive(self.0, buf.as_mut_ptr(), buf.len() as i32) };
        if rc == -5 {
            return Ok(None);
        }
        let length = check(rc)? as usize;
        Ok(Some(Received { copied: length.min(buf.len()), length }))
    }

    /// Messages waiting.
    pub fn pending(&self) -> Result<usize, Error> {
        // SAFETY: no memory is shared; the handle is ours.
        check(unsafe { raw::channel_pending(self.0) }).map(|n| n as usize)
    }
}

impl Drop for Input {
    fn drop(&mut self) {
        // SAFETY: closing our own handle; no memory is shared.
        unsafe { raw::channel_close(self.0) };
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        // SAFETY: closing our own handle; no memory is shared.
        unsafe { raw::channel_close(self.0) };
    }
}

/// The index of the current activation (periods since the Unix epoch for periodic modules).
pub fn activation() -> u64 {
    // SAFETY: no arguments, no memory shared.
    unsafe { raw::activation() as u64 }
}

/// Write one line to the Host's log, attributed to this module.
pub fn log(line: &str) {
    // SAFETY: the Host reads `len` bytes at `ptr` during the call only.
    unsafe { raw::log(line.as_ptr(), line.len() as i32) }
}
