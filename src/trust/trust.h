/*
 * trust.h: hashing, Ed25519 keys and signatures, the perch.signature section,
 * keyrings, and the decision a host makes about a module's signature before
 * it instantiates it. Prefix pt_. On OpenSSL libcrypto, which uses the
 * processor's SHA extensions where it has them.
 *
 * The format (DESIGN.md, "perch.signature", and docs/signing.md) is frozen
 * byte for byte: the section's payload is the JSON object
 *   {"algo":"ed25519","signer":NAME,"pubkey":B64,"sig":B64}
 * and sig is Ed25519 over the 32-byte SHA-256 of the module bytes with every
 * perch.signature section removed (header included, every other byte in
 * order). A keyring is {"keys":[{"signer":NAME,"algo":"ed25519","pubkey":B64}]}.
 *
 * Ownership: structures filled by a *_read, *_parse or *_generate function
 * are owned by the caller and released by the matching *_free. Secret key
 * material is zeroed before its memory is released.
 */
#ifndef PERCH_TRUST_H
#define PERCH_TRUST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "wasm/reader.h"

#define PT_SHA256_LEN 32

/* SHA-256 of [data, data+len) into out. */
perch_err_kind pt_sha256(const void *data, size_t len, uint8_t out[PT_SHA256_LEN],
                         perch_err *err);

/* Lowercase hex of a digest into hex (2*len+1 bytes, NUL-terminated). */
void pt_hex(const uint8_t *digest, size_t len, char *hex);

/* ---- sizes and limits ----------------------------------------------------- */

#define PT_SIGNATURE_SECTION "perch.signature"
#define PT_ALGO "ed25519"
#define PT_ED25519_PUBLIC_LEN 32
#define PT_ED25519_SIG_LEN 64
#define PT_SIGNER_MAX 128                 /* bytes of a signer name */
#define PT_SIGNATURE_MAX_PAYLOAD 4096     /* bytes of a perch.signature payload */
#define PT_KEYRING_MAX_BYTES (1u << 20)   /* bytes of a keyring file */
#define PT_KEYRING_MAX_KEYS 1024          /* entries in one keyring */
#define PT_SECRET_KEY_MAX_BYTES 16384     /* bytes of a secret key file */

/* ---- base64 (RFC 4648, standard alphabet, padded) -------------------------- */

/* Length of the encoding of n bytes, without a terminating NUL. */
size_t pt_b64_encoded_len(size_t n);

/* Encode [in, in+n) into out, which has room for pt_b64_encoded_len(n)+1. */
void pt_b64_encode(const uint8_t *in, size_t n, char *out);

/*
 * Decode exactly the canonical encoding of want bytes: the standard
 * alphabet, '=' padding to a multiple of 4, zero bits after the last data
 * bit, no whitespace or any other byte. Returns false (with a static reason
 * in *why) for anything else, including a well-formed encoding of another
 * number of bytes.
 */
PERCH_NODISCARD bool pt_b64_decode_exact(const char *s, size_t len, uint8_t *out,
                                         size_t want, const char **why);

/* ---- security-sensitive comparisons (ct.c) ---------------------------------- */

/* True when a and b are equal; time depends on n only. */
PERCH_NODISCARD bool pt_ct_equal(const void *a, const void *b, size_t n);

/* Zero n bytes at p in a way the compiler cannot remove. */
void pt_zero(void *p, size_t n);

/* True when sig is pub's Ed25519 signature of [msg, msg+len). */
PERCH_NODISCARD bool pt_ed25519_verify(const uint8_t pub[PT_ED25519_PUBLIC_LEN],
                                       const uint8_t *msg, size_t len,
                                       const uint8_t sig[PT_ED25519_SIG_LEN]);

/* ---- signer names ----------------------------------------------------------- */

/*
 * A signer name is 1 to PT_SIGNER_MAX bytes of [A-Za-z0-9._@-]: printable
 * anywhere, never needs escaping in JSON or a file name (it becomes
 * NAME.key), and cannot be confused with a path (no '/'). On false, *why
 * gets a static reason.
 */
PERCH_NODISCARD bool pt_signer_valid(const char *name, size_t len, const char **why);

/* ---- keys (keys.c) ----------------------------------------------------------- */

/* An Ed25519 secret key. Opaque; owned by whoever made it (pt_key_free). */
typedef struct pt_key pt_key;

/* A fresh key from the system's random source. */
perch_err_kind pt_key_generate(pt_key **out, perch_err *err);

/*
 * Read a secret key: unencrypted PKCS#8 PEM ("BEGIN PRIVATE KEY") holding
 * an Ed25519 key, as `perch wasm keygen` and `openssl genpkey -algorithm
 * ed25519` write it. Lines before the PEM block are ignored by OpenSSL;
 * perch reads one of them, "perch-signer: NAME", as the key's signer name.
 * *signer gets an owned copy of that name (pb_free) or NULL when the file
 * names none. Errors: io, usage (not a PEM secret key, an encrypted key,
 * not Ed25519, a bad perch-signer line), each naming path.
 */
perch_err_kind pt_key_read(const char *path, pt_key **out, char **signer, perch_err *err);

/* The same from text in memory (len bytes, at most PT_SECRET_KEY_MAX_BYTES). */
perch_err_kind pt_key_parse(const char *text, size_t len, pt_key **out, char **signer,
                            perch_err *err);

/*
 * The secret key file perch writes: "perch-signer: NAME\n" then the key as
 * PKCS#8 PEM. *out holds secret material: the caller zeroes it
 * (pt_zero(out->data, out->len)) before pb_buf_free.
 */
perch_err_kind pt_key_write_pem(const pt_key *key, const char *signer, pb_buf *out,
                                perch_err *err);

void pt_key_public(const pt_key *key, uint8_t pub[PT_ED25519_PUBLIC_LEN]);

/* Ed25519 signature of [msg, msg+len). */
perch_err_kind pt_key_sign(const pt_key *key, const uint8_t *msg, size_t len,
                           uint8_t sig[PT_ED25519_SIG_LEN], perch_err *err);

/* Zeroes and frees the key; NULL is a no-op. */
void pt_key_free(pt_key *key);

/*
 * The raw public key of a PEM file's text: a public key ("BEGIN PUBLIC
 * KEY", as `openssl pkey -pubout` writes) or a secret key (whose public
 * half is taken). Errors: usage (not PEM, not Ed25519).
 */
perch_err_kind pt_public_from_pem(const char *text, size_t len,
                                  uint8_t pub[PT_ED25519_PUBLIC_LEN], perch_err *err);

/* ---- keyrings (keyring.c) ----------------------------------------------------- */

typedef struct pt_keyring_entry {
    char signer[PT_SIGNER_MAX + 1];
    uint8_t pubkey[PT_ED25519_PUBLIC_LEN];
} pt_keyring_entry;

/*
 * Trusted signers. One signer may appear with several keys (rotation); a
 * module is trusted when its signer and key match one entry exactly.
 */
typedef struct pt_keyring {
    pt_keyring_entry *keys; /* owned */
    size_t count;
} pt_keyring;

/*
 * Parse keyring JSON and append its entries to *ring (which starts zeroed
 * or holds earlier keyrings). Strict: duplicate keys, unknown keys, a
 * missing key, wrong types, algo other than "ed25519", a bad signer name,
 * pubkey not the canonical base64 of 32 bytes, more than
 * PT_KEYRING_MAX_KEYS entries or PT_KEYRING_MAX_BYTES bytes are
 * policy_invalid, the message naming the entry ("keys[2].pubkey: ...").
 * On failure *ring is as it was.
 */
perch_err_kind pt_keyring_parse(const char *text, size_t len, pt_keyring *ring,
                                perch_err *err);

/* Read and parse a keyring file; errors name path. */
perch_err_kind pt_keyring_read(const char *path, pt_keyring *ring, perch_err *err);

/* The JSON of a keyring with the one entry (signer, pub), newline-terminated. */
perch_err_kind pt_keyring_encode_one(const char *signer,
                                     const uint8_t pub[PT_ED25519_PUBLIC_LEN], pb_buf *out,
                                     perch_err *err);

void pt_keyring_free(pt_keyring *ring);

typedef enum pt_trust {
    PT_TRUSTED,        /* an entry has this signer and this key */
    PT_UNKNOWN_SIGNER, /* no entry has this signer */
    PT_OTHER_KEY,      /* entries have this signer, none with this key */
} pt_trust;

PERCH_NODISCARD pt_trust pt_keyring_lookup(const pt_keyring *ring, const char *signer,
                                           const uint8_t pub[PT_ED25519_PUBLIC_LEN]);

/* ---- the perch.signature section (signature.c) --------------------------------- */

typedef struct pt_signature {
    char signer[PT_SIGNER_MAX + 1];
    uint8_t pubkey[PT_ED25519_PUBLIC_LEN];
    uint8_t sig[PT_ED25519_SIG_LEN];
} pt_signature;

/*
 * The digest a signature covers: SHA-256 of bytes with every perch.signature
 * section of layout removed (its id byte, size and payload), everything
 * else in order.
 */
perch_err_kind pt_module_digest(const uint8_t *bytes, size_t len, const pw_layout *layout,
                                uint8_t out[PT_SHA256_LEN], perch_err *err);

/*
 * Parse a perch.signature payload: a JSON object with exactly the keys
 * algo, signer, pubkey and sig (no duplicates), all strings; algo
 * "ed25519"; a valid signer name; pubkey and sig the canonical base64 of
 * 32 and 64 bytes. At most PT_SIGNATURE_MAX_PAYLOAD bytes. Errors:
 * manifest_signature_invalid naming the key and the rule.
 */
perch_err_kind pt_signature_parse(const uint8_t *payload, size_t len, pt_signature *out,
                                  perch_err *err);

/* The payload perch writes: the four keys in the order above, no spaces. */
perch_err_kind pt_signature_encode(const pt_signature *s, pb_buf *out, perch_err *err);

/*
 * New module bytes signed by key as signer: every perch.signature section
 * removed, then one new section appended at the end. *out owned by the
 * caller (pb_buf_free).
 */
perch_err_kind pt_module_sign(const uint8_t *bytes, size_t len, const pw_layout *layout,
                              const pt_key *key, const char *signer, pb_buf *out,
                              perch_err *err);

/* ---- the verification checklist (verify.c) -------------------------------------- */

typedef enum pt_check_id {
    PT_CHECK_SECTION,   /* exactly one perch.signature section */
    PT_CHECK_FORMAT,    /* its JSON is well-formed: four keys, ed25519, base64 sizes */
    PT_CHECK_SIGNATURE, /* the signature is valid over the module's digest */
    PT_CHECK_MANIFEST,  /* one well-formed perch.manifest, inside the signed bytes */
    PT_CHECK_SIGNER,    /* the signer is in the keyring with the same key */
    PT_CHECK_POLICY,    /* the capabilities are within host policy */
    PT_CHECK__COUNT
} pt_check_id;

typedef enum pt_status {
    PT_PASS,
    PT_FAIL,
    PT_SKIPPED,     /* not run: an earlier check it depends on failed */
    PT_NOT_CHECKED, /* this perch cannot check it yet; never a failure */
} pt_status;

/* "section", "format", ... and "pass", "fail", "skipped", "not checked". Static. */
const char *pt_check_name(pt_check_id id);
const char *pt_status_name(pt_status s);

typedef struct pt_check {
    pt_status status;
    perch_err_kind kind; /* of a failure: manifest_unsigned, ..._signature_invalid, ... */
    char message[320];
} pt_check;

typedef struct pt_report {
    pt_check checks[PT_CHECK__COUNT];
    size_t sections;         /* perch.signature sections found */
    bool parsed;             /* sig holds the (first) section's fields */
    pt_signature sig;
    uint8_t digest[PT_SHA256_LEN];
    size_t failures;
} pt_report;

/*
 * Run every check of the checklist against ring (NULL: the signer check
 * fails, there is nothing to trust). The result is in *out; the return is
 * not PERCH_OK only when the checks could not be run (out of memory).
 */
PERCH_NODISCARD perch_err_kind pt_verify_module(const uint8_t *bytes, size_t len,
                                                const pw_layout *layout,
                                                const pt_keyring *ring, pt_report *out,
                                                perch_err *err);

/* ---- the posture a host takes before instantiating (posture.c) ------------------ */

typedef enum pt_unsigned {
    PT_UNSIGNED_ALLOW,
    PT_UNSIGNED_DENY,
} pt_unsigned;

/*
 * What a host requires of a module's signature. Borrowed pointers; they
 * must outlive the pt_check_module call.
 */
typedef struct pt_posture {
    const pt_keyring *trust;    /* trusted signers; NULL when none were given */
    const char *require_signer; /* NULL, or the one signer accepted */
    pt_unsigned unsigned_mode;
    bool mode_from_ci;          /* unsigned_mode is the default because CI is set */
} pt_posture;

/*
 * The default posture: nothing trusted, no required signer, unsigned
 * modules denied when ci (the value of the CI environment variable, NULL
 * when unset) is non-empty and allowed otherwise.
 */
pt_posture pt_posture_default(const char *ci);

/* What pt_check_module found out. */
typedef struct pt_verdict {
    bool signed_;        /* the module has a perch.signature section */
    bool verified;       /* its signature is valid over the module's digest */
    bool trusted;        /* ... and its signer and key are in the trust keyring */
    char signer[PT_SIGNER_MAX + 1]; /* "" when unsigned or unreadable */
    uint8_t digest[PT_SHA256_LEN];
} pt_verdict;

/*
 * Several keyrings (one --trust-keys each) are read into one pt_keyring with
 * repeated pt_keyring_read calls.
 *
 * Decide whether a module may be instantiated under posture p, before it
 * runs a single instruction:
 *
 *   unsigned (no perch.signature section):
 *     require_signer set, or unsigned_mode DENY      -> manifest_unsigned
 *     otherwise                                      -> PERCH_OK
 *   signed:
 *     not exactly one section, a malformed payload,
 *     or a signature that does not match the bytes   -> manifest_signature_invalid
 *     require_signer set and a different signer      -> manifest_signer_untrusted
 *     trust given, signer or key not in it           -> manifest_signer_untrusted
 *     no trust given, and require_signer set or
 *     unsigned_mode DENY (a signature nobody
 *     trusts proves no more than none)               -> manifest_signer_untrusted
 *     otherwise                                      -> PERCH_OK
 *
 * A signature present is always checked, whatever the posture: a module
 * whose bytes no longer match its signature was changed after signing.
 * *out is filled in every case. io on out of memory.
 */
PERCH_NODISCARD perch_err_kind pt_check_module(const uint8_t *bytes, size_t len,
                                               const pw_layout *layout, const pt_posture *p,
                                               pt_verdict *out, perch_err *err);

#endif /* PERCH_TRUST_H */
