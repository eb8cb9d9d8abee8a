/* cursor.c: the out-of-line half of cursor.h. */
#include <stdio.h>

#include "wasm/cursor.h"

bool pw_fail_eof(pw_cursor *c, const char *what)
{
    pb_fail_at(c->err, PERCH_E_WASM_MALFORMED, c->pos,
               "unexpected end: expected %s", what);
    return false;
}

bool pw_fail(pw_cursor *c, size_t offset, const char *fmt, ...)
{
    va_list ap;
    if (c->err) {
        va_start(ap, fmt);
        vsnprintf(c->err->message, sizeof c->err->message, fmt, ap);
        va_end(ap);
        c->err->kind = PERCH_E_WASM_MALFORMED;
        c->err->offset = offset;
        snprintf(c->err->detail, sizeof c->err->detail, "at byte %zu (0x%zx)",
                 offset, offset);
    }
    return false;
}

/*
 * uleb(N) -> byte* : up to ceil(N/7) bytes; high bit continues; the bits of
 * the last byte above N must be zero.
 */
bool pw_leb_u_slow(pw_cursor *c, unsigned bits, uint64_t *out, const char *what)
{
    size_t start = c->pos;
    unsigned max_bytes = (bits + 6) / 7;
    uint64_t result = 0;
    unsigned shift = 0;
    for (unsigned i = 0;; i++) {
        uint8_t b;
        if (c->pos >= c->end)
            return pw_fail(c, c->pos, "unexpected end: expected %s (LEB128 u%u)",
                           what, bits);
        b = c->base[c->pos++];
        if (i == max_bytes - 1) {
            /* Last permitted byte: no continuation, no bits beyond N. */
            unsigned used = bits - shift;
            if (b & 0x80)
                return pw_fail(c, start, "integer representation too long: %s (LEB128 u%u)",
                               what, bits);
            if (used < 7 && (b >> used) != 0)
                return pw_fail(c, start, "integer too large: %s (LEB128 u%u)",
                               what, bits);
            result |= (uint64_t)b << shift;
            break;
        }
        result |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80))
            break;
    }
    *out = result;
    return true;
}

/*
 * sleb(N) -> byte* : as uleb, and the unused bits of the last byte must all
 * equal the sign bit (bit N-1).
 */
bool pw_leb_s_slow(pw_cursor *c, unsigned bits, int64_t *out, const char *what)
{
    size_t start = c->pos;
    unsigned max_bytes = (bits + 6) / 7;
    uint64_t result = 0;
    unsigned shift = 0;
    uint8_t b = 0;
    for (unsigned i = 0;; i++) {
        if (c->pos >= c->end)
            return pw_fail(c, c->pos, "unexpected end: expected %s (LEB128 s%u)",
                           what, bits);
        b = c->base[c->pos++];
        if (i == max_bytes - 1) {
            unsigned used = bits - shift; /* 1..7 bits of payload */
            if (b & 0x80)
                return pw_fail(c, start, "integer representation too long: %s (LEB128 s%u)",
                               what, bits);
            if (used < 7) {
                /* bits [used-1, 6] must be all zeros or all ones */
                uint8_t mask = (uint8_t)(0x7f & ~((1u << (used - 1)) - 1));
                uint8_t top = b & mask;
                if (top != 0 && top != mask)
                    return pw_fail(c, start, "integer too large: %s (LEB128 s%u)",
                                   what, bits);
            }
            result |= (uint64_t)(b & 0x7f) << shift;
            shift += 7;
            break;
        }
        result |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80))
            break;
    }
    if (shift < 64 && (b & 0x40))
        result |= ~(uint64_t)0 << shift;
    *out = (int64_t)result;
    return true;
}

bool pw_name(pw_cursor *c, const uint8_t **s, uint32_t *len, const char *what)
{
    size_t start;
    if (!pw_u32(c, len, what))
        return false;
    start = c->pos;
    if (!pw_bytes(c, *len, s, what))
        return false;
    if (!pb_utf8_valid(*s, *len))
        return pw_fail(c, start, "malformed UTF-8 encoding in %s", what);
    return true;
}
