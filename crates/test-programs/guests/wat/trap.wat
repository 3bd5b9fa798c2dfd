;; trap (periodic): steps return 0, except the THIRD call of sl_step, which executes `unreachable`.
;; The count is kept in a global incremented before the trap, so it traps exactly once (on the
;; third step, whatever activation index that is) if the Host keeps the instance afterwards.
(module
  (memory (export "memory") 1)
  (global $steps (mut i32) (i32.const 0))
  (func (export "sl_step") (result i32)
    (global.set $steps (i32.add (global.get $steps) (i32.const 1)))
    (if (i32.eq (global.get $steps) (i32.const 3))
      (then unreachable))
    (i32.const 0))
)
