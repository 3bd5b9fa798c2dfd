;; error (periodic): every step returns -1. The module keeps running; each step counts as one error
;; in the module's profile.
(module
  (memory (export "memory") 1)
  (func (export "sl_step") (result i32)
    (i32.const -1))
)
