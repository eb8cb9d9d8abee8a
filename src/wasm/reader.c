/* reader.c: preamble, section structure, and the few section contents that
 * inspect and diff need (imports, exports, memories). */
#include <string.h>

#include "wasm/cursor.h"
#include "wasm/reader.h"

static const char *const section_names[PW_SEC_MAX_ID + 1] = {
    "custom", "type", "import", "function", "table", "memory", "global",
    "export", "start", "element", "code", "data", "datacount",
};

const char *pw_section_name(unsigned id)
{
    return id <= PW_SEC_MAX_ID ? section_names[id] : "unknown";
}

const char *pw_extern_kind_name(unsigned kind)
{
    static const char *const names[] = {"func", "table", "memory", "global"};
    return kind < 4 ? names[kind] : "unknown";
}

/* Position of each known section id in the order the spec requires. */
static unsigned section_rank(unsigned id)
{
    static const unsigned char rank[PW_SEC_MAX_ID + 1] = {
        [PW_SEC_TYPE] = 1, [PW_SEC_IMPORT] = 2, [PW_SEC_FUNCTION] = 3,
        [PW_SEC_TABLE] = 4, [PW_SEC_MEMORY] = 5, [PW_SEC_GLOBAL] = 6,
        [PW_SEC_EXPORT] = 7, [PW_SEC_START] = 8, [PW_SEC_ELEMENT] = 9,
        [PW_SEC_DATACOUNT] = 10, [PW_SEC_CODE] = 11, [PW_SEC_DATA] = 12,
    };
    return rank[id];
}

void pw_layout_free(pw_layout *layout)
{
    pb_free(layout->sections);
    memset(layout, 0, sizeof *layout);
}

static bool push_section(pw_layout *l, size_t *cap, const pw_section *s)
{
    if (l->count == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        pw_section *p = pb_realloc(l->sections, ncap * sizeof *p);
        if (!p)
            return false;
        l->sections = p;
        *cap = ncap;
    }
    l->sections[l->count++] = *s;
    return true;
}

/*
 * module -> magic version section*
 * section -> id:byte size:u32 payload:byte^size
 */
perch_err_kind pw_layout_read(const uint8_t *bytes, size_t len, pw_layout *out,
                              perch_err *err)
{
    static const uint8_t magic[4] = {0x00, 0x61, 0x73, 0x6d};
    static const uint8_t version[4] = {0x01, 0x00, 0x00, 0x00};
    pw_cursor c = pw_cursor_make(bytes, 0, len, err);
    unsigned last_rank = 0;
    size_t cap = 0;
    perch_err_kind rc = PERCH_E_WASM_MALFORMED;

    memset(out, 0, sizeof *out);
    if (len < 4 || memcmp(bytes, magic, 4) != 0)
        return pb_fail_at(err, PERCH_E_WASM_MALFORMED, 0,
                          "magic header not detected: expected \\0asm, not a WebAssembly module");
    if (len < 8)
        return pb_fail_at(err, PERCH_E_WASM_MALFORMED, 4,
                          "unexpected end: expected the 4-byte binary format version");
    if (memcmp(bytes + 4, version, 4) != 0)
        return pb_fail_at(err, PERCH_E_WASM_MALFORMED, 4,
                          "unknown binary version: expected 01 00 00 00 (version 1)");
    c.pos = 8;

    while (c.pos < c.end) {
        pw_section s = {0};
        uint32_t size;
        uint8_t id;

        s.start = c.pos;
        id = bytes[c.pos++];
        if (id > PW_SEC_MAX_ID) {
            pb_fail_at(err, PERCH_E_WASM_MALFORMED, s.start,
                       "malformed section id: %u is not a known section (expected 0 to %d)",
                       id, PW_SEC_MAX_ID);
            goto fail;
        }
        if (!pw_u32(&c, &size, "section size"))
            goto fail;
        if (size > pw_left(&c)) {
            pb_fail_at(err, PERCH_E_WASM_MALFORMED, s.start,
                       "%s section size overruns the file: declares %u bytes, %zu remain",
                       pw_section_name(id), size, pw_left(&c));
            goto fail;
        }
        s.id = id;
        s.payload = c.pos;
        s.size = size;
        if (id == PW_SEC_CUSTOM) {
            pw_cursor nc = pw_cursor_make(bytes, s.payload, s.payload + size, err);
            const uint8_t *name;
            if (!pw_name(&nc, &name, &s.name_len, "custom section name"))
                goto fail;
            s.name = (size_t)(name - bytes);
            s.content = nc.pos;
        } else {
            unsigned rank = section_rank(id);
            if (out->known[id]) {
                pb_fail_at(err, PERCH_E_WASM_MALFORMED, s.start,
                           "unexpected content after last section: duplicate %s section",
                           pw_section_name(id));
                goto fail;
            }
            if (rank < last_rank) {
                pb_fail_at(err, PERCH_E_WASM_MALFORMED, s.start,
                           "unexpected content after last section: %s section out of order",
                           pw_section_name(id));
                goto fail;
            }
            last_rank = rank;
            out->known[id] = out->count + 1;
        }
        if (!push_section(out, &cap, &s)) {
            rc = pb_fail(err, PERCH_E_IO, "out of memory reading the section table");
            goto fail;
        }
        c.pos = s.payload + size;
    }
    return PERCH_OK;
fail:
    pw_layout_free(out);
    return rc;
}

const pw_section *pw_layout_section(const pw_layout *layout, unsigned id)
{
    if (id > PW_SEC_MAX_ID || id == PW_SEC_CUSTOM || !layout->known[id])
        return NULL;
    return &layout->sections[layout->known[id] - 1];
}

bool pw_custom_is(const pw_section *s, const uint8_t *bytes, const char *name)
{
    size_t n = strlen(name);
    return s->id == PW_SEC_CUSTOM && s->name_len == n &&
           memcmp(bytes + s->name, name, n) == 0;
}

size_t pw_layout_custom(const pw_layout *layout, const uint8_t *bytes,
                        const char *name, const pw_section **first)
{
    size_t n = 0;
    if (first)
        *first = NULL;
    for (size_t i = 0; i < layout->count; i++) {
        if (pw_custom_is(&layout->sections[i], bytes, name)) {
            if (n == 0 && first)
                *first = &layout->sections[i];
            n++;
        }
    }
    return n;
}

/* limits -> 0x00 min:u32 | 0x01 min:u32 max:u32 */
bool pw_limits_read(pw_cursor *c, pw_limits *out, const char *what)
{
    uint8_t flag = 0;
    uint32_t v;
    size_t at = c->pos;
    if (!pw_u8(c, &flag, what))
        return false;
    if (flag > 1)
        return pw_fail(c, at, "integer too large: limits flag 0x%02x in %s (expected 0x00 or 0x01)",
                       flag, what);
    if (!pw_u32(c, &v, what))
        return false;
    out->min = v;
    out->has_max = flag == 1;
    out->max = 0;
    if (out->has_max) {
        if (!pw_u32(c, &v, what))
            return false;
        out->max = v;
    }
    return true;
}

/*
 * Every vector section here is decoded the same way: a count, then items,
 * then the section must end exactly where its size said.
 */
static bool section_done(pw_cursor *c, const pw_section *s)
{
    if (c->pos != c->end)
        return pw_fail(c, c->pos, "section size mismatch: %s section has %zu bytes left over",
                       pw_section_name(s->id), pw_left(c));
    return true;
}

static perch_err_kind oom(perch_err *err, const char *what)
{
    return pb_fail(err, PERCH_E_IO, "out of memory reading %s", what);
}

/* Reject a vector count that cannot fit: every item takes >= min_bytes. */
static bool count_fits(pw_cursor *c, uint32_t count, size_t min_bytes, const char *what)
{
    if ((uint64_t)count * min_bytes > pw_left(c))
        return pw_fail(c, c->pos, "unexpected end: %s count %u exceeds the section size",
                       what, count);
    return true;
}

/* valtype -> 0x7f i32 | 0x7e i64 | 0x7d f32 | 0x7c f64 | 0x7b v128 | 0x70 funcref | 0x6f externref */
static bool valtype_read(pw_cursor *c, uint8_t *out, const char *what)
{
    size_t at = c->pos;
    if (!pw_u8(c, out, what))
        return false;
    switch (*out) {
    case 0x7f: case 0x7e: case 0x7d: case 0x7c: case 0x7b: case 0x70: case 0x6f:
        return true;
    default:
        return pw_fail(c, at, "malformed value type 0x%02x in %s", *out, what);
    }
}

/*
 * importsec -> vec(import)
 * import    -> mod:name nm:name d:importdesc
 * importdesc-> 0x00 typeidx | 0x01 tabletype | 0x02 memtype | 0x03 globaltype
 */
perch_err_kind pw_imports_read(const uint8_t *bytes, const pw_layout *layout,
                               pw_import **out, size_t *count, perch_err *err)
{
    const pw_section *s = pw_layout_section(layout, PW_SEC_IMPORT);
    pw_cursor c;
    uint32_t n;
    pw_import *v = NULL;

    *out = NULL;
    *count = 0;
    if (!s)
        return PERCH_OK;
    c = pw_cursor_make(bytes, s->payload, pw_section_end(s), err);
    if (!pw_u32(&c, &n, "import count") || !count_fits(&c, n, 4, "import"))
        goto fail;
    if (n && !(v = pb_calloc(n, sizeof *v)))
        return oom(err, "the import section");
    for (uint32_t i = 0; i < n; i++) {
        pw_import *im = &v[i];
        size_t at;
        if (!pw_name(&c, &im->module, &im->module_len, "import module name") ||
            !pw_name(&c, &im->name, &im->name_len, "import name"))
            goto fail;
        at = c.pos;
        if (!pw_u8(&c, &im->kind, "import kind"))
            goto fail;
        switch (im->kind) {
        case PW_EXTERN_FUNC:
            if (!pw_u32(&c, &im->type_index, "import type index"))
                goto fail;
            break;
        case PW_EXTERN_TABLE:
            if (!valtype_read(&c, &im->valtype, "imported table type") ||
                !pw_limits_read(&c, &im->limits, "imported table limits"))
                goto fail;
            break;
        case PW_EXTERN_MEMORY:
            if (!pw_limits_read(&c, &im->limits, "imported memory limits"))
                goto fail;
            break;
        case PW_EXTERN_GLOBAL: {
            uint8_t mut = 0;
            size_t mat;
            if (!valtype_read(&c, &im->valtype, "imported global type"))
                goto fail;
            mat = c.pos;
            if (!pw_u8(&c, &mut, "global mutability"))
                goto fail;
            if (mut > 1) {
                pw_fail(&c, mat, "malformed mutability 0x%02x (expected 0x00 or 0x01)", mut);
                goto fail;
            }
            im->mutable_ = mut == 1;
            break;
        }
        default:
            pw_fail(&c, at, "malformed import kind 0x%02x (expected 0x00 to 0x03)", im->kind);
            goto fail;
        }
    }
    if (!section_done(&c, s))
        goto fail;
    *out = v;
    *count = n;
    return PERCH_OK;
fail:
    pb_free(v);
    return err ? err->kind : PERCH_E_WASM_MALFORMED;
}

/*
 * exportsec -> vec(export)
 * export    -> nm:name d:exportdesc
 * exportdesc-> (0x00 | 0x01 | 0x02 | 0x03) idx:u32
 */
perch_err_kind pw_exports_read(const uint8_t *bytes, const pw_layout *layout,
                               pw_export **out, size_t *count, perch_err *err)
{
    const pw_section *s = pw_layout_section(layout, PW_SEC_EXPORT);
    pw_cursor c;
    uint32_t n;
    pw_export *v = NULL;

    *out = NULL;
    *count = 0;
    if (!s)
        return PERCH_OK;
    c = pw_cursor_make(bytes, s->payload, pw_section_end(s), err);
    if (!pw_u32(&c, &n, "export count") || !count_fits(&c, n, 3, "export"))
        goto fail;
    if (n && !(v = pb_calloc(n, sizeof *v)))
        return oom(err, "the export section");
    for (uint32_t i = 0; i < n; i++) {
        size_t at;
        if (!pw_name(&c, &v[i].name, &v[i].name_len, "export name"))
            goto fail;
        at = c.pos;
        if (!pw_u8(&c, &v[i].kind, "export kind"))
            goto fail;
        if (v[i].kind > PW_EXTERN_GLOBAL) {
            pw_fail(&c, at, "malformed export kind 0x%02x (expected 0x00 to 0x03)", v[i].kind);
            goto fail;
        }
        if (!pw_u32(&c, &v[i].index, "export index"))
            goto fail;
    }
    if (!section_done(&c, s))
        goto fail;
    *out = v;
    *count = n;
    return PERCH_OK;
fail:
    pb_free(v);
    return err ? err->kind : PERCH_E_WASM_MALFORMED;
}

/* memsec -> vec(memtype); memtype -> limits */
perch_err_kind pw_memories_read(const uint8_t *bytes, const pw_layout *layout,
                                pw_limits **out, size_t *count, perch_err *err)
{
    const pw_section *s = pw_layout_section(layout, PW_SEC_MEMORY);
    pw_cursor c;
    uint32_t n;
    pw_limits *v = NULL;

    *out = NULL;
    *count = 0;
    if (!s)
        return PERCH_OK;
    c = pw_cursor_make(bytes, s->payload, pw_section_end(s), err);
    if (!pw_u32(&c, &n, "memory count") || !count_fits(&c, n, 2, "memory"))
        goto fail;
    if (n && !(v = pb_calloc(n, sizeof *v)))
        return oom(err, "the memory section");
    for (uint32_t i = 0; i < n; i++)
        if (!pw_limits_read(&c, &v[i], "memory limits"))
            goto fail;
    if (!section_done(&c, s))
        goto fail;
    *out = v;
    *count = n;
    return PERCH_OK;
fail:
    pb_free(v);
    return err ? err->kind : PERCH_E_WASM_MALFORMED;
}
