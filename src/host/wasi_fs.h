/*
 * wasi_fs.h: the wasi_snapshot_preview1 descriptor and path functions
 * (fd_*, path_*) and poll_oneoff (clocks and descriptors), as perch host
 * functions over the capability layer of fs.h. Prefix ph_wasi_fs_.
 *
 * This is the ABI boundary (STYLE.md, habit 9, first layer): every guest
 * pointer and length is checked against the caller's linear memory
 * (perch_memory_span) before it is used, and a bad one gives the guest
 * EFAULT. Counts are bounded: at most PH_WASI_FS_IOVS iovecs per call and
 * PH_WASI_FS_SUBSCRIPTIONS subscriptions per poll_oneoff (more: EINVAL).
 * Rights and paths are then the layer's business.
 *
 * When the layer's refusal hook asks to end the run, the call that was
 * refused stops with wasm_capability_denied instead of returning the errno.
 */
#ifndef PERCH_HOST_WASI_FS_H
#define PERCH_HOST_WASI_FS_H

#include <stdbool.h>
#include <stddef.h>

#include "host/fs.h"
#include "perch.h"

#define PH_WASI_FS_IOVS 1024
#define PH_WASI_FS_SUBSCRIPTIONS 1024

/*
 * The host function implementing the wasi_snapshot_preview1 function name
 * (len bytes, not NUL-terminated), if it is one of this file's. *type gets
 * its WebAssembly type (arrays borrowed, static). The function expects the
 * ph_fs (borrowed; it must outlive the store) as its user data:
 *
 *     if (ph_wasi_fs_lookup(name, len, &fn, &type))
 *         perch_store_host_func(store, &type, fn, fs, &func, err);
 *
 * Names it knows: every fd_* function, every path_* function, poll_oneoff.
 */
bool ph_wasi_fs_lookup(const char *name, size_t len, perch_host_fn *fn, perch_functype *type);

#endif /* PERCH_HOST_WASI_FS_H */
