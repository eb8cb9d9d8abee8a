;; A perch import that does not exist: the link must fail.
(module
  (import "perch" "http_post" (func (param i32 i32) (result i32)))
  (memory (export "memory") 1))
