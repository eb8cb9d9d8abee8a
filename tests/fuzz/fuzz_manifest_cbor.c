/*
 * fuzz_manifest_cbor.c: the CBOR manifest reader on arbitrary bytes.
 *
 * Properties: no crash, leak or out-of-bounds read; a refusal is
 * manifest_malformed with a message safe to print; an accepted payload
 * re-encodes to canonical bytes that read back to the same canonical bytes,
 * and its JSON form reads back to the same manifest.
 */
#include <stdlib.h>
#include <string.h>

#include "manifest/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_message(const perch_err *err)
{
    if (err->kind != PERCH_E_MANIFEST_MALFORMED)
        abort();
    for (const char *p = err->message; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            abort();
}

static void same_cbor(const pm_manifest *m, const pb_buf *want)
{
    perch_err err;
    pb_buf got;
    if (pm_to_cbor(m, &got, &err) != PERCH_OK)
        abort();
    if (got.len != want->len || memcmp(got.data, want->data, got.len) != 0)
        abort();
    pb_buf_free(&got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pm_manifest m, again;
    perch_err err;
    pb_buf canon, json;

    if (pm_from_cbor(data, size, &m, &err) != PERCH_OK) {
        check_message(&err);
        return 0;
    }
    if (pm_to_cbor(&m, &canon, &err) != PERCH_OK)
        abort();
    if (pm_from_cbor(canon.data, canon.len, &again, &err) != PERCH_OK)
        abort();
    same_cbor(&again, &canon);
    pm_manifest_free(&again);
    if (pm_to_json(&m, &json, &err) != PERCH_OK)
        abort();
    if (pm_from_json((const char *)json.data, json.len, &again, &err) != PERCH_OK)
        abort();
    same_cbor(&again, &canon);
    pm_manifest_free(&again);
    pb_buf_free(&json);
    pb_buf_free(&canon);
    pm_manifest_free(&m);
    return 0;
}
