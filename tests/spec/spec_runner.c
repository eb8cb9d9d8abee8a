/*
 * spec_runner.c: runs the WebAssembly specification testsuite.
 *
 *   spec_runner [--dispatch goto|switch] [--verbose] SUITE_DIR OUT_DIR WAST2JSON [NAME.wast...]
 *
 * Each NAME.wast of SUITE_DIR (or each one named) is converted with
 * wast2json into OUT_DIR, then every command of the resulting JSON is
 * executed against the engine. Prints one line per file and closes with
 * "N passed, N failed, N skipped". Exits 0 when nothing failed, 77 (meson's
 * "skipped") when SUITE_DIR does not exist, 1 otherwise.
 *
 * Skipped, each with its reason: every command of the SIMD files (simd_*),
 * and assert_malformed on modules in text form (they test a text parser).
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "perch.h"
#include "wasm/runtime.h"

typedef struct named {
    char *name;
    perch_instance *inst;
} named;

typedef struct ctx {
    const char *json_dir;
    perch_store *store;
    perch_instance *spectest;
    perch_instance *current;
    named *names;     /* $module names and registered names */
    size_t nnames;
    named *registered;
    size_t nregistered;
    perch_module **modules; /* kept alive until the file ends */
    size_t nmodules;
    int dispatch;
    bool verbose;
    unsigned passed, failed, skipped;
    const char *file;
} ctx;

static void failf(ctx *c, json_t *cmd, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void failf(ctx *c, json_t *cmd, const char *fmt, ...)
{
    va_list ap;
    c->failed++;
    if (!c->verbose && c->failed > 20)
        return;
    fprintf(stderr, "  FAIL %s:%lld: ", c->file, (long long)json_integer_value(json_object_get(cmd, "line")));
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ---- the spectest module ------------------------------------------------- */

static perch_err_kind print_fn(void *ud, perch_caller *caller, const perch_val *args,
                               perch_val *results, perch_err *err)
{
    (void)ud; (void)caller; (void)args; (void)results; (void)err;
    return PERCH_OK;
}

static perch_instance *make_spectest(perch_store *s);

/* The spectest module, as a small wasm module importing host functions is
 * more work than building the externs directly: a registry entry that
 * resolves names to objects made here. */
typedef struct spectest {
    perch_func *print, *print_i32, *print_i64, *print_f32, *print_f64, *print_i32_f32,
        *print_f64_f64;
    perch_global *g_i32, *g_i64, *g_f32, *g_f64;
    perch_table *table;
    perch_memory *memory;
} spectest;

static spectest st;

static perch_func *host(perch_store *s, size_t np, const perch_valkind *p)
{
    perch_functype t = {np, p, 0, NULL};
    perch_func *f = NULL;
    perch_err err;
    if (perch_store_host_func(s, &t, print_fn, NULL, &f, &err))
        abort();
    return f;
}

static perch_global *global(perch_store *s, perch_valkind k, uint64_t bits)
{
    perch_val v;
    perch_global *g = NULL;
    perch_err err;
    memset(&v, 0, sizeof v);
    v.kind = k;
    if (k == PERCH_I32)
        v.of.i32 = (int32_t)bits;
    else if (k == PERCH_I64)
        v.of.i64 = (int64_t)bits;
    else if (k == PERCH_F32)
        v.of.f32 = (uint32_t)bits;
    else
        v.of.f64 = bits;
    if (perch_store_global(s, v, false, &g, &err))
        abort();
    return g;
}

static perch_instance *make_spectest(perch_store *s)
{
    static const perch_valkind i32[] = {PERCH_I32}, i64[] = {PERCH_I64}, f32[] = {PERCH_F32},
                               f64[] = {PERCH_F64}, i32f32[] = {PERCH_I32, PERCH_F32},
                               f64f64[] = {PERCH_F64, PERCH_F64};
    perch_err err;
    st.print = host(s, 0, NULL);
    st.print_i32 = host(s, 1, i32);
    st.print_i64 = host(s, 1, i64);
    st.print_f32 = host(s, 1, f32);
    st.print_f64 = host(s, 1, f64);
    st.print_i32_f32 = host(s, 2, i32f32);
    st.print_f64_f64 = host(s, 2, f64f64);
    st.g_i32 = global(s, PERCH_I32, 666);
    st.g_i64 = global(s, PERCH_I64, 666);
    st.g_f32 = global(s, PERCH_F32, 0x4426a666u); /* 666.6 */
    st.g_f64 = global(s, PERCH_F64, 0x4084d4cccccccccdull);
    if (perch_store_table(s, PERCH_FUNCREF, 10, 20, &st.table, &err) ||
        perch_store_memory(s, 1, 2, &st.memory, &err))
        abort();
    return NULL;
}

static bool spectest_lookup(const char *name, size_t len, perch_extern *out)
{
#define IS(s) (len == strlen(s) && memcmp(name, s, len) == 0)
    if (IS("print")) { out->kind = PERCH_EXTERN_FUNC; out->of.func = st.print; }
    else if (IS("print_i32")) { out->kind = PERCH_EXTERN_FUNC; out->of.func = st.print_i32; }
    else if (IS("print_i64")) { out->kind = PERCH_EXTERN_FUNC; out->of.func = st.print_i64; }
    else if (IS("print_f32")) { out->kind = PERCH_EXTERN_FUNC; out->of.func = st.print_f32; }
    else if (IS("print_f64")) { out->kind = PERCH_EXTERN_FUNC; out->of.func = st.print_f64; }
    else if (IS("print_i32_f32")) { out->kind = PERCH_EXTERN_FUNC; out->of.func = st.print_i32_f32; }
    else if (IS("print_f64_f64")) { out->kind = PERCH_EXTERN_FUNC; out->of.func = st.print_f64_f64; }
    else if (IS("global_i32")) { out->kind = PERCH_EXTERN_GLOBAL; out->of.global = st.g_i32; }
    else if (IS("global_i64")) { out->kind = PERCH_EXTERN_GLOBAL; out->of.global = st.g_i64; }
    else if (IS("global_f32")) { out->kind = PERCH_EXTERN_GLOBAL; out->of.global = st.g_f32; }
    else if (IS("global_f64")) { out->kind = PERCH_EXTERN_GLOBAL; out->of.global = st.g_f64; }
    else if (IS("table")) { out->kind = PERCH_EXTERN_TABLE; out->of.table = st.table; }
    else if (IS("memory")) { out->kind = PERCH_EXTERN_MEMORY; out->of.memory = st.memory; }
    else return false;
    return true;
#undef IS
}

/* ---- modules ------------------------------------------------------------- */

static perch_instance *find_named(named *v, size_t n, const char *name, size_t len)
{
    for (size_t i = n; i-- > 0;)
        if (strlen(v[i].name) == len && memcmp(v[i].name, name, len) == 0)
            return v[i].inst;
    return NULL;
}

static void add_named(named **v, size_t *n, const char *name, perch_instance *inst)
{
    named *p = realloc(*v, (*n + 1) * sizeof *p);
    if (!p)
        abort();
    p[*n].name = strdup(name);
    p[*n].inst = inst;
    *v = p;
    (*n)++;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long n;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)n + 1);
        if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        }
        *len = (size_t)n;
    }
    fclose(f);
    return buf;
}

/* Load a module file; PERCH_OK and *out, or the error. */
static perch_err_kind load(ctx *c, const char *filename, perch_module **out, perch_err *err)
{
    char path[4096];
    size_t len = 0;
    uint8_t *bytes;
    perch_err_kind rc;
    snprintf(path, sizeof path, "%s/%s", c->json_dir, filename);
    if (!(bytes = read_file(path, &len))) {
        snprintf(err->message, sizeof err->message, "cannot read %s", path);
        return err->kind = PERCH_E_IO;
    }
    rc = perch_module_new(bytes, len, out, err);
    free(bytes);
    if (rc == PERCH_OK) {
        perch_module **p = realloc(c->modules, (c->nmodules + 1) * sizeof *p);
        if (!p)
            abort();
        p[c->nmodules++] = *out;
        c->modules = p;
    }
    return rc;
}

static perch_err_kind instantiate(ctx *c, perch_module *m, perch_instance **out, perch_err *err)
{
    size_t n = perch_module_import_count(m);
    perch_extern *imps = calloc(n + 1, sizeof *imps);
    perch_err_kind rc;
    if (!imps)
        abort();
    for (size_t i = 0; i < n; i++) {
        perch_moddesc d = perch_module_import(m, i);
        perch_instance *from;
        bool ok;
        if (d.module_len == 8 && memcmp(d.module, "spectest", 8) == 0)
            ok = spectest_lookup(d.name, d.name_len, &imps[i]);
        else
            ok = (from = find_named(c->registered, c->nregistered, d.module, d.module_len)) &&
                 perch_instance_export_n(from, d.name, d.name_len, &imps[i]);
        if (!ok) {
            free(imps);
            perch_err_clear(err);
            snprintf(err->message, sizeof err->message, "unknown import \"%.*s\" \"%.*s\"",
                     (int)d.module_len, d.module, (int)d.name_len, d.name);
            return err->kind = PERCH_E_WASM_UNLINKABLE;
        }
    }
    rc = perch_store_instantiate(c->store, m, imps, n, out, err);
    free(imps);
    return rc;
}

/* ---- values -------------------------------------------------------------- */

static perch_valkind kind_of(const char *t)
{
    if (!strcmp(t, "i32")) return PERCH_I32;
    if (!strcmp(t, "i64")) return PERCH_I64;
    if (!strcmp(t, "f32")) return PERCH_F32;
    if (!strcmp(t, "f64")) return PERCH_F64;
    if (!strcmp(t, "funcref")) return PERCH_FUNCREF;
    if (!strcmp(t, "externref")) return PERCH_EXTERNREF;
    return (perch_valkind)0;
}

static bool parse_val(json_t *j, perch_val *v)
{
    const char *t = json_string_value(json_object_get(j, "type"));
    const char *s = json_string_value(json_object_get(j, "value"));
    uint64_t bits;
    memset(v, 0, sizeof *v);
    if (!t || !(v->kind = kind_of(t)))
        return false;
    if (!s)
        return false;
    if (!strcmp(s, "null"))
        return true; /* a null reference */
    bits = strtoull(s, NULL, 10);
    switch (v->kind) {
    case PERCH_I32: v->of.i32 = (int32_t)(uint32_t)bits; break;
    case PERCH_I64: v->of.i64 = (int64_t)bits; break;
    case PERCH_F32: v->of.f32 = (uint32_t)bits; break;
    case PERCH_F64: v->of.f64 = bits; break;
    /* ref.extern N is the host pointer N + 1, so that 0 stays distinct from null */
    case PERCH_EXTERNREF: v->of.ref = (void *)(uintptr_t)(bits + 1); break;
    default: return false;
    }
    return true;
}

static bool match(json_t *want, const perch_val *got, char *why, size_t whylen)
{
    const char *t = json_string_value(json_object_get(want, "type"));
    const char *s = json_string_value(json_object_get(want, "value"));
    perch_valkind k = t ? kind_of(t) : (perch_valkind)0;
    if (k != got->kind) {
        snprintf(why, whylen, "result kind %d, expected %s", (int)got->kind, t ? t : "?");
        return false;
    }
    if (k == PERCH_F32 || k == PERCH_F64) {
        uint64_t bits = k == PERCH_F32 ? got->of.f32 : got->of.f64;
        uint64_t quiet = k == PERCH_F32 ? 0x00400000u : 0x0008000000000000ull;
        uint64_t expo = k == PERCH_F32 ? 0x7f800000u : 0x7ff0000000000000ull;
        uint64_t absmask = k == PERCH_F32 ? 0x7fffffffu : 0x7fffffffffffffffull;
        if (s && !strcmp(s, "nan:canonical")) {
            if ((bits & absmask) == (expo | quiet))
                return true;
            snprintf(why, whylen, "got 0x%llx, expected a canonical NaN", (unsigned long long)bits);
            return false;
        }
        if (s && !strcmp(s, "nan:arithmetic")) {
            if ((bits & expo) == expo && (bits & quiet))
                return true;
            snprintf(why, whylen, "got 0x%llx, expected an arithmetic NaN", (unsigned long long)bits);
            return false;
        }
    }
    if (k == PERCH_FUNCREF || k == PERCH_EXTERNREF) {
        const void *p = k == PERCH_FUNCREF ? (const void *)got->of.func : got->of.ref;
        if (!s) { /* any non-null reference */
            if (p)
                return true;
            snprintf(why, whylen, "got null, expected a reference");
            return false;
        }
        if (!strcmp(s, "null")) {
            if (!p)
                return true;
            snprintf(why, whylen, "got a reference, expected null");
            return false;
        }
        if (k == PERCH_EXTERNREF && (uintptr_t)p == strtoull(s, NULL, 10) + 1)
            return true;
        snprintf(why, whylen, "got reference %p, expected %s", p, s);
        return false;
    }
    {
        uint64_t bits = strtoull(s ? s : "", NULL, 10);
        uint64_t g = k == PERCH_I32 ? (uint32_t)got->of.i32 : k == PERCH_I64 ? (uint64_t)got->of.i64
                     : k == PERCH_F32 ? got->of.f32 : got->of.f64;
        if (k == PERCH_I32 || k == PERCH_F32)
            bits = (uint32_t)bits;
        if (g == bits)
            return true;
        snprintf(why, whylen, "got %llu (0x%llx), expected %s", (unsigned long long)g,
                 (unsigned long long)g, s ? s : "?");
        return false;
    }
}

/* ---- actions ------------------------------------------------------------- */

/* Perform an action; results go to res (up to 64). */
static perch_err_kind act(ctx *c, json_t *action, perch_val *res, size_t *nres, perch_err *err)
{
    const char *type = json_string_value(json_object_get(action, "type"));
    const char *mod = json_string_value(json_object_get(action, "module"));
    const char *field = json_string_value(json_object_get(action, "field"));
    size_t field_len = json_string_length(json_object_get(action, "field"));
    perch_instance *inst = mod ? find_named(c->names, c->nnames, mod, strlen(mod)) : c->current;
    perch_extern ex;
    perch_err_clear(err);
    *nres = 0;
    if (!inst || !field) {
        snprintf(err->message, sizeof err->message, "no module instance for the action");
        return err->kind = PERCH_E_USAGE;
    }
    if (!perch_instance_export_n(inst, field, field_len, &ex)) {
        snprintf(err->message, sizeof err->message, "no export \"%s\"", field);
        return err->kind = PERCH_E_USAGE;
    }
    if (!strcmp(type, "get")) {
        if (ex.kind != PERCH_EXTERN_GLOBAL) {
            snprintf(err->message, sizeof err->message, "export \"%s\" is not a global", field);
            return err->kind = PERCH_E_USAGE;
        }
        res[0] = perch_global_get(ex.of.global);
        *nres = 1;
        return PERCH_OK;
    }
    if (ex.kind != PERCH_EXTERN_FUNC) {
        snprintf(err->message, sizeof err->message, "export \"%s\" is not a function", field);
        return err->kind = PERCH_E_USAGE;
    }
    {
        json_t *args = json_object_get(action, "args");
        perch_val argv[64];
        size_t nargs = json_array_size(args);
        perch_functype ft = perch_func_type(ex.of.func);
        if (nargs > 64 || ft.nresults > 64) {
            snprintf(err->message, sizeof err->message, "too many arguments");
            return err->kind = PERCH_E_USAGE;
        }
        for (size_t i = 0; i < nargs; i++)
            if (!parse_val(json_array_get(args, i), &argv[i])) {
                snprintf(err->message, sizeof err->message, "bad argument %zu", i);
                return err->kind = PERCH_E_USAGE;
            }
        *nres = ft.nresults;
        return perch_func_call(c->store, ex.of.func, argv, nargs, res, ft.nresults, err);
    }
}

/* ---- commands ------------------------------------------------------------ */

static void expect_module_error(ctx *c, json_t *cmd, perch_err_kind want, bool instantiate_too)
{
    const char *filename = json_string_value(json_object_get(cmd, "filename"));
    perch_module *m = NULL;
    perch_err err;
    perch_err_kind rc;
    perch_err_clear(&err);
    rc = load(c, filename, &m, &err);
    if (rc == PERCH_OK && instantiate_too) {
        perch_instance *inst;
        rc = instantiate(c, m, &inst, &err);
    }
    if (rc == want) {
        c->passed++;
        if (c->verbose)
            fprintf(stderr, "  ok %s: %s: %s (expected \"%s\")\n", filename,
                    perch_err_kind_name(rc), err.message,
                    json_string_value(json_object_get(cmd, "text")));
        return;
    }
    failf(c, cmd, "%s: expected %s (\"%s\"), got %s: %s", filename, perch_err_kind_name(want),
          json_string_value(json_object_get(cmd, "text")),
          rc ? perch_err_kind_name(rc) : "success", rc ? err.message : "");
}

static void run_command(ctx *c, json_t *cmd)
{
    const char *type = json_string_value(json_object_get(cmd, "type"));
    perch_err err;
    perch_val res[64];
    size_t nres;
    perch_err_kind rc;

    perch_err_clear(&err);
    if (!strcmp(type, "module")) {
        const char *filename = json_string_value(json_object_get(cmd, "filename"));
        const char *name = json_string_value(json_object_get(cmd, "name"));
        perch_module *m;
        perch_instance *inst = NULL;
        c->current = NULL;
        if ((rc = load(c, filename, &m, &err)) || (rc = instantiate(c, m, &inst, &err))) {
            failf(c, cmd, "module %s: %s: %s", filename, perch_err_kind_name(rc), err.message);
            return;
        }
        c->current = inst;
        if (name)
            add_named(&c->names, &c->nnames, name, inst);
        c->passed++;
    } else if (!strcmp(type, "register")) {
        const char *as = json_string_value(json_object_get(cmd, "as"));
        const char *name = json_string_value(json_object_get(cmd, "name"));
        perch_instance *inst = name ? find_named(c->names, c->nnames, name, strlen(name)) : c->current;
        if (!inst) {
            failf(c, cmd, "register: no instance");
            return;
        }
        add_named(&c->registered, &c->nregistered, as, inst);
        c->passed++;
    } else if (!strcmp(type, "action")) {
        if ((rc = act(c, json_object_get(cmd, "action"), res, &nres, &err)))
            failf(c, cmd, "action: %s: %s", perch_err_kind_name(rc), err.message);
        else
            c->passed++;
    } else if (!strcmp(type, "assert_return")) {
        json_t *expected = json_object_get(cmd, "expected");
        char why[256];
        if ((rc = act(c, json_object_get(cmd, "action"), res, &nres, &err))) {
            failf(c, cmd, "assert_return: %s: %s", perch_err_kind_name(rc), err.message);
            return;
        }
        if (nres != json_array_size(expected)) {
            failf(c, cmd, "assert_return: %zu results, expected %zu", nres, json_array_size(expected));
            return;
        }
        for (size_t i = 0; i < nres; i++) {
            if (!match(json_array_get(expected, i), &res[i], why, sizeof why)) {
                failf(c, cmd, "assert_return %s: result %zu: %s",
                      json_string_value(json_object_get(json_object_get(cmd, "action"), "field")),
                      i, why);
                return;
            }
        }
        c->passed++;
    } else if (!strcmp(type, "assert_trap") || !strcmp(type, "assert_exhaustion")) {
        perch_err_kind want = type[7] == 't' ? PERCH_E_WASM_TRAP : PERCH_E_WASM_EXHAUSTED;
        const char *text = json_string_value(json_object_get(cmd, "text"));
        rc = act(c, json_object_get(cmd, "action"), res, &nres, &err);
        if (rc != want) {
            failf(c, cmd, "%s: expected %s \"%s\", got %s: %s", type, perch_err_kind_name(want),
                  text, rc ? perch_err_kind_name(rc) : "success", err.message);
            return;
        }
        /* The message must be the specification's, word for word. */
        if (text && strncmp(err.message, text, strlen(text)) != 0) {
            failf(c, cmd, "%s: message \"%s\", expected \"%s\"", type, err.message, text);
            return;
        }
        c->passed++;
    } else if (!strcmp(type, "assert_invalid")) {
        expect_module_error(c, cmd, PERCH_E_WASM_INVALID, false);
    } else if (!strcmp(type, "assert_malformed")) {
        const char *mt = json_string_value(json_object_get(cmd, "module_type"));
        if (mt && strcmp(mt, "binary") != 0) {
            c->skipped++; /* text form: a test of the text parser */
            return;
        }
        expect_module_error(c, cmd, PERCH_E_WASM_MALFORMED, false);
    } else if (!strcmp(type, "assert_unlinkable")) {
        expect_module_error(c, cmd, PERCH_E_WASM_UNLINKABLE, true);
    } else if (!strcmp(type, "assert_uninstantiable")) {
        expect_module_error(c, cmd, PERCH_E_WASM_TRAP, true);
    } else {
        failf(c, cmd, "unknown command type %s", type);
    }
}

/* ---- files --------------------------------------------------------------- */

static int convert(const char *wast2json, const char *wast, const char *json)
{
    pid_t pid = fork();
    int status;
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execlp(wast2json, wast2json, wast, "-o", json, (char *)NULL);
        _exit(127);
    }
    if (waitpid(pid, &status, 0) < 0)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void run_file(ctx *c, const char *suite, const char *outdir, const char *wast2json,
                     const char *name, unsigned *tp, unsigned *tf, unsigned *ts)
{
    char wast[4096], json[4096], base[512];
    json_t *root, *cmds;
    json_error_t jerr;
    size_t n;
    perch_err err;

    snprintf(base, sizeof base, "%.*s", (int)(strlen(name) - 5), name);
    snprintf(wast, sizeof wast, "%s/%s", suite, name);
    snprintf(json, sizeof json, "%s/%s/%s.json", outdir, base, base);
    {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", outdir, base);
        mkdir(dir, 0755);
    }
    c->file = name;
    c->passed = c->failed = c->skipped = 0;
    if (convert(wast2json, wast, json) != 0) {
        printf("%-36s conversion with wast2json failed\n", name);
        (*tf)++;
        return;
    }
    if (!(root = json_load_file(json, JSON_ALLOW_NUL, &jerr))) {
        printf("%-36s cannot read %s: %s\n", name, json, jerr.text);
        (*tf)++;
        return;
    }
    cmds = json_object_get(root, "commands");
    n = json_array_size(cmds);
    if (strncmp(name, "simd_", 5) == 0) {
        printf("%-36s %5zu skipped (SIMD is not supported yet)\n", name, n);
        *ts += (unsigned)n;
        json_decref(root);
        return;
    }
    {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", outdir, base);
        c->json_dir = dir;
        if (perch_store_new(&c->store, &err))
            abort();
        pw_store_set_dispatch(c->store, c->dispatch);
        make_spectest(c->store);
        c->current = NULL;
        for (size_t i = 0; i < n; i++)
            run_command(c, json_array_get(cmds, i));
        perch_store_delete(c->store);
        for (size_t i = 0; i < c->nmodules; i++)
            perch_module_delete(c->modules[i]);
        free(c->modules);
        c->modules = NULL;
        c->nmodules = 0;
        for (size_t i = 0; i < c->nnames; i++)
            free(c->names[i].name);
        for (size_t i = 0; i < c->nregistered; i++)
            free(c->registered[i].name);
        free(c->names);
        free(c->registered);
        c->names = c->registered = NULL;
        c->nnames = c->nregistered = 0;
    }
    json_decref(root);
    printf("%-36s %5u passed, %u failed, %u skipped\n", name, c->passed, c->failed, c->skipped);
    *tp += c->passed;
    *tf += c->failed;
    *ts += c->skipped;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    ctx c;
    int i = 1;
    const char *suite, *outdir, *wast2json;
    char **names = NULL;
    size_t nnames = 0;
    unsigned tp = 0, tf = 0, ts = 0;
    struct stat sb;

    memset(&c, 0, sizeof c);
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--dispatch") && i + 1 < argc) {
            i++;
            c.dispatch = !strcmp(argv[i], "switch") ? 1 : !strcmp(argv[i], "goto") ? 2 : 0;
        } else if (!strcmp(argv[i], "--verbose")) {
            c.verbose = true;
        } else {
            fprintf(stderr, "usage: spec_runner [--dispatch goto|switch] [--verbose] SUITE OUT WAST2JSON [FILE...]\n");
            return 2;
        }
    }
    if (argc - i < 3) {
        fprintf(stderr, "usage: spec_runner [--dispatch goto|switch] [--verbose] SUITE OUT WAST2JSON [FILE...]\n");
        return 2;
    }
    suite = argv[i];
    outdir = argv[i + 1];
    wast2json = argv[i + 2];
    if (stat(suite, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        printf("skipping: the specification testsuite is not at %s\n", suite);
        return 77;
    }
    mkdir(outdir, 0755);
    if (argc - i > 3) {
        for (int k = i + 3; k < argc; k++) {
            names = realloc(names, (nnames + 1) * sizeof *names);
            names[nnames++] = strdup(argv[k]);
        }
    } else {
        DIR *d = opendir(suite);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            size_t len = strlen(e->d_name);
            if (len > 5 && !strcmp(e->d_name + len - 5, ".wast")) {
                names = realloc(names, (nnames + 1) * sizeof *names);
                names[nnames++] = strdup(e->d_name);
            }
        }
        if (d)
            closedir(d);
        qsort(names, nnames, sizeof *names, cmp_str);
    }
    printf("dispatch: %s\n", c.dispatch == 1 ? "switch" : c.dispatch == 2 ? (pw_have_goto ? "goto" : "goto (unavailable: switch)") : "default");
    for (size_t k = 0; k < nnames; k++) {
        run_file(&c, suite, outdir, wast2json, names[k], &tp, &tf, &ts);
        free(names[k]);
    }
    free(names);
    printf("%u passed, %u failed, %u skipped\n", tp, tf, ts);
    return tf ? 1 : 0;
}
