;; flood (periodic): publishes 200 messages of 1 KiB on output "out" in every step, as fast as it
;; can, and keeps going whatever the Host answers. Output "refused" (optional) gets, at the start of
;; each step, the 8-byte LE count of publishes so far that returned SL_ERATE (-7): what a module
;; over its publish budget is told. sl_init fails (returns 1) if the manifest has no output "out".
(module
  (import "sl" "channel_open" (func $channel_open (param i32 i32 i32) (result i32)))
  (import "sl" "channel_publish" (func $channel_publish (param i32 i32 i32) (result i32)))

  (memory (export "memory") 1)
  (data (i32.const 0) "out")
  (data (i32.const 8) "refused")
  (global $out (mut i32) (i32.const -1))
  (global $refused_ch (mut i32) (i32.const -1))
  (global $refused (mut i64) (i64.const 0))

  (func (export "sl_init") (result i32)
    (global.set $out (call $channel_open (i32.const 0) (i32.const 3) (i32.const 1)))
    (global.set $refused_ch (call $channel_open (i32.const 8) (i32.const 7) (i32.const 1)))
    (i32.lt_s (global.get $out) (i32.const 0)))

  (func (export "sl_step") (result i32)
    (local $i i32)
    ;; First, while the budget has refilled a little: the count up to the previous step.
    (if (i32.ge_s (global.get $refused_ch) (i32.const 0))
      (then
        (i64.store (i32.const 16) (global.get $refused))
        (drop (call $channel_publish (global.get $refused_ch) (i32.const 16) (i32.const 8)))))
    (loop $again
      (if (i32.eq (call $channel_publish (global.get $out) (i32.const 1024) (i32.const 1024)) (i32.const -7))
        (then (global.set $refused (i64.add (global.get $refused) (i64.const 1)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const 200))))
    (i32.const 0))
)
