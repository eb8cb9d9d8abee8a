/*
 * fuzz_engine.c: the whole engine on arbitrary bytes.
 *
 * Decodes and validates the input; a module that passes is instantiated
 * with every import satisfied by a host object of the right type, and each
 * exported function is called with zero arguments under a small fuel
 * budget and a small memory cap, under both interpreters. What is checked:
 * no crash, no out-of-bounds access (the sanitizers), every failure a
 * tagged error of a kind the API documents, and both interpreters agree on
 * every outcome.
 */
#include <stdlib.h>
#include <string.h>

#include "perch.h"
#include "wasm/runtime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define EXPECT(cond)                                                           \
    do {                                                                       \
        if (!(cond))                                                           \
            abort();                                                           \
    } while (0)

static perch_err_kind host_nop(void *ud, perch_caller *caller, const perch_val *args,
                               perch_val *results, perch_err *err)
{
    (void)ud;
    (void)caller;
    (void)args;
    (void)results;
    (void)err;
    return PERCH_OK;
}

/* Instantiate and call every export; record each call's outcome. */
static void run(perch_module *m, int dispatch, perch_err_kind *out, size_t nout)
{
    perch_store *s;
    perch_err err;
    perch_limits lim = perch_limits_default();
    size_t nimp = perch_module_import_count(m);
    perch_extern *imps = calloc(nimp + 1, sizeof *imps);
    perch_instance *inst;
    perch_err_kind rc;

    EXPECT(imps);
    EXPECT(perch_store_new(&s, &err) == PERCH_OK);
    pw_store_set_dispatch(s, dispatch);
    lim.memory_max_bytes = 4 * 65536;
    lim.call_depth = 200;
    lim.fuel = 20000;
    perch_store_set_limits(s, &lim);
    for (size_t i = 0; i < nimp; i++) {
        perch_moddesc d = perch_module_import(m, i);
        imps[i].kind = d.kind;
        if (d.kind == PERCH_EXTERN_FUNC) {
            perch_functype ft;
            EXPECT(perch_module_import_functype(m, i, &ft));
            if (perch_store_host_func(s, &ft, host_nop, NULL, &imps[i].of.func, &err))
                imps[i].of.func = NULL;
        } else if (d.kind == PERCH_EXTERN_MEMORY) {
            if (perch_store_memory(s, 1, 4, &imps[i].of.memory, &err))
                imps[i].of.memory = NULL;
        } else if (d.kind == PERCH_EXTERN_TABLE) {
            if (perch_store_table(s, PERCH_FUNCREF, 10, 20, &imps[i].of.table, &err))
                imps[i].of.table = NULL;
        } else {
            perch_val v;
            memset(&v, 0, sizeof v);
            v.kind = PERCH_I32;
            if (perch_store_global(s, v, false, &imps[i].of.global, &err))
                imps[i].of.global = NULL;
        }
    }
    rc = perch_store_instantiate(s, m, imps, nimp, &inst, &err);
    EXPECT(rc == PERCH_OK || rc == PERCH_E_WASM_UNLINKABLE || rc == PERCH_E_WASM_TRAP ||
           rc == PERCH_E_WASM_EXHAUSTED || rc == PERCH_E_IO);
    out[0] = rc;
    if (rc == PERCH_OK) {
        size_t nexp = perch_module_export_count(m);
        for (size_t i = 0; i < nexp && i + 1 < nout; i++) {
            perch_moddesc d = perch_module_export(m, i);
            perch_extern ex;
            perch_functype ft;
            perch_val args[16], res[16];
            if (d.kind != PERCH_EXTERN_FUNC)
                continue;
            EXPECT(perch_instance_export_n(inst, d.name, d.name_len, &ex));
            ft = perch_func_type(ex.of.func);
            if (ft.nparams > 16 || ft.nresults > 16)
                continue;
            for (size_t k = 0; k < ft.nparams; k++) {
                memset(&args[k], 0, sizeof args[k]);
                args[k].kind = ft.params[k];
            }
            rc = perch_func_call(s, ex.of.func, args, ft.nparams, res, ft.nresults, &err);
            EXPECT(rc == PERCH_OK || rc == PERCH_E_WASM_TRAP || rc == PERCH_E_WASM_EXHAUSTED);
            out[i + 1] = rc;
        }
    }
    perch_store_delete(s);
    free(imps);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    perch_module *m = NULL;
    perch_err err;
    perch_err_kind rc = perch_module_new(data, size, &m, &err);
    perch_err_kind a[64], b[64];

    if (rc != PERCH_OK) {
        EXPECT(rc == PERCH_E_WASM_MALFORMED || rc == PERCH_E_WASM_INVALID || rc == PERCH_E_IO);
        EXPECT(err.kind == rc);
        EXPECT(err.offset == PERCH_NO_OFFSET || err.offset <= size);
        return 0;
    }
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    run(m, 1, a, 64);
    run(m, 2, b, 64);
    /* Fuel is counted the same way by both interpreters. */
    EXPECT(memcmp(a, b, sizeof a) == 0);
    perch_module_delete(m);
    return 0;
}
