;; Imports only the perch HTTP functions.
(module
  (import "perch" "http_get" (func (param i32 i32) (result i32)))
  (import "perch" "http_read_body" (func (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")))
