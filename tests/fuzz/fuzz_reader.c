/*
 * fuzz_reader.c: the module reader on arbitrary bytes.
 *
 * Reads the layout, then the import, export and memory sections, and checks
 * what a caller relies on: every offset handed out lies inside the input,
 * every name is well-formed UTF-8, and a failure is a tagged error with an
 * offset inside the input. The same input is read again with an
 * allocation failing, which must give an io error or the same answer and
 * leak nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "wasm/reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant the reader promises does not hold: a finding. */
#define EXPECT(cond)                                                           \
    do {                                                                       \
        if (!(cond))                                                           \
            abort();                                                           \
    } while (0)

static bool inside(const uint8_t *data, size_t size, const uint8_t *p, size_t n)
{
    return p >= data && (size_t)(p - data) <= size && n <= size - (size_t)(p - data);
}

static void check_failure(perch_err_kind rc, const perch_err *err, size_t size)
{
    EXPECT(rc == err->kind);
    EXPECT(rc == PERCH_E_WASM_MALFORMED || rc == PERCH_E_IO);
    EXPECT(err->message[0] != '\0');
    EXPECT(memchr(err->message, '\0', sizeof err->message) != NULL);
    if (rc == PERCH_E_WASM_MALFORMED)
        EXPECT(err->offset <= size);
}

static void check_layout(const uint8_t *data, size_t size, const pw_layout *l)
{
    unsigned last = 0;
    for (size_t i = 0; i < l->count; i++) {
        const pw_section *s = &l->sections[i];
        EXPECT(s->id <= PW_SEC_MAX_ID);
        EXPECT(s->start >= 8 && s->start < s->payload);
        EXPECT(inside(data, size, data + s->payload, s->size));
        EXPECT(i == 0 || s->start == pw_section_end(&l->sections[i - 1]));
        if (s->id == PW_SEC_CUSTOM) {
            EXPECT(s->name >= s->payload && s->content >= s->name + s->name_len);
            EXPECT(s->content <= pw_section_end(s));
            EXPECT(pb_utf8_valid(data + s->name, s->name_len));
            EXPECT(pw_custom_is(s, data, "perch.manifest") ==
                   (s->name_len == 14 && memcmp(data + s->name, "perch.manifest", 14) == 0));
        } else {
            EXPECT(l->known[s->id] == i + 1);
            EXPECT(pw_layout_section(l, s->id) == s);
            EXPECT(s->id != last);
            last = s->id;
        }
    }
    EXPECT(l->count == 0 || pw_section_end(&l->sections[l->count - 1]) == size);
    (void)pw_layout_custom(l, data, "perch.manifest", NULL);
}

/* Read everything; returns a digest of the answer to compare runs. */
static uint64_t read_all(const uint8_t *data, size_t size)
{
    pw_layout layout;
    perch_err err;
    pw_import *imports = NULL;
    pw_export *exports = NULL;
    pw_limits *memories = NULL;
    size_t nimports = 0, nexports = 0, nmemories = 0;
    perch_err_kind rc;
    uint64_t digest = 0;

    perch_err_clear(&err);
    rc = pw_layout_read(data, size, &layout, &err);
    if (rc != PERCH_OK) {
        check_failure(rc, &err, size);
        EXPECT(layout.sections == NULL && layout.count == 0);
        return ((uint64_t)rc << 56) ^ err.offset;
    }
    check_layout(data, size, &layout);
    digest = layout.count;

    rc = pw_imports_read(data, &layout, &imports, &nimports, &err);
    if (rc == PERCH_OK) {
        for (size_t i = 0; i < nimports; i++) {
            const pw_import *im = &imports[i];
            EXPECT(inside(data, size, im->module, im->module_len));
            EXPECT(inside(data, size, im->name, im->name_len));
            EXPECT(pb_utf8_valid(im->module, im->module_len));
            EXPECT(pb_utf8_valid(im->name, im->name_len));
            EXPECT(im->kind <= PW_EXTERN_GLOBAL);
            EXPECT(!im->limits.has_max ? im->limits.max == 0 : true);
        }
        digest = digest * 31 + nimports;
    } else {
        check_failure(rc, &err, size);
        EXPECT(imports == NULL && nimports == 0);
        digest = digest * 31 + err.offset;
    }

    rc = pw_exports_read(data, &layout, &exports, &nexports, &err);
    if (rc == PERCH_OK) {
        for (size_t i = 0; i < nexports; i++) {
            EXPECT(inside(data, size, exports[i].name, exports[i].name_len));
            EXPECT(pb_utf8_valid(exports[i].name, exports[i].name_len));
            EXPECT(exports[i].kind <= PW_EXTERN_GLOBAL);
        }
        digest = digest * 31 + nexports;
    } else {
        check_failure(rc, &err, size);
        EXPECT(exports == NULL && nexports == 0);
        digest = digest * 31 + err.offset;
    }

    rc = pw_memories_read(data, &layout, &memories, &nmemories, &err);
    if (rc == PERCH_OK) {
        for (size_t i = 0; i < nmemories; i++)
            EXPECT(memories[i].min <= UINT32_MAX && memories[i].max <= UINT32_MAX);
        digest = digest * 31 + nmemories;
    } else {
        check_failure(rc, &err, size);
        EXPECT(memories == NULL && nmemories == 0);
        digest = digest * 31 + err.offset;
    }

    pb_free(imports);
    pb_free(exports);
    pb_free(memories);
    pw_layout_free(&layout);
    EXPECT(layout.sections == NULL && layout.count == 0);
    return digest;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t clean = read_all(data, size);
    /* Fail one of the first allocations; any answer but a crash or a leak
     * is acceptable, and only an allocation failure may change it. */
    pb_alloc_fail_after(1 + (size % 4));
    (void)read_all(data, size);
    pb_alloc_fail_after(0);
    EXPECT(read_all(data, size) == clean);
    return 0;
}
