/*
 * keyring.c: the signers a host trusts, read from keyring JSON.
 *
 * keyring -> {"keys": [entry, ...]}
 * entry   -> {"signer": NAME, "algo": "ed25519", "pubkey": B64(32 bytes)}
 *
 * A keyring is trust configuration: anything perch does not understand in
 * it is an error (policy_invalid), never skipped, so that a typo cannot
 * silently widen or narrow whom a host trusts.
 */
#include <jansson.h>
#include <string.h>

#include "manifest/manifest.h"
#include "trust/trust.h"

bool pt_signer_valid(const char *name, size_t len, const char **why)
{
    if (len == 0) {
        *why = "the signer name is empty";
        return false;
    }
    if (len > PT_SIGNER_MAX) {
        *why = "the signer name is longer than 128 bytes";
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '@' || c == '-';
        if (!ok) {
            *why = "the signer name has a character outside [A-Za-z0-9._@-]";
            return false;
        }
    }
    if (name[0] == '.') {
        /* NAME.key must not become a hidden file, "." or ".." */
        *why = "the signer name starts with '.'";
        return false;
    }
    return true;
}

static bool json_oom;

static void *json_alloc(size_t size)
{
    void *p = pb_malloc(size);
    if (!p)
        json_oom = true;
    return p;
}

static void json_release(void *p) { pb_free(p); }

static perch_err_kind bad(perch_err *err, const char *fmt, ...) PB_PRINTF(2, 3);
static perch_err_kind bad(perch_err *err, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return pb_fail(err, PERCH_E_POLICY_INVALID, "keyring: %s", msg);
}

/* A string member of entry i, or NULL after filling err. */
static const char *member(json_t *e, size_t i, const char *key, size_t *len, perch_err *err)
{
    json_t *v = json_object_get(e, key);
    if (!v) {
        bad(err, "keys[%zu]: missing \"%s\"", i, key);
        return NULL;
    }
    if (!json_is_string(v)) {
        bad(err, "keys[%zu].%s: expected a string", i, key);
        return NULL;
    }
    *len = json_string_length(v);
    return json_string_value(v);
}

static perch_err_kind read_entry(json_t *e, size_t i, pt_keyring_entry *out, perch_err *err)
{
    const char *key, *s, *why;
    json_t *v;
    size_t len;

    if (!json_is_object(e))
        return bad(err, "keys[%zu]: expected an object", i);
    json_object_foreach(e, key, v) {
        if (strcmp(key, "signer") != 0 && strcmp(key, "algo") != 0 &&
            strcmp(key, "pubkey") != 0) {
            char q[96];
            pm_quote(q, sizeof q, (const uint8_t *)key, strlen(key));
            return bad(err, "keys[%zu]: unknown key %s (expected signer, algo, pubkey)", i, q);
        }
    }
    if (!(s = member(e, i, "algo", &len, err)))
        return err ? err->kind : PERCH_E_POLICY_INVALID;
    if (len != strlen(PT_ALGO) || memcmp(s, PT_ALGO, len) != 0)
        return bad(err, "keys[%zu].algo: expected \"ed25519\"", i);
    if (!(s = member(e, i, "signer", &len, err)))
        return err ? err->kind : PERCH_E_POLICY_INVALID;
    if (!pt_signer_valid(s, len, &why))
        return bad(err, "keys[%zu].signer: %s", i, why);
    memcpy(out->signer, s, len);
    out->signer[len] = '\0';
    if (!(s = member(e, i, "pubkey", &len, err)))
        return err ? err->kind : PERCH_E_POLICY_INVALID;
    if (!pt_b64_decode_exact(s, len, out->pubkey, PT_ED25519_PUBLIC_LEN, &why))
        return bad(err, "keys[%zu].pubkey: %s (an Ed25519 public key is 32 bytes, "
                        "44 characters of base64)", i, why);
    return PERCH_OK;
}

perch_err_kind pt_keyring_parse(const char *text, size_t len, pt_keyring *ring,
                                perch_err *err)
{
    json_error_t je;
    json_t *root, *keys;
    const char *key;
    json_t *v;
    pt_keyring_entry *all = NULL;
    size_t n, total;
    perch_err_kind rc = PERCH_OK;

    if (len > PT_KEYRING_MAX_BYTES)
        return bad(err, "%zu bytes; the limit is %u", len, PT_KEYRING_MAX_BYTES);
    json_set_alloc_funcs(json_alloc, json_release);
    json_oom = false;
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    /* jansson can lose a value to a failed allocation and still return a tree */
    if (!root || json_oom) {
        json_decref(root);
        if (json_oom || json_error_code(&je) == json_error_out_of_memory)
            return pb_fail(err, PERCH_E_IO, "out of memory reading a keyring");
        return bad(err, "not valid JSON: %s (line %d, column %d)", je.text, je.line,
                   je.column);
    }
    if (!json_is_object(root)) {
        rc = bad(err, "expected an object {\"keys\": [...]}");
        goto out;
    }
    json_object_foreach(root, key, v) {
        if (strcmp(key, "keys") != 0) {
            char q[96];
            pm_quote(q, sizeof q, (const uint8_t *)key, strlen(key));
            rc = bad(err, "unknown key %s (a keyring has only \"keys\")", q);
            goto out;
        }
    }
    keys = json_object_get(root, "keys");
    if (!keys || !json_is_array(keys)) {
        rc = bad(err, keys ? "\"keys\": expected an array" : "missing \"keys\"");
        goto out;
    }
    n = json_array_size(keys);
    if (n > PT_KEYRING_MAX_KEYS || ring->count > PT_KEYRING_MAX_KEYS - n) {
        rc = bad(err, "more than %u keys", PT_KEYRING_MAX_KEYS);
        goto out;
    }
    total = ring->count + n;
    all = pb_calloc(total ? total : 1, sizeof *all);
    if (!all) {
        rc = pb_fail(err, PERCH_E_IO, "out of memory reading a keyring");
        goto out;
    }
    if (ring->count)
        memcpy(all, ring->keys, ring->count * sizeof *all);
    for (size_t i = 0; i < n; i++)
        if ((rc = read_entry(json_array_get(keys, i), i, &all[ring->count + i], err)) != PERCH_OK)
            goto out;
    pb_free(ring->keys);
    ring->keys = all;
    ring->count = total;
    all = NULL;
out:
    pb_free(all);
    json_decref(root);
    return rc;
}

perch_err_kind pt_keyring_read(const char *path, pt_keyring *ring, perch_err *err)
{
    pb_buf b;
    perch_err_kind rc = pb_file_read(path, &b, err);
    if (rc != PERCH_OK)
        return rc;
    if (b.len > PT_KEYRING_MAX_BYTES)
        rc = bad(err, "%zu bytes; the limit is %u", b.len, PT_KEYRING_MAX_BYTES);
    else
        rc = pt_keyring_parse((const char *)b.data, b.len, ring, err);
    pb_buf_free(&b);
    if (rc != PERCH_OK)
        pb_prefix(err, "%s", path);
    return rc;
}

perch_err_kind pt_keyring_encode_one(const char *signer,
                                     const uint8_t pub[PT_ED25519_PUBLIC_LEN], pb_buf *out,
                                     perch_err *err)
{
    char b64[64];
    const char *why;

    memset(out, 0, sizeof *out);
    if (!pt_signer_valid(signer, strlen(signer), &why))
        return pb_fail(err, PERCH_E_USAGE, "%s", why);
    pt_b64_encode(pub, PT_ED25519_PUBLIC_LEN, b64);
    if (!pb_buf_printf(out,
                       "{\"keys\": [\n"
                       "  {\"signer\": \"%s\", \"algo\": \"" PT_ALGO "\", \"pubkey\": \"%s\"}\n"
                       "]}\n",
                       signer, b64)) {
        pb_buf_free(out);
        return pb_fail(err, PERCH_E_IO, "out of memory");
    }
    return PERCH_OK;
}

void pt_keyring_free(pt_keyring *ring)
{
    pb_free(ring->keys);
    ring->keys = NULL;
    ring->count = 0;
}

pt_trust pt_keyring_lookup(const pt_keyring *ring, const char *signer,
                           const uint8_t pub[PT_ED25519_PUBLIC_LEN])
{
    bool named = false, match = false;
    for (size_t i = 0; ring && i < ring->count; i++) {
        if (strcmp(ring->keys[i].signer, signer) != 0)
            continue;
        named = true;
        if (pt_ct_equal(ring->keys[i].pubkey, pub, PT_ED25519_PUBLIC_LEN))
            match = true;
    }
    return match ? PT_TRUSTED : named ? PT_OTHER_KEY : PT_UNKNOWN_SIGNER;
}
