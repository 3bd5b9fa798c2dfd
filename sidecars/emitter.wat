;; emitter sidecar (docs/failover.md): periodic, one per replica Host, period = heartbeat period.
;; Every activation publishes one HEARTBEAT on output "heartbeat"; the detectors on other Hosts
;; declare this Host lost when the heartbeats stop.
;;
;; HEARTBEAT (32 bytes, little-endian): kind u32 = 6, index u32 = 0 (the emitter does not know its
;; position; the detector stamps it), t1 i64 = sent at (Unix ns), t2 i64 = activation index,
;; t3 i64 = this Host's load (permille, from sl_sidecar.host_load).
;;
;; sl_init returns 1 when the manifest has no output "heartbeat". sl_step returns the publish
;; result when it is negative; 1 (SL_DROPPED_INACTIVE) is not an error.
;;
;; Memory: [0, 9) "heartbeat"; [32, 64) the outgoing message.
(module
  (import "sl" "channel_open" (func $channel_open (param i32 i32 i32) (result i32)))
  (import "sl" "channel_publish" (func $channel_publish (param i32 i32 i32) (result i32)))
  (import "sl" "activation" (func $activation (result i64)))
  (import "sl" "now" (func $now (result i64)))
  (import "sl_sidecar" "host_load" (func $host_load (result i32)))

  (memory (export "memory") 1)
  (data (i32.const 0) "heartbeat")
  (global $out (mut i32) (i32.const -1))

  (func (export "sl_init") (result i32)
    (global.set $out (call $channel_open (i32.const 0) (i32.const 9) (i32.const 1)))
    (i32.lt_s (global.get $out) (i32.const 0)))

  (func (export "sl_step") (result i32)
    (local $rc i32)
    (i32.store (i32.const 32) (i32.const 6))                     ;; kind = HEARTBEAT
    (i32.store (i32.const 36) (i32.const 0))                     ;; index: set by the detector
    (i64.store (i32.const 40) (call $now))                       ;; t1 = sent at
    (i64.store (i32.const 48) (call $activation))                ;; t2 = activation index
    ;; Sign-extended so that a negative "unknown" from the Host would stay visibly negative.
    (i64.store (i32.const 56) (i64.extend_i32_s (call $host_load))) ;; t3 = load (permille)
    (local.set $rc (call $channel_publish (global.get $out) (i32.const 32) (i32.const 32)))
    (select (local.get $rc) (i32.const 0) (i32.lt_s (local.get $rc) (i32.const 0))))
)
