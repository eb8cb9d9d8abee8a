/*
 * inspect.c: `perch wasm inspect`: what a module declares it needs, what it
 * imports, and where the two disagree. Reads the section layout and three
 * small sections only; function bodies are never decoded.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "manifest/diff.h"
#include "manifest/manifest.h"
#include "trust/trust.h"
#include "wasm/reader.h"

static const char help[] =
    "usage: perch wasm inspect MODULE [--format json]\n"
    "\n"
    "Show what a WebAssembly module declares it needs (its perch.manifest\n"
    "section), without running it and without reading its code:\n"
    "name, version, each declared capability (read, write, net, env, memory),\n"
    "signer, size, SHA-256 digest, the host functions it imports, and warnings\n"
    "where the imports and the declaration disagree (for example, it imports\n"
    "perch.http_get but declares no network access). Capabilities on the\n"
    "default HIGH RISK list are marked. A module without a manifest is\n"
    "reported as such: it can run only under explicit grants.\n"
    "\n"
    "The signer line names the signer of a perch.signature section; with\n"
    "--trust-keys it also says whether the signature verifies: valid over the\n"
    "module's bytes, by a signer in KEYRING with the same key (perch wasm verify\n"
    "prints the whole checklist).\n"
    "\n"
    "options:\n"
    "  --trust-keys KEYRING  check the signature against these signers\n"
    "  --format json    print one JSON object (schema in docs/inspect.md)\n"
    "  -h, --help       print this help\n"
    "\n"
    "exit status: 0 the module was read; 2 an error (usage, io, wasm_malformed,\n"
    "manifest_malformed), printed as 'kind: message (detail)'.\n";

/* WASI preview1 functions that name paths: a module using them touches files. */
static const char *const wasi_path_fns[] = {
    "path_create_directory", "path_filestat_get", "path_filestat_set_times",
    "path_link", "path_open", "path_readlink", "path_remove_directory",
    "path_rename", "path_symlink", "path_unlink_file",
};

/* The subset that can only modify the file system. */
static const char *const wasi_mutating_fns[] = {
    "path_create_directory", "path_filestat_set_times", "path_link",
    "path_remove_directory", "path_rename", "path_symlink", "path_unlink_file",
};

#define WASI_MODULE "wasi_snapshot_preview1"
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static bool bytes_eq(const uint8_t *s, uint32_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

static bool in_list(const pw_import *im, const char *const *list, size_t n)
{
    if (!bytes_eq(im->module, im->module_len, WASI_MODULE))
        return false;
    for (size_t i = 0; i < n; i++)
        if (bytes_eq(im->name, im->name_len, list[i]))
            return true;
    return false;
}

/* What inspect gathers before it renders, so text and JSON say the same. */
typedef struct report {
    const char *file;
    pb_buf bytes; /* the module; imports and exports point into it */
    size_t size;
    char sha256[2 * PT_SHA256_LEN + 1];
    bool has_manifest;
    pm_manifest m;
    bool has_signature;
    char signer[PT_SIGNER_MAX + 1]; /* "" when unsigned or unreadable */
    bool sig_checked;               /* --trust-keys was given */
    bool sig_valid;
    perch_err sig_err;              /* why not: unsigned, unreadable, invalid, untrusted */
    pw_import *imports;
    size_t nimports;
    pw_export *exports;
    size_t nexports;
    pw_limits *memories;
    size_t nmemories;
    pb_buf warnings; /* NUL-separated messages */
    size_t nwarnings;
    pb_buf notes;
    size_t nnotes;
} report;

static bool add_line(pb_buf *b, size_t *n, const char *fmt, ...) PB_PRINTF(3, 4);
static bool add_line(pb_buf *b, size_t *n, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    (*n)++;
    return pb_buf_append(b, line, strlen(line) + 1);
}

static void report_free(report *r)
{
    pm_manifest_free(&r->m);
    pb_buf_free(&r->bytes);
    pb_free(r->imports);
    pb_free(r->exports);
    pb_free(r->memories);
    pb_buf_free(&r->warnings);
    pb_buf_free(&r->notes);
}

/* Where the imports and the declaration disagree. */
static bool compare(report *r)
{
    const char *http_fn = NULL, *path_fn = NULL, *mut_fn = NULL;
    bool env_fn = false;
    const char *foreign = NULL;
    bool ok = true;
    static char first_foreign[160];

    for (size_t i = 0; i < r->nimports; i++) {
        const pw_import *im = &r->imports[i];
        if (im->kind != PW_EXTERN_FUNC)
            continue;
        if (bytes_eq(im->module, im->module_len, "perch") && im->name_len > 5 &&
            memcmp(im->name, "http_", 5) == 0) {
            if (!http_fn || bytes_eq(im->name, im->name_len, "http_get"))
                http_fn = bytes_eq(im->name, im->name_len, "http_get") ? "perch.http_get"
                                                                        : "perch.http_*";
        } else if (in_list(im, wasi_path_fns, COUNT(wasi_path_fns))) {
            if (!path_fn)
                path_fn = "WASI path functions";
            if (!mut_fn && in_list(im, wasi_mutating_fns, COUNT(wasi_mutating_fns)))
                mut_fn = "WASI functions that modify files";
        } else if (bytes_eq(im->module, im->module_len, WASI_MODULE) &&
                   (bytes_eq(im->name, im->name_len, "environ_get") ||
                    bytes_eq(im->name, im->name_len, "environ_sizes_get"))) {
            env_fn = true;
        } else if (!bytes_eq(im->module, im->module_len, WASI_MODULE) &&
                   !bytes_eq(im->module, im->module_len, "perch") && !foreign) {
            snprintf(first_foreign, sizeof first_foreign, "%.*s.%.*s",
                     (int)(im->module_len > 60 ? 60 : im->module_len), (const char *)im->module,
                     (int)(im->name_len > 60 ? 60 : im->name_len), (const char *)im->name);
            foreign = first_foreign;
        }
    }

    if (foreign)
        ok &= add_line(&r->notes, &r->nnotes,
                       "imports %s from a host module perch does not provide "
                       "(only %s and perch): it will not link under perch",
                       foreign, WASI_MODULE);
    if (!r->has_manifest) {
        if (http_fn || path_fn || env_fn)
            ok &= add_line(&r->notes, &r->nnotes,
                           "imports %s%s%s%s%s but declares nothing: every such access "
                           "needs an explicit grant",
                           http_fn ? http_fn : "", http_fn && (path_fn || env_fn) ? ", " : "",
                           path_fn ? path_fn : "", path_fn && env_fn ? ", " : "",
                           env_fn ? "environ_get" : "");
        return ok;
    }
    if (http_fn && r->m.needs_net.count == 0)
        ok &= add_line(&r->warnings, &r->nwarnings,
                       "imports %s but declares no network access (needs_net is empty): "
                       "under its manifest every request will be refused", http_fn);
    if (path_fn && r->m.needs_read.count == 0 && r->m.needs_write.count == 0)
        ok &= add_line(&r->warnings, &r->nwarnings,
                       "imports %s but declares no paths (needs_read and needs_write "
                       "are empty): under its manifest every file access will be refused",
                       path_fn);
    else if (mut_fn && r->m.needs_write.count == 0)
        ok &= add_line(&r->warnings, &r->nwarnings,
                       "imports %s but declares no write paths: under its manifest "
                       "every change to files will be refused", mut_fn);
    if (env_fn && r->m.needs_env.count == 0)
        ok &= add_line(&r->notes, &r->nnotes,
                       "imports environ_get but declares no environment variables: "
                       "it will see an empty environment");
    if (!http_fn && r->m.needs_net.count > 0)
        ok &= add_line(&r->notes, &r->nnotes,
                       "declares network access but imports no perch.http_* function: "
                       "the declaration is wider than the code can use");
    if (!path_fn && (r->m.needs_read.count > 0 || r->m.needs_write.count > 0))
        ok &= add_line(&r->notes, &r->nnotes,
                       "declares paths but imports no WASI path function: "
                       "the declaration is wider than the code can use");
    if (r->m.has_memory_max) {
        for (size_t i = 0; i < r->nmemories; i++) {
            uint64_t min_bytes = r->memories[i].min * 65536u;
            if (min_bytes > r->m.memory_max)
                ok &= add_line(&r->warnings, &r->nwarnings,
                               "the module's initial memory (%llu bytes) exceeds its declared "
                               "memory_max (%llu bytes): it cannot start under its own manifest",
                               (unsigned long long)min_bytes,
                               (unsigned long long)r->m.memory_max);
        }
    }
    return ok;
}

/* The signer named by the section and, given a keyring, whether it verifies. */
static perch_err_kind gather_signature(report *r, const pw_layout *layout,
                                       const char *keyring, perch_err *err)
{
    const uint8_t *b = r->bytes.data;
    const pw_section *s;
    pt_signature sig;
    pt_keyring ring = {0};
    pt_posture p = pt_posture_default(NULL);
    pt_verdict v;
    perch_err_kind rc;

    size_t n = pw_layout_custom(layout, b, PT_SIGNATURE_SECTION, &s);

    perch_err_clear(&r->sig_err);
    if (n > 1)
        pb_fail(&r->sig_err, PERCH_E_MANIFEST_SIGNATURE_INVALID,
                "%zu perch.signature sections; a signed module has exactly one", n);
    if (n == 1) {
        rc = pt_signature_parse(b + s->content, pw_section_end(s) - s->content, &sig,
                                &r->sig_err);
        if (rc == PERCH_E_IO)
            return pb_fail(err, rc, "%s", r->sig_err.message);
        if (rc == PERCH_OK)
            memcpy(r->signer, sig.signer, sizeof r->signer);
    }
    if (!keyring)
        return PERCH_OK;
    rc = pt_keyring_read(keyring, &ring, err);
    if (rc != PERCH_OK)
        return rc;
    r->sig_checked = true;
    p.trust = &ring;
    p.unsigned_mode = PT_UNSIGNED_DENY; /* an unsigned module does not verify */
    perch_err_clear(&r->sig_err);
    rc = pt_check_module(b, r->bytes.len, layout, &p, &v, &r->sig_err);
    pt_keyring_free(&ring);
    if (rc == PERCH_E_IO)
        return pb_fail(err, rc, "%s", r->sig_err.message);
    r->sig_valid = rc == PERCH_OK && v.trusted;
    if (rc == PERCH_E_MANIFEST_UNSIGNED)
        pb_fail(&r->sig_err, rc, "the module has no perch.signature section");
    return PERCH_OK;
}

static perch_err_kind gather(const char *file, const char *keyring, report *r, perch_err *err)
{
    pw_layout layout = {0};
    uint8_t digest[PT_SHA256_LEN];
    perch_err_kind rc;
    const uint8_t *b;

    memset(r, 0, sizeof *r);
    r->file = file;
    pm_manifest_init(&r->m);
    PB_TRY(pb_file_read(file, &r->bytes, err));
    b = r->bytes.data;
    r->size = r->bytes.len;
    PB_TRY(pt_sha256(b, r->bytes.len, digest, err));
    pt_hex(digest, sizeof digest, r->sha256);
    PB_TRY(pw_layout_read(b, r->bytes.len, &layout, err));
    PB_TRY(pw_imports_read(b, &layout, &r->imports, &r->nimports, err));
    PB_TRY(pw_exports_read(b, &layout, &r->exports, &r->nexports, err));
    PB_TRY(pw_memories_read(b, &layout, &r->memories, &r->nmemories, err));
    PB_TRY(pm_module_manifest(b, &layout, &r->m, &r->has_manifest, err));
    r->has_signature = pw_layout_custom(&layout, b, PT_SIGNATURE_SECTION, NULL) > 0;
    if ((rc = gather_signature(r, &layout, keyring, err)) != PERCH_OK) {
        pw_layout_free(&layout);
        return rc;
    }
    if (!compare(r)) {
        rc = pb_fail(err, PERCH_E_IO, "out of memory");
        goto fail;
    }
    pw_layout_free(&layout);
    return PERCH_OK;
fail:
    pb_prefix(err, "%s", file);
    pw_layout_free(&layout);
    return rc;
}

/* "256 MiB" for whole binary units, else "1.5 MiB (1572864 bytes)". */
static void human_bytes(uint64_t n, char *out, size_t cap)
{
    static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    unsigned u = 0;
    uint64_t v = n;
    while (v >= 1024 && v % 1024 == 0 && u < 4)
        v /= 1024, u++;
    if (u > 0 || n < 1024) {
        snprintf(out, cap, "%llu %s", (unsigned long long)v, units[u]);
        return;
    }
    double d = (double)n;
    u = 0;
    while (d >= 1024 && u < 4)
        d /= 1024, u++;
    snprintf(out, cap, "%.1f %s (%llu bytes)", d, units[u], (unsigned long long)n);
}

static const pm_list *cap_list(const pm_manifest *m, pm_cap cap)
{
    switch (cap) {
    case PM_CAP_READ: return &m->needs_read;
    case PM_CAP_WRITE: return &m->needs_write;
    case PM_CAP_NET: return &m->needs_net;
    case PM_CAP_ENV: break;
    case PM_CAP__COUNT: break;
    }
    return &m->needs_env;
}

static void put_bytes(FILE *out, const uint8_t *s, uint32_t n)
{
    cli_put_safe(out, (const char *)s, n);
}

static void render_text(const report *r)
{
    bool color = cli_color(stdout);
    const char *bold = cli_sgr(color, CLI_BOLD), *red = cli_sgr(color, CLI_RED);
    const char *yellow = cli_sgr(color, CLI_YELLOW), *dim = cli_sgr(color, CLI_DIM);
    const char *reset = cli_reset(color);
    char size[64];

    printf("%smodule:%s ", bold, reset);
    cli_put_safe(stdout, r->file, strlen(r->file));
    printf("\n");
    if (r->has_manifest) {
        printf("name: ");
        cli_put_safe(stdout, r->m.name, strlen(r->m.name));
        printf("\nversion: ");
        cli_put_safe(stdout, r->m.version, strlen(r->m.version));
        printf("\n%sdeclared capabilities:%s\n", bold, reset);
        size_t shown = 0;
        for (int c = 0; c < PM_CAP__COUNT; c++) {
            const pm_list *l = cap_list(&r->m, (pm_cap)c);
            for (size_t i = 0; i < l->count; i++) {
                const char *why = NULL;
                bool risk = pm_risk_match(pm_risk_default(), (pm_cap)c, l->items[i], &why);
                printf("  %-7s ", pm_cap_name((pm_cap)c));
                cli_put_safe(stdout, l->items[i], strlen(l->items[i]));
                if (risk)
                    printf("  %sHIGH RISK%s (matches %s)", red, reset, why);
                printf("\n");
                shown++;
            }
        }
        if (r->m.has_memory_max) {
            human_bytes(r->m.memory_max, size, sizeof size);
            printf("  %-7s %s\n", "memory", size);
            shown++;
        }
        if (shown == 0)
            printf("  (none: the module declares no files, network, environment or memory limit)\n");
        if (!r->m.has_memory_max)
            printf("  %smemory: no memory_max declared (the host's limit applies)%s\n", dim, reset);
    } else {
        printf("%smanifest: none%s: this module declares nothing. It cannot run with\n"
               "  --accept-manifest (manifest_missing); only explicit grants can give it access.\n",
               yellow, reset);
    }
    for (size_t i = 0; i < r->nmemories; i++) {
        if (r->memories[i].has_max)
            printf("linear memory: %llu pages initial, %llu pages maximum (64 KiB pages)\n",
                   (unsigned long long)r->memories[i].min, (unsigned long long)r->memories[i].max);
        else
            printf("linear memory: %llu pages initial, no maximum (64 KiB pages)\n",
                   (unsigned long long)r->memories[i].min);
    }
    printf("signer: %s", r->signer[0] ? r->signer
                         : r->has_signature ? "(unreadable perch.signature section)"
                                            : "(none)");
    if (r->sig_checked && r->sig_valid)
        printf(" (verified: the signature is valid and %s is trusted with this key)", r->signer);
    else if (r->sig_checked || (r->has_signature && r->sig_err.kind != PERCH_OK)) {
        printf(" %s(NOT VERIFIED: %s: ", red, perch_err_kind_name(r->sig_err.kind));
        cli_put_safe(stdout, r->sig_err.message, strlen(r->sig_err.message));
        printf(")%s", reset);
    } else if (r->has_signature)
        printf(" (not verified: --trust-keys KEYRING checks it)");
    printf("\n");
    human_bytes(r->size, size, sizeof size);
    printf("size: %s\n", size);
    printf("sha256: %s\n", r->sha256);

    printf("%simports:%s", bold, reset);
    if (r->nimports == 0)
        printf(" (none)");
    printf("\n");
    for (size_t i = 0; i < r->nimports;) {
        /* group consecutive imports of one host module on one line */
        size_t j = i;
        printf("  ");
        put_bytes(stdout, r->imports[i].module, r->imports[i].module_len);
        printf(": ");
        while (j < r->nimports && r->imports[j].module_len == r->imports[i].module_len &&
               memcmp(r->imports[j].module, r->imports[i].module, r->imports[i].module_len) == 0) {
            if (j > i)
                printf(", ");
            put_bytes(stdout, r->imports[j].name, r->imports[j].name_len);
            if (r->imports[j].kind != PW_EXTERN_FUNC)
                printf(" (%s)", pw_extern_kind_name(r->imports[j].kind));
            j++;
        }
        printf("\n");
        i = j;
    }
    printf("%sexports:%s", bold, reset);
    if (r->nexports == 0)
        printf(" (none)");
    for (size_t i = 0; i < r->nexports; i++) {
        printf("%s ", i ? "," : "");
        put_bytes(stdout, r->exports[i].name, r->exports[i].name_len);
        printf(" (%s)", pw_extern_kind_name(r->exports[i].kind));
    }
    printf("\n");

    const char *p = (const char *)r->warnings.data;
    for (size_t i = 0; i < r->nwarnings; i++, p += strlen(p) + 1)
        printf("%swarning:%s %s\n", yellow, reset, p);
    p = (const char *)r->notes.data;
    for (size_t i = 0; i < r->nnotes; i++, p += strlen(p) + 1)
        printf("note: %s\n", p);
}

static json_t *json_bytes(const uint8_t *s, uint32_t n)
{
    return json_stringn((const char *)s, n);
}

static json_t *json_lines(const pb_buf *b, size_t n)
{
    json_t *a = json_array();
    const char *p = (const char *)b->data;
    for (size_t i = 0; i < n; i++, p += strlen(p) + 1)
        json_array_append_new(a, json_string(p));
    return a;
}

static int render_json(const report *r)
{
    json_t *o = json_object(), *caps = json_array(), *imports = json_array();
    json_t *exports = json_array(), *mems = json_array();
    char *text;

    json_object_set_new(o, "schema", json_integer(1));
    json_object_set_new(o, "file", json_string(r->file));
    json_object_set_new(o, "size", json_integer((json_int_t)r->size));
    json_object_set_new(o, "sha256", json_string(r->sha256));
    json_object_set_new(o, "manifest", json_boolean(r->has_manifest));
    if (r->has_manifest) {
        json_object_set_new(o, "name", json_string(r->m.name));
        json_object_set_new(o, "version", json_string(r->m.version));
        for (int c = 0; c < PM_CAP__COUNT; c++) {
            const pm_list *l = cap_list(&r->m, (pm_cap)c);
            for (size_t i = 0; i < l->count; i++) {
                const char *why = NULL;
                bool risk = pm_risk_match(pm_risk_default(), (pm_cap)c, l->items[i], &why);
                json_t *e = json_pack("{s:s, s:s, s:b}", "cap", pm_cap_name((pm_cap)c),
                                      "value", l->items[i], "high_risk", risk);
                json_object_set_new(e, "risk_rule", risk ? json_string(why) : json_null());
                json_array_append_new(caps, e);
            }
        }
        json_object_set_new(o, "memory_max", r->m.has_memory_max
                                                 ? json_integer((json_int_t)r->m.memory_max)
                                                 : json_null());
    } else {
        json_object_set_new(o, "name", json_null());
        json_object_set_new(o, "version", json_null());
        json_object_set_new(o, "memory_max", json_null());
    }
    json_object_set_new(o, "capabilities", caps);
    json_object_set_new(o, "signer", r->signer[0] ? json_string(r->signer) : json_null());
    json_object_set_new(o, "signature_present", json_boolean(r->has_signature));
    json_object_set_new(o, "signature_valid", r->sig_checked ? json_boolean(r->sig_valid)
                                                             : json_null());
    if (r->sig_err.kind != PERCH_OK && (r->sig_checked || r->has_signature))
        json_object_set_new(o, "signature_error",
                            json_pack("{s:s, s:s}", "kind", perch_err_kind_name(r->sig_err.kind),
                                      "message", r->sig_err.message));
    else
        json_object_set_new(o, "signature_error", json_null());
    for (size_t i = 0; i < r->nmemories; i++) {
        json_t *m = json_pack("{s:I}", "min_pages", (json_int_t)r->memories[i].min);
        json_object_set_new(m, "max_pages", r->memories[i].has_max
                                                ? json_integer((json_int_t)r->memories[i].max)
                                                : json_null());
        json_array_append_new(mems, m);
    }
    json_object_set_new(o, "memories", mems);
    for (size_t i = 0; i < r->nimports; i++) {
        json_t *e = json_object();
        json_object_set_new(e, "module", json_bytes(r->imports[i].module, r->imports[i].module_len));
        json_object_set_new(e, "name", json_bytes(r->imports[i].name, r->imports[i].name_len));
        json_object_set_new(e, "kind", json_string(pw_extern_kind_name(r->imports[i].kind)));
        json_array_append_new(imports, e);
    }
    json_object_set_new(o, "imports", imports);
    for (size_t i = 0; i < r->nexports; i++) {
        json_t *e = json_object();
        json_object_set_new(e, "name", json_bytes(r->exports[i].name, r->exports[i].name_len));
        json_object_set_new(e, "kind", json_string(pw_extern_kind_name(r->exports[i].kind)));
        json_array_append_new(exports, e);
    }
    json_object_set_new(o, "exports", exports);
    json_object_set_new(o, "warnings", json_lines(&r->warnings, r->nwarnings));
    json_object_set_new(o, "notes", json_lines(&r->notes, r->nnotes));
    text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!text) {
        fprintf(stderr, "io: out of memory rendering JSON\n");
        return CLI_ERROR;
    }
    printf("%s\n", text);
    free(text);
    return CLI_OK;
}

int cmd_wasm_inspect(int argc, char **argv)
{
    static const char *const formats[] = {"json", "text"};
    const char *format = NULL, *keyring = NULL;
    const cli_opt opts[] = {{"format", 0, true, &format, NULL},
                            {"trust-keys", 0, true, &keyring, NULL}};
    cli_args a;
    report r;
    perch_err err;
    int code;
    bool json;

    perch_err_clear(&err);
    if (!cli_parse("wasm inspect", argc, argv, opts, 2, &a, false)) {
        pb_free(a.pos);
        return CLI_ERROR;
    }
    if (a.help) {
        pb_free(a.pos);
        fputs(help, stdout);
        return CLI_OK;
    }
    if (!cli_format("wasm inspect", format, formats, 2)) {
        pb_free(a.pos);
        return CLI_ERROR;
    }
    json = format && strcmp(format, "json") == 0;
    if (a.npos != 1) {
        pb_free(a.pos);
        return cli_usage("wasm inspect", "expected one MODULE, got %d arguments", a.npos);
    }
    if (gather(a.pos[0], keyring, &r, &err) != PERCH_OK) {
        report_free(&r);
        pb_free(a.pos);
        return cli_fail(&err, json);
    }
    code = json ? render_json(&r) : (render_text(&r), CLI_OK);
    report_free(&r);
    pb_free(a.pos);
    return code;
}
