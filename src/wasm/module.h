/*
 * module.h: a decoded, validated and compiled WebAssembly module.
 *
 * pw_module_decode turns bytes into this model (structure only: every
 * malformed encoding is caught there), pw_module_validate type-checks it and
 * translates each function body into the internal code of ops.h as it goes
 * (validate.c). Everything here is owned by the pw_module; names point into
 * the module bytes, which the module keeps a private copy of.
 */
#ifndef PERCH_WASM_MODULE_H
#define PERCH_WASM_MODULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "wasm/reader.h"

/* Value types, by their binary encoding. PW_T_ANY is the validator's
 * "unknown" type on a polymorphic stack and never appears in a module. */
enum {
    PW_T_ANY = 0x00,
    PW_T_I32 = 0x7f,
    PW_T_I64 = 0x7e,
    PW_T_F32 = 0x7d,
    PW_T_F64 = 0x7c,
    PW_T_V128 = 0x7b,
    PW_T_FUNCREF = 0x70,
    PW_T_EXTERNREF = 0x6f,
};
typedef uint8_t pw_valtype;

static inline bool pw_is_ref(pw_valtype t) { return t == PW_T_FUNCREF || t == PW_T_EXTERNREF; }
const char *pw_valtype_name(pw_valtype t);

/* A function type: params then results in one array (owned by the module). */
typedef struct pw_functype {
    uint32_t nparams;
    uint32_t nresults;
    const pw_valtype *types;
} pw_functype;

static inline const pw_valtype *pw_results(const pw_functype *t) { return t->types + t->nparams; }
bool pw_functype_eq(const pw_functype *a, const pw_functype *b);

/* One cell of internal code: an opcode (enum pw_op) or an immediate. */
typedef union pw_cell {
    uint64_t u64;
    int64_t i64;
    const void *ptr;
} pw_cell;

/* A function body, compiled. */
typedef struct pw_code {
    size_t body_start;    /* offset of the first instruction in the module bytes */
    size_t body_end;      /* one past the final `end` */
    size_t locals_start;  /* offset of the locals vector */
    uint32_t nlocals;     /* declared locals, params excluded */
    pw_valtype *local_types; /* params then declared locals (owned) */
    pw_cell *cells;       /* owned; NULL until validated */
    size_t ncells;
    uint32_t frame_slots; /* params + locals + the deepest operand stack */
} pw_code;

/* A constant expression, kept as bytes; checked by the validator and
 * evaluated at instantiation. */
typedef struct pw_constexpr {
    size_t start;  /* first instruction */
    size_t end;    /* one past `end` */
} pw_constexpr;

typedef struct pw_table_type {
    pw_valtype elem;
    pw_limits limits;
} pw_table_type;

typedef struct pw_global_type {
    pw_valtype type;
    bool mutable_;
} pw_global_type;

typedef struct pw_global_def {
    pw_global_type type;
    pw_constexpr init;
} pw_global_def;

enum pw_seg_mode { PW_SEG_ACTIVE, PW_SEG_PASSIVE, PW_SEG_DECLARATIVE };

typedef struct pw_elem {
    uint8_t mode;        /* enum pw_seg_mode */
    pw_valtype type;     /* funcref or externref */
    uint32_t table;      /* active only */
    pw_constexpr offset; /* active only */
    uint32_t count;
    /* Either function indices (func_idx != NULL) or expressions. */
    uint32_t *func_idx;  /* owned */
    pw_constexpr *exprs; /* owned */
    size_t at;           /* offset of the segment, for errors */
} pw_elem;

typedef struct pw_data {
    uint8_t mode;        /* PW_SEG_ACTIVE or PW_SEG_PASSIVE */
    uint32_t memory;
    pw_constexpr offset;
    const uint8_t *bytes; /* into the module's copy */
    uint32_t len;
    size_t at;
} pw_data;

typedef struct pw_module {
    uint8_t *bytes;       /* owned copy of the binary */
    size_t len;

    pw_functype *types;
    uint32_t ntypes;
    pw_valtype *type_pool; /* owned storage behind every types[i].types */

    pw_import *imports;   /* owned (pw_imports_read); strings into bytes */
    uint32_t nimports;
    uint32_t nfunc_imports, ntable_imports, nmem_imports, nglobal_imports;

    /* Index spaces: imports first, then definitions. */
    uint32_t *func_types; /* type index per function (owned) */
    uint32_t nfuncs;
    pw_table_type *tables;
    uint32_t ntables;
    pw_limits *mems;
    uint32_t nmems;
    pw_global_type *global_types; /* per global, imports included */
    pw_constexpr *global_inits;   /* per global; meaningful for definitions */
    uint32_t nglobals;

    pw_export *exports;   /* owned (pw_exports_read) */
    uint32_t nexports;

    bool has_start;
    uint32_t start;

    pw_elem *elems;
    uint32_t nelems;
    pw_data *datas;
    uint32_t ndatas;
    bool has_datacount;
    uint32_t datacount;

    pw_code *codes;       /* one per defined function */
    uint32_t ncodes;

    bool *func_declared;  /* per function: may ref.func name it (C.refs) */
    bool validated;
} pw_module;

/*
 * Decode bytes (copied; the caller's buffer is not kept). On success *out
 * is an owned module (pw_module_free). Errors: wasm_malformed with the
 * offset, wasm_invalid for what the decoder already knows cannot validate
 * (a non-constant instruction in a constant expression, SIMD), io for out
 * of memory.
 */
perch_err_kind pw_module_decode(const uint8_t *bytes, size_t len, pw_module **out,
                                perch_err *err);
void pw_module_free(pw_module *m);

/* Validate every part and compile every function body. Errors:
 * wasm_invalid (with the offset and, in code, the function index),
 * wasm_malformed for bad instruction encodings inside bodies. */
perch_err_kind pw_module_validate(pw_module *m, perch_err *err);

/* The type of function index i (imports included). */
static inline const pw_functype *pw_func_type(const pw_module *m, uint32_t i)
{
    return &m->types[m->func_types[i]];
}

#endif /* PERCH_WASM_MODULE_H */
