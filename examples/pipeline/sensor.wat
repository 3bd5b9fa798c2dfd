;; sensor (WAT pipeline, periodic): on every activation publishes one 16-byte message on "out":
;;
;;   offset 0: u64 little-endian  seq         = activation()
;;   offset 8: i64 little-endian  value_milli = triangle wave of seq, period 40, in [-1000, 1000]
;;
;;   t = seq mod 40;  value_milli = t < 20 ? 100*t - 1000 : 3000 - 100*t
;;
;; Integer-only on purpose (the C trio in c/ uses {u64 seq, f64 sample} instead; the two trios do
;; not talk to each other). sl_init fails (returns 1) if the manifest has no output channel "out".
(module
  (import "sl" "channel_open" (func $channel_open (param i32 i32 i32) (result i32)))
  (import "sl" "channel_publish" (func $channel_publish (param i32 i32 i32) (result i32)))
  (import "sl" "activation" (func $activation (result i64)))

  (memory (export "memory") 1)

  ;; 0..3: channel name; 16..31: message buffer
  (data (i32.const 0) "out")

  (global $out (mut i32) (i32.const -1))

  (func (export "sl_init") (result i32)
    (global.set $out (call $channel_open (i32.const 0) (i32.const 3) (i32.const 1)))
    (i32.lt_s (global.get $out) (i32.const 0)))

  (func (export "sl_step") (result i32)
    (local $seq i64)
    (local $t i64)
    (local $rc i32)
    (local.set $seq (call $activation))
    (local.set $t (i64.rem_u (local.get $seq) (i64.const 40)))
    (i64.store (i32.const 16) (local.get $seq))
    (i64.store (i32.const 24)
      (if (result i64) (i64.lt_u (local.get $t) (i64.const 20))
        (then (i64.sub (i64.mul (local.get $t) (i64.const 100)) (i64.const 1000)))
        (else (i64.sub (i64.const 3000) (i64.mul (local.get $t) (i64.const 100))))))
    (local.set $rc (call $channel_publish (global.get $out) (i32.const 16) (i32.const 16)))
    ;; 0 = published, 1 = dropped because "out" is inactive (not an error); < 0 = error
    (select (local.get $rc) (i32.const 0) (i32.lt_s (local.get $rc) (i32.const 0))))
)
