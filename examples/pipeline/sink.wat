;; sink (WAT pipeline, event-triggered on "in"): for every {u64 seq, i64 ema_milli} message on "in"
;; writes one line to the Host log with the `log` import:
;;
;;   seq=<seq> ema=<ema_milli>
;;
;; e.g. `seq=12 ema=734` (the value is in thousandths; integer-only, no float formatting in WAT).
;; Drains the whole queue in one step. A message shorter than 16 bytes is skipped and makes the step
;; return -1. sl_init fails if "in" is missing.
(module
  (import "sl" "channel_open" (func $channel_open (param i32 i32 i32) (result i32)))
  (import "sl" "channel_receive" (func $channel_receive (param i32 i32 i32) (result i32)))
  (import "sl" "log" (func $log (param i32 i32)))

  (memory (export "memory") 1)

  ;; 0..1: "in"; 8..11: "seq="; 16..20: " ema="; 32..47: message; 64..95: digit scratch;
  ;; 128..: the line being formatted
  (data (i32.const 0) "in")
  (data (i32.const 8) "seq=")
  (data (i32.const 16) " ema=")

  (global $in (mut i32) (i32.const -1))

  (func (export "sl_init") (result i32)
    (global.set $in (call $channel_open (i32.const 0) (i32.const 2) (i32.const 0)))
    (i32.lt_s (global.get $in) (i32.const 0)))

  ;; copy len bytes from src to dst; returns dst + len
  (func $copy (param $dst i32) (param $src i32) (param $len i32) (result i32)
    (memory.copy (local.get $dst) (local.get $src) (local.get $len))
    (i32.add (local.get $dst) (local.get $len)))

  ;; write the unsigned decimal form of $v at $dst; returns the end of what was written
  (func $fmt_u64 (param $v i64) (param $dst i32) (result i32)
    (local $p i32)
    ;; digits are produced least significant first, right to left, ending at offset 96
    (local.set $p (i32.const 96))
    (loop $digit
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i64.store8 (local.get $p)
        (i64.add (i64.const 48) (i64.rem_u (local.get $v) (i64.const 10))))
      (local.set $v (i64.div_u (local.get $v) (i64.const 10)))
      (br_if $digit (i64.ne (local.get $v) (i64.const 0))))
    (call $copy (local.get $dst) (local.get $p) (i32.sub (i32.const 96) (local.get $p))))

  ;; write the signed decimal form of $v at $dst; returns the end of what was written
  (func $fmt_i64 (param $v i64) (param $dst i32) (result i32)
    (if (i64.lt_s (local.get $v) (i64.const 0))
      (then
        (i32.store8 (local.get $dst) (i32.const 45)) ;; '-'
        ;; 0 - v as unsigned is also right for i64::MIN
        (return (call $fmt_u64 (i64.sub (i64.const 0) (local.get $v))
                               (i32.add (local.get $dst) (i32.const 1))))))
    (call $fmt_u64 (local.get $v) (local.get $dst)))

  (func (export "sl_step") (result i32)
    (local $n i32)
    (local $p i32)
    (local $status i32)
    (block $done
      (loop $next
        (local.set $n (call $channel_receive (global.get $in) (i32.const 32) (i32.const 16)))
        (br_if $done (i32.eq (local.get $n) (i32.const -5))) ;; SL_EMPTY
        (if (i32.lt_s (local.get $n) (i32.const 0))
          (then (return (local.get $n))))
        (if (i32.lt_s (local.get $n) (i32.const 16))
          (then
            (local.set $status (i32.const -1))
            (br $next)))
        (local.set $p (call $copy (i32.const 128) (i32.const 8) (i32.const 4)))
        (local.set $p (call $fmt_u64 (i64.load (i32.const 32)) (local.get $p)))
        (local.set $p (call $copy (local.get $p) (i32.const 16) (i32.const 5)))
        (local.set $p (call $fmt_i64 (i64.load (i32.const 40)) (local.get $p)))
        (call $log (i32.const 128) (i32.sub (local.get $p) (i32.const 128)))
        (br $next)))
    (local.get $status))
)
