/*
 * diff.c: `perch wasm diff OLD NEW`: what the second module asks for that
 * the first did not, for a person reading a terminal or a CI log, or as
 * JSON for a tool (schema in docs/diff.md).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "manifest/diff.h"
#include "trust/trust.h"

#define CMD "wasm diff"

static const char help_text[] =
    "usage: perch wasm diff OLD NEW [--fail-on-elevated] [--format text|json]\n"
    "\n"
    "Compare what two modules declare they need (their perch.manifest sections)\n"
    "and give a verdict: did NEW gain a capability OLD did not have?\n"
    "\n"
    "For each capability (needs_read, needs_write, needs_net, needs_env) every\n"
    "entry is listed as unchanged, NEW, narrowed or removed; name, version and\n"
    "memory_max changes are shown too. Entries are compared by what they grant:\n"
    "  - a path grants everything beneath it, and write implies read;\n"
    "  - *.example.com:443 grants every subdomain of example.com on port 443,\n"
    "    and * grants every host and port;\n"
    "  - NEW: granted by NEW and by no entry of OLD (an elevation), with a note\n"
    "    when it widens an old entry (\"broadens api.example.com:443\") or turns\n"
    "    a read into a write (\"was read-only\");\n"
    "  - narrowed: only in NEW, but within an entry of OLD (not an elevation);\n"
    "  - removed: only in OLD (\"still granted by ...\" when a broader NEW entry\n"
    "    keeps granting it);\n"
    "  - memory: a higher memory_max, or none at all (no limit), is an elevation.\n"
    "\n"
    "HIGH RISK marks: env names matching *SECRET*, *TOKEN*, *PASSWORD* or *_KEY\n"
    "(any case), net *, write /. Each mark shows the rule that matched.\n"
    "\n"
    "Verdict:\n"
    "  ELEVATED   NEW asks for something OLD did not (or NEW has no manifest:\n"
    "             what it needs is no longer declared)\n"
    "  REDUCED    nothing new, and something OLD had is no longer granted\n"
    "  UNCHANGED  the same grant (also when neither module has a manifest)\n"
    "A module gaining a manifest is compared as if OLD declared nothing.\n"
    "\n"
    "options:\n"
    "  --fail-on-elevated  exit 1 when the verdict is ELEVATED (for CI)\n"
    "  --format FORMAT     text (default) or json (schema: docs/diff.md)\n"
    "  -h, --help          print this help and exit\n"
    "\n"
    "exit codes:\n"
    "  0  the comparison was made (any verdict without --fail-on-elevated)\n"
    "  1  --fail-on-elevated and the verdict is ELEVATED\n"
    "  2  an error: usage, io (a file cannot be read), wasm_malformed (not a\n"
    "     WebAssembly module), manifest_malformed (a bad perch.manifest); the\n"
    "     message says whether OLD or NEW is at fault\n"
    "\n"
    "Colour is used on a terminal only, never when NO_COLOR is set.\n"
    "\n"
    "example, in CI:\n"
    "  perch wasm diff deployed.wasm candidate.wasm --fail-on-elevated\n";

typedef enum sig_state { SIG_NONE, SIG_VALID, SIG_INVALID } sig_state;
static const char *const sig_state_names[] = {"none", "valid", "invalid"};

/* One side of the comparison, read from its file. */
typedef struct module {
    const char *which; /* "OLD" or "NEW" */
    const char *path;
    pb_buf bytes;
    char sha256[2 * PT_SHA256_LEN + 1];
    pm_manifest m;
    bool present;
    /* its perch.signature, checked against its own bytes (no keyring: that is verify's job) */
    sig_state sig;
    char signer[PT_SIGNER_MAX + 1]; /* "" when none or unreadable */
    char sig_why[512];              /* SIG_INVALID: why */
} module;

static perch_err_kind signature_read(module *mod, const pw_layout *layout, perch_err *err)
{
    pt_posture p = pt_posture_default(NULL);
    pt_verdict v;
    perch_err serr;
    perch_err_kind rc;

    /* Unsigned: nothing to check, and no second pass over the bytes. */
    if (pw_layout_custom(layout, mod->bytes.data, PT_SIGNATURE_SECTION, NULL) == 0) {
        mod->sig = SIG_NONE;
        mod->signer[0] = '\0';
        return PERCH_OK;
    }
    perch_err_clear(&serr);
    rc = pt_check_module(mod->bytes.data, mod->bytes.len, layout, &p, &v, &serr);
    if (rc == PERCH_E_IO) {
        *err = serr;
        return rc;
    }
    memcpy(mod->signer, v.signer, sizeof mod->signer);
    mod->sig = !v.signed_ ? SIG_NONE : rc == PERCH_OK && v.verified ? SIG_VALID : SIG_INVALID;
    if (mod->sig == SIG_INVALID)
        snprintf(mod->sig_why, sizeof mod->sig_why, "%s", serr.message);
    return PERCH_OK;
}

static perch_err_kind module_read(module *mod, perch_err *err)
{
    pw_layout layout = {0};
    uint8_t digest[PT_SHA256_LEN];
    perch_err_kind rc;

    pm_manifest_init(&mod->m);
    rc = pb_file_read(mod->path, &mod->bytes, err);
    if (rc != PERCH_OK) {
        pb_prefix(err, "%s module", mod->which);
        return rc;
    }
    rc = pt_sha256(mod->bytes.data, mod->bytes.len, digest, err);
    if (rc == PERCH_OK) {
        pt_hex(digest, sizeof digest, mod->sha256);
        rc = pw_layout_read(mod->bytes.data, mod->bytes.len, &layout, err);
    }
    if (rc == PERCH_OK)
        rc = pm_module_manifest(mod->bytes.data, &layout, &mod->m, &mod->present, err);
    if (rc == PERCH_OK)
        rc = signature_read(mod, &layout, err);
    pw_layout_free(&layout);
    if (rc != PERCH_OK)
        pb_prefix(err, "%s module %s", mod->which, mod->path);
    return rc;
}

static void module_free(module *mod)
{
    pm_manifest_free(&mod->m);
    pb_buf_free(&mod->bytes);
}

/* ---- text --------------------------------------------------------------- */

#define RULE_WIDTH 64
#define WRAP_WIDTH 78
#define MAX_PAD 40 /* values wider than this are not aligned with the rest */

/* How wide s prints through cli_put_safe (escapes take 4 columns; UTF-8 counts once). */
static size_t safe_width(const char *s)
{
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            w += 4;
        else if ((*p & 0xc0) != 0x80)
            w++;
    }
    return w;
}

static void put_safe(FILE *out, const char *s) { cli_put_safe(out, s, strlen(s)); }

static void put_rule(FILE *out, bool color)
{
    fputs(cli_sgr(color, CLI_DIM), out);
    for (int i = 0; i < RULE_WIDTH; i++)
        fputs("\u2501", out);
    fprintf(out, "%s\n", cli_reset(color));
}

/* "256 MiB", "1.5 KiB" is never written: units only when they divide exactly. */
static void put_bytes(FILE *out, bool has, uint64_t v)
{
    static const char *const units[] = {"bytes", "KiB", "MiB", "GiB"};
    int u = 0;
    if (!has) {
        fputs("no limit", out);
        return;
    }
    while (u < 3 && v >= 1024 && v % 1024 == 0)
        v /= 1024, u++;
    fprintf(out, "%llu %s", (unsigned long long)v, v == 1 && u == 0 ? "byte" : units[u]);
}

/* "name      a → b" or "name      a (unchanged)"; NULL prints as "(no manifest)". */
static void put_pair(FILE *out, bool color, const char *label, const char *a, const char *b,
                     const char *changed_word)
{
    fprintf(out, "%-9s ", label);
    if (a && b && strcmp(a, b) == 0) {
        put_safe(out, a);
        fprintf(out, " %s(unchanged)%s\n", cli_sgr(color, CLI_DIM), cli_reset(color));
        return;
    }
    if (a)
        put_safe(out, a);
    else
        fputs("(no manifest)", out);
    fputs(" \u2192 ", out);
    if (b)
        put_safe(out, b);
    else
        fputs("(no manifest)", out);
    if (a && b && changed_word)
        fprintf(out, " %s(%s)%s", cli_sgr(color, CLI_YELLOW), changed_word, cli_reset(color));
    fputc('\n', out);
}

static void put_memory(FILE *out, bool color, const pm_diff *d)
{
    fprintf(out, "%-9s ", "memory");
    if (d->memory_change == PM_UNCHANGED) {
        put_bytes(out, d->new_has_memory, d->new_memory);
        fprintf(out, " %s(unchanged)%s\n", cli_sgr(color, CLI_DIM), cli_reset(color));
        return;
    }
    put_bytes(out, d->old_has_memory, d->old_memory);
    fputs(" \u2192 ", out);
    put_bytes(out, d->new_has_memory, d->new_memory);
    if (d->memory_change == PM_NEW)
        fprintf(out, "  %sRAISED%s\n", cli_sgr(color, CLI_YELLOW), cli_reset(color));
    else
        fprintf(out, "  %slowered%s\n", cli_sgr(color, CLI_GREEN), cli_reset(color));
}

/* "LABEL     text" with text folded at spaces to fit WRAP_WIDTH, later lines indented. */
static void put_wrapped(FILE *out, const char *label, const char *text)
{
    size_t col = 10;
    fprintf(out, "%-9s ", label);
    while (*text) {
        const char *sp = strchr(text, ' ');
        size_t n = sp ? (size_t)(sp - text) : strlen(text);
        if (col > 10 && col + 1 + n > WRAP_WIDTH) {
            fprintf(out, "\n%-9s ", "");
            col = 10;
        } else if (col > 10) {
            fputc(' ', out);
            col++;
        }
        cli_put_safe(out, text, n);
        col += n;
        text += n;
        while (*text == ' ')
            text++;
    }
    fputc('\n', out);
}

static const char *const list_names[PM_CAP__COUNT] = {
    [PM_CAP_READ] = "needs_read", [PM_CAP_WRITE] = "needs_write",
    [PM_CAP_NET] = "needs_net", [PM_CAP_ENV] = "needs_env",
};

/* The rule as DESIGN.md words the default list: "env name matches *_KEY", "net *", "write to /". */
static const char *risk_wording(pm_cap cap)
{
    switch (cap) {
    case PM_CAP_ENV: return "env name matches";
    case PM_CAP_WRITE: return "write to";
    case PM_CAP_NET:
    case PM_CAP_READ:
    case PM_CAP__COUNT: break;
    }
    return pm_cap_name(cap);
}

static void put_entry(FILE *out, bool color, const pm_diff_entry *e, size_t pad)
{
    size_t w = safe_width(e->value);
    cli_style style = e->change == PM_NEW ? CLI_YELLOW
                    : e->change == PM_REMOVED ? CLI_GREEN
                    : e->change == PM_UNCHANGED ? CLI_DIM
                                                : CLI_PLAIN;
    char mark = e->change == PM_UNCHANGED ? ' ' : e->change == PM_REMOVED ? '-' : '+';
    fprintf(out, "  %s%c ", cli_sgr(color, style), mark);
    put_safe(out, e->value);
    fputs(cli_reset(color), out);
    if (e->change == PM_UNCHANGED && !e->high_risk) {
        fputc('\n', out);
        return;
    }
    fprintf(out, "%*s", (int)(w < pad ? pad - w + 2 : 2), "");
    switch (e->change) {
    case PM_NEW: fprintf(out, "%sNEW%s", cli_sgr(color, CLI_YELLOW), cli_reset(color)); break;
    case PM_NARROWED: fputs("narrowed", out); break;
    case PM_REMOVED: fprintf(out, "%sremoved%s", cli_sgr(color, CLI_GREEN), cli_reset(color)); break;
    case PM_UNCHANGED: break;
    }
    if (e->note) {
        fputs(e->change == PM_UNCHANGED ? "(" : " (", out);
        put_safe(out, e->note);
        fputc(')', out);
    }
    if (e->high_risk) {
        fprintf(out, "%s%sHIGH RISK%s (%s ", e->change == PM_UNCHANGED ? "" : "  ",
                cli_sgr(color, CLI_RED), cli_reset(color), risk_wording(e->cap));
        put_safe(out, e->risk_rule);
        fputc(')', out);
    }
    fputc('\n', out);
}

/* Within a capability: unchanged first, then new, narrowed, removed; each by value. */
static void put_capabilities(FILE *out, bool color, const pm_diff *d)
{
    static const pm_change order[] = {PM_UNCHANGED, PM_NEW, PM_NARROWED, PM_REMOVED};
    size_t pad = 0;
    for (size_t i = 0; i < d->count; i++) {
        size_t w = safe_width(d->entries[i].value);
        if (w <= MAX_PAD && w > pad)
            pad = w;
    }
    for (int c = 0; c < PM_CAP__COUNT; c++) {
        bool any = false;
        fprintf(out, "\n%s%s%s\n", cli_sgr(color, CLI_BOLD), list_names[c], cli_reset(color));
        for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
            for (size_t i = 0; i < d->count; i++) {
                const pm_diff_entry *e = &d->entries[i];
                if ((int)e->cap == c && e->change == order[k]) {
                    put_entry(out, color, e, pad);
                    any = true;
                }
            }
        }
        if (!any)
            fprintf(out, "    %s(none)%s\n", cli_sgr(color, CLI_DIM), cli_reset(color));
    }
}

static const char *plural(size_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

static void put_verdict(FILE *out, bool color, const pm_diff *d)
{
    cli_style style = d->verdict == PM_VERDICT_ELEVATED ? CLI_RED : CLI_GREEN;
    const char *sep = ": ", *advice;
    if (d->new_present)
        fprintf(out, "%-9s %zu new, %zu narrowed, %zu removed, %zu unchanged\n", "summary",
                d->n_new, d->n_narrowed, d->n_removed, d->n_unchanged);
    fprintf(out, "%sVERDICT%s   %s%s%s", cli_sgr(color, CLI_BOLD), cli_reset(color),
            cli_sgr(color, style), pm_verdict_name(d->verdict), cli_reset(color));
    advice = d->verdict == PM_VERDICT_ELEVATED ? "review required before deployment"
                                               : "nothing new to review";
    if (!d->new_present) {
        fputs(d->old_present ? ": NEW no longer declares what it needs"
                             : ": neither module declares anything", out);
    } else if (d->verdict == PM_VERDICT_ELEVATED) {
        if (d->n_new) {
            fprintf(out, "%s%zu new capability %s", sep, d->n_new,
                    plural(d->n_new, "request", "requests"));
            sep = ", ";
        }
        if (d->memory_change == PM_NEW) {
            fprintf(out, "%smemory limit raised", sep);
            sep = ", ";
        }
        if (d->n_high_risk)
            fprintf(out, "%s%s%zu marked HIGH RISK%s", sep, cli_sgr(color, CLI_RED),
                    d->n_high_risk, cli_reset(color));
    } else if (d->verdict == PM_VERDICT_REDUCED) {
        if (d->n_lost) {
            fprintf(out, "%s%zu %s no longer granted", sep, d->n_lost,
                    plural(d->n_lost, "capability", "capabilities"));
            sep = ", ";
        }
        if (d->memory_change == PM_NARROWED)
            fprintf(out, "%smemory limit lowered", sep);
        fputs(", nothing new", out);
    } else {
        fputs(": no capability gained or lost", out);
    }
    fprintf(out, "\n%-9s %s\n", "", advice);
}

static bool caps_changed(const pm_diff *d)
{
    return d->n_new || d->n_removed || d->n_narrowed || d->memory_change != PM_UNCHANGED ||
           d->old_present != d->new_present;
}

/* "alice", "alice (invalid)", "(invalid)", "(none)" */
static void put_signer(FILE *out, const module *m)
{
    if (m->signer[0])
        fputs(m->signer, out);
    if (m->sig == SIG_INVALID)
        fputs(m->signer[0] ? " (invalid)" : "(invalid)", out);
    else if (m->sig == SIG_NONE)
        fputs("(none)", out);
}

/* Signed pairs only: an unsigned pair has nothing to say here. */
static void put_signature(FILE *out, bool color, const module *o, const module *n,
                          const pm_diff *d)
{
    const char *yellow = cli_sgr(color, CLI_YELLOW), *red = cli_sgr(color, CLI_RED);
    const char *reset = cli_reset(color);
    char note[700];

    if (o->sig == SIG_NONE && n->sig == SIG_NONE)
        return;
    fprintf(out, "%-9s ", "signature");
    if (o->sig == n->sig && strcmp(o->signer, n->signer) == 0 && n->sig == SIG_VALID) {
        fprintf(out, "%s %s(unchanged signer)%s\n", n->signer, cli_sgr(color, CLI_DIM), reset);
    } else {
        put_signer(out, o);
        fputs(" \u2192 ", out);
        put_signer(out, n);
        if (n->sig == SIG_NONE)
            fprintf(out, "  %sMISSING%s", yellow, reset);
        else if (n->sig == SIG_INVALID)
            fprintf(out, "  %sINVALID%s", red, reset);
        else if (o->sig == SIG_VALID && strcmp(o->signer, n->signer) != 0)
            fprintf(out, "  %sANOTHER SIGNER%s", yellow, reset);
        fputc('\n', out);
    }
    if (n->sig == SIG_INVALID) {
        snprintf(note, sizeof note, "NEW's signature does not verify: %s", n->sig_why);
        put_wrapped(out, "note", note);
    } else if (n->sig == SIG_NONE) {
        put_wrapped(out, "note", "NEW is not signed, OLD was: a host that requires "
                                 "signatures will refuse it");
    } else if (o->sig == SIG_VALID && strcmp(o->signer, n->signer) != 0) {
        snprintf(note, sizeof note, "NEW is signed by %s, OLD by %s: check that the keyring "
                                    "trusts the new signer", n->signer, o->signer);
        put_wrapped(out, "note", note);
    }
    if (n->sig != SIG_VALID && caps_changed(d))
        put_wrapped(out, "note", "the declared capabilities changed: NEW must be signed "
                                 "again (perch wasm sign) after review");
}

static void put_text(FILE *out, const module *o, const module *n, const pm_diff *d)
{
    bool color = cli_color(out);
    const char *title_a = d->old_name, *title_b = d->new_name;

    fprintf(out, "%smanifest diff: ", cli_sgr(color, CLI_BOLD));
    if (title_a && title_b && strcmp(title_a, title_b) == 0) {
        put_safe(out, title_a);
    } else if (!title_a && !title_b) {
        fputs("no manifest on either side", out);
    } else {
        put_safe(out, title_a ? title_a : "(no manifest)");
        fputs(" \u2192 ", out);
        put_safe(out, title_b ? title_b : "(no manifest)");
    }
    fprintf(out, "%s\n", cli_reset(color));
    fputs("  OLD  ", out);
    put_safe(out, o->path);
    fputs("\n  NEW  ", out);
    put_safe(out, n->path);
    fputc('\n', out);
    put_rule(out, color);

    if (d->old_present || d->new_present) {
        put_pair(out, color, "name", d->old_name, d->new_name, "renamed");
        put_pair(out, color, "version", d->old_version, d->new_version, NULL);
    }
    if (d->new_present)
        put_memory(out, color, d);
    put_signature(out, color, o, n, d);
    if (d->explanation)
        put_wrapped(out, "note", d->explanation);
    if (d->new_present)
        put_capabilities(out, color, d);
    put_rule(out, color);
    put_verdict(out, color, d);
}

/* ---- JSON --------------------------------------------------------------- */

/* A JSON string of s (bytes that are not UTF-8 shown as \xNN), or null. */
static json_t *jstr(const char *s)
{
    pb_buf b = {0};
    json_t *j;
    size_t len;
    if (!s)
        return json_null();
    len = strlen(s);
    if (pb_utf8_valid((const uint8_t *)s, len))
        return json_stringn(s, len);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(c < 0x80 ? pb_buf_byte(&b, c) : pb_buf_printf(&b, "\\x%02x", c))) {
            pb_buf_free(&b);
            return NULL;
        }
    }
    j = json_stringn((const char *)b.data, b.len);
    pb_buf_free(&b);
    return j;
}

static json_t *jmemory(bool has, uint64_t v)
{
    return has ? json_integer((json_int_t)v) : json_null();
}

/* Each set returns 0 on success; a NULL value (out of memory) fails it. */
static int set(json_t *o, const char *key, json_t *v)
{
    return v ? json_object_set_new(o, key, v) : -1;
}

static json_t *jside(const module *mod, bool present, const char *name, const char *version,
                     bool has_memory, uint64_t memory)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    if (set(o, "file", jstr(mod->path)) || set(o, "sha256", json_string(mod->sha256)) ||
        set(o, "manifest", json_boolean(present)) || set(o, "name", jstr(name)) ||
        set(o, "version", jstr(version)) ||
        set(o, "memory_max", present ? jmemory(has_memory, memory) : json_null())) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *jentry(const pm_diff_entry *e)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    if (set(o, "cap", json_string(pm_cap_name(e->cap))) || set(o, "value", jstr(e->value)) ||
        set(o, "change", json_string(pm_change_name(e->change))) ||
        set(o, "high_risk", json_boolean(e->high_risk)) ||
        set(o, "risk_rule", jstr(e->high_risk ? e->risk_rule : NULL)) ||
        set(o, "note", jstr(e->note))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *jsig(const module *m)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    if (set(o, "signer", jstr(m->signer[0] ? m->signer : NULL)) ||
        set(o, "status", json_string(sig_state_names[m->sig])) ||
        set(o, "problem", jstr(m->sig == SIG_INVALID ? m->sig_why : NULL))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Present only when either module carries a perch.signature section. */
static json_t *jsignature(const module *o, const module *n, const pm_diff *d)
{
    json_t *j = json_object();
    if (!j)
        return NULL;
    if (set(j, "old", jsig(o)) || set(j, "new", jsig(n)) ||
        set(j, "other_signer", json_boolean(o->sig == SIG_VALID && n->sig == SIG_VALID &&
                                            strcmp(o->signer, n->signer) != 0)) ||
        set(j, "resign_needed", json_boolean(n->sig != SIG_VALID && caps_changed(d)))) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static json_t *jdiff(const module *o, const module *n, const pm_diff *d)
{
    json_t *root = json_object(), *changes = json_array(), *mem = json_object(),
           *counts = json_object();
    if (!root || !changes || !mem || !counts)
        goto fail;
    for (size_t i = 0; i < d->count; i++)
        if (json_array_append_new(changes, jentry(&d->entries[i])))
            goto fail;
    if (set(mem, "old", d->old_present ? jmemory(d->old_has_memory, d->old_memory) : json_null()) ||
        set(mem, "new", d->new_present ? jmemory(d->new_has_memory, d->new_memory) : json_null()) ||
        set(mem, "change", json_string(pm_change_name(d->memory_change))))
        goto fail;
    if (set(counts, "new", json_integer((json_int_t)d->n_new)) ||
        set(counts, "removed", json_integer((json_int_t)d->n_removed)) ||
        set(counts, "narrowed", json_integer((json_int_t)d->n_narrowed)) ||
        set(counts, "unchanged", json_integer((json_int_t)d->n_unchanged)) ||
        set(counts, "high_risk", json_integer((json_int_t)d->n_high_risk)) ||
        set(counts, "no_longer_granted", json_integer((json_int_t)d->n_lost)))
        goto fail;
    if (set(root, "schema", json_integer(1)) ||
        set(root, "old", jside(o, d->old_present, d->old_name, d->old_version,
                               d->old_has_memory, d->old_memory)) ||
        set(root, "new", jside(n, d->new_present, d->new_name, d->new_version,
                               d->new_has_memory, d->new_memory)))
        goto fail;
    /* set() takes the reference even when it fails: nothing else to release */
    {
        json_t *c = changes, *m = mem, *k = counts;
        changes = mem = counts = NULL;
        if (set(root, "changes", c) || set(root, "memory", m) ||
            set(root, "verdict", json_string(pm_verdict_name(d->verdict))) ||
            set(root, "counts", k) || set(root, "explanation", jstr(d->explanation)) ||
            ((o->sig != SIG_NONE || n->sig != SIG_NONE) &&
             set(root, "signature", jsignature(o, n, d)))) {
            json_decref(root);
            return NULL;
        }
    }
    return root;
fail:
    json_decref(root);
    json_decref(changes);
    json_decref(mem);
    json_decref(counts);
    return NULL;
}

/* ---- the command -------------------------------------------------------- */

int cmd_wasm_diff(int argc, char **argv)
{
    static const char *const formats[] = {"text", "json"};
    const char *format = NULL;
    bool fail_on_elevated = false, json;
    cli_opt opts[] = {
        {"fail-on-elevated", 0, false, NULL, &fail_on_elevated},
        {"format", 0, true, &format, NULL},
    };
    cli_args args = {0};
    module mods[2] = {{.which = "OLD"}, {.which = "NEW"}};
    pm_diff d;
    perch_err err;
    int status = CLI_ERROR;

    memset(&d, 0, sizeof d);
    perch_err_clear(&err);
    if (!cli_parse(CMD, argc, argv, opts, sizeof opts / sizeof opts[0], &args, false))
        goto out;
    if (args.help) {
        fputs(help_text, stdout);
        status = CLI_OK;
        goto out;
    }
    if (!cli_format(CMD, format, formats, 2))
        goto out;
    json = format && strcmp(format, "json") == 0;
    if (args.npos != 2) {
        cli_usage(CMD, args.npos < 2 ? "expected two modules, OLD and NEW"
                                     : "expected two modules, OLD and NEW, not %d arguments",
                  args.npos);
        goto out;
    }
    mods[0].path = args.pos[0];
    mods[1].path = args.pos[1];
    for (int i = 0; i < 2; i++) {
        if (module_read(&mods[i], &err) != PERCH_OK) {
            status = cli_fail(&err, json);
            goto out;
        }
    }
    if (pm_diff_compute(mods[0].present ? &mods[0].m : NULL,
                        mods[1].present ? &mods[1].m : NULL, NULL, &d, &err) != PERCH_OK) {
        status = cli_fail(&err, json);
        goto out;
    }
    if (json) {
        json_t *root;
        json_set_alloc_funcs(pb_malloc, pb_free); /* through perch's one hook */
        root = jdiff(&mods[0], &mods[1], &d);
        char *text = root ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        json_decref(root);
        if (!text) {
            pb_fail(&err, PERCH_E_IO, "out of memory writing JSON");
            status = cli_fail(&err, json);
            goto out;
        }
        printf("%s\n", text);
        free(text);
    } else {
        put_text(stdout, &mods[0], &mods[1], &d);
    }
    if (fflush(stdout) != 0) {
        pb_fail(&err, PERCH_E_IO, "cannot write the output");
        status = cli_fail(&err, false);
        goto out;
    }
    status = fail_on_elevated && d.verdict == PM_VERDICT_ELEVATED ? CLI_NEGATIVE : CLI_OK;
out:
    pm_diff_free(&d);
    module_free(&mods[0]);
    module_free(&mods[1]);
    pb_free(args.pos);
    return status;
}
