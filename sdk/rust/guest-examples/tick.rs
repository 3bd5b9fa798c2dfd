//! A periodic module publishing its activation index (8 bytes, little endian) on output `out`,
//! like crates/test-programs/guests/wat/tick.wat. Build for wasm32 where a target is installed:
//! copy it into a `cdylib` crate depending on silverline-guest and
//! `cargo build --release --target wasm32-unknown-unknown`. Not built by the test suite (no
//! wasm32 Rust target on the development machines).
#![allow(unsafe_code)]
#![no_std]
#![no_main]

use silverline_guest::{activation, Output};

static mut OUT: Option<Output> = None;

#[no_mangle]
pub extern "C" fn sl_init() -> i32 {
    match Output::open("out") {
        // SAFETY: a module's functions never run concurrently.
        Ok(out) => unsafe {
            OUT = Some(out);
            0
        },
        Err(_) => 1,
    }
}

#[no_mangle]
pub extern "C" fn sl_step() -> i32 {
    // SAFETY: set once in sl_init, which ran before any step.
    let Some(out) = (unsafe { (*core::ptr::addr_of!(OUT)).as_ref() }) else { return -1 };
    out.publish(&activation().to_le_bytes()).map_or(-1, |_| 0)
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}
