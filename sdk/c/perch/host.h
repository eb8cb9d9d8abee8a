/*
 * perch/host.h: the `perch` host module from C guest code (HTTP GET).
 *
 * Header-only, for clang --target=wasm32-wasi (or wasm32 without libc: it
 * needs nothing from the C library). The raw imports keep the names, types
 * and return conventions of the Go perch's host module, so code written
 * against either runs on both; perch_http_error is perch's addition. The
 * byte-exact ABI is docs/host-abi.md.
 *
 *     #include <perch/host.h>
 *
 *     static char body[65536];
 *     perch_http_response r;
 *     if (perch_http_fetch("https://api.example.com/v1/x", body, sizeof body, &r) < 0) {
 *         char why[256];
 *         int n = perch_http_error(why, sizeof why);   // "wasm_http_refused: allowlist: ..."
 *         ...
 *     }
 *
 * A module only reaches hosts its grant names (needs_net in its manifest,
 * or --allow-host): anything else is refused, and a module running under
 * its own manifest that tries is stopped.
 */
#ifndef PERCH_SDK_HOST_H
#define PERCH_SDK_HOST_H

#include <stddef.h>
#include <stdint.h>

#if defined(__wasm__)
#define PERCH_IMPORT(name) __attribute__((import_module("perch"), import_name(name)))
#else
#define PERCH_IMPORT(name)
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the raw imports ----------------------------------------------------- */

/*
 * GET the URL [url, url+url_len) (UTF-8, not NUL-terminated; https unless
 * the grant allows plain http). Returns a handle > 0 for the buffered
 * response (any status, 404 included), or -1 when the request was refused
 * or failed (perch_http_error says why).
 */
PERCH_IMPORT("http_get") int32_t perch_http_get(const char *url, uint32_t url_len);
/* The HTTP status of response h; 0 when h is not an open handle. */
PERCH_IMPORT("http_status") int32_t perch_http_status(int32_t h);
/* The body's length in bytes; -1 when h is not an open handle. */
PERCH_IMPORT("http_body_len") int32_t perch_http_body_len(int32_t h);
/*
 * Copy up to cap bytes of the body from its cursor to dst and advance the
 * cursor. Returns the number copied, 0 once the body is consumed, -1 when h
 * is not an open handle or the bytes to copy lie outside memory.
 */
PERCH_IMPORT("http_read_body") int32_t perch_http_read_body(int32_t h, void *dst, uint32_t cap);
/* Free response h; 0, or -1 when h is not an open handle. */
PERCH_IMPORT("http_close") int32_t perch_http_close(int32_t h);
/*
 * Why the most recent perch_http_get returned -1, as "KIND: RULE: message"
 * (e.g. "wasm_http_refused: allowlist: evil.com:443 is not granted"),
 * UTF-8, no NUL. Copies min(length, cap) bytes and returns the whole
 * length (call with cap 0 to size a buffer); 0 when the most recent
 * perch_http_get succeeded; -1 when the bytes to copy lie outside memory.
 */
PERCH_IMPORT("http_error") int32_t perch_http_error(char *buf, uint32_t cap);

/* ---- helpers ------------------------------------------------------------- */

typedef struct perch_http_response {
    int32_t status;  /* HTTP status */
    size_t len;      /* bytes of the body */
} perch_http_response;

static inline size_t perch_strlen_(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

/*
 * GET url (NUL-terminated) into body[0..cap). Returns 0 with *out filled,
 * -1 when the request failed (perch_http_error says why), -2 when the body
 * is longer than cap (out->len then says how long it is). The response is
 * always closed.
 */
static inline int perch_http_fetch(const char *url, void *body, size_t cap,
                                   perch_http_response *out)
{
    int32_t h = perch_http_get(url, (uint32_t)perch_strlen_(url));
    int32_t n;
    size_t got = 0;
    int rc = 0;
    if (h < 0)
        return -1;
    out->status = perch_http_status(h);
    out->len = (size_t)perch_http_body_len(h);
    if (out->len > cap) {
        rc = -2;
    } else {
        while ((n = perch_http_read_body(h, (char *)body + got, (uint32_t)(cap - got))) > 0)
            got += (size_t)n;
        if (n < 0)
            rc = -1;
    }
    (void)perch_http_close(h);
    return rc;
}

#ifdef __cplusplus
}
#endif

#endif /* PERCH_SDK_HOST_H */
