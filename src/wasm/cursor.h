/*
 * cursor.h: bounds-checked reading of WebAssembly binary encodings.
 *
 * A cursor walks [pos, end) of a borrowed byte array. Every read checks the
 * bounds first; on failure it fills the cursor's error with kind
 * wasm_malformed, the absolute byte offset and what was expected, and
 * returns false. After a failure the cursor must not be used again.
 *
 * LEB128 limits follow the specification: an N-bit integer takes at most
 * ceil(N/7) bytes, and the unused bits of the last byte must be zero
 * (unsigned) or copies of the sign bit (signed).
 */
#ifndef PERCH_WASM_CURSOR_H
#define PERCH_WASM_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

typedef struct pw_cursor {
    const uint8_t *base; /* start of the whole module (offsets are from here) */
    size_t pos;          /* next byte to read */
    size_t end;          /* one past the last readable byte */
    perch_err *err;      /* where failures are reported; may be NULL */
} pw_cursor;

static inline pw_cursor pw_cursor_make(const uint8_t *base, size_t pos,
                                       size_t end, perch_err *err)
{
    pw_cursor c = {base, pos, end, err};
    return c;
}

static inline size_t pw_left(const pw_cursor *c) { return c->end - c->pos; }

/* Report "unexpected end" style failures uniformly. */
bool pw_fail_eof(pw_cursor *c, const char *what);
bool pw_fail(pw_cursor *c, size_t offset, const char *fmt, ...) PB_PRINTF(3, 4);

static inline bool pw_u8(pw_cursor *c, uint8_t *out, const char *what)
{
    if (c->pos >= c->end)
        return pw_fail_eof(c, what);
    *out = c->base[c->pos++];
    return true;
}

/* Take n raw bytes; *out points into the module. */
static inline bool pw_bytes(pw_cursor *c, size_t n, const uint8_t **out,
                            const char *what)
{
    if (n > pw_left(c))
        return pw_fail_eof(c, what);
    *out = c->base + c->pos;
    c->pos += n;
    return true;
}

bool pw_leb_u_slow(pw_cursor *c, unsigned bits, uint64_t *out, const char *what);
bool pw_leb_s_slow(pw_cursor *c, unsigned bits, int64_t *out, const char *what);

/* u32: the one-byte case inline, the rest out of line. */
static inline bool pw_u32(pw_cursor *c, uint32_t *out, const char *what)
{
    uint64_t v = 0;
    if (c->pos < c->end && c->base[c->pos] < 0x80) {
        *out = c->base[c->pos++];
        return true;
    }
    if (!pw_leb_u_slow(c, 32, &v, what))
        return false;
    *out = (uint32_t)v;
    return true;
}

static inline bool pw_u64(pw_cursor *c, uint64_t *out, const char *what)
{
    return pw_leb_u_slow(c, 64, out, what);
}

static inline bool pw_s32(pw_cursor *c, int32_t *out, const char *what)
{
    int64_t v = 0;
    if (!pw_leb_s_slow(c, 32, &v, what))
        return false;
    *out = (int32_t)v;
    return true;
}

/* s33: block types and the like. */
static inline bool pw_s33(pw_cursor *c, int64_t *out, const char *what)
{
    return pw_leb_s_slow(c, 33, out, what);
}

static inline bool pw_s64(pw_cursor *c, int64_t *out, const char *what)
{
    return pw_leb_s_slow(c, 64, out, what);
}

/*
 * A name: u32 length then that many bytes of well-formed UTF-8. *s points
 * into the module and is not NUL-terminated.
 */
bool pw_name(pw_cursor *c, const uint8_t **s, uint32_t *len, const char *what);

#endif /* PERCH_WASM_CURSOR_H */
