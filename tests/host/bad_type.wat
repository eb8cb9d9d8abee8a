;; http_get imported with the wrong type: the link must fail.
(module
  (import "perch" "http_get" (func (param i32) (result i32)))
  (memory (export "memory") 1))
