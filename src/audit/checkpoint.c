/*
 * checkpoint.c: a signed statement "this log held count records, the last
 * with hash last", the outside anchor that catches whole records removed
 * from the end of a log.
 */
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"

#define CP_TYPE "perch.audit.checkpoint"

/* The bytes the signature covers: "perch.audit.checkpoint\n<count>\n<last>\n". */
static size_t signed_bytes(uint64_t count, const char *last, char *out, size_t cap)
{
    int n = snprintf(out, cap, CP_TYPE "\n%llu\n%s\n", (unsigned long long)count, last);
    return n < 0 ? 0 : (size_t)n;
}

static bool hex64(const char *s)
{
    size_t i = 0;
    for (; s[i]; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return i == PA_HASH_HEX;
}

perch_err_kind pa_checkpoint_make(uint64_t count, const char *last, const char *time,
                                  const pt_key *key, const char *signer, pb_buf *out,
                                  perch_err *err)
{
    char msg[160];
    uint8_t pub[PT_ED25519_PUBLIC_LEN], sig[PT_ED25519_SIG_LEN];
    char pub64[64], sig64[128];
    size_t n;
    perch_err_kind rc;
    const char *why;

    if (!hex64(last))
        return pb_fail(err, PERCH_E_USAGE, "checkpoint: last hash is not 64 lowercase hex digits");
    if (!pt_signer_valid(signer, strlen(signer), &why))
        return pb_fail(err, PERCH_E_USAGE, "checkpoint: signer name: %s", why);
    n = signed_bytes(count, last, msg, sizeof msg);
    if ((rc = pt_key_sign(key, (const uint8_t *)msg, n, sig, err)) != PERCH_OK)
        return rc;
    pt_key_public(key, pub);
    pt_b64_encode(pub, sizeof pub, pub64);
    pt_b64_encode(sig, sizeof sig, sig64);
    if (!pb_buf_printf(out,
                       "{\"type\":\"" CP_TYPE "\",\"count\":%llu,\"last\":\"%s\",\"time\":\"%s\","
                       "\"signer\":\"%s\",\"pubkey\":\"%s\",\"sig\":\"%s\"}\n",
                       (unsigned long long)count, last, time, signer, pub64, sig64))
        return pb_fail(err, PERCH_E_IO, "out of memory");
    return PERCH_OK;
}

perch_err_kind pa_checkpoint_check(const char *text, size_t len, const pt_keyring *ring,
                                   pa_anchor *anchor, char signer[PT_SIGNER_MAX + 1],
                                   perch_err *err)
{
    static const char *const keys[] = {"type", "count", "last", "time", "signer", "pubkey", "sig"};
    json_error_t jerr;
    json_t *root;
    const char *s[7] = {0};
    uint8_t pub[PT_ED25519_PUBLIC_LEN], sig[PT_ED25519_SIG_LEN];
    char msg[160];
    const char *why;
    json_int_t count;
    perch_err_kind rc;
    size_t n;

    memset(anchor, 0, sizeof *anchor);
    signer[0] = '\0';
    if (len > PA_CHECKPOINT_MAX)
        return pb_fail(err, PERCH_E_USAGE, "checkpoint is over %d bytes", PA_CHECKPOINT_MAX);
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return pb_fail(err, PERCH_E_USAGE, "checkpoint is not valid JSON: %s at line %d",
                       jerr.text, jerr.line);
    if (!json_is_object(root) || json_object_size(root) != 7) {
        rc = pb_fail(err, PERCH_E_USAGE, "checkpoint must be an object with exactly the keys "
                     "type, count, last, time, signer, pubkey, sig");
        goto fail;
    }
    for (size_t i = 0; i < 7; i++) {
        json_t *v = json_object_get(root, keys[i]);
        if (!v || (i == 1 ? !json_is_integer(v) : !json_is_string(v))) {
            rc = pb_fail(err, PERCH_E_USAGE, "checkpoint: \"%s\" is missing or not a%s",
                         keys[i], i == 1 ? "n integer" : " string");
            goto fail;
        }
        if (i != 1)
            s[i] = json_string_value(v);
    }
    count = json_integer_value(json_object_get(root, "count"));
    if (strcmp(s[0], CP_TYPE) != 0 || count < 1 || !hex64(s[2]) ||
        !pt_signer_valid(s[4], strlen(s[4]), &why)) {
        rc = pb_fail(err, PERCH_E_USAGE, "checkpoint: type must be " CP_TYPE ", count >= 1, "
                     "last 64 lowercase hex digits and signer a valid name");
        goto fail;
    }
    if (!pt_b64_decode_exact(s[5], strlen(s[5]), pub, sizeof pub, &why) ||
        !pt_b64_decode_exact(s[6], strlen(s[6]), sig, sizeof sig, &why)) {
        rc = pb_fail(err, PERCH_E_USAGE, "checkpoint: pubkey or sig: %s", why);
        goto fail;
    }
    n = signed_bytes((uint64_t)count, s[2], msg, sizeof msg);
    if (!pt_ed25519_verify(pub, (const uint8_t *)msg, n, sig)) {
        rc = pb_fail(err, PERCH_E_MANIFEST_SIGNATURE_INVALID,
                     "checkpoint signature does not match its count and hash");
        goto fail;
    }
    if (!ring || pt_keyring_lookup(ring, s[4], pub) != PT_TRUSTED) {
        rc = pb_fail(err, PERCH_E_MANIFEST_SIGNER_UNTRUSTED,
                     "checkpoint signer %s with this key is not in the trusted keyring", s[4]);
        goto fail;
    }
    anchor->has_count = true;
    anchor->count = (uint64_t)count;
    anchor->has_last = true;
    memcpy(anchor->last, s[2], PA_HASH_HEX + 1);
    snprintf(signer, PT_SIGNER_MAX + 1, "%s", s[4]);
    rc = PERCH_OK;
fail:
    json_decref(root);
    return rc;
}
