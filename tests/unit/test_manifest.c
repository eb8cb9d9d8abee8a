/*
 * test_manifest.c: the manifest codecs. CBOR payloads are written here with
 * a small notation independent of the code under test (see cb()), so the
 * expected bytes are the RFC's, not the encoder's.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "manifest/manifest.h"

/* ---- a CBOR notation for tests ------------------------------------------
 *   {N {_      map of N pairs, indefinite map
 *   [N [_      array of N items, indefinite array
 *   )          break (0xff)
 *   "abc"      text, shortest head
 *   uN         uint N, shortest head;  uA:N  with additional info A (24..27)
 *   sN         a text head of length N (bytes follow as xHH)
 *   sA:N       a text head of length N with additional info A
 *   t_         indefinite text (chunks follow, then ')')
 *   xHH        one raw byte
 */
static void head(pb_buf *b, unsigned major, unsigned ai, uint64_t v)
{
    int width = ai == 24 ? 1 : ai == 25 ? 2 : ai == 26 ? 4 : ai == 27 ? 8 : 0;
    if (ai == 0) {
        if (v < 24) {
            pb_buf_byte(b, (uint8_t)(major << 5 | v));
            return;
        }
        width = v <= 0xff ? 1 : v <= 0xffff ? 2 : v <= 0xffffffffu ? 4 : 8;
        ai = width == 1 ? 24 : width == 2 ? 25 : width == 4 ? 26 : 27;
    }
    pb_buf_byte(b, (uint8_t)(major << 5 | ai));
    for (int i = width - 1; i >= 0; i--)
        pb_buf_byte(b, (uint8_t)(v >> (8 * i)));
}

static void number(const char **p, unsigned *ai, uint64_t *v)
{
    char *end;
    *ai = 0;
    *v = strtoull(*p, &end, 10);
    if (*end == ':') {
        *ai = (unsigned)*v;
        *v = strtoull(end + 1, &end, 10);
    }
    *p = end;
}

static pb_buf cb(const char *src)
{
    pb_buf b = {0};
    const char *p = src;
    pb_buf_reserve(&b, 16);
    while (*p) {
        unsigned ai;
        uint64_t v;
        char c = *p++;
        switch (c) {
        case ' ': break;
        case '{':
        case '[':
            if (*p == '_') {
                pb_buf_byte(&b, c == '{' ? 0xbf : 0x9f);
                p++;
            } else {
                number(&p, &ai, &v);
                head(&b, c == '{' ? 5 : 4, ai, v);
            }
            break;
        case ')': pb_buf_byte(&b, 0xff); break;
        case '"': {
            const char *q = strchr(p, '"');
            head(&b, 3, 0, (uint64_t)(q - p));
            pb_buf_append(&b, p, (size_t)(q - p));
            p = q + 1;
            break;
        }
        case 'u':
            number(&p, &ai, &v);
            head(&b, 0, ai, v);
            break;
        case 's':
            number(&p, &ai, &v);
            head(&b, 3, ai, v);
            break;
        case 't': pb_buf_byte(&b, 0x7f); p++; break;
        case 'x': pb_buf_byte(&b, (uint8_t)strtoul((char[]){p[0], p[1], 0}, NULL, 16)); p += 2; break;
        default: fprintf(stderr, "bad notation at '%s'\n", p - 1); abort();
        }
    }
    return b;
}

#define BASE "\"name\" \"hello\" \"schema\" u1 \"version\" \"1.0.0\""

static perch_err_kind from_cb(const char *src, pm_manifest *m, perch_err *err)
{
    pb_buf b = cb(src);
    perch_err_kind rc;
    perch_err_clear(err);
    rc = pm_from_cbor(b.data, b.len, m, err);
    pb_buf_free(&b);
    return rc;
}

/* Decoding src fails with manifest_malformed and exactly msg. */
#define CBOR_FAILS(src, msg)                                                   \
    do {                                                                       \
        pm_manifest m_;                                                        \
        perch_err e_;                                                          \
        CHECK_INT(from_cb(src, &m_, &e_), PERCH_E_MANIFEST_MALFORMED);         \
        CHECK_STR(e_.message, msg);                                            \
        CHECK(m_.name == NULL && m_.needs_read.count == 0);                    \
    } while (0)

static perch_err_kind from_js(const char *text, pm_manifest *m, perch_err *err)
{
    perch_err_clear(err);
    return pm_from_json(text, strlen(text), m, err);
}

#define JSON_FAILS(text, msg)                                                  \
    do {                                                                       \
        pm_manifest m_;                                                        \
        perch_err e_;                                                          \
        CHECK_INT(from_js(text, &m_, &e_), PERCH_E_MANIFEST_MALFORMED);        \
        CHECK_STR(e_.message, msg);                                            \
        CHECK(m_.name == NULL && m_.needs_read.count == 0);                    \
    } while (0)

#define JBASE "\"schema\": 1, \"name\": \"hello\", \"version\": \"1.0.0\""

static bool bytes_are(const pb_buf *b, const char *src)
{
    pb_buf want = cb(src);
    bool same = want.len == b->len && memcmp(want.data, b->data, b->len) == 0;
    if (!same) {
        fprintf(stderr, "  got ");
        for (size_t i = 0; i < b->len; i++)
            fprintf(stderr, "%02x", b->data[i]);
        fprintf(stderr, "\n  want ");
        for (size_t i = 0; i < want.len; i++)
            fprintf(stderr, "%02x", want.data[i]);
        fprintf(stderr, "\n");
    }
    pb_buf_free(&want);
    return same;
}

static bool contains(const pb_buf *b, const char *needle, size_t n)
{
    for (size_t i = 0; i + n <= b->len; i++)
        if (memcmp(b->data + i, needle, n) == 0)
            return true;
    return false;
}

/* A full manifest built in code. */
static void sample(pm_manifest *m)
{
    static const char *read[] = {"/inputs", "/data"};
    pm_manifest_init(m);
    m->schema = 1;
    m->name = pb_strdup("risk-model");
    m->version = pb_strdup("1.4.0");
    m->needs_read.items = pb_calloc(2, sizeof(char *));
    for (size_t i = 0; i < 2; i++)
        m->needs_read.items[i] = pb_strdup(read[i]);
    m->needs_read.count = 2;
    m->needs_write.items = pb_calloc(1, sizeof(char *));
    m->needs_write.items[0] = pb_strdup("/out");
    m->needs_write.count = 1;
    m->needs_net.items = pb_calloc(1, sizeof(char *));
    m->needs_net.items[0] = pb_strdup("risk-api.vendor.com:443");
    m->needs_net.count = 1;
    m->needs_env.items = pb_calloc(1, sizeof(char *));
    m->needs_env.items[0] = pb_strdup("RISK_THRESHOLD");
    m->needs_env.count = 1;
    m->has_memory_max = true;
    m->memory_max = 268435456;
}

static const char sample_json[] =
    "{\n"
    "  \"schema\": 1,\n"
    "  \"name\": \"risk-model\",\n"
    "  \"version\": \"1.4.0\",\n"
    "  \"needs_read\": [\n"
    "    \"/data\",\n"
    "    \"/inputs\"\n"
    "  ],\n"
    "  \"needs_write\": [\n"
    "    \"/out\"\n"
    "  ],\n"
    "  \"needs_net\": [\n"
    "    \"risk-api.vendor.com:443\"\n"
    "  ],\n"
    "  \"needs_env\": [\n"
    "    \"RISK_THRESHOLD\"\n"
    "  ],\n"
    "  \"memory_max\": 268435456\n"
    "}\n";

/* RFC 8949 4.2.1: shortest heads, definite lengths, keys by encoded bytes. */
#define SAMPLE_CBOR                                                            \
    "{8 \"name\" \"risk-model\" \"schema\" u1 \"version\" \"1.4.0\" "          \
    "\"needs_env\" [1 \"RISK_THRESHOLD\" \"needs_net\" [1 "                    \
    "\"risk-api.vendor.com:443\" \"memory_max\" u268435456 "                   \
    "\"needs_read\" [2 \"/data\" \"/inputs\" \"needs_write\" [1 \"/out\""

static void test_exact_cbor_bytes(void)
{
    pm_manifest m;
    pb_buf out;
    perch_err err;
    sample(&m);
    CHECK_INT(pm_to_cbor(&m, &out, &err), PERCH_OK);
    CHECK(bytes_are(&out, SAMPLE_CBOR));
    /* the head of memory_max is the 4-byte form, the shortest for 2^28 */
    CHECK(contains(&out, "\x1a\x10\x00\x00\x00", 5));
    pb_buf_free(&out);
    pm_manifest_free(&m);

    /* the minimal manifest: no empty lists, no memory_max */
    CHECK_INT(from_cb("{3 " BASE, &m, &err), PERCH_OK);
    CHECK_INT(pm_to_cbor(&m, &out, &err), PERCH_OK);
    CHECK(bytes_are(&out, "{3 " BASE));
    pb_buf_free(&out);
    pm_manifest_free(&m);
}

/* Every key the encoder writes is bytewise greater than the one before. */
static void test_key_order_is_bytewise(void)
{
    pm_manifest m;
    pb_buf out;
    perch_err err;
    const uint8_t *prev = NULL;
    size_t prev_len = 0, pos = 1;
    sample(&m);
    CHECK_INT(pm_to_cbor(&m, &out, &err), PERCH_OK);
    for (int k = 0; k < 8; k++) {
        size_t klen = out.data[pos] & 0x1f, vpos;
        const uint8_t *key = out.data + pos;
        if (prev) {
            size_t n = prev_len < klen + 1 ? prev_len : klen + 1;
            int c = memcmp(prev, key, n);
            CHECK(c < 0 || (c == 0 && prev_len < klen + 1));
        }
        prev = key;
        prev_len = klen + 1;
        vpos = pos + 1 + klen;
        /* skip the value: uint, text or array of text */
        uint8_t h = out.data[vpos];
        if (h >> 5 == 0)
            pos = vpos + 1 + ((h & 0x1f) < 24 ? 0 : 1u << ((h & 0x1f) - 24));
        else if (h >> 5 == 3)
            pos = vpos + 1 + (h & 0x1f);
        else {
            size_t n = h & 0x1f;
            pos = vpos + 1;
            for (size_t i = 0; i < n; i++)
                pos += 1 + (out.data[pos] & 0x1f);
        }
    }
    CHECK_INT(pos, out.len);
    pb_buf_free(&out);
    pm_manifest_free(&m);
}

static void test_non_canonical_accepted(void)
{
    static const char *const forms[] = {
        /* keys in another order */
        "{8 \"needs_write\" [1 \"/out\" \"schema\" u1 \"memory_max\" u268435456 "
        "\"needs_read\" [2 \"/inputs\" \"/data\" \"needs_env\" [1 \"RISK_THRESHOLD\" "
        "\"version\" \"1.4.0\" \"needs_net\" [1 \"risk-api.vendor.com:443\" \"name\" \"risk-model\"",
        /* indefinite map and arrays, non-shortest integers and lengths */
        "{_ \"name\" s24:10 x72 x69 x73 x6b x2d x6d x6f x64 x65 x6c \"schema\" u27:1 "
        "\"version\" \"1.4.0\" \"needs_env\" [_ \"RISK_THRESHOLD\" ) "
        "\"needs_net\" [25:1 \"risk-api.vendor.com:443\" \"memory_max\" u27:268435456 "
        "\"needs_read\" [_ \"/data\" \"/inputs\" ) \"needs_write\" [1 \"/out\" )",
        /* indefinite text in keys and values, a definite map with a long head */
        "{26:8 t_ \"na\" \"me\" ) t_ \"risk-\" \"\" \"model\" ) \"schema\" u24:1 "
        "\"version\" t_ ) \"needs_env\" [1 \"RISK_THRESHOLD\" \"needs_net\" [1 "
        "\"risk-api.vendor.com:443\" \"memory_max\" u268435456 "
        "\"needs_read\" [2 \"/data\" \"/inputs\" \"needs_write\" [1 \"/out\"",
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        pm_manifest m;
        perch_err err;
        pb_buf out;
        perch_err_kind rc = from_cb(forms[i], &m, &err);
        if (i == 2) {
            /* "version" is the empty indefinite text: decoded, then refused by its rule */
            CHECK_INT(rc, PERCH_E_MANIFEST_MALFORMED);
            CHECK_STR(err.message, "version \"\": is not a semantic version (MAJOR.MINOR.PATCH, no leading zeros)");
            continue;
        }
        CHECK_INT(rc, PERCH_OK);
        CHECK_INT(pm_to_cbor(&m, &out, &err), PERCH_OK);
        CHECK(bytes_are(&out, SAMPLE_CBOR));
        pb_buf_free(&out);
        pm_manifest_free(&m);
    }
    {
        pm_manifest m;
        perch_err err;
        CHECK_INT(from_cb("{3 t_ \"na\" \"me\" ) t_ \"risk-\" \"\" \"model\" ) \"schema\" u24:1 "
                          "\"version\" t_ \"1.\" \"4.0\" )", &m, &err), PERCH_OK);
        CHECK_STR(m.name, "risk-model");
        CHECK_STR(m.version, "1.4.0");
        pm_manifest_free(&m);
    }
}

static void test_decoded_values(void)
{
    pm_manifest m;
    perch_err err;
    CHECK_INT(from_cb("{5 " BASE " \"needs_read\" [2 \"/b\" \"/a\" \"memory_max\" u4294967296", &m, &err),
              PERCH_OK);
    CHECK_INT(m.schema, 1);
    CHECK_STR(m.name, "hello");
    CHECK_STR(m.version, "1.0.0");
    CHECK_INT(m.needs_read.count, 2);
    CHECK_STR(m.needs_read.items[0], "/b"); /* input order until normalised */
    CHECK(m.has_memory_max);
    CHECK(m.memory_max == PM_MEMORY_LIMIT);
    pm_normalize(&m);
    CHECK_STR(m.needs_read.items[0], "/a");
    CHECK_STR(m.needs_read.items[1], "/b");
    pm_manifest_free(&m);
    CHECK(m.name == NULL && m.needs_read.items == NULL);
    /* an empty list is accepted and stays empty */
    CHECK_INT(from_cb("{4 " BASE " \"needs_env\" [0", &m, &err), PERCH_OK);
    CHECK_INT(m.needs_env.count, 0);
    pm_manifest_free(&m);
}

static void test_cbor_structure_rules(void)
{
    pm_manifest m;
    perch_err err;
    uint8_t none = 0;

    perch_err_clear(&err);
    CHECK_INT(pm_from_cbor(&none, 0, &m, &err), PERCH_E_MANIFEST_MALFORMED);
    CHECK_STR(err.message, "empty payload: expected a CBOR map");
    CBOR_FAILS("[0", "the payload: expected map, found array");
    CBOR_FAILS("\"x\"", "the payload: expected map, found text");
    CBOR_FAILS("xc0 {0", "the payload: expected map, found tag");
    CBOR_FAILS("{3 " BASE " x00", "trailing bytes after the map: 1 bytes from byte 34");
    CBOR_FAILS("{_ " BASE " ) {0", "trailing bytes after the map: 1 bytes from byte 35");
    CBOR_FAILS("{3 \"name\" \"hello\"", "unexpected end of the payload: expected text");
    CBOR_FAILS("{_ " BASE, "unexpected end of the payload: expected text");
    CBOR_FAILS("{3 \"name\" s5 x68", "truncated: the text at byte 6 runs past the end of the payload");
    /* a declared length far beyond the payload is refused before anything is allocated */
    CBOR_FAILS("{1 \"name\" s27:18446744073709551615 x68",
               "truncated: the text at byte 6 runs past the end of the payload");
    CBOR_FAILS("{1 \"needs_read\" [27:18446744073709551615 \"/a\"",
               "needs_read: declares 18446744073709551615 entries; the limit is 4096");
    CBOR_FAILS("{1 \"needs_read\" [4000 \"/a\"",
               "truncated: needs_read declares 4000 entries, only 3 bytes remain");
    CBOR_FAILS("{27:18446744073709551615 \"name\" \"x\"", "unexpected end of the payload: expected text");
    CBOR_FAILS("{1 \"schema\" x1c", "malformed CBOR: reserved initial byte 0x1c at byte 8");
    CBOR_FAILS("{1 u1 u1", "map key: expected text, found uint");
    CBOR_FAILS("{1 )", "map key: expected text, found a break (0xff) outside an indefinite-length item");
    CBOR_FAILS("{1 t_ x41 x61 ) u1",
               "malformed CBOR: a chunk of an indefinite-length text must be a definite-length text, "
               "found byte string");
    CBOR_FAILS("{1 t_ t_ ) ) u1",
               "malformed CBOR: a chunk of an indefinite-length text must be a definite-length text, "
               "found an indefinite-length text");
    CBOR_FAILS("{1 t_ s1 xc3 s1 xa9 ) u1", "malformed CBOR: text chunk at byte 2 is not well-formed UTF-8");
    CBOR_FAILS("{1 t_ \"name\"", "unexpected end of the payload inside an indefinite-length text");
}

static void test_key_rules(void)
{
    CBOR_FAILS("{4 " BASE " \"nam\" \"x\"",
               "unknown key \"nam\" (the keys of schema 1 are schema, name, version, needs_read, "
               "needs_write, needs_net, needs_env, memory_max)");
    CBOR_FAILS("{4 " BASE " \"name\" \"again\"", "duplicate key \"name\"");
    CBOR_FAILS("{4 " BASE " s2 xff xfe u1", "map key \"\\xff\\xfe\": is not well-formed UTF-8");
    CBOR_FAILS("{1 s3 x61 x0a x1b u1",
               "unknown key \"a\\x0a\\x1b\" (the keys of schema 1 are schema, name, version, needs_read, "
               "needs_write, needs_net, needs_env, memory_max)");
    CBOR_FAILS("{2 \"name\" \"hello\" \"version\" \"1.0.0\"", "missing required key \"schema\"");
    CBOR_FAILS("{2 \"schema\" u1 \"version\" \"1.0.0\"", "missing required key \"name\"");
    CBOR_FAILS("{2 \"schema\" u1 \"name\" \"hello\"", "missing required key \"version\"");
    CBOR_FAILS("{3 \"name\" \"hello\" \"schema\" u2 \"version\" \"1.0.0\"",
               "schema 2: is not a supported schema (this perch reads schema 1)");
    CBOR_FAILS("{3 \"name\" \"hello\" \"schema\" u0 \"version\" \"1.0.0\"",
               "schema 0: is not a supported schema (this perch reads schema 1)");
}

static void test_wrong_types(void)
{
    CBOR_FAILS("{1 \"name\" [0", "key \"name\": expected text, found array");
    CBOR_FAILS("{1 \"name\" u7", "key \"name\": expected text, found uint");
    CBOR_FAILS("{1 \"version\" x41 x31", "key \"version\": expected text, found byte string");
    CBOR_FAILS("{1 \"schema\" \"1\"", "key \"schema\": expected uint, found text");
    CBOR_FAILS("{1 \"schema\" x20", "key \"schema\": expected uint, found negative integer");
    CBOR_FAILS("{1 \"schema\" xc1 u1", "key \"schema\": expected uint, found tag");
    CBOR_FAILS("{1 \"schema\" xf9 x3c x00", "key \"schema\": expected uint, found float");
    CBOR_FAILS("{1 \"memory_max\" xfb x41 xf0 x00 x00 x00 x00 x00 x00",
               "key \"memory_max\": expected uint, found float");
    CBOR_FAILS("{1 \"memory_max\" xf5", "key \"memory_max\": expected uint, found boolean");
    CBOR_FAILS("{1 \"memory_max\" xf6", "key \"memory_max\": expected uint, found null");
    CBOR_FAILS("{1 \"memory_max\" xf7", "key \"memory_max\": expected uint, found undefined");
    CBOR_FAILS("{1 \"memory_max\" xe0", "key \"memory_max\": expected uint, found simple value");
    CBOR_FAILS("{1 \"memory_max\" xf8 x20", "key \"memory_max\": expected uint, found simple value");
    CBOR_FAILS("{1 \"needs_read\" {0", "key \"needs_read\": expected array, found map");
    CBOR_FAILS("{1 \"needs_read\" \"/a\"", "key \"needs_read\": expected array, found text");
    CBOR_FAILS("{1 \"needs_env\" [2 \"A\" u1", "needs_env[1]: expected text, found uint");
    CBOR_FAILS("{1 \"needs_net\" [_ \"*\" [0 )", "needs_net[1]: expected text, found array");
    CBOR_FAILS("{1 \"needs_write\" [1 xd8 x20 \"/a\"", "needs_write[0]: expected text, found tag");
}

/* Nesting deeper than the schema is refused at its first level, without recursion. */
static void test_deep_nesting(void)
{
    pb_buf b = cb("{1 \"needs_read\" [1");
    pm_manifest m;
    perch_err err;
    for (int i = 0; i < 200000; i++)
        pb_buf_byte(&b, 0x81);
    CHECK_INT(pm_from_cbor(b.data, b.len, &m, &err), PERCH_E_MANIFEST_MALFORMED);
    CHECK_STR(err.message, "needs_read[0]: expected text, found array");
    CHECK_INT(err.offset, 13);
    CHECK_STR(err.detail, "at byte 13 (0xd)");
    pb_buf_free(&b);

    b = cb("");
    for (int i = 0; i < 200000; i++)
        pb_buf_byte(&b, 0xbf);
    CHECK_INT(pm_from_cbor(b.data, b.len, &m, &err), PERCH_E_MANIFEST_MALFORMED);
    CHECK_STR(err.message, "map key: expected text, found map");
    pb_buf_free(&b);
}

static void test_value_rules(void)
{
    CBOR_FAILS("{4 " BASE " \"needs_read\" [3 \"/a\" \"/b\" \"/a/../b\"",
               "needs_read[2] \"/a/../b\": contains a '..' component");
    CBOR_FAILS("{4 " BASE " \"needs_write\" [1 \"out\"",
               "needs_write[0] \"out\": is relative (guest paths must start with '/')");
    CBOR_FAILS("{4 " BASE " \"needs_read\" [3 \"/a\" \"/b\" \"/a\"",
               "needs_read[2] \"/a\": duplicate entry (same as needs_read[0])");
    CBOR_FAILS("{4 " BASE " \"needs_env\" [4 \"A\" \"B\" \"B\" \"A\"",
               "needs_env[2] \"B\": duplicate entry (same as needs_env[1])");
    CBOR_FAILS("{4 " BASE " \"needs_net\" [1 \"api.example.com\"",
               "needs_net[0] \"api.example.com\": has no port (write host:port, e.g. api.example.com:443)");
    CBOR_FAILS("{4 " BASE " \"needs_net\" [1 \"api.example.com:65536\"",
               "needs_net[0] \"api.example.com:65536\": has a port out of range (1 to 65535)");
    CBOR_FAILS("{4 " BASE " \"needs_net\" [1 \"api.*.com:443\"",
               "needs_net[0] \"api.*.com:443\": has a '*' that is not a whole leading label "
               "(write *.example.com:443 or *)");
    CBOR_FAILS("{4 " BASE " \"needs_env\" [1 \"A-B\"",
               "needs_env[0] \"A-B\": may contain only letters, digits and '_'");
    CBOR_FAILS("{4 " BASE " \"memory_max\" u4294967297",
               "memory_max 4294967297: is above 4 GiB (4294967296 bytes), the most a wasm32 memory "
               "can address");
    CBOR_FAILS("{3 \"name\" \"hello\" \"schema\" u1 \"version\" \"1.0\"",
               "version \"1.0\": is not a semantic version (MAJOR.MINOR.PATCH, no leading zeros)");
    /* text: encoding, control characters (escaped in the message), size */
    CBOR_FAILS("{3 \"name\" s3 x61 xff x62 \"schema\" u1 \"version\" \"1.0.0\"",
               "name \"a\\xffb\": is not well-formed UTF-8");
    CBOR_FAILS("{3 \"name\" s3 x61 x00 x62 \"schema\" u1 \"version\" \"1.0.0\"",
               "name \"a\\x00b\": contains a control character");
    CBOR_FAILS("{3 \"name\" s4 x61 x1b x5b x32 \"schema\" u1 \"version\" \"1.0.0\"",
               "name \"a\\x1b[2\": contains a control character");
    CBOR_FAILS("{3 \"name\" s3 x61 xc2 x85 \"schema\" u1 \"version\" \"1.0.0\"",
               "name \"a\\u0085\": contains a control character");
    CBOR_FAILS("{3 \"name\" s4 xe2 x80 xae x61 \"schema\" u1 \"version\" \"1.0.0\"",
               "name \"\\u202ea\": contains a bidirectional control character");
    CBOR_FAILS("{3 \"name\" \"\" \"schema\" u1 \"version\" \"1.0.0\"", "name \"\": is empty");
    CBOR_FAILS("{4 " BASE " \"needs_read\" [1 s4 x2f x61 x00 x62",
               "needs_read[0] \"/a\\x00b\": contains a control character");
    CBOR_FAILS("{4 " BASE " \"needs_read\" [1 s3 x2f x61 x7f",
               "needs_read[0] \"/a\\x7f\": contains a control character");
    CBOR_FAILS("{4 " BASE " \"needs_net\" [1 s2 x22 x5c",
               "needs_net[0] \"\\\"\\\\\": has no port (write host:port, e.g. api.example.com:443)");
}

static void test_size_limits(void)
{
    pm_manifest m;
    perch_err err;
    pb_buf b = cb("{4 " BASE " \"needs_read\" [1 s25:4097 x2f");
    for (int i = 0; i < 4096; i++)
        pb_buf_byte(&b, 'a');
    CHECK_INT(pm_from_cbor(b.data, b.len, &m, &err), PERCH_E_MANIFEST_MALFORMED);
    CHECK(strncmp(err.message, "needs_read[0] \"/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\": "
                               "is longer than 4096 bytes", 200) == 0);
    pb_buf_free(&b);

    b = cb("{4 " BASE " \"needs_read\" [1 t_");
    for (int i = 0; i < 5; i++) {
        head(&b, 3, 0, 1000);
        for (int k = 0; k < 1000; k++)
            pb_buf_byte(&b, 'a');
    }
    pb_buf_byte(&b, 0xff);
    CHECK_INT(pm_from_cbor(b.data, b.len, &m, &err), PERCH_E_MANIFEST_MALFORMED);
    CHECK_STR(err.message, "text is longer than 4096 bytes");
    pb_buf_free(&b);

    b = cb("{3 \"name\" s25:257");
    for (int i = 0; i < 257; i++)
        pb_buf_byte(&b, 'n');
    pb_buf_append(&b, "\x66schema\x01\x67version\x65" "1.0.0", 22);
    CHECK_INT(pm_from_cbor(b.data, b.len, &m, &err), PERCH_E_MANIFEST_MALFORMED);
    CHECK(strstr(err.message, "\": is longer than 256 bytes") != NULL);
    pb_buf_free(&b);

    /* 4096 entries are fine, the 4097th is not (indefinite: no declared count) */
    b = cb("{4 " BASE " \"needs_env\" [_");
    for (int i = 0; i < 4097; i++) {
        char name[16];
        snprintf(name, sizeof name, "V%d", i);
        head(&b, 3, 0, strlen(name));
        pb_buf_append(&b, name, strlen(name));
    }
    pb_buf_byte(&b, 0xff);
    CHECK_INT(pm_from_cbor(b.data, b.len, &m, &err), PERCH_E_MANIFEST_MALFORMED);
    CHECK_STR(err.message, "needs_env: more than 4096 entries");
    b.len -= 7; /* drop "V4096" and the break */
    pb_buf_byte(&b, 0xff);
    CHECK_INT(pm_from_cbor(b.data, b.len, &m, &err), PERCH_OK);
    CHECK_INT(m.needs_env.count, 4096);
    pm_manifest_free(&m);
    pb_buf_free(&b);

    b = cb("");
    pb_buf_reserve(&b, PM_MAX_PAYLOAD + 1);
    memset(b.data, 0xa0, PM_MAX_PAYLOAD + 1);
    CHECK_INT(pm_from_cbor(b.data, PM_MAX_PAYLOAD + 1, &m, &err), PERCH_E_MANIFEST_MALFORMED);
    CHECK_STR(err.message, "payload is 1048577 bytes; the limit is 1048576");
    memset(b.data, ' ', PM_MAX_PAYLOAD + 1);
    CHECK_INT(pm_from_json((const char *)b.data, PM_MAX_PAYLOAD + 1, &m, &err),
              PERCH_E_MANIFEST_MALFORMED);
    CHECK_STR(err.message, "manifest is 1048577 bytes; the limit is 1048576");
    pb_buf_free(&b);
}

/* ---- JSON ------------------------------------------------------------------ */

static void test_json_round_trip(void)
{
    pm_manifest m, m2;
    pb_buf cbor, json;
    perch_err err;
    sample(&m);
    CHECK_INT(pm_to_json(&m, &json, &err), PERCH_OK);
    CHECK_STR((const char *)json.data, sample_json);
    pm_manifest_free(&m);

    /* JSON -> CBOR -> JSON gives the same text; the CBOR is the canonical bytes */
    CHECK_INT(pm_from_json((const char *)json.data, json.len, &m, &err), PERCH_OK);
    CHECK_INT(pm_to_cbor(&m, &cbor, &err), PERCH_OK);
    CHECK(bytes_are(&cbor, SAMPLE_CBOR));
    CHECK_INT(pm_from_cbor(cbor.data, cbor.len, &m2, &err), PERCH_OK);
    pb_buf_free(&json);
    CHECK_INT(pm_to_json(&m2, &json, &err), PERCH_OK);
    CHECK_STR((const char *)json.data, sample_json);
    pb_buf_free(&json);
    pb_buf_free(&cbor);
    pm_manifest_free(&m);
    pm_manifest_free(&m2);

    /* the minimal form: every key, empty lists, memory_max null */
    CHECK_INT(from_js("{" JBASE "}", &m, &err), PERCH_OK);
    CHECK_INT(pm_to_json(&m, &json, &err), PERCH_OK);
    CHECK_STR((const char *)json.data,
              "{\n  \"schema\": 1,\n  \"name\": \"hello\",\n  \"version\": \"1.0.0\",\n"
              "  \"needs_read\": [],\n  \"needs_write\": [],\n  \"needs_net\": [],\n"
              "  \"needs_env\": [],\n  \"memory_max\": null\n}\n");
    pb_buf_free(&json);
    pm_manifest_free(&m);

    /* null memory_max is absent; quotes, backslashes and UTF-8 survive */
    CHECK_INT(from_js("{\"memory_max\": null, \"name\": \"a \\\"b\\\" \\\\ \xc3\xa9\", "
                      "\"schema\": 1, \"version\": \"1.0.0-rc.1+build.5\", \"needs_write\": [\"/\"]}",
                      &m, &err), PERCH_OK);
    CHECK(!m.has_memory_max);
    CHECK_STR(m.name, "a \"b\" \\ \xc3\xa9");
    CHECK_INT(pm_to_json(&m, &json, &err), PERCH_OK);
    CHECK(strstr((const char *)json.data, "\"name\": \"a \\\"b\\\" \\\\ \xc3\xa9\",") != NULL);
    CHECK(strstr((const char *)json.data, "\"needs_write\": [\n    \"/\"\n  ],") != NULL);
    pm_manifest_free(&m);
    CHECK_INT(pm_from_json((const char *)json.data, json.len, &m, &err), PERCH_OK);
    CHECK_STR(m.name, "a \"b\" \\ \xc3\xa9");
    pm_manifest_free(&m);
    pb_buf_free(&json);
}

static void test_json_rules(void)
{
    JSON_FAILS("{\"schema\": 1,\n  \"name\": \"a\",\n  \"version\": }",
               "line 3, column 14: unexpected token near '}'");
    JSON_FAILS("{" JBASE ", \"name\": \"b\"}",
               "line 1, column 57: duplicate key \"name\"");
    JSON_FAILS("[1]", "expected a JSON object at the top level, found array");
    JSON_FAILS("{" JBASE "} x", "line 1, column 52: end of file expected near 'x'");
    JSON_FAILS("", "line 1, column 0: '[' or '{' expected near end of file");
    JSON_FAILS("{" JBASE ", \"needs\": []}",
               "unknown key \"needs\" (the keys of schema 1 are schema, name, version, needs_read, "
               "needs_write, needs_net, needs_env, memory_max)");
    JSON_FAILS("{\"name\": \"a\", \"version\": \"1.0.0\"}", "missing required key \"schema\"");
    JSON_FAILS("{\"schema\": 2, \"name\": \"a\", \"version\": \"1.0.0\"}",
               "schema 2: is not a supported schema (this perch reads schema 1)");
    JSON_FAILS("{\"schema\": 1.0}", "key \"schema\": expected uint, found real");
    JSON_FAILS("{\"schema\": true}", "key \"schema\": expected uint, found boolean");
    JSON_FAILS("{\"schema\": \"1\"}", "key \"schema\": expected uint, found text");
    JSON_FAILS("{\"schema\": null}", "key \"schema\": expected uint, found null");
    JSON_FAILS("{" JBASE ", \"memory_max\": -1}", "key \"memory_max\": expected uint, found negative integer");
    JSON_FAILS("{" JBASE ", \"memory_max\": 1e6}", "key \"memory_max\": expected uint, found real");
    JSON_FAILS("{" JBASE ", \"memory_max\": 4294967297}",
               "memory_max 4294967297: is above 4 GiB (4294967296 bytes), the most a wasm32 memory "
               "can address");
    JSON_FAILS("{\"name\": [\"a\"]}", "key \"name\": expected text, found array");
    JSON_FAILS("{\"name\": {}}", "key \"name\": expected text, found object");
    JSON_FAILS("{" JBASE ", \"needs_read\": \"/a\"}", "key \"needs_read\": expected array, found text");
    JSON_FAILS("{" JBASE ", \"needs_read\": [\"/a\", 1]}", "needs_read[1]: expected text, found uint");
    JSON_FAILS("{" JBASE ", \"needs_net\": [[\"*\"]]}", "needs_net[0]: expected text, found array");
    JSON_FAILS("{" JBASE ", \"needs_read\": [\"/a\", \"/b\", \"/a/../b\"]}",
               "needs_read[2] \"/a/../b\": contains a '..' component");
    JSON_FAILS("{" JBASE ", \"needs_env\": [\"HOME\", \"HOME\"]}",
               "needs_env[1] \"HOME\": duplicate entry (same as needs_env[0])");
    JSON_FAILS("{\"schema\": 1, \"name\": \"a\\u0007b\", \"version\": \"1.0.0\"}",
               "name \"a\\x07b\": contains a control character");
    JSON_FAILS("{\"schema\": 1, \"name\": \"a\\u0000b\", \"version\": \"1.0.0\"}",
               "line 1, column 32: a NUL character (\\u0000) is not allowed in a string");
    JSON_FAILS("{\"na\\u0000me\": 1}", "line 1, column 13: a NUL character (\\u0000) is not allowed in a key");
    JSON_FAILS("{\"name\": \"\xff\"}", "line 1, column 10: unable to decode byte 0xff near '\"'");
    JSON_FAILS("{\"name\": \"a\x01\"}", "line 1, column 11: control character 0x1 near '\"a'");
    JSON_FAILS("{\"memory_max\": 99999999999999999999}",
               "line 1, column 35: too big integer near '99999999999999999999'");
}

static void test_json_deep_nesting(void)
{
    pb_buf b = {0};
    pm_manifest m;
    perch_err err;
    pb_buf_append(&b, "{\"needs_read\": ", 15);
    for (int i = 0; i < 100000; i++)
        pb_buf_byte(&b, '[');
    CHECK_INT(pm_from_json((const char *)b.data, b.len, &m, &err), PERCH_E_MANIFEST_MALFORMED);
    CHECK(strstr(err.message, "maximum parsing depth") != NULL);
    pb_buf_free(&b);
}

/* ---- validation of manifests built in code --------------------------------- */

static void test_validate(void)
{
    pm_manifest m;
    pb_buf out;
    perch_err err;

    pm_manifest_init(&m);
    CHECK_INT(pm_validate(&m, &err), PERCH_E_MANIFEST_MALFORMED);
    CHECK_STR(err.message, "missing required key \"schema\"");
    CHECK_INT(pm_to_cbor(&m, &out, &err), PERCH_E_MANIFEST_MALFORMED);
    CHECK(out.data == NULL && out.len == 0);
    CHECK_INT(pm_to_json(&m, &out, &err), PERCH_E_MANIFEST_MALFORMED);
    CHECK(out.data == NULL);

    sample(&m);
    CHECK_INT(pm_validate(&m, &err), PERCH_OK);
    pb_free(m.needs_read.items[1]);
    m.needs_read.items[1] = pb_strdup("/inputs");
    CHECK_INT(pm_to_cbor(&m, &out, &err), PERCH_E_MANIFEST_MALFORMED);
    CHECK_STR(err.message, "needs_read[1] \"/inputs\": duplicate entry (same as needs_read[0])");
    m.memory_max = PM_MEMORY_LIMIT + 1;
    pb_free(m.needs_read.items[1]);
    m.needs_read.items[1] = pb_strdup("/x");
    CHECK_INT(pm_to_json(&m, &out, &err), PERCH_E_MANIFEST_MALFORMED);
    CHECK_STR(err.message, "memory_max 4294967297: is above 4 GiB (4294967296 bytes), the most a "
                           "wasm32 memory can address");
    m.memory_max = 0;
    m.schema = 3;
    CHECK_INT(pm_validate(&m, &err), PERCH_E_MANIFEST_MALFORMED);
    CHECK_STR(err.message, "schema 3: is not a supported schema (this perch reads schema 1)");
    m.schema = 1;
    pb_free(m.version);
    m.version = NULL;
    CHECK_INT(pm_validate(&m, &err), PERCH_E_MANIFEST_MALFORMED);
    CHECK_STR(err.message, "missing required key \"version\"");
    pm_manifest_free(&m);
}

static void test_quote(void)
{
    char q[300];
    pm_quote(q, sizeof q, (const uint8_t *)"a\tb\"c\\", 6);
    CHECK_STR(q, "\"a\\x09b\\\"c\\\\\"");
    pm_quote(q, sizeof q, (const uint8_t *)"\xc3\xa9\xff", 3);
    CHECK_STR(q, "\"\\xc3\\xa9\\xff\"");
    pm_quote(q, sizeof q, (const uint8_t *)"\xc3\xa9", 2);
    CHECK_STR(q, "\"\xc3\xa9\"");
    /* cut at 64 bytes, never inside a UTF-8 sequence */
    {
        char in[80];
        memset(in, 'a', 63);
        memcpy(in + 63, "\xc3\xa9zz", 4);
        pm_quote(q, sizeof q, (const uint8_t *)in, 67);
        CHECK_INT(strlen(q), 63 + 5);
        CHECK(strcmp(q + 64, "...\"") == 0);
    }
    /* code points that hide or reorder text are shown as \uXXXX */
    pm_quote(q, sizeof q, (const uint8_t *)"a\xc2\x9b" "b\xe2\x80\xae" "c\xe2\x81\xa6", 11);
    CHECK_STR(q, "\"a\\u009bb\\u202ec\\u2066\"");
    pm_quote(q, 4, (const uint8_t *)"abc", 3);
    CHECK_STR(q, "");
}

/* ---- allocation failure ---------------------------------------------------- */

/* Run fn with the nth allocation failing for n = 1, 2, ... until it succeeds;
 * each failure is out of memory (io) and leaves nothing allocated (ASan). */
#define EVERY_ALLOCATION(call, want)                                           \
    do {                                                                       \
        perch_err_kind rc_;                                                    \
        uint64_t n_ = 1;                                                       \
        for (;; n_++) {                                                        \
            pb_alloc_fail_after(n_);                                           \
            rc_ = (call);                                                      \
            pb_alloc_fail_after(0);                                            \
            if (rc_ != PERCH_E_IO)                                             \
                break;                                                         \
            CHECK(strstr(err.message, "out of memory") != NULL);               \
        }                                                                      \
        CHECK_INT(rc_, want);                                                  \
        CHECK(n_ > 1);                                                         \
    } while (0)

static void test_allocation_failures(void)
{
    pm_manifest m, sm;
    pb_buf out = {0};
    perch_err err;
    pb_buf canon = cb(SAMPLE_CBOR);
    pb_buf odd = cb("{_ \"name\" t_ \"risk-\" \"model\" ) \"schema\" u1 \"version\" \"1.4.0\" "
                    "\"needs_read\" [_ \"/b\" \"/a\" ) )");
    pb_buf bad = cb("{4 " BASE " \"needs_read\" [3 \"/a\" \"/b\" \"/a\"");

    sample(&sm);
    EVERY_ALLOCATION(pm_from_cbor(canon.data, canon.len, &m, &err), PERCH_OK);
    pm_manifest_free(&m);
    EVERY_ALLOCATION(pm_from_cbor(odd.data, odd.len, &m, &err), PERCH_OK);
    pm_manifest_free(&m);
    EVERY_ALLOCATION(pm_from_cbor(bad.data, bad.len, &m, &err), PERCH_E_MANIFEST_MALFORMED);
    EVERY_ALLOCATION(pm_from_json(sample_json, strlen(sample_json), &m, &err), PERCH_OK);
    pm_manifest_free(&m);
    EVERY_ALLOCATION(pm_from_json("{" JBASE ", \"needs_env\": [\"A\", \"A\"]}",
                                  strlen("{" JBASE ", \"needs_env\": [\"A\", \"A\"]}"), &m, &err),
                     PERCH_E_MANIFEST_MALFORMED);
    EVERY_ALLOCATION(pm_from_json("{\"a\": [1, 2", 11, &m, &err), PERCH_E_MANIFEST_MALFORMED);
    EVERY_ALLOCATION(pm_to_cbor(&sm, &out, &err), PERCH_OK);
    CHECK(bytes_are(&out, SAMPLE_CBOR));
    pb_buf_free(&out);
    EVERY_ALLOCATION(pm_to_json(&sm, &out, &err), PERCH_OK);
    CHECK_STR((const char *)out.data, sample_json);
    pb_buf_free(&out);
    pm_manifest_free(&sm);
    pb_buf_free(&canon);
    pb_buf_free(&odd);
    pb_buf_free(&bad);
}

int main(void)
{
    RUN(test_exact_cbor_bytes);
    RUN(test_key_order_is_bytewise);
    RUN(test_non_canonical_accepted);
    RUN(test_decoded_values);
    RUN(test_cbor_structure_rules);
    RUN(test_key_rules);
    RUN(test_wrong_types);
    RUN(test_deep_nesting);
    RUN(test_value_rules);
    RUN(test_size_limits);
    RUN(test_json_round_trip);
    RUN(test_json_rules);
    RUN(test_json_deep_nesting);
    RUN(test_validate);
    RUN(test_quote);
    RUN(test_allocation_failures);
    return CHECK_DONE();
}
