//! A module's publish budget: so that one module publishing as fast as it can neither floods
//! the broker nor crowds out its neighbours' messages. Two token buckets, messages and bytes
//! per second, shared by all output ports of one module; a publish over budget is refused
//! (the module gets an error code, the port counts it), never queued.

use parking_lot::Mutex;
use std::time::Instant;

/// Messages and bytes per second one module may publish.
#[derive(Debug)]
pub struct PublishLimit {
    buckets: Mutex<Buckets>,
    per_second: f64,
    bytes_per_second: f64,
}

#[derive(Debug)]
struct Buckets {
    messages: f64,
    bytes: f64,
    refilled: Instant,
}

/// The largest message a module may publish: a burst must be able to hold one.
const LARGEST_MESSAGE: f64 = (1 << 20) as f64;

impl PublishLimit {
    /// A budget of `per_second` messages and `bytes_per_second` bytes; bursts of a tenth of a
    /// second's worth (at least one message of the largest size) pass at once.
    pub fn new(per_second: u64, bytes_per_second: u64) -> PublishLimit {
        let (per_second, bytes_per_second) = (per_second as f64, bytes_per_second as f64);
        let full = Buckets { messages: burst_messages(per_second), bytes: burst_bytes(bytes_per_second), refilled: Instant::now() };
        PublishLimit { buckets: Mutex::new(full), per_second, bytes_per_second }
    }

    /// Take one message of `len` bytes from the budget, or refuse it (taking nothing).
    pub fn admit(&self, len: usize) -> bool {
        let mut b = self.buckets.lock();
        let now = Instant::now();
        let dt = now.duration_since(b.refilled).as_secs_f64();
        b.refilled = now;
        b.messages = (b.messages + dt * self.per_second).min(burst_messages(self.per_second));
        b.bytes = (b.bytes + dt * self.bytes_per_second).min(burst_bytes(self.bytes_per_second));
        if b.messages < 1.0 || b.bytes < len as f64 {
            return false;
        }
        b.messages -= 1.0;
        b.bytes -= len as f64;
        true
    }
}

/// A tenth of a second's worth of messages, at least one.
fn burst_messages(per_second: f64) -> f64 {
    (per_second / 10.0).max(1.0)
}

/// A tenth of a second's worth of bytes, at least one message of the largest size.
fn burst_bytes(per_second: f64) -> f64 {
    (per_second / 10.0).max(LARGEST_MESSAGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_rate_holds() {
        let limit = PublishLimit::new(100, 1 << 30);
        let admitted = (0..1000).filter(|_| limit.admit(8)).count();
        // A tenth of a second's worth at once (plus what refilled while looping, well under 1 s).
        assert!((10..=20).contains(&admitted), "{admitted}");
        let bytes = PublishLimit::new(1_000_000, 1 << 20);
        assert!(bytes.admit(1 << 20), "one message of the largest size fits a burst");
        assert!(!bytes.admit(1 << 20), "the next must wait for the bytes to refill");
    }
}
