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

#include <stdbool.h>
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


/* ======================================================================== */
/* Engine                                                                    */
/* ======================================================================== */
/*
 * A module is decoded, validated and compiled once (perch_module_new) and
 * may be instantiated any number of times. A store holds everything that
 * exists at run time: instances, functions, memories, tables, globals and
 * the execution stack. Objects made in a store (perch_store_*) are owned by
 * the store and live until perch_store_delete; the pointers handed out are
 * borrowed from it. A store is used by one thread at a time, except for
 * perch_store_interrupt, which any thread may call.
 *
 * Traps are values: a call that traps returns PERCH_E_WASM_TRAP with the
 * reason in the message ("integer divide by zero", "out of bounds memory
 * access", ...). Limits end in PERCH_E_WASM_EXHAUSTED.
 */

typedef struct perch_module perch_module;
typedef struct perch_store perch_store;
typedef struct perch_instance perch_instance;
typedef struct perch_func perch_func;
typedef struct perch_memory perch_memory;
typedef struct perch_table perch_table;
typedef struct perch_global perch_global;
typedef struct perch_caller perch_caller;

typedef enum perch_valkind {
    PERCH_I32 = 0x7f,
    PERCH_I64 = 0x7e,
    PERCH_F32 = 0x7d,
    PERCH_F64 = 0x7c,
    PERCH_FUNCREF = 0x70,
    PERCH_EXTERNREF = 0x6f
} perch_valkind;

/*
 * A value. Floats travel as their IEEE-754 bit patterns so NaN payloads
 * survive exactly. A null reference is NULL.
 */
typedef struct perch_val {
    perch_valkind kind;
    union {
        int32_t i32;
        int64_t i64;
        uint32_t f32; /* bits */
        uint64_t f64; /* bits */
        perch_func *func;
        void *ref;    /* externref: an opaque host pointer */
    } of;
} perch_val;

/* A function type; the arrays are borrowed. */
typedef struct perch_functype {
    size_t nparams;
    const perch_valkind *params;
    size_t nresults;
    const perch_valkind *results;
} perch_functype;

typedef enum perch_externkind {
    PERCH_EXTERN_FUNC = 0,
    PERCH_EXTERN_TABLE = 1,
    PERCH_EXTERN_MEMORY = 2,
    PERCH_EXTERN_GLOBAL = 3
} perch_externkind;

/* Something an instance imports or exports. */
typedef struct perch_extern {
    perch_externkind kind;
    union {
        perch_func *func;
        perch_table *table;
        perch_memory *memory;
        perch_global *global;
    } of;
} perch_extern;

/* ---- modules ------------------------------------------------------------ */

/*
 * Decode, validate and compile a module. bytes are copied. On success *out
 * is owned (perch_module_delete). Errors: wasm_malformed, wasm_invalid
 * (with err->offset and, inside code, the function index in err->detail),
 * io (out of memory). A module using SIMD is refused as wasm_invalid.
 */
PERCH_API PERCH_NODISCARD perch_err_kind perch_module_new(const uint8_t *bytes, size_t len,
                                                          perch_module **out, perch_err *err);
/* Instances made from the module keep it alive; deleting it early is safe. */
PERCH_API void perch_module_delete(perch_module *module);

/* An import or export of a module. Names are borrowed from the module and
 * are not NUL-terminated. */
typedef struct perch_moddesc {
    const char *module; /* imports only */
    size_t module_len;
    const char *name;
    size_t name_len;
    perch_externkind kind;
} perch_moddesc;

PERCH_API size_t perch_module_import_count(const perch_module *module);
PERCH_API perch_moddesc perch_module_import(const perch_module *module, size_t i);
/* The type of function import i (false when import i is not a function).
 * The arrays are borrowed from the module. */
PERCH_API bool perch_module_import_functype(const perch_module *module, size_t i,
                                           perch_functype *out);
PERCH_API size_t perch_module_export_count(const perch_module *module);
PERCH_API perch_moddesc perch_module_export(const perch_module *module, size_t i);

/* ---- stores and limits -------------------------------------------------- */

/* No limit on fuel. */
#define PERCH_FUEL_UNLIMITED UINT64_MAX

/*
 * Limits an embedder sets on a store. memory_max_bytes caps every memory
 * of the store and wins over a module's own maximum (a memory that must
 * start larger fails instantiation with wasm_exhausted; memory.grow past it
 * returns -1). call_depth bounds nested calls (deeper: wasm_exhausted
 * "call stack exhausted"). fuel is spent at every call and loop iteration
 * (empty: wasm_exhausted "out of fuel"). deadline_ns, when not 0, is a
 * CLOCK_MONOTONIC time after which running code stops (wasm_exhausted
 * "deadline exceeded"). Set from inside a host function, every limit but
 * call_depth applies at once; call_depth waits until the outermost call
 * returns.
 */
typedef struct perch_limits {
    uint64_t memory_max_bytes;
    uint32_t call_depth;
    uint64_t fuel;
    uint64_t deadline_ns;
} perch_limits;

/* The defaults: 4 GiB of memory, 10000 nested calls, unlimited fuel, no deadline. */
PERCH_API perch_limits perch_limits_default(void);

/* *out is owned (perch_store_delete), which frees everything made in it. */
PERCH_API PERCH_NODISCARD perch_err_kind perch_store_new(perch_store **out, perch_err *err);
PERCH_API void perch_store_delete(perch_store *store);
PERCH_API void perch_store_set_limits(perch_store *store, const perch_limits *limits);
/* Fuel left after the last call (PERCH_FUEL_UNLIMITED when unlimited). */
PERCH_API uint64_t perch_store_fuel(const perch_store *store);
/*
 * Ask running code to stop soon with wasm_exhausted "interrupted". Safe to
 * call from any thread and from signal handlers. The request stays until
 * perch_store_clear_interrupt.
 */
PERCH_API void perch_store_interrupt(perch_store *store);
PERCH_API void perch_store_clear_interrupt(perch_store *store);

/* ---- instances ---------------------------------------------------------- */

/*
 * Instantiate module in store. imports[i] satisfies the module's i-th
 * import (perch_module_import). Runs active segments and the start
 * function. *out is borrowed from the store. Errors: wasm_unlinkable (an
 * import is missing or of the wrong type), wasm_trap (a segment out of
 * bounds or a trapping start function: the instance does not exist, but
 * what it wrote into imported memories and tables stays, as the
 * specification says), wasm_exhausted.
 */
PERCH_API PERCH_NODISCARD perch_err_kind perch_store_instantiate(
    perch_store *store, perch_module *module, const perch_extern *imports, size_t nimports,
    perch_instance **out, perch_err *err);

/* The export named name (NUL-terminated). Returns false when there is none. */
PERCH_API bool perch_instance_export(const perch_instance *inst, const char *name,
                                     perch_extern *out);
/* The same with a name of explicit length. */
PERCH_API bool perch_instance_export_n(const perch_instance *inst, const char *name,
                                       size_t len, perch_extern *out);
/* The instance's memory 0, or NULL. Borrowed. */
PERCH_API perch_memory *perch_instance_memory(const perch_instance *inst);

/* ---- functions ---------------------------------------------------------- */

/*
 * A host function. args has the type's parameters, results room for its
 * results (kinds already set). Return PERCH_OK, or a kind with err filled:
 * the call then stops with that error (PERCH_E_WASM_TRAP for a trap,
 * PERCH_E_WASM_MODULE_EXITED for an exit, ...). caller gives access to the
 * calling instance's memory.
 */
typedef perch_err_kind (*perch_host_fn)(void *ud, perch_caller *caller, const perch_val *args,
                                        perch_val *results, perch_err *err);

/* Make a host function; type is copied. *out is borrowed from the store. */
PERCH_API PERCH_NODISCARD perch_err_kind perch_store_host_func(perch_store *store,
                                                               const perch_functype *type,
                                                               perch_host_fn fn, void *ud,
                                                               perch_func **out, perch_err *err);

/* The function's type; the arrays are borrowed from the function. */
PERCH_API perch_functype perch_func_type(const perch_func *func);

/*
 * Call func. args must match its parameters (kinds are checked:
 * wasm_trap "argument type mismatch" otherwise); results receives its
 * results. Errors: wasm_trap, wasm_exhausted, and whatever a host function
 * returned.
 */
PERCH_API PERCH_NODISCARD perch_err_kind perch_func_call(perch_store *store, perch_func *func,
                                                         const perch_val *args, size_t nargs,
                                                         perch_val *results, size_t nresults,
                                                         perch_err *err);

/* The memory of the instance that called a host function, or NULL. */
PERCH_API perch_memory *perch_caller_memory(perch_caller *caller);
PERCH_API perch_store *perch_caller_store(perch_caller *caller);

/* ---- memories, tables, globals ------------------------------------------ */

/* Make a memory of min pages (64 KiB each), at most max (0xffffffff: none). */
PERCH_API PERCH_NODISCARD perch_err_kind perch_store_memory(perch_store *store, uint32_t min,
                                                            uint32_t max, perch_memory **out,
                                                            perch_err *err);
/* Size in bytes; *data (borrowed) is valid until the memory grows. */
PERCH_API uint64_t perch_memory_size(const perch_memory *mem);
PERCH_API uint8_t *perch_memory_data(perch_memory *mem);
/*
 * Bounds-checked access: the pointer to [offset, offset+len) or NULL when
 * any part of it lies outside the memory. Valid until the memory grows.
 */
PERCH_API uint8_t *perch_memory_span(perch_memory *mem, uint64_t offset, uint64_t len);

PERCH_API PERCH_NODISCARD perch_err_kind perch_store_table(perch_store *store, perch_valkind elem,
                                                           uint32_t min, uint32_t max,
                                                           perch_table **out, perch_err *err);
PERCH_API uint32_t perch_table_size(const perch_table *table);

PERCH_API PERCH_NODISCARD perch_err_kind perch_store_global(perch_store *store, perch_val init,
                                                            bool mutable_, perch_global **out,
                                                            perch_err *err);
PERCH_API perch_val perch_global_get(const perch_global *global);

#ifdef __cplusplus
}
#endif

#endif /* PERCH_H */
