/*
 * http.c: the HTTP client of http.h over libcurl, loaded with dlopen on the
 * first request. Only this file includes <curl/curl.h>, for the types of
 * the functions it looks up; perch itself is never linked against libcurl.
 */
#include <assert.h>
#include <curl/curl.h>
#include <dlfcn.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "host/http.h"
#include "perch_config.h"

#define REFUSED PERCH_E_WASM_HTTP_REFUSED
#define MAX_ADDRS 16

/* ---- libcurl, loaded once per process ------------------------------------ */

/* The functions perch calls, typed as <curl/curl.h> declares them. */
typedef struct curl_api {
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_perform)(CURL *);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    void (*easy_cleanup)(CURL *);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
    curl_version_info_data *(*version_info)(CURLversion);
} curl_api;

/*
 * The library stays loaded for the life of the process once it loaded:
 * unloading it would unload the TLS library under exit handlers that
 * OpenSSL registered. A failed load is not remembered, so a later request
 * tries again.
 */
static pthread_mutex_t curl_lock = PTHREAD_MUTEX_INITIALIZER;
static curl_api curl;
static bool curl_loaded;

/* dlsym into a function pointer without the object-to-function cast ISO C lacks. */
static bool sym(void *dl, const char *name, void *fnptr, size_t size)
{
    void *p = dlsym(dl, name);
    if (!p)
        return false;
    memcpy(fnptr, &p, size);
    return true;
}

#define SYM(field, name) sym(dl, name, &a.field, sizeof a.field)

/* The loaded library, or NULL with err filled. */
static const curl_api *curl_load(const char *library, perch_err *err)
{
    const curl_api *loaded = NULL;
    curl_api a;
    void *dl;

    pthread_mutex_lock(&curl_lock);
    if (curl_loaded)
        goto done;
    dl = dlopen(library, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        const char *why = dlerror();
        pb_fail(err, PERCH_E_IO, "cannot load %s, needed for network access (install libcurl4)",
                     library);
        pb_detail(err, "%s", why ? why : "dlopen failed");
        goto done;
    }
    if (!SYM(easy_init, "curl_easy_init") || !SYM(easy_setopt, "curl_easy_setopt") ||
        !SYM(easy_perform, "curl_easy_perform") || !SYM(easy_getinfo, "curl_easy_getinfo") ||
        !SYM(easy_cleanup, "curl_easy_cleanup") || !SYM(slist_append, "curl_slist_append") ||
        !SYM(slist_free_all, "curl_slist_free_all") || !SYM(version_info, "curl_version_info")) {
        dlclose(dl);
        pb_fail(err, PERCH_E_IO, "%s is not a usable libcurl (a function is missing)", library);
        goto done;
    }
    /* CURLOPT_PROTOCOLS_STR arrived in 7.85.0 */
    if (a.version_info(CURLVERSION_NOW)->version_num < 0x075500) {
        pb_fail(err, PERCH_E_IO, "libcurl %s is too old (7.85.0 or later needed)",
                     a.version_info(CURLVERSION_NOW)->version);
        dlclose(dl);
        goto done;
    }
    curl = a;
    curl_loaded = true;
done:
    if (curl_loaded)
        loaded = &curl;
    pthread_mutex_unlock(&curl_lock);
    return loaded;
}

/* ---- the client ---------------------------------------------------------- */

struct ph_http {
    ph_allowlist allow;
    char *ca_file;
    char *library;
    uint64_t max_body;
    uint32_t connect_timeout_ms, timeout_ms, max_redirects;
    ph_http_refusal_fn on_refusal;
    ph_http_fetch_fn on_fetch;
    void *hook_ud;
    ph_http_resolve_fn resolve;
    void *resolve_ud;
};

void ph_http_config_init(ph_http_config *c)
{
    memset(c, 0, sizeof *c);
    c->max_body = PH_HTTP_MAX_BODY;
    c->connect_timeout_ms = PH_HTTP_CONNECT_TIMEOUT_MS;
    c->timeout_ms = PH_HTTP_TIMEOUT_MS;
    c->max_redirects = PH_HTTP_MAX_REDIRECTS;
}

perch_err_kind ph_http_new(const ph_http_config *c, ph_http **out, perch_err *err)
{
    ph_http *h;
    perch_err_kind rc;

    *out = NULL;
    if (c->max_body == 0 || c->max_body > PH_HTTP_MAX_BODY_LIMIT)
        return pb_fail(err, PERCH_E_USAGE, "the response size cap must be 1 to %llu bytes",
                       (unsigned long long)PH_HTTP_MAX_BODY_LIMIT);
    if (c->connect_timeout_ms == 0 || c->timeout_ms == 0 || c->timeout_ms > INT32_MAX ||
        c->connect_timeout_ms > INT32_MAX)
        return pb_fail(err, PERCH_E_USAGE, "HTTP timeouts must be 1 ms to 24 days");
    if (!(h = pb_calloc(1, sizeof *h)))
        return pb_fail(err, PERCH_E_IO, "out of memory");
    if ((rc = ph_allowlist_parse(c->allow, c->nallow, &h->allow, err)))
        goto fail;
    if ((c->ca_file && !(h->ca_file = pb_strdup(c->ca_file))) ||
        !(h->library = pb_strdup(c->library ? c->library : PH_HTTP_LIBRARY))) {
        rc = pb_fail(err, PERCH_E_IO, "out of memory");
        goto fail;
    }
    h->max_body = c->max_body;
    h->connect_timeout_ms = c->connect_timeout_ms;
    h->timeout_ms = c->timeout_ms;
    h->max_redirects = c->max_redirects;
    h->on_refusal = c->on_refusal;
    h->on_fetch = c->on_fetch;
    h->hook_ud = c->hook_ud;
    h->resolve = c->resolve;
    h->resolve_ud = c->resolve_ud;
    *out = h;
    return PERCH_OK;
fail:
    ph_http_delete(h);
    return rc;
}

void ph_http_delete(ph_http *h)
{
    if (!h)
        return;
    ph_allowlist_free(&h->allow);
    pb_free(h->ca_file);
    pb_free(h->library);
    pb_free(h);
}

void ph_http_response_free(ph_http_response *r)
{
    pb_buf_free(&r->body);
    pb_free(r->final_url);
    memset(r, 0, sizeof *r);
}

void ph_http_rule(const perch_err *err, char *dst, size_t cap)
{
    size_t n = 0;
    if (cap == 0)
        return;
    if (err->kind == REFUSED) {
        const char *colon = strchr(err->message, ':');
        if (colon && colon[1] == ' ')
            n = (size_t)(colon - err->message);
    }
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, err->message, n);
    dst[n] = '\0';
}

/* ---- one request --------------------------------------------------------- */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int gai_resolve(void *ud, const char *host, ph_addr *out, size_t cap, size_t *n)
{
    struct addrinfo hints, *res = NULL;
    (void)ud;
    *n = 0;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, NULL, &hints, &res) != 0)
        return -1;
    for (const struct addrinfo *p = res; p && *n < cap; p = p->ai_next) {
        ph_addr a;
        bool seen = false;
        memset(&a, 0, sizeof a);
        if (p->ai_family == AF_INET) {
            const struct sockaddr_in *sa = (const struct sockaddr_in *)(const void *)p->ai_addr;
            a.family = 4;
            memcpy(a.b, &sa->sin_addr, 4);
        } else if (p->ai_family == AF_INET6) {
            const struct sockaddr_in6 *sa = (const struct sockaddr_in6 *)(const void *)p->ai_addr;
            a.family = 6;
            memcpy(a.b, &sa->sin6_addr, 16);
        } else {
            continue;
        }
        for (size_t i = 0; i < *n; i++)
            seen = seen || ph_addr_equal(&out[i], &a);
        if (!seen)
            out[(*n)++] = a;
    }
    freeaddrinfo(res);
    return *n ? 0 : -1;
}

/* The body so far; writing past the cap stops the transfer. */
typedef struct sink {
    pb_buf *body;
    uint64_t cap;
    bool over;
    bool nomem;
} sink;

static size_t sink_write(char *data, size_t size, size_t n, void *ud)
{
    sink *s = ud;
    size_t len = size * n;
    if (s->body->len + (uint64_t)len > s->cap) {
        s->over = true;
        return 0;
    }
    if (!pb_buf_append(s->body, data, len)) {
        s->nomem = true;
        return 0;
    }
    return len;
}

/* Call the refusal hook for a wasm_http_refused error; pass rc through. */
static perch_err_kind refused(ph_http *h, const char *url, perch_err_kind rc, const perch_err *err)
{
    if (rc == REFUSED && h->on_refusal) {
        char rule[32];
        ph_http_refusal r;
        ph_http_rule(err, rule, sizeof rule);
        r.rule = rule;
        r.url = url;
        r.err = err;
        h->on_refusal(h->hook_ud, &r);
    }
    return rc;
}

/*
 * Steps 2 and 3 of http.h for one hop: the grant, then every address the
 * host resolves to. On success *pins is the CURLOPT_RESOLVE entry (NULL for
 * an IP literal, which needs no resolution), owned by the caller.
 */
static perch_err_kind check_hop(ph_http *h, const ph_url *u, struct curl_slist **pins,
                                const curl_api **api, perch_err *err)
{
    const ph_grant *g;
    ph_addr addrs[MAX_ADDRS];
    size_t n = 0;
    perch_err_kind rc;
    char entry[MAX_ADDRS * 48 + 300];
    size_t used;

    *pins = NULL;
    if ((rc = ph_allowlist_check(&h->allow, u, &g, err)))
        return rc;
    if (u->host_is_ip) {
        addrs[0] = u->ip;
        n = 1;
    } else if ((h->resolve ? h->resolve : gai_resolve)(h->resolve_ud, u->host, addrs, MAX_ADDRS, &n) != 0 ||
               n == 0) {
        return pb_fail(err, PERCH_E_IO, "cannot resolve %s", u->host);
    }
    /* Every answer must pass: a name with one public and one private
     * address is how a rebinding attack hides the second. */
    for (size_t i = 0; i < n; i++)
        if ((rc = ph_allowlist_check_addr(&h->allow, u, g, &addrs[i], err)))
            return rc;
    if (!(*api = curl_load(h->library, err)))
        return PERCH_E_IO;
    if (u->host_is_ip)
        return PERCH_OK;
    /* Pin: libcurl connects to exactly the addresses checked above and never
     * asks DNS again, so an answer that changes after the check is unused. */
    used = (size_t)snprintf(entry, sizeof entry, "%s:%u:", u->host, (unsigned)u->port);
    for (size_t i = 0; i < n && used < sizeof entry; i++) {
        char text[64];
        ph_addr_format(&addrs[i], text, sizeof text);
        used += (size_t)snprintf(entry + used, sizeof entry - used, addrs[i].family == 6 ? "%s[%s]" : "%s%s",
                                 i ? "," : "", text);
    }
    if (used >= sizeof entry || !(*pins = (*api)->slist_append(NULL, entry)))
        return pb_fail(err, PERCH_E_IO, "out of memory");
    return PERCH_OK;
}

static bool is_redirect(long status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/*
 * Request u once (no redirects followed) within timeout_ms. On success
 * *status is set, and *location (owned) to the redirect target libcurl
 * computed from the Location header, when there is one.
 */
static perch_err_kind fetch_once(ph_http *h, const curl_api *api, const ph_url *u,
                                 struct curl_slist *pins, uint64_t timeout_ms, pb_buf *body,
                                 long *status, char **location, perch_err *err)
{
    char errbuf[CURL_ERROR_SIZE];
    char *url = ph_url_string(u);
    CURL *c = NULL;
    sink s;
    CURLcode code;
    perch_err_kind rc = PERCH_OK;
    char *redirect = NULL;
    uint64_t connect_ms = h->connect_timeout_ms < timeout_ms ? h->connect_timeout_ms : timeout_ms;

    *location = NULL;
    *status = 0;
    errbuf[0] = '\0';
    s.body = body;
    s.cap = h->max_body;
    s.over = s.nomem = false;
    if (!url || !(c = api->easy_init())) {
        rc = pb_fail(err, PERCH_E_IO, "out of memory");
        goto out;
    }
    /* Each option is the safe choice made explicit, not left to a default
     * or to the environment (http_proxy, .netrc, ...). */
    if (api->easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
        api->easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        api->easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        api->easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
        api->easy_setopt(c, CURLOPT_PROXY, "") != CURLE_OK ||
        api->easy_setopt(c, CURLOPT_NETRC, (long)CURL_NETRC_IGNORED) != CURLE_OK ||
        api->easy_setopt(c, CURLOPT_HTTPGET, 1L) != CURLE_OK ||
        api->easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        api->easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
        api->easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
        api->easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK ||
        api->easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)connect_ms) != CURLE_OK ||
        api->easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms) != CURLE_OK ||
        api->easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)h->max_body) != CURLE_OK ||
        api->easy_setopt(c, CURLOPT_USERAGENT, "perch/" PERCH_VERSION) != CURLE_OK ||
        api->easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write) != CURLE_OK ||
        api->easy_setopt(c, CURLOPT_WRITEDATA, (void *)&s) != CURLE_OK ||
        api->easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK ||
        (pins && api->easy_setopt(c, CURLOPT_RESOLVE, pins) != CURLE_OK) ||
        (h->ca_file && api->easy_setopt(c, CURLOPT_CAINFO, h->ca_file) != CURLE_OK)) {
        rc = pb_fail(err, PERCH_E_IO, "libcurl refused an option perch needs");
        goto out;
    }
    code = api->easy_perform(c);
    if (s.nomem) {
        rc = pb_fail(err, PERCH_E_IO, "out of memory");
    } else if (s.over || code == CURLE_FILESIZE_EXCEEDED) {
        rc = pb_fail(err, REFUSED, "size: the response body is larger than the cap of %llu bytes",
                     (unsigned long long)h->max_body);
    } else if (code == CURLE_PEER_FAILED_VERIFICATION) {
        char hp[300];
        ph_url_hostport(u, hp, sizeof hp);
        rc = pb_fail(err, REFUSED, "certificate: the certificate of %s does not verify", hp);
        pb_detail(err, "%s", errbuf);
    } else if (code == CURLE_OPERATION_TIMEDOUT) {
        rc = pb_fail(err, PERCH_E_IO, "the request timed out");
        pb_detail(err, "%s", errbuf);
    } else if (code != CURLE_OK) {
        rc = pb_fail(err, PERCH_E_IO, "the request failed (curl error %d)", (int)code);
        pb_detail(err, "%s", errbuf);
    } else if (api->easy_getinfo(c, CURLINFO_RESPONSE_CODE, status) != CURLE_OK ||
               api->easy_getinfo(c, CURLINFO_REDIRECT_URL, &redirect) != CURLE_OK) {
        rc = pb_fail(err, PERCH_E_IO, "libcurl did not report the response");
    } else if (redirect && is_redirect(*status) && !(*location = pb_strdup(redirect))) {
        rc = pb_fail(err, PERCH_E_IO, "out of memory");
    }
out:
    if (c)
        api->easy_cleanup(c);
    pb_free(url);
    return rc;
}

perch_err_kind ph_http_get(ph_http *h, const char *url, size_t len, ph_http_response *out,
                           perch_err *err)
{
    uint64_t deadline = now_ms() + h->timeout_ms;
    char *orig = pb_strndup(url, len);
    char *location = NULL;
    const curl_api *api = NULL;
    struct curl_slist *pins = NULL;
    ph_url u, next;
    perch_err_kind rc;
    long status = 0;
    unsigned hops = 0;

    memset(out, 0, sizeof *out);
    memset(&u, 0, sizeof u);
    if (!orig)
        return pb_fail(err, PERCH_E_IO, "out of memory");
    if ((rc = ph_url_parse(url, len, &u, err))) {
        pb_detail(err, "%s", orig);
        refused(h, orig, rc, err);
        goto done;
    }
    for (;;) {
        uint64_t now = now_ms();
        if ((rc = check_hop(h, &u, &pins, &api, err))) {
            if (rc == REFUSED) {
                char *s = ph_url_string(&u);
                if (err->detail[0] == '\0')
                    pb_detail(err, "%s", s ? s : orig);
                refused(h, hops && s ? s : orig, rc, err);
                pb_free(s);
            }
            goto done;
        }
        assert(api); /* check_hop loaded libcurl */
        if (now >= deadline) {
            rc = pb_fail(err, PERCH_E_IO, "the request timed out");
            goto done;
        }
        out->body.len = 0;
        rc = fetch_once(h, api, &u, pins, deadline - now, &out->body, &status, &location, err);
        api->slist_free_all(pins);
        pins = NULL;
        if (rc) {
            if (rc == REFUSED) {
                char *s = ph_url_string(&u);
                if (err->detail[0] == '\0')
                    pb_detail(err, "%s", s ? s : orig);
                refused(h, s ? s : orig, rc, err);
                pb_free(s);
            }
            goto done;
        }
        if (!location)
            break;
        if (hops >= h->max_redirects) {
            rc = pb_fail(err, REFUSED, "redirect: more than %u redirects", h->max_redirects);
            pb_detail(err, "%s", location);
            refused(h, location, rc, err);
            goto done;
        }
        if ((rc = ph_url_parse(location, strlen(location), &next, err))) {
            pb_detail(err, "%s", location);
            refused(h, location, rc, err);
            goto done;
        }
        /* A downgrade would hand the rest of the exchange to anyone on the path. */
        if (u.https && !next.https) {
            ph_url_free(&next);
            rc = pb_fail(err, REFUSED, "scheme: a redirect from https to http is refused");
            pb_detail(err, "%s", location);
            refused(h, location, rc, err);
            goto done;
        }
        ph_url_free(&u);
        u = next;
        pb_free(location);
        location = NULL;
        hops++;
    }
    out->status = (int)status;
    out->redirects = hops;
    if (!(out->final_url = ph_url_string(&u))) {
        rc = pb_fail(err, PERCH_E_IO, "out of memory");
        goto done;
    }
    if (h->on_fetch) {
        ph_http_fetch f;
        f.url = orig;
        f.final_url = out->final_url;
        f.status = out->status;
        f.bytes = out->body.len;
        f.redirects = hops;
        h->on_fetch(h->hook_ud, &f);
    }
done:
    if (rc)
        ph_http_response_free(out);
    if (pins && api)
        api->slist_free_all(pins);
    pb_free(location);
    ph_url_free(&u);
    pb_free(orig);
    return rc;
}
