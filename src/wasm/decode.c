/*
 * decode.c: every section of a module into the model of module.h.
 *
 * Structure only: encodings, counts, sizes, the agreement between the
 * function and code sections. Types and indices are the validator's
 * business (validate.c), except where the binary format itself says a
 * construct is malformed.
 */
#include <string.h>

#include "wasm/cursor.h"
#include "wasm/module.h"

/* Implementation limit on a function's locals (params included). */
#define PW_MAX_LOCALS 50000u

const char *pw_valtype_name(pw_valtype t)
{
    switch (t) {
    case PW_T_I32: return "i32";
    case PW_T_I64: return "i64";
    case PW_T_F32: return "f32";
    case PW_T_F64: return "f64";
    case PW_T_V128: return "v128";
    case PW_T_FUNCREF: return "funcref";
    case PW_T_EXTERNREF: return "externref";
    default: return "unknown";
    }
}

bool pw_functype_eq(const pw_functype *a, const pw_functype *b)
{
    return a == b || (a->nparams == b->nparams && a->nresults == b->nresults &&
                      memcmp(a->types, b->types, a->nparams + a->nresults) == 0);
}

void pw_module_free(pw_module *m)
{
    if (!m)
        return;
    pb_free(m->types);
    pb_free(m->type_pool);
    pb_free(m->imports);
    pb_free(m->func_types);
    pb_free(m->tables);
    pb_free(m->mems);
    pb_free(m->global_types);
    pb_free(m->global_inits);
    pb_free(m->exports);
    for (uint32_t i = 0; i < m->nelems; i++) {
        pb_free(m->elems[i].func_idx);
        pb_free(m->elems[i].exprs);
    }
    pb_free(m->elems);
    pb_free(m->datas);
    for (uint32_t i = 0; i < m->ncodes; i++) {
        pb_free(m->codes[i].local_types);
        pb_free(m->codes[i].cells);
    }
    pb_free(m->codes);
    pb_free(m->func_declared);
    pb_free(m->bytes);
    pb_free(m);
}

static perch_err_kind oom(perch_err *err)
{
    return pb_fail(err, PERCH_E_IO, "out of memory decoding the module");
}

static perch_err_kind simd(perch_err *err, size_t at)
{
    return pb_fail_at(err, PERCH_E_WASM_INVALID, at, "SIMD is not supported yet");
}

/* The kind a failed cursor read left in err. */
static perch_err_kind cfail(perch_err *err)
{
    return err ? err->kind : PERCH_E_WASM_MALFORMED;
}

/* Every item of a vector takes at least min_bytes: a count that cannot fit
 * is malformed, and is never used to size an allocation. */
static perch_err_kind count_fits(pw_cursor *c, uint32_t n, size_t min_bytes, const char *what)
{
    if ((uint64_t)n * min_bytes > pw_left(c))
        return pb_fail_at(c->err, PERCH_E_WASM_MALFORMED, c->pos,
                          "unexpected end of section or function: %s count %u exceeds the section size",
                          what, n);
    return PERCH_OK;
}

static perch_err_kind section_done(pw_cursor *c, unsigned id)
{
    if (c->pos != c->end)
        return pb_fail_at(c->err, PERCH_E_WASM_MALFORMED, c->pos,
                          "section size mismatch: %s section has %zu bytes left over",
                          pw_section_name(id), pw_left(c));
    return PERCH_OK;
}

/* valtype -> numtype | reftype (v128 is refused: SIMD comes later) */
static perch_err_kind valtype(pw_cursor *c, pw_valtype *out)
{
    size_t at = c->pos;
    uint8_t b = 0;
    if (!pw_u8(c, &b, "value type"))
        return cfail(c->err);
    switch (b) {
    case PW_T_I32: case PW_T_I64: case PW_T_F32: case PW_T_F64:
    case PW_T_FUNCREF: case PW_T_EXTERNREF:
        *out = b;
        return PERCH_OK;
    case PW_T_V128:
        return simd(c->err, at);
    default:
        return pb_fail_at(c->err, PERCH_E_WASM_MALFORMED, at, "malformed value type 0x%02x", b);
    }
}

/* reftype -> 0x70 funcref | 0x6f externref */
static perch_err_kind reftype(pw_cursor *c, pw_valtype *out)
{
    size_t at = c->pos;
    uint8_t b = 0;
    if (!pw_u8(c, &b, "reference type"))
        return cfail(c->err);
    if (b != PW_T_FUNCREF && b != PW_T_EXTERNREF)
        return pb_fail_at(c->err, PERCH_E_WASM_MALFORMED, at, "malformed reference type 0x%02x", b);
    *out = b;
    return PERCH_OK;
}

/*
 * constexpr -> instr* 0x0b, where instr is one of
 *   i32.const | i64.const | f32.const | f64.const | ref.null | ref.func | global.get
 * Any other instruction makes the module invalid rather than malformed.
 */
static perch_err_kind constexpr_read(pw_cursor *c, pw_constexpr *out)
{
    out->start = c->pos;
    for (;;) {
        size_t at = c->pos;
        uint8_t op = 0;
        uint32_t u = 0;
        int32_t s32;
        int64_t s64;
        const uint8_t *raw = NULL;
        pw_valtype t = 0;
        if (!pw_u8(c, &op, "constant expression"))
            return cfail(c->err);
        switch (op) {
        case 0x0b:
            out->end = c->pos;
            return PERCH_OK;
        case 0x41:
            if (!pw_s32(c, &s32, "i32 constant"))
                return cfail(c->err);
            break;
        case 0x42:
            if (!pw_s64(c, &s64, "i64 constant"))
                return cfail(c->err);
            break;
        case 0x43:
            if (!pw_bytes(c, 4, &raw, "f32 constant"))
                return cfail(c->err);
            break;
        case 0x44:
            if (!pw_bytes(c, 8, &raw, "f64 constant"))
                return cfail(c->err);
            break;
        case 0xd0:
            if (reftype(c, &t) != PERCH_OK)
                return cfail(c->err);
            break;
        case 0xd2:
        case 0x23:
            if (!pw_u32(c, &u, "index"))
                return cfail(c->err);
            break;
        case 0xfd:
            return simd(c->err, at);
        default:
            if (op <= 0x11 || (op >= 0x1a && op <= 0x1c) || (op >= 0x20 && op <= 0x26) ||
                (op >= 0x28 && op <= 0xc4) || op == 0xd1 || op == 0xfc)
                return pb_fail_at(c->err, PERCH_E_WASM_INVALID, at,
                                  "constant expression required: opcode 0x%02x is not constant", op);
            return pb_fail_at(c->err, PERCH_E_WASM_MALFORMED, at, "illegal opcode 0x%02x", op);
        }
    }
}

/* typesec -> vec(0x60 vec(valtype) vec(valtype)) */
static perch_err_kind types_read(pw_module *m, pw_cursor *c, perch_err *err)
{
    uint32_t n = 0;
    size_t pool_len = 0, pool_cap;
    if (!pw_u32(c, &n, "type count"))
        return cfail(err);
    if (count_fits(c, n, 3, "type"))
        return cfail(err);
    /* Every value type takes one byte, so the section size bounds the pool. */
    pool_cap = pw_left(c);
    if (n && !(m->types = pb_calloc(n, sizeof *m->types)))
        return oom(err);
    if (!(m->type_pool = pb_malloc(pool_cap ? pool_cap : 1)))
        return oom(err);
    m->ntypes = n;
    for (uint32_t i = 0; i < n; i++) {
        size_t at = c->pos;
        uint8_t form = 0;
        uint32_t np, nr;
        if (!pw_u8(c, &form, "function type"))
            return cfail(err);
        if (form != 0x60)
            return pb_fail_at(err, PERCH_E_WASM_MALFORMED, at,
                              "malformed function type 0x%02x (expected 0x60)",
                              form);
        if (!pw_u32(c, &np, "parameter count") || count_fits(c, np, 1, "parameter"))
            return cfail(err);
        m->types[i].nparams = np;
        for (uint32_t k = 0; k < np; k++)
            if (valtype(c, &m->type_pool[pool_len + k]))
                return cfail(err);
        if (!pw_u32(c, &nr, "result count") || count_fits(c, nr, 1, "result"))
            return cfail(err);
        for (uint32_t k = 0; k < nr; k++)
            if (valtype(c, &m->type_pool[pool_len + np + k]))
                return cfail(err);
        m->types[i].nresults = nr;
        m->types[i].types = m->type_pool + pool_len;
        pool_len += (size_t)np + nr;
    }
    return PERCH_OK;
}

static perch_err_kind imports_read(pw_module *m, const pw_layout *l, perch_err *err)
{
    size_t count;
    perch_err_kind rc = pw_imports_read(m->bytes, l, &m->imports, &count, err);
    if (rc)
        return rc;
    m->nimports = (uint32_t)count;
    for (uint32_t i = 0; i < m->nimports; i++) {
        const pw_import *im = &m->imports[i];
        size_t at = (size_t)(im->name - m->bytes);
        switch (im->kind) {
        case PW_EXTERN_FUNC: m->nfunc_imports++; break;
        case PW_EXTERN_TABLE:
            if (!pw_is_ref(im->valtype))
                return pb_fail_at(err, PERCH_E_WASM_MALFORMED, at, "malformed reference type 0x%02x",
                                  im->valtype);
            m->ntable_imports++;
            break;
        case PW_EXTERN_MEMORY: m->nmem_imports++; break;
        default:
            if (im->valtype == PW_T_V128)
                return simd(err, at);
            m->nglobal_imports++;
            break;
        }
    }
    return PERCH_OK;
}

/* funcsec -> vec(typeidx) */
static perch_err_kind funcs_read(pw_module *m, pw_cursor *c, uint32_t *ndefined, perch_err *err)
{
    uint32_t n = 0;
    if (!pw_u32(c, &n, "function count") || count_fits(c, n, 1, "function"))
        return cfail(err);
    if (!(m->func_types = pb_calloc((size_t)m->nfunc_imports + n + 1, sizeof *m->func_types)))
        return oom(err);
    for (uint32_t i = 0; i < n; i++)
        if (!pw_u32(c, &m->func_types[m->nfunc_imports + i], "type index"))
            return cfail(err);
    *ndefined = n;
    return PERCH_OK;
}

/* tablesec -> vec(reftype limits) */
static perch_err_kind tables_read(pw_module *m, pw_cursor *c, uint32_t n, perch_err *err)
{
    for (uint32_t i = 0; i < n; i++) {
        pw_table_type *t = &m->tables[m->ntable_imports + i];
        if (reftype(c, &t->elem) || !pw_limits_read(c, &t->limits, "table limits"))
            return cfail(err);
    }
    return PERCH_OK;
}

/* memsec -> vec(limits) */
static perch_err_kind mems_read(pw_module *m, pw_cursor *c, uint32_t n, perch_err *err)
{
    for (uint32_t i = 0; i < n; i++)
        if (!pw_limits_read(c, &m->mems[m->nmem_imports + i], "memory limits"))
            return cfail(err);
    return PERCH_OK;
}

/* globalsec -> vec(valtype mut constexpr) */
static perch_err_kind globals_read(pw_module *m, pw_cursor *c, uint32_t n, perch_err *err)
{
    for (uint32_t i = 0; i < n; i++) {
        pw_global_type *g = &m->global_types[m->nglobal_imports + i];
        size_t at;
        uint8_t mut = 0;
        if (valtype(c, &g->type))
            return cfail(err);
        at = c->pos;
        if (!pw_u8(c, &mut, "global mutability"))
            return cfail(err);
        if (mut > 1)
            return pb_fail_at(err, PERCH_E_WASM_MALFORMED, at, "malformed mutability 0x%02x", mut);
        g->mutable_ = mut == 1;
        if (constexpr_read(c, &m->global_inits[m->nglobal_imports + i]))
            return cfail(err);
    }
    return PERCH_OK;
}

/* A vector count read ahead of a section whose items are fixed-size
 * structures that get allocated here. */
static perch_err_kind vec_count(pw_cursor *c, uint32_t *n, size_t min_bytes, const char *what)
{
    if (!pw_u32(c, n, what))
        return cfail(c->err);
    return count_fits(c, *n, min_bytes, what);
}

/*
 * elemsec -> vec(elem)
 * elem -> 0 e vec(funcidx) | 1 elemkind vec(funcidx) | 2 x e elemkind vec(funcidx)
 *       | 3 elemkind vec(funcidx) | 4 e vec(expr) | 5 reftype vec(expr)
 *       | 6 x e reftype vec(expr) | 7 reftype vec(expr)
 */
static perch_err_kind elems_read(pw_module *m, pw_cursor *c, perch_err *err)
{
    uint32_t n = 0;
    if (vec_count(c, &n, 2, "element segment"))
        return cfail(err);
    if (n && !(m->elems = pb_calloc(n, sizeof *m->elems)))
        return oom(err);
    for (uint32_t i = 0; i < n; i++) {
        pw_elem *e = &m->elems[i];
        uint32_t flag, cnt;
        size_t at = c->pos;
        m->nelems = i + 1;
        e->at = at;
        if (!pw_u32(c, &flag, "element segment kind"))
            return cfail(err);
        if (flag > 7)
            return pb_fail_at(err, PERCH_E_WASM_MALFORMED, at,
                              "malformed elements segment kind %u", flag);
        e->mode = (flag & 1) ? ((flag & 2) ? PW_SEG_DECLARATIVE : PW_SEG_PASSIVE) : PW_SEG_ACTIVE;
        e->type = PW_T_FUNCREF;
        if (!(flag & 1)) {
            if ((flag & 2) && !pw_u32(c, &e->table, "table index"))
                return cfail(err);
            if (constexpr_read(c, &e->offset))
                return cfail(err);
        }
        if (flag & 3) {
            if (flag & 4) {
                if (reftype(c, &e->type))
                    return cfail(err);
            } else {
                uint8_t kind = 0;
                size_t kat = c->pos;
                if (!pw_u8(c, &kind, "element kind"))
                    return cfail(err);
                if (kind != 0)
                    return pb_fail_at(err, PERCH_E_WASM_MALFORMED, kat,
                                      "malformed element kind 0x%02x", kind);
            }
        }
        if (vec_count(c, &cnt, 1, "element"))
            return cfail(err);
        e->count = cnt;
        if (flag & 4) {
            if (cnt && !(e->exprs = pb_calloc(cnt, sizeof *e->exprs)))
                return oom(err);
            for (uint32_t k = 0; k < cnt; k++)
                if (constexpr_read(c, &e->exprs[k]))
                    return cfail(err);
        } else {
            if (cnt && !(e->func_idx = pb_calloc(cnt, sizeof *e->func_idx)))
                return oom(err);
            for (uint32_t k = 0; k < cnt; k++)
                if (!pw_u32(c, &e->func_idx[k], "function index"))
                    return cfail(err);
        }
    }
    return PERCH_OK;
}

/*
 * codesec -> vec(code); code -> size:u32 func
 * func -> vec(locals) expr; locals -> n:u32 valtype
 */
static perch_err_kind codes_read(pw_module *m, pw_cursor *c, uint32_t ndefined, perch_err *err)
{
    uint32_t n = 0;
    size_t at = c->pos;
    if (vec_count(c, &n, 2, "code"))
        return cfail(err);
    if (n != ndefined)
        return pb_fail_at(err, PERCH_E_WASM_MALFORMED, at,
                          "function and code section have inconsistent lengths: %u functions, %u bodies",
                          ndefined, n);
    if (n && !(m->codes = pb_calloc(n, sizeof *m->codes)))
        return oom(err);
    m->ncodes = n;
    for (uint32_t i = 0; i < n; i++) {
        pw_code *code = &m->codes[i];
        const pw_functype *ft;
        uint32_t size, ngroups;
        uint64_t total;
        size_t end, fat = c->pos;
        pw_cursor lc;
        if (!pw_u32(c, &size, "function body size"))
            return cfail(err);
        if (size > pw_left(c))
            return pb_fail_at(err, PERCH_E_WASM_MALFORMED, fat,
                              "unexpected end of section or function: body %u overruns the section",
                              i);
        end = c->pos + size;
        lc = pw_cursor_make(c->base, c->pos, end, err);
        code->locals_start = lc.pos;
        if (!pw_u32(&lc, &ngroups, "local declaration count") ||
            count_fits(&lc, ngroups, 2, "local declaration"))
            return cfail(err);
        /* The type index is checked by the validator; an unknown one counts
         * as no parameters here. */
        ft = m->func_types[m->nfunc_imports + i] < m->ntypes
                 ? pw_func_type(m, m->nfunc_imports + i) : NULL;
        total = ft ? ft->nparams : 0;
        {
            pw_cursor scan = lc;
            for (uint32_t g = 0; g < ngroups; g++) {
                uint32_t cnt = 0;
                pw_valtype t = 0;
                if (!pw_u32(&scan, &cnt, "local count") || valtype(&scan, &t))
                    return cfail(err);
                total += cnt;
                if (total > UINT32_MAX)
                    return pb_fail_at(err, PERCH_E_WASM_MALFORMED, fat,
                                      "too many locals in function %u", m->nfunc_imports + i);
            }
        }
        if (total > PW_MAX_LOCALS)
            return pb_fail_at(err, PERCH_E_WASM_INVALID, fat,
                              "too many locals in function %u: %llu exceeds the limit of %u",
                              m->nfunc_imports + i, (unsigned long long)total, PW_MAX_LOCALS);
        code->nlocals = (uint32_t)(total - (ft ? ft->nparams : 0));
        if (!(code->local_types = pb_malloc(total ? (size_t)total : 1)))
            return oom(err);
        if (ft)
            memcpy(code->local_types, ft->types, ft->nparams);
        {
            size_t k = ft ? ft->nparams : 0;
            for (uint32_t g = 0; g < ngroups; g++) {
                uint32_t cnt = 0;
                pw_valtype t = 0;
                if (!pw_u32(&lc, &cnt, "local count") || valtype(&lc, &t))
                    return cfail(err);
                memset(code->local_types + k, t, cnt);
                k += cnt;
            }
        }
        code->body_start = lc.pos;
        code->body_end = end;
        c->pos = end;
    }
    return PERCH_OK;
}

/* datasec -> vec(data); data -> 0 e vec(byte) | 1 vec(byte) | 2 x e vec(byte) */
static perch_err_kind datas_read(pw_module *m, pw_cursor *c, perch_err *err)
{
    uint32_t n = 0;
    if (vec_count(c, &n, 2, "data segment"))
        return cfail(err);
    if (n && !(m->datas = pb_calloc(n, sizeof *m->datas)))
        return oom(err);
    m->ndatas = n;
    for (uint32_t i = 0; i < n; i++) {
        pw_data *d = &m->datas[i];
        uint32_t flag = 0;
        size_t at = c->pos;
        d->at = at;
        if (!pw_u32(c, &flag, "data segment kind"))
            return cfail(err);
        if (flag > 2)
            return pb_fail_at(err, PERCH_E_WASM_MALFORMED, at, "malformed data segment kind %u", flag);
        d->mode = flag == 1 ? PW_SEG_PASSIVE : PW_SEG_ACTIVE;
        if (flag == 2 && !pw_u32(c, &d->memory, "memory index"))
            return cfail(err);
        if (flag != 1 && constexpr_read(c, &d->offset))
            return cfail(err);
        if (!pw_u32(c, &d->len, "data length") || !pw_bytes(c, d->len, &d->bytes, "data bytes"))
            return cfail(err);
    }
    return PERCH_OK;
}

static perch_err_kind decode_sections(pw_module *m, const pw_layout *l, perch_err *err)
{
    perch_err_kind rc;
    uint32_t ndefined = 0, ntab = 0, nmem = 0, nglob = 0;
    const pw_section *s;
    pw_cursor c;

#define OPEN(id) (s = pw_layout_section(l, id), c = pw_cursor_make(m->bytes, s ? s->payload : 0, s ? pw_section_end(s) : 0, err), s != NULL)
#define DONE(id) do { if ((rc = section_done(&c, id))) return rc; } while (0)

    if (OPEN(PW_SEC_TYPE)) {
        if ((rc = types_read(m, &c, err)))
            return rc;
        DONE(PW_SEC_TYPE);
    }
    if ((rc = imports_read(m, l, err)))
        return rc;
    if (OPEN(PW_SEC_FUNCTION)) {
        if ((rc = funcs_read(m, &c, &ndefined, err)))
            return rc;
        DONE(PW_SEC_FUNCTION);
    } else if (!(m->func_types = pb_calloc((size_t)m->nfunc_imports + 1, sizeof *m->func_types))) {
        return oom(err);
    }
    m->nfuncs = m->nfunc_imports + ndefined;
    if (OPEN(PW_SEC_TABLE) && (rc = vec_count(&c, &ntab, 3, "table")))
        return rc;
    m->ntables = m->ntable_imports + ntab;
    if (!(m->tables = pb_calloc((size_t)m->ntables + 1, sizeof *m->tables)))
        return oom(err);
    if (s) {
        if ((rc = tables_read(m, &c, ntab, err)))
            return rc;
        DONE(PW_SEC_TABLE);
    }
    if (OPEN(PW_SEC_MEMORY) && (rc = vec_count(&c, &nmem, 2, "memory")))
        return rc;
    m->nmems = m->nmem_imports + nmem;
    if (!(m->mems = pb_calloc((size_t)m->nmems + 1, sizeof *m->mems)))
        return oom(err);
    if (s) {
        if ((rc = mems_read(m, &c, nmem, err)))
            return rc;
        DONE(PW_SEC_MEMORY);
    }
    if (OPEN(PW_SEC_GLOBAL) && (rc = vec_count(&c, &nglob, 3, "global")))
        return rc;
    m->nglobals = m->nglobal_imports + nglob;
    if (!(m->global_types = pb_calloc((size_t)m->nglobals + 1, sizeof *m->global_types)) ||
        !(m->global_inits = pb_calloc((size_t)m->nglobals + 1, sizeof *m->global_inits)))
        return oom(err);
    /* Imported globals first, in import order. */
    for (uint32_t i = 0, g = 0, t = 0, mm = 0; i < m->nimports; i++) {
        const pw_import *im = &m->imports[i];
        if (im->kind == PW_EXTERN_GLOBAL) {
            m->global_types[g].type = im->valtype;
            m->global_types[g++].mutable_ = im->mutable_;
        } else if (im->kind == PW_EXTERN_TABLE) {
            m->tables[t].elem = im->valtype;
            m->tables[t++].limits = im->limits;
        } else if (im->kind == PW_EXTERN_MEMORY) {
            m->mems[mm++] = im->limits;
        }
    }
    for (uint32_t i = 0, f = 0; i < m->nimports; i++)
        if (m->imports[i].kind == PW_EXTERN_FUNC)
            m->func_types[f++] = m->imports[i].type_index;
    if (s) {
        if ((rc = globals_read(m, &c, nglob, err)))
            return rc;
        DONE(PW_SEC_GLOBAL);
    }
    {
        size_t count;
        if ((rc = pw_exports_read(m->bytes, l, &m->exports, &count, err)))
            return rc;
        m->nexports = (uint32_t)count;
    }
    if (OPEN(PW_SEC_START)) {
        if (!pw_u32(&c, &m->start, "start function index"))
            return cfail(err);
        m->has_start = true;
        DONE(PW_SEC_START);
    }
    if (OPEN(PW_SEC_ELEMENT)) {
        if ((rc = elems_read(m, &c, err)))
            return rc;
        DONE(PW_SEC_ELEMENT);
    }
    if (OPEN(PW_SEC_DATACOUNT)) {
        if (!pw_u32(&c, &m->datacount, "data count"))
            return cfail(err);
        m->has_datacount = true;
        DONE(PW_SEC_DATACOUNT);
    }
    if (OPEN(PW_SEC_CODE)) {
        if ((rc = codes_read(m, &c, ndefined, err)))
            return rc;
        DONE(PW_SEC_CODE);
    } else if (ndefined) {
        return pb_fail_at(err, PERCH_E_WASM_MALFORMED, m->len,
                          "function and code section have inconsistent lengths: %u functions, no code section",
                          ndefined);
    }
    if (OPEN(PW_SEC_DATA)) {
        if ((rc = datas_read(m, &c, err)))
            return rc;
        DONE(PW_SEC_DATA);
    }
    if (m->has_datacount && m->datacount != m->ndatas) {
        s = pw_layout_section(l, PW_SEC_DATACOUNT);
        return pb_fail_at(err, PERCH_E_WASM_MALFORMED, s->start,
                          "data count and data section have inconsistent lengths: %u and %u",
                          m->datacount, m->ndatas);
    }
#undef OPEN
#undef DONE
    return PERCH_OK;
}

perch_err_kind pw_module_decode(const uint8_t *bytes, size_t len, pw_module **out,
                                perch_err *err)
{
    pw_layout l;
    pw_module *m;
    perch_err_kind rc;

    *out = NULL;
    if (!(m = pb_calloc(1, sizeof *m)))
        return oom(err);
    if (!(m->bytes = pb_malloc(len ? len : 1))) {
        pb_free(m);
        return oom(err);
    }
    if (len)
        memcpy(m->bytes, bytes, len);
    m->len = len;
    if ((rc = pw_layout_read(m->bytes, len, &l, err))) {
        pw_module_free(m);
        return rc;
    }
    rc = decode_sections(m, &l, err);
    pw_layout_free(&l);
    if (rc) {
        pw_module_free(m);
        return rc;
    }
    *out = m;
    return PERCH_OK;
}
