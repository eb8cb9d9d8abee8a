/* sha256.c: SHA-256 through libcrypto's EVP interface. */
#include <openssl/evp.h>

#include "trust/trust.h"

perch_err_kind pt_sha256(const void *data, size_t len, uint8_t out[PT_SHA256_LEN],
                         perch_err *err)
{
    unsigned int n = 0;
    if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1 || n != PT_SHA256_LEN)
        return pb_fail(err, PERCH_E_IO, "SHA-256 failed in libcrypto");
    return PERCH_OK;
}

void pt_hex(const uint8_t *digest, size_t len, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[2 * len] = '\0';
}
