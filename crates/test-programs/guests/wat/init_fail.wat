;; init_fail: sl_init returns 1 (initialisation failed), so the Host must refuse to run the module.
;; sl_step returns -1 and would be counted as an error if it were ever called.
(module
  (memory (export "memory") 1)
  (func (export "sl_init") (result i32)
    (i32.const 1))
  (func (export "sl_step") (result i32)
    (i32.const -1))
)
