;; tick (periodic): on every step publishes the 8-byte little-endian activation index (u64) on
;; output "out". The workhorse of timing tests: the receiver sees exactly which activations ran.
;; sl_init fails (returns 1) if the manifest has no output channel "out".
;; The step returns the publish result if it is negative (0 and 1 = SL_DROPPED_INACTIVE are fine).
(module
  (import "sl" "channel_open" (func $channel_open (param i32 i32 i32) (result i32)))
  (import "sl" "channel_publish" (func $channel_publish (param i32 i32 i32) (result i32)))
  (import "sl" "activation" (func $activation (result i64)))

  (memory (export "memory") 1)
  (data (i32.const 0) "out")
  (global $out (mut i32) (i32.const -1))

  (func (export "sl_init") (result i32)
    (global.set $out (call $channel_open (i32.const 0) (i32.const 3) (i32.const 1)))
    (i32.lt_s (global.get $out) (i32.const 0)))

  (func (export "sl_step") (result i32)
    (local $rc i32)
    (i64.store (i32.const 8) (call $activation))
    (local.set $rc (call $channel_publish (global.get $out) (i32.const 8) (i32.const 8)))
    (select (local.get $rc) (i32.const 0) (i32.lt_s (local.get $rc) (i32.const 0))))
)
