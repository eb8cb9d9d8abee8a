/*
 * ct.c: every comparison whose timing or outcome an attacker cares about,
 * in one place (STYLE.md, habit 10): constant-time equality, zeroing of
 * secrets, and the one call that decides whether a signature is valid.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "trust/trust.h"

bool pt_ct_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

void pt_zero(void *p, size_t n)
{
    if (p && n)
        OPENSSL_cleanse(p, n);
}

/*
 * Ed25519 as RFC 8032 defines it (PureEdDSA: no pre-hash, so no digest is
 * given to the context). OpenSSL rejects non-canonical S values and
 * small-order public keys, so a signature cannot be made to verify under a
 * key its signer never held.
 */
bool pt_ed25519_verify(const uint8_t pub[PT_ED25519_PUBLIC_LEN], const uint8_t *msg,
                       size_t len, const uint8_t sig[PT_ED25519_SIG_LEN])
{
    EVP_PKEY *pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub,
                                                 PT_ED25519_PUBLIC_LEN);
    EVP_MD_CTX *ctx = NULL;
    bool ok = false;

    if (!pkey)
        return false;
    ctx = EVP_MD_CTX_new();
    if (ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey) == 1)
        ok = EVP_DigestVerify(ctx, sig, PT_ED25519_SIG_LEN, msg, len) == 1;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    return ok;
}
