/* perch_mod.c: the `perch` host module of perch_mod.h. */
#include <stdio.h>
#include <string.h>

#include "host/perch_mod.h"

/* One open response. id 0 marks a free slot. */
typedef struct slot {
    int32_t id;
    ph_http_response r;
    size_t cursor;
} slot;

struct ph_perch {
    ph_perch_config cfg;
    slot *slots;
    int32_t next_id;
    bool has_error;
    perch_err last; /* why the most recent http_get returned -1 */
};

perch_err_kind ph_perch_new(const ph_perch_config *config, ph_perch **out, perch_err *err)
{
    ph_perch *p;
    *out = NULL;
    if (!config->http)
        return pb_fail(err, PERCH_E_USAGE, "the perch module needs an HTTP client");
    if (!(p = pb_calloc(1, sizeof *p)))
        return pb_fail(err, PERCH_E_IO, "out of memory");
    p->cfg = *config;
    if (p->cfg.max_handles == 0)
        p->cfg.max_handles = PH_PERCH_MAX_HANDLES;
    if (!(p->slots = pb_calloc(p->cfg.max_handles, sizeof *p->slots))) {
        pb_free(p);
        return pb_fail(err, PERCH_E_IO, "out of memory");
    }
    p->next_id = 1;
    *out = p;
    return PERCH_OK;
}

void ph_perch_delete(ph_perch *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->cfg.max_handles; i++)
        if (p->slots[i].id)
            ph_http_response_free(&p->slots[i].r);
    pb_free(p->slots);
    pb_free(p);
}

size_t ph_perch_open_count(const ph_perch *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->cfg.max_handles; i++)
        n += p->slots[i].id != 0;
    return n;
}

/* The open response with id h, or NULL: ids come from the guest. */
static slot *lookup(ph_perch *p, int32_t h)
{
    if (h <= 0)
        return NULL;
    for (size_t i = 0; i < p->cfg.max_handles; i++)
        if (p->slots[i].id == h)
            return &p->slots[i];
    return NULL;
}

static perch_err_kind ret(perch_val *results, int32_t v)
{
    results[0].of.i32 = v;
    return PERCH_OK;
}

/* Record why http_get returns -1. */
static void remember(ph_perch *p, const perch_err *e)
{
    p->last = *e;
    p->has_error = true;
}

#define U32(i) ((uint32_t)args[i].of.i32)

/* http_get(url_ptr: u32, url_len: u32) -> handle > 0 | -1 */
static perch_err_kind http_get(void *ud, perch_caller *c, const perch_val *args,
                               perch_val *results, perch_err *err)
{
    ph_perch *p = ud;
    perch_err e;
    slot *s = NULL;
    const uint8_t *url;
    ph_http_response r;
    perch_err_kind rc;

    perch_err_clear(&e);
    /* The guest's range, checked before a byte of it is read. */
    url = perch_memory_span(perch_caller_memory(c), U32(0), U32(1));
    if (!url) {
        pb_fail(&e, PERCH_E_WASM_HTTP_REFUSED, "url: the URL (at %u, %u bytes) lies outside the module's memory",
                U32(0), U32(1));
        remember(p, &e);
        return ret(results, -1);
    }
    for (size_t i = 0; i < p->cfg.max_handles && !s; i++)
        if (p->slots[i].id == 0)
            s = &p->slots[i];
    if (!s || p->next_id == INT32_MAX) {
        pb_fail(&e, PERCH_E_WASM_HTTP_REFUSED,
                "limit: too many responses open at once (at most %zu; free them with http_close)",
                p->cfg.max_handles);
        remember(p, &e);
        return ret(results, -1);
    }
    rc = ph_http_get(p->cfg.http, (const char *)url, U32(1), &r, &e);
    if (rc) {
        remember(p, &e);
        if (rc == PERCH_E_WASM_HTTP_REFUSED && p->cfg.kill_on_refusal) {
            *err = e;
            return rc;
        }
        return ret(results, -1);
    }
    p->has_error = false;
    s->id = p->next_id++;
    s->r = r;
    s->cursor = 0;
    return ret(results, s->id);
}

/* http_status(h: i32) -> status | 0 */
static perch_err_kind http_status(void *ud, perch_caller *c, const perch_val *args,
                                  perch_val *results, perch_err *err)
{
    slot *s = lookup(ud, args[0].of.i32);
    (void)c, (void)err;
    return ret(results, s ? s->r.status : 0);
}

/* http_body_len(h: i32) -> length | -1 */
static perch_err_kind http_body_len(void *ud, perch_caller *c, const perch_val *args,
                                    perch_val *results, perch_err *err)
{
    slot *s = lookup(ud, args[0].of.i32);
    (void)c, (void)err;
    return ret(results, s ? (int32_t)s->r.body.len : -1);
}

/* http_read_body(h: i32, dst_ptr: u32, dst_cap: u32) -> copied | 0 at the end | -1 */
static perch_err_kind http_read_body(void *ud, perch_caller *c, const perch_val *args,
                                     perch_val *results, perch_err *err)
{
    slot *s = lookup(ud, args[0].of.i32);
    size_t n;
    uint8_t *dst;
    (void)err;
    if (!s)
        return ret(results, -1);
    n = s->r.body.len - s->cursor;
    if (n > U32(2))
        n = U32(2);
    if (n == 0)
        return ret(results, 0);
    /* Only the bytes written are checked: the Go perch's behaviour. */
    dst = perch_memory_span(perch_caller_memory(c), U32(1), n);
    if (!dst)
        return ret(results, -1);
    memcpy(dst, s->r.body.data + s->cursor, n);
    s->cursor += n;
    return ret(results, (int32_t)n);
}

/* http_close(h: i32) -> 0 | -1 */
static perch_err_kind http_close(void *ud, perch_caller *c, const perch_val *args,
                                 perch_val *results, perch_err *err)
{
    slot *s = lookup(ud, args[0].of.i32);
    (void)c, (void)err;
    if (!s)
        return ret(results, -1);
    ph_http_response_free(&s->r);
    s->id = 0;
    return ret(results, 0);
}

/*
 * http_error(buf_ptr: u32, buf_cap: u32) -> length | 0 | -1
 * The reason the last http_get returned -1, as "KIND: RULE: message" in
 * UTF-8 without a NUL; the full length is returned and min(length, cap)
 * bytes copied, so a call with cap 0 asks for the size.
 */
static perch_err_kind http_error(void *ud, perch_caller *c, const perch_val *args,
                                 perch_val *results, perch_err *err)
{
    ph_perch *p = ud;
    char text[sizeof p->last.message + 32];
    size_t n, copy;
    uint8_t *dst;
    (void)err;
    if (!p->has_error)
        return ret(results, 0);
    snprintf(text, sizeof text, "%s: %s", perch_err_kind_name(p->last.kind), p->last.message);
    n = strlen(text);
    copy = n < U32(1) ? n : U32(1);
    if (copy) {
        dst = perch_memory_span(perch_caller_memory(c), U32(0), copy);
        if (!dst)
            return ret(results, -1);
        memcpy(dst, text, copy);
    }
    return ret(results, (int32_t)n);
}

typedef struct perch_fn {
    const char *name;
    perch_host_fn fn;
    size_t nparams; /* all i32, one i32 result */
} perch_fn;

static const perch_fn perch_fns[] = {
    {"http_get", http_get, 2},
    {"http_status", http_status, 1},
    {"http_body_len", http_body_len, 1},
    {"http_read_body", http_read_body, 3},
    {"http_close", http_close, 1},
    {"http_error", http_error, 2},
};

bool ph_perch_is_import(const perch_moddesc *d)
{
    return d->module_len == strlen(PH_PERCH_MODULE) &&
           memcmp(d->module, PH_PERCH_MODULE, d->module_len) == 0;
}

perch_err_kind ph_perch_func(ph_perch *p, perch_store *store, const perch_module *module,
                             size_t i, perch_func **out, perch_err *err)
{
    static const perch_valkind i32s[3] = {PERCH_I32, PERCH_I32, PERCH_I32};
    perch_moddesc d = perch_module_import(module, i);
    perch_functype want, have;
    const perch_fn *f = NULL;

    *out = NULL;
    for (size_t k = 0; k < sizeof perch_fns / sizeof perch_fns[0]; k++)
        if (d.name_len == strlen(perch_fns[k].name) && memcmp(d.name, perch_fns[k].name, d.name_len) == 0)
            f = &perch_fns[k];
    if (!ph_perch_is_import(&d) || d.kind != PERCH_EXTERN_FUNC || !f)
        return pb_fail(err, PERCH_E_WASM_UNLINKABLE, "unknown import \"%.*s\" \"%.*s\"",
                       (int)d.module_len, d.module, (int)d.name_len, d.name);
    have.nparams = f->nparams;
    have.params = i32s;
    have.nresults = 1;
    have.results = i32s;
    if (!perch_module_import_functype(module, i, &want) || want.nparams != have.nparams ||
        want.nresults != 1 || want.results[0] != PERCH_I32 ||
        memcmp(want.params, have.params, have.nparams * sizeof *have.params) != 0)
        return pb_fail(err, PERCH_E_WASM_UNLINKABLE,
                       "incompatible import type: perch \"%s\" takes %zu i32 and returns an i32",
                       f->name, f->nparams);
    return perch_store_host_func(store, &have, f->fn, p, out, err);
}

perch_err_kind ph_perch_link(ph_perch *p, perch_store *store, const perch_module *module,
                             perch_extern *imports, perch_err *err)
{
    size_t n = perch_module_import_count(module);
    perch_err_kind rc;
    for (size_t i = 0; i < n; i++) {
        perch_moddesc d = perch_module_import(module, i);
        if (!ph_perch_is_import(&d))
            continue;
        imports[i].kind = PERCH_EXTERN_FUNC;
        if ((rc = ph_perch_func(p, store, module, i, &imports[i].of.func, err)))
            return rc;
    }
    return PERCH_OK;
}
