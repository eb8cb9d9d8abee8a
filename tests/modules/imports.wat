;; A WASI command that opens files and calls the perch HTTP host function,
;; so inspect has imports to report and to compare with a manifest.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get"
    (func $environ_get (param i32 i32) (result i32)))
  (import "perch" "http_get" (func $http_get (param i32 i32) (result i32)))
  (memory (export "memory") 2 16)
  (func (export "_start")))
