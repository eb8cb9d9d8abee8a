/*
 * scan.c: the static risk report of `perch check --scan`.
 *
 * Scoring keeps the Go perch's scale: a command starts SAFE; one capability
 * category (shell, subprocess, network, writes) makes it LOW, two or more
 * MED; shell metacharacters make it at least MED; each finding raises it to
 * at least the finding's level. HIGH findings: any shell step, sudo, write
 * mounts and write grants, wildcard hosts, secret-looking env names (the
 * default HIGH RISK list of src/manifest/diff.h). A command that calls
 * another takes on everything the callee may touch.
 */
#include <stdio.h>
#include <string.h>

#include "lang/lang.h"
#include "lang/lex.h"
#include "manifest/diff.h"
#include "manifest/manifest.h"
#include "wasm/reader.h"

typedef struct scanner {
    const pl_file *f;
    const char *dir;
    pl_scan *s;
    unsigned char *done;
    perch_err *err;
} scanner;

static perch_err_kind oom(scanner *sc)
{
    pb_fail(sc->err, PERCH_E_IO, "out of memory");
    return PERCH_E_IO;
}

static bool strs_has(const pl_strs *l, const char *v)
{
    for (size_t i = 0; i < l->count; i++)
        if (strcmp(l->items[i], v) == 0)
            return true;
    return false;
}

/* Add v (borrowed; must outlive the report) unless present. */
static perch_err_kind strs_add(scanner *sc, pl_strs *l, const char *v)
{
    if (strs_has(l, v))
        return PERCH_OK;
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        const char **items = pl_alloc(&sc->s->arena, cap * sizeof *items);
        if (!items)
            return oom(sc);
        if (l->count)
            memcpy(items, l->items, l->count * sizeof *items);
        l->items = items;
        l->cap = cap;
    }
    l->items[l->count++] = v;
    return PERCH_OK;
}

/* Add an arena copy of v unless present. */
static perch_err_kind strs_add_copy(scanner *sc, pl_strs *l, const char *v)
{
    const char *copy;
    if (strs_has(l, v))
        return PERCH_OK;
    copy = pl_strndup(&sc->s->arena, v, strlen(v));
    if (!copy)
        return oom(sc);
    return strs_add(sc, l, copy);
}

static perch_err_kind strs_union(scanner *sc, pl_strs *into, const pl_strs *from)
{
    perch_err_kind rc;
    for (size_t i = 0; i < from->count; i++)
        PB_TRY(strs_add(sc, into, from->items[i]));
    return PERCH_OK;
fail:
    return rc;
}

static perch_err_kind find(scanner *sc, pl_cmd_scan *cs, pl_level level, const char *fmt, ...)
    PB_PRINTF(4, 5);
static perch_err_kind find(scanner *sc, pl_cmd_scan *cs, pl_level level, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    char *copy;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    for (size_t i = 0; i < cs->nfindings; i++)
        if (strcmp(cs->findings[i].text, text) == 0)
            return PERCH_OK;
    if (cs->nfindings == cs->capfindings) {
        size_t cap = cs->capfindings ? cs->capfindings * 2 : 8;
        pl_finding *fs = pl_alloc(&sc->s->arena, cap * sizeof *fs);
        if (!fs)
            return oom(sc);
        if (cs->nfindings)
            memcpy(fs, cs->findings, cs->nfindings * sizeof *fs);
        cs->findings = fs;
        cs->capfindings = cap;
    }
    copy = pl_strndup(&sc->s->arena, text, strlen(text));
    if (!copy)
        return oom(sc);
    cs->findings[cs->nfindings].level = level;
    cs->findings[cs->nfindings].text = copy;
    cs->nfindings++;
    return PERCH_OK;
}

/* Names of ${NAME} in w that are not args of cmd: environment variables. */
static perch_err_kind env_refs(scanner *sc, pl_cmd_scan *cs, const char *s)
{
    for (size_t i = 0; s[i]; i++) {
        const char *end;
        if (s[i] != '$' || s[i + 1] != '{' || (i > 0 && s[i - 1] == '\\'))
            continue;
        end = strchr(s + i + 2, '}');
        if (!end)
            return PERCH_OK;
        {
            bool arg = false;
            size_t len = (size_t)(end - s - i - 2);
            for (const pl_arg *a = cs->cmd->args; a; a = a->next)
                if (strlen(a->name.s) == len && memcmp(a->name.s, s + i + 2, len) == 0)
                    arg = true;
            if (!arg) {
                const char *name = pl_strndup(&sc->s->arena, s + i + 2, len);
                if (!name)
                    return oom(sc);
                if (strs_add(sc, &cs->env, name) != PERCH_OK)
                    return PERCH_E_IO;
            }
        }
        i = (size_t)(end - s);
    }
    return PERCH_OK;
}

static bool wildcard(const char *h) { return h[0] == '*'; }

/* Hosts are listed with their port (443 when the file gives none). */
static perch_err_kind add_host(scanner *sc, pl_cmd_scan *cs, const char *label, const char *h,
                               bool granted)
{
    char e[300];
    if (strchr(h, ':') || strcmp(h, "*") == 0)
        snprintf(e, sizeof e, "%s", h);
    else
        snprintf(e, sizeof e, "%s:443", h);
    cs->network = true;
    if (strs_add_copy(sc, &cs->hosts, e) != PERCH_OK)
        return PERCH_E_IO;
    if (strcmp(h, "*") == 0)
        return find(sc, cs, PL_HIGH, "%s: may reach any host (net *)%s", label,
                    granted ? ", by grant" : "");
    if (wildcard(h))
        return find(sc, cs, PL_HIGH, "%s: may reach every host under wildcard %s%s", label, e,
                    granted ? ", by grant" : "");
    return find(sc, cs, PL_LOW, "%s: may reach %s%s", label, e, granted ? ", by grant" : "");
}

static perch_err_kind add_env(scanner *sc, pl_cmd_scan *cs, const char *label, const char *name)
{
    const char *rule = NULL;
    if (strs_add_copy(sc, &cs->env, name) != PERCH_OK)
        return PERCH_E_IO;
    if (pm_risk_match(NULL, PM_CAP_ENV, name, &rule))
        return find(sc, cs, PL_HIGH, "%s: sees secret-looking env %s (matches %s)", label, name,
                    rule);
    return PERCH_OK;
}

static perch_err_kind add_write(scanner *sc, pl_cmd_scan *cs, const char *label,
                                const char *what)
{
    cs->write = true;
    if (strs_add_copy(sc, &cs->writes, what) != PERCH_OK)
        return PERCH_E_IO;
    return find(sc, cs, PL_HIGH, "%s: may write %s", label, what);
}

/* Whether a deny line of w removes value of cap from the accepted manifest. */
static bool denied(const pl_wasm *w, pl_cap cap, const char *value)
{
    for (const pl_capline *d = w->denies; d; d = d->next) {
        char buf[300];
        const char *v = d->value.s;
        if (d->cap != cap)
            continue;
        if (!v)
            return true;
        if (cap == PL_CAP_NET && !strchr(v, ':') && strcmp(v, "*") != 0) {
            snprintf(buf, sizeof buf, "%s:443", v);
            v = buf;
        }
        if (strcmp(v, value) == 0)
            return true;
    }
    return false;
}

/* The manifest of the module a wasm_run names, when its file can be read. */
static bool read_manifest(scanner *sc, const pl_wasm *w, pm_manifest *m, char *why, size_t cap)
{
    char path[4096];
    const char *rel = NULL;
    pb_buf bytes = {0};
    pw_layout layout;
    perch_err e;
    bool present = false;
    if (w->module_is_path) {
        if (strstr(w->module.s, "${")) {
            snprintf(why, cap, "the module path is known only at run time");
            return false;
        }
        rel = w->module.s;
    } else {
        for (const pl_include *i = sc->f->includes; i; i = i->next)
            if (strcmp(i->name.s, w->module.s) == 0)
                rel = i->path.s;
    }
    if (!rel) {
        snprintf(why, cap, "no such bundle");
        return false;
    }
    while (rel[0] == '.' && rel[1] == '/')
        rel += 2;
    if (rel[0] == '/' || !sc->dir || !sc->dir[0])
        snprintf(path, sizeof path, "%s", rel);
    else
        snprintf(path, sizeof path, "%s/%s", sc->dir, rel);
    if (pb_file_read(path, &bytes, &e) != PERCH_OK) {
        snprintf(why, cap, "%s", e.message);
        return false;
    }
    if (pw_layout_read(bytes.data, bytes.len, &layout, &e) != PERCH_OK) {
        snprintf(why, cap, "%s: %s", path, e.message);
        pb_buf_free(&bytes);
        return false;
    }
    if (pm_module_manifest(bytes.data, &layout, m, &present, &e) != PERCH_OK) {
        snprintf(why, cap, "%s: %s", path, e.message);
        present = false;
    } else if (!present) {
        snprintf(why, cap, "%s has no perch.manifest section (the run fails with "
                           "manifest_missing)",
                 path);
    }
    pw_layout_free(&layout);
    pb_buf_free(&bytes);
    return present;
}

static perch_err_kind scan_accept(scanner *sc, pl_cmd_scan *cs, const pl_wasm *w,
                                  const char *label)
{
    pm_manifest m;
    char why[600];
    perch_err_kind rc = PERCH_OK;
    pm_manifest_init(&m);
    if (!read_manifest(sc, w, &m, why, sizeof why)) {
        pm_manifest_free(&m);
        return find(sc, cs, PL_MED, "%s: accepts a manifest perch could not read: %s", label,
                    why);
    }
    PB_TRY(find(sc, cs, PL_SAFE, "%s: accepts the manifest of %s %s", label, m.name, m.version));
    for (size_t i = 0; i < m.needs_read.count; i++)
        if (!denied(w, PL_CAP_READ, m.needs_read.items[i])) {
            PB_TRY(strs_add_copy(sc, &cs->reads, m.needs_read.items[i]));
            PB_TRY(find(sc, cs, PL_SAFE, "%s: reads guest %s (declared)", label,
                        m.needs_read.items[i]));
        }
    for (size_t i = 0; i < m.needs_write.count; i++)
        if (!denied(w, PL_CAP_WRITE, m.needs_write.items[i])) {
            char what[300];
            snprintf(what, sizeof what, "guest %s (declared)", m.needs_write.items[i]);
            PB_TRY(add_write(sc, cs, label, what));
        }
    for (size_t i = 0; i < m.needs_net.count; i++)
        if (!denied(w, PL_CAP_NET, m.needs_net.items[i]))
            PB_TRY(add_host(sc, cs, label, m.needs_net.items[i], false));
    for (size_t i = 0; i < m.needs_env.count; i++)
        if (!denied(w, PL_CAP_ENV, m.needs_env.items[i]))
            PB_TRY(add_env(sc, cs, label, m.needs_env.items[i]));
    if (m.has_memory_max)
        PB_TRY(find(sc, cs, PL_SAFE, "%s: memory up to %llu bytes (declared)", label,
                    (unsigned long long)m.memory_max));
    rc = PERCH_OK;
fail:
    pm_manifest_free(&m);
    return rc;
}

static perch_err_kind scan_wasm(scanner *sc, pl_cmd_scan *cs, const pl_wasm *w)
{
    char label[200];
    perch_err_kind rc;
    snprintf(label, sizeof label, "wasm_run %s", w->module.s);
    for (const pl_mount *m = w->mounts; m; m = m->next) {
        char what[600];
        snprintf(what, sizeof what, "%s (at %s)", m->host.s, m->guest.s);
        if (m->write) {
            PB_TRY(add_write(sc, cs, label, what));
        } else {
            PB_TRY(strs_add_copy(sc, &cs->reads, what));
            PB_TRY(find(sc, cs, PL_SAFE, "%s: reads %s", label, what));
        }
        PB_TRY(env_refs(sc, cs, m->host.s));
    }
    for (const pl_word *e = w->env; e; e = e->next)
        PB_TRY(add_env(sc, cs, label, e->s));
    for (const pl_word *h = w->hosts; h; h = h->next)
        PB_TRY(add_host(sc, cs, label, h->s, false));
    for (const pl_word *a = w->args; a; a = a->next)
        PB_TRY(env_refs(sc, cs, a->s));
    if (w->accept) {
        PB_TRY(scan_accept(sc, cs, w, label));
        if (!w->signers)
            PB_TRY(find(sc, cs, PL_LOW, "%s: accepts a manifest without require_signer", label));
    }
    for (const pl_capline *d = w->denies; d; d = d->next)
        PB_TRY(find(sc, cs, PL_SAFE, "%s: denies %s%s%s", label, pl_cap_name(d->cap),
                    d->value.s ? " " : " (all)", d->value.s ? d->value.s : ""));
    for (const pl_capline *g = w->grants; g; g = g->next) {
        PB_TRY(find(sc, cs, PL_MED,
                    "%s: grant broadens the module's manifest with %s %s (needs "
                    "--untrusted-allow-broaden)",
                    label, pl_cap_name(g->cap), g->value.s));
        if (g->cap == PL_CAP_NET)
            PB_TRY(add_host(sc, cs, label, g->value.s, true));
        else if (g->cap == PL_CAP_ENV)
            PB_TRY(add_env(sc, cs, label, g->value.s));
        else if (g->cap == PL_CAP_WRITE)
            PB_TRY(add_write(sc, cs, label, g->value.s));
        else
            PB_TRY(strs_add_copy(sc, &cs->reads, g->value.s));
    }
    for (const pl_word *s = w->signers; s; s = s->next)
        PB_TRY(find(sc, cs, PL_SAFE, "%s: requires signer %s", label, s->s));
    return PERCH_OK;
fail:
    return rc;
}

static perch_err_kind scan_shell(scanner *sc, pl_cmd_scan *cs, const char *text)
{
    size_t start, len;
    perch_err_kind rc;
    char shown[80];
    snprintf(shown, sizeof shown, "%.60s%s", text, strlen(text) > 60 ? "..." : "");
    cs->shell = true;
    pl_shell_first_word(text, &start, &len);
    if (len) {
        const char *bin = pl_strndup(&sc->s->arena, text + start, len);
        if (!bin)
            return oom(sc);
        PB_TRY(strs_add(sc, &cs->bins, bin));
        if (strcmp(bin, "sudo") == 0 || strstr(text, " sudo ") || strstr(text, "|sudo ") ||
            strstr(text, "| sudo "))
            PB_TRY(find(sc, cs, PL_HIGH, "shell \"%s\": runs sudo", shown));
    }
    PB_TRY(find(sc, cs, PL_HIGH, "shell \"%s\": runs through /bin/sh with the host's authority",
                shown));
    if (strpbrk(text, "|><&;`") || strstr(text, "$(")) {
        cs->metachars = true;
        PB_TRY(find(sc, cs, PL_MED, "shell \"%s\": uses shell metacharacters", shown));
    }
    return env_refs(sc, cs, text);
fail:
    return rc;
}

static size_t index_of(const scanner *sc, const pl_command *cmd)
{
    size_t k = 0;
    for (const pl_command *c = sc->f->commands; c && c != cmd; c = c->next)
        k++;
    return k;
}

static void score(pl_cmd_scan *cs, scanner *sc)
{
    int cats = (int)cs->shell + (int)cs->subprocess + (int)cs->network + (int)cs->write;
    pl_level l = cats == 0 ? PL_SAFE : cats == 1 ? PL_LOW : PL_MED;
    if (cs->metachars && l < PL_MED)
        l = PL_MED;
    for (size_t i = 0; i < cs->nfindings; i++)
        if (cs->findings[i].level > l)
            l = cs->findings[i].level;
    cs->risk = l;
    if (cs->shell)
        (void)strs_add(sc, &cs->reasons, "shell");
    if (cs->subprocess)
        (void)strs_add(sc, &cs->reasons, "subprocess");
    if (cs->network)
        (void)strs_add(sc, &cs->reasons, "network");
    if (cs->write)
        (void)strs_add(sc, &cs->reasons, "writes");
    if (cs->metachars)
        (void)strs_add(sc, &cs->reasons, "shell metacharacters");
}

static perch_err_kind scan_cmd(scanner *sc, size_t k, const pl_command *cmd)
{
    pl_cmd_scan *cs = &sc->s->cmds[k];
    perch_err_kind rc;
    if (sc->done[k])
        return PERCH_OK;
    sc->done[k] = 1;
    cs->cmd = cmd;
    for (const pl_step *st = cmd->steps; st; st = st->next) {
        if (st->kind == PL_STEP_SHELL) {
            PB_TRY(scan_shell(sc, cs, st->text.s));
        } else if (st->kind == PL_STEP_WASM) {
            PB_TRY(scan_wasm(sc, cs, &st->wasm));
        } else if (st->target) {
            size_t j = index_of(sc, st->target);
            const pl_cmd_scan *callee = &sc->s->cmds[j];
            PB_TRY(scan_cmd(sc, j, st->target));
            cs->shell |= callee->shell;
            cs->subprocess |= callee->subprocess;
            cs->network |= callee->network;
            cs->write |= callee->write;
            cs->metachars |= callee->metachars;
            PB_TRY(strs_union(sc, &cs->bins, &callee->bins));
            PB_TRY(strs_union(sc, &cs->hosts, &callee->hosts));
            PB_TRY(strs_union(sc, &cs->reads, &callee->reads));
            PB_TRY(strs_union(sc, &cs->writes, &callee->writes));
            PB_TRY(strs_union(sc, &cs->env, &callee->env));
            for (size_t i = 0; i < callee->nfindings; i++)
                PB_TRY(find(sc, cs, callee->findings[i].level, "%s", callee->findings[i].text));
        } else {
            cs->subprocess = true;
            PB_TRY(strs_add(sc, &cs->bins, st->name.s));
            PB_TRY(find(sc, cs, PL_LOW, "runs %s directly (no shell)", st->name.s));
        }
        for (const pl_word *a = st->argv; a; a = a->next)
            PB_TRY(env_refs(sc, cs, a->s));
    }
    score(cs, sc);
    return PERCH_OK;
fail:
    return rc;
}

static bool any_wildcard(const pl_strs *hosts)
{
    for (size_t i = 0; i < hosts->count; i++)
        if (wildcard(hosts->items[i]))
            return true;
    return false;
}

static perch_err_kind join(pb_buf *b, const char *flag, const pl_strs *l, bool repeat)
{
    for (size_t i = 0; i < l->count; i++) {
        bool ok = repeat || i == 0 ? pb_buf_printf(b, " %s %s", flag, l->items[i])
                                   : pb_buf_printf(b, ",%s", l->items[i]);
        if (!ok)
            return PERCH_E_IO;
    }
    return PERCH_OK;
}

/* The tightest `perch run` that still lets every command do what it says,
 * and what it refuses compared with a bare run. */
static perch_err_kind recommend(scanner *sc)
{
    pl_scan *s = sc->s;
    pb_buf cmd = {0}, sum = {0};
    const char *base = strrchr(sc->f->path, '/');
    size_t blen;
    bool ok;
    base = base ? base + 1 : sc->f->path;
    blen = strlen(base);
    if (blen > 6 && strcmp(base + blen - 6, ".perch") == 0)
        blen -= 6;
    ok = pb_buf_printf(&cmd, "perch run %s", sc->f->path) && pb_buf_printf(&sum, "compared with a bare run:");
    if (ok && !s->shell && !s->subprocess)
        ok = pb_buf_printf(&cmd, " --no-shell") && pb_buf_printf(&sum, " no shell;");
    else if (ok && s->bins.count > 0 && s->bins.count <= 8)
        ok = join(&cmd, "--allow-bin", &s->bins, false) == PERCH_OK &&
             pb_buf_printf(&sum, " only %zu named bin%s;", s->bins.count,
                           s->bins.count == 1 ? "" : "s");
    if (ok && !s->network)
        ok = pb_buf_printf(&cmd, " --no-network") && pb_buf_printf(&sum, " no network;");
    else if (ok && !any_wildcard(&s->hosts) && s->hosts.count <= 8)
        ok = join(&cmd, "--allow-host", &s->hosts, true) == PERCH_OK &&
             pb_buf_printf(&sum, " only %zu named host%s;", s->hosts.count,
                           s->hosts.count == 1 ? "" : "s");
    if (ok && !s->write)
        ok = pb_buf_printf(&cmd, " --no-write") && pb_buf_printf(&sum, " no writes;");
    if (ok && s->env.count > 0 && s->env.count <= 20)
        ok = join(&cmd, "--env", &s->env, true) == PERCH_OK &&
             pb_buf_printf(&sum, " only %zu named env variable%s;", s->env.count,
                           s->env.count == 1 ? "" : "s");
    ok = ok && pb_buf_printf(&cmd, " --timeout 600 --audit-log /var/log/perch-%.*s.ndjson",
                             (int)blen, base) &&
         pb_buf_printf(&sum, " a 600 s time limit and an audit log");
    if (ok) {
        s->recommended = pl_strndup(&s->arena, (const char *)cmd.data, cmd.len);
        s->summary = pl_strndup(&s->arena, (const char *)sum.data, sum.len);
        ok = s->recommended && s->summary;
    }
    pb_buf_free(&cmd);
    pb_buf_free(&sum);
    return ok ? PERCH_OK : oom(sc);
}

perch_err_kind pl_scan_file(const pl_file *f, const char *dir, pl_scan *out, perch_err *err)
{
    scanner sc = {f, dir, out, NULL, err};
    perch_err_kind rc;
    size_t k = 0;
    memset(out, 0, sizeof *out);
    out->ncmds = f->ncommands;
    out->cmds = pl_alloc(&out->arena, (f->ncommands ? f->ncommands : 1) * sizeof *out->cmds);
    sc.done = pl_alloc(&out->arena, f->ncommands ? f->ncommands : 1);
    if (!out->cmds || !sc.done) {
        rc = oom(&sc);
        goto fail;
    }
    for (const pl_command *c = f->commands; c; c = c->next, k++)
        PB_TRY(scan_cmd(&sc, k, c));
    for (k = 0; k < out->ncmds; k++) {
        const pl_cmd_scan *cs = &out->cmds[k];
        if (cs->risk > out->risk)
            out->risk = cs->risk;
        out->shell |= cs->shell;
        out->subprocess |= cs->subprocess;
        out->network |= cs->network;
        out->write |= cs->write;
        out->metachars |= cs->metachars;
        PB_TRY(strs_union(&sc, &out->bins, &cs->bins));
        PB_TRY(strs_union(&sc, &out->hosts, &cs->hosts));
        PB_TRY(strs_union(&sc, &out->env, &cs->env));
    }
    PB_TRY(recommend(&sc));
    return PERCH_OK;
fail:
    pl_scan_free(out);
    return rc;
}

void pl_scan_free(pl_scan *s)
{
    pl_arena_free(&s->arena);
    memset(s, 0, sizeof *s);
}

const char *pl_level_name(pl_level l)
{
    static const char *const names[] = {"SAFE", "LOW", "MED", "HIGH"};
    return (unsigned)l < 4 ? names[l] : "HIGH";
}

const char *pl_level_badge(pl_level l)
{
    static const char *const badges[] = {
        "\xf0\x9f\x9f\xa2 SAFE  (pure ops \xe2\x80\x94 no shell, no network, no writes)",
        "\xf0\x9f\x9f\xa1 LOW   (limited surface \xe2\x80\x94 review the capabilities below)",
        "\xf0\x9f\x9f\xa0 MED   (multiple capabilities or shell metachars \xe2\x80\x94 review "
        "carefully)",
        "\xf0\x9f\x94\xb4 HIGH  (sudo / proxy_args / privileged ops \xe2\x80\x94 read every "
        "command before running)",
    };
    return (unsigned)l < 4 ? badges[l] : badges[3];
}
