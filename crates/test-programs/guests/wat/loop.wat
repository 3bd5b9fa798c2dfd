;; loop (periodic): sl_step never returns. The Host must interrupt it (deadline / epoch / fuel).
;; sl_init returns normally, so instantiation succeeds and the hang is in the first step.
(module
  (memory (export "memory") 1)
  (func (export "sl_init") (result i32)
    (i32.const 0))
  (func (export "sl_step") (result i32)
    (loop $forever
      (br $forever))
    (i32.const 0))
)
