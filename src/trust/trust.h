/*
 * trust.h: hashing and (later) signatures. Prefix pt_. On OpenSSL libcrypto,
 * which uses the processor's SHA extensions where it has them.
 */
#ifndef PERCH_TRUST_H
#define PERCH_TRUST_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

#define PT_SHA256_LEN 32

/* SHA-256 of [data, data+len) into out. */
perch_err_kind pt_sha256(const void *data, size_t len, uint8_t out[PT_SHA256_LEN],
                         perch_err *err);

/* Lowercase hex of a digest into hex (2*len+1 bytes, NUL-terminated). */
void pt_hex(const uint8_t *digest, size_t len, char *hex);

#endif /* PERCH_TRUST_H */
