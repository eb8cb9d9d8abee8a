/*
 * fuzz_manifest_json.c: the JSON manifest reader on arbitrary text.
 *
 * Properties: no crash, leak or out-of-bounds read; a refusal is
 * manifest_malformed with a message safe to print; an accepted manifest
 * survives JSON -> CBOR -> JSON unchanged.
 */
#include <stdlib.h>
#include <string.h>

#include "manifest/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pm_manifest m, again;
    perch_err err;
    pb_buf json, cbor, json2;

    if (pm_from_json((const char *)data, size, &m, &err) != PERCH_OK) {
        if (err.kind != PERCH_E_MANIFEST_MALFORMED)
            abort();
        for (const char *p = err.message; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                abort();
        return 0;
    }
    if (pm_to_json(&m, &json, &err) != PERCH_OK || pm_to_cbor(&m, &cbor, &err) != PERCH_OK)
        abort();
    if (pm_from_cbor(cbor.data, cbor.len, &again, &err) != PERCH_OK)
        abort();
    if (pm_to_json(&again, &json2, &err) != PERCH_OK)
        abort();
    if (json.len != json2.len || memcmp(json.data, json2.data, json.len) != 0)
        abort();
    pb_buf_free(&json);
    pb_buf_free(&json2);
    pb_buf_free(&cbor);
    pm_manifest_free(&again);
    pm_manifest_free(&m);
    return 0;
}
