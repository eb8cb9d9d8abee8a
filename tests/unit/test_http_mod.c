/*
 * test_http_mod.c: the HTTP client and the perch module without a network:
 * configuration errors, the refusal hook, that refusals never load
 * libcurl, and every allocation failure on the way to a refusal. The
 * requests that reach a server are in tests/host/test_http.py.
 */
#include <dlfcn.h>

#include "check.h"
#include "host/http.h"
#include "host/perch_mod.h"

static int refusals;
static char last_rule[32], last_url[256];

static void on_refusal(void *ud, const ph_http_refusal *r)
{
    (void)ud;
    refusals++;
    snprintf(last_rule, sizeof last_rule, "%s", r->rule);
    snprintf(last_url, sizeof last_url, "%s", r->url);
}

static bool curl_loaded(void)
{
    void *dl = dlopen("libcurl.so.4", RTLD_NOW | RTLD_NOLOAD);
    if (dl)
        dlclose(dl);
    return dl != NULL;
}

static void test_config_errors(void)
{
    ph_http_config c;
    ph_http *h;
    perch_err err;
    const char *bad = "*.com";

    ph_http_config_init(&c);
    CHECK_INT(c.max_body, 32u << 20);
    CHECK_INT(c.max_redirects, 5);
    c.max_body = 0;
    CHECK_INT(ph_http_new(&c, &h, &err), PERCH_E_USAGE);
    CHECK_STR(err.message, "the response size cap must be 1 to 2147483647 bytes");
    CHECK(h == NULL);
    c.max_body = (uint64_t)INT32_MAX + 1;
    CHECK_INT(ph_http_new(&c, &h, &err), PERCH_E_USAGE);
    c.max_body = INT32_MAX;
    c.timeout_ms = 0;
    CHECK_INT(ph_http_new(&c, &h, &err), PERCH_E_USAGE);
    CHECK_STR(err.message, "HTTP timeouts must be 1 ms to 24 days");
    c.timeout_ms = 1;
    c.connect_timeout_ms = 0;
    CHECK_INT(ph_http_new(&c, &h, &err), PERCH_E_USAGE);
    c.connect_timeout_ms = 1;
    c.allow = &bad;
    c.nallow = 1;
    CHECK_INT(ph_http_new(&c, &h, &err), PERCH_E_USAGE);
    CHECK_STR(err.message, "allowed host \"*.com\" has no port (write host:port, e.g. api.example.com:443)");
    {
        ph_perch_config pc = {NULL, false, 0};
        ph_perch *p;
        CHECK_INT(ph_perch_new(&pc, &p, &err), PERCH_E_USAGE);
        CHECK_STR(err.message, "the perch module needs an HTTP client");
    }
}

static void test_refusals_through_the_hook(void)
{
    ph_http_config c;
    ph_http *h;
    ph_http_response r;
    perch_err err;
    const char *allow[] = {"api.example.com:443", "http://*.example.org:8080"};
    static const char *const cases[][4] = {
        /* URL, rule, message, detail (the canonical URL once it parsed) */
        {"https://evil.com", "allowlist", "allowlist: evil.com:443 is not granted", "https://evil.com:443/"},
        {"example.com", "scheme", "scheme: the URL has no scheme (write https://HOST/PATH)", "example.com"},
        {"https://api.example.com@evil.com/", "url", "url: user information before '@' is not allowed",
         "https://api.example.com@evil.com/"},
        {"http://API.example.com/x#y", "allowlist", "allowlist: api.example.com:80 is not granted",
         "http://api.example.com:80/x"},
        {"http://api.example.com:443/", "scheme",
         "scheme: plain http to api.example.com:443 is not granted (use https, or grant http://api.example.com:443)",
         "http://api.example.com:443/"},
        {"http://example.org:8080/", "allowlist", "allowlist: example.org:8080 is not granted",
         "http://example.org:8080/"},
    };

    ph_http_config_init(&c);
    c.allow = allow;
    c.nallow = 2;
    c.on_refusal = on_refusal;
    CHECK_INT(ph_http_new(&c, &h, &err), PERCH_OK);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char rule[32];
        int before = refusals;
        perch_err_clear(&err);
        CHECK_INT(ph_http_get(h, cases[i][0], strlen(cases[i][0]), &r, &err), PERCH_E_WASM_HTTP_REFUSED);
        CHECK_STR(err.message, cases[i][2]);
        CHECK_STR(err.detail, cases[i][3]);
        CHECK_INT(refusals, before + 1);
        CHECK_STR(last_rule, cases[i][1]);
        CHECK_STR(last_url, cases[i][0]);
        ph_http_rule(&err, rule, sizeof rule);
        CHECK_STR(rule, cases[i][1]);
        CHECK(r.body.data == NULL && r.final_url == NULL);
    }
    /* refusals are decided before libcurl is needed */
    CHECK(!curl_loaded());
    ph_http_delete(h);

    perch_err_clear(&err);
    pb_fail(&err, PERCH_E_IO, "io: not a rule");
    {
        char rule[8] = "x";
        ph_http_rule(&err, rule, sizeof rule);
        CHECK_STR(rule, "");
    }
}

/* Every allocation on the way to a refusal may fail; none may leak or crash. */
static void test_allocation_failures(void)
{
    const char *allow[] = {"api.example.com:443", "*.example.org:443"};
    bool finished = false;
    for (uint64_t n = 1; n < 100 && !finished; n++) {
        ph_http_config c;
        ph_http *h = NULL;
        ph_http_response r;
        perch_err err;
        perch_err_kind rc;
        ph_http_config_init(&c);
        c.allow = allow;
        c.nallow = 2;
        c.ca_file = "/etc/ssl/ca.pem";
        pb_alloc_fail_after(n);
        rc = ph_http_new(&c, &h, &err);
        if (rc == PERCH_OK) {
            rc = ph_http_get(h, "https://a.example.org.evil.com/x?y", strlen("https://a.example.org.evil.com/x?y"), &r, &err);
            CHECK(rc == PERCH_E_WASM_HTTP_REFUSED || (rc == PERCH_E_IO && strcmp(err.message, "out of memory") == 0));
            finished = rc == PERCH_E_WASM_HTTP_REFUSED;
            ph_http_delete(h);
        } else {
            CHECK_INT(rc, PERCH_E_IO);
            CHECK_STR(err.message, "out of memory");
        }
        pb_alloc_fail_after(0);
    }
    CHECK(finished);
}

int main(void)
{
    RUN(test_config_errors);
    RUN(test_refusals_through_the_hook);
    RUN(test_allocation_failures);
    return CHECK_DONE();
}
