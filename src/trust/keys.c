/*
 * keys.c: Ed25519 secret keys through libcrypto: generation, the key file
 * (PKCS#8 PEM, readable by openssl too), signing, public halves.
 *
 * A secret key file perch writes:
 *
 *   perch-signer: NAME
 *   -----BEGIN PRIVATE KEY-----
 *   (base64 of the PKCS#8 DER)
 *   -----END PRIVATE KEY-----
 *
 * OpenSSL skips every line before "-----BEGIN", so `openssl pkey -in` reads
 * it as it is; a key made by `openssl genpkey -algorithm ed25519` has no
 * perch-signer line and the signer is given on the command line instead.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trust/trust.h"

#define SIGNER_PREFIX "perch-signer: "

struct pt_key {
    EVP_PKEY *pkey; /* owned */
    uint8_t pub[PT_ED25519_PUBLIC_LEN];
};

static perch_err_kind crypto_fail(perch_err *err, perch_err_kind kind, const char *what)
{
    unsigned long e = ERR_peek_last_error();
    char reason[160] = "";
    if (e)
        ERR_error_string_n(e, reason, sizeof reason);
    ERR_clear_error();
    pb_fail(err, kind, "%s", what);
    if (reason[0])
        pb_detail(err, "libcrypto: %s", reason);
    return kind;
}

/* Wrap pkey (taken over, freed on failure) once it is known to be Ed25519. */
static perch_err_kind key_wrap(EVP_PKEY *pkey, pt_key **out, perch_err *err)
{
    size_t n = PT_ED25519_PUBLIC_LEN;
    pt_key *k;

    if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(pkey);
        return pb_fail(err, PERCH_E_USAGE, "not an Ed25519 key (perch signs with Ed25519 only)");
    }
    k = pb_calloc(1, sizeof *k);
    if (!k) {
        EVP_PKEY_free(pkey);
        return pb_fail(err, PERCH_E_IO, "out of memory");
    }
    if (EVP_PKEY_get_raw_public_key(pkey, k->pub, &n) != 1 || n != PT_ED25519_PUBLIC_LEN) {
        EVP_PKEY_free(pkey);
        pb_free(k);
        return crypto_fail(err, PERCH_E_USAGE, "cannot read the key's public half");
    }
    k->pkey = pkey;
    *out = k;
    return PERCH_OK;
}

perch_err_kind pt_key_generate(pt_key **out, perch_err *err)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
    EVP_PKEY *pkey = NULL;

    *out = NULL;
    if (!ctx || EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_keygen(ctx, &pkey) != 1) {
        EVP_PKEY_CTX_free(ctx);
        return crypto_fail(err, PERCH_E_IO, "cannot generate an Ed25519 key");
    }
    EVP_PKEY_CTX_free(ctx);
    return key_wrap(pkey, out, err);
}

/* Never prompt: perch reads unencrypted keys only, and says so. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

static bool contains(const char *text, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(text + i, needle, n) == 0)
            return true;
    return false;
}

/*
 * keyfile -> line* "-----BEGIN ..." ; the first line of the leading lines
 * that starts with "perch-signer: " names the signer.
 */
static perch_err_kind signer_line(const char *text, size_t len, char **signer,
                                  perch_err *err)
{
    size_t plen = strlen(SIGNER_PREFIX);
    size_t i = 0;

    *signer = NULL;
    while (i < len) {
        size_t end = i;
        while (end < len && text[end] != '\n')
            end++;
        if (end - i >= 5 && memcmp(text + i, "-----", 5) == 0)
            break;
        if (end - i >= plen && memcmp(text + i, SIGNER_PREFIX, plen) == 0) {
            const char *name = text + i + plen, *why;
            size_t n = end - i - plen;
            if (n > 0 && name[n - 1] == '\r')
                n--;
            if (!pt_signer_valid(name, n, &why))
                return pb_fail(err, PERCH_E_USAGE, "the perch-signer line: %s", why);
            *signer = pb_strndup(name, n);
            return *signer ? PERCH_OK : pb_fail(err, PERCH_E_IO, "out of memory");
        }
        i = end + 1;
    }
    return PERCH_OK;
}

perch_err_kind pt_key_parse(const char *text, size_t len, pt_key **out, char **signer,
                            perch_err *err)
{
    BIO *bio;
    EVP_PKEY *pkey;
    perch_err_kind rc;

    *out = NULL;
    *signer = NULL;
    if (len > PT_SECRET_KEY_MAX_BYTES)
        return pb_fail(err, PERCH_E_USAGE, "not a secret key: %zu bytes, the limit is %u",
                       len, PT_SECRET_KEY_MAX_BYTES);
    if (contains(text, len, "-----BEGIN ENCRYPTED PRIVATE KEY-----"))
        return pb_fail(err, PERCH_E_USAGE,
                       "the key is encrypted; perch reads unencrypted PKCS#8 keys only "
                       "(protect the file with its mode 0600 instead)");
    if (contains(text, len, "-----BEGIN PUBLIC KEY-----") &&
        !contains(text, len, "-----BEGIN PRIVATE KEY-----"))
        return pb_fail(err, PERCH_E_USAGE,
                       "this is a public key; signing needs the secret key");
    bio = BIO_new_mem_buf(text, (int)len);
    if (!bio)
        return pb_fail(err, PERCH_E_IO, "out of memory");
    pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    if (!pkey)
        return crypto_fail(err, PERCH_E_USAGE,
                           "not a PEM secret key (expected -----BEGIN PRIVATE KEY-----, "
                           "PKCS#8, as `perch wasm keygen` or `openssl genpkey` write it)");
    rc = key_wrap(pkey, out, err);
    if (rc == PERCH_OK && (rc = signer_line(text, len, signer, err)) != PERCH_OK) {
        pt_key_free(*out);
        *out = NULL;
    }
    return rc;
}

perch_err_kind pt_key_read(const char *path, pt_key **out, char **signer, perch_err *err)
{
    char text[PT_SECRET_KEY_MAX_BYTES + 1];
    struct stat st;
    size_t len = 0;
    perch_err_kind rc;
    int fd;

    *out = NULL;
    *signer = NULL;
    /* O_NONBLOCK: a FIFO planted in place of the key must not hang the signer */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return pb_fail(err, PERCH_E_IO, "cannot open %s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return pb_fail(err, PERCH_E_IO, "%s is not a regular file", path);
    }
    /* read one byte past the limit to tell a full file from an oversized one */
    while (len < sizeof text) {
        ssize_t n = read(fd, text + len, sizeof text - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = pb_fail(err, PERCH_E_IO, "cannot read %s: %s", path, strerror(errno));
            close(fd);
            pt_zero(text, sizeof text);
            return rc;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    rc = pt_key_parse(text, len, out, signer, err);
    pt_zero(text, sizeof text);
    if (rc != PERCH_OK)
        pb_prefix(err, "%s", path);
    return rc;
}

perch_err_kind pt_key_write_pem(const pt_key *key, const char *signer, pb_buf *out,
                                perch_err *err)
{
    BIO *bio = BIO_new(BIO_s_secmem());
    char *pem = NULL;
    long n;
    bool ok;

    memset(out, 0, sizeof *out);
    if (!bio)
        return pb_fail(err, PERCH_E_IO, "out of memory");
    if (PEM_write_bio_PrivateKey(bio, key->pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
        (n = BIO_get_mem_data(bio, &pem)) <= 0) {
        BIO_free(bio);
        return crypto_fail(err, PERCH_E_IO, "cannot encode the secret key");
    }
    /* one allocation of the final size: no copy of the secret is left behind */
    ok = pb_buf_reserve(out, strlen(SIGNER_PREFIX) + strlen(signer) + 1 + (size_t)n) &&
         pb_buf_printf(out, SIGNER_PREFIX "%s\n", signer) &&
         pb_buf_append(out, pem, (size_t)n);
    BIO_free(bio);
    if (!ok) {
        pt_zero(out->data, out->cap);
        pb_buf_free(out);
        return pb_fail(err, PERCH_E_IO, "out of memory");
    }
    return PERCH_OK;
}

void pt_key_public(const pt_key *key, uint8_t pub[PT_ED25519_PUBLIC_LEN])
{
    memcpy(pub, key->pub, PT_ED25519_PUBLIC_LEN);
}

perch_err_kind pt_key_sign(const pt_key *key, const uint8_t *msg, size_t len,
                           uint8_t sig[PT_ED25519_SIG_LEN], perch_err *err)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t n = PT_ED25519_SIG_LEN;
    bool ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, key->pkey) == 1 &&
              EVP_DigestSign(ctx, sig, &n, msg, len) == 1 && n == PT_ED25519_SIG_LEN;
    EVP_MD_CTX_free(ctx);
    return ok ? PERCH_OK : crypto_fail(err, PERCH_E_IO, "Ed25519 signing failed");
}

void pt_key_free(pt_key *key)
{
    if (!key)
        return;
    EVP_PKEY_free(key->pkey); /* libcrypto clears the secret scalar */
    pt_zero(key, sizeof *key);
    pb_free(key);
}

perch_err_kind pt_public_from_pem(const char *text, size_t len,
                                  uint8_t pub[PT_ED25519_PUBLIC_LEN], perch_err *err)
{
    BIO *bio;
    EVP_PKEY *pkey;
    pt_key *k = NULL;
    perch_err_kind rc;

    if (len > PT_SECRET_KEY_MAX_BYTES)
        return pb_fail(err, PERCH_E_USAGE, "not a PEM key: %zu bytes, the limit is %u",
                       len, PT_SECRET_KEY_MAX_BYTES);
    bio = BIO_new_mem_buf(text, (int)len);
    if (!bio)
        return pb_fail(err, PERCH_E_IO, "out of memory");
    if (contains(text, len, "-----BEGIN PUBLIC KEY-----"))
        pkey = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
    else
        pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    if (!pkey)
        return crypto_fail(err, PERCH_E_USAGE,
                           "not a PEM Ed25519 key (expected -----BEGIN PUBLIC KEY----- "
                           "or -----BEGIN PRIVATE KEY-----)");
    rc = key_wrap(pkey, &k, err);
    if (rc == PERCH_OK)
        pt_key_public(k, pub);
    pt_key_free(k);
    return rc;
}
