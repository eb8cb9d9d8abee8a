/*
 * test_engine.c: the engine through perch.h: errors with kinds, offsets and
 * function indices; traps as values; every limit (call depth, fuel,
 * interruption from another thread, deadline, memory cap); host functions
 * and their bounds-checked view of guest memory; allocation failures. Each
 * running check is made under both interpreters.
 */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "check.h"
#include "perch.h"
#include "wasm/runtime.h"

/* ---- a small module builder ---------------------------------------------- */

typedef struct mb {
    uint8_t b[4096];
    size_t n;
} mb;

static void put(mb *m, const void *p, size_t n)
{
    memcpy(m->b + m->n, p, n);
    m->n += n;
}

static void byte(mb *m, uint8_t x) { m->b[m->n++] = x; }

static void section(mb *m, uint8_t id, const mb *payload)
{
    byte(m, id);
    byte(m, (uint8_t)payload->n); /* payloads here stay under 128 bytes */
    put(m, payload->b, payload->n);
}

/*
 * One function of type `type` (bytes of a functype after 0x60), exported as
 * "f", with the given body (locals vector included), plus an optional
 * memory of `pages` pages (max pages_max, 0xff: none) and an optional import
 * "env" "h" of type 0 (when import is true: the body's function is then 1).
 */
static size_t build(uint8_t *out, const uint8_t *type, size_t ntype, const uint8_t *body,
                    size_t nbody, int pages, int pages_max, bool import)
{
    static const uint8_t magic[8] = {0, 'a', 's', 'm', 1, 0, 0, 0};
    mb m = {{0}, 0}, s;
    put(&m, magic, 8);
    s.n = 0;
    byte(&s, 1);
    byte(&s, 0x60);
    put(&s, type, ntype);
    section(&m, 1, &s);
    if (import) {
        s.n = 0;
        byte(&s, 1);
        byte(&s, 3); put(&s, "env", 3);
        byte(&s, 1); put(&s, "h", 1);
        byte(&s, 0); byte(&s, 0);
        section(&m, 2, &s);
    }
    s.n = 0;
    byte(&s, 1);
    byte(&s, 0);
    section(&m, 3, &s);
    if (pages >= 0) {
        s.n = 0;
        byte(&s, 1);
        if (pages_max == 0xff) {
            byte(&s, 0);
            byte(&s, (uint8_t)pages);
        } else {
            byte(&s, 1);
            byte(&s, (uint8_t)pages);
            byte(&s, (uint8_t)pages_max);
        }
        section(&m, 5, &s);
    }
    s.n = 0;
    byte(&s, 1);
    byte(&s, 1); put(&s, "f", 1);
    byte(&s, 0); byte(&s, import ? 1 : 0);
    section(&m, 7, &s);
    s.n = 0;
    byte(&s, 1);
    put(&s, body, nbody); /* body[0] is its own size */
    section(&m, 10, &s);
    memcpy(out, m.b, m.n);
    return m.n;
}

/* (i32, i32) -> i32 */
static const uint8_t T_II_I[] = {2, 0x7f, 0x7f, 1, 0x7f};
/* () -> () */
static const uint8_t T_V[] = {0, 0};
/* (i32) -> i32 */
static const uint8_t T_I_I[] = {1, 0x7f, 1, 0x7f};

typedef struct env {
    perch_module *mod;
    perch_store *store;
    perch_instance *inst;
    perch_func *f;
} env;

static int dispatch; /* 1 switch, 2 goto: every running test runs under both */

static perch_err_kind setup(env *e, const uint8_t *bytes, size_t n, const perch_limits *lim,
                            const perch_extern *imports, size_t nimports, perch_err *err)
{
    perch_err_kind rc;
    perch_extern ex;
    memset(e, 0, sizeof *e);
    perch_err_clear(err);
    if ((rc = perch_module_new(bytes, n, &e->mod, err)))
        return rc;
    if ((rc = perch_store_new(&e->store, err)))
        return rc;
    pw_store_set_dispatch(e->store, dispatch);
    if (lim)
        perch_store_set_limits(e->store, lim);
    if ((rc = perch_store_instantiate(e->store, e->mod, imports, nimports, &e->inst, err)))
        return rc;
    if (perch_instance_export(e->inst, "f", &ex))
        e->f = ex.of.func;
    return PERCH_OK;
}

static void teardown(env *e)
{
    perch_store_delete(e->store);
    perch_module_delete(e->mod);
}

static perch_val i32v(int32_t v)
{
    perch_val x;
    memset(&x, 0, sizeof x);
    x.kind = PERCH_I32;
    x.of.i32 = v;
    return x;
}

/* ---- decoding and validation errors --------------------------------------- */

static void test_malformed(void)
{
    static const uint8_t bad_magic[] = {0, 'a', 's', 'n', 1, 0, 0, 0};
    /* function section declares one function, no code section */
    static const uint8_t no_code[] = {0, 'a', 's', 'm', 1, 0, 0, 0, 1, 4, 1, 0x60, 0, 0, 3, 2, 1, 0};
    /* body: 0xff is no opcode */
    static const uint8_t body_bad_op[] = {3, 0, 0xff, 0x0b};
    /* body ends without its final end */
    static const uint8_t body_no_end[] = {2, 0, 0x01};
    uint8_t buf[512];
    size_t n;
    perch_module *m = NULL;
    perch_err err;

    perch_err_clear(&err);
    CHECK_INT(perch_module_new(bad_magic, sizeof bad_magic, &m, &err), PERCH_E_WASM_MALFORMED);
    CHECK_INT(err.offset, 0);
    CHECK_MSG(err, "magic header not detected");
    CHECK(m == NULL);

    CHECK_INT(perch_module_new(no_code, sizeof no_code, &m, &err), PERCH_E_WASM_MALFORMED);
    CHECK_MSG(err, "function and code section have inconsistent lengths");

    n = build(buf, T_V, sizeof T_V, body_bad_op, sizeof body_bad_op, -1, 0, false);
    CHECK_INT(perch_module_new(buf, n, &m, &err), PERCH_E_WASM_MALFORMED);
    CHECK_MSG(err, "illegal opcode 0xff");
    CHECK(strstr(err.detail, "in function 0") != NULL);
    CHECK_INT(err.offset, n - 2);

    n = build(buf, T_V, sizeof T_V, body_no_end, sizeof body_no_end, -1, 0, false);
    CHECK_INT(perch_module_new(buf, n, &m, &err), PERCH_E_WASM_MALFORMED);
    CHECK_MSG(err, "END opcode expected");

    /* A module cut at any length is refused (or, cut between sections,
     * accepted as the shorter module), never read past its end. */
    {
        static const uint8_t body[] = {7, 0, 0x20, 0, 0x20, 1, 0x6a, 0x0b};
        size_t full = build(buf, T_II_I, sizeof T_II_I, body, sizeof body, -1, 0, false);
        int refused = 0;
        for (size_t k = 0; k < full; k++) {
            uint8_t *copy = malloc(k + 1);
            perch_err_kind rc;
            memcpy(copy, buf, k);
            rc = perch_module_new(copy, k, &m, &err);
            CHECK(rc == PERCH_E_WASM_MALFORMED || (rc == PERCH_OK && k >= 8));
            if (rc == PERCH_OK)
                perch_module_delete(m);
            else
                refused++;
            free(copy);
        }
        CHECK(refused >= (int)full - 3);
        CHECK_INT(perch_module_new(buf, full, &m, &err), PERCH_OK);
        perch_module_delete(m);
    }
}

static void test_invalid(void)
{
    /* i32.add with one operand */
    static const uint8_t underflow[] = {5, 0, 0x41, 1, 0x6a, 0x0b};
    /* result i32 but the body leaves an i64 */
    static const uint8_t wrong_result[] = {4, 0, 0x42, 0, 0x0b};
    /* a v128 constant */
    static const uint8_t simd_body[] = {21, 0, 0xfd, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                        0, 0, 0, 0, 0x1a, 0x0b};
    /* memory.size without a memory */
    static const uint8_t no_mem[] = {4, 0, 0x3f, 0, 0x0b};
    /* local 5 does not exist */
    static const uint8_t bad_local[] = {4, 0, 0x20, 5, 0x0b};
    uint8_t buf[512];
    size_t n;
    perch_module *m = NULL;
    perch_err err;

    perch_err_clear(&err);
    n = build(buf, T_I_I, sizeof T_I_I, underflow, sizeof underflow, -1, 0, false);
    CHECK_INT(perch_module_new(buf, n, &m, &err), PERCH_E_WASM_INVALID);
    CHECK_MSG(err, "type mismatch");
    CHECK(strstr(err.detail, "in function 0") != NULL);
    CHECK_INT(err.offset, n - 2);

    n = build(buf, T_I_I, sizeof T_I_I, wrong_result, sizeof wrong_result, -1, 0, false);
    CHECK_INT(perch_module_new(buf, n, &m, &err), PERCH_E_WASM_INVALID);
    CHECK_MSG(err, "type mismatch: expected i32, found i64");

    n = build(buf, T_V, sizeof T_V, simd_body, sizeof simd_body, -1, 0, false);
    CHECK_INT(perch_module_new(buf, n, &m, &err), PERCH_E_WASM_INVALID);
    CHECK_STR(err.message, "SIMD is not supported yet");

    n = build(buf, T_I_I, sizeof T_I_I, no_mem, sizeof no_mem, -1, 0, false);
    CHECK_INT(perch_module_new(buf, n, &m, &err), PERCH_E_WASM_INVALID);
    CHECK_MSG(err, "unknown memory");

    n = build(buf, T_I_I, sizeof T_I_I, bad_local, sizeof bad_local, -1, 0, false);
    CHECK_INT(perch_module_new(buf, n, &m, &err), PERCH_E_WASM_INVALID);
    CHECK_MSG(err, "unknown local");
}

/* ---- running -------------------------------------------------------------- */

static void test_add_and_traps(void)
{
    static const uint8_t add[] = {7, 0, 0x20, 0, 0x20, 1, 0x6a, 0x0b};
    static const uint8_t div[] = {7, 0, 0x20, 0, 0x20, 1, 0x6d, 0x0b};
    static const uint8_t unreachable[] = {3, 0, 0x00, 0x0b};
    uint8_t buf[512];
    size_t n;
    env e;
    perch_err err;
    perch_val args[2] = {i32v(40), i32v(2)}, res[1];

    n = build(buf, T_II_I, sizeof T_II_I, add, sizeof add, -1, 0, false);
    CHECK_INT(setup(&e, buf, n, NULL, NULL, 0, &err), PERCH_OK);
    CHECK_INT(perch_func_call(e.store, e.f, args, 2, res, 1, &err), PERCH_OK);
    CHECK_INT(res[0].kind, PERCH_I32);
    CHECK_INT(res[0].of.i32, 42);
    /* arguments are checked against the type */
    args[1].kind = PERCH_I64;
    CHECK_INT(perch_func_call(e.store, e.f, args, 2, res, 1, &err), PERCH_E_WASM_TRAP);
    CHECK_MSG(err, "argument type mismatch");
    CHECK_INT(perch_func_call(e.store, e.f, args, 1, res, 1, &err), PERCH_E_WASM_TRAP);
    teardown(&e);

    n = build(buf, T_II_I, sizeof T_II_I, div, sizeof div, -1, 0, false);
    CHECK_INT(setup(&e, buf, n, NULL, NULL, 0, &err), PERCH_OK);
    args[0] = i32v(7);
    args[1] = i32v(0);
    CHECK_INT(perch_func_call(e.store, e.f, args, 2, res, 1, &err), PERCH_E_WASM_TRAP);
    CHECK_STR(err.message, "integer divide by zero");
    args[0] = i32v(INT32_MIN);
    args[1] = i32v(-1);
    CHECK_INT(perch_func_call(e.store, e.f, args, 2, res, 1, &err), PERCH_E_WASM_TRAP);
    CHECK_STR(err.message, "integer overflow");
    /* the store is usable after a trap */
    args[0] = i32v(-7);
    args[1] = i32v(2);
    CHECK_INT(perch_func_call(e.store, e.f, args, 2, res, 1, &err), PERCH_OK);
    CHECK_INT(res[0].of.i32, -3);
    teardown(&e);

    n = build(buf, T_V, sizeof T_V, unreachable, sizeof unreachable, -1, 0, false);
    CHECK_INT(setup(&e, buf, n, NULL, NULL, 0, &err), PERCH_OK);
    CHECK_INT(perch_func_call(e.store, e.f, NULL, 0, NULL, 0, &err), PERCH_E_WASM_TRAP);
    CHECK_STR(err.message, "unreachable");
    teardown(&e);
}

static void test_memory_bounds_and_cap(void)
{
    /* (i32) -> i32 : i32.load offset=0 (local 0) */
    static const uint8_t load[] = {7, 0, 0x20, 0, 0x28, 2, 0, 0x0b};
    /* (i32) -> i32 : memory.grow (local 0) */
    static const uint8_t grow[] = {6, 0, 0x20, 0, 0x40, 0, 0x0b};
    uint8_t buf[512];
    size_t n;
    env e;
    perch_err err;
    perch_val arg, res;
    perch_limits lim = perch_limits_default();

    n = build(buf, T_I_I, sizeof T_I_I, load, sizeof load, 1, 0xff, false);
    CHECK_INT(setup(&e, buf, n, NULL, NULL, 0, &err), PERCH_OK);
    arg = i32v(65532);
    CHECK_INT(perch_func_call(e.store, e.f, &arg, 1, &res, 1, &err), PERCH_OK);
    arg = i32v(65533);
    CHECK_INT(perch_func_call(e.store, e.f, &arg, 1, &res, 1, &err), PERCH_E_WASM_TRAP);
    CHECK_STR(err.message, "out of bounds memory access");
    arg = i32v(-1);
    CHECK_INT(perch_func_call(e.store, e.f, &arg, 1, &res, 1, &err), PERCH_E_WASM_TRAP);
    teardown(&e);

    /* The cap wins over the module's own maximum (10 pages). */
    lim.memory_max_bytes = 3 * 65536;
    n = build(buf, T_I_I, sizeof T_I_I, grow, sizeof grow, 1, 10, false);
    CHECK_INT(setup(&e, buf, n, &lim, NULL, 0, &err), PERCH_OK);
    arg = i32v(2);
    CHECK_INT(perch_func_call(e.store, e.f, &arg, 1, &res, 1, &err), PERCH_OK);
    CHECK_INT(res.of.i32, 1);
    arg = i32v(1);
    CHECK_INT(perch_func_call(e.store, e.f, &arg, 1, &res, 1, &err), PERCH_OK);
    CHECK_INT(res.of.i32, -1);
    CHECK_INT(perch_memory_size(perch_instance_memory(e.inst)), 3 * 65536);
    teardown(&e);

    /* A module whose minimum is above the cap does not instantiate. */
    lim.memory_max_bytes = 65536;
    n = build(buf, T_I_I, sizeof T_I_I, grow, sizeof grow, 2, 0xff, false);
    CHECK_INT(setup(&e, buf, n, &lim, NULL, 0, &err), PERCH_E_WASM_EXHAUSTED);
    CHECK_MSG(err, "memory limit");
    teardown(&e);
}

static void test_call_depth(void)
{
    /* () -> () : call 0 (itself), forever */
    static const uint8_t rec[] = {4, 0, 0x10, 0, 0x0b};
    uint8_t buf[512];
    size_t n;
    env e;
    perch_err err;
    perch_limits lim = perch_limits_default();

    n = build(buf, T_V, sizeof T_V, rec, sizeof rec, -1, 0, false);
    CHECK_INT(setup(&e, buf, n, NULL, NULL, 0, &err), PERCH_OK);
    CHECK_INT(perch_func_call(e.store, e.f, NULL, 0, NULL, 0, &err), PERCH_E_WASM_EXHAUSTED);
    CHECK_STR(err.message, "call stack exhausted");
    teardown(&e);

    lim.call_depth = 5;
    CHECK_INT(setup(&e, buf, n, &lim, NULL, 0, &err), PERCH_OK);
    CHECK_INT(perch_func_call(e.store, e.f, NULL, 0, NULL, 0, &err), PERCH_E_WASM_EXHAUSTED);
    CHECK_STR(err.message, "call stack exhausted");
    /* the limit is exact: five frames */
    CHECK_INT(e.store->depth, 0);
    teardown(&e);
}

/* () -> () : loop br 0 end, forever */
static const uint8_t spin[] = {7, 0, 0x03, 0x40, 0x0c, 0, 0x0b, 0x0b};

static void test_fuel(void)
{
    uint8_t buf[512];
    size_t n;
    env e;
    perch_err err;
    perch_limits lim = perch_limits_default();

    lim.fuel = 100000;
    n = build(buf, T_V, sizeof T_V, spin, sizeof spin, -1, 0, false);
    CHECK_INT(setup(&e, buf, n, &lim, NULL, 0, &err), PERCH_OK);
    CHECK_INT(perch_func_call(e.store, e.f, NULL, 0, NULL, 0, &err), PERCH_E_WASM_EXHAUSTED);
    CHECK_STR(err.message, "out of fuel");
    CHECK_INT(perch_store_fuel(e.store), 0);
    teardown(&e);
}

typedef struct waiter {
    perch_store *store;
    long ms;
} waiter;

static void *interrupt_later(void *arg)
{
    waiter *w = arg;
    struct timespec ts = {0, w->ms * 1000000L};
    nanosleep(&ts, NULL);
    perch_store_interrupt(w->store);
    return NULL;
}

static void test_interrupt_and_deadline(void)
{
    uint8_t buf[512];
    size_t n;
    env e;
    perch_err err;
    pthread_t th;
    waiter w;
    perch_limits lim = perch_limits_default();
    struct timespec ts;

    n = build(buf, T_V, sizeof T_V, spin, sizeof spin, -1, 0, false);
    CHECK_INT(setup(&e, buf, n, NULL, NULL, 0, &err), PERCH_OK);
    w.store = e.store;
    w.ms = 30;
    CHECK_INT(pthread_create(&th, NULL, interrupt_later, &w), 0);
    CHECK_INT(perch_func_call(e.store, e.f, NULL, 0, NULL, 0, &err), PERCH_E_WASM_EXHAUSTED);
    CHECK_STR(err.message, "interrupted");
    pthread_join(th, NULL);
    /* the request stays until cleared */
    CHECK_INT(perch_func_call(e.store, e.f, NULL, 0, NULL, 0, &err), PERCH_E_WASM_EXHAUSTED);
    perch_store_clear_interrupt(e.store);
    teardown(&e);

    clock_gettime(CLOCK_MONOTONIC, &ts);
    lim.deadline_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec + 20000000u;
    CHECK_INT(setup(&e, buf, n, &lim, NULL, 0, &err), PERCH_OK);
    CHECK_INT(perch_func_call(e.store, e.f, NULL, 0, NULL, 0, &err), PERCH_E_WASM_EXHAUSTED);
    CHECK_STR(err.message, "deadline exceeded");
    teardown(&e);
}

/* Host function env.h (i32, i32) -> i32: sums the bytes of guest memory
 * [ptr, ptr+len), or traps when the range is outside it. */
static perch_err_kind sum_bytes(void *ud, perch_caller *caller, const perch_val *args,
                                perch_val *results, perch_err *err)
{
    perch_memory *mem = perch_caller_memory(caller);
    const uint8_t *p = perch_memory_span(mem, (uint32_t)args[0].of.i32, (uint32_t)args[1].of.i32);
    int32_t sum = 0;
    (*(int *)ud)++;
    if (!p) {
        perch_err_clear(err);
        snprintf(err->message, sizeof err->message, "guest range out of bounds");
        return err->kind = PERCH_E_WASM_TRAP;
    }
    for (int32_t i = 0; i < args[1].of.i32; i++)
        sum += p[i];
    results[0].of.i32 = sum;
    return PERCH_OK;
}

static void test_host_function(void)
{
    /* f (i32, i32) -> i32: store 7 at address 10 (i32.store8), then call h(p, len) */
    static const uint8_t body[] = {15, 0, 0x41, 10, 0x41, 7, 0x3a, 0, 0, 0x20, 0, 0x20, 1, 0x10, 0, 0x0b};
    static const perch_valkind ii[] = {PERCH_I32, PERCH_I32}, i[] = {PERCH_I32};
    perch_functype ft = {2, ii, 1, i};
    uint8_t buf[512];
    size_t n;
    env e;
    perch_err err;
    perch_store *hs;
    perch_func *h;
    perch_extern imp;
    perch_val args[2], res;
    int calls = 0;

    /* the host function must live in the store that runs the module */
    n = build(buf, T_II_I, sizeof T_II_I, body, sizeof body, 1, 0xff, true);
    memset(&e, 0, sizeof e);
    perch_err_clear(&err);
    CHECK_INT(perch_module_new(buf, n, &e.mod, &err), PERCH_OK);
    CHECK_INT(perch_store_new(&hs, &err), PERCH_OK);
    pw_store_set_dispatch(hs, dispatch);
    e.store = hs;
    CHECK_INT(perch_store_host_func(hs, &ft, sum_bytes, &calls, &h, &err), PERCH_OK);
    imp.kind = PERCH_EXTERN_FUNC;
    imp.of.func = h;
    CHECK_INT(perch_store_instantiate(hs, e.mod, &imp, 1, &e.inst, &err), PERCH_OK);
    {
        perch_extern ex;
        CHECK(perch_instance_export(e.inst, "f", &ex));
        e.f = ex.of.func;
    }
    args[0] = i32v(9);
    args[1] = i32v(3);
    CHECK_INT(perch_func_call(hs, e.f, args, 2, &res, 1, &err), PERCH_OK);
    CHECK_INT(res.of.i32, 7);
    CHECK_INT(calls, 1);
    /* a range ending one byte past the memory is refused */
    args[0] = i32v(65535);
    args[1] = i32v(2);
    CHECK_INT(perch_func_call(hs, e.f, args, 2, &res, 1, &err), PERCH_E_WASM_TRAP);
    CHECK_STR(err.message, "guest range out of bounds");
    args[0] = i32v(65535);
    args[1] = i32v(1);
    CHECK_INT(perch_func_call(hs, e.f, args, 2, &res, 1, &err), PERCH_OK);
    /* a missing import and a wrong signature are unlinkable */
    {
        perch_instance *in2;
        perch_func *bad;
        perch_functype ft2 = {1, i, 1, i};
        CHECK_INT(perch_store_instantiate(hs, e.mod, NULL, 0, &in2, &err), PERCH_E_WASM_UNLINKABLE);
        CHECK_INT(perch_store_host_func(hs, &ft2, sum_bytes, &calls, &bad, &err), PERCH_OK);
        imp.of.func = bad;
        CHECK_INT(perch_store_instantiate(hs, e.mod, &imp, 1, &in2, &err), PERCH_E_WASM_UNLINKABLE);
        CHECK_MSG(err, "incompatible import type");
    }
    teardown(&e);
}

/* Every allocation the engine makes may fail: each failure is reported as
 * an error and frees what was taken (the sanitizer build checks leaks). */
static void test_alloc_failures(void)
{
    static const uint8_t body[] = {7, 0, 0x20, 0, 0x20, 1, 0x6a, 0x0b};
    uint8_t buf[512];
    size_t n = build(buf, T_II_I, sizeof T_II_I, body, sizeof body, 1, 0xff, false);
    int failures = 0, successes = 0;
    for (uint64_t k = 1; k < 200; k++) {
        env e;
        perch_err err;
        perch_err_kind rc;
        perch_val args[2] = {i32v(1), i32v(2)}, res;
        pb_alloc_fail_after(k);
        rc = setup(&e, buf, n, NULL, NULL, 0, &err);
        if (rc == PERCH_OK)
            rc = perch_func_call(e.store, e.f, args, 2, &res, 1, &err);
        pb_alloc_fail_after(0);
        if (rc == PERCH_OK) {
            successes++;
            CHECK_INT(res.of.i32, 3);
        } else {
            failures++;
            /* out of memory, or the linear memory could not be allocated */
            CHECK(rc == PERCH_E_IO || rc == PERCH_E_WASM_EXHAUSTED);
        }
        teardown(&e);
    }
    CHECK(failures > 10);
    CHECK(successes > 0);
}

int main(void)
{
    RUN(test_malformed);
    RUN(test_invalid);
    RUN(test_alloc_failures);
    for (dispatch = 1; dispatch <= 2; dispatch++) {
        fprintf(stderr, "dispatch %s:\n", dispatch == 1 ? "switch" : "goto");
        RUN(test_add_and_traps);
        RUN(test_memory_bounds_and_cap);
        RUN(test_call_depth);
        RUN(test_fuel);
        RUN(test_interrupt_and_deadline);
        RUN(test_host_function);
    }
    return CHECK_DONE();
}
