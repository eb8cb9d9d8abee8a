/*
 * store.c: modules, stores and their objects (functions, memories, tables,
 * globals), calls into WebAssembly and out to host functions.
 */
#include <string.h>

#include "wasm/runtime.h"

/* Value stack slots per store: 8 MiB. */
#define PW_STACK_SLOTS ((size_t)1 << 20)
/* Implementation limit on table entries, whatever a module declares. */
#define PW_TABLE_MAX 10000000u

#ifdef PERCH_DISPATCH_SWITCH
#define PW_DEFAULT_RUN pw_run_switch
#else
#define PW_DEFAULT_RUN pw_run_goto
#endif

/* ---- modules ------------------------------------------------------------- */

perch_err_kind perch_module_new(const uint8_t *bytes, size_t len, perch_module **out,
                                perch_err *err)
{
    perch_module *pm;
    pw_module *m;
    perch_err_kind rc;

    *out = NULL;
    if ((rc = pw_module_decode(bytes, len, &m, err)))
        return rc;
    if ((rc = pw_module_validate(m, err))) {
        pw_module_free(m);
        return rc;
    }
    if (!(pm = pb_calloc(1, sizeof *pm))) {
        pw_module_free(m);
        return pb_fail(err, PERCH_E_IO, "out of memory");
    }
    if (!(pm->kind_pool = pb_calloc(m->len + 1, sizeof *pm->kind_pool))) {
        pw_module_free(m);
        pb_free(pm);
        return pb_fail(err, PERCH_E_IO, "out of memory");
    }
    /* The pool holds every function type's value types, each at most one
     * byte in the binary, so the module's length bounds it. */
    for (uint32_t i = 0; i < m->ntypes; i++) {
        const pw_functype *ft = &m->types[i];
        size_t at = (size_t)(ft->types - m->type_pool);
        for (uint32_t k = 0; k < ft->nparams + ft->nresults; k++)
            pm->kind_pool[at + k] = (perch_valkind)ft->types[k];
    }
    pm->m = m;
    pm->refs = 1;
    *out = pm;
    return PERCH_OK;
}

static void module_unref(perch_module *pm)
{
    if (pm && --pm->refs == 0) {
        pw_module_free(pm->m);
        pb_free(pm->kind_pool);
        pb_free(pm);
    }
}

void perch_module_delete(perch_module *module) { module_unref(module); }

size_t perch_module_import_count(const perch_module *module) { return module->m->nimports; }

perch_moddesc perch_module_import(const perch_module *module, size_t i)
{
    const pw_import *im = &module->m->imports[i];
    perch_moddesc d;
    d.module = (const char *)im->module;
    d.module_len = im->module_len;
    d.name = (const char *)im->name;
    d.name_len = im->name_len;
    d.kind = (perch_externkind)im->kind;
    return d;
}

bool perch_module_import_functype(const perch_module *module, size_t i, perch_functype *out)
{
    const pw_module *m = module->m;
    const pw_functype *ft;
    const perch_valkind *k;
    if (i >= m->nimports || m->imports[i].kind != PW_EXTERN_FUNC)
        return false;
    ft = &m->types[m->imports[i].type_index];
    k = module->kind_pool + (ft->types - m->type_pool);
    out->nparams = ft->nparams;
    out->params = k;
    out->nresults = ft->nresults;
    out->results = k + ft->nparams;
    return true;
}

size_t perch_module_export_count(const perch_module *module) { return module->m->nexports; }

perch_moddesc perch_module_export(const perch_module *module, size_t i)
{
    const pw_export *ex = &module->m->exports[i];
    perch_moddesc d;
    d.module = NULL;
    d.module_len = 0;
    d.name = (const char *)ex->name;
    d.name_len = ex->name_len;
    d.kind = (perch_externkind)ex->kind;
    return d;
}

/* ---- stores -------------------------------------------------------------- */

perch_limits perch_limits_default(void)
{
    perch_limits l;
    l.memory_max_bytes = (uint64_t)65536 * PW_PAGE;
    l.call_depth = 10000;
    l.fuel = PERCH_FUEL_UNLIMITED;
    l.deadline_ns = 0;
    return l;
}

perch_err_kind perch_store_new(perch_store **out, perch_err *err)
{
    perch_store *s = pb_calloc(1, sizeof *s);
    *out = NULL;
    if (!s)
        return pb_fail(err, PERCH_E_IO, "out of memory");
    s->limits = perch_limits_default();
    s->fuel = s->limits.fuel;
    atomic_init(&s->interrupt, 0);
    *out = s;
    return PERCH_OK;
}

void perch_store_delete(perch_store *s)
{
    pw_obj *o, *next;
    if (!s)
        return;
    for (o = s->objs; o; o = next) {
        next = o->next;
        o->free(o);
    }
    pb_free(s->stack);
    pb_free(s->frames);
    pb_free(s);
}

void perch_store_set_limits(perch_store *s, const perch_limits *limits)
{
    uint32_t depth = s->limits.call_depth;
    s->limits = *limits;
    s->fuel = limits->fuel;
    if (s->depth > 0) {
        /* Called from a host function: the running frames stay where they
         * are, so the depth limit keeps its value until the call ends. */
        s->limits.call_depth = depth;
        return;
    }
    if (s->limits.call_depth == 0)
        s->limits.call_depth = 1;
    /* The frame array is sized for the depth limit on the next call. */
    pb_free(s->frames);
    s->frames = NULL;
}

uint64_t perch_store_fuel(const perch_store *s) { return s->fuel; }

void perch_store_interrupt(perch_store *s)
{
    atomic_store_explicit(&s->interrupt, 1, memory_order_relaxed);
}

void perch_store_clear_interrupt(perch_store *s)
{
    atomic_store_explicit(&s->interrupt, 0, memory_order_relaxed);
}

void pw_store_set_dispatch(perch_store *s, int dispatch) { s->dispatch = dispatch; }

void pw_store_adopt(perch_store *s, pw_obj *obj)
{
    obj->next = s->objs;
    s->objs = obj;
}

/* ---- objects ------------------------------------------------------------- */

static void func_free(pw_obj *o)
{
    perch_func *f = (perch_func *)o;
    if (f->host) {
        pb_free(f->kinds);
        pb_free(f->own_types);
    }
    pb_free(f);
}

static bool kind_ok(perch_valkind k)
{
    return k == PERCH_I32 || k == PERCH_I64 || k == PERCH_F32 || k == PERCH_F64 ||
           k == PERCH_FUNCREF || k == PERCH_EXTERNREF;
}

perch_err_kind perch_store_host_func(perch_store *s, const perch_functype *type,
                                     perch_host_fn fn, void *ud, perch_func **out,
                                     perch_err *err)
{
    size_t n = type->nparams + type->nresults;
    perch_func *f;
    pw_valtype *types;
    *out = NULL;
    if (type->nparams > UINT16_MAX || type->nresults > UINT16_MAX)
        return pb_fail(err, PERCH_E_USAGE, "host function type too large");
    for (size_t i = 0; i < type->nparams; i++)
        if (!kind_ok(type->params[i]))
            return pb_fail(err, PERCH_E_USAGE, "host function parameter %zu has no valid kind", i);
    for (size_t i = 0; i < type->nresults; i++)
        if (!kind_ok(type->results[i]))
            return pb_fail(err, PERCH_E_USAGE, "host function result %zu has no valid kind", i);
    if (!(f = pb_calloc(1, sizeof *f)))
        return pb_fail(err, PERCH_E_IO, "out of memory");
    /* One array serves as both the pw_valtype and the perch_valkind view. */
    if (!(f->kinds = pb_calloc(n + 1, sizeof *f->kinds)) ||
        !(types = pb_calloc(n + 1, 1))) {
        pb_free(f->kinds);
        pb_free(f);
        return pb_fail(err, PERCH_E_IO, "out of memory");
    }
    for (size_t i = 0; i < type->nparams; i++)
        f->kinds[i] = type->params[i];
    for (size_t i = 0; i < type->nresults; i++)
        f->kinds[type->nparams + i] = type->results[i];
    for (size_t i = 0; i < n; i++)
        types[i] = (pw_valtype)f->kinds[i];
    f->own_type.nparams = (uint32_t)type->nparams;
    f->own_type.nresults = (uint32_t)type->nresults;
    f->own_type.types = types;
    f->type = &f->own_type;
    f->host = fn;
    f->ud = ud;
    f->own_types = types;
    f->obj.free = func_free;
    pw_store_adopt(s, &f->obj);
    *out = f;
    return PERCH_OK;
}

perch_functype perch_func_type(const perch_func *f)
{
    perch_functype t;
    t.nparams = f->type->nparams;
    t.nresults = f->type->nresults;
    t.params = f->kinds;
    t.results = f->kinds ? f->kinds + f->type->nparams : NULL;
    return t;
}

static void memory_free(pw_obj *o)
{
    perch_memory *m = (perch_memory *)o;
    pb_free(m->data);
    pb_free(m);
}

/* A memory of type's minimum, capped by the store: wasm_exhausted when the
 * minimum is above the cap. */
perch_memory *pw_memory_make(perch_store *s, const pw_limits *type, perch_err *err)
{
    uint64_t cap_pages = s->limits.memory_max_bytes / PW_PAGE;
    uint64_t max = type->has_max ? type->max : 65536;
    perch_memory *m;
    if (max > cap_pages)
        max = cap_pages;
    if (type->min > max) {
        pb_fail(err, PERCH_E_WASM_EXHAUSTED,
                "memory limit: %llu pages requested, the limit is %llu pages",
                (unsigned long long)type->min, (unsigned long long)max);
        return NULL;
    }
    if (!(m = pb_calloc(1, sizeof *m))) {
        pb_fail(err, PERCH_E_IO, "out of memory");
        return NULL;
    }
    m->size = type->min * PW_PAGE;
    if (m->size && !(m->data = pb_calloc(1, (size_t)m->size))) {
        pb_free(m);
        pb_fail(err, PERCH_E_WASM_EXHAUSTED, "cannot allocate %llu bytes of memory",
                (unsigned long long)type->min * PW_PAGE);
        return NULL;
    }
    m->max_pages = max;
    m->type = *type;
    m->obj.free = memory_free;
    pw_store_adopt(s, &m->obj);
    return m;
}

perch_err_kind perch_store_memory(perch_store *s, uint32_t min, uint32_t max,
                                  perch_memory **out, perch_err *err)
{
    pw_limits l;
    l.min = min;
    l.has_max = max != UINT32_MAX;
    l.max = l.has_max ? max : 0;
    if (min > 65536 || (l.has_max && (max > 65536 || max < min)))
        return pb_fail(err, PERCH_E_USAGE, "memory limits %u..%u are not valid", min, max);
    *out = pw_memory_make(s, &l, err);
    return *out ? PERCH_OK : err->kind;
}

int64_t pw_memory_grow(perch_memory *m, uint64_t delta)
{
    uint64_t old = m->size / PW_PAGE;
    uint8_t *p;
    if (delta == 0)
        return (int64_t)old;
    if (old + delta > m->max_pages)
        return -1;
    if (!(p = pb_realloc(m->data, (size_t)((old + delta) * PW_PAGE))))
        return -1;
    memset(p + m->size, 0, (size_t)(delta * PW_PAGE));
    m->data = p;
    m->size = (old + delta) * PW_PAGE;
    m->type.min = old + delta;
    return (int64_t)old;
}

uint64_t perch_memory_size(const perch_memory *m) { return m->size; }
uint8_t *perch_memory_data(perch_memory *m) { return m->data; }

uint8_t *perch_memory_span(perch_memory *m, uint64_t offset, uint64_t len)
{
    if (!m || offset > m->size || len > m->size - offset)
        return NULL;
    return m->data + offset;
}

static void table_free(pw_obj *o)
{
    perch_table *t = (perch_table *)o;
    pb_free(t->elems);
    pb_free(t);
}

perch_table *pw_table_make(perch_store *s, pw_valtype elem, const pw_limits *l, perch_err *err)
{
    perch_table *t;
    if (l->min > PW_TABLE_MAX) {
        pb_fail(err, PERCH_E_WASM_EXHAUSTED, "table limit: %llu entries requested, the limit is %u",
                (unsigned long long)l->min, PW_TABLE_MAX);
        return NULL;
    }
    if (!(t = pb_calloc(1, sizeof *t)) ||
        !(t->elems = pb_calloc((size_t)l->min + 1, sizeof *t->elems))) {
        pb_free(t);
        pb_fail(err, PERCH_E_IO, "out of memory");
        return NULL;
    }
    t->size = (uint32_t)l->min;
    t->has_max = l->has_max;
    t->max = l->has_max ? (uint32_t)l->max : UINT32_MAX;
    t->elem = elem;
    t->obj.free = table_free;
    pw_store_adopt(s, &t->obj);
    return t;
}

perch_err_kind perch_store_table(perch_store *s, perch_valkind elem, uint32_t min, uint32_t max,
                                 perch_table **out, perch_err *err)
{
    pw_limits l;
    l.min = min;
    l.has_max = max != UINT32_MAX;
    l.max = max;
    if ((elem != PERCH_FUNCREF && elem != PERCH_EXTERNREF) || (l.has_max && max < min))
        return pb_fail(err, PERCH_E_USAGE, "table type is not valid");
    *out = pw_table_make(s, (pw_valtype)elem, &l, err);
    return *out ? PERCH_OK : err->kind;
}

int64_t pw_table_grow(perch_table *t, uint64_t delta, uint64_t init)
{
    uint64_t old = t->size, n = old + delta;
    uint64_t *p;
    if (delta == 0)
        return (int64_t)old;
    if (n > t->max || n > PW_TABLE_MAX)
        return -1;
    if (!(p = pb_realloc(t->elems, (size_t)n * sizeof *p)))
        return -1;
    for (uint64_t i = old; i < n; i++)
        p[i] = init;
    t->elems = p;
    t->size = (uint32_t)n;
    return (int64_t)old;
}

uint32_t perch_table_size(const perch_table *t) { return t->size; }

static void global_free(pw_obj *o) { pb_free(o); }

perch_global *pw_global_make(perch_store *s, pw_valtype type, bool mut, uint64_t val,
                             perch_err *err)
{
    perch_global *g = pb_calloc(1, sizeof *g);
    if (!g) {
        pb_fail(err, PERCH_E_IO, "out of memory");
        return NULL;
    }
    g->type = type;
    g->mutable_ = mut;
    g->val = val;
    g->obj.free = global_free;
    pw_store_adopt(s, &g->obj);
    return g;
}

uint64_t pw_val_to_slot(const perch_val *v)
{
    switch (v->kind) {
    case PERCH_I32: return (uint32_t)v->of.i32;
    case PERCH_I64: return (uint64_t)v->of.i64;
    case PERCH_F32: return v->of.f32;
    case PERCH_F64: return v->of.f64;
    case PERCH_FUNCREF: return (uint64_t)(uintptr_t)v->of.func;
    default: return (uint64_t)(uintptr_t)v->of.ref;
    }
}

perch_val pw_slot_to_val(pw_valtype t, uint64_t slot)
{
    perch_val v;
    memset(&v, 0, sizeof v);
    v.kind = (perch_valkind)t;
    switch (t) {
    case PW_T_I32: v.of.i32 = (int32_t)(uint32_t)slot; break;
    case PW_T_I64: v.of.i64 = (int64_t)slot; break;
    case PW_T_F32: v.of.f32 = (uint32_t)slot; break;
    case PW_T_F64: v.of.f64 = slot; break;
    case PW_T_FUNCREF: v.of.func = (perch_func *)(uintptr_t)slot; break;
    default: v.of.ref = (void *)(uintptr_t)slot; break;
    }
    return v;
}

perch_err_kind perch_store_global(perch_store *s, perch_val init, bool mutable_,
                                  perch_global **out, perch_err *err)
{
    if (!kind_ok(init.kind))
        return pb_fail(err, PERCH_E_USAGE, "global value has no valid kind");
    *out = pw_global_make(s, (pw_valtype)init.kind, mutable_, pw_val_to_slot(&init), err);
    return *out ? PERCH_OK : err->kind;
}

perch_val perch_global_get(const perch_global *g) { return pw_slot_to_val(g->type, g->val); }

/* ---- calls --------------------------------------------------------------- */

perch_memory *perch_caller_memory(perch_caller *caller)
{
    return caller->inst ? caller->inst->mem0 : NULL;
}

perch_store *perch_caller_store(perch_caller *caller) { return caller->store; }

perch_err_kind pw_call_host(perch_store *s, perch_instance *caller, perch_func *f, uint64_t *sp,
                            perch_err *err)
{
    perch_val small[16];
    perch_val *vals = small;
    uint32_t np = f->type->nparams, nr = f->type->nresults;
    perch_caller c;
    perch_err_kind rc;

    if ((size_t)np + nr > 16 && !(vals = pb_calloc((size_t)np + nr, sizeof *vals)))
        return pb_fail(err, PERCH_E_IO, "out of memory calling a host function");
    for (uint32_t i = 0; i < np; i++)
        vals[i] = pw_slot_to_val(f->type->types[i], sp[i]);
    for (uint32_t i = 0; i < nr; i++)
        vals[np + i] = pw_slot_to_val(f->type->types[np + i], 0);
    c.store = s;
    c.inst = caller;
    rc = f->host(f->ud, &c, vals, vals + np, err);
    if (rc == PERCH_OK) {
        for (uint32_t i = 0; i < nr; i++)
            sp[i] = pw_val_to_slot(&vals[np + i]);
    } else if (err && err->kind != rc) {
        err->kind = rc;
    }
    if (vals != small)
        pb_free(vals);
    return rc;
}

perch_err_kind pw_invoke(perch_store *s, perch_func *f, uint64_t *sp, perch_err *err)
{
    uint32_t depth = s->depth;
    uint64_t *saved_sp = s->sp;
    perch_err_kind rc;
    if (!s->frames) {
        if (!(s->frames = pb_calloc(s->limits.call_depth, sizeof *s->frames)))
            return pb_fail(err, PERCH_E_IO, "out of memory for %u call frames",
                           s->limits.call_depth);
    }
    if (f->host)
        rc = pw_call_host(s, NULL, f, sp, err);
    else if (s->dispatch == 1)
        rc = pw_run_switch(s, f, sp, err);
    else if (s->dispatch == 2)
        rc = pw_run_goto(s, f, sp, err);
    else
        rc = PW_DEFAULT_RUN(s, f, sp, err);
    s->depth = depth;
    s->sp = saved_sp;
    return rc;
}

perch_err_kind perch_func_call(perch_store *s, perch_func *f, const perch_val *args,
                               size_t nargs, perch_val *results, size_t nresults, perch_err *err)
{
    const pw_functype *t = f->type;
    uint64_t *sp;
    perch_err_kind rc;
    size_t need = t->nparams > t->nresults ? t->nparams : t->nresults;

    if (nargs != t->nparams || nresults != t->nresults)
        return pb_fail(err, PERCH_E_WASM_TRAP,
                       "argument type mismatch: the function takes %u arguments and returns %u results",
                       t->nparams, t->nresults);
    for (size_t i = 0; i < nargs; i++)
        if ((pw_valtype)args[i].kind != t->types[i])
            return pb_fail(err, PERCH_E_WASM_TRAP, "argument type mismatch: argument %zu is not %s",
                           i, pw_valtype_name(t->types[i]));
    if (!s->stack) {
        if (!(s->stack = pb_calloc(PW_STACK_SLOTS, sizeof *s->stack)))
            return pb_fail(err, PERCH_E_IO, "out of memory for the value stack");
        s->stack_slots = PW_STACK_SLOTS;
        s->sp = s->stack;
    }
    sp = s->sp;
    if ((size_t)(s->stack + s->stack_slots - sp) < need)
        return pb_fail(err, PERCH_E_WASM_EXHAUSTED, "call stack exhausted");
    for (size_t i = 0; i < nargs; i++)
        sp[i] = pw_val_to_slot(&args[i]);
    if ((rc = pw_invoke(s, f, sp, err)))
        return rc;
    for (size_t i = 0; i < nresults; i++)
        results[i] = pw_slot_to_val(pw_results(t)[i], sp[i]);
    return PERCH_OK;
}
