//! The sunroof controller's filter, apart from the signal glue so that it can be checked natively
//! against the C, AssemblyScript and Zig builds (crates/host/tests/all/vss.rs).

/// EMA weight of the newest knob reading per step.
pub const ALPHA: f64 = 0.3;

/// An exponential moving average seeded by its first reading.
#[derive(Debug, Default, Clone, Copy)]
pub struct Ema {
    value: Option<f64>,
}

impl Ema {
    /// Take one reading; the smoothed value.
    pub fn step(&mut self, x: f64) -> f64 {
        let next = match self.value {
            None => x,
            // The same expression, in the same order, as the C, Zig and AssemblyScript builds:
            // `ema += ALPHA * (x - ema)`, so all four agree to the bit.
            Some(ema) => ema + ALPHA * (x - ema),
        };
        self.value = Some(next);
        next
    }
}
