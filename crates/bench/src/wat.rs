//! The guest modules measured, generated as WAT (no C toolchain needed to build the harness).

/// A reactor shaped like a small C guest built by clang: WASI imports (unused, as libc's are
/// until called), `sl` imports, 2 pages of memory (64 KiB stack + data), a 1 KiB data segment,
/// `_initialize`, `sl_init` opening `in` and `out`, and filler functions so that there is code to
/// compile. `sl_step` echoes one message from `in` to `out`.
pub(crate) fn reactor() -> String {
    let mut w = String::from(
        r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_seek" (func $fd_seek (param i32 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $env_sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $env_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "sl" "channel_open" (func $open (param i32 i32 i32) (result i32)))
  (import "sl" "channel_receive" (func $receive (param i32 i32 i32) (result i32)))
  (import "sl" "channel_publish" (func $publish (param i32 i32 i32) (result i32)))
  (import "sl" "log" (func $log (param i32 i32)))
  (memory (export "memory") 2)
  (global $sp (mut i32) (i32.const 65536))
  (global $in (mut i32) (i32.const -1))
  (global $out (mut i32) (i32.const -1))
  (global $ctors (mut i32) (i32.const 0))
  (data (i32.const 1024) "in")
  (data (i32.const 1028) "out")
"#,
    );
    let table: String = (0..1024u32).map(|i| format!("\\{:02x}", (i * 37 + 11) % 256)).collect();
    w.push_str(&format!("  (data (i32.const 2048) \"{table}\")\n"));
    w.push_str(
        r#"  (func (export "_initialize") (global.set $ctors (i32.const 1)))
  (func (export "sl_init") (result i32)
    (global.set $in (call $open (i32.const 1024) (i32.const 2) (i32.const 0)))
    (global.set $out (call $open (i32.const 1028) (i32.const 3) (i32.const 1)))
    (i32.or (i32.lt_s (global.get $in) (i32.const 0)) (i32.lt_s (global.get $out) (i32.const 0))))
  (func (export "sl_step") (result i32)
    (local $n i32)
    (local.set $n (call $receive (global.get $in) (i32.const 8192) (i32.const 4096)))
    (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (i32.const 0))))
    (drop (call $publish (global.get $out) (i32.const 8192) (local.get $n)))
    (i32.const 0))
"#,
    );
    // Filler: checksums over the table with a little branching, as library code would have.
    for f in 0..48 {
        w.push_str(&format!(
            r#"  (func $filler{f} (export "filler{f}") (param $seed i32) (result i32)
    (local $i i32) (local $acc i32)
    (local.set $acc (i32.add (local.get $seed) (i32.const {f})))
    (loop $l
      (local.set $acc (i32.xor (i32.mul (local.get $acc) (i32.const 16777619))
                               (i32.load8_u offset=2048 (local.get $i))))
      (if (i32.and (local.get $acc) (i32.const {mask}))
        (then (local.set $acc (i32.rotl (local.get $acc) (i32.const {rot}))))
        (else (local.set $acc (i32.sub (local.get $acc) (i32.const {sub})))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 1024))))
    (local.get $acc))
"#,
            mask = 1 << (f % 8),
            rot = f % 31 + 1,
            sub = f * 7 + 3,
        ));
    }
    w.push_str(")\n");
    w
}

/// What the host-call loop calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallKind {
    /// `sl.channel_pending(in)`: a host function (queue length under a mutex).
    Host,
    /// A guest function doing equivalent trivial work (a load from linear memory).
    Guest,
    /// No call: the loop alone (counter, accumulator, fuel and epoch checks).
    Empty,
}

/// A module whose `sl_step` runs a loop of `n` iterations, each doing one [`CallKind`] and
/// accumulating its result (so nothing is optimised away).
pub(crate) fn host_call(kind: CallKind, n: u32) -> String {
    let call = match kind {
        CallKind::Host => "(call $pending (global.get $in))",
        CallKind::Guest => "(call $guest_pending (global.get $in))",
        CallKind::Empty => "(global.get $in)",
    };
    format!(
        r#"(module
  (import "sl" "channel_open" (func $open (param i32 i32 i32) (result i32)))
  (import "sl" "channel_pending" (func $pending (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "in")
  (global $in (mut i32) (i32.const -1))
  (global $sink (mut i32) (i32.const 0))
  ;; Equivalent trivial work to channel_pending: read a queue length (a table in memory).
  (func $guest_pending (param $h i32) (result i32)
    (i32.load offset=64 (i32.shl (local.get $h) (i32.const 2))))
  (func (export "sl_init") (result i32)
    (global.set $in (call $open (i32.const 0) (i32.const 2) (i32.const 0)))
    (i32.lt_s (global.get $in) (i32.const 0)))
  (func (export "sl_step") (result i32)
    (local $i i32) (local $acc i32)
    (local.set $i (i32.const {n}))
    (loop $l
      (local.set $acc (i32.add (local.get $acc) {call}))
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (br_if $l (local.get $i)))
    (global.set $sink (i32.add (global.get $sink) (local.get $acc)))
    (i32.const 0)))
"#
    )
}

/// Size of every message published by [`publisher`].
pub(crate) const PAYLOAD: usize = 64;

/// A module whose `sl_step` publishes `count` messages of [`PAYLOAD`] bytes on `out`.
/// With `drain_input` it first takes one message from `in` (an event-triggered burst).
/// Returns -1 from the step if any publish did not return 0.
pub(crate) fn publisher(count: u32, drain_input: bool) -> String {
    let (import_rx, open_in, drain) = if drain_input {
        (
            r#"(import "sl" "channel_receive" (func $receive (param i32 i32 i32) (result i32)))"#,
            "(global.set $in (call $open (i32.const 8) (i32.const 2) (i32.const 0)))",
            "(drop (call $receive (global.get $in) (i32.const 512) (i32.const 256)))",
        )
    } else {
        ("", "", "")
    };
    format!(
        r#"(module
  (import "sl" "channel_open" (func $open (param i32 i32 i32) (result i32)))
  (import "sl" "channel_publish" (func $publish (param i32 i32 i32) (result i32)))
  {import_rx}
  (memory (export "memory") 1)
  (data (i32.const 0) "out")
  (data (i32.const 8) "in")
  (data (i32.const 1024) "{payload}")
  (global $out (mut i32) (i32.const -1))
  (global $in (mut i32) (i32.const -1))
  (func (export "sl_init") (result i32)
    (global.set $out (call $open (i32.const 0) (i32.const 3) (i32.const 1)))
    {open_in}
    (i32.lt_s (global.get $out) (i32.const 0)))
  (func (export "sl_step") (result i32)
    (local $i i32) (local $bad i32)
    {drain}
    (local.set $i (i32.const {count}))
    (loop $l
      (local.set $bad (i32.or (local.get $bad)
        (call $publish (global.get $out) (i32.const 1024) (i32.const {PAYLOAD}))))
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (br_if $l (local.get $i)))
    (if (result i32) (local.get $bad) (then (i32.const -1)) (else (i32.const 0)))))
"#,
        payload = "\\ab".repeat(PAYLOAD),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_generated_modules_are_valid_wat() {
        for w in [
            reactor(),
            host_call(CallKind::Host, 10),
            host_call(CallKind::Guest, 10),
            host_call(CallKind::Empty, 10),
            publisher(3, false),
            publisher(3, true),
        ] {
            wat_ok(&w);
        }
    }

    fn wat_ok(w: &str) {
        silverline_host::wasm_from_bytes(w.as_bytes()).unwrap_or_else(|e| panic!("{e:#}\n{w}"));
    }
}
