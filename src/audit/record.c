/* record.c: one line of an audit log, parsed and its hash recomputed. */
#include <string.h>

#include "audit/audit.h"

/* The bytes a line ends in after the record's content: ,"hash":"<64 hex>"} */
#define HASH_HEAD ",\"hash\":\""
#define HASH_HEAD_LEN (sizeof HASH_HEAD - 1)
#define HASH_TAIL_LEN (HASH_HEAD_LEN + PA_HASH_HEX + 2)

_Static_assert(PA_HASH_HEX == 2 * PT_SHA256_LEN, "a hash in hex is two digits a byte");

static bool is_hex64(const char *s, size_t len)
{
    if (len != PA_HASH_HEX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

bool pa_kind_is_header(const char *kind)
{
    return strcmp(kind, "log.open") == 0 || strcmp(kind, "log.rotate") == 0;
}

static perch_err_kind want_string(json_t *root, const char *key, const char **out,
                                  perch_err *err)
{
    json_t *v = json_object_get(root, key);
    if (!v)
        return pb_fail(err, PERCH_E_IO, "not an audit record: no \"%s\" field", key);
    if (!json_is_string(v))
        return pb_fail(err, PERCH_E_IO, "not an audit record: \"%s\" is not a string", key);
    *out = json_string_value(v);
    return PERCH_OK;
}

perch_err_kind pa_record_parse(const char *line, size_t len, pb_buf *scratch, pa_record *out,
                               perch_err *err)
{
    static const char *const text_keys[] = {"time", "kind", "object", "outcome"};
    json_error_t jerr;
    json_t *seq;
    const char *s, *prev, *hash;
    uint8_t digest[PT_SHA256_LEN];
    perch_err_kind rc;
    size_t body;

    memset(out, 0, sizeof *out);
    if (!pb_utf8_valid((const uint8_t *)line, len))
        return pb_fail(err, PERCH_E_IO, "not an audit record: not valid UTF-8");
    /*
     * The hash is over the exact bytes written, so the line must end in the
     * one spelling of the hash member a writer produces; anything else
     * could make two different lines hash alike.
     */
    if (len < HASH_TAIL_LEN + 1 ||
        memcmp(line + len - HASH_TAIL_LEN, HASH_HEAD, HASH_HEAD_LEN) != 0 ||
        !is_hex64(line + len - 2 - PA_HASH_HEX, PA_HASH_HEX) ||
        memcmp(line + len - 2, "\"}", 2) != 0)
        return pb_fail(err, PERCH_E_IO,
                       "not an audit record: the line does not end in ,\"hash\":\"<64 hex>\"}");
    out->root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!out->root)
        return pb_fail(err, PERCH_E_IO, "not valid JSON: %s at column %d", jerr.text,
                       jerr.column);
    if (!json_is_object(out->root)) {
        rc = pb_fail(err, PERCH_E_IO, "not an audit record: not a JSON object");
        goto fail;
    }
    seq = json_object_get(out->root, "seq");
    if (!seq || !json_is_integer(seq) || json_integer_value(seq) < 0) {
        rc = pb_fail(err, PERCH_E_IO, "not an audit record: \"seq\" is %s",
                     seq ? "not an integer >= 0" : "missing");
        goto fail;
    }
    out->seq = (uint64_t)json_integer_value(seq);
    for (size_t i = 0; i < sizeof text_keys / sizeof text_keys[0]; i++)
        PB_TRY(want_string(out->root, text_keys[i], &s, err));
    PB_TRY(want_string(out->root, "kind", &out->kind, err));
    PB_TRY(want_string(out->root, "prev", &prev, err));
    PB_TRY(want_string(out->root, "hash", &hash, err));
    if (!is_hex64(prev, strlen(prev))) {
        rc = pb_fail(err, PERCH_E_IO, "not an audit record: \"prev\" is not 64 lowercase hex digits");
        goto fail;
    }
    /* A duplicate-free object ending in the hash member: this is that member. */
    if (strlen(hash) != PA_HASH_HEX ||
        memcmp(hash, line + len - 2 - PA_HASH_HEX, PA_HASH_HEX) != 0) {
        rc = pb_fail(err, PERCH_E_IO, "not an audit record: \"hash\" is not the last member");
        goto fail;
    }
    memcpy(out->prev, prev, PA_HASH_HEX + 1);
    memcpy(out->hash, hash, PA_HASH_HEX + 1);

    /* SHA-256(prev || the line with ,"hash":"..." removed, ending in "}") */
    body = len - HASH_TAIL_LEN;
    scratch->len = 0;
    if (!pb_buf_reserve(scratch, PA_HASH_HEX + body + 1)) {
        rc = pb_fail(err, PERCH_E_IO, "out of memory");
        goto fail;
    }
    memcpy(scratch->data, prev, PA_HASH_HEX);
    memcpy(scratch->data + PA_HASH_HEX, line, body);
    scratch->data[PA_HASH_HEX + body] = '}';
    PB_TRY(pt_sha256(scratch->data, PA_HASH_HEX + body + 1, digest, err));
    {
        char hex[PA_HASH_HEX + 1];
        pt_hex(digest, sizeof digest, hex);
        out->hash_ok = memcmp(hex, out->hash, PA_HASH_HEX) == 0;
    }
    return PERCH_OK;
fail:
    pa_record_free(out);
    return rc;
}

void pa_record_free(pa_record *r)
{
    if (r->root)
        json_decref(r->root);
    r->root = NULL;
    r->kind = NULL;
}
