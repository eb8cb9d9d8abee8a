/*
 * check.c: what a parsed .perch file must satisfy beyond its grammar.
 *
 * Names are defined once and every reference resolves; every value that
 * ends up as a capability passes the same rule the manifest reader applies
 * (src/manifest/rules.c), so a file cannot grant or deny something a
 * manifest could not declare. Checks run bundle, requires, then each
 * command in file order; the first problem is reported.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang/lang.h"
#include "lang/lex.h"
#include "manifest/manifest.h"
#include "trust/trust.h"

typedef struct checker {
    pl_file *f;
    pl_command **cmds; /* f's commands by index, for the call graph */
    unsigned char *mark;
    perch_err *err;
} checker;

#define FAIL(c, pos, ...)                                                             \
    (pl_fail_pos((c)->err, (c)->f->path, (pos), __VA_ARGS__), PERCH_E_PERCH_SYNTAX)

static bool is_name(const char *s)
{
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
        return false;
    for (s++; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-'))
            return false;
    return true;
}

static bool is_hex64(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f') ||
              (s[n] >= 'A' && s[n] <= 'F')))
            return false;
    return n == 64;
}

static bool is_digest(const char *s)
{
    return strncmp(s, "sha256:", 7) == 0 && is_hex64(s + 7);
}

/* A required version: digits, optionally followed by groups of '.' and digits. */
static bool is_version(const char *s)
{
    bool digit = false;
    for (; *s; s++) {
        if (*s >= '0' && *s <= '9')
            digit = true;
        else if (*s == '.' && digit)
            digit = false;
        else
            return false;
    }
    return digit;
}

/* A requires host or wasm_allow_host entry: "*", "host", "host:port",
 * "*.domain[:port]". Without a port it means port 443. */
static bool host_ok(const char *h, const char **why)
{
    char buf[300];
    if (strchr(h, ':') || strcmp(h, "*") == 0)
        return pm_check_net(h, why);
    if (strlen(h) > 250) {
        *why = "is longer than 250 bytes";
        return false;
    }
    snprintf(buf, sizeof buf, "%s:443", h);
    return pm_check_net(buf, why);
}

static const pl_include *find_bundle(const pl_file *f, const char *name)
{
    for (const pl_include *i = f->includes; i; i = i->next)
        if (strcmp(i->name.s, name) == 0)
            return i;
    return NULL;
}

static bool env_declared(const pl_file *f, const char *name, size_t len)
{
    for (const pl_req *r = f->reqs; r; r = r->next)
        if (r->kind == PL_REQ_ENV && strlen(r->value.s) == len &&
            memcmp(r->value.s, name, len) == 0)
            return true;
    return false;
}

static const pl_arg *find_arg(const pl_command *cmd, const char *name, size_t len)
{
    for (const pl_arg *a = cmd->args; a; a = a->next)
        if (strlen(a->name.s) == len && memcmp(a->name.s, name, len) == 0)
            return a;
    return NULL;
}

static bool bin_declared(const pl_file *f, const char *name, size_t len)
{
    for (const pl_req *r = f->reqs; r; r = r->next)
        if (r->kind == PL_REQ_BIN &&
            ((strlen(r->value.s) == len && memcmp(r->value.s, name, len) == 0) ||
             (r->alias.s && strlen(r->alias.s) == len && memcmp(r->alias.s, name, len) == 0)))
            return true;
    return false;
}

/*
 * Every ${name} in w names an arg of cmd or an env of requires; "\${" is a
 * literal "${". The threat: a string that silently expands to nothing (or
 * to a variable nobody declared) where a path or a command line was meant.
 */
static perch_err_kind check_interp(checker *c, const pl_command *cmd, const pl_word *w)
{
    const char *s = w->s;
    for (size_t i = 0; s[i]; i++) {
        size_t j;
        if (s[i] == '\\' && s[i + 1] == '$' && s[i + 2] == '{') {
            i += 2;
            continue;
        }
        if (s[i] != '$' || s[i + 1] != '{')
            continue;
        j = i + 2;
        while (s[j] && s[j] != '}')
            j++;
        if (!s[j])
            return FAIL(c, pl_pos_in(w, i), "unterminated ${ (write \\${ for a literal ${)");
        {
            char name[128];
            size_t len = j - i - 2;
            snprintf(name, sizeof name, "%.*s", (int)(len < 100 ? len : 100), s + i + 2);
            if (len == 0 || len >= 100 || !is_name(name))
                return FAIL(c, pl_pos_in(w, i), "${%s} does not hold a name", name);
            if (!find_arg(cmd, s + i + 2, len) && !env_declared(c->f, s + i + 2, len))
                return FAIL(c, pl_pos_in(w, i),
                            "${%s} is not an arg of command %s nor an env of requires", name,
                            cmd->name.s);
        }
        i = j;
    }
    return PERCH_OK;
}

/* ---- bundle and requires -------------------------------------------------------- */

static perch_err_kind check_bundle(checker *c)
{
    for (const pl_include *i = c->f->includes; i; i = i->next) {
        const pl_include *first = find_bundle(c->f, i->name.s);
        if (i->path.s[0] == '\0')
            return FAIL(c, i->path.pos, "include path is empty");
        if (!is_name(i->name.s))
            return FAIL(c, i->name.pos,
                        "bundle name '%s' is not a name (letters, digits, '_' and '-', "
                        "starting with a letter or '_'; give one with as NAME)",
                        i->name.s);
        if (first != i)
            return FAIL(c, i->name.pos, "bundle name '%s' is already used at line %u",
                        i->name.s, (unsigned)first->name.pos.line);
    }
    return PERCH_OK;
}

static bool in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

static const char *const known_os[] = {"linux", "darwin", "macos", "freebsd", "openbsd",
                                       "netbsd", "windows", "unix", NULL};
static const char *const known_arch[] = {"amd64", "x86_64", "arm64", "aarch64", "386",
                                         "x86", "i386", "i686", "arm", "riscv64",
                                         "ppc64le", "s390x", NULL};

/* hash_file "bundle:NAME": the bundle exists. */
static perch_err_kind check_bundle_ref(checker *c, const pl_word *w)
{
    if (strncmp(w->s, "bundle:", 7) == 0) {
        if (!find_bundle(c->f, w->s + 7))
            return FAIL(c, w->pos, "hash_file \"%s\": no bundle named '%s'", w->s, w->s + 7);
    } else if (w->s[0] == '\0') {
        return FAIL(c, w->pos, "hash_file needs a path or \"bundle:NAME\"");
    }
    return PERCH_OK;
}

static perch_err_kind check_requires(checker *c)
{
    perch_err_kind rc;
    for (const pl_req *r = c->f->reqs; r; r = r->next) {
        const char *why = NULL;
        const char *v = r->value.s;
        switch (r->kind) {
        case PL_REQ_BIN:
            if (v[0] == '\0' || strpbrk(v, " \t"))
                return FAIL(c, r->value.pos, "bin \"%s\" is not a binary name", v);
            if (r->version.s && !is_version(r->version.s))
                return FAIL(c, r->version.pos,
                            "version \"%s\" is not a dotted version number (like 1.28.0)",
                            r->version.s);
            if (r->hash.s && !is_digest(r->hash.s))
                return FAIL(c, r->hash.pos,
                            "hash \"%s\" is not sha256:HEX (64 hexadecimal digits)", r->hash.s);
            if (r->hash_file.s)
                PB_TRY(check_bundle_ref(c, &r->hash_file));
            break;
        case PL_REQ_ENV:
            if (!pm_check_env(v, &why))
                return FAIL(c, r->value.pos, "env \"%s\": the name %s", v, why);
            break;
        case PL_REQ_HOST:
            if (!host_ok(v, &why))
                return FAIL(c, r->value.pos, "host \"%s\" %s", v, why);
            break;
        case PL_REQ_OS:
            if (!in_list(v, known_os))
                return FAIL(c, r->value.pos,
                            "unknown os \"%s\" (expected linux, darwin, freebsd, openbsd, "
                            "netbsd, windows or unix)",
                            v);
            break;
        case PL_REQ_ARCH:
            if (!in_list(v, known_arch))
                return FAIL(c, r->value.pos,
                            "unknown arch \"%s\" (expected amd64, arm64, 386, arm, riscv64, "
                            "ppc64le or s390x)",
                            v);
            break;
        case PL_REQ_HASH_FILE:
            PB_TRY(check_bundle_ref(c, &r->value));
            if (!is_digest(r->hash.s))
                return FAIL(c, r->hash.pos,
                            "hash \"%s\" is not sha256:HEX (64 hexadecimal digits)", r->hash.s);
            break;
        case PL_REQ_READ:
        case PL_REQ_WRITE:
            if (v[0] == '\0')
                return FAIL(c, r->value.pos, "%s path is empty",
                            r->kind == PL_REQ_READ ? "read" : "write");
            break;
        }
    }
    return PERCH_OK;
fail:
    return rc;
}

/* ---- commands ------------------------------------------------------------------ */

static bool int_ok(const char *s)
{
    char *end;
    errno = 0;
    (void)strtoll(s, &end, 10);
    return s[0] != '\0' && *end == '\0' && errno == 0 && s[0] != ' ' && s[0] != '\t';
}

static bool float_ok(const char *s)
{
    char *end;
    errno = 0;
    (void)strtod(s, &end);
    return s[0] != '\0' && *end == '\0' && errno == 0 && s[0] != ' ' && s[0] != '\t';
}

static perch_err_kind check_args(checker *c, const pl_command *cmd)
{
    for (const pl_arg *a = cmd->args; a; a = a->next) {
        const pl_arg *first = find_arg(cmd, a->name.s, strlen(a->name.s));
        const char *d = a->def.s;
        if (!is_name(a->name.s))
            return FAIL(c, a->name.pos, "arg name '%s' is not a name", a->name.s);
        if (first != a)
            return FAIL(c, a->name.pos, "arg %s is declared twice in command %s (first at line %u)",
                        a->name.s, cmd->name.s, (unsigned)first->pos.line);
        if (a->type == PL_TYPE_UNKNOWN)
            return FAIL(c, a->type_name.pos,
                        "unknown type '%s' for arg %s (expected string, int, bool, path or float)",
                        a->type_name.s, a->name.s);
        if (a->index.s && !int_ok(a->index.s))
            return FAIL(c, a->index.pos, "index '%s' of arg %s is not a number", a->index.s,
                        a->name.s);
        if (!d)
            continue;
        if ((a->type == PL_TYPE_INT && !int_ok(d)) ||
            (a->type == PL_TYPE_FLOAT && !float_ok(d)) ||
            (a->type == PL_TYPE_BOOL && strcmp(d, "true") != 0 && strcmp(d, "false") != 0) ||
            (a->type == PL_TYPE_PATH && d[0] == '\0'))
            return FAIL(c, a->def.pos, "default \"%s\" of arg %s is not a%s %s%s", d, a->name.s,
                        a->type == PL_TYPE_INT ? "n" : "", pl_type_name(a->type),
                        a->type == PL_TYPE_BOOL ? " (true or false)" : "");
    }
    return PERCH_OK;
}

/* Shell built-ins run without a binary, so they need no bin line. */
static const char *const builtins[] = {
    "echo", "printf", "cd", "true", "false", "test", "[", "exit", "export", "set", "unset",
    ":", "pwd", "read", "shift", "wait", "return", "trap", "umask", "type",
    "if", "for", "while", "case", "until", NULL};

void pl_shell_first_word(const char *s, size_t *start, size_t *len)
{
    size_t i = 0;
    for (;;) {
        while (s[i] == ' ' || s[i] == '\t')
            i++;
        *start = i;
        while (s[i] && s[i] != ' ' && s[i] != '\t' && s[i] != ';' && s[i] != '|' &&
               s[i] != '&' && s[i] != '>' && s[i] != '<' && s[i] != '(' && s[i] != ')')
            i++;
        *len = i - *start;
        /* NAME=value before the command sets its environment */
        if (*len == 0 || !memchr(s + *start, '=', *len) || s[*start] == '=')
            return;
    }
}

/*
 * The first word of a shell step is a binary the file declares (or a
 * built-in): the threat is a file that runs host tools its requires never
 * names, so neither `perch check` nor --allow-bin can see them.
 */
static perch_err_kind check_shell(checker *c, const pl_command *cmd, const pl_step *st)
{
    const char *s = st->text.s;
    size_t start, len;
    char word[128];
    perch_err_kind rc;
    PB_TRY(check_interp(c, cmd, &st->text));
    pl_shell_first_word(s, &start, &len);
    if (len == 0 && s[start] == '\0')
        return FAIL(c, st->text.pos, "shell step is empty");
    if (len == 0 || memchr(s + start, '$', len) || bin_declared(c->f, s + start, len))
        return PERCH_OK;
    snprintf(word, sizeof word, "%.*s", (int)(len < 100 ? len : 100), s + start);
    if (in_list(word, builtins))
        return PERCH_OK;
    return FAIL(c, pl_pos_in(&st->text, start),
                "shell step runs '%s', which requires does not declare (add bin \"%s\" to "
                "requires)",
                word, word);
fail:
    return rc;
}

static perch_err_kind check_capline(checker *c, const pl_capline *l, const char *kw)
{
    const char *why = NULL;
    const char *v = l->value.s;
    if (l->cap == PL_CAP_UNKNOWN)
        return FAIL(c, l->cap_name.pos,
                    "unknown capability \"%s\" in %s (expected wasm_mount_read, "
                    "wasm_mount_write, wasm_allow_host or wasm_env)",
                    l->cap_name.s, kw);
    if (!v)
        return PERCH_OK;
    switch (l->cap) {
    case PL_CAP_READ:
    case PL_CAP_WRITE:
        if (!pm_check_path(v, &why))
            return FAIL(c, l->value.pos, "%s \"%s\": guest path \"%s\" %s", kw, l->cap_name.s,
                        v, why);
        break;
    case PL_CAP_NET:
        if (!host_ok(v, &why))
            return FAIL(c, l->value.pos, "%s \"%s\": host \"%s\" %s", kw, l->cap_name.s, v, why);
        break;
    case PL_CAP_ENV:
        if (!pm_check_env(v, &why))
            return FAIL(c, l->value.pos, "%s \"%s\": env name \"%s\" %s", kw, l->cap_name.s, v,
                        why);
        break;
    case PL_CAP_UNKNOWN:
        break;
    }
    return PERCH_OK;
}

static perch_err_kind check_wasm(checker *c, const pl_command *cmd, const pl_step *st)
{
    const pl_wasm *w = &st->wasm;
    perch_err_kind rc;
    const char *why = NULL;
    if (w->module_is_path) {
        if (w->module.s[0] == '\0')
            return FAIL(c, w->module.pos, "wasm_run needs a module path");
        PB_TRY(check_interp(c, cmd, &w->module));
    } else if (!find_bundle(c->f, w->module.s)) {
        return FAIL(c, w->module.pos,
                    "wasm_run %s: no bundle named '%s' (add include \"PATH\" as %s to bundle, "
                    "or quote a module path)",
                    w->module.s, w->module.s, w->module.s);
    }
    for (const pl_word *a = w->args; a; a = a->next) {
        if (a->quoted)
            PB_TRY(check_interp(c, cmd, a));
        else if (!find_arg(cmd, a->s, strlen(a->s)))
            return FAIL(c, a->pos,
                        "wasm_arg %s: command %s has no arg '%s' (quote it to pass the text "
                        "itself)",
                        a->s, cmd->name.s, a->s);
    }
    for (const pl_mount *m = w->mounts; m; m = m->next) {
        const char *kw = m->write ? "wasm_mount_write" : "wasm_mount_read";
        if (m->host.s[0] == '\0')
            return FAIL(c, m->host.pos, "%s needs a host directory", kw);
        PB_TRY(check_interp(c, cmd, &m->host));
        if (strstr(m->guest.s, "${"))
            return FAIL(c, m->guest.pos, "guest path \"%s\" cannot be interpolated", m->guest.s);
        if (!pm_check_path(m->guest.s, &why)) {
            if (m->guest_given)
                return FAIL(c, m->guest.pos, "guest path \"%s\" %s", m->guest.s, why);
            return FAIL(c, m->host.pos,
                        "%s \"%s\": the guest path \"%s\" made from it %s (give one with as "
                        "\"/GUEST\")",
                        kw, m->host.s, m->guest.s, why);
        }
        for (const pl_mount *o = w->mounts; o != m; o = o->next)
            if (strcmp(o->guest.s, m->guest.s) == 0)
                return FAIL(c, m->guest_given ? m->guest.pos : m->host.pos,
                            "guest path \"%s\" is mounted twice in this wasm_run (first at "
                            "line %u)",
                            m->guest.s, (unsigned)o->pos.line);
    }
    for (const pl_word *e = w->env; e; e = e->next)
        if (!pm_check_env(e->s, &why))
            return FAIL(c, e->pos, "wasm_env: the name \"%s\" %s", e->s, why);
    for (const pl_word *h = w->hosts; h; h = h->next) {
        if (strstr(h->s, "${"))
            return FAIL(c, h->pos, "wasm_allow_host \"%s\" cannot be interpolated (the file "
                                   "must say where a module may connect)",
                        h->s);
        if (!host_ok(h->s, &why))
            return FAIL(c, h->pos, "wasm_allow_host \"%s\": host %s", h->s, why);
    }
    for (const pl_capline *l = w->denies; l; l = l->next)
        PB_TRY(check_capline(c, l, "deny"));
    for (const pl_capline *l = w->grants; l; l = l->next)
        PB_TRY(check_capline(c, l, "grant"));
    for (const pl_word *s = w->signers; s; s = s->next) {
        if (strncmp(s->s, "ed25519:", 8) != 0)
            return FAIL(c, s->pos, "require_signer \"%s\": expected \"ed25519:NAME\"", s->s);
        if (!pt_signer_valid(s->s + 8, strlen(s->s + 8), &why))
            return FAIL(c, s->pos, "require_signer \"%s\": %s", s->s, why);
    }
    return PERCH_OK;
fail:
    return rc;
}

static pl_command *find_command(const checker *c, const char *name)
{
    for (pl_command *cmd = c->f->commands; cmd; cmd = cmd->next)
        if (strcmp(cmd->name.s, name) == 0)
            return cmd;
    return NULL;
}

static perch_err_kind check_call(checker *c, const pl_command *cmd, pl_step *st)
{
    perch_err_kind rc;
    size_t given = 0, max = 0;
    const pl_arg *last = NULL;
    for (pl_word *a = st->argv; a; a = a->next) {
        PB_TRY(check_interp(c, cmd, a));
        given++;
    }
    st->target = find_command(c, st->name.s);
    if (!st->target) {
        if (bin_declared(c->f, st->name.s, strlen(st->name.s)))
            return PERCH_OK;
        return FAIL(c, st->name.pos,
                    "'%s' is neither a command of this file nor a bin of requires", st->name.s);
    }
    for (const pl_arg *a = st->target->args; a; a = a->next) {
        if (max >= given && !a->def.s && !a->optional && !a->rest)
            return FAIL(c, st->name.pos, "%s needs arg %s (it has no default)", st->name.s,
                        a->name.s);
        max++;
        last = a;
    }
    if (given > max && !(last && last->rest))
        return FAIL(c, st->name.pos, "%s takes %zu argument%s, %zu given", st->name.s, max,
                    max == 1 ? "" : "s", given);
    return PERCH_OK;
fail:
    return rc;
}

/* Mark bits of the call-graph walk. */
enum { VISITING = 1, DONE = 2 };

/* A command that calls itself, directly or through others, never ends. */
static perch_err_kind check_cycles(checker *c, size_t k)
{
    perch_err_kind rc;
    c->mark[k] = VISITING;
    for (const pl_step *st = c->cmds[k]->steps; st; st = st->next) {
        size_t j = 0;
        if (st->kind != PL_STEP_CALL || !st->target)
            continue;
        while (c->cmds[j] != st->target)
            j++;
        if (c->mark[j] == VISITING)
            return FAIL(c, st->pos, "command %s calls %s, which leads back to %s (a cycle)",
                        c->cmds[k]->name.s, st->target->name.s, c->cmds[k]->name.s);
        if (c->mark[j] == 0)
            PB_TRY(check_cycles(c, j));
    }
    c->mark[k] = DONE;
    return PERCH_OK;
fail:
    return rc;
}

static perch_err_kind check_commands(checker *c)
{
    perch_err_kind rc;
    size_t k = 0;
    for (pl_command *cmd = c->f->commands; cmd; cmd = cmd->next) {
        pl_command *first = find_command(c, cmd->name.s);
        if (!is_name(cmd->name.s))
            return FAIL(c, cmd->name.pos, "command name '%s' is not a name", cmd->name.s);
        if (first != cmd)
            return FAIL(c, cmd->name.pos, "command %s is already defined at line %u",
                        cmd->name.s, (unsigned)first->pos.line);
        PB_TRY(check_args(c, cmd));
        for (pl_step *st = cmd->steps; st; st = st->next) {
            if (st->kind == PL_STEP_SHELL)
                PB_TRY(check_shell(c, cmd, st));
            else if (st->kind == PL_STEP_WASM)
                PB_TRY(check_wasm(c, cmd, st));
            else
                PB_TRY(check_call(c, cmd, st));
        }
        c->cmds[k++] = cmd;
    }
    for (k = 0; k < c->f->ncommands; k++)
        if (c->mark[k] == 0)
            PB_TRY(check_cycles(c, k));
    return PERCH_OK;
fail:
    return rc;
}

perch_err_kind pl_check(pl_file *f, perch_err *err)
{
    checker c = {f, NULL, NULL, err};
    perch_err_kind rc;
    size_t n = f->ncommands ? f->ncommands : 1;
    c.cmds = pb_calloc(n, sizeof(pl_command *));
    c.mark = pb_calloc(n, 1);
    if (!c.cmds || !c.mark) {
        rc = pb_fail(err, PERCH_E_IO, "out of memory");
        goto fail;
    }
    PB_TRY(check_bundle(&c));
    PB_TRY(check_requires(&c));
    PB_TRY(check_commands(&c));
fail:
    pb_free(c.cmds);
    pb_free(c.mark);
    return rc;
}
