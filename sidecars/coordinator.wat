;; failover coordinator sidecar (docs/failover.md): event-triggered on input "links" (the ALIVE and
;; DOWN of every replica Host's detector); outputs "cmd0" .. "cmd{N-1}" (one per replica Host, in
;; priority order; N = how many open, at most 8) and "notify" (to the Orchestrator); config
;; "POLICY LEASE_NS SKEW_NS" with POLICY "priority" or "least-loaded".
;;
;; State: up and load per index, the primary (-1 = none, the start), last_until (end of the last
;; lease granted). Decisions (the Rust twin is silverline_failover::coordinator::Coordinator):
;; * ALIVE(i): mark i up with its load. No primary: promote the best Host up. Else if i is the
;;   primary: LEASE(now + LEASE_NS) on cmd{i}. A reconnected former primary stays a backup.
;; * DOWN(i): mark i down. If i was the primary: DEACTIVATE(detected at) on cmd{i} (best effort:
;;   that Host is likely unreachable, its lease runs out anyway), then promote the best one up.
;; * promote: the best up Host b (priority: lowest index; least-loaded: lowest load, ties to the
;;   lowest index) gets ACTIVATE(until = now + LEASE_NS, not_before = last_until + SKEW_NS,
;;   detected_at) on cmd{b}, so that it cannot publish before the old lease ran out on any clock;
;;   and notify gets PROMOTED(index = b or 0xFFFFFFFF for none, t1 = until or 0, t3 = detected_at).
;;   detected_at is the DOWN's t1, or 0 for the initial election.
;;
;; The index of every command is its target replica. Messages that are not 32 bytes, of another
;; kind, or with an index >= N are ignored.
;; sl_init returns 1 when "links", "notify" or "cmd0" is missing, "cmd8" exists (more replicas than
;; supported), or the config does not parse. sl_step returns the first negative channel result.
;;
;; Memory: names at [0, 64); [64, 96) received message; [96, 128) outgoing message;
;; [128, 160) cmd handles (i32 x 8); [160, 192) up flags (i32 x 8); [192, 256) loads (i64 x 8);
;; [256, 512) config text.
(module
  (import "sl" "channel_open" (func $channel_open (param i32 i32 i32) (result i32)))
  (import "sl" "channel_publish" (func $channel_publish (param i32 i32 i32) (result i32)))
  (import "sl" "channel_receive" (func $channel_receive (param i32 i32 i32) (result i32)))
  (import "sl" "config" (func $config (param i32 i32) (result i32)))
  (import "sl" "now" (func $now (result i64)))

  (memory (export "memory") 1)
  (data (i32.const 0) "links")
  (data (i32.const 8) "notify")
  (data (i32.const 16) "cmd0")            ;; byte 19 is rewritten with each digit
  (data (i32.const 24) "priority")
  (data (i32.const 40) "least-loaded")

  (global $in (mut i32) (i32.const -1))
  (global $notify (mut i32) (i32.const -1))
  (global $n (mut i32) (i32.const 0))           ;; N, number of replica Hosts
  (global $least_loaded (mut i32) (i32.const 0)) ;; POLICY: 0 priority, 1 least-loaded
  (global $lease (mut i64) (i64.const 0))       ;; LEASE_NS
  (global $skew (mut i64) (i64.const 0))        ;; SKEW_NS
  (global $primary (mut i32) (i32.const -1))    ;; -1 = no primary
  (global $last_until (mut i64) (i64.const 0))  ;; end of the last lease granted
  (global $primary_from (mut i64) (i64.const 0)) ;; the primary's not_before (sent with each LEASE)
  (global $err (mut i32) (i32.const 0))         ;; first negative result of this step
  (global $pos (mut i32) (i32.const 0))         ;; config parser: next byte
  (global $end (mut i32) (i32.const 0))         ;; config parser: end of the text

  (func (export "sl_init") (result i32)
    (global.set $in (call $channel_open (i32.const 0) (i32.const 5) (i32.const 0)))
    (global.set $notify (call $channel_open (i32.const 8) (i32.const 6) (i32.const 1)))
    (if (i32.or (i32.lt_s (global.get $in) (i32.const 0))
                (i32.lt_s (global.get $notify) (i32.const 0)))
      (then (return (i32.const 1))))
    (if (i32.eqz (call $open_cmds)) (then (return (i32.const 1))))
    (call $parse_config))

  ;; Opens cmd0, cmd1, ... until one is missing; N = how many opened. 0 when there is none or
  ;; there are more than 8 (the state arrays hold 8).
  (func $open_cmds (result i32)
    (local $h i32)
    (block $missing
      (loop $next
        (i32.store8 (i32.const 19) (i32.add (i32.const 48) (global.get $n)))   ;; '0' + n
        (local.set $h (call $channel_open (i32.const 16) (i32.const 4) (i32.const 1)))
        (br_if $missing (i32.lt_s (local.get $h) (i32.const 0)))
        (if (i32.eq (global.get $n) (i32.const 8)) (then (return (i32.const 0))))
        (i32.store (call $slot (i32.const 128) (global.get $n)) (local.get $h))
        (global.set $n (i32.add (global.get $n) (i32.const 1)))
        (br $next)))
    (i32.ne (global.get $n) (i32.const 0)))

  ;; "POLICY LEASE_NS SKEW_NS": 0 when it parses, 1 otherwise.
  (func $parse_config (result i32)
    (if (i32.eqz (call $read_config)) (then (return (i32.const 1))))
    (if (call $word (i32.const 24) (i32.const 8))
      (then (global.set $least_loaded (i32.const 0)))
      (else
        (if (call $word (i32.const 40) (i32.const 12))
          (then (global.set $least_loaded (i32.const 1)))
          (else (return (i32.const 1))))))
    (if (i32.eqz (call $space)) (then (return (i32.const 1))))
    (global.set $lease (call $number))
    (if (i64.lt_s (global.get $lease) (i64.const 0)) (then (return (i32.const 1))))
    (if (i32.eqz (call $space)) (then (return (i32.const 1))))
    (global.set $skew (call $number))
    (if (i64.lt_s (global.get $skew) (i64.const 0)) (then (return (i32.const 1))))
    ;; Anything left over (a trailing space or newline, a fourth field) is a malformed config.
    (i32.ne (global.get $pos) (global.get $end)))

  ;; Copies the config to [256, 512) and points the parser at it; 0 when it does not fit (a
  ;; truncated config would parse as a different one).
  (func $read_config (result i32)
    (local $len i32)
    (local.set $len (call $config (i32.const 256) (i32.const 256)))
    (if (i32.gt_u (local.get $len) (i32.const 256)) (then (return (i32.const 0))))  ;; or < 0
    (global.set $pos (i32.const 256))
    (global.set $end (i32.add (i32.const 256) (local.get $len)))
    (i32.const 1))

  ;; 1 and consumes it if the text at $pos starts with [$ptr, $ptr + $len); else 0, $pos unchanged.
  ;; What follows the word is checked by the caller ($space), so "priorityx" is refused.
  (func $word (param $ptr i32) (param $len i32) (result i32)
    (local $i i32)
    (if (i32.gt_u (local.get $len) (i32.sub (global.get $end) (global.get $pos)))
      (then (return (i32.const 0))))
    (block $same
      (loop $byte
        (br_if $same (i32.ge_u (local.get $i) (local.get $len)))
        (if (i32.ne (i32.load8_u (i32.add (global.get $pos) (local.get $i)))
                    (i32.load8_u (i32.add (local.get $ptr) (local.get $i))))
          (then (return (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $byte)))
    (global.set $pos (i32.add (global.get $pos) (local.get $len)))
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
    ;; Drain everything: detectors of all replicas share "links", several may be queued.
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

  ;; Dispatches the message at [64, 96) on its kind; the index must name one of our replicas.
  (func $handle
    (local $i i32)
    (local.set $i (i32.load (i32.const 68)))
    (if (i32.ge_u (local.get $i) (global.get $n)) (then (return)))
    (if (i32.eq (i32.load (i32.const 64)) (i32.const 1)) (then (call $alive (local.get $i))))
    (if (i32.eq (i32.load (i32.const 64)) (i32.const 2)) (then (call $down (local.get $i)))))

  (func $alive (param $i i32)
    (i32.store (call $slot (i32.const 160) (local.get $i)) (i32.const 1))
    (i64.store (call $slot8 (i32.const 192) (local.get $i)) (i64.load (i32.const 88)))  ;; t3 = load
    ;; First election (or everybody had gone): no preemption otherwise, a Host that comes back
    ;; stays a backup. An ACTIVATE already carries a lease, so a new primary gets no LEASE here.
    (if (i32.lt_s (global.get $primary) (i32.const 0))
      (then (call $promote (i64.const 0)))
      (else
        (if (i32.eq (local.get $i) (global.get $primary))
          (then (call $grant_lease (local.get $i)))))))

  (func $down (param $i i32)
    (local $detected i64)
    (local.set $detected (i64.load (i32.const 72)))                 ;; t1 = detected at
    (i32.store (call $slot (i32.const 160) (local.get $i)) (i32.const 0))
    ;; Losing a backup changes nothing else.
    (if (i32.ne (local.get $i) (global.get $primary)) (then (return)))
    (call $command (local.get $i) (i32.const 5) (i64.const 0) (i64.const 0) (local.get $detected))
    (call $promote (local.get $detected)))

  ;; The primary is alive: extend its lease.
  (func $grant_lease (param $i i32)
    (global.set $last_until (call $sat_add (call $now) (global.get $lease)))
    ;; With its not_before: a replica that missed its ACTIVATE (not yet deployed, message lost)
    ;; still starts, and never before the previous primary's last lease.
    (call $command (local.get $i) (i32.const 3) (global.get $last_until) (global.get $primary_from) (i64.const 0)))

  ;; Makes the best Host up the primary (ACTIVATE) and tells the Orchestrator (PROMOTED), or
  ;; records and reports that there is none.
  (func $promote (param $detected i64)
    (local $b i32) (local $until i64) (local $not_before i64)
    (local.set $b (call $best))
    (global.set $primary (local.get $b))
    (if (i32.lt_s (local.get $b) (i32.const 0))
      (then
        (call $publish (global.get $notify) (i32.const 7) (i32.const -1)
              (i64.const 0) (i64.const 0) (local.get $detected))
        (return)))
    (local.set $until (call $sat_add (call $now) (global.get $lease)))
    ;; The old primary may publish until last_until on its own clock: wait that plus the skew.
    (local.set $not_before (call $sat_add (global.get $last_until) (global.get $skew)))
    (global.set $last_until (local.get $until))
    (global.set $primary_from (local.get $not_before))
    (call $command (local.get $b) (i32.const 4) (local.get $until) (local.get $not_before) (local.get $detected))
    (call $publish (global.get $notify) (i32.const 7) (local.get $b)
          (local.get $until) (i64.const 0) (local.get $detected)))

  ;; The best Host up by the policy, or -1. Strict comparisons keep the lowest index on ties.
  (func $best (result i32)
    (local $i i32) (local $b i32)
    (local.set $b (i32.const -1))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (global.get $n)))
        (if (i32.load (call $slot (i32.const 160) (local.get $i)))
          (then
            (if (i32.eqz (global.get $least_loaded)) (then (return (local.get $i))))
            (if (i32.or (i32.lt_s (local.get $b) (i32.const 0))
                        (i64.lt_s (i64.load (call $slot8 (i32.const 192) (local.get $i)))
                                  (i64.load (call $slot8 (i32.const 192) (local.get $b)))))
              (then (local.set $b (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $b))

  ;; Address of element i of an i32 array at base / of an i64 array at base.
  (func $slot (param $base i32) (param $i i32) (result i32)
    (i32.add (local.get $base) (i32.shl (local.get $i) (i32.const 2))))
  (func $slot8 (param $base i32) (param $i i32) (result i32)
    (i32.add (local.get $base) (i32.shl (local.get $i) (i32.const 3))))

  ;; Sends {kind, i, t1, t2, t3} to replica i on cmd{i}.
  (func $command (param $i i32) (param $kind i32) (param $t1 i64) (param $t2 i64) (param $t3 i64)
    (call $publish (i32.load (call $slot (i32.const 128) (local.get $i)))
          (local.get $kind) (local.get $i) (local.get $t1) (local.get $t2) (local.get $t3)))

  (func $publish (param $h i32) (param $kind i32) (param $index i32) (param $t1 i64) (param $t2 i64) (param $t3 i64)
    (i32.store (i32.const 96) (local.get $kind))
    (i32.store (i32.const 100) (local.get $index))
    (i64.store (i32.const 104) (local.get $t1))
    (i64.store (i32.const 112) (local.get $t2))
    (i64.store (i32.const 120) (local.get $t3))
    (call $note (call $channel_publish (local.get $h) (i32.const 96) (i32.const 32))))

  ;; a + b for b >= 0, saturating at i64::MAX (a huge lease must not wrap into the past).
  (func $sat_add (param $a i64) (param $b i64) (result i64)
    (if (result i64) (i64.gt_s (local.get $a) (i64.sub (i64.const 0x7fffffffffffffff) (local.get $b)))
      (then (i64.const 0x7fffffffffffffff))
      (else (i64.add (local.get $a) (local.get $b)))))

  ;; Remembers the first negative result of the step (1 = dropped, inactive, is not an error).
  (func $note (param $rc i32)
    (if (i32.and (i32.lt_s (local.get $rc) (i32.const 0)) (i32.eqz (global.get $err)))
      (then (global.set $err (local.get $rc)))))
)
