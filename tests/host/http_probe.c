/*
 * http_probe.c: drives the HTTP client and the perch host module for
 * test_http.py, which runs the servers (on 127.0.0.1 only).
 *
 *   http_probe [OPTIONS] URL...        ph_http_get each URL
 *   http_probe [OPTIONS] --wasm M ...  the same through a guest module: M
 *                                      exports wrappers of the perch imports
 *                                      and a memory; each URL goes through
 *                                      http_get, http_status, http_body_len,
 *                                      http_read_body, http_error, http_close
 *
 * options: --allow PATTERN, --ca-file F, --max-body N, --timeout-ms N,
 * --connect-timeout-ms N, --max-redirects N, --library L, --kill,
 * --show N (bytes of the body printed, default 32), --max-handles N,
 * --base N (offset of the driver's buffers in guest memory),
 * --map NAME=ADDR[,ADDR...] (the only names that resolve: tests never ask
 * real DNS), --rebind NAME=FIRST/LATER (resolves to FIRST once, LATER
 * after), --chunk N (guest read size).
 *
 * Output, one line each: "curl-loaded N" before and after, "refusal RULE
 * URL" and "fetch STATUS BYTES REDIRECTS FINAL" from the hooks, then per URL
 * "ok STATUS BYTES REDIRECTS FINAL BODY-PREFIX" or "error KIND: MESSAGE
 * (DETAIL)".
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "host/http.h"
#include "host/perch_mod.h"

#define MAX_ARGS 64

typedef struct mapping {
    const char *name;
    char addrs[256];
    char later[256];
    int calls;
} mapping;

static mapping maps[16];
static size_t nmaps;

static int map_resolve(void *ud, const char *host, ph_addr *out, size_t cap, size_t *n)
{
    (void)ud;
    *n = 0;
    for (size_t i = 0; i < nmaps; i++) {
        char list[256], *save = NULL;
        if (strcmp(maps[i].name, host) != 0)
            continue;
        snprintf(list, sizeof list, "%s", maps[i].calls++ && maps[i].later[0] ? maps[i].later : maps[i].addrs);
        for (char *t = strtok_r(list, ",", &save); t && *n < cap; t = strtok_r(NULL, ",", &save))
            if (ph_addr_parse(t, &out[*n]))
                (*n)++;
        return *n ? 0 : -1;
    }
    return -1;
}

static void on_refusal(void *ud, const ph_http_refusal *r)
{
    (void)ud;
    printf("refusal %s %s\n", r->rule, r->url);
}

static void on_fetch(void *ud, const ph_http_fetch *f)
{
    (void)ud;
    printf("fetch %d %llu %u %s\n", f->status, (unsigned long long)f->bytes, f->redirects, f->final_url);
}

static int curl_loaded(void)
{
    void *dl = dlopen("libcurl.so.4", RTLD_NOW | RTLD_NOLOAD);
    if (!dl)
        return 0;
    dlclose(dl);
    return 1;
}

static size_t show_max = 32;

static void print_body(const uint8_t *p, size_t n)
{
    size_t show = n < show_max ? n : show_max;
    putchar('[');
    for (size_t i = 0; i < show; i++)
        putchar(p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '.');
    puts("]");
}

static void print_err(const perch_err *e)
{
    printf("error %s: %s", perch_err_kind_name(e->kind), e->message);
    if (e->detail[0])
        printf(" (%s)", e->detail);
    putchar('\n');
}

/* ---- the guest side ------------------------------------------------------ */

typedef struct guest {
    perch_store *store;
    perch_instance *inst;
    perch_memory *mem;
} guest;

static perch_err_kind call(guest *g, const char *name, const int32_t *in, size_t n, int32_t *out,
                           perch_err *err)
{
    perch_extern f;
    perch_val args[4], res[1];
    perch_err_kind rc;
    if (!perch_instance_export(g->inst, name, &f) || f.kind != PERCH_EXTERN_FUNC)
        return pb_fail(err, PERCH_E_USAGE, "the guest has no export %s", name);
    for (size_t i = 0; i < n; i++) {
        args[i].kind = PERCH_I32;
        args[i].of.i32 = in[i];
    }
    res[0].kind = PERCH_I32;
    if ((rc = perch_func_call(g->store, f.of.func, args, n, res, 1, err)))
        return rc;
    *out = res[0].of.i32;
    return PERCH_OK;
}

/* Where the driver puts things in guest memory: --base moves them past a
 * compiled guest's data and stack. */
static int32_t base;
#define URL_AT (base + 1024)
#define ERR_AT (base + 16384)
#define BODY_AT (base + 32768)

/*
 * The ABI's edges, named by special arguments: "!badptr" (a URL outside
 * memory), "!errptr" (http_error into a buffer outside memory, then with
 * cap 0 and a small cap), "!keep:URL" (http_get without http_close),
 * "!readbad:URL" (http_read_body outside memory, then inside),
 * "!handles" (calls on handles never issued), "!fetch:URL" and
 * "!fetchsmall:URL" (the C SDK's perch_http_fetch into 4096 or 4 bytes).
 */
static bool guest_edge(guest *g, const char *arg)
{
    perch_err err;
    int32_t a[3], r, r2, r3;
    uint8_t *mem = perch_memory_data(g->mem);
    uint64_t size = perch_memory_size(g->mem);

    perch_err_clear(&err);
    if (strcmp(arg, "!badptr") == 0) {
        a[0] = (int32_t)(size - 4);
        a[1] = 10;
        (void)call(g, "get", a, 2, &r, &err);
        a[0] = ERR_AT;
        a[1] = 4096;
        (void)call(g, "error", a, 2, &r2, &err);
        printf("badptr get=%d error=%.*s\n", r, r2, (const char *)mem + ERR_AT);
        return true;
    }
    if (strcmp(arg, "!errptr") == 0) {
        a[0] = (int32_t)(size - 2);
        a[1] = 100;
        (void)call(g, "error", a, 2, &r, &err);
        a[0] = (int32_t)(size + 100);
        a[1] = 0;
        (void)call(g, "error", a, 2, &r2, &err);
        memset(mem + ERR_AT, '#', 16);
        a[0] = ERR_AT;
        a[1] = 5;
        (void)call(g, "error", a, 2, &r3, &err);
        printf("errptr outside=%d size=%d small=%d [%.16s]\n", r, r2, r3, (const char *)mem + ERR_AT);
        return true;
    }
    if (strncmp(arg, "!keep:", 6) == 0) {
        size_t len = strlen(arg + 6);
        memcpy(mem + URL_AT, arg + 6, len);
        a[0] = URL_AT;
        a[1] = (int32_t)len;
        (void)call(g, "get", a, 2, &r, &err);
        printf("keep h=%d\n", r);
        return true;
    }
    if (strncmp(arg, "!readbad:", 9) == 0) {
        size_t len = strlen(arg + 9);
        memcpy(mem + URL_AT, arg + 9, len);
        a[0] = URL_AT;
        a[1] = (int32_t)len;
        (void)call(g, "get", a, 2, &r, &err);
        a[0] = r;
        a[1] = (int32_t)(size - 3);
        a[2] = 100;
        (void)call(g, "read", a, 3, &r2, &err);
        a[1] = BODY_AT;
        (void)call(g, "read", a, 3, &r3, &err);
        printf("readbad h=%d outside=%d inside=%d [%.*s]\n", r, r2, r3, r3 > 0 ? r3 : 0,
               (const char *)mem + BODY_AT);
        return true;
    }
    if (strncmp(arg, "!fetch:", 7) == 0 || strncmp(arg, "!fetchsmall:", 12) == 0) {
        bool small = arg[6] != ':';
        const char *u = arg + (small ? 12 : 7);
        size_t len = strlen(u);
        memcpy(mem + URL_AT, u, len + 1);
        a[0] = URL_AT;
        a[1] = BODY_AT;
        a[2] = small ? 4 : 4096;
        if (call(g, "fetch", a, 3, &r, &err)) {
            print_err(&err);
            return true;
        }
        (void)call(g, "fetch_status", a, 0, &r2, &err);
        (void)call(g, "fetch_len", a, 0, &r3, &err);
        printf("fetch rc=%d status=%d len=%d [%.*s]\n", r, r2, r3, r == 0 ? r3 : 0,
               (const char *)mem + BODY_AT);
        return true;
    }
    if (strcmp(arg, "!handles") == 0) {
        static const int32_t ids[] = {0, -1, 99, INT32_MIN, INT32_MAX};
        for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
            a[0] = ids[i];
            (void)call(g, "status", a, 1, &r, &err);
            (void)call(g, "body_len", a, 1, &r2, &err);
            (void)call(g, "close", a, 1, &r3, &err);
            printf("handle %d status=%d len=%d close=%d", ids[i], r, r2, r3);
            a[1] = BODY_AT;
            a[2] = 10;
            (void)call(g, "read", a, 3, &r, &err);
            printf(" read=%d\n", r);
        }
        return true;
    }
    return false;
}

/* One URL through the ABI, as a module would use it. */
static void guest_fetch(guest *g, const char *url, int32_t chunk)
{
    perch_err err;
    size_t len = strlen(url);
    uint8_t *mem = perch_memory_data(g->mem);
    int32_t h, status, blen, n, total = 0, r, elen;
    int32_t a[3];

    perch_err_clear(&err);
    memcpy(mem + URL_AT, url, len);
    a[0] = URL_AT;
    a[1] = (int32_t)len;
    if (call(g, "get", a, 2, &h, &err)) {
        printf("trap ");
        print_err(&err);
        return;
    }
    if (h < 0) {
        a[0] = ERR_AT;
        a[1] = 4096;
        if (call(g, "error", a, 2, &elen, &err) || elen < 0) {
            printf("guest-error-failed\n");
            return;
        }
        printf("guest -1 %d %.*s\n", elen, elen, (const char *)mem + ERR_AT);
        return;
    }
    a[0] = h;
    if (call(g, "status", a, 1, &status, &err) || call(g, "body_len", a, 1, &blen, &err))
        return;
    for (;;) {
        a[0] = h;
        a[1] = BODY_AT + total;
        a[2] = chunk;
        if (call(g, "read", a, 3, &n, &err) || n < 0) {
            printf("read-failed %d\n", n);
            return;
        }
        if (n == 0)
            break;
        total += n;
    }
    a[0] = ERR_AT;
    a[1] = 4096;
    (void)call(g, "error", a, 2, &elen, &err);
    a[0] = h;
    (void)call(g, "close", a, 1, &r, &err);
    printf("guest h=%d status=%d len=%d read=%d error=%d close=%d ", h, status, blen, total, elen, r);
    print_body(mem + BODY_AT, (size_t)total);
    a[0] = h;
    (void)call(g, "close", a, 1, &r, &err);
    (void)call(g, "status", a, 1, &status, &err);
    (void)call(g, "body_len", a, 1, &blen, &err);
    printf("guest after-close close=%d status=%d len=%d\n", r, status, blen);
}

static int run_guest(ph_http *http, bool kill, size_t max_handles, const char *path, char **urls,
                     int nurls, int32_t chunk)
{
    pb_buf bytes = {0};
    perch_err err;
    perch_module *module = NULL;
    ph_perch *p = NULL;
    perch_extern *imports = NULL;
    guest g = {0};
    ph_perch_config pc = {http, kill, max_handles};
    int status = 1;

    perch_err_clear(&err);
    if (pb_file_read(path, &bytes, &err) || perch_module_new(bytes.data, bytes.len, &module, &err) ||
        perch_store_new(&g.store, &err) || ph_perch_new(&pc, &p, &err))
        goto out;
    if (!(imports = pb_calloc(perch_module_import_count(module) + 1, sizeof *imports)))
        goto out;
    if (ph_perch_link(p, g.store, module, imports, &err) ||
        perch_store_instantiate(g.store, module, imports, perch_module_import_count(module), &g.inst,
                                &err))
        goto out;
    g.mem = perch_instance_memory(g.inst);
    for (int i = 0; i < nurls; i++)
        if (!guest_edge(&g, urls[i]))
            guest_fetch(&g, urls[i], chunk);
    printf("open %zu\n", ph_perch_open_count(p));
    status = 0;
out:
    if (status && err.kind)
        print_err(&err);
    pb_free(imports);
    ph_perch_delete(p);
    perch_store_delete(g.store);
    perch_module_delete(module);
    pb_buf_free(&bytes);
    return status;
}

int main(int argc, char **argv)
{
    const char *allow[MAX_ARGS];
    char *urls[MAX_ARGS];
    int nurls = 0;
    ph_http_config c;
    ph_http *http = NULL;
    perch_err err;
    const char *wasm = NULL;
    bool kill = false;
    int32_t chunk = 4096;
    size_t max_handles = 0;
    int status = 0;

    setvbuf(stdout, NULL, _IOLBF, 0);
    ph_http_config_init(&c);
    c.allow = allow;
    c.on_refusal = on_refusal;
    c.on_fetch = on_fetch;
    c.resolve = map_resolve;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--kill") == 0) {
            kill = true;
            continue;
        }
        if (a[0] != '-' || a[1] != '-') {
            if (nurls < MAX_ARGS)
                urls[nurls++] = argv[i];
            continue;
        }
        if (!v) {
            fprintf(stderr, "%s needs a value\n", a);
            return 2;
        }
        i++;
        if (strcmp(a, "--allow") == 0 && c.nallow < MAX_ARGS)
            allow[c.nallow++] = v;
        else if (strcmp(a, "--ca-file") == 0)
            c.ca_file = v;
        else if (strcmp(a, "--max-body") == 0)
            c.max_body = strtoull(v, NULL, 10);
        else if (strcmp(a, "--timeout-ms") == 0)
            c.timeout_ms = (uint32_t)strtoul(v, NULL, 10);
        else if (strcmp(a, "--connect-timeout-ms") == 0)
            c.connect_timeout_ms = (uint32_t)strtoul(v, NULL, 10);
        else if (strcmp(a, "--max-redirects") == 0)
            c.max_redirects = (uint32_t)strtoul(v, NULL, 10);
        else if (strcmp(a, "--library") == 0)
            c.library = v;
        else if (strcmp(a, "--wasm") == 0)
            wasm = v;
        else if (strcmp(a, "--base") == 0)
            base = (int32_t)strtol(v, NULL, 10);
        else if (strcmp(a, "--max-handles") == 0)
            max_handles = strtoul(v, NULL, 10);
        else if (strcmp(a, "--show") == 0)
            show_max = strtoul(v, NULL, 10);
        else if (strcmp(a, "--chunk") == 0)
            chunk = (int32_t)strtol(v, NULL, 10);
        else if ((strcmp(a, "--map") == 0 || strcmp(a, "--rebind") == 0) && nmaps < 16) {
            const char *eq = strchr(v, '=');
            char *slash;
            if (!eq)
                return 2;
            maps[nmaps].name = pb_strndup(v, (size_t)(eq - v));
            snprintf(maps[nmaps].addrs, sizeof maps[nmaps].addrs, "%s", eq + 1);
            if ((slash = strchr(maps[nmaps].addrs, '/'))) {
                *slash = '\0';
                snprintf(maps[nmaps].later, sizeof maps[nmaps].later, "%s", slash + 1);
            }
            nmaps++;
        } else {
            fprintf(stderr, "unknown option %s\n", a);
            return 2;
        }
    }
    printf("curl-loaded %d\n", curl_loaded());
    perch_err_clear(&err);
    if (ph_http_new(&c, &http, &err)) {
        print_err(&err);
        return 1;
    }
    if (wasm) {
        status = run_guest(http, kill, max_handles, wasm, urls, nurls, chunk);
    } else {
        for (int i = 0; i < nurls; i++) {
            ph_http_response r;
            if (ph_http_get(http, urls[i], strlen(urls[i]), &r, &err)) {
                print_err(&err);
                continue;
            }
            printf("ok %d %zu %u %s ", r.status, r.body.len, r.redirects, r.final_url);
            print_body(r.body.data, r.body.len);
            ph_http_response_free(&r);
        }
    }
    printf("curl-loaded %d\n", curl_loaded());
    ph_http_delete(http);
    for (size_t i = 0; i < nmaps; i++)
        pb_free((void *)(uintptr_t)maps[i].name);
    return status;
}
