//! The sunroof controller in Rust, against the Rust guest SDK (sdk/rust): every step reads the
//! knob, smooths it (ema.rs) and writes the motor's target. Build for wasm32 where a target is
//! installed: a `cdylib` crate depending on silverline-guest, this file as its lib.rs, and
//! `cargo build --release --target wasm32-unknown-unknown`. The development machines have no
//! wasm32 Rust target, so the test suite checks the filter natively (ema.rs) instead of this
//! binary.
#![allow(unsafe_code)]
#![no_std]

mod ema;

use silverline_guest::vss::{Signal, VssError};

struct Controller {
    knob: Signal,
    target: Signal,
    ema: ema::Ema,
}

static mut CONTROLLER: Option<Controller> = None;

fn code(e: VssError) -> i32 {
    match e {
        VssError::NoSuchSignal => -1,
        VssError::Invalid => -2,
        VssError::WrongType => -3,
        VssError::OutOfRange => -4,
        VssError::Unavailable => -6,
        VssError::Other(rc) => rc,
    }
}

#[no_mangle]
pub extern "C" fn sl_init() -> i32 {
    let resolved = Signal::resolve("Vehicle.Cabin.Sunroof.Knob").and_then(|knob| Ok((knob, Signal::resolve("Vehicle.Cabin.Sunroof.TargetPosition")?)));
    match resolved {
        Ok((knob, target)) => {
            // SAFETY: a module's functions never run concurrently.
            unsafe { CONTROLLER = Some(Controller { knob, target, ema: ema::Ema::default() }) };
            0
        }
        Err(e) => code(e),
    }
}

#[no_mangle]
pub extern "C" fn sl_step() -> i32 {
    // SAFETY: a module's functions never run concurrently; sl_init ran before.
    let Some(c) = (unsafe { (*core::ptr::addr_of_mut!(CONTROLLER)).as_mut() }) else { return 1 };
    match c.knob.get_f64() {
        Ok(None) => 0, // nobody has turned the knob yet
        Ok(Some(x)) => c.target.set_f64(c.ema.step(x)).map_or_else(code, |_| 0),
        Err(e) => code(e),
    }
}
