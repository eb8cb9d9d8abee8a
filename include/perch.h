/*
 * perch.h: the public embedding API of perch.
 *
 * perch is a WebAssembly runtime whose unit of trust is what a module
 * declares it needs. This header is the only one an embedder includes.
 *
 * Conventions, stated once for the whole header:
 *
 *   Errors     Every fallible function returns a perch_err_kind. PERCH_OK (0)
 *              means success; anything else is the kind of failure, and the
 *              perch_err the caller passed in holds a message. Library code
 *              never prints, exits or aborts.
 *
 *   Ownership  A pointer handed out by a function named *_new, *_read, *_copy
 *              or documented "owned" belongs to the caller, who releases it
 *              with the matching *_delete or *_free. A pointer documented
 *              "borrowed" stays owned by the object it came from and lives
 *              as long as that object. Input buffers are borrowed for the
 *              duration of the call only, unless the function says otherwise.
 *
 *   Allocation Every allocation perch makes goes through one hook, which an
 *              embedder may replace (perch_set_allocator).
 *
 *   Threads    Objects are not shared between threads unless a function
 *              says it may be called from another thread.
 */
#ifndef PERCH_H
#define PERCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define PERCH_API __attribute__((visibility("default")))
#define PERCH_NODISCARD __attribute__((warn_unused_result))
#else
#define PERCH_API
#define PERCH_NODISCARD
#endif

/* The library's version, "MAJOR.MINOR.PATCH". Borrowed, static. */
PERCH_API const char *perch_version(void);

/*
 * Error kinds. The snake_case names (perch_err_kind_name) are stable: tools
 * and tests match on them, and the CLI prints them as "kind: message".
 */
typedef enum perch_err_kind {
    PERCH_OK = 0,
    PERCH_E_USAGE,
    PERCH_E_IO,
    PERCH_E_WASM_MALFORMED,
    PERCH_E_WASM_INVALID,
    PERCH_E_WASM_UNLINKABLE,
    PERCH_E_WASM_TRAP,
    PERCH_E_WASM_EXHAUSTED,
    PERCH_E_WASM_MODULE_EXITED,
    PERCH_E_WASM_CAPABILITY_DENIED,
    PERCH_E_WASM_HTTP_REFUSED,
    PERCH_E_MANIFEST_MISSING,
    PERCH_E_MANIFEST_MALFORMED,
    PERCH_E_MANIFEST_REJECTED,
    PERCH_E_MANIFEST_VIOLATION,
    PERCH_E_MANIFEST_UNSIGNED,
    PERCH_E_MANIFEST_SIGNATURE_INVALID,
    PERCH_E_MANIFEST_SIGNER_UNTRUSTED,
    PERCH_E_POLICY_INVALID,
    PERCH_E_REQUIRES_UNMET,
    PERCH_E_PERCH_SYNTAX,
    PERCH_E__COUNT
} perch_err_kind;
/* An allocation failure is reported as PERCH_E_IO with "out of memory". */

/* Marks perch_err.offset as not applicable. */
#define PERCH_NO_OFFSET UINT64_MAX

/*
 * A tagged error. Caller-allocated (usually on the stack); perch fills it in
 * when a call fails and leaves it untouched when the call succeeds.
 *
 *   kind     what failed (never PERCH_OK after a failure)
 *   offset   byte offset into the input the error refers to, or
 *            PERCH_NO_OFFSET
 *   message  what went wrong and, where it applies, what was expected
 *   detail   optional context (a file name, "at byte 0x1f"); may be empty
 */
typedef struct perch_err {
    perch_err_kind kind;
    uint64_t offset;
    char message[512];
    char detail[256];
} perch_err;

/* The stable snake_case name of a kind ("wasm_malformed"). Borrowed, static. */
PERCH_API const char *perch_err_kind_name(perch_err_kind kind);

/* Reset an error to "no error". */
PERCH_API void perch_err_clear(perch_err *err);

/*
 * The allocation hook. fn(ud, ptr, size) behaves like realloc(ptr, size)
 * when size > 0 and like free(ptr) (returning NULL) when size == 0. Passing
 * fn == NULL restores the default (the C library's allocator). Set it before
 * creating any perch object, never while objects exist.
 */
typedef void *(*perch_alloc_fn)(void *ud, void *ptr, size_t size);
PERCH_API void perch_set_allocator(perch_alloc_fn fn, void *ud);

#ifdef __cplusplus
}
#endif

#endif /* PERCH_H */
