;; busy (periodic): every activation keeps the processor for 30 ms of wall-clock time, then
;; returns. A best-effort hog with a bounded step: its neighbours on the same worker start late.
(module
  (import "sl" "now" (func $now (result i64)))
  (memory (export "memory") 1)
  (func (export "sl_init") (result i32)
    (i32.const 0))
  (func (export "sl_step") (result i32)
    (local $until i64)
    (local.set $until (i64.add (call $now) (i64.const 30000000)))
    (loop $spin
      (br_if $spin (i64.lt_s (call $now) (local.get $until))))
    (i32.const 0))
)
