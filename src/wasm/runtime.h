/*
 * runtime.h: the run-time objects behind perch.h's engine API, shared by
 * store.c (objects, calls), instance.c (instantiation) and the interpreter.
 */
#ifndef PERCH_WASM_RUNTIME_H
#define PERCH_WASM_RUNTIME_H

#include <stdatomic.h>

#include "wasm/module.h"

#define PW_PAGE 65536u

/* Every object of a store is on one list, freed with the store. */
typedef struct pw_obj {
    struct pw_obj *next;
    void (*free)(struct pw_obj *);
} pw_obj;

struct perch_module {
    pw_module *m;
    unsigned refs; /* the handle plus every instance made from it */
    perch_valkind *kind_pool; /* type_pool as perch_valkind, for perch_func_type */
};

struct perch_func {
    pw_obj obj;
    const pw_functype *type; /* the module's, or own_type for host functions */
    perch_instance *inst;    /* wasm functions */
    const pw_code *code;     /* wasm functions */
    perch_host_fn host;      /* host functions */
    void *ud;
    pw_functype own_type;
    perch_valkind *kinds;    /* params then results (host: owned; wasm: the module's) */
    pw_valtype *own_types;   /* host functions: behind own_type (owned) */
};

struct perch_memory {
    pw_obj obj;
    uint8_t *data;     /* owned */
    uint64_t size;     /* bytes */
    uint64_t max_pages;/* the smaller of the declared maximum and the store's cap */
    pw_limits type;    /* for import matching: current min, declared max */
};

struct perch_table {
    pw_obj obj;
    uint64_t *elems;   /* owned; each a reference (perch_func * or host pointer) */
    uint32_t size;
    uint32_t max;      /* UINT32_MAX when unbounded */
    bool has_max;
    pw_valtype elem;
};

struct perch_global {
    pw_obj obj;
    uint64_t val;
    pw_valtype type;
    bool mutable_;
};

struct perch_instance {
    pw_obj obj;
    perch_store *store;
    perch_module *module;
    perch_func **funcs;
    perch_table **tables;
    perch_memory **mems;
    perch_global **globals;
    uint64_t **elem_refs;  /* per element segment (owned arrays) */
    uint32_t *elem_len;    /* 0 once dropped */
    uint32_t *data_len;    /* 0 once dropped */
    perch_memory *mem0;
};

typedef struct pw_frame {
    const pw_cell *pc;  /* where the caller resumes */
    uint64_t *fp;
    perch_func *func;
} pw_frame;

struct perch_store {
    pw_obj *objs;
    perch_limits limits;
    atomic_int interrupt;
    uint64_t fuel;          /* remaining; PERCH_FUEL_UNLIMITED: unlimited */
    uint64_t *stack;        /* value stack (owned), allocated on first call */
    size_t stack_slots;
    uint64_t *sp;           /* first free slot (for calls from host functions) */
    pw_frame *frames;       /* owned; limits.call_depth of them */
    uint32_t depth;
    int dispatch;           /* 0: the configured default, 1: switch, 2: goto */
};

struct perch_caller {
    perch_store *store;
    perch_instance *inst;
};

/* Register obj with the store so it is freed with it. */
void pw_store_adopt(perch_store *s, pw_obj *obj);

/* Run func on the store's stack: args in sp[0..nparams), results written
 * to sp[0..nresults). Errors: wasm_trap, wasm_exhausted, host errors. */
perch_err_kind pw_invoke(perch_store *s, perch_func *func, uint64_t *sp, perch_err *err);

/* The interpreter, once per dispatch style (interp.c). */
perch_err_kind pw_run_switch(perch_store *s, perch_func *func, uint64_t *sp, perch_err *err);
perch_err_kind pw_run_goto(perch_store *s, perch_func *func, uint64_t *sp, perch_err *err);
/* True when pw_run_goto is threaded code (computed goto was available). */
extern const bool pw_have_goto;

/* Call a host function with slot values (shared by the interpreters). */
perch_err_kind pw_call_host(perch_store *s, perch_instance *caller, perch_func *f, uint64_t *sp,
                            perch_err *err);

/* Grow a memory by delta pages; returns the old size in pages or -1. */
int64_t pw_memory_grow(perch_memory *mem, uint64_t delta);
/* Grow a table by delta entries set to init; old size or -1. */
int64_t pw_table_grow(perch_table *t, uint64_t delta, uint64_t init);

/* Objects made for instances or by the embedder; each is adopted by the
 * store. NULL with err filled on failure (wasm_exhausted past a limit). */
perch_memory *pw_memory_make(perch_store *s, const pw_limits *type, perch_err *err);
perch_table *pw_table_make(perch_store *s, pw_valtype elem, const pw_limits *l, perch_err *err);
perch_global *pw_global_make(perch_store *s, pw_valtype type, bool mut, uint64_t val,
                             perch_err *err);

uint64_t pw_val_to_slot(const perch_val *v);
perch_val pw_slot_to_val(pw_valtype t, uint64_t slot);

/* Select the interpreter for later calls: 0 default, 1 switch, 2 goto. */
void pw_store_set_dispatch(perch_store *s, int dispatch);

#endif /* PERCH_WASM_RUNTIME_H */
