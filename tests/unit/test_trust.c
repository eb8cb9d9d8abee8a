/*
 * test_trust.c: base64, keys, keyrings, the perch.signature section, the
 * verification checklist and the signature posture a host takes.
 */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "manifest/manifest.h"
#include "trust/trust.h"

#define HEADER "\x00\x61\x73\x6d\x01\x00\x00\x00"
#define TYPE_SEC "\x01\x04\x01\x60\x00\x00"
#define FUNC_SEC "\x03\x02\x01\x00"
#define MEM_SEC "\x05\x03\x01\x00\x01"
#define CODE_SEC "\x0a\x04\x01\x02\x00\x0b"
#define DATA_SEC "\x0b\x07\x01\x00\x41\x00\x0b\x01\x2a"
#define OTHER_SEC "\x00\x07\x05other\x2a"
/* {3 "name" "hello" "schema" 1 "version" "1.0.0"} */
#define MANIFEST_SEC                                                           \
    "\x00\x31\x0eperch.manifest"                                               \
    "\xa3\x64name\x65hello\x66schema\x01\x67version\x65"                       \
    "1.0.0"
#define BODY TYPE_SEC FUNC_SEC MEM_SEC CODE_SEC DATA_SEC OTHER_SEC MANIFEST_SEC

/* A module made of literal pieces. */
static void module(pb_buf *b, const char *lit, size_t n)
{
    memset(b, 0, sizeof *b);
    pb_buf_append(b, lit, n);
}
#define MODULE(b, lit) module((b), (lit), sizeof(lit) - 1)

static pw_layout layout_of(const pb_buf *b)
{
    pw_layout l;
    perch_err err;
    CHECK_INT(pw_layout_read(b->data, b->len, &l, &err), PERCH_OK);
    return l;
}

/* An owned custom section named name with payload text. */
static void custom(pb_buf *b, const char *name, const char *text)
{
    size_t n = strlen(name), t = strlen(text);
    pb_buf_byte(b, 0);
    pb_buf_uleb(b, 1 + n + t);
    pb_buf_uleb(b, n);
    pb_buf_append(b, name, n);
    pb_buf_append(b, text, t);
}

static pt_key *new_key(void)
{
    pt_key *k = NULL;
    perch_err err;
    CHECK_INT(pt_key_generate(&k, &err), PERCH_OK);
    return k;
}

/* Sign b as signer with k; b is replaced by the signed bytes. */
static void sign(pb_buf *b, const pt_key *k, const char *signer)
{
    pw_layout l = layout_of(b);
    pb_buf out;
    perch_err err;
    CHECK_INT(pt_module_sign(b->data, b->len, &l, k, signer, &out, &err), PERCH_OK);
    pw_layout_free(&l);
    pb_buf_free(b);
    *b = out;
}

static pt_keyring ring_of(const char *signer, const pt_key *k)
{
    pt_keyring r = {0};
    pb_buf j;
    uint8_t pub[PT_ED25519_PUBLIC_LEN];
    perch_err err;
    pt_key_public(k, pub);
    CHECK_INT(pt_keyring_encode_one(signer, pub, &j, &err), PERCH_OK);
    CHECK_INT(pt_keyring_parse((const char *)j.data, j.len, &r, &err), PERCH_OK);
    pb_buf_free(&j);
    return r;
}

/* ---- base64 --------------------------------------------------------------- */

static void test_b64_rfc4648_vectors(void)
{
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
                                      "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char enc[16];
        uint8_t dec[8];
        const char *why = NULL;
        size_t n = strlen(in[i]);
        pt_b64_encode((const uint8_t *)in[i], n, enc);
        CHECK_STR(enc, out[i]);
        CHECK_INT(pt_b64_encoded_len(n), strlen(out[i]));
        CHECK(pt_b64_decode_exact(out[i], strlen(out[i]), dec, n, &why));
        CHECK(memcmp(dec, in[i], n) == 0);
    }
}

static void test_b64_round_trip_key_sizes(void)
{
    uint8_t raw[64], back[64];
    char enc[100];
    const char *why;
    for (int i = 0; i < 64; i++)
        raw[i] = (uint8_t)(i * 37 + 255);
    pt_b64_encode(raw, 32, enc);
    CHECK_INT(strlen(enc), 44);
    CHECK(pt_b64_decode_exact(enc, 44, back, 32, &why));
    CHECK(memcmp(raw, back, 32) == 0);
    pt_b64_encode(raw, 64, enc);
    CHECK_INT(strlen(enc), 88);
    CHECK(pt_b64_decode_exact(enc, 88, back, 64, &why));
    CHECK(memcmp(raw, back, 64) == 0);
}

static void test_b64_rejects_every_other_spelling(void)
{
    uint8_t out[64];
    const char *why = NULL;
    /* 32 zero bytes: 43 'A' and '=' */
    char good[45];
    memset(good, 'A', 43);
    good[43] = '=';
    good[44] = 0;
    CHECK(pt_b64_decode_exact(good, 44, out, 32, &why));

    char s[64];
    memcpy(s, good, 45);
    s[42] = 'B'; /* low bits under the padding set */
    CHECK(!pt_b64_decode_exact(s, 44, out, 32, &why));
    CHECK_STR(why, "not canonical base64: non-zero bits before the padding");

    memcpy(s, good, 45);
    s[43] = 'A'; /* padding missing, length right */
    CHECK(!pt_b64_decode_exact(s, 44, out, 32, &why));
    CHECK_STR(why, "not canonical base64: the padding is missing");

    CHECK(!pt_b64_decode_exact(good, 43, out, 32, &why)); /* unpadded */
    CHECK_STR(why, "not base64: the length is not a multiple of 4");

    memcpy(s, good, 45);
    s[10] = ' ';
    CHECK(!pt_b64_decode_exact(s, 44, out, 32, &why));
    CHECK_STR(why, "not base64: a byte outside the standard alphabet");
    s[10] = '-'; /* the URL-safe alphabet is another spelling */
    CHECK(!pt_b64_decode_exact(s, 44, out, 32, &why));
    s[10] = '\n';
    CHECK(!pt_b64_decode_exact(s, 44, out, 32, &why));
    s[10] = '\0';
    CHECK(!pt_b64_decode_exact(s, 44, out, 32, &why));
    s[10] = '=';
    CHECK(!pt_b64_decode_exact(s, 44, out, 32, &why));
    CHECK_STR(why, "not base64: '=' padding out of place");

    /* well-formed, but of 33 bytes: wrong size */
    CHECK(!pt_b64_decode_exact("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 44, out, 32, &why));
    CHECK_STR(why, "not canonical base64: the padding is missing");
    CHECK(!pt_b64_decode_exact("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 40, out, 32, &why));
    CHECK_STR(why, "decodes to the wrong number of bytes");
}

/* ---- comparisons and names ------------------------------------------------ */

static void test_ct_equal(void)
{
    CHECK(pt_ct_equal("abcd", "abcd", 4));
    CHECK(!pt_ct_equal("abcd", "abce", 4));
    CHECK(!pt_ct_equal("xbcd", "abcd", 4));
    CHECK(pt_ct_equal("", "", 0));
    uint8_t z[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    pt_zero(z, sizeof z);
    CHECK(pt_ct_equal(z, "\0\0\0\0\0\0\0\0", 8));
}

static void test_signer_names(void)
{
    const char *why = NULL;
    char long_name[130];
    CHECK(pt_signer_valid("alice", 5, &why));
    CHECK(pt_signer_valid("release-bot@example.com", 23, &why));
    CHECK(pt_signer_valid("A_b.9-z", 7, &why));
    memset(long_name, 'a', sizeof long_name);
    CHECK(pt_signer_valid(long_name, 128, &why));
    CHECK(!pt_signer_valid(long_name, 129, &why));
    CHECK_STR(why, "the signer name is longer than 128 bytes");
    CHECK(!pt_signer_valid("", 0, &why));
    CHECK_STR(why, "the signer name is empty");
    CHECK(!pt_signer_valid("a/b", 3, &why));
    CHECK_STR(why, "the signer name has a character outside [A-Za-z0-9._@-]");
    CHECK(!pt_signer_valid("a b", 3, &why));
    CHECK(!pt_signer_valid("a\"b", 3, &why));
    CHECK(!pt_signer_valid("a\\b", 3, &why));
    CHECK(!pt_signer_valid("\xc3\xa9", 2, &why));
    CHECK(!pt_signer_valid("a\0b", 3, &why));
    CHECK(!pt_signer_valid("..", 2, &why));
    CHECK_STR(why, "the signer name starts with '.'");
}

/* ---- keys ------------------------------------------------------------------ */

static void test_key_sign_and_verify(void)
{
    pt_key *k = new_key();
    uint8_t pub[32], sig[64], msg[32] = {1, 2, 3};
    perch_err err;
    pt_key_public(k, pub);
    CHECK_INT(pt_key_sign(k, msg, sizeof msg, sig, &err), PERCH_OK);
    CHECK(pt_ed25519_verify(pub, msg, sizeof msg, sig));
    msg[31] ^= 1;
    CHECK(!pt_ed25519_verify(pub, msg, sizeof msg, sig));
    msg[31] ^= 1;
    sig[63] ^= 0x40;
    CHECK(!pt_ed25519_verify(pub, msg, sizeof msg, sig));
    sig[63] ^= 0x40;
    pub[0] ^= 1;
    CHECK(!pt_ed25519_verify(pub, msg, sizeof msg, sig));
    pt_key_free(k);
}

static void test_key_file_round_trip(void)
{
    pt_key *k = new_key(), *back = NULL;
    pb_buf pem;
    char *signer = NULL;
    uint8_t a[32], b[32];
    perch_err err;
    CHECK_INT(pt_key_write_pem(k, "alice", &pem, &err), PERCH_OK);
    CHECK(pem.len > 20 && memcmp(pem.data, "perch-signer: alice\n-----BEGIN PRIVATE KEY-----\n",
                                 48) == 0);
    CHECK_INT(pt_key_parse((const char *)pem.data, pem.len, &back, &signer, &err), PERCH_OK);
    CHECK_STR(signer, "alice");
    pt_key_public(k, a);
    pt_key_public(back, b);
    CHECK(memcmp(a, b, 32) == 0);
    CHECK_INT(pt_public_from_pem((const char *)pem.data, pem.len, b, &err), PERCH_OK);
    CHECK(memcmp(a, b, 32) == 0);
    pb_free(signer);
    pt_key_free(back);
    pt_zero(pem.data, pem.len);
    pb_buf_free(&pem);
    pt_key_free(k);
}

/* PEM text of an OpenSSL-made key of type name ("ED25519", "EC"). */
static char *openssl_pem(const char *type, bool public_half)
{
    EVP_PKEY *pkey = strcmp(type, "EC") == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")
                                             : EVP_PKEY_Q_keygen(NULL, NULL, type);
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *copy;
    long n;
    if (public_half)
        PEM_write_bio_PUBKEY(bio, pkey);
    else
        PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL);
    n = BIO_get_mem_data(bio, &data);
    copy = pb_strndup(data, (size_t)n);
    BIO_free(bio);
    EVP_PKEY_free(pkey);
    return copy;
}

static void test_openssl_keys(void)
{
    char *pem = openssl_pem("ED25519", false), *signer = (char *)"unset";
    pt_key *k = NULL;
    perch_err err;
    uint8_t pub[32], pub2[32];
    CHECK_INT(pt_key_parse(pem, strlen(pem), &k, &signer, &err), PERCH_OK);
    CHECK(signer == NULL); /* no perch-signer line */
    pt_key_public(k, pub);
    CHECK_INT(pt_public_from_pem(pem, strlen(pem), pub2, &err), PERCH_OK);
    CHECK(memcmp(pub, pub2, 32) == 0);
    pt_key_free(k);
    pb_free(pem);

    pem = openssl_pem("ED25519", true);
    CHECK_INT(pt_public_from_pem(pem, strlen(pem), pub, &err), PERCH_OK);
    CHECK_INT(pt_key_parse(pem, strlen(pem), &k, &signer, &err), PERCH_E_USAGE);
    CHECK_MSG(err, "this is a public key; signing needs the secret key");
    pb_free(pem);

    pem = openssl_pem("EC", false);
    CHECK_INT(pt_key_parse(pem, strlen(pem), &k, &signer, &err), PERCH_E_USAGE);
    CHECK_MSG(err, "not an Ed25519 key");
    CHECK(k == NULL);
    CHECK_INT(pt_public_from_pem(pem, strlen(pem), pub, &err), PERCH_E_USAGE);
    CHECK_MSG(err, "not an Ed25519 key");
    pb_free(pem);
}

static void test_bad_key_files(void)
{
    static const char garbage[] = "-----BEGIN PRIVATE KEY-----\nnot base64 at all\n"
                                  "-----END PRIVATE KEY-----\n";
    static const char encrypted[] = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n"
                                    "-----END ENCRYPTED PRIVATE KEY-----\n";
    pt_key *k = NULL, *g = new_key();
    char *signer = NULL;
    perch_err err;
    pb_buf pem;
    uint8_t pub[32];

    CHECK_INT(pt_key_parse(garbage, sizeof garbage - 1, &k, &signer, &err), PERCH_E_USAGE);
    CHECK_MSG(err, "not a PEM secret key");
    CHECK_INT(pt_key_parse("", 0, &k, &signer, &err), PERCH_E_USAGE);
    CHECK_MSG(err, "not a PEM secret key");
    CHECK_INT(pt_key_parse(encrypted, sizeof encrypted - 1, &k, &signer, &err), PERCH_E_USAGE);
    CHECK_MSG(err, "the key is encrypted");
    CHECK_INT(pt_public_from_pem("hello", 5, pub, &err), PERCH_E_USAGE);
    CHECK_MSG(err, "not a PEM Ed25519 key");

    /* a perch-signer line naming an invalid signer */
    CHECK_INT(pt_key_write_pem(g, "bob", &pem, &err), PERCH_OK);
    memcpy(pem.data + 14, "b/b", 3);
    CHECK_INT(pt_key_parse((const char *)pem.data, pem.len, &k, &signer, &err), PERCH_E_USAGE);
    CHECK_MSG(err, "the perch-signer line: the signer name has a character outside");
    CHECK(k == NULL && signer == NULL);
    pt_zero(pem.data, pem.len);
    pb_buf_free(&pem);

    /* oversized */
    char *big = calloc(1, PT_SECRET_KEY_MAX_BYTES + 2);
    memset(big, 'a', PT_SECRET_KEY_MAX_BYTES + 1);
    CHECK_INT(pt_key_parse(big, PT_SECRET_KEY_MAX_BYTES + 1, &k, &signer, &err), PERCH_E_USAGE);
    CHECK_MSG(err, "the limit is 16384");
    free(big);

    CHECK_INT(pt_key_read("/nonexistent/perch.key", &k, &signer, &err), PERCH_E_IO);
    CHECK_MSG(err, "cannot open /nonexistent/perch.key");
    pt_key_free(g);
}

/* ---- keyrings -------------------------------------------------------------- */

#define PUB_A "jkWPzT2vB1BlLm0tXxHbUsntXZuARpgsvJLYYYz/BC0="
#define PUB_B "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

static perch_err_kind ring_parse(const char *text, pt_keyring *r, perch_err *err)
{
    return pt_keyring_parse(text, strlen(text), r, err);
}

static void test_keyring_parse_and_lookup(void)
{
    pt_keyring r = {0};
    perch_err err;
    uint8_t a[32], b[32];
    const char *why;
    CHECK(pt_b64_decode_exact(PUB_A, 44, a, 32, &why));
    CHECK(pt_b64_decode_exact(PUB_B, 44, b, 32, &why));
    CHECK_INT(ring_parse("{\"keys\":[{\"signer\":\"alice\",\"algo\":\"ed25519\",\"pubkey\":\"" PUB_A
                         "\"}]}", &r, &err), PERCH_OK);
    CHECK_INT(r.count, 1);
    CHECK_INT(pt_keyring_lookup(&r, "alice", a), PT_TRUSTED);
    CHECK_INT(pt_keyring_lookup(&r, "alice", b), PT_OTHER_KEY);
    CHECK_INT(pt_keyring_lookup(&r, "bob", a), PT_UNKNOWN_SIGNER);
    CHECK_INT(pt_keyring_lookup(&r, "alic", a), PT_UNKNOWN_SIGNER);
    CHECK_INT(pt_keyring_lookup(NULL, "alice", a), PT_UNKNOWN_SIGNER);
    /* a second keyring appends; rotation: alice with two keys */
    CHECK_INT(ring_parse("{\"keys\":[{\"pubkey\":\"" PUB_B "\",\"algo\":\"ed25519\","
                         "\"signer\":\"alice\"}]}", &r, &err), PERCH_OK);
    CHECK_INT(r.count, 2);
    CHECK_INT(pt_keyring_lookup(&r, "alice", b), PT_TRUSTED);
    CHECK_INT(pt_keyring_lookup(&r, "alice", a), PT_TRUSTED);
    CHECK_INT(ring_parse("{\"keys\":[]}", &r, &err), PERCH_OK);
    CHECK_INT(r.count, 2);
    pt_keyring_free(&r);
}

static void test_keyring_rejects(void)
{
    static const struct {
        const char *text;
        const char *msg;
    } bad[] = {
        {"", "keyring: not valid JSON"},
        {"{\"keys\":[]", "keyring: not valid JSON"},
        {"[]", "keyring: expected an object"},
        {"{}", "keyring: missing \"keys\""},
        {"{\"keys\":{}}", "keyring: \"keys\": expected an array"},
        {"{\"keys\":[],\"keys\":[]}", "keyring: not valid JSON: duplicate object key"},
        {"{\"keys\":[],\"extra\":1}", "keyring: unknown key \"extra\""},
        {"{\"keys\":[1]}", "keyring: keys[0]: expected an object"},
        {"{\"keys\":[{\"signer\":\"a\",\"algo\":\"ed25519\"}]}", "keyring: keys[0]: missing \"pubkey\""},
        {"{\"keys\":[{\"signer\":\"a\",\"algo\":\"ed25519\",\"pubkey\":\"" PUB_A "\",\"note\":\"x\"}]}",
         "keyring: keys[0]: unknown key \"note\""},
        {"{\"keys\":[{\"signer\":\"a\",\"signer\":\"b\",\"algo\":\"ed25519\",\"pubkey\":\"" PUB_A "\"}]}",
         "duplicate object key"},
        {"{\"keys\":[{\"signer\":\"a\",\"algo\":\"rsa\",\"pubkey\":\"" PUB_A "\"}]}",
         "keyring: keys[0].algo: expected \"ed25519\""},
        {"{\"keys\":[{\"signer\":7,\"algo\":\"ed25519\",\"pubkey\":\"" PUB_A "\"}]}",
         "keyring: keys[0].signer: expected a string"},
        {"{\"keys\":[{\"signer\":\"a b\",\"algo\":\"ed25519\",\"pubkey\":\"" PUB_A "\"}]}",
         "keyring: keys[0].signer: the signer name has a character outside"},
        {"{\"keys\":[{\"signer\":\"a\",\"algo\":\"ed25519\",\"pubkey\":\"AAAA\"}]}",
         "keyring: keys[0].pubkey: decodes to the wrong number of bytes"},
        {"{\"keys\":[{\"signer\":\"a\",\"algo\":\"ed25519\",\"pubkey\":\" " PUB_A "\"}]}",
         "keyring: keys[0].pubkey: not base64"},
        {"{\"keys\":[{\"signer\":\"ok\",\"algo\":\"ed25519\",\"pubkey\":\"" PUB_A "\"},"
         "{\"signer\":\"a\",\"algo\":\"ed\\u0000\",\"pubkey\":\"" PUB_A "\"}]}",
         "keyring: "},
    };
    pt_keyring r = {0};
    perch_err err;
    CHECK_INT(ring_parse("{\"keys\":[{\"signer\":\"alice\",\"algo\":\"ed25519\",\"pubkey\":\"" PUB_A
                         "\"}]}", &r, &err), PERCH_OK);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_INT(ring_parse(bad[i].text, &r, &err), PERCH_E_POLICY_INVALID);
        CHECK_MSG(err, bad[i].msg);
        CHECK_INT(r.count, 1); /* unchanged by the failure */
    }
    pt_keyring_free(&r);
}

static void test_keyring_limits(void)
{
    pb_buf b = {0};
    pt_keyring r = {0};
    perch_err err;
    pb_buf_printf(&b, "{\"keys\":[");
    for (int i = 0; i < PT_KEYRING_MAX_KEYS; i++)
        pb_buf_printf(&b, "%s{\"signer\":\"s%d\",\"algo\":\"ed25519\",\"pubkey\":\"%s\"}",
                      i ? "," : "", i, PUB_A);
    pb_buf_printf(&b, "]}");
    CHECK_INT(pt_keyring_parse((const char *)b.data, b.len, &r, &err), PERCH_OK);
    CHECK_INT(r.count, PT_KEYRING_MAX_KEYS);
    /* one more, in a second keyring, is over the limit */
    CHECK_INT(ring_parse("{\"keys\":[{\"signer\":\"x\",\"algo\":\"ed25519\",\"pubkey\":\"" PUB_A
                         "\"}]}", &r, &err), PERCH_E_POLICY_INVALID);
    CHECK_MSG(err, "keyring: more than 1024 keys");
    pt_keyring_free(&r);
    b.len -= 2;
    pb_buf_printf(&b, ",{\"signer\":\"x\",\"algo\":\"ed25519\",\"pubkey\":\"%s\"}]}", PUB_A);
    CHECK_INT(pt_keyring_parse((const char *)b.data, b.len, &r, &err), PERCH_E_POLICY_INVALID);
    CHECK_MSG(err, "keyring: more than 1024 keys");
    CHECK_INT(pt_keyring_parse((const char *)b.data, PT_KEYRING_MAX_BYTES + 1, &r, &err),
              PERCH_E_POLICY_INVALID);
    CHECK_MSG(err, "keyring: 1048577 bytes; the limit is 1048576");
    pb_buf_free(&b);
    CHECK_INT(pt_keyring_read("/nonexistent/ring.json", &r, &err), PERCH_E_IO);
}

/* ---- the section ----------------------------------------------------------- */

static void test_signature_encode_is_byte_exact(void)
{
    pt_signature s;
    pb_buf out;
    perch_err err;
    memset(&s, 0, sizeof s);
    strcpy(s.signer, "alice");
    memset(s.sig, 0xff, sizeof s.sig);
    CHECK_INT(pt_signature_encode(&s, &out, &err), PERCH_OK);
    pb_buf_byte(&out, 0);
    CHECK_STR((const char *)out.data,
              "{\"algo\":\"ed25519\",\"signer\":\"alice\","
              "\"pubkey\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\","
              "\"sig\":\"/////////////////////////////////////////////////////////////////////////////////////w==\"}");
    pb_buf_free(&out);
}

static void test_signature_parse(void)
{
#define SIG64 "/////////////////////////////////////////////////////////////////////////////////////w=="
    static const struct {
        const char *text;
        const char *msg;
    } bad[] = {
        {"", "perch.signature: not valid JSON"},
        {"{}x", "perch.signature: not valid JSON"},
        {"[1]", "perch.signature: expected a JSON object"},
        {"{\"algo\":\"ed25519\",\"signer\":\"a\",\"pubkey\":\"" PUB_A "\"}",
         "perch.signature: missing \"sig\" (expected exactly algo, signer, pubkey, sig)"},
        {"{\"algo\":\"ed25519\",\"signer\":\"a\",\"pubkey\":\"" PUB_A "\",\"sig\":\"" SIG64 "\",\"x\":\"\"}",
         "perch.signature: unknown key \"x\""},
        {"{\"algo\":\"ed25519\",\"algo\":\"ed25519\",\"signer\":\"a\",\"pubkey\":\"" PUB_A "\",\"sig\":\"" SIG64 "\"}",
         "duplicate object key"},
        {"{\"algo\":\"Ed25519\",\"signer\":\"a\",\"pubkey\":\"" PUB_A "\",\"sig\":\"" SIG64 "\"}",
         "perch.signature: \"algo\" is \"Ed25519\"; perch verifies \"ed25519\" only"},
        {"{\"algo\":\"ed25519\",\"signer\":[],\"pubkey\":\"" PUB_A "\",\"sig\":\"" SIG64 "\"}",
         "perch.signature: \"signer\": expected a string"},
        {"{\"algo\":\"ed25519\",\"signer\":\"\",\"pubkey\":\"" PUB_A "\",\"sig\":\"" SIG64 "\"}",
         "perch.signature: \"signer\": the signer name is empty"},
        {"{\"algo\":\"ed25519\",\"signer\":\"a\",\"pubkey\":\"" PUB_A "A\",\"sig\":\"" SIG64 "\"}",
         "perch.signature: \"pubkey\": not base64"},
        {"{\"algo\":\"ed25519\",\"signer\":\"a\",\"pubkey\":\"" PUB_A "\",\"sig\":\"" PUB_A "\"}",
         "perch.signature: \"sig\": decodes to the wrong number of bytes"},
        {"{\"algo\":\"ed25519\",\"signer\":\"a\",\"pubkey\":\"" PUB_A "\",\"sig\":null}",
         "perch.signature: \"sig\": expected a string"},
    };
    pt_signature s;
    perch_err err;
    const char *good = "{\"algo\":\"ed25519\",\"signer\":\"a@b\",\"pubkey\":\"" PUB_A "\",\"sig\":\"" SIG64 "\"}";
    CHECK_INT(pt_signature_parse((const uint8_t *)good, strlen(good), &s, &err), PERCH_OK);
    CHECK_STR(s.signer, "a@b");
    CHECK_INT(s.sig[0], 0xff);
    /* whitespace and key order are the JSON's business, not the format's */
    const char *spaced = " { \"sig\" : \"" SIG64 "\", \"pubkey\":\"" PUB_A "\",\"signer\":\"a\",\"algo\":\"ed25519\"}\n";
    CHECK_INT(pt_signature_parse((const uint8_t *)spaced, strlen(spaced), &s, &err), PERCH_OK);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_INT(pt_signature_parse((const uint8_t *)bad[i].text, strlen(bad[i].text), &s, &err),
                  PERCH_E_MANIFEST_SIGNATURE_INVALID);
        CHECK_MSG(err, bad[i].msg);
    }
    char *big = calloc(1, PT_SIGNATURE_MAX_PAYLOAD + 2);
    memset(big, ' ', PT_SIGNATURE_MAX_PAYLOAD + 1);
    CHECK_INT(pt_signature_parse((const uint8_t *)big, PT_SIGNATURE_MAX_PAYLOAD + 1, &s, &err),
              PERCH_E_MANIFEST_SIGNATURE_INVALID);
    CHECK_MSG(err, "the payload is 4097 bytes; the limit is 4096");
    free(big);
}

/* The digest is SHA-256 of the bytes with every signature section cut out. */
static void test_digest_cuts_signature_sections_only(void)
{
    pb_buf b = {0}, expect = {0};
    uint8_t d1[32], d2[32];
    perch_err err;
    pw_layout l;
    pb_buf_append(&b, HEADER TYPE_SEC, sizeof(HEADER TYPE_SEC) - 1);
    custom(&b, "perch.signature", "{\"one\":1}");
    pb_buf_append(&b, FUNC_SEC MEM_SEC CODE_SEC, sizeof(FUNC_SEC MEM_SEC CODE_SEC) - 1);
    custom(&b, "perch.signaturex", "kept"); /* a different name is covered */
    custom(&b, "perch.signature", "");
    pb_buf_append(&b, DATA_SEC, sizeof(DATA_SEC) - 1);

    pb_buf_append(&expect, HEADER TYPE_SEC FUNC_SEC MEM_SEC CODE_SEC,
                  sizeof(HEADER TYPE_SEC FUNC_SEC MEM_SEC CODE_SEC) - 1);
    custom(&expect, "perch.signaturex", "kept");
    pb_buf_append(&expect, DATA_SEC, sizeof(DATA_SEC) - 1);

    l = layout_of(&b);
    CHECK_INT(pt_module_digest(b.data, b.len, &l, d1, &err), PERCH_OK);
    CHECK_INT(pt_sha256(expect.data, expect.len, d2, &err), PERCH_OK);
    CHECK(memcmp(d1, d2, 32) == 0);
    pw_layout_free(&l);
    pb_buf_free(&b);
    pb_buf_free(&expect);
}

static void test_sign_replaces_every_signature_and_appends(void)
{
    pb_buf b;
    pt_key *k = new_key();
    pw_layout l;
    pt_report r;
    perch_err err;
    pt_keyring ring = ring_of("alice", k);
    MODULE(&b, HEADER BODY);
    size_t unsigned_len = b.len;
    custom(&b, "perch.signature", "old one");
    pb_buf_append(&b, "\x00\x02\x01z", 4); /* a custom section after it */
    custom(&b, "perch.signature", "{}");
    sign(&b, k, "alice");
    l = layout_of(&b);
    CHECK_INT(pw_layout_custom(&l, b.data, "perch.signature", NULL), 1);
    CHECK(pw_custom_is(&l.sections[l.count - 1], b.data, "perch.signature"));
    CHECK(pw_custom_is(&l.sections[l.count - 2], b.data, "z"));
    CHECK_INT(l.sections[l.count - 2].start, unsigned_len);
    CHECK_INT(pt_verify_module(b.data, b.len, &l, &ring, &r, &err), PERCH_OK);
    CHECK_INT(r.failures, 0);
    for (int i = 0; i < PT_CHECK_POLICY; i++)
        CHECK_INT(r.checks[i].status, PT_PASS);
    CHECK_INT(r.checks[PT_CHECK_POLICY].status, PT_NOT_CHECKED);
    CHECK_STR(r.checks[PT_CHECK_POLICY].message,
              "not checked: host policy files are not supported yet");
    CHECK_STR(r.checks[PT_CHECK_SIGNER].message, "alice is in the keyring with this key");
    CHECK_STR(r.sig.signer, "alice");
    /* signing again is idempotent in shape: one section, the same digest */
    uint8_t d[32];
    memcpy(d, r.digest, 32);
    pw_layout_free(&l);
    sign(&b, k, "alice");
    l = layout_of(&b);
    CHECK_INT(pw_layout_custom(&l, b.data, "perch.signature", NULL), 1);
    CHECK_INT(pt_verify_module(b.data, b.len, &l, &ring, &r, &err), PERCH_OK);
    CHECK(memcmp(d, r.digest, 32) == 0);
    CHECK_INT(r.failures, 0);
    pw_layout_free(&l);
    pt_keyring_free(&ring);
    pt_key_free(k);
    pb_buf_free(&b);
}

/* Verify b (after a change) and return the report. */
static pt_report verify(const pb_buf *b, const pt_keyring *ring)
{
    pt_report r;
    perch_err err;
    pw_layout l = layout_of(b);
    CHECK_INT(pt_verify_module(b->data, b->len, &l, ring, &r, &err), PERCH_OK);
    pw_layout_free(&l);
    return r;
}

static void test_tampering_any_byte_is_caught(void)
{
    pb_buf b;
    pt_key *k = new_key();
    pt_keyring ring = ring_of("alice", k);
    MODULE(&b, HEADER BODY);
    sign(&b, k, "alice");
    size_t unsigned_len = sizeof(HEADER BODY) - 1;
    /* every byte of the signed part except section framing that would not parse */
    size_t caught = 0, tried = 0;
    for (size_t i = 0; i < unsigned_len; i++) {
        pw_layout l;
        perch_err err;
        pt_report r;
        b.data[i] ^= 0x01;
        if (pw_layout_read(b.data, b.len, &l, &err) == PERCH_OK) {
            tried++;
            CHECK_INT(pt_verify_module(b.data, b.len, &l, &ring, &r, &err), PERCH_OK);
            if (r.checks[PT_CHECK_SIGNATURE].status == PT_FAIL ||
                r.checks[PT_CHECK_SECTION].status == PT_FAIL)
                caught++;
            else
                fprintf(stderr, "byte %zu flipped and not caught\n", i);
            pw_layout_free(&l);
        }
        b.data[i] ^= 0x01;
    }
    CHECK(tried > 40);
    CHECK_INT(caught, tried);
    pt_report r = verify(&b, &ring);
    CHECK_INT(r.failures, 0);
    pt_keyring_free(&ring);
    pt_key_free(k);
    pb_buf_free(&b);
}

static void test_checklist_failures(void)
{
    pb_buf b;
    pt_key *k = new_key(), *other = new_key();
    pt_keyring ring = ring_of("alice", k), bob = ring_of("bob", k), alice2 = ring_of("alice", other);
    pt_report r;

    MODULE(&b, HEADER BODY);
    r = verify(&b, &ring);
    CHECK_INT(r.checks[PT_CHECK_SECTION].status, PT_FAIL);
    CHECK_INT(r.checks[PT_CHECK_SECTION].kind, PERCH_E_MANIFEST_UNSIGNED);
    CHECK_STR(r.checks[PT_CHECK_SECTION].message, "no perch.signature section: the module is unsigned");
    CHECK_INT(r.checks[PT_CHECK_FORMAT].status, PT_SKIPPED);
    CHECK_INT(r.checks[PT_CHECK_SIGNER].status, PT_SKIPPED);
    CHECK_INT(r.failures, 1);

    sign(&b, k, "alice");
    r = verify(&b, &bob);
    CHECK_INT(r.checks[PT_CHECK_SIGNER].status, PT_FAIL);
    CHECK_INT(r.checks[PT_CHECK_SIGNER].kind, PERCH_E_MANIFEST_SIGNER_UNTRUSTED);
    CHECK_STR(r.checks[PT_CHECK_SIGNER].message, "alice is not in the keyring");
    CHECK_INT(r.checks[PT_CHECK_SIGNATURE].status, PT_PASS);
    CHECK_INT(r.failures, 1);
    r = verify(&b, &alice2);
    CHECK_INT(r.checks[PT_CHECK_SIGNER].status, PT_FAIL);
    CHECK_MSG(r.checks[PT_CHECK_SIGNER], "alice is in the keyring with another key");
    r = verify(&b, NULL);
    CHECK_STR(r.checks[PT_CHECK_SIGNER].message, "no keyring given: nobody is trusted");

    /* signed by "alice" with another key than the one named in the section */
    pb_buf forged;
    MODULE(&forged, HEADER BODY);
    sign(&forged, other, "alice");
    r = verify(&forged, &alice2);
    CHECK_INT(r.failures, 0);
    pb_buf_free(&forged);

    /* a duplicated signature section */
    pb_buf dup;
    memset(&dup, 0, sizeof dup);
    pb_buf_append(&dup, b.data, b.len);
    pb_buf_append(&dup, b.data + sizeof(HEADER BODY) - 1, b.len - (sizeof(HEADER BODY) - 1));
    r = verify(&dup, &ring);
    CHECK_INT(r.checks[PT_CHECK_SECTION].status, PT_FAIL);
    CHECK_INT(r.checks[PT_CHECK_SECTION].kind, PERCH_E_MANIFEST_SIGNATURE_INVALID);
    CHECK_MSG(r.checks[PT_CHECK_SECTION], "2 perch.signature sections (at bytes 98 and");
    CHECK_INT(r.failures, 1);
    pb_buf_free(&dup);

    /* no manifest: signed, but the manifest check fails */
    pb_buf bare;
    MODULE(&bare, HEADER TYPE_SEC FUNC_SEC CODE_SEC);
    sign(&bare, k, "alice");
    r = verify(&bare, &ring);
    CHECK_INT(r.checks[PT_CHECK_SIGNATURE].status, PT_PASS);
    CHECK_INT(r.checks[PT_CHECK_MANIFEST].status, PT_FAIL);
    CHECK_INT(r.checks[PT_CHECK_MANIFEST].kind, PERCH_E_MANIFEST_MISSING);
    CHECK_INT(r.failures, 1);
    pb_buf_free(&bare);

    /* a second manifest section inserted after signing */
    pb_buf two;
    memset(&two, 0, sizeof two);
    pb_buf_append(&two, b.data, sizeof(HEADER BODY) - 1);
    pb_buf_append(&two, MANIFEST_SEC, sizeof(MANIFEST_SEC) - 1);
    pb_buf_append(&two, b.data + sizeof(HEADER BODY) - 1, b.len - (sizeof(HEADER BODY) - 1));
    r = verify(&two, &ring);
    CHECK_INT(r.checks[PT_CHECK_SIGNATURE].status, PT_FAIL);
    CHECK_INT(r.checks[PT_CHECK_MANIFEST].status, PT_FAIL);
    CHECK_INT(r.checks[PT_CHECK_MANIFEST].kind, PERCH_E_MANIFEST_MALFORMED);
    CHECK_MSG(r.checks[PT_CHECK_MANIFEST], "two perch.manifest sections");
    pb_buf_free(&two);

    /* a malformed payload */
    pb_buf bad;
    MODULE(&bad, HEADER BODY);
    custom(&bad, "perch.signature", "{\"algo\":\"ed25519\"}");
    r = verify(&bad, &ring);
    CHECK_INT(r.checks[PT_CHECK_FORMAT].status, PT_FAIL);
    CHECK_INT(r.checks[PT_CHECK_FORMAT].kind, PERCH_E_MANIFEST_SIGNATURE_INVALID);
    CHECK_INT(r.checks[PT_CHECK_SIGNATURE].status, PT_SKIPPED);
    CHECK_INT(r.checks[PT_CHECK_MANIFEST].status, PT_SKIPPED);
    CHECK_INT(r.checks[PT_CHECK_SIGNER].status, PT_SKIPPED);
    CHECK_INT(r.failures, 1);
    pb_buf_free(&bad);

    CHECK_STR(pt_check_name(PT_CHECK_SIGNATURE), "signature");
    CHECK_STR(pt_status_name(PT_NOT_CHECKED), "not checked");
    pt_keyring_free(&ring);
    pt_keyring_free(&bob);
    pt_keyring_free(&alice2);
    pt_key_free(k);
    pt_key_free(other);
    pb_buf_free(&b);
}

/* ---- posture ---------------------------------------------------------------- */

static void test_posture_default_follows_ci(void)
{
    pt_posture p = pt_posture_default(NULL);
    CHECK_INT(p.unsigned_mode, PT_UNSIGNED_ALLOW);
    CHECK(!p.mode_from_ci);
    CHECK(p.trust == NULL && p.require_signer == NULL);
    p = pt_posture_default("");
    CHECK_INT(p.unsigned_mode, PT_UNSIGNED_ALLOW);
    p = pt_posture_default("true");
    CHECK_INT(p.unsigned_mode, PT_UNSIGNED_DENY);
    CHECK(p.mode_from_ci);
    p = pt_posture_default("0"); /* any non-empty value: CI systems disagree on spelling */
    CHECK_INT(p.unsigned_mode, PT_UNSIGNED_DENY);
}

static perch_err_kind check(const pb_buf *b, const pt_posture *p, pt_verdict *v, perch_err *err)
{
    pw_layout l = layout_of(b);
    perch_err_kind rc = pt_check_module(b->data, b->len, &l, p, v, err);
    pw_layout_free(&l);
    return rc;
}

static void test_posture_unsigned(void)
{
    pb_buf b;
    pt_verdict v;
    perch_err err;
    pt_posture p = pt_posture_default(NULL);
    MODULE(&b, HEADER BODY);
    CHECK_INT(check(&b, &p, &v, &err), PERCH_OK);
    CHECK(!v.signed_ && !v.verified && !v.trusted);
    CHECK_STR(v.signer, "");

    p = pt_posture_default("1");
    CHECK_INT(check(&b, &p, &v, &err), PERCH_E_MANIFEST_UNSIGNED);
    CHECK_STR(err.message, "the module has no perch.signature section, and unsigned modules are denied");
    CHECK_STR(err.detail, "the default when the CI environment variable is set");

    p = pt_posture_default(NULL);
    p.unsigned_mode = PT_UNSIGNED_DENY;
    CHECK_INT(check(&b, &p, &v, &err), PERCH_E_MANIFEST_UNSIGNED);
    CHECK_STR(err.detail, "unsigned modules were denied explicitly");

    p = pt_posture_default("1");
    p.unsigned_mode = PT_UNSIGNED_ALLOW; /* --unsigned-allow wins over CI */
    p.mode_from_ci = false;
    CHECK_INT(check(&b, &p, &v, &err), PERCH_OK);

    p.require_signer = "alice";
    CHECK_INT(check(&b, &p, &v, &err), PERCH_E_MANIFEST_UNSIGNED);
    CHECK_STR(err.message, "the module has no perch.signature section, and signer alice is required");
    pb_buf_free(&b);
}

static void test_posture_signed(void)
{
    pb_buf b;
    pt_key *k = new_key(), *other = new_key();
    pt_keyring ring = ring_of("alice", k), bob = ring_of("bob", k), alice2 = ring_of("alice", other);
    pt_verdict v;
    perch_err err;
    pt_posture p = pt_posture_default(NULL);
    MODULE(&b, HEADER BODY);
    sign(&b, k, "alice");

    /* signed, nothing to trust it against, unsigned allowed: runs, not trusted */
    CHECK_INT(check(&b, &p, &v, &err), PERCH_OK);
    CHECK(v.signed_ && v.verified && !v.trusted);
    CHECK_STR(v.signer, "alice");

    p.trust = &ring;
    CHECK_INT(check(&b, &p, &v, &err), PERCH_OK);
    CHECK(v.trusted);
    p.require_signer = "alice";
    CHECK_INT(check(&b, &p, &v, &err), PERCH_OK);
    p.unsigned_mode = PT_UNSIGNED_DENY;
    CHECK_INT(check(&b, &p, &v, &err), PERCH_OK);

    p.require_signer = "bob";
    CHECK_INT(check(&b, &p, &v, &err), PERCH_E_MANIFEST_SIGNER_UNTRUSTED);
    CHECK_STR(err.message, "the module is signed by alice, but signer bob is required");
    p.require_signer = NULL;

    p.trust = &bob;
    CHECK_INT(check(&b, &p, &v, &err), PERCH_E_MANIFEST_SIGNER_UNTRUSTED);
    CHECK_STR(err.message, "signer alice is not in the trusted keyring");
    CHECK(v.verified && !v.trusted);

    p.trust = &alice2;
    CHECK_INT(check(&b, &p, &v, &err), PERCH_E_MANIFEST_SIGNER_UNTRUSTED);
    CHECK_MSG(err, "signer alice is in the trusted keyring, but with another key");

    /* a signature nobody trusts proves nothing when unsigned modules are denied */
    p = pt_posture_default("yes");
    CHECK_INT(check(&b, &p, &v, &err), PERCH_E_MANIFEST_SIGNER_UNTRUSTED);
    CHECK_MSG(err, "the module is signed by alice, but no trusted keyring was given");
    p = pt_posture_default(NULL);
    p.require_signer = "alice";
    CHECK_INT(check(&b, &p, &v, &err), PERCH_E_MANIFEST_SIGNER_UNTRUSTED);

    /* tampering is caught whatever the posture, even when unsigned would run */
    p = pt_posture_default(NULL);
    b.data[sizeof(HEADER TYPE_SEC FUNC_SEC MEM_SEC CODE_SEC) + 6] ^= 0xff; /* the data byte */
    CHECK_INT(check(&b, &p, &v, &err), PERCH_E_MANIFEST_SIGNATURE_INVALID);
    CHECK_MSG(err, "the signature by alice does not match the module");
    CHECK(v.signed_ && !v.verified);
    b.data[sizeof(HEADER TYPE_SEC FUNC_SEC MEM_SEC CODE_SEC) + 6] ^= 0xff;
    CHECK_INT(check(&b, &p, &v, &err), PERCH_OK);

    /* two sections */
    size_t signed_len = b.len, body = sizeof(HEADER BODY) - 1;
    uint8_t *tail = malloc(signed_len - body);
    memcpy(tail, b.data + body, signed_len - body);
    pb_buf_append(&b, tail, signed_len - body);
    free(tail);
    CHECK_INT(check(&b, &p, &v, &err), PERCH_E_MANIFEST_SIGNATURE_INVALID);
    CHECK_STR(err.message, "2 perch.signature sections; a signed module has exactly one");
    b.len = signed_len;

    /* a malformed one */
    b.len = body;
    custom(&b, "perch.signature", "{\"algo\":\"ed25519\",\"signer\":\"alice\"}");
    CHECK_INT(check(&b, &p, &v, &err), PERCH_E_MANIFEST_SIGNATURE_INVALID);
    CHECK_MSG(err, "perch.signature: missing \"pubkey\"");

    pt_keyring_free(&ring);
    pt_keyring_free(&bob);
    pt_keyring_free(&alice2);
    pt_key_free(k);
    pt_key_free(other);
    pb_buf_free(&b);
}

/* ---- allocation failure ------------------------------------------------------ */

/* Every allocation of signing, verifying and reading a keyring may fail cleanly. */
static void test_allocation_failures(void)
{
    pb_buf b;
    pt_key *k = new_key();
    pt_keyring ring = ring_of("alice", k);
    pw_layout l;
    perch_err err;
    MODULE(&b, HEADER BODY);
    l = layout_of(&b);
    for (uint64_t n = 1; n < 200; n++) {
        pb_buf out;
        pb_alloc_fail_after(n);
        perch_err_kind rc = pt_module_sign(b.data, b.len, &l, k, "alice", &out, &err);
        pb_alloc_fail_after(0);
        CHECK(rc == PERCH_OK || rc == PERCH_E_IO);
        if (rc == PERCH_OK) {
            pw_layout sl = layout_of(&out);
            pt_report r;
            for (uint64_t m = 1; m < 200; m++) {
                pb_alloc_fail_after(m);
                rc = pt_verify_module(out.data, out.len, &sl, &ring, &r, &err);
                pb_alloc_fail_after(0);
                CHECK(rc == PERCH_OK || rc == PERCH_E_IO);
                if (rc == PERCH_OK) {
                    if (r.failures)
                        for (int i = 0; i < PT_CHECK__COUNT; i++)
                            fprintf(stderr, "m=%d %s\n", (int)m, r.checks[i].message);
                    CHECK_INT(r.failures, 0);
                    break;
                }
            }
            pw_layout_free(&sl);
            pb_buf_free(&out);
            break;
        }
    }
    for (uint64_t n = 1; n < 200; n++) {
        pt_keyring r2 = {0};
        const char *text = "{\"keys\":[{\"signer\":\"a\",\"algo\":\"ed25519\",\"pubkey\":\"" PUB_A "\"}]}";
        pb_alloc_fail_after(n);
        perch_err_kind rc = pt_keyring_parse(text, strlen(text), &r2, &err);
        pb_alloc_fail_after(0);
        CHECK(rc == PERCH_OK || rc == PERCH_E_IO);
        if (rc != PERCH_OK && rc != PERCH_E_IO)
            fprintf(stderr, "n=%d %s\n", (int)n, err.message);
        pt_keyring_free(&r2);
        if (rc == PERCH_OK)
            break;
    }
    pw_layout_free(&l);
    pt_keyring_free(&ring);
    pt_key_free(k);
    pb_buf_free(&b);
}

int main(void)
{
    RUN(test_b64_rfc4648_vectors);
    RUN(test_b64_round_trip_key_sizes);
    RUN(test_b64_rejects_every_other_spelling);
    RUN(test_ct_equal);
    RUN(test_signer_names);
    RUN(test_key_sign_and_verify);
    RUN(test_key_file_round_trip);
    RUN(test_openssl_keys);
    RUN(test_bad_key_files);
    RUN(test_keyring_parse_and_lookup);
    RUN(test_keyring_rejects);
    RUN(test_keyring_limits);
    RUN(test_signature_encode_is_byte_exact);
    RUN(test_signature_parse);
    RUN(test_digest_cuts_signature_sections_only);
    RUN(test_sign_replaces_every_signature_and_appends);
    RUN(test_tampering_any_byte_is_caught);
    RUN(test_checklist_failures);
    RUN(test_posture_default_follows_ci);
    RUN(test_posture_unsigned);
    RUN(test_posture_signed);
    RUN(test_allocation_failures);
    return CHECK_DONE();
}
