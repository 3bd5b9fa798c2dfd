;; channel manager sidecar (docs/failover.md): one per replica, on the replica's Host;
;; event-triggered on input "control" (the coordinator's cmd{i} and the local detector that
;; watches the coordinator's Host); config = the name of the managed module.
;;
;; Turns commands into sl_sidecar.set_outputs calls on that module (of this application, on this
;; Host):  LEASE(until, not_before)              -> RENEW(until, not_before) (op 2)
;;         ACTIVATE(until, not_before, detected) -> ACTIVATE(...)           (op 1)
;;         DEACTIVATE(detected)                  -> DEACTIVATE(detected)    (op 0)
;;         DOWN(detected): lost the coordinator  -> DEACTIVATE(detected)    (op 0)
;;         ALIVE                                 -> nothing (the next LEASE re-enables)
;; Losing the coordinator deactivates at once rather than at the end of the lease: on the far
;; side of a partition the coordinator may already have promoted another replica. Leases are
;; absolute times, so a LEASE after reconnection re-enables the outputs if this is still the primary.
;;
;; sl_init returns 1 when "control" is missing or the config is empty or longer than 256 bytes.
;; sl_step drains every pending message (other sizes and kinds are ignored) and returns the first
;; negative result of channel_receive or set_outputs, else 0.
;;
;; Memory: [0, 7) "control"; [64, 96) received message; [256, 512) the module name.
(module
  (import "sl" "channel_open" (func $channel_open (param i32 i32 i32) (result i32)))
  (import "sl" "channel_receive" (func $channel_receive (param i32 i32 i32) (result i32)))
  (import "sl" "config" (func $config (param i32 i32) (result i32)))
  (import "sl_sidecar" "set_outputs"
    (func $set_outputs (param i32 i32 i32 i64 i64 i64) (result i32)))

  (memory (export "memory") 1)
  (data (i32.const 0) "control")

  (global $in (mut i32) (i32.const -1))
  (global $name_len (mut i32) (i32.const 0))   ;; the name is at [256, 256 + name_len)
  (global $err (mut i32) (i32.const 0))        ;; first negative result of this step

  (func (export "sl_init") (result i32)
    (global.set $in (call $channel_open (i32.const 0) (i32.const 7) (i32.const 0)))
    (if (i32.lt_s (global.get $in) (i32.const 0)) (then (return (i32.const 1))))
    (global.set $name_len (call $config (i32.const 256) (i32.const 256)))
    ;; Empty, negative or truncated (longer than the buffer) names are refused: acting on a
    ;; different module than the manifest says would be worse than not starting.
    (i32.or (i32.eqz (global.get $name_len))
            (i32.gt_u (global.get $name_len) (i32.const 256))))

  (func (export "sl_step") (result i32)
    (local $n i32)
    (global.set $err (i32.const 0))
    ;; Drain everything, in order: a DEACTIVATE queued after a LEASE must win.
    (block $empty
      (loop $next
        (local.set $n (call $channel_receive (global.get $in) (i32.const 64) (i32.const 32)))
        (br_if $empty (i32.lt_s (local.get $n) (i32.const 0)))
        ;; A longer message reports n > 32 (truncated), so it is skipped as well.
        (if (i32.eq (local.get $n) (i32.const 32)) (then (call $handle)))
        (br $next)))
    ;; -5 (SL_EMPTY) ends a drain normally; any other negative is an error.
    (if (i32.ne (local.get $n) (i32.const -5)) (then (call $note (local.get $n))))
    (global.get $err))

  ;; Acts on the message at [64, 96): kind at 64, t1 at 72, t2 at 80, t3 at 88.
  (func $handle
    (local $kind i32)
    (local.set $kind (i32.load (i32.const 64)))
    (if (i32.eq (local.get $kind) (i32.const 3))          ;; LEASE -> RENEW(until = t1)
      (then (call $set (i32.const 2) (i64.load (i32.const 72)) (i64.load (i32.const 80)) (i64.const 0))))
    (if (i32.eq (local.get $kind) (i32.const 4))          ;; ACTIVATE -> ACTIVATE(t1, t2, t3)
      (then (call $set (i32.const 1) (i64.load (i32.const 72)) (i64.load (i32.const 80))
                       (i64.load (i32.const 88)))))
    (if (i32.eq (local.get $kind) (i32.const 5))          ;; DEACTIVATE -> DEACTIVATE(t3)
      (then (call $set (i32.const 0) (i64.const 0) (i64.const 0) (i64.load (i32.const 88)))))
    (if (i32.eq (local.get $kind) (i32.const 2))          ;; DOWN -> DEACTIVATE(t1 = detected at)
      (then (call $set (i32.const 0) (i64.const 0) (i64.const 0) (i64.load (i32.const 72))))))

  (func $set (param $op i32) (param $until i64) (param $not_before i64) (param $detected i64)
    (call $note (call $set_outputs (i32.const 256) (global.get $name_len) (local.get $op)
                      (local.get $until) (local.get $not_before) (local.get $detected))))

  ;; Remembers the first negative result of the step.
  (func $note (param $rc i32)
    (if (i32.and (i32.lt_s (local.get $rc) (i32.const 0)) (i32.eqz (global.get $err)))
      (then (global.set $err (local.get $rc)))))
)
