;; idle (periodic): a step that does nothing and returns 0. No imports, one page of memory: the
;; smallest valid module, for density / scheduling-overhead tests.
(module
  (memory (export "memory") 1)
  (func (export "sl_step") (result i32)
    (i32.const 0))
)
