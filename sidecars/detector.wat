;; detector sidecar (docs/failover.md): event-triggered on input "heartbeat" (one emitter's
;; heartbeats), output "link", config "INDEX TIMEOUT_NS" (decimal, single spaces).
;;
;; For every HEARTBEAT it publishes ALIVE(index = INDEX, t1 = received at, t2 = 0, t3 = the
;; heartbeat's load). Once it has seen a heartbeat, it publishes DOWN(index = INDEX, t1 = detected
;; at) once when no heartbeat arrived for TIMEOUT_NS; an ALIVE after a DOWN means reconnected.
;; Detection needs no polling: after every step it arms wake_at(last + TIMEOUT_NS), so the Host
;; activates it exactly when the silence would become a disconnect. Times are this Host's clock.
;;
;; sl_init returns 1 when "heartbeat" or "link" is missing or the config does not parse.
;; sl_step drains every pending message (other sizes and kinds are ignored) and returns the first
;; negative channel result, else 0.
;;
;; Memory: [0, 9) "heartbeat"; [16, 20) "link"; [64, 96) received message; [96, 128) outgoing
;; message; [256, 512) config text.
(module
  (import "sl" "channel_open" (func $channel_open (param i32 i32 i32) (result i32)))
  (import "sl" "channel_publish" (func $channel_publish (param i32 i32 i32) (result i32)))
  (import "sl" "channel_receive" (func $channel_receive (param i32 i32 i32) (result i32)))
  (import "sl" "config" (func $config (param i32 i32) (result i32)))
  (import "sl" "now" (func $now (result i64)))
  (import "sl" "wake_at" (func $wake_at (param i64)))

  (memory (export "memory") 1)
  (data (i32.const 0) "heartbeat")
  (data (i32.const 16) "link")

  (global $in (mut i32) (i32.const -1))
  (global $out (mut i32) (i32.const -1))
  (global $index (mut i32) (i32.const 0))      ;; INDEX: our replica Host's position
  (global $timeout (mut i64) (i64.const 0))    ;; TIMEOUT_NS
  (global $seen (mut i32) (i32.const 0))       ;; 1 once any heartbeat arrived
  (global $down (mut i32) (i32.const 0))       ;; 1 after DOWN, until the next heartbeat
  (global $last (mut i64) (i64.const 0))       ;; when the last heartbeat was received
  (global $err (mut i32) (i32.const 0))        ;; first negative result of this step
  (global $pos (mut i32) (i32.const 0))        ;; config parser: next byte
  (global $end (mut i32) (i32.const 0))        ;; config parser: end of the text

  (func (export "sl_init") (result i32)
    (global.set $in (call $channel_open (i32.const 0) (i32.const 9) (i32.const 0)))
    (global.set $out (call $channel_open (i32.const 16) (i32.const 4) (i32.const 1)))
    (if (i32.or (i32.lt_s (global.get $in) (i32.const 0))
                (i32.lt_s (global.get $out) (i32.const 0)))
      (then (return (i32.const 1))))
    (call $parse_config))

  ;; "INDEX TIMEOUT_NS": 0 when it parses, 1 otherwise. INDEX must fit the message's u32.
  (func $parse_config (result i32)
    (local $v i64)
    (if (i32.eqz (call $read_config)) (then (return (i32.const 1))))
    (local.set $v (call $number))
    (if (i32.or (i64.lt_s (local.get $v) (i64.const 0))
                (i64.gt_s (local.get $v) (i64.const 0xffffffff)))
      (then (return (i32.const 1))))
    (global.set $index (i32.wrap_i64 (local.get $v)))
    (if (i32.eqz (call $space)) (then (return (i32.const 1))))
    (global.set $timeout (call $number))
    (if (i64.lt_s (global.get $timeout) (i64.const 0)) (then (return (i32.const 1))))
    ;; Anything left over (a third number, a trailing space or newline) is a malformed config.
    (i32.ne (global.get $pos) (global.get $end)))

  ;; Copies the config to [256, 512) and points the parser at it; 0 when it does not fit (a
  ;; truncated config would parse as a different one).
  (func $read_config (result i32)
    (local $len i32)
    (local.set $len (call $config (i32.const 256) (i32.const 256)))
    ;; Unsigned compare: a negative length is out of range too.
    (if (i32.gt_u (local.get $len) (i32.const 256)) (then (return (i32.const 0))))
    (global.set $pos (i32.const 256))
    (global.set $end (i32.add (i32.const 256) (local.get $len)))
    (i32.const 1))

  ;; A non-negative decimal number at $pos (at least one digit, no sign); -1 when there is none or
  ;; it does not fit an i64. Stops at the first non-digit.
  (func $number (result i64)
    (local $v i64) (local $d i64) (local $start i32)
    (local.set $start (global.get $pos))
    (block $stop
      (loop $digit
        (br_if $stop (i32.ge_u (global.get $pos) (global.get $end)))
        (local.set $d (i64.sub (i64.load8_u (global.get $pos)) (i64.const 48)))
        (br_if $stop (i64.gt_u (local.get $d) (i64.const 9)))   ;; also catches bytes below '0'
        ;; v * 10 + d must stay <= i64::MAX, i.e. v <= (i64::MAX - d) / 10.
        (if (i64.gt_s (local.get $v)
                      (i64.div_s (i64.sub (i64.const 0x7fffffffffffffff) (local.get $d)) (i64.const 10)))
          (then (return (i64.const -1))))
        (local.set $v (i64.add (i64.mul (local.get $v) (i64.const 10)) (local.get $d)))
        (global.set $pos (i32.add (global.get $pos) (i32.const 1)))
        (br $digit)))
    (select (i64.const -1) (local.get $v) (i32.eq (global.get $pos) (local.get $start))))

  ;; Consumes exactly one ' ' at $pos: 1 if it was there, else 0.
  (func $space (result i32)
    (if (i32.ge_u (global.get $pos) (global.get $end)) (then (return (i32.const 0))))
    (if (i32.ne (i32.load8_u (global.get $pos)) (i32.const 32)) (then (return (i32.const 0))))
    (global.set $pos (i32.add (global.get $pos) (i32.const 1)))
    (i32.const 1))

  (func (export "sl_step") (result i32)
    (local $n i32)
    (global.set $err (i32.const 0))
    ;; Drain everything: a wake_at activation may find several heartbeats, or none.
    (block $empty
      (loop $next
        (local.set $n (call $channel_receive (global.get $in) (i32.const 64) (i32.const 32)))
        (br_if $empty (i32.lt_s (local.get $n) (i32.const 0)))
        ;; Only 32-byte HEARTBEATs count; a truncated longer message reports n > 32.
        (if (i32.and (i32.eq (local.get $n) (i32.const 32))
                     (i32.eq (i32.load (i32.const 64)) (i32.const 6)))
          (then (call $heartbeat)))
        (br $next)))
    ;; -5 (SL_EMPTY) ends a drain normally; any other negative is an error.
    (if (i32.ne (local.get $n) (i32.const -5)) (then (call $note (local.get $n))))
    (call $check_timeout)
    (global.get $err))

  ;; A heartbeat at [64, 96): the link is up (again); forward its load in an ALIVE.
  (func $heartbeat
    (local $t i64)
    (local.set $t (call $now))
    (global.set $last (local.get $t))
    (global.set $seen (i32.const 1))
    (global.set $down (i32.const 0))
    (call $send (i32.const 1) (local.get $t) (i64.load (i32.const 88))))   ;; ALIVE, load = t3

  ;; After the drain: DOWN once if the silence reached TIMEOUT_NS, else (re)arm the wake-up for
  ;; the moment it would. Re-arming on every step also covers a wake that came early.
  (func $check_timeout
    (local $deadline i64) (local $t i64)
    (if (i32.or (i32.eqz (global.get $seen)) (global.get $down)) (then (return)))
    (local.set $deadline (call $sat_add (global.get $last) (global.get $timeout)))
    (local.set $t (call $now))
    (if (i64.ge_s (local.get $t) (local.get $deadline))
      (then
        (global.set $down (i32.const 1))
        (call $send (i32.const 2) (local.get $t) (i64.const 0)))          ;; DOWN, detected at t
      (else (call $wake_at (local.get $deadline)))))

  ;; a + b for b >= 0, saturating at i64::MAX: a huge timeout must not wrap into the past and make
  ;; wake_at fire at once, over and over.
  (func $sat_add (param $a i64) (param $b i64) (result i64)
    (if (result i64) (i64.gt_s (local.get $a) (i64.sub (i64.const 0x7fffffffffffffff) (local.get $b)))
      (then (i64.const 0x7fffffffffffffff))
      (else (i64.add (local.get $a) (local.get $b)))))

  ;; Publishes {kind, INDEX, t1, 0, t3} on "link".
  (func $send (param $kind i32) (param $t1 i64) (param $t3 i64)
    (i32.store (i32.const 96) (local.get $kind))
    (i32.store (i32.const 100) (global.get $index))
    (i64.store (i32.const 104) (local.get $t1))
    (i64.store (i32.const 112) (i64.const 0))
    (i64.store (i32.const 120) (local.get $t3))
    (call $note (call $channel_publish (global.get $out) (i32.const 96) (i32.const 32))))

  ;; Remembers the first negative result of the step (1 = dropped, inactive, is not an error).
  (func $note (param $rc i32)
    (if (i32.and (i32.lt_s (local.get $rc) (i32.const 0)) (i32.eqz (global.get $err)))
      (then (global.set $err (local.get $rc)))))
)
