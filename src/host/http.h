/*
 * http.h: the HTTP client behind the perch host module: GET only, no custom
 * headers, over libcurl loaded with dlopen("libcurl.so.4") on the first
 * request (DESIGN.md, "Dependencies": a run without network never loads
 * it, and perch is not linked against it). Prefix ph_.
 *
 * What a request must pass, in order, each step refusing with
 * wasm_http_refused and the rule's name (net.h):
 *
 *   1. the URL parses strictly (ph_url_parse);                  url, scheme
 *   2. its host and port are granted, plain http only where
 *      granted for it;                                          allowlist, scheme
 *   3. the host resolves (once, here), and every address is
 *      public or granted literally;                             address
 *   4. the connection goes to exactly those addresses (pinned
 *      with CURLOPT_RESOLVE, so DNS cannot change its answer
 *      between the check and the connect), https verifies the
 *      certificate against the system roots or the CA file;     certificate
 *   5. a redirect (301, 302, 303, 307, 308) is followed by
 *      perch, not libcurl: its target goes through steps 1 to 4
 *      again, https never redirects to http, at most
 *      max_redirects hops;                                      redirect, scheme
 *   6. the body is buffered up to max_body bytes; a larger one
 *      is refused whole (never truncated).                      size
 *
 * No proxy is taken from the environment, only http and https are spoken,
 * no cookies, no decompression. Transport failures (a name that does not
 * resolve, a refused connection, a timeout) are io errors.
 */
#ifndef PERCH_HOST_HTTP_H
#define PERCH_HOST_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "host/net.h"

/* Defaults (ph_http_config_init). */
#define PH_HTTP_MAX_BODY ((uint64_t)32 << 20)  /* 32 MiB, as the Go perch */
#define PH_HTTP_MAX_BODY_LIMIT ((uint64_t)INT32_MAX) /* the ABI's i32 length */
#define PH_HTTP_CONNECT_TIMEOUT_MS 10000u
#define PH_HTTP_TIMEOUT_MS 30000u
#define PH_HTTP_MAX_REDIRECTS 5u
#define PH_HTTP_LIBRARY "libcurl.so.4"

/* A refused request, as the refusal hook sees it. All borrowed for the call. */
typedef struct ph_http_refusal {
    const char *rule;      /* "url", "scheme", "allowlist", "address", ... (net.h) */
    const char *url;       /* what was refused: the module's URL, or a redirect target */
    const perch_err *err;  /* kind wasm_http_refused; message "RULE: ..." */
} ph_http_refusal;

/* A request that completed (any status). All borrowed for the call. */
typedef struct ph_http_fetch {
    const char *url;       /* the module's URL */
    const char *final_url; /* after redirects, canonical */
    int status;
    uint64_t bytes;
    unsigned redirects;
} ph_http_fetch;

typedef void (*ph_http_refusal_fn)(void *ud, const ph_http_refusal *refusal);
typedef void (*ph_http_fetch_fn)(void *ud, const ph_http_fetch *fetch);

/*
 * Resolve host into at most cap addresses (*n of them). Return 0 on
 * success, non-zero when the name does not resolve. The default uses
 * getaddrinfo; tests replace it to map names to loopback addresses.
 */
typedef int (*ph_http_resolve_fn)(void *ud, const char *host, ph_addr *out, size_t cap, size_t *n);

typedef struct ph_http_config {
    const char *const *allow;   /* grants (ph_allowlist_parse); copied by ph_http_new */
    size_t nallow;
    const char *ca_file;        /* PEM roots replacing the system's; NULL: system roots */
    uint64_t max_body;          /* bytes, 1..PH_HTTP_MAX_BODY_LIMIT */
    uint32_t connect_timeout_ms;/* per connection */
    uint32_t timeout_ms;        /* whole request, redirects included */
    uint32_t max_redirects;     /* 0: redirects are refused */
    ph_http_refusal_fn on_refusal; /* may be NULL */
    ph_http_fetch_fn on_fetch;     /* may be NULL */
    void *hook_ud;
    ph_http_resolve_fn resolve; /* NULL: getaddrinfo */
    void *resolve_ud;
    const char *library;        /* NULL: PH_HTTP_LIBRARY */
} ph_http_config;

/* The defaults above, no grants, no hooks. */
void ph_http_config_init(ph_http_config *config);

typedef struct ph_http ph_http;

/*
 * Make a client. Strings of config are copied; hooks and their ud are kept.
 * Does not load libcurl. Errors: usage (a malformed grant, a max_body or
 * timeout of 0 or out of range), io (out of memory). *out owned
 * (ph_http_delete).
 */
perch_err_kind ph_http_new(const ph_http_config *config, ph_http **out, perch_err *err);
void ph_http_delete(ph_http *h);

/* A response. body and final_url owned (ph_http_response_free). */
typedef struct ph_http_response {
    int status;
    pb_buf body;
    char *final_url;
    unsigned redirects;
} ph_http_response;

void ph_http_response_free(ph_http_response *r);

/*
 * GET url (len bytes, any content). A non-2xx status is a response, not an
 * error. Errors: wasm_http_refused (the rule in the message, the refused
 * URL or address in err->detail; the refusal hook is called first), io
 * (libcurl missing or too old, name resolution, connection, timeout, out
 * of memory). On failure *out is empty.
 */
perch_err_kind ph_http_get(ph_http *h, const char *url, size_t len, ph_http_response *out,
                           perch_err *err);

/* The rule that refused, from a wasm_http_refused message ("url", ...), into
 * dst; "" for other errors. */
void ph_http_rule(const perch_err *err, char *dst, size_t cap);

#endif /* PERCH_HOST_HTTP_H */
