/*
 * instance.c: instantiation (import matching, allocation, constant
 * expressions, segment initialisation, the start function) and exports.
 */
#include <string.h>

#include "wasm/cursor.h"
#include "wasm/runtime.h"

static void instance_free(pw_obj *o)
{
    perch_instance *in = (perch_instance *)o;
    const pw_module *m = in->module->m;
    if (in->elem_refs)
        for (uint32_t i = 0; i < m->nelems; i++)
            pb_free(in->elem_refs[i]);
    pb_free(in->elem_refs);
    pb_free(in->elem_len);
    pb_free(in->data_len);
    pb_free(in->funcs);
    pb_free(in->tables);
    pb_free(in->mems);
    pb_free(in->globals);
    if (--in->module->refs == 0) {
        pw_module_free(in->module->m);
        pb_free(in->module->kind_pool);
        pb_free(in->module);
    }
    pb_free(in);
}

static void wasm_func_free(pw_obj *o) { pb_free(o); }

/* Evaluate a validated constant expression: exactly one value-producing
 * instruction then end. */
static uint64_t eval_const(const perch_instance *in, const pw_constexpr *e)
{
    const pw_module *m = in->module->m;
    pw_cursor c = pw_cursor_make(m->bytes, e->start, e->end, NULL);
    uint8_t op = 0;
    (void)pw_u8(&c, &op, "");
    switch (op) {
    case 0x41: {
        int32_t v = 0;
        (void)pw_s32(&c, &v, "");
        return (uint32_t)v;
    }
    case 0x42: {
        int64_t v = 0;
        (void)pw_s64(&c, &v, "");
        return (uint64_t)v;
    }
    case 0x43:
    case 0x44: {
        uint64_t bits = 0;
        size_t n = op == 0x43 ? 4 : 8;
        for (size_t i = 0; i < n; i++)
            bits |= (uint64_t)m->bytes[c.pos + i] << (8 * i);
        return bits;
    }
    case 0xd2: {
        uint32_t x = 0;
        (void)pw_u32(&c, &x, "");
        return (uint64_t)(uintptr_t)in->funcs[x];
    }
    case 0x23: {
        uint32_t x = 0;
        (void)pw_u32(&c, &x, "");
        return in->globals[x]->val;
    }
    default: /* ref.null */
        return 0;
    }
}

static perch_err_kind unlinkable(perch_err *err, const pw_import *im, const char *why)
{
    return pb_fail(err, PERCH_E_WASM_UNLINKABLE, "%s: import \"%.*s\" \"%.*s\"", why,
                   (int)im->module_len, (const char *)im->module, (int)im->name_len,
                   (const char *)im->name);
}

/* limits {min, max?} of an import: what is provided must be at least as
 * large and at most as unbounded as what the module declares. */
static bool limits_match(uint64_t have_min, bool have_has_max, uint64_t have_max,
                         const pw_limits *want)
{
    if (have_min < want->min)
        return false;
    if (want->has_max && (!have_has_max || have_max > want->max))
        return false;
    return true;
}

static perch_err_kind link_imports(perch_instance *in, const perch_extern *imports,
                                   size_t nimports, perch_err *err)
{
    const pw_module *m = in->module->m;
    uint32_t nf = 0, nt = 0, nm = 0, ng = 0;
    if (nimports != m->nimports)
        return pb_fail(err, PERCH_E_WASM_UNLINKABLE,
                       "unknown import: the module has %u imports, %zu were provided",
                       m->nimports, nimports);
    for (uint32_t i = 0; i < m->nimports; i++) {
        const pw_import *im = &m->imports[i];
        const perch_extern *ex = &imports[i];
        if ((unsigned)ex->kind != im->kind)
            return unlinkable(err, im, "incompatible import type (wrong kind)");
        switch (im->kind) {
        case PW_EXTERN_FUNC:
            if (!ex->of.func)
                return unlinkable(err, im, "unknown import");
            if (!pw_functype_eq(ex->of.func->type, &m->types[im->type_index]))
                return unlinkable(err, im, "incompatible import type (function signature)");
            in->funcs[nf++] = ex->of.func;
            break;
        case PW_EXTERN_TABLE: {
            const perch_table *t = ex->of.table;
            if (!t)
                return unlinkable(err, im, "unknown import");
            if (t->elem != im->valtype ||
                !limits_match(t->size, t->has_max, t->max, &im->limits))
                return unlinkable(err, im, "incompatible import type (table)");
            in->tables[nt++] = ex->of.table;
            break;
        }
        case PW_EXTERN_MEMORY: {
            const perch_memory *mem = ex->of.memory;
            if (!mem)
                return unlinkable(err, im, "unknown import");
            if (!limits_match(mem->size / PW_PAGE, mem->type.has_max, mem->type.max, &im->limits))
                return unlinkable(err, im, "incompatible import type (memory)");
            in->mems[nm++] = ex->of.memory;
            break;
        }
        default: {
            const perch_global *g = ex->of.global;
            if (!g)
                return unlinkable(err, im, "unknown import");
            if (g->type != im->valtype || g->mutable_ != im->mutable_)
                return unlinkable(err, im, "incompatible import type (global)");
            in->globals[ng++] = ex->of.global;
            break;
        }
        }
    }
    return PERCH_OK;
}

perch_err_kind perch_store_instantiate(perch_store *s, perch_module *module,
                                       const perch_extern *imports, size_t nimports,
                                       perch_instance **out, perch_err *err)
{
    const pw_module *m = module->m;
    perch_instance *in;
    perch_err_kind rc;

    *out = NULL;
    if (!(in = pb_calloc(1, sizeof *in)))
        return pb_fail(err, PERCH_E_IO, "out of memory");
    in->store = s;
    in->module = module;
    module->refs++;
    in->obj.free = instance_free;
    pw_store_adopt(s, &in->obj);
    if (!(in->funcs = pb_calloc((size_t)m->nfuncs + 1, sizeof *in->funcs)) ||
        !(in->tables = pb_calloc((size_t)m->ntables + 1, sizeof *in->tables)) ||
        !(in->mems = pb_calloc((size_t)m->nmems + 1, sizeof *in->mems)) ||
        !(in->globals = pb_calloc((size_t)m->nglobals + 1, sizeof *in->globals)) ||
        !(in->elem_refs = pb_calloc((size_t)m->nelems + 1, sizeof *in->elem_refs)) ||
        !(in->elem_len = pb_calloc((size_t)m->nelems + 1, sizeof *in->elem_len)) ||
        !(in->data_len = pb_calloc((size_t)m->ndatas + 1, sizeof *in->data_len)))
        return pb_fail(err, PERCH_E_IO, "out of memory");
    if ((rc = link_imports(in, imports, nimports, err)))
        return rc;

    for (uint32_t i = m->nfunc_imports; i < m->nfuncs; i++) {
        perch_func *f = pb_calloc(1, sizeof *f);
        if (!f)
            return pb_fail(err, PERCH_E_IO, "out of memory");
        f->type = pw_func_type(m, i);
        f->inst = in;
        f->code = &m->codes[i - m->nfunc_imports];
        f->kinds = module->kind_pool + (f->type->types - m->type_pool);
        f->obj.free = wasm_func_free;
        pw_store_adopt(s, &f->obj);
        in->funcs[i] = f;
    }
    for (uint32_t i = m->ntable_imports; i < m->ntables; i++)
        if (!(in->tables[i] = pw_table_make(s, m->tables[i].elem, &m->tables[i].limits, err)))
            return err->kind;
    for (uint32_t i = m->nmem_imports; i < m->nmems; i++)
        if (!(in->mems[i] = pw_memory_make(s, &m->mems[i], err)))
            return err->kind;
    in->mem0 = m->nmems ? in->mems[0] : NULL;
    for (uint32_t i = m->nglobal_imports; i < m->nglobals; i++) {
        uint64_t v = eval_const(in, &m->global_inits[i]);
        if (!(in->globals[i] = pw_global_make(s, m->global_types[i].type,
                                              m->global_types[i].mutable_, v, err)))
            return err->kind;
    }
    for (uint32_t i = 0; i < m->nelems; i++) {
        const pw_elem *e = &m->elems[i];
        uint64_t *refs = pb_calloc((size_t)e->count + 1, sizeof *refs);
        if (!refs)
            return pb_fail(err, PERCH_E_IO, "out of memory");
        for (uint32_t k = 0; k < e->count; k++)
            refs[k] = e->func_idx ? (uint64_t)(uintptr_t)in->funcs[e->func_idx[k]]
                                  : eval_const(in, &e->exprs[k]);
        in->elem_refs[i] = refs;
        in->elem_len[i] = e->mode == PW_SEG_DECLARATIVE ? 0 : e->count;
    }
    for (uint32_t i = 0; i < m->ndatas; i++)
        in->data_len[i] = m->datas[i].len;

    /* Active segments in order; a failing one traps, and what the earlier
     * ones wrote stays. */
    for (uint32_t i = 0; i < m->nelems; i++) {
        const pw_elem *e = &m->elems[i];
        perch_table *t;
        uint64_t off;
        if (e->mode != PW_SEG_ACTIVE)
            continue;
        t = in->tables[e->table];
        off = (uint32_t)eval_const(in, &e->offset);
        if (off + e->count > t->size)
            return pb_fail(err, PERCH_E_WASM_TRAP, "out of bounds table access");
        if (e->count)
            memcpy(t->elems + off, in->elem_refs[i], (size_t)e->count * sizeof *t->elems);
        in->elem_len[i] = 0;
    }
    for (uint32_t i = 0; i < m->ndatas; i++) {
        const pw_data *d = &m->datas[i];
        perch_memory *mem;
        uint64_t off;
        if (d->mode != PW_SEG_ACTIVE)
            continue;
        mem = in->mems[d->memory];
        off = (uint32_t)eval_const(in, &d->offset);
        if (off + d->len > mem->size)
            return pb_fail(err, PERCH_E_WASM_TRAP, "out of bounds memory access");
        if (d->len)
            memcpy(mem->data + off, d->bytes, d->len);
        in->data_len[i] = 0;
    }
    if (m->has_start) {
        perch_func *f = in->funcs[m->start];
        if ((rc = perch_func_call(s, f, NULL, 0, NULL, 0, err)))
            return rc;
    }
    *out = in;
    return PERCH_OK;
}

bool perch_instance_export_n(const perch_instance *in, const char *name, size_t len,
                             perch_extern *out)
{
    const pw_module *m = in->module->m;
    for (uint32_t i = 0; i < m->nexports; i++) {
        const pw_export *ex = &m->exports[i];
        if (ex->name_len != len || memcmp(ex->name, name, len) != 0)
            continue;
        out->kind = (perch_externkind)ex->kind;
        switch (ex->kind) {
        case PW_EXTERN_FUNC: out->of.func = in->funcs[ex->index]; break;
        case PW_EXTERN_TABLE: out->of.table = in->tables[ex->index]; break;
        case PW_EXTERN_MEMORY: out->of.memory = in->mems[ex->index]; break;
        default: out->of.global = in->globals[ex->index]; break;
        }
        return true;
    }
    return false;
}

bool perch_instance_export(const perch_instance *in, const char *name, perch_extern *out)
{
    return perch_instance_export_n(in, name, strlen(name), out);
}

perch_memory *perch_instance_memory(const perch_instance *in) { return in->mem0; }
