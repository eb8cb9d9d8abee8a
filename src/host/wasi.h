/*
 * wasi.h: the WASI preview1 functions a command module needs to run:
 * arguments, environment, clocks, random bytes, writing to stdout and
 * stderr, reading stdin, and exit. Prefix ph_.
 *
 * No ambient authority: the module sees only the arguments and the
 * environment variables the caller lists, and no files (no preopened
 * directories). Every other wasi_snapshot_preview1 function links to a stub
 * returning ENOSYS; the capability-checked file and network layers extend
 * this table.
 *
 * Every guest pointer and length is checked against the caller's memory
 * before use; a bad one gives the guest EFAULT, never a host access.
 */
#ifndef PERCH_HOST_WASI_H
#define PERCH_HOST_WASI_H

#include <stddef.h>

#include "perch.h"

typedef struct ph_wasi_config {
    size_t argc;
    const char *const *argv;  /* borrowed for the life of the ph_wasi */
    size_t envc;
    const char *const *env;   /* "NAME=VALUE" strings, borrowed likewise */
    int stdin_fd, stdout_fd, stderr_fd; /* host descriptors behind guest 0, 1, 2 */
} ph_wasi_config;

typedef struct ph_wasi_state ph_wasi_state;

/* *out is owned (ph_wasi_delete). */
perch_err_kind ph_wasi_new(const ph_wasi_config *config, ph_wasi_state **out, perch_err *err);
void ph_wasi_delete(ph_wasi_state *w);

/*
 * Imports for module: wasi_snapshot_preview1 functions from w (made in
 * store), anything else wasm_unlinkable. *imports is owned
 * (ph_imports_free) and has one entry per import of the module.
 */
perch_err_kind ph_wasi_imports(ph_wasi_state *w, perch_store *store, perch_module *module,
                               perch_extern **imports, perch_err *err);
void ph_imports_free(perch_extern *imports);

/* The status passed to proc_exit (valid after a call ended with
 * wasm_module_exited). */
int ph_wasi_exit_code(const ph_wasi_state *w);

#endif /* PERCH_HOST_WASI_H */
