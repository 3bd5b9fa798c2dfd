;; grow (periodic): every step grows memory by 16 pages (1 MiB) and writes the last byte of the new
;; region. When memory.grow fails (returns -1, e.g. refused by the Host's memory limiter) the step
;; executes `unreachable`, so the Host sees a trap either way (its limiter may also trap directly).
;; The step returns 0 while growth succeeds.
(module
  (memory (export "memory") 1)
  (func (export "sl_step") (result i32)
    (local $old i32)
    (local.set $old (memory.grow (i32.const 16)))
    (if (i32.eq (local.get $old) (i32.const -1))
      (then unreachable))
    ;; touch the last byte of the new region: (old + 16) * 65536 - 1
    (i32.store8
      (i32.sub (i32.mul (i32.add (local.get $old) (i32.const 16)) (i32.const 65536)) (i32.const 1))
      (i32.const 1))
    (i32.const 0))
)
