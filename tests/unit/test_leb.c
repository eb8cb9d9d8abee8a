/*
 * test_leb.c: the LEB128 limits of the WebAssembly binary format
 * (binary-leb128.wast) for every width the reader decodes, plus the other
 * cursor primitives. Each input is copied into a heap block that ends
 * exactly where the input ends, so a read past the end is caught by the
 * sanitizers, and starts PAD bytes in, so every offset checked is absolute.
 */
#include <stdlib.h>

#include "check.h"
#include "wasm/cursor.h"

#define PAD 3

/* The bytes of a string literal and their count (the literal's NUL excluded). */
#define B(s) (const uint8_t *)(s), (sizeof(s) - 1)

typedef enum leb_kind { U32, U64, S32, S33, S64 } leb_kind;

static const char *const kind_names[] = {"u32", "u64", "s32", "s33", "s64"};

typedef struct decoded {
    bool ok;
    uint64_t value; /* the result's bit pattern, signed results sign-extended */
    size_t pos;     /* cursor position afterwards */
    perch_err err;
} decoded;

static decoded decode(leb_kind kind, const uint8_t *in, size_t n)
{
    decoded d;
    uint8_t *buf = malloc(PAD + n);
    pw_cursor c;

    memset(&d, 0, sizeof d);
    if (!buf) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    memset(buf, 0xff, PAD); /* continuation bits before the start: never read */
    if (n)
        memcpy(buf + PAD, in, n);
    perch_err_clear(&d.err);
    c = pw_cursor_make(buf, PAD, PAD + n, &d.err);
    switch (kind) {
    case U32: {
        uint32_t v = 0;
        d.ok = pw_u32(&c, &v, "value");
        d.value = v;
        break;
    }
    case U64:
        d.ok = pw_u64(&c, &d.value, "value");
        break;
    case S32: {
        int32_t v = 0;
        d.ok = pw_s32(&c, &v, "value");
        d.value = (uint64_t)(int64_t)v;
        break;
    }
    case S33: {
        int64_t v = 0;
        d.ok = pw_s33(&c, &v, "value");
        d.value = (uint64_t)v;
        break;
    }
    case S64: {
        int64_t v = 0;
        d.ok = pw_s64(&c, &v, "value");
        d.value = (uint64_t)v;
        break;
    }
    }
    d.pos = c.pos;
    free(buf);
    return d;
}

/* The input decodes to want and takes exactly len bytes. */
static bool leb_ok(leb_kind kind, const uint8_t *in, size_t n, uint64_t want, size_t len)
{
    decoded d = decode(kind, in, n);
    if (!d.ok) {
        fprintf(stderr, "  %s: rejected: %s (%s)\n", kind_names[kind], d.err.message,
                d.err.detail);
        return false;
    }
    if (d.value != want || d.pos != PAD + len || d.err.kind != PERCH_OK) {
        fprintf(stderr, "  %s: got 0x%" PRIx64 " after %zu bytes, expected 0x%" PRIx64
                " after %zu\n", kind_names[kind], d.value, d.pos - PAD, want, len);
        return false;
    }
    return true;
}

/* The input is rejected as wasm_malformed at byte at (from the value's start),
 * with the message "PREFIX: value (LEB128 KIND)". */
static bool leb_bad(leb_kind kind, const uint8_t *in, size_t n, size_t at, const char *prefix)
{
    decoded d = decode(kind, in, n);
    char msg[256], detail[64];
    snprintf(msg, sizeof msg, "%s (LEB128 %s)", prefix, kind_names[kind]);
    snprintf(detail, sizeof detail, "at byte %zu (0x%zx)", PAD + at, PAD + at);
    if (d.ok) {
        fprintf(stderr, "  %s: accepted as 0x%" PRIx64 ", expected \"%s\"\n",
                kind_names[kind], d.value, msg);
        return false;
    }
    if (d.err.kind != PERCH_E_WASM_MALFORMED || d.err.offset != PAD + at ||
        strcmp(d.err.message, msg) != 0 || strcmp(d.err.detail, detail) != 0) {
        fprintf(stderr, "  %s: %s: \"%s\" (%s), expected \"%s\" (%s)\n", kind_names[kind],
                perch_err_kind_name(d.err.kind), d.err.message, d.err.detail, msg, detail);
        return false;
    }
    return true;
}

#define TOO_LONG "integer representation too long: value"
#define TOO_LARGE "integer too large: value"
#define EOF_MSG "unexpected end: expected value"

static void u32_values(void)
{
    CHECK(leb_ok(U32, B("\x00"), 0, 1));
    CHECK(leb_ok(U32, B("\x7f"), 127, 1));
    CHECK(leb_ok(U32, B("\x80\x01"), 128, 2));
    CHECK(leb_ok(U32, B("\xe5\x8e\x26"), 624485, 3));
    CHECK(leb_ok(U32, B("\xff\xff\xff\xff\x0f"), UINT32_MAX, 5));
    /* Trailing bytes are not consumed. */
    CHECK(leb_ok(U32, B("\x05\x06"), 5, 1));
    CHECK(leb_ok(U32, B("\x85\x00\x06"), 5, 2));
}

/* binary-leb128.wast: padding with zero groups is allowed up to 5 bytes. */
static void u32_padding(void)
{
    CHECK(leb_ok(U32, B("\x82\x00"), 2, 2));
    CHECK(leb_ok(U32, B("\x82\x80\x80\x80\x00"), 2, 5));
    CHECK(leb_ok(U32, B("\x80\x80\x80\x80\x00"), 0, 5));
}

static void u32_too_long(void)
{
    CHECK(leb_bad(U32, B("\x82\x80\x80\x80\x80\x00"), 0, TOO_LONG));
    CHECK(leb_bad(U32, B("\x80\x80\x80\x80\x80\x00"), 0, TOO_LONG));
    CHECK(leb_bad(U32, B("\xff\xff\xff\xff\xff\x0f"), 0, TOO_LONG));
}

/* The fifth byte carries 4 bits; the 3 above must be zero. */
static void u32_too_large(void)
{
    CHECK(leb_bad(U32, B("\x82\x80\x80\x80\x70"), 0, TOO_LARGE));
    CHECK(leb_bad(U32, B("\x82\x80\x80\x80\x40"), 0, TOO_LARGE));
    CHECK(leb_bad(U32, B("\x82\x80\x80\x80\x10"), 0, TOO_LARGE));
    CHECK(leb_bad(U32, B("\xff\xff\xff\xff\x1f"), 0, TOO_LARGE));
    CHECK(leb_bad(U32, B("\x80\x80\x80\x80\x10"), 0, TOO_LARGE)); /* 2^32 */
}

static void u32_truncated(void)
{
    CHECK(leb_bad(U32, B(""), 0, EOF_MSG));
    CHECK(leb_bad(U32, B("\x80"), 1, EOF_MSG));
    CHECK(leb_bad(U32, B("\xff\xff"), 2, EOF_MSG));
    CHECK(leb_bad(U32, B("\x80\x80\x80\x80"), 4, EOF_MSG));
}

/* The cursor's end bounds the read, not the buffer: a byte after end that
 * would complete the value is never looked at. */
static void cursor_end_bounds_leb(void)
{
    static const uint8_t bytes[] = {0x80, 0x80, 0x01};
    perch_err err;
    uint32_t v = 7;
    pw_cursor c = pw_cursor_make(bytes, 0, 2, &err);
    perch_err_clear(&err);
    CHECK(!pw_u32(&c, &v, "count"));
    CHECK_INT(err.kind, PERCH_E_WASM_MALFORMED);
    CHECK_INT(err.offset, 2);
    CHECK_STR(err.message, "unexpected end: expected count (LEB128 u32)");
    CHECK_INT(v, 7); /* the output is untouched on failure */
}

static void u64_limits(void)
{
    CHECK(leb_ok(U64, B("\x00"), 0, 1));
    CHECK(leb_ok(U64, B("\xff\xff\xff\xff\x0f"), UINT32_MAX, 5));
    CHECK(leb_ok(U64, B("\x80\x80\x80\x80\x10"), (uint64_t)1 << 32, 5));
    CHECK(leb_ok(U64, B("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"), UINT64_MAX, 10));
    CHECK(leb_ok(U64, B("\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01"), (uint64_t)1 << 63, 10));
    CHECK(leb_ok(U64, B("\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00"), 0, 10));
    /* The tenth byte carries 1 bit. */
    CHECK(leb_bad(U64, B("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02"), 0, TOO_LARGE));
    CHECK(leb_bad(U64, B("\x80\x80\x80\x80\x80\x80\x80\x80\x80\x7e"), 0, TOO_LARGE));
    CHECK(leb_bad(U64, B("\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00"), 0, TOO_LONG));
    CHECK(leb_bad(U64, B("\x80\x80\x80\x80\x80\x80\x80\x80\x80\x81"), 0, TOO_LONG));
    CHECK(leb_bad(U64, B(""), 0, EOF_MSG));
    CHECK(leb_bad(U64, B("\x80\x80\x80\x80\x80\x80\x80\x80\x80"), 9, EOF_MSG));
}

static void s32_values(void)
{
    CHECK(leb_ok(S32, B("\x00"), 0, 1));
    CHECK(leb_ok(S32, B("\x3f"), 63, 1));
    CHECK(leb_ok(S32, B("\x40"), (uint64_t)-64, 1));
    CHECK(leb_ok(S32, B("\x7f"), (uint64_t)-1, 1));
    CHECK(leb_ok(S32, B("\xc0\x00"), 64, 2));
    CHECK(leb_ok(S32, B("\x80\x7f"), (uint64_t)-128, 2));
    CHECK(leb_ok(S32, B("\xc0\xbb\x78"), (uint64_t)-123456, 3));
    CHECK(leb_ok(S32, B("\xff\xff\xff\xff\x07"), INT32_MAX, 5));
    CHECK(leb_ok(S32, B("\x80\x80\x80\x80\x78"), (uint64_t)(int64_t)INT32_MIN, 5));
}

/* binary-leb128.wast: i32.const 0 and -1 padded to 2 and 5 bytes. */
static void s32_padding(void)
{
    CHECK(leb_ok(S32, B("\x80\x00"), 0, 2));
    CHECK(leb_ok(S32, B("\xff\x7f"), (uint64_t)-1, 2));
    CHECK(leb_ok(S32, B("\x80\x80\x80\x80\x00"), 0, 5));
    CHECK(leb_ok(S32, B("\xff\xff\xff\xff\x7f"), (uint64_t)-1, 5));
}

static void s32_too_long(void)
{
    CHECK(leb_bad(S32, B("\x80\x80\x80\x80\x80\x00"), 0, TOO_LONG));
    CHECK(leb_bad(S32, B("\xff\xff\xff\xff\xff\x7f"), 0, TOO_LONG));
}

/* The fifth byte carries 4 bits; the 3 above must copy bit 31. */
static void s32_too_large(void)
{
    CHECK(leb_bad(S32, B("\x80\x80\x80\x80\x70"), 0, TOO_LARGE));
    CHECK(leb_bad(S32, B("\xff\xff\xff\xff\x0f"), 0, TOO_LARGE));
    CHECK(leb_bad(S32, B("\x80\x80\x80\x80\x1f"), 0, TOO_LARGE));
    CHECK(leb_bad(S32, B("\xff\xff\xff\xff\x4f"), 0, TOO_LARGE));
    CHECK(leb_bad(S32, B("\x80\x80\x80\x80\x08"), 0, TOO_LARGE)); /* 2^31 */
    CHECK(leb_bad(S32, B("\xff\xff\xff\xff\x77"), 0, TOO_LARGE)); /* -2^31 - 1 */
}

static void s32_truncated(void)
{
    CHECK(leb_bad(S32, B(""), 0, EOF_MSG));
    CHECK(leb_bad(S32, B("\xc0"), 1, EOF_MSG));
    CHECK(leb_bad(S32, B("\xff\xff\xff\xff"), 4, EOF_MSG));
}

/* s33: block types. The fifth byte carries 5 bits, 2 above copy bit 32. */
static void s33_limits(void)
{
    CHECK(leb_ok(S33, B("\x40"), (uint64_t)-64, 1)); /* the empty block type */
    CHECK(leb_ok(S33, B("\x7f"), (uint64_t)-1, 1));
    CHECK(leb_ok(S33, B("\x00"), 0, 1));
    CHECK(leb_ok(S33, B("\xff\xff\xff\xff\x0f"), UINT32_MAX, 5));
    CHECK(leb_ok(S33, B("\x80\x80\x80\x80\x70"), (uint64_t)-((int64_t)1 << 32), 5));
    CHECK(leb_ok(S33, B("\x80\x80\x80\x80\x00"), 0, 5));
    CHECK(leb_ok(S33, B("\xff\xff\xff\xff\x7f"), (uint64_t)-1, 5));
    CHECK(leb_bad(S33, B("\x80\x80\x80\x80\x10"), 0, TOO_LARGE));
    CHECK(leb_bad(S33, B("\xff\xff\xff\xff\x6f"), 0, TOO_LARGE));
    CHECK(leb_bad(S33, B("\x80\x80\x80\x80\x20"), 0, TOO_LARGE));
    CHECK(leb_bad(S33, B("\x80\x80\x80\x80\x80\x00"), 0, TOO_LONG));
    CHECK(leb_bad(S33, B("\x80\x80"), 2, EOF_MSG));
}

static void s64_values(void)
{
    CHECK(leb_ok(S64, B("\x00"), 0, 1));
    CHECK(leb_ok(S64, B("\x7f"), (uint64_t)-1, 1));
    CHECK(leb_ok(S64, B("\x80\x80\x80\x80\x10"), (uint64_t)1 << 32, 5));
    CHECK(leb_ok(S64, B("\x80\x80\x80\x80\x70"), (uint64_t)-((int64_t)1 << 32), 5));
    CHECK(leb_ok(S64, B("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00"), INT64_MAX, 10));
    CHECK(leb_ok(S64, B("\x80\x80\x80\x80\x80\x80\x80\x80\x80\x7f"), (uint64_t)INT64_MIN, 10));
    /* binary-leb128.wast: i64.const 0 and -1 padded to 2 and 10 bytes */
    CHECK(leb_ok(S64, B("\x80\x00"), 0, 2));
    CHECK(leb_ok(S64, B("\xff\x7f"), (uint64_t)-1, 2));
    CHECK(leb_ok(S64, B("\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00"), 0, 10));
    CHECK(leb_ok(S64, B("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f"), (uint64_t)-1, 10));
}

/* The tenth byte carries 1 bit (bit 63); the 6 above must copy it. */
static void s64_limits(void)
{
    CHECK(leb_bad(S64, B("\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00"), 0, TOO_LONG));
    CHECK(leb_bad(S64, B("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f"), 0, TOO_LONG));
    CHECK(leb_bad(S64, B("\x80\x80\x80\x80\x80\x80\x80\x80\x80\x7e"), 0, TOO_LARGE));
    CHECK(leb_bad(S64, B("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"), 0, TOO_LARGE));
    CHECK(leb_bad(S64, B("\x80\x80\x80\x80\x80\x80\x80\x80\x80\x02"), 0, TOO_LARGE));
    CHECK(leb_bad(S64, B("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x41"), 0, TOO_LARGE));
    CHECK(leb_bad(S64, B(""), 0, EOF_MSG));
    CHECK(leb_bad(S64, B("\xff\xff\xff\xff\xff\xff\xff\xff\xff"), 9, EOF_MSG));
}

/* A failing read with no error to fill still fails cleanly. */
static void null_err(void)
{
    static const uint8_t bytes[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    pw_cursor c = pw_cursor_make(bytes, 0, sizeof bytes, NULL);
    uint32_t v;
    int64_t s;
    CHECK(!pw_u32(&c, &v, "x"));
    c = pw_cursor_make(bytes, 0, sizeof bytes, NULL);
    CHECK(!pw_s32(&c, (int32_t *)&v, "x"));
    c = pw_cursor_make(bytes, 0, 2, NULL);
    CHECK(!pw_s64(&c, &s, "x"));
    c = pw_cursor_make(bytes, 0, 0, NULL);
    CHECK(!pw_u8(&c, (uint8_t *)&v, "x"));
}

static void bytes_and_u8(void)
{
    static const uint8_t bytes[] = {1, 2, 3, 4};
    const uint8_t *p = NULL;
    uint8_t b = 0;
    perch_err err;
    pw_cursor c = pw_cursor_make(bytes, 1, 4, &err);

    perch_err_clear(&err);
    CHECK(pw_u8(&c, &b, "flag"));
    CHECK_INT(b, 2);
    CHECK_INT(pw_left(&c), 2);
    CHECK(!pw_bytes(&c, 3, &p, "payload"));
    CHECK_INT(err.kind, PERCH_E_WASM_MALFORMED);
    CHECK_INT(err.offset, 2);
    CHECK_STR(err.message, "unexpected end: expected payload");
    CHECK_STR(err.detail, "at byte 2 (0x2)");

    c = pw_cursor_make(bytes, 1, 4, &err);
    CHECK(pw_bytes(&c, 3, &p, "payload"));
    CHECK(p == bytes + 1);
    CHECK_INT(pw_left(&c), 0);
    CHECK(!pw_u8(&c, &b, "flag"));
    CHECK_INT(err.offset, 4);
    CHECK_STR(err.message, "unexpected end: expected flag");
    /* A length near SIZE_MAX must not wrap the bounds check. */
    c = pw_cursor_make(bytes, 1, 4, &err);
    CHECK(!pw_bytes(&c, SIZE_MAX, &p, "payload"));
    CHECK_INT(err.offset, 1);
}

/* A name: u32 length, then that many bytes of UTF-8. */
static bool name_bad(const uint8_t *in, size_t n, size_t at, const char *msg)
{
    uint8_t *buf = malloc(n ? n : 1);
    perch_err err;
    const uint8_t *s;
    uint32_t len;
    pw_cursor c;
    bool ok;
    if (!buf)
        exit(1);
    memcpy(buf, in, n);
    perch_err_clear(&err);
    c = pw_cursor_make(buf, 0, n, &err);
    ok = !pw_name(&c, &s, &len, "export name") && err.kind == PERCH_E_WASM_MALFORMED &&
         err.offset == at && strcmp(err.message, msg) == 0;
    if (!ok)
        fprintf(stderr, "  name: %s at %" PRIu64 ", expected \"%s\" at %zu\n", err.message,
                err.offset, msg, at);
    free(buf);
    return ok;
}

static void names(void)
{
    static const uint8_t good[] = {0x05, 'h', 0xc3, 0xa9, 'l', 'o', 0xff};
    static const char bad_utf8[] = "malformed UTF-8 encoding in export name";
    perch_err err;
    const uint8_t *s = NULL;
    uint32_t len = 0;
    pw_cursor c = pw_cursor_make(good, 0, sizeof good, &err);

    CHECK(pw_name(&c, &s, &len, "export name"));
    CHECK_INT(len, 5);
    CHECK(s == good + 1);
    CHECK_INT(c.pos, 6);

    c = pw_cursor_make(good, 0, 1, &err);
    CHECK(!pw_name(&c, &s, &len, "export name"));

    c = pw_cursor_make((const uint8_t *)"\x00", 0, 1, &err);
    CHECK(pw_name(&c, &s, &len, "export name")); /* an empty name is fine */
    CHECK_INT(len, 0);
    CHECK(name_bad(B(""), 0, "unexpected end: expected export name (LEB128 u32)"));
    CHECK(name_bad(B("\x03" "ab"), 1, "unexpected end: expected export name"));
    CHECK(name_bad(B("\x80\x80\x80\x80\x10"), 0,
                   "integer too large: export name (LEB128 u32)"));
    CHECK(name_bad(B("\xff\xff\xff\xff\x0f" "a"), 5, "unexpected end: expected export name"));
    CHECK(name_bad(B("\x02\xc0\x80"), 1, bad_utf8));         /* overlong NUL */
    CHECK(name_bad(B("\x03\xe0\x80\xaf"), 1, bad_utf8));     /* overlong '/' */
    CHECK(name_bad(B("\x03\xed\xa0\x80"), 1, bad_utf8));     /* U+D800 surrogate */
    CHECK(name_bad(B("\x02\xe2\x82"), 1, bad_utf8));         /* truncated sequence */
    CHECK(name_bad(B("\x01\x80"), 1, bad_utf8));             /* lone continuation */
    CHECK(name_bad(B("\x04\xf4\x90\x80\x80"), 1, bad_utf8)); /* above U+10FFFF */
    CHECK(name_bad(B("\x01\xff"), 1, bad_utf8));
}

int main(void)
{
    RUN(u32_values);
    RUN(u32_padding);
    RUN(u32_too_long);
    RUN(u32_too_large);
    RUN(u32_truncated);
    RUN(cursor_end_bounds_leb);
    RUN(u64_limits);
    RUN(s32_values);
    RUN(s32_padding);
    RUN(s32_too_long);
    RUN(s32_too_large);
    RUN(s32_truncated);
    RUN(s33_limits);
    RUN(s64_values);
    RUN(s64_limits);
    RUN(null_err);
    RUN(bytes_and_u8);
    RUN(names);
    return CHECK_DONE();
}
