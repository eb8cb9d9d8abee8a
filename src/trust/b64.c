/*
 * b64.c: base64 (RFC 4648 section 4) for keys and signatures.
 *
 * The decoder accepts one spelling per value. A lenient decoder (skipping
 * whitespace, ignoring stray bits or missing padding) would let two
 * different payloads mean the same key, so that a byte-level comparison of
 * signature sections or keyrings says "different" where perch says "same".
 */
#include <string.h>

#include "trust/trust.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t pt_b64_encoded_len(size_t n) { return (n + 2) / 3 * 4; }

void pt_b64_encode(const uint8_t *in, size_t n, char *out)
{
    size_t i = 0, o = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
        out[o++] = alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
        out[o++] = '=';
    }
    out[o] = '\0';
}

/* The value of an alphabet character, or -1. */
static int digit(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

bool pt_b64_decode_exact(const char *s, size_t len, uint8_t *out, size_t want,
                         const char **why)
{
    size_t pad = want % 3 == 0 ? 0 : 3 - want % 3;
    size_t o = 0;

    if (len != pt_b64_encoded_len(want)) {
        *why = len % 4 != 0 ? "not base64: the length is not a multiple of 4"
                            : "decodes to the wrong number of bytes";
        return false;
    }
    for (size_t i = 0; i < len; i += 4) {
        uint32_t v = 0;
        bool last = i + 4 == len;
        for (size_t k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)s[i + k];
            int d = digit(c);
            if (last && k >= 4 - pad) {
                if (c != '=') {
                    *why = "not canonical base64: the padding is missing";
                    return false;
                }
                d = 0;
            } else if (d < 0) {
                *why = c == '=' ? "not base64: '=' padding out of place"
                                : "not base64: a byte outside the standard alphabet";
                return false;
            }
            v = v << 6 | (uint32_t)d;
        }
        if (last && pad > 0) {
            /* the bits the padding stands in for must be zero */
            uint32_t spare = pad == 1 ? (v & 0xff) : (v & 0xffff);
            if (spare != 0) {
                *why = "not canonical base64: non-zero bits before the padding";
                return false;
            }
        }
        for (int k = 2; k >= 0 && o < want; k--)
            out[o++] = (uint8_t)(v >> (8 * k));
    }
    return true;
}
