/*
 * signature.c: the perch.signature custom section.
 *
 * customsec -> 0x00 size:u32 name:"perch.signature" payload:byte*
 * payload   -> {"algo":"ed25519","signer":NAME,"pubkey":B64,"sig":B64}
 *
 * What is signed: the SHA-256 of the module bytes with every perch.signature
 * section cut out whole (id byte, size, name, payload), every other byte in
 * order, the 8-byte header included. Frozen byte for byte: a change to
 * which bytes are hashed would break every signature ever made.
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <string.h>

#include "manifest/manifest.h"
#include "trust/trust.h"

perch_err_kind pt_module_digest(const uint8_t *bytes, size_t len, const pw_layout *layout,
                                uint8_t out[PT_SHA256_LEN], perch_err *err)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int n = 0;
    size_t pos = 0;
    bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;

    for (size_t i = 0; ok && i < layout->count; i++) {
        const pw_section *s = &layout->sections[i];
        if (!pw_custom_is(s, bytes, PT_SIGNATURE_SECTION))
            continue;
        ok = EVP_DigestUpdate(ctx, bytes + pos, s->start - pos) == 1;
        pos = pw_section_end(s);
    }
    ok = ok && EVP_DigestUpdate(ctx, bytes + pos, len - pos) == 1 &&
         EVP_DigestFinal_ex(ctx, out, &n) == 1 && n == PT_SHA256_LEN;
    EVP_MD_CTX_free(ctx);
    return ok ? PERCH_OK : pb_fail(err, PERCH_E_IO, "SHA-256 failed in libcrypto");
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

static perch_err_kind invalid(perch_err *err, const char *fmt, ...) PB_PRINTF(2, 3);
static perch_err_kind invalid(perch_err *err, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return pb_fail(err, PERCH_E_MANIFEST_SIGNATURE_INVALID, "perch.signature: %s", msg);
}

static const char *const sig_keys[] = {"algo", "signer", "pubkey", "sig"};

static perch_err_kind read_object(json_t *root, pt_signature *out, perch_err *err)
{
    const char *key, *s, *why;
    json_t *v;
    size_t len;

    if (!json_is_object(root))
        return invalid(err, "expected a JSON object");
    json_object_foreach(root, key, v) {
        bool known = false;
        for (size_t i = 0; i < 4; i++)
            known |= strcmp(key, sig_keys[i]) == 0;
        if (!known) {
            char q[96];
            pm_quote(q, sizeof q, (const uint8_t *)key, strlen(key));
            return invalid(err, "unknown key %s (expected exactly algo, signer, pubkey, sig)",
                           q);
        }
        if (!json_is_string(v))
            return invalid(err, "\"%s\": expected a string", key);
    }
    for (size_t i = 0; i < 4; i++)
        if (!json_object_get(root, sig_keys[i]))
            return invalid(err, "missing \"%s\" (expected exactly algo, signer, pubkey, sig)",
                           sig_keys[i]);

    v = json_object_get(root, "algo");
    s = json_string_value(v);
    len = json_string_length(v);
    if (len != strlen(PT_ALGO) || memcmp(s, PT_ALGO, len) != 0) {
        char q[96];
        pm_quote(q, sizeof q, (const uint8_t *)s, len);
        return invalid(err, "\"algo\" is %s; perch verifies \"ed25519\" only", q);
    }
    v = json_object_get(root, "signer");
    s = json_string_value(v);
    len = json_string_length(v);
    if (!pt_signer_valid(s, len, &why))
        return invalid(err, "\"signer\": %s", why);
    memcpy(out->signer, s, len);
    out->signer[len] = '\0';
    v = json_object_get(root, "pubkey");
    if (!pt_b64_decode_exact(json_string_value(v), json_string_length(v), out->pubkey,
                             PT_ED25519_PUBLIC_LEN, &why))
        return invalid(err, "\"pubkey\": %s (an Ed25519 public key is 32 bytes)", why);
    v = json_object_get(root, "sig");
    if (!pt_b64_decode_exact(json_string_value(v), json_string_length(v), out->sig,
                             PT_ED25519_SIG_LEN, &why))
        return invalid(err, "\"sig\": %s (an Ed25519 signature is 64 bytes)", why);
    return PERCH_OK;
}

perch_err_kind pt_signature_parse(const uint8_t *payload, size_t len, pt_signature *out,
                                  perch_err *err)
{
    json_error_t je;
    json_t *root;
    perch_err_kind rc;

    memset(out, 0, sizeof *out);
    if (len > PT_SIGNATURE_MAX_PAYLOAD)
        return invalid(err, "the payload is %zu bytes; the limit is %u", len,
                       PT_SIGNATURE_MAX_PAYLOAD);
    json_set_alloc_funcs(json_alloc, json_release);
    json_oom = false;
    root = json_loadb((const char *)payload, len, JSON_REJECT_DUPLICATES, &je);
    /* jansson can lose a value to a failed allocation and still return a tree */
    if (!root || json_oom) {
        json_decref(root);
        if (json_oom || json_error_code(&je) == json_error_out_of_memory)
            return pb_fail(err, PERCH_E_IO, "out of memory reading perch.signature");
        return invalid(err, "not valid JSON: %s (column %d)", je.text, je.column);
    }
    rc = read_object(root, out, err);
    json_decref(root);
    if (rc != PERCH_OK)
        memset(out, 0, sizeof *out);
    return rc;
}

perch_err_kind pt_signature_encode(const pt_signature *s, pb_buf *out, perch_err *err)
{
    char pub[64], sig[100];
    const char *why;

    memset(out, 0, sizeof *out);
    if (!pt_signer_valid(s->signer, strlen(s->signer), &why))
        return pb_fail(err, PERCH_E_USAGE, "%s", why);
    pt_b64_encode(s->pubkey, PT_ED25519_PUBLIC_LEN, pub);
    pt_b64_encode(s->sig, PT_ED25519_SIG_LEN, sig);
    if (!pb_buf_printf(out, "{\"algo\":\"" PT_ALGO "\",\"signer\":\"%s\",\"pubkey\":\"%s\","
                            "\"sig\":\"%s\"}",
                       s->signer, pub, sig)) {
        pb_buf_free(out);
        return pb_fail(err, PERCH_E_IO, "out of memory");
    }
    return PERCH_OK;
}

perch_err_kind pt_module_sign(const uint8_t *bytes, size_t len, const pw_layout *layout,
                              const pt_key *key, const char *signer, pb_buf *out,
                              perch_err *err)
{
    static const char name[] = PT_SIGNATURE_SECTION;
    pt_signature s;
    uint8_t digest[PT_SHA256_LEN];
    pb_buf payload = {0};
    size_t pos = 0, name_len = sizeof name - 1;
    perch_err_kind rc;
    const char *why;

    memset(out, 0, sizeof *out);
    memset(&s, 0, sizeof s);
    if (!pt_signer_valid(signer, strlen(signer), &why))
        return pb_fail(err, PERCH_E_USAGE, "%s", why);
    if (!pb_buf_reserve(out, len + 256))
        goto nomem;
    for (size_t i = 0; i < layout->count; i++) {
        const pw_section *sec = &layout->sections[i];
        if (!pw_custom_is(sec, bytes, PT_SIGNATURE_SECTION))
            continue;
        if (!pb_buf_append(out, bytes + pos, sec->start - pos))
            goto nomem;
        pos = pw_section_end(sec);
    }
    if (!pb_buf_append(out, bytes + pos, len - pos))
        goto nomem;
    PB_TRY(pt_sha256(out->data, out->len, digest, err));
    memcpy(s.signer, signer, strlen(signer) + 1);
    pt_key_public(key, s.pubkey);
    PB_TRY(pt_key_sign(key, digest, sizeof digest, s.sig, err));
    PB_TRY(pt_signature_encode(&s, &payload, err));
    if (!pb_buf_byte(out, PW_SEC_CUSTOM) || !pb_buf_uleb(out, 1 + name_len + payload.len) ||
        !pb_buf_uleb(out, name_len) || !pb_buf_append(out, name, name_len) ||
        !pb_buf_append(out, payload.data, payload.len))
        goto nomem;
    pb_buf_free(&payload);
    return PERCH_OK;
nomem:
    rc = pb_fail(err, PERCH_E_IO, "out of memory");
fail:
    pb_buf_free(&payload);
    pb_buf_free(out);
    return rc;
}
