;; A guest that hands each perch import to the test driver unchanged, so the
;; driver exercises the host ABI through real wasm calls and guest memory.
(module
  (import "perch" "http_get" (func $get (param i32 i32) (result i32)))
  (import "perch" "http_status" (func $status (param i32) (result i32)))
  (import "perch" "http_body_len" (func $body_len (param i32) (result i32)))
  (import "perch" "http_read_body" (func $read (param i32 i32 i32) (result i32)))
  (import "perch" "http_close" (func $close (param i32) (result i32)))
  (import "perch" "http_error" (func $error (param i32 i32) (result i32)))
  (memory (export "memory") 2)
  (func (export "get") (param i32 i32) (result i32) (call $get (local.get 0) (local.get 1)))
  (func (export "status") (param i32) (result i32) (call $status (local.get 0)))
  (func (export "body_len") (param i32) (result i32) (call $body_len (local.get 0)))
  (func (export "read") (param i32 i32 i32) (result i32)
    (call $read (local.get 0) (local.get 1) (local.get 2)))
  (func (export "close") (param i32) (result i32) (call $close (local.get 0)))
  (func (export "error") (param i32 i32) (result i32) (call $error (local.get 0) (local.get 1))))
