/*
 * test_reader.c: the module reader: preamble, section structure and order,
 * custom section names, and the import, export and memory sections.
 *
 * Modules are written here byte by byte (the comments say what each byte
 * means) and copied into a heap block of exactly their size before they are
 * read, so a read past the end is caught by the sanitizers.
 */
#include <stdlib.h>

#include "check.h"
#include "wasm/reader.h"

#define HDR "\0asm\1\0\0\0"
#define B(s) (const uint8_t *)(s), (sizeof(s) - 1)

/* ---- building and reading modules ---------------------------------------- */

static pb_buf m; /* the module being built */

static void die(const char *what)
{
    fprintf(stderr, "test setup failed: %s\n", what);
    exit(1);
}

static void begin(void)
{
    pb_buf_free(&m);
    if (!pb_buf_append(&m, HDR, 8))
        die("out of memory");
}

static void raw(const uint8_t *s, size_t n)
{
    if (!pb_buf_append(&m, s, n))
        die("out of memory");
}

/* section -> id size:u32 payload */
static void section(uint8_t id, const uint8_t *payload, size_t n)
{
    if (!pb_buf_byte(&m, id) || !pb_buf_uleb(&m, n) || !pb_buf_append(&m, payload, n))
        die("out of memory");
}

#define RAW(s) raw(B(s))
#define SEC(id, s) section((id), B(s))

/* A custom section named name whose content is content. */
static void custom(const char *name, const char *content)
{
    pb_buf p = {0};
    size_t n = strlen(name);
    if (!pb_buf_uleb(&p, n) || !pb_buf_append(&p, name, n) ||
        !pb_buf_append(&p, content, strlen(content)))
        die("out of memory");
    section(0, p.data, p.len);
    pb_buf_free(&p);
}

typedef struct loaded {
    uint8_t *bytes; /* exactly len bytes, owned */
    size_t len;
    pw_layout layout;
    perch_err err;
    perch_err_kind rc;
} loaded;

static loaded load_bytes(const uint8_t *in, size_t n)
{
    loaded l;
    memset(&l, 0, sizeof l);
    l.len = n;
    l.bytes = malloc(n ? n : 1);
    if (!l.bytes)
        die("out of memory");
    if (n)
        memcpy(l.bytes, in, n);
    perch_err_clear(&l.err);
    memset(&l.layout, 0xa5, sizeof l.layout); /* must be reset, even on failure */
    l.rc = pw_layout_read(l.bytes, n, &l.layout, &l.err);
    return l;
}

static loaded load(void) { return load_bytes(m.data, m.len); }

static void unload(loaded *l)
{
    pw_layout_free(&l->layout);
    free(l->bytes);
}

static bool layout_empty(const pw_layout *layout)
{
    static const pw_layout zero;
    return layout->sections == NULL && layout->count == 0 &&
           memcmp(layout->known, zero.known, sizeof zero.known) == 0;
}

/* err is wasm_malformed at offset with exactly this message and detail. */
static bool is_malformed(const perch_err *err, uint64_t offset, const char *msg)
{
    char detail[64];
    snprintf(detail, sizeof detail, "at byte %" PRIu64 " (0x%" PRIx64 ")", offset, offset);
    if (err->kind == PERCH_E_WASM_MALFORMED && err->offset == offset &&
        strcmp(err->message, msg) == 0 && strcmp(err->detail, detail) == 0)
        return true;
    fprintf(stderr, "  got %s at %" PRIu64 ": \"%s\" (%s)\n  expected wasm_malformed at %"
            PRIu64 ": \"%s\"\n", perch_err_kind_name(err->kind), err->offset,
            err->message, err->detail, offset, msg);
    return false;
}

/* pw_layout_read rejects the module being built at offset with msg. */
static bool layout_bad(uint64_t offset, const char *msg)
{
    loaded l = load();
    bool ok = l.rc == PERCH_E_WASM_MALFORMED && is_malformed(&l.err, offset, msg) &&
              layout_empty(&l.layout);
    if (l.rc == PERCH_OK)
        fprintf(stderr, "  accepted, expected \"%s\"\n", msg);
    unload(&l);
    return ok;
}

/* pw_layout_read accepts the module being built with count sections. */
static bool layout_ok(size_t count)
{
    loaded l = load();
    bool ok = l.rc == PERCH_OK && l.layout.count == count && l.err.kind == PERCH_OK;
    if (!ok)
        fprintf(stderr, "  rc %s, %zu sections (expected %zu): %s (%s)\n",
                perch_err_kind_name(l.rc), l.rc == PERCH_OK ? l.layout.count : 0, count,
                l.err.message, l.err.detail);
    unload(&l);
    return ok;
}

/* ---- preamble ------------------------------------------------------------ */

#define NO_MAGIC "magic header not detected: expected \\0asm, not a WebAssembly module"
#define NO_VERSION "unexpected end: expected the 4-byte binary format version"
#define BAD_VERSION "unknown binary version: expected 01 00 00 00 (version 1)"

static bool preamble_bad(const uint8_t *in, size_t n, uint64_t offset, const char *msg)
{
    loaded l = load_bytes(in, n);
    bool ok = l.rc == PERCH_E_WASM_MALFORMED && is_malformed(&l.err, offset, msg) &&
              layout_empty(&l.layout);
    unload(&l);
    return ok;
}

static void preamble(void)
{
    loaded l;
    CHECK(preamble_bad(B(""), 0, NO_MAGIC));
    CHECK(preamble_bad(B("\0"), 0, NO_MAGIC));
    CHECK(preamble_bad(B("\0as"), 0, NO_MAGIC));
    CHECK(preamble_bad(B("\0asn\1\0\0\0"), 0, NO_MAGIC));
    CHECK(preamble_bad(B("asm\0\1\0\0\0"), 0, NO_MAGIC));
    CHECK(preamble_bad(B("\x7f" "ELF\2\1\1\0"), 0, NO_MAGIC));
    CHECK(preamble_bad(B("\0ASM\1\0\0\0"), 0, NO_MAGIC));
    CHECK(preamble_bad(B("\0asm"), 4, NO_VERSION));
    CHECK(preamble_bad(B("\0asm\1"), 4, NO_VERSION));
    CHECK(preamble_bad(B("\0asm\1\0\0"), 4, NO_VERSION));
    CHECK(preamble_bad(B("\0asm\0\0\0\0"), 4, BAD_VERSION));
    CHECK(preamble_bad(B("\0asm\2\0\0\0"), 4, BAD_VERSION));
    CHECK(preamble_bad(B("\0asm\1\0\0\1"), 4, BAD_VERSION));
    CHECK(preamble_bad(B("\0asm\x0d\0\1\0"), 4, BAD_VERSION)); /* component layer */
    CHECK(preamble_bad(B("\0asm\0\0\0\1"), 4, BAD_VERSION));   /* big-endian 1 */

    /* The preamble alone is the empty module. */
    l = load_bytes(B(HDR));
    CHECK_INT(l.rc, PERCH_OK);
    CHECK(layout_empty(&l.layout));
    for (unsigned id = 1; id <= PW_SEC_MAX_ID; id++)
        CHECK(pw_layout_section(&l.layout, id) == NULL);
    unload(&l);

    /* A second module concatenated after the first: id 0, size 'a'. */
    begin();
    RAW(HDR);
    CHECK(layout_bad(8, "custom section size overruns the file: declares 97 bytes, 6 remain"));
}

/* ---- section structure --------------------------------------------------- */

static void section_names(void)
{
    static const char *const names[] = {
        "custom", "type", "import", "function", "table", "memory", "global",
        "export", "start", "element", "code", "data", "datacount",
    };
    for (unsigned id = 0; id <= PW_SEC_MAX_ID; id++)
        CHECK_STR(pw_section_name(id), names[id]);
    CHECK_STR(pw_section_name(13), "unknown");
    CHECK_STR(pw_section_name(255), "unknown");
    CHECK_STR(pw_extern_kind_name(0), "func");
    CHECK_STR(pw_extern_kind_name(1), "table");
    CHECK_STR(pw_extern_kind_name(2), "memory");
    CHECK_STR(pw_extern_kind_name(3), "global");
    CHECK_STR(pw_extern_kind_name(4), "unknown");
}

/* Every known id is accepted alone; contents are not decoded by the layout. */
static void each_known_section(void)
{
    for (unsigned id = 1; id <= PW_SEC_MAX_ID; id++) {
        loaded l;
        const pw_section *s;
        begin();
        SEC((uint8_t)id, "\xff\xfe\xfd"); /* not valid contents for any of them */
        l = load();
        CHECK_INT(l.rc, PERCH_OK);
        CHECK_INT(l.layout.count, 1);
        s = pw_layout_section(&l.layout, id);
        CHECK(s == &l.layout.sections[0]);
        if (s) {
            CHECK_INT(s->id, id);
            CHECK_INT(s->start, 8);
            CHECK_INT(s->payload, 10);
            CHECK_INT(s->size, 3);
            CHECK_INT(pw_section_end(s), 13);
            CHECK_INT(s->name, 0);
            CHECK_INT(s->name_len, 0);
            CHECK_INT(s->content, 0);
        }
        CHECK_INT(l.layout.known[id], 1);
        for (unsigned other = 1; other <= PW_SEC_MAX_ID; other++)
            if (other != id)
                CHECK(pw_layout_section(&l.layout, other) == NULL);
        CHECK(pw_layout_section(&l.layout, PW_SEC_CUSTOM) == NULL);
        CHECK(pw_layout_section(&l.layout, 13) == NULL);
        unload(&l);
    }
    /* An empty payload is fine for the layout too. */
    begin();
    SEC(PW_SEC_CODE, "");
    CHECK(layout_ok(1));
}

/* binary.wast: ids past datacount are malformed, wherever they appear. */
static void unknown_section_ids(void)
{
    static const uint8_t ids[] = {13, 14, 0x40, 0x7f, 0x80, 0xff};
    char msg[128];
    for (size_t i = 0; i < sizeof ids; i++) {
        begin();
        section(ids[i], (const uint8_t *)"\0", 1);
        snprintf(msg, sizeof msg,
                 "malformed section id: %u is not a known section (expected 0 to 12)", ids[i]);
        CHECK(layout_bad(8, msg));
    }
    /* After valid sections the offset is that of the bad id. */
    begin();
    SEC(PW_SEC_TYPE, "\x01\x60\x00\x00");
    custom("a", "");
    SEC(13, "");
    CHECK(layout_bad(18, "malformed section id: 13 is not a known section (expected 0 to 12)"));
    /* A lone id byte with nothing after it. */
    begin();
    RAW("\x0d");
    CHECK(layout_bad(8, "malformed section id: 13 is not a known section (expected 0 to 12)"));
    /* custom.wast: a wrong custom length lands the reader on a bad id. */
    begin();
    RAW("\x00\x25\x10" "a custom section" "this is the payload");
    RAW("\x00\x24\x10" "a custom section" "this is the payload");
    CHECK(layout_bad(47, "malformed section id: 36 is not a known section (expected 0 to 12)"));
}

static void section_size_limits(void)
{
    /* Exactly to the end of the file. */
    begin();
    RAW("\x01\x04\x01\x60\x00\x00");
    CHECK(layout_ok(1));
    /* One byte past the end of the file. */
    begin();
    RAW("\x01\x05\x01\x60\x00\x00");
    CHECK(layout_bad(8, "type section size overruns the file: declares 5 bytes, 4 remain"));
    /* The second section overruns. */
    begin();
    RAW("\x01\x04\x01\x60\x00\x00");
    RAW("\x03\x02\x01");
    CHECK(layout_bad(14, "function section size overruns the file: declares 2 bytes, 1 remain"));
    /* The largest u32 size. */
    begin();
    RAW("\x0b\xff\xff\xff\xff\x0f\x00");
    CHECK(layout_bad(8, "data section size overruns the file: declares 4294967295 bytes, 1 remain"));
    /* custom.wast: "length out of bounds". */
    begin();
    RAW("\x00\x26\x10" "a custom section" "this is the payload");
    CHECK(layout_bad(8, "custom section size overruns the file: declares 38 bytes, 36 remain"));
    /* A section id with no size. */
    begin();
    RAW("\x01");
    CHECK(layout_bad(9, "unexpected end: expected section size (LEB128 u32)"));
    /* custom.wast: "\00" alone. */
    begin();
    RAW("\x00");
    CHECK(layout_bad(9, "unexpected end: expected section size (LEB128 u32)"));
    /* A size cut short in its continuation bytes. */
    begin();
    RAW("\x01\x80\x80");
    CHECK(layout_bad(11, "unexpected end: expected section size (LEB128 u32)"));
}

/* binary-leb128.wast: section sizes are u32 LEB128 with its limits. */
static void section_size_leb(void)
{
    loaded l;
    /* Size 10 in two bytes is fine. */
    begin();
    RAW("\x00\x8a\x00\x01" "1" "23456789");
    l = load();
    CHECK_INT(l.rc, PERCH_OK);
    CHECK_INT(l.layout.count, 1);
    if (l.rc == PERCH_OK) {
        CHECK_INT(l.layout.sections[0].payload, 11);
        CHECK_INT(l.layout.sections[0].size, 10);
        CHECK_INT(l.layout.sections[0].name, 12);
        CHECK_INT(l.layout.sections[0].content, 13);
    }
    unload(&l);
    /* Size 3 with one byte too many. */
    begin();
    RAW("\x00\x83\x80\x80\x80\x80\x00\x01" "1" "2");
    CHECK(layout_bad(9, "integer representation too long: section size (LEB128 u32)"));
    /* Unused bits set. */
    begin();
    RAW("\x01\x84\x80\x80\x80\x70\x01\x60\x00\x00");
    CHECK(layout_bad(9, "integer too large: section size (LEB128 u32)"));
    begin();
    RAW("\x01\x84\x80\x80\x80\x10\x01\x60\x00\x00");
    CHECK(layout_bad(9, "integer too large: section size (LEB128 u32)"));
    /* Padded to five bytes: fine. */
    begin();
    RAW("\x01\x84\x80\x80\x80\x00\x01\x60\x00\x00");
    CHECK(layout_ok(1));
}

/* The order the specification requires; datacount sits between element and code. */
static const uint8_t spec_order[] = {
    PW_SEC_TYPE, PW_SEC_IMPORT, PW_SEC_FUNCTION, PW_SEC_TABLE, PW_SEC_MEMORY,
    PW_SEC_GLOBAL, PW_SEC_EXPORT, PW_SEC_START, PW_SEC_ELEMENT, PW_SEC_DATACOUNT,
    PW_SEC_CODE, PW_SEC_DATA,
};

static size_t rank_of(unsigned id)
{
    for (size_t i = 0; i < sizeof spec_order; i++)
        if (spec_order[i] == id)
            return i;
    return SIZE_MAX;
}

/* Every ordered pair of distinct known sections: in order or rejected. */
static void order_each_pair(void)
{
    char msg[128];
    for (unsigned a = 1; a <= PW_SEC_MAX_ID; a++) {
        for (unsigned b = 1; b <= PW_SEC_MAX_ID; b++) {
            if (a == b)
                continue;
            begin();
            SEC((uint8_t)a, "\x00");
            SEC((uint8_t)b, "\x00");
            if (rank_of(a) < rank_of(b)) {
                CHECK(layout_ok(2));
            } else {
                snprintf(msg, sizeof msg,
                         "unexpected content after last section: %s section out of order",
                         pw_section_name(b));
                CHECK(layout_bad(11, msg));
            }
        }
    }
}

static void order_full_module(void)
{
    loaded l;
    begin();
    for (size_t i = 0; i < sizeof spec_order; i++)
        SEC(spec_order[i], "\x00");
    l = load();
    CHECK_INT(l.rc, PERCH_OK);
    CHECK_INT(l.layout.count, sizeof spec_order);
    for (size_t i = 0; i < sizeof spec_order && l.rc == PERCH_OK; i++) {
        const pw_section *s = pw_layout_section(&l.layout, spec_order[i]);
        CHECK_INT(l.layout.known[spec_order[i]], i + 1);
        CHECK(s != NULL && s->start == 8 + 3 * i);
    }
    unload(&l);

    /* datacount after code, data before datacount */
    begin();
    SEC(PW_SEC_ELEMENT, "\x00");
    SEC(PW_SEC_CODE, "\x00");
    SEC(PW_SEC_DATACOUNT, "\x00");
    CHECK(layout_bad(14, "unexpected content after last section: datacount section out of order"));
    begin();
    SEC(PW_SEC_DATA, "\x00");
    SEC(PW_SEC_DATACOUNT, "\x00");
    CHECK(layout_bad(11, "unexpected content after last section: datacount section out of order"));
    /* An order violation separated by custom sections is still one. */
    begin();
    SEC(PW_SEC_EXPORT, "\x00");
    custom("x", "");
    custom("y", "");
    SEC(PW_SEC_IMPORT, "\x00");
    CHECK(layout_bad(19, "unexpected content after last section: import section out of order"));
}

static void duplicates(void)
{
    char msg[128];
    for (unsigned id = 1; id <= PW_SEC_MAX_ID; id++) {
        begin();
        SEC((uint8_t)id, "\x00");
        SEC((uint8_t)id, "\x00");
        snprintf(msg, sizeof msg, "unexpected content after last section: duplicate %s section",
                 pw_section_name(id));
        CHECK(layout_bad(11, msg));
    }
    /* Separated by a custom section. */
    begin();
    SEC(PW_SEC_MEMORY, "\x00");
    custom("name", "");
    SEC(PW_SEC_MEMORY, "\x00");
    CHECK(layout_bad(18, "unexpected content after last section: duplicate memory section"));
    /* Separated by a later section: still reported as a duplicate. */
    begin();
    SEC(PW_SEC_TYPE, "\x00");
    SEC(PW_SEC_CODE, "\x00");
    SEC(PW_SEC_TYPE, "\x00");
    CHECK(layout_bad(14, "unexpected content after last section: duplicate type section"));
}

/* Custom sections may appear anywhere, any number of times, with any name. */
static void custom_anywhere(void)
{
    loaded l;
    size_t n = 0;
    begin();
    custom("first", "");
    for (size_t i = 0; i < sizeof spec_order; i++) {
        SEC(spec_order[i], "\x00");
        custom("between", "x");
    }
    custom("", "");
    custom("first", "again");
    l = load();
    CHECK_INT(l.rc, PERCH_OK);
    CHECK_INT(l.layout.count, 2 * sizeof spec_order + 3);
    CHECK_INT(pw_layout_custom(&l.layout, l.bytes, "between", NULL), sizeof spec_order);
    CHECK_INT(pw_layout_custom(&l.layout, l.bytes, "first", NULL), 2);
    CHECK_INT(pw_layout_custom(&l.layout, l.bytes, "", NULL), 1);
    for (size_t i = 0; i < l.layout.count; i++)
        n += l.layout.sections[i].id == PW_SEC_CUSTOM;
    CHECK_INT(n, sizeof spec_order + 3);
    CHECK(pw_layout_section(&l.layout, PW_SEC_CUSTOM) == NULL);
    CHECK_INT(l.layout.known[PW_SEC_CUSTOM], 0);
    unload(&l);
}

#define NAME_EOF "unexpected end: expected custom section name"
#define NAME_UTF8 "malformed UTF-8 encoding in custom section name"

static void custom_names(void)
{
    loaded l;
    /* custom.wast: a zero-length custom section has no name. */
    begin();
    RAW("\x00\x00");
    CHECK(layout_bad(10, NAME_EOF " (LEB128 u32)"));
    begin();
    RAW("\x00\x00\x05\x01\x00\x07\x00\x00");
    CHECK(layout_bad(10, NAME_EOF " (LEB128 u32)"));
    /* A zero-length custom section before valid ones. */
    begin();
    SEC(PW_SEC_TYPE, "\x00");
    RAW("\x00\x00");
    CHECK(layout_bad(13, NAME_EOF " (LEB128 u32)"));
    /* The name runs past the section but not past the file: still wrong. */
    begin();
    RAW("\x00\x03\x05" "ab");
    SEC(PW_SEC_TYPE, "\x00");
    CHECK(layout_bad(11, NAME_EOF));
    /* binary-leb128.wast: name length 3 with one byte too many. */
    begin();
    RAW("\x00\x0a\x83\x80\x80\x80\x80\x00" "1234");
    CHECK(layout_bad(10, "integer representation too long: custom section name (LEB128 u32)"));
    /* A name that exactly fills the section; an empty name. */
    begin();
    RAW("\x00\x04\x03" "abc");
    RAW("\x00\x01\x00");
    l = load();
    CHECK_INT(l.rc, PERCH_OK);
    CHECK_INT(l.layout.count, 2);
    if (l.rc == PERCH_OK) {
        CHECK_INT(l.layout.sections[0].name, 11);
        CHECK_INT(l.layout.sections[0].name_len, 3);
        CHECK_INT(l.layout.sections[0].content, 14);
        CHECK_INT(pw_section_end(&l.layout.sections[0]), 14);
        CHECK_INT(l.layout.sections[1].name_len, 0);
        CHECK_INT(l.layout.sections[1].content, 17);
    }
    unload(&l);

    /* utf8-custom-section-id.wast: malformed names. */
    begin();
    RAW("\x00\x03\x02\xc0\x80"); /* overlong NUL */
    CHECK(layout_bad(11, NAME_UTF8));
    begin();
    RAW("\x00\x04\x03\xe0\x9f\xbf"); /* overlong U+07FF */
    CHECK(layout_bad(11, NAME_UTF8));
    begin();
    RAW("\x00\x05\x04\xf0\x80\x80\x80"); /* overlong 4-byte */
    CHECK(layout_bad(11, NAME_UTF8));
    begin();
    RAW("\x00\x04\x03\xed\xa0\x80"); /* U+D800 */
    CHECK(layout_bad(11, NAME_UTF8));
    begin();
    RAW("\x00\x04\x03\xed\xbf\xbf"); /* U+DFFF */
    CHECK(layout_bad(11, NAME_UTF8));
    begin();
    RAW("\x00\x05\x04\xf4\x90\x80\x80"); /* U+110000 */
    CHECK(layout_bad(11, NAME_UTF8));
    begin();
    RAW("\x00\x02\x01\xc3"); /* truncated at the end of the name... */
    CHECK(layout_bad(11, NAME_UTF8));
    begin();
    RAW("\x00\x04\x02\xe2\x82\xac"); /* ...even when the section continues it */
    CHECK(layout_bad(11, NAME_UTF8));
    begin();
    RAW("\x00\x02\x01\xff");
    CHECK(layout_bad(11, NAME_UTF8));
    begin();
    RAW("\x00\x02\x01\xbf"); /* a lone continuation byte */
    CHECK(layout_bad(11, NAME_UTF8));
    /* Valid multi-byte names. */
    begin();
    RAW("\x00\x0b\x0a" "\xc3\xa9" "\xe2\x82\xac" "\xf0\x9f\x90\xa6" "\x00");
    CHECK(layout_ok(1));
}

static void custom_counts(void)
{
    loaded l;
    const pw_section *first = (const pw_section *)&l; /* must be overwritten */
    begin();
    SEC(PW_SEC_TYPE, "\x00");
    custom("perch.manifest", "\xa0");
    custom("perch.manifes", "");
    custom("perch.manifestx", "");
    custom("Perch.manifest", "");
    custom("perch.signature", "{}");
    custom("perch.manifest", "\xa1");
    custom("perch.manifest", "");
    l = load();
    CHECK_INT(l.rc, PERCH_OK);
    CHECK_INT(pw_layout_custom(&l.layout, l.bytes, "perch.manifest", &first), 3);
    CHECK(first == &l.layout.sections[1]);
    CHECK_INT(pw_layout_custom(&l.layout, l.bytes, "perch.signature", &first), 1);
    CHECK(first == &l.layout.sections[5]);
    CHECK_INT(pw_layout_custom(&l.layout, l.bytes, "name", &first), 0);
    CHECK(first == NULL);
    CHECK_INT(pw_layout_custom(&l.layout, l.bytes, "perch", NULL), 0);
    CHECK(!pw_custom_is(&l.layout.sections[0], l.bytes, ""));
    CHECK(pw_custom_is(&l.layout.sections[2], l.bytes, "perch.manifes"));
    CHECK(!pw_custom_is(&l.layout.sections[2], l.bytes, "perch.manifest"));
    unload(&l);
    /* A module without sections. */
    l = load_bytes(B(HDR));
    CHECK_INT(pw_layout_custom(&l.layout, l.bytes, "perch.manifest", &first), 0);
    CHECK(first == NULL);
    unload(&l);
}

/* ---- imports ------------------------------------------------------------- */

typedef struct imports {
    loaded l;
    pw_import *v;
    size_t n;
    perch_err_kind rc;
} imports;

static imports read_imports(void)
{
    imports r;
    r.l = load();
    r.v = (pw_import *)&r; /* must be overwritten */
    r.n = 99;
    r.rc = r.l.rc;
    if (r.rc == PERCH_OK)
        r.rc = pw_imports_read(r.l.bytes, &r.l.layout, &r.v, &r.n, &r.l.err);
    return r;
}

static void imports_free(imports *r)
{
    if (r->rc == PERCH_OK)
        pb_free(r->v);
    unload(&r->l);
}

static bool name_is(const uint8_t *s, uint32_t n, const char *want)
{
    return n == strlen(want) && memcmp(s, want, n) == 0;
}

/* The import section being built is rejected at offset with msg. */
static bool imports_bad(uint64_t offset, const char *msg)
{
    imports r = read_imports();
    bool ok = r.l.rc == PERCH_OK && r.rc == PERCH_E_WASM_MALFORMED &&
              is_malformed(&r.l.err, offset, msg) && r.v == NULL && r.n == 0;
    imports_free(&r);
    return ok;
}

static void imports_decoded(void)
{
    imports r;
    begin();
    SEC(PW_SEC_TYPE, "\x01\x60\x00\x00");
    SEC(PW_SEC_IMPORT,
        "\x05"
        "\x04" "wasi" "\x05" "f\xc3\xa9_1" "\x00" "\x80\x01"   /* func type 128 */
        "\x01" "m" "\x01" "t" "\x01" "\x70" "\x00" "\x02"      /* table funcref min 2 */
        "\x01" "m" "\x03" "mem" "\x02" "\x01" "\x01" "\x90\x03" /* memory 1..400 */
        "\x00" "\x00" "\x03" "\x7e" "\x01"                      /* global mut i64 */
        "\x01" "m" "\x01" "e" "\x01" "\x6f" "\x01" "\x00" "\x05"); /* externref 0..5 */
    r = read_imports();
    CHECK_INT(r.rc, PERCH_OK);
    CHECK_INT(r.n, 5);
    if (r.rc == PERCH_OK && r.n == 5) {
        CHECK(name_is(r.v[0].module, r.v[0].module_len, "wasi"));
        CHECK(name_is(r.v[0].name, r.v[0].name_len, "f\xc3\xa9_1"));
        CHECK(r.v[0].module == r.l.bytes + 18); /* borrowed from the bytes */
        CHECK_INT(r.v[0].kind, PW_EXTERN_FUNC);
        CHECK_INT(r.v[0].type_index, 128);
        CHECK_INT(r.v[1].kind, PW_EXTERN_TABLE);
        CHECK_INT(r.v[1].valtype, 0x70);
        CHECK_INT(r.v[1].limits.min, 2);
        CHECK(!r.v[1].limits.has_max);
        CHECK_INT(r.v[1].limits.max, 0);
        CHECK_INT(r.v[2].kind, PW_EXTERN_MEMORY);
        CHECK(name_is(r.v[2].name, r.v[2].name_len, "mem"));
        CHECK_INT(r.v[2].limits.min, 1);
        CHECK(r.v[2].limits.has_max);
        CHECK_INT(r.v[2].limits.max, 400);
        CHECK_INT(r.v[3].kind, PW_EXTERN_GLOBAL);
        CHECK_INT(r.v[3].module_len, 0);
        CHECK_INT(r.v[3].name_len, 0);
        CHECK_INT(r.v[3].valtype, 0x7e);
        CHECK(r.v[3].mutable_);
        CHECK_INT(r.v[4].kind, PW_EXTERN_TABLE);
        CHECK_INT(r.v[4].valtype, 0x6f);
        CHECK(r.v[4].limits.has_max);
        CHECK_INT(r.v[4].limits.max, 5);
    }
    imports_free(&r);

    /* No import section; an empty one. */
    begin();
    SEC(PW_SEC_TYPE, "\x00");
    r = read_imports();
    CHECK_INT(r.rc, PERCH_OK);
    CHECK(r.v == NULL);
    CHECK_INT(r.n, 0);
    imports_free(&r);
    begin();
    SEC(PW_SEC_IMPORT, "\x00");
    r = read_imports();
    CHECK_INT(r.rc, PERCH_OK);
    CHECK(r.v == NULL);
    CHECK_INT(r.n, 0);
    imports_free(&r);
}

/* Import section payloads start at byte 10. */
static void imports_malformed(void)
{
    /* binary.wast: import kinds past global. */
    begin();
    SEC(PW_SEC_IMPORT, "\x01\x01m\x01" "f\x04\x00");
    CHECK(imports_bad(15, "malformed import kind 0x04 (expected 0x00 to 0x03)"));
    begin();
    SEC(PW_SEC_IMPORT, "\x01\x01m\x01" "f\x80\x00");
    CHECK(imports_bad(15, "malformed import kind 0x80 (expected 0x00 to 0x03)"));
    /* Global mutability other than 0 or 1. */
    begin();
    SEC(PW_SEC_IMPORT, "\x01\x01m\x01g\x03\x7f\x02");
    CHECK(imports_bad(17, "malformed mutability 0x02 (expected 0x00 or 0x01)"));
    /* Value types. */
    begin();
    SEC(PW_SEC_IMPORT, "\x01\x01m\x01g\x03\x40\x00");
    CHECK(imports_bad(16, "malformed value type 0x40 in imported global type"));
    begin();
    SEC(PW_SEC_IMPORT, "\x01\x01m\x01t\x01\x7a\x00\x00");
    CHECK(imports_bad(16, "malformed value type 0x7a in imported table type"));
    /* Limits flags. */
    begin();
    SEC(PW_SEC_IMPORT, "\x01\x01m\x01m\x02\x02\x00");
    CHECK(imports_bad(16, "integer too large: limits flag 0x02 in imported memory limits "
                          "(expected 0x00 or 0x01)"));
    begin();
    SEC(PW_SEC_IMPORT, "\x01\x01m\x01m\x02\x81\x00\x00");
    CHECK(imports_bad(16, "integer too large: limits flag 0x81 in imported memory limits "
                          "(expected 0x00 or 0x01)"));
    begin();
    SEC(PW_SEC_IMPORT, "\x01\x01m\x01t\x01\x70\x03\x00\x00");
    CHECK(imports_bad(17, "integer too large: limits flag 0x03 in imported table limits "
                          "(expected 0x00 or 0x01)"));
    /* A max flag with no max. */
    begin();
    SEC(PW_SEC_IMPORT, "\x01\x01m\x01m\x02\x01\x00");
    CHECK(imports_bad(18, "unexpected end: expected imported memory limits (LEB128 u32)"));
    /* Count larger than the section could hold. */
    begin();
    SEC(PW_SEC_IMPORT, "\x02\x01m\x01" "f\x00\x00");
    CHECK(imports_bad(11, "unexpected end: import count 2 exceeds the section size"));
    begin();
    SEC(PW_SEC_IMPORT, "\xff\xff\xff\xff\x0f\x01m\x01" "f\x00\x00");
    CHECK(imports_bad(15, "unexpected end: import count 4294967295 exceeds the section size"));
    /* binary.wast: 2 declared, 1 given, with room for the count check. */
    begin();
    SEC(PW_SEC_IMPORT, "\x02\x01m\x01" "f\x00\x00\x00\x00\x00");
    CHECK(imports_bad(20, "unexpected end: expected import type index (LEB128 u32)"));
    /* The count itself is missing or malformed. */
    begin();
    SEC(PW_SEC_IMPORT, "");
    CHECK(imports_bad(10, "unexpected end: expected import count (LEB128 u32)"));
    begin();
    SEC(PW_SEC_IMPORT, "\x81\x80\x80\x80\x80\x00\x01m\x01" "f\x00\x00");
    CHECK(imports_bad(10, "integer representation too long: import count (LEB128 u32)"));
    /* Names: too long for the section, bad UTF-8. */
    begin();
    SEC(PW_SEC_IMPORT, "\x01\x09m\x01" "f\x00\x00");
    SEC(PW_SEC_EXPORT, "\x00\x00\x00\x00\x00\x00\x00\x00\x00"); /* bytes the name must not take */
    CHECK(imports_bad(12, "unexpected end: expected import module name"));
    begin();
    SEC(PW_SEC_IMPORT, "\x01\x01m\x02\xed\xa0\x00\x00");
    CHECK(imports_bad(14, "malformed UTF-8 encoding in import name"));
    begin();
    SEC(PW_SEC_IMPORT, "\x01\x01\xc0\x01" "f\x00\x00");
    CHECK(imports_bad(12, "malformed UTF-8 encoding in import module name"));
    /* Type index: binary-leb128.wast, one byte too many. */
    begin();
    SEC(PW_SEC_IMPORT, "\x01\x01m\x01" "f\x00\x80\x80\x80\x80\x80\x00");
    CHECK(imports_bad(16, "integer representation too long: import type index (LEB128 u32)"));
    /* Section size mismatch: a byte left over. */
    begin();
    SEC(PW_SEC_IMPORT, "\x01\x01m\x01" "f\x00\x00\x00");
    CHECK(imports_bad(17, "section size mismatch: import section has 1 bytes left over"));
    /* Truncated inside the last import. */
    begin();
    SEC(PW_SEC_IMPORT, "\x01\x01m\x01g\x03\x7f");
    CHECK(imports_bad(17, "unexpected end: expected global mutability"));
    begin();
    SEC(PW_SEC_IMPORT, "\x01\x01m\x01t\x01");
    CHECK(imports_bad(16, "unexpected end: expected imported table type"));
}

/* ---- exports ------------------------------------------------------------- */

typedef struct exports {
    loaded l;
    pw_export *v;
    size_t n;
    perch_err_kind rc;
} exports;

static exports read_exports(void)
{
    exports r;
    r.l = load();
    r.v = (pw_export *)&r;
    r.n = 99;
    r.rc = r.l.rc;
    if (r.rc == PERCH_OK)
        r.rc = pw_exports_read(r.l.bytes, &r.l.layout, &r.v, &r.n, &r.l.err);
    return r;
}

static void exports_free(exports *r)
{
    if (r->rc == PERCH_OK)
        pb_free(r->v);
    unload(&r->l);
}

static bool exports_bad(uint64_t offset, const char *msg)
{
    exports r = read_exports();
    bool ok = r.l.rc == PERCH_OK && r.rc == PERCH_E_WASM_MALFORMED &&
              is_malformed(&r.l.err, offset, msg) && r.v == NULL && r.n == 0;
    exports_free(&r);
    return ok;
}

static void exports_decoded(void)
{
    exports r;
    begin();
    SEC(PW_SEC_EXPORT,
        "\x04"
        "\x06" "_start" "\x00" "\x00"
        "\x06" "memory" "\x02" "\x00"
        "\x00" "\x01" "\xff\xff\xff\xff\x0f"
        "\x01" "g" "\x03" "\x85\x00");
    r = read_exports();
    CHECK_INT(r.rc, PERCH_OK);
    CHECK_INT(r.n, 4);
    if (r.rc == PERCH_OK && r.n == 4) {
        CHECK(name_is(r.v[0].name, r.v[0].name_len, "_start"));
        CHECK_INT(r.v[0].kind, PW_EXTERN_FUNC);
        CHECK_INT(r.v[0].index, 0);
        CHECK(name_is(r.v[1].name, r.v[1].name_len, "memory"));
        CHECK_INT(r.v[1].kind, PW_EXTERN_MEMORY);
        CHECK_INT(r.v[2].name_len, 0);
        CHECK_INT(r.v[2].kind, PW_EXTERN_TABLE);
        CHECK_INT(r.v[2].index, UINT32_MAX);
        CHECK_INT(r.v[3].kind, PW_EXTERN_GLOBAL);
        CHECK_INT(r.v[3].index, 5);
    }
    exports_free(&r);
    begin();
    r = read_exports();
    CHECK_INT(r.rc, PERCH_OK);
    CHECK(r.v == NULL);
    CHECK_INT(r.n, 0);
    exports_free(&r);
}

static void exports_malformed(void)
{
    begin();
    SEC(PW_SEC_EXPORT, "\x01\x01" "f\x04\x00");
    CHECK(exports_bad(13, "malformed export kind 0x04 (expected 0x00 to 0x03)"));
    begin();
    SEC(PW_SEC_EXPORT, "\x01\x01" "f\xff\x00");
    CHECK(exports_bad(13, "malformed export kind 0xff (expected 0x00 to 0x03)"));
    begin();
    SEC(PW_SEC_EXPORT, "\x02\x01" "f\x00\x00");
    CHECK(exports_bad(11, "unexpected end: export count 2 exceeds the section size"));
    /* binary.wast: 2 declared, 1 given. */
    begin();
    SEC(PW_SEC_EXPORT, "\x02\x02" "f1\x00\x00\x00\x00");
    CHECK(exports_bad(18, "unexpected end: expected export index (LEB128 u32)"));
    begin();
    SEC(PW_SEC_EXPORT, "\x01\x01" "f\x00\x00\x00");
    CHECK(exports_bad(15, "section size mismatch: export section has 1 bytes left over"));
    begin();
    SEC(PW_SEC_EXPORT, "\x01\x02\xc0\x80\x00\x00");
    CHECK(exports_bad(12, "malformed UTF-8 encoding in export name"));
    begin();
    SEC(PW_SEC_EXPORT, "\x01\x01" "f\x00\x80\x80\x80\x80\x80\x00");
    CHECK(exports_bad(14, "integer representation too long: export index (LEB128 u32)"));
    begin();
    SEC(PW_SEC_EXPORT, "\x01\x01" "f\x00\x80\x80\x80\x80\x70");
    CHECK(exports_bad(14, "integer too large: export index (LEB128 u32)"));
}

/* ---- memories ------------------------------------------------------------ */

typedef struct memories {
    loaded l;
    pw_limits *v;
    size_t n;
    perch_err_kind rc;
} memories;

static memories read_memories(void)
{
    memories r;
    r.l = load();
    r.v = (pw_limits *)&r;
    r.n = 99;
    r.rc = r.l.rc;
    if (r.rc == PERCH_OK)
        r.rc = pw_memories_read(r.l.bytes, &r.l.layout, &r.v, &r.n, &r.l.err);
    return r;
}

static void memories_free(memories *r)
{
    if (r->rc == PERCH_OK)
        pb_free(r->v);
    unload(&r->l);
}

static bool memories_bad(uint64_t offset, const char *msg)
{
    memories r = read_memories();
    bool ok = r.l.rc == PERCH_OK && r.rc == PERCH_E_WASM_MALFORMED &&
              is_malformed(&r.l.err, offset, msg) && r.v == NULL && r.n == 0;
    memories_free(&r);
    return ok;
}

static void memories_decoded(void)
{
    memories r;
    begin();
    /* binary-leb128.wast: min 2 padded, max 2 padded */
    SEC(PW_SEC_MEMORY, "\x02" "\x00\x82\x80\x80\x80\x00" "\x01\x82\x00\x82\x80\x80\x80\x00");
    r = read_memories();
    CHECK_INT(r.rc, PERCH_OK);
    CHECK_INT(r.n, 2);
    if (r.rc == PERCH_OK && r.n == 2) {
        CHECK_INT(r.v[0].min, 2);
        CHECK(!r.v[0].has_max);
        CHECK_INT(r.v[0].max, 0);
        CHECK_INT(r.v[1].min, 2);
        CHECK(r.v[1].has_max);
        CHECK_INT(r.v[1].max, 2);
    }
    memories_free(&r);
    begin();
    SEC(PW_SEC_MEMORY, "\x01\x01\xff\xff\xff\xff\x0f\xff\xff\xff\xff\x0f");
    r = read_memories();
    CHECK_INT(r.rc, PERCH_OK);
    if (r.rc == PERCH_OK && r.n == 1) {
        CHECK_INT(r.v[0].min, UINT32_MAX); /* the validator bounds pages, not the reader */
        CHECK_INT(r.v[0].max, UINT32_MAX);
    }
    memories_free(&r);
    begin();
    r = read_memories();
    CHECK_INT(r.rc, PERCH_OK);
    CHECK(r.v == NULL);
    CHECK_INT(r.n, 0);
    memories_free(&r);
}

static void memories_malformed(void)
{
    /* binary-leb128.wast */
    begin();
    SEC(PW_SEC_MEMORY, "\x01\x00\x82\x80\x80\x80\x80\x00");
    CHECK(memories_bad(12, "integer representation too long: memory limits (LEB128 u32)"));
    begin();
    SEC(PW_SEC_MEMORY, "\x01\x01\x82\x00\x82\x80\x80\x80\x80\x00");
    CHECK(memories_bad(14, "integer representation too long: memory limits (LEB128 u32)"));
    begin();
    SEC(PW_SEC_MEMORY, "\x01\x00\x82\x80\x80\x80\x70");
    CHECK(memories_bad(12, "integer too large: memory limits (LEB128 u32)"));
    begin();
    SEC(PW_SEC_MEMORY, "\x01\x00\x82\x80\x80\x80\x40");
    CHECK(memories_bad(12, "integer too large: memory limits (LEB128 u32)"));
    begin();
    SEC(PW_SEC_MEMORY, "\x01\x01\x82\x00\x82\x80\x80\x80\x10");
    CHECK(memories_bad(14, "integer too large: memory limits (LEB128 u32)"));
    /* Flags. */
    begin();
    SEC(PW_SEC_MEMORY, "\x01\x02\x00");
    CHECK(memories_bad(11, "integer too large: limits flag 0x02 in memory limits "
                           "(expected 0x00 or 0x01)"));
    begin();
    SEC(PW_SEC_MEMORY, "\x01\x03\x00\x00");
    CHECK(memories_bad(11, "integer too large: limits flag 0x03 in memory limits "
                           "(expected 0x00 or 0x01)"));
    /* Counts and sizes. */
    begin();
    SEC(PW_SEC_MEMORY, "\x02\x00\x00");
    CHECK(memories_bad(11, "unexpected end: memory count 2 exceeds the section size"));
    begin();
    SEC(PW_SEC_MEMORY, "\x02\x01\x00");
    CHECK(memories_bad(11, "unexpected end: memory count 2 exceeds the section size"));
    begin();
    SEC(PW_SEC_MEMORY, "\x01\x00\x00\x00");
    CHECK(memories_bad(13, "section size mismatch: memory section has 1 bytes left over"));
    begin();
    SEC(PW_SEC_MEMORY, "\x01\x01\x00");
    CHECK(memories_bad(13, "unexpected end: expected memory limits (LEB128 u32)"));
    begin();
    SEC(PW_SEC_MEMORY, "\x01\x00");
    CHECK(memories_bad(11, "unexpected end: memory count 1 exceeds the section size"));
}

/* ---- allocation failure -------------------------------------------------- */

/* Fail each allocation in turn; every failure is a clean io error with
 * nothing left allocated (the leak checker proves the latter). */
static void layout_alloc_failure(void)
{
    int failures = 0;
    begin();
    for (int i = 0; i < 300; i++)
        custom("c", "");
    for (uint64_t n = 1; n < 100; n++) {
        loaded l;
        uint8_t *bytes = malloc(m.len);
        if (!bytes)
            die("out of memory");
        memcpy(bytes, m.data, m.len);
        memset(&l, 0, sizeof l);
        perch_err_clear(&l.err);
        pb_alloc_fail_after(n);
        l.rc = pw_layout_read(bytes, m.len, &l.layout, &l.err);
        pb_alloc_fail_after(0);
        if (l.rc == PERCH_OK) {
            CHECK_INT(l.layout.count, 300);
            pw_layout_free(&l.layout);
            free(bytes);
            break;
        }
        failures++;
        CHECK_INT(l.rc, PERCH_E_IO);
        CHECK_STR(l.err.message, "out of memory reading the section table");
        CHECK(layout_empty(&l.layout));
        free(bytes);
    }
    CHECK_INT(failures, 6); /* 16, 32, 64, 128, 256, 512 entries */
    /* Without a perch_err the kind still says out of memory. */
    {
        pw_layout layout;
        pb_alloc_fail_after(1);
        CHECK_INT(pw_layout_read(m.data, m.len, &layout, NULL), PERCH_E_IO);
        pb_alloc_fail_after(0);
        CHECK(layout_empty(&layout));
    }
}

static void contents_alloc_failure(void)
{
    imports ri;
    exports re;
    memories rm;
    begin();
    SEC(PW_SEC_IMPORT, "\x01\x01m\x01" "f\x00\x00");
    SEC(PW_SEC_MEMORY, "\x01\x00\x01");
    SEC(PW_SEC_EXPORT, "\x01\x01" "f\x00\x00");

    ri.l = load();
    CHECK_INT(ri.l.rc, PERCH_OK);
    pb_alloc_fail_after(1);
    ri.rc = pw_imports_read(ri.l.bytes, &ri.l.layout, &ri.v, &ri.n, &ri.l.err);
    pb_alloc_fail_after(0);
    CHECK_INT(ri.rc, PERCH_E_IO);
    CHECK_STR(ri.l.err.message, "out of memory reading the import section");
    CHECK(ri.v == NULL);
    CHECK_INT(ri.n, 0);
    unload(&ri.l);

    re.l = load();
    pb_alloc_fail_after(1);
    re.rc = pw_exports_read(re.l.bytes, &re.l.layout, &re.v, &re.n, &re.l.err);
    pb_alloc_fail_after(0);
    CHECK_INT(re.rc, PERCH_E_IO);
    CHECK_STR(re.l.err.message, "out of memory reading the export section");
    CHECK(re.v == NULL);
    unload(&re.l);

    rm.l = load();
    pb_alloc_fail_after(1);
    rm.rc = pw_memories_read(rm.l.bytes, &rm.l.layout, &rm.v, &rm.n, &rm.l.err);
    pb_alloc_fail_after(0);
    CHECK_INT(rm.rc, PERCH_E_IO);
    CHECK_STR(rm.l.err.message, "out of memory reading the memory section");
    CHECK(rm.v == NULL);
    unload(&rm.l);
}

/* With no perch_err to fill, failures still return the kind. */
static void null_err(void)
{
    pw_layout layout;
    static const uint8_t dup[] = HDR "\x01\x00\x01\x00";
    static const uint8_t badname[] = HDR "\x00\x02\x01\xff";
    static const uint8_t bad[] = HDR "\x05\x02\x01\x02";
    pw_limits *v;
    size_t n;
    CHECK_INT(pw_layout_read(B("\0as"), &layout, NULL), PERCH_E_WASM_MALFORMED);
    CHECK_INT(pw_layout_read(dup, sizeof dup - 1, &layout, NULL), PERCH_E_WASM_MALFORMED);
    CHECK(layout_empty(&layout));
    CHECK_INT(pw_layout_read(badname, sizeof badname - 1, &layout, NULL), PERCH_E_WASM_MALFORMED);
    CHECK_INT(pw_layout_read(bad, sizeof bad - 1, &layout, NULL), PERCH_OK);
    CHECK_INT(pw_memories_read(bad, &layout, &v, &n, NULL), PERCH_E_WASM_MALFORMED);
    pw_layout_free(&layout);
}

int main(void)
{
    RUN(preamble);
    RUN(section_names);
    RUN(each_known_section);
    RUN(unknown_section_ids);
    RUN(section_size_limits);
    RUN(section_size_leb);
    RUN(order_each_pair);
    RUN(order_full_module);
    RUN(duplicates);
    RUN(custom_anywhere);
    RUN(custom_names);
    RUN(custom_counts);
    RUN(imports_decoded);
    RUN(imports_malformed);
    RUN(exports_decoded);
    RUN(exports_malformed);
    RUN(memories_decoded);
    RUN(memories_malformed);
    RUN(layout_alloc_failure);
    RUN(contents_alloc_failure);
    RUN(null_err);
    pb_buf_free(&m);
    return CHECK_DONE();
}
