;; filter (WAT pipeline, event-triggered on "in"): for every {u64 seq, i64 value_milli} message on
;; "in" updates an integer exponential moving average with alpha = 1/4
;;
;;   ema = value                         (first message)
;;   ema = ema + (value - ema) / 4       (afterwards; division truncates toward zero)
;;
;; and publishes {u64 seq, i64 ema_milli} (16 bytes, little-endian) on "out". Drains the whole queue
;; in one step (later activations find it empty and return 0). A message shorter than 16 bytes is
;; skipped and makes the step return -1. sl_init fails if "in" or "out" is missing.
(module
  (import "sl" "channel_open" (func $channel_open (param i32 i32 i32) (result i32)))
  (import "sl" "channel_publish" (func $channel_publish (param i32 i32 i32) (result i32)))
  (import "sl" "channel_receive" (func $channel_receive (param i32 i32 i32) (result i32)))

  (memory (export "memory") 1)

  ;; 0..1: "in"; 8..10: "out"; 32..47: message buffer (received, then rewritten in place)
  (data (i32.const 0) "in")
  (data (i32.const 8) "out")

  (global $in (mut i32) (i32.const -1))
  (global $out (mut i32) (i32.const -1))
  (global $have_ema (mut i32) (i32.const 0))
  (global $ema (mut i64) (i64.const 0))

  (func (export "sl_init") (result i32)
    (global.set $in (call $channel_open (i32.const 0) (i32.const 2) (i32.const 0)))
    (global.set $out (call $channel_open (i32.const 8) (i32.const 3) (i32.const 1)))
    (i32.or (i32.lt_s (global.get $in) (i32.const 0))
            (i32.lt_s (global.get $out) (i32.const 0))))

  (func (export "sl_step") (result i32)
    (local $n i32)
    (local $rc i32)
    (local $status i32)
    (local $value i64)
    (block $done
      (loop $next
        (local.set $n (call $channel_receive (global.get $in) (i32.const 32) (i32.const 16)))
        ;; -5 = SL_EMPTY: queue drained
        (br_if $done (i32.eq (local.get $n) (i32.const -5)))
        ;; any other negative result is an error
        (if (i32.lt_s (local.get $n) (i32.const 0))
          (then (return (local.get $n))))
        (if (i32.lt_s (local.get $n) (i32.const 16))
          (then
            (local.set $status (i32.const -1))
            (br $next)))
        (local.set $value (i64.load (i32.const 40)))
        (if (global.get $have_ema)
          (then
            (global.set $ema
              (i64.add (global.get $ema)
                       (i64.div_s (i64.sub (local.get $value) (global.get $ema)) (i64.const 4)))))
          (else
            (global.set $ema (local.get $value))
            (global.set $have_ema (i32.const 1))))
        ;; seq stays at 32..39; ema replaces the value at 40..47
        (i64.store (i32.const 40) (global.get $ema))
        (local.set $rc (call $channel_publish (global.get $out) (i32.const 32) (i32.const 16)))
        (if (i32.lt_s (local.get $rc) (i32.const 0))
          (then (local.set $status (local.get $rc))))
        (br $next)))
    (local.get $status))
)
