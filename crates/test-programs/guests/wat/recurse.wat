;; recurse (periodic): sl_step calls a function that recurses without bound, so the first step
;; ends in a stack-overflow trap (call stack exhausted). Each frame keeps a few locals alive so the
;; recursion cannot be turned into a loop.
(module
  (memory (export "memory") 1)
  (func $down (param $depth i64) (result i64)
    (local $a i64) (local $b i64)
    (local.set $a (i64.mul (local.get $depth) (i64.const 3)))
    (local.set $b (call $down (i64.add (local.get $depth) (i64.const 1))))
    (i64.add (local.get $a) (local.get $b)))
  (func (export "sl_step") (result i32)
    (i32.wrap_i64 (call $down (i64.const 0))))
)
