/*
 * cbor.c: the perch.manifest payload as CBOR (RFC 8949).
 *
 * Reading is a strict pull decoder on libcbor's streaming API:
 * cbor_stream_decode decodes one item head per call, hands strings back as
 * pointers into the input, and never allocates. The schema fixes the type
 * expected at every position, so an item of any other type (tag, float,
 * negative integer, byte string, simple value, a nested map...) is rejected
 * on sight: the decoder never skips unknown content and never recurses,
 * and its nesting is that of the schema (map, array, text chunks).
 *
 * Writing uses libcbor's head encoders, which pick the shortest form, and
 * emits keys in the bytewise order of their encodings (RFC 8949 4.2.1).
 */
#include <cbor.h>
#include <stdlib.h>
#include <string.h>

#include "manifest/manifest.h"

/* What an initial byte starts, as far as the schema is concerned. */
typedef enum kind {
    K_UINT, K_NEGINT, K_BYTES, K_TEXT, K_ARRAY, K_MAP, K_TAG,
    K_FLOAT, K_BOOL, K_NULL, K_UNDEFINED, K_SIMPLE, K_BREAK,
} kind;

static kind classify(uint8_t b)
{
    static const kind majors[7] = {K_UINT, K_NEGINT, K_BYTES, K_TEXT, K_ARRAY, K_MAP, K_TAG};
    if (b >> 5 < 7)
        return majors[b >> 5];
    switch (b) {
    case 0xf4: case 0xf5: return K_BOOL;
    case 0xf6: return K_NULL;
    case 0xf7: return K_UNDEFINED;
    case 0xf9: case 0xfa: case 0xfb: return K_FLOAT;
    case 0xff: return K_BREAK;
    default: return K_SIMPLE;
    }
}

static const char *kind_name(kind k)
{
    static const char *const names[] = {
        [K_UINT] = "uint", [K_NEGINT] = "negative integer", [K_BYTES] = "byte string",
        [K_TEXT] = "text", [K_ARRAY] = "array", [K_MAP] = "map", [K_TAG] = "tag",
        [K_FLOAT] = "float", [K_BOOL] = "boolean", [K_NULL] = "null",
        [K_UNDEFINED] = "undefined", [K_SIMPLE] = "simple value",
        [K_BREAK] = "a break (0xff) outside an indefinite-length item",
    };
    return names[k];
}

typedef struct dec {
    const uint8_t *data;
    size_t len, pos;
    /* the last head decoded, filled by the callbacks */
    uint64_t u;         /* uint value */
    const uint8_t *s;   /* definite string: bytes in data */
    size_t n;           /* definite string length or collection size */
    bool indef;         /* indefinite-length string or collection */
    struct cbor_callbacks cb;
} dec;

static void on_u8(void *ctx, uint8_t v) { ((dec *)ctx)->u = v; }
static void on_u16(void *ctx, uint16_t v) { ((dec *)ctx)->u = v; }
static void on_u32(void *ctx, uint32_t v) { ((dec *)ctx)->u = v; }
static void on_u64(void *ctx, uint64_t v) { ((dec *)ctx)->u = v; }
static void on_indef(void *ctx) { ((dec *)ctx)->indef = true; }
static void on_size(void *ctx, size_t n) { ((dec *)ctx)->n = n; }

static void on_string(void *ctx, cbor_data s, size_t n)
{
    dec *d = ctx;
    d->s = s;
    d->n = n;
}

/* Decode the head at d->pos (whose kind the caller has checked). */
static perch_err_kind decode(dec *d, perch_err *err)
{
    struct cbor_decoder_result res;
    size_t at = d->pos;
    d->u = 0, d->s = NULL, d->n = 0, d->indef = false;
    res = cbor_stream_decode(d->data + at, d->len - at, &d->cb, d);
    switch (res.status) {
    case CBOR_DECODER_FINISHED:
        d->pos += res.read;
        return PERCH_OK;
    case CBOR_DECODER_NEDATA:
        return pm_fail(err, at, "truncated: the %s at byte %zu runs past the end of the payload",
                       kind_name(classify(d->data[at])), at);
    default:
        return pm_fail(err, at, "malformed CBOR: reserved initial byte 0x%02x at byte %zu",
                       d->data[at], at);
    }
}

/*
 * Check that the next item is of kind want and decode its head. ctx names
 * the position for items outside the schema's keys ("map key"); otherwise
 * key and index do (`key "name"`, `needs_read[2]`).
 */
static perch_err_kind expect(dec *d, kind want, const char *ctx, pm_key key,
                             size_t index, perch_err *err)
{
    const char *expected = want == K_MAP ? "map" : want == K_UINT ? "uint"
                         : want == K_ARRAY ? "array" : "text";
    kind k;
    if (d->pos >= d->len)
        return pm_fail(err, d->pos, "unexpected end of the payload: expected %s", expected);
    k = classify(d->data[d->pos]);
    if (k != want) {
        if (ctx)
            return pm_fail(err, d->pos, "%s: expected %s, found %s", ctx, expected, kind_name(k));
        return pm_read_type_error(key, index, d->pos, expected, kind_name(k), err);
    }
    return decode(d, err);
}

/*
 * text -> definite-text | 0x7f definite-text* 0xff
 * (RFC 8949 3.2.3: the chunks of an indefinite-length text string are
 * definite-length text strings, each well-formed UTF-8 on its own). Called
 * after expect(K_TEXT); *s points into the input or into tmp.
 */
static perch_err_kind text(dec *d, pb_buf *tmp, const uint8_t **s, size_t *n,
                           perch_err *err)
{
    perch_err_kind rc;
    if (!d->indef) {
        *s = d->s;
        *n = d->n;
        return PERCH_OK;
    }
    tmp->len = 0;
    for (;;) {
        size_t at = d->pos;
        if (at >= d->len)
            return pm_fail(err, at, "unexpected end of the payload inside an indefinite-length text");
        if (d->data[at] == 0xff) {
            d->pos++;
            break;
        }
        if (classify(d->data[at]) != K_TEXT || d->data[at] == 0x7f)
            return pm_fail(err, at, "malformed CBOR: a chunk of an indefinite-length text "
                           "must be a definite-length text, found %s",
                           d->data[at] == 0x7f ? "an indefinite-length text"
                                               : kind_name(classify(d->data[at])));
        if ((rc = decode(d, err)) != PERCH_OK)
            return rc;
        if (!pb_utf8_valid(d->s, d->n))
            return pm_fail(err, at, "malformed CBOR: text chunk at byte %zu is not well-formed UTF-8", at);
        if (d->n > PM_MAX_TEXT - tmp->len)
            return pm_fail(err, at, "text is longer than %d bytes", PM_MAX_TEXT);
        if (!pb_buf_append(tmp, d->s, d->n))
            return pb_fail(err, PERCH_E_IO, "out of memory reading the manifest");
    }
    *s = tmp->len ? tmp->data : (const uint8_t *)"";
    *n = tmp->len;
    return PERCH_OK;
}

/* list -> array(text) | 0x9f text* 0xff */
static perch_err_kind list(dec *d, pm_reader *r, pm_key key, pb_buf *tmp,
                           perch_err *err)
{
    perch_err_kind rc;
    size_t at = d->pos, count;
    bool indef;
    if ((rc = expect(d, K_ARRAY, NULL, key, SIZE_MAX, err)) != PERCH_OK)
        return rc;
    indef = d->indef;
    count = d->n;
    /* A declared count is only a claim: each entry takes at least a byte. */
    if (!indef && count > PM_MAX_ENTRIES)
        return pm_fail(err, at, "%s: declares %zu entries; the limit is %d",
                       pm_key_name(key), count, PM_MAX_ENTRIES);
    if (!indef && count > d->len - d->pos)
        return pm_fail(err, at, "truncated: %s declares %zu entries, only %zu bytes remain",
                       pm_key_name(key), count, d->len - d->pos);
    for (size_t i = 0; indef || i < count; i++) {
        const uint8_t *s;
        size_t n;
        if (indef && d->pos < d->len && d->data[d->pos] == 0xff) {
            d->pos++;
            break;
        }
        at = d->pos;
        if ((rc = expect(d, K_TEXT, NULL, key, i, err)) != PERCH_OK ||
            (rc = text(d, tmp, &s, &n, err)) != PERCH_OK ||
            (rc = pm_read_entry(r, key, s, n, at, err)) != PERCH_OK)
            return rc;
    }
    return PERCH_OK;
}

/* payload -> map(key value) | 0xbf (key value)* 0xff, and nothing after it */
static perch_err_kind payload(dec *d, pm_reader *r, pb_buf *tmp, perch_err *err)
{
    perch_err_kind rc;
    size_t count;
    bool indef;

    if ((rc = expect(d, K_MAP, "the payload", PM_KEY__COUNT, SIZE_MAX, err)) != PERCH_OK)
        return rc;
    indef = d->indef;
    count = d->n;
    for (size_t i = 0; indef || i < count; i++) {
        const uint8_t *s;
        size_t n, at;
        pm_key key;
        if (indef && d->pos < d->len && d->data[d->pos] == 0xff) {
            d->pos++;
            break;
        }
        at = d->pos;
        if ((rc = expect(d, K_TEXT, "map key", PM_KEY__COUNT, SIZE_MAX, err)) != PERCH_OK ||
            (rc = text(d, tmp, &s, &n, err)) != PERCH_OK ||
            (rc = pm_read_key(r, s, n, at, &key, err)) != PERCH_OK)
            return rc;
        at = d->pos;
        switch (key) {
        case PM_KEY_SCHEMA:
        case PM_KEY_MEMORY_MAX:
            if ((rc = expect(d, K_UINT, NULL, key, SIZE_MAX, err)) != PERCH_OK ||
                (rc = pm_read_uint(r, key, d->u, at, err)) != PERCH_OK)
                return rc;
            break;
        case PM_KEY_NAME:
        case PM_KEY_VERSION:
            if ((rc = expect(d, K_TEXT, NULL, key, SIZE_MAX, err)) != PERCH_OK ||
                (rc = text(d, tmp, &s, &n, err)) != PERCH_OK ||
                (rc = pm_read_text(r, key, s, n, at, err)) != PERCH_OK)
                return rc;
            break;
        default:
            if ((rc = list(d, r, key, tmp, err)) != PERCH_OK)
                return rc;
            break;
        }
    }
    if (d->pos != d->len)
        return pm_fail(err, d->pos, "trailing bytes after the map: %zu bytes from byte %zu",
                       d->len - d->pos, d->pos);
    return PERCH_OK;
}

perch_err_kind pm_from_cbor(const uint8_t *data, size_t len, pm_manifest *out,
                            perch_err *err)
{
    dec d = {.data = data, .len = len, .cb = cbor_empty_callbacks};
    pb_buf tmp = {0};
    pm_reader r;
    perch_err_kind rc;

    pm_manifest_init(out);
    if (len == 0)
        return pm_fail(err, PERCH_NO_OFFSET, "empty payload: expected a CBOR map");
    if (len > PM_MAX_PAYLOAD)
        return pm_fail(err, PERCH_NO_OFFSET, "payload is %zu bytes; the limit is %u",
                       len, PM_MAX_PAYLOAD);
    d.cb.uint8 = on_u8;
    d.cb.uint16 = on_u16;
    d.cb.uint32 = on_u32;
    d.cb.uint64 = on_u64;
    d.cb.string = on_string;
    d.cb.string_start = on_indef;
    d.cb.array_start = on_size;
    d.cb.indef_array_start = on_indef;
    d.cb.map_start = on_size;
    d.cb.indef_map_start = on_indef;
    pm_read_init(&r, out);
    rc = payload(&d, &r, &tmp, err);
    if (rc == PERCH_OK)
        rc = pm_read_finish(&r, err);
    pb_buf_free(&tmp);
    if (rc != PERCH_OK)
        pm_manifest_free(out);
    return rc;
}

/* ---- writing ------------------------------------------------------------- */

/*
 * Map keys in the bytewise order of their encodings: a text head grows with
 * the length, so shorter keys come first, then bytewise among equals.
 * test_manifest.c checks this table against a sort of the encodings.
 */
static const pm_key cbor_key_order[PM_KEY__COUNT] = {
    PM_KEY_NAME, PM_KEY_SCHEMA, PM_KEY_VERSION, PM_KEY_NEEDS_ENV,
    PM_KEY_NEEDS_NET, PM_KEY_MEMORY_MAX, PM_KEY_NEEDS_READ, PM_KEY_NEEDS_WRITE,
};

static bool put_head(pb_buf *b, size_t n, size_t (*enc)(size_t, unsigned char *, size_t))
{
    unsigned char h[9];
    size_t k = enc(n, h, sizeof h);
    return k && pb_buf_append(b, h, k);
}

static bool put_uint(pb_buf *b, uint64_t v)
{
    unsigned char h[9];
    size_t k = cbor_encode_uint(v, h, sizeof h);
    return k && pb_buf_append(b, h, k);
}

static bool put_text(pb_buf *b, const char *s)
{
    size_t n = strlen(s);
    return put_head(b, n, cbor_encode_string_start) && pb_buf_append(b, s, n);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A sorted array of text: its entries in bytewise order. */
static bool put_list(pb_buf *b, const pm_list *l)
{
    char **v = pb_calloc(l->count, sizeof *v);
    bool ok;
    if (!v)
        return false;
    memcpy(v, l->items, l->count * sizeof *v);
    qsort(v, l->count, sizeof *v, cmp_str);
    ok = put_head(b, l->count, cbor_encode_array_start);
    for (size_t i = 0; ok && i < l->count; i++)
        ok = put_text(b, v[i]);
    pb_free(v);
    return ok;
}

perch_err_kind pm_to_cbor(const pm_manifest *m, pb_buf *out, perch_err *err)
{
    perch_err_kind rc;
    size_t pairs = 3 + (m->has_memory_max ? 1 : 0);
    bool ok;

    memset(out, 0, sizeof *out);
    if ((rc = pm_validate(m, err)) != PERCH_OK)
        return rc;
    for (pm_key k = PM_KEY_NEEDS_READ; k <= PM_KEY_NEEDS_ENV; k++)
        if (pm_key_list((pm_manifest *)(uintptr_t)m, k)->count)
            pairs++;
    ok = put_head(out, pairs, cbor_encode_map_start);
    for (size_t i = 0; ok && i < PM_KEY__COUNT; i++) {
        pm_key k = cbor_key_order[i];
        const pm_list *l = pm_key_list((pm_manifest *)(uintptr_t)m, k);
        if ((l && l->count == 0) || (k == PM_KEY_MEMORY_MAX && !m->has_memory_max))
            continue;
        ok = put_text(out, pm_key_name(k));
        if (!ok)
            break;
        switch (k) {
        case PM_KEY_SCHEMA: ok = put_uint(out, m->schema); break;
        case PM_KEY_MEMORY_MAX: ok = put_uint(out, m->memory_max); break;
        case PM_KEY_NAME: ok = put_text(out, m->name); break;
        case PM_KEY_VERSION: ok = put_text(out, m->version); break;
        default: ok = put_list(out, l); break;
        }
    }
    if (!ok) {
        pb_buf_free(out);
        return pb_fail(err, PERCH_E_IO, "out of memory writing the manifest");
    }
    return PERCH_OK;
}
