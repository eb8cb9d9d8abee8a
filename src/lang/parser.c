/*
 * parser.c: tokens to the syntax tree of a .perch file (ast.h).
 *
 * Recursive descent over a fixed grammar: blocks nest at most four deep
 * (command, do, wasm_run, accept_manifest), so hostile nesting cannot
 * exhaust the stack, and every token is looked at a bounded number of
 * times. Each function opens with the rule it implements; the whole
 * grammar is in docs/perch-files.md.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "lang/lang.h"
#include "lang/lex.h"

typedef struct parser {
    const char *src;
    pl_token *t;
    size_t n;
    size_t i;
    pl_file *f;
    size_t statements;
    perch_err *err;
} parser;

static const pl_token *peek(const parser *p) { return &p->t[p->i]; }
static const pl_token *peek2(const parser *p, size_t k)
{
    return p->i + k < p->n ? &p->t[p->i + k] : &p->t[p->n - 1];
}

static bool tok_is(const parser *p, const pl_token *t, const char *kw)
{
    size_t len = strlen(kw);
    return t->kind == PL_T_WORD && t->len == len && memcmp(p->src + t->pos.off, kw, len) == 0;
}

static bool at(const parser *p, const char *kw) { return tok_is(p, peek(p), kw); }

static void fail_at(parser *p, pl_pos pos, const char *fmt, ...) PB_PRINTF(3, 4);
static void fail_at(parser *p, pl_pos pos, const char *fmt, ...)
{
    char text[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    pl_fail_pos(p->err, p->f->path, pos, "%s", text);
}

/* Report a grammar error; the expression's value is the kind. */
#define fail(p, ...) (fail_at((p), __VA_ARGS__), PERCH_E_PERCH_SYNTAX)

static perch_err_kind oom(parser *p)
{
    pb_fail(p->err, PERCH_E_IO, "out of memory");
    return PERCH_E_IO;
}

static void *node(parser *p, size_t size) { return pl_alloc(&p->f->arena, size); }

/* How a token reads in a message: 'word', a string, '>=', the end of the line. */
static void describe(const parser *p, const pl_token *t, char *buf, size_t cap)
{
    switch (t->kind) {
    case PL_T_WORD:
    case PL_T_OP: {
        size_t len = t->len > 40 ? 40 : t->len;
        while (len < t->len && len > 0 && (p->src[t->pos.off + len] & 0xc0) == 0x80)
            len--;
        snprintf(buf, cap, "'%.*s%s'", (int)len, p->src + t->pos.off, t->len > 40 ? "..." : "");
        break;
    }
    case PL_T_STRING: {
        size_t len = t->len - 2 > 40 ? 40 : t->len - 2;
        while (len < t->len - 2 && len > 0 && (p->src[t->pos.off + 1 + len] & 0xc0) == 0x80)
            len--;
        snprintf(buf, cap, "string %c%.*s%s%c", p->src[t->pos.off], (int)len,
                 p->src + t->pos.off + 1, t->len - 2 > 40 ? "..." : "", p->src[t->pos.off]);
        break;
    }
    case PL_T_NL:
        snprintf(buf, cap, "the end of the line");
        break;
    case PL_T_EOF:
        snprintf(buf, cap, "the end of the file");
        break;
    }
}

/* Copy token t into w (a string without its quotes) and step over it. */
static perch_err_kind take(parser *p, pl_word *w)
{
    const pl_token *t = peek(p);
    bool quoted = t->kind == PL_T_STRING;
    const char *s = p->src + t->pos.off + (quoted ? 1 : 0);
    size_t len = t->len - (quoted ? 2u : 0u);
    w->next = NULL;
    w->s = pl_strndup(&p->f->arena, s, len);
    if (!w->s)
        return oom(p);
    w->pos = t->pos;
    w->quoted = quoted;
    p->i++;
    return PERCH_OK;
}

static perch_err_kind take_new(parser *p, pl_word **out)
{
    pl_word *w = node(p, sizeof *w);
    if (!w)
        return oom(p);
    *out = w;
    return take(p, w);
}

static perch_err_kind expect_string(parser *p, const char *after, pl_word *w)
{
    if (peek(p)->kind != PL_T_STRING)
        return fail(p, peek(p)->pos, "expected a string after %s", after);
    return take(p, w);
}

/* The statement ends here: a new line must follow. */
static perch_err_kind end_line(parser *p, const char *stmt)
{
    char what[64];
    if (peek(p)->kind == PL_T_NL) {
        p->i++;
        return PERCH_OK;
    }
    describe(p, peek(p), what, sizeof what);
    return fail(p, peek(p)->pos, "unexpected %s after %s (one statement per line)", what, stmt);
}

/* Count a statement; the limit keeps every later pass cheap. */
static perch_err_kind statement(parser *p)
{
    if (++p->statements > PL_MAX_STATEMENTS)
        return fail(p, peek(p)->pos, "too many statements (more than %d)", PL_MAX_STATEMENTS);
    return PERCH_OK;
}

static perch_err_kind missing_end(parser *p, const char *what, pl_pos opened)
{
    return fail(p, peek(p)->pos, "expected 'end' to close %s opened at line %u", what,
                (unsigned)opened.line);
}

/* "end" NL, closing what was opened at opened. */
static perch_err_kind close_block(parser *p, const char *what, pl_pos opened)
{
    if (!at(p, "end"))
        return missing_end(p, what, opened);
    p->i++;
    return end_line(p, "end");
}

#define APPEND(tail, nd) (*(tail) = (nd), (tail) = &(nd)->next)

/* ---- bundle ----------------------------------------------------------------- */

/* The name an include gets without "as": the file's base name without .wasm. */
static perch_err_kind default_name(parser *p, pl_include *inc)
{
    const char *path = inc->path.s;
    const char *base = strrchr(path, '/');
    size_t len;
    base = base ? base + 1 : path;
    len = strlen(base);
    if (len > 5 && strcmp(base + len - 5, ".wasm") == 0)
        len -= 5;
    inc->name.s = pl_strndup(&p->f->arena, base, len);
    if (!inc->name.s)
        return oom(p);
    inc->name.pos = inc->path.pos;
    inc->name.quoted = true;
    return PERCH_OK;
}

/*
 * bundle  -> "bundle" NL { include NL } "end" NL
 * include -> "include" STRING [ "as" WORD ]
 */
static perch_err_kind parse_bundle(parser *p)
{
    pl_pos opened = peek(p)->pos;
    pl_include **tail = &p->f->includes;
    perch_err_kind rc;
    while (*tail)
        tail = &(*tail)->next;
    p->f->has_bundle = true;
    p->i++;
    PB_TRY(end_line(p, "bundle"));
    while (!at(p, "end")) {
        pl_include *inc;
        if (peek(p)->kind == PL_T_EOF)
            return missing_end(p, "bundle", opened);
        if (!at(p, "include")) {
            char what[64];
            describe(p, peek(p), what, sizeof what);
            return fail(p, peek(p)->pos, "unexpected %s in bundle (expected include or end)",
                        what);
        }
        PB_TRY(statement(p));
        inc = node(p, sizeof *inc);
        if (!inc)
            return oom(p);
        inc->pos = peek(p)->pos;
        p->i++;
        PB_TRY(expect_string(p, "include", &inc->path));
        if (at(p, "as")) {
            p->i++;
            if (peek(p)->kind != PL_T_WORD)
                return fail(p, peek(p)->pos, "expected a bundle name after as");
            PB_TRY(take(p, &inc->name));
        } else {
            PB_TRY(default_name(p, inc));
        }
        PB_TRY(end_line(p, "include"));
        APPEND(tail, inc);
        p->f->nincludes++;
    }
    return close_block(p, "bundle", opened);
fail:
    return rc;
}

/* ---- requires --------------------------------------------------------------- */

static pl_cmp cmp_of(const parser *p, const pl_token *t)
{
    static const struct {
        const char *op;
        pl_cmp cmp;
    } ops[] = {{">=", PL_CMP_GE}, {">", PL_CMP_GT}, {"=", PL_CMP_EQ}, {"<", PL_CMP_LT},
               {"<=", PL_CMP_LE}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (t->len == strlen(ops[i].op) && memcmp(p->src + t->pos.off, ops[i].op, t->len) == 0)
            return ops[i].cmp;
    return PL_CMP_NONE;
}

/* Whether the line after a bin line belongs to it: a hash line, or a
 * hash_file line with one string (two strings is requires' own hash_file). */
static bool bin_block_follows(const parser *p)
{
    if (at(p, "hash"))
        return true;
    return at(p, "hash_file") && peek2(p, 1)->kind == PL_T_STRING &&
           peek2(p, 2)->kind == PL_T_NL;
}

/*
 * bin      -> "bin" STRING { "as" WORD | "optional" | OP STRING | "hash" STRING } NL
 *             [ binline NL { binline NL } "end" NL ]
 * binline  -> "hash" STRING | "hash_file" STRING
 */
static perch_err_kind parse_bin(parser *p, pl_req *r)
{
    pl_pos opened = r->pos;
    perch_err_kind rc;
    PB_TRY(expect_string(p, "bin", &r->value));
    while (peek(p)->kind != PL_T_NL) {
        const pl_token *t = peek(p);
        if (tok_is(p, t, "as") && !r->alias.s) {
            p->i++;
            if (peek(p)->kind != PL_T_WORD)
                return fail(p, peek(p)->pos, "expected a name after as");
            PB_TRY(take(p, &r->alias));
        } else if (tok_is(p, t, "optional") && !r->optional) {
            r->optional = true;
            p->i++;
        } else if (t->kind == PL_T_OP && r->cmp == PL_CMP_NONE) {
            char op[4];
            snprintf(op, sizeof op, "%.*s", (int)t->len, p->src + t->pos.off);
            r->cmp = cmp_of(p, t);
            p->i++;
            if (peek(p)->kind != PL_T_STRING)
                return fail(p, peek(p)->pos, "expected a version string after %s", op);
            PB_TRY(take(p, &r->version));
        } else if (tok_is(p, t, "hash") && !r->hash.s) {
            p->i++;
            PB_TRY(expect_string(p, "hash", &r->hash));
        } else {
            char what[64];
            describe(p, t, what, sizeof what);
            return fail(p, t->pos,
                        "unexpected %s in bin (expected as, optional, a version comparison "
                        "or hash)",
                        what);
        }
    }
    p->i++;
    if (!bin_block_follows(p))
        return PERCH_OK;
    while (!at(p, "end")) {
        PB_TRY(statement(p));
        if (at(p, "hash")) {
            if (r->hash.s)
                return fail(p, peek(p)->pos, "bin \"%s\" has a hash already", r->value.s);
            p->i++;
            PB_TRY(expect_string(p, "hash", &r->hash));
            PB_TRY(end_line(p, "hash"));
        } else if (at(p, "hash_file")) {
            if (r->hash_file.s)
                return fail(p, peek(p)->pos, "bin \"%s\" has a hash_file already", r->value.s);
            p->i++;
            PB_TRY(expect_string(p, "hash_file", &r->hash_file));
            PB_TRY(end_line(p, "hash_file"));
        } else if (peek(p)->kind == PL_T_EOF) {
            return missing_end(p, "bin", opened);
        } else {
            char what[64];
            describe(p, peek(p), what, sizeof what);
            return fail(p, peek(p)->pos,
                        "unexpected %s in a bin block (expected hash, hash_file or end)", what);
        }
    }
    return close_block(p, "bin", opened);
fail:
    return rc;
}

/*
 * requires -> "requires" NL { reqline NL } "end" NL
 * reqline  -> bin | "env" STRING [ "optional" ] | "host" STRING [ "optional" ]
 *           | "os" STRING | "arch" STRING | "hash_file" STRING STRING
 *           | "read" STRING | "write" STRING
 */
static perch_err_kind parse_requires(parser *p)
{
    static const struct {
        const char *kw;
        pl_req_kind kind;
    } kws[] = {{"bin", PL_REQ_BIN},   {"env", PL_REQ_ENV},   {"host", PL_REQ_HOST},
               {"os", PL_REQ_OS},     {"arch", PL_REQ_ARCH}, {"hash_file", PL_REQ_HASH_FILE},
               {"read", PL_REQ_READ}, {"write", PL_REQ_WRITE}};
    pl_pos opened = peek(p)->pos;
    pl_req **tail = &p->f->reqs;
    perch_err_kind rc;
    while (*tail)
        tail = &(*tail)->next;
    p->f->has_requires = true;
    p->i++;
    PB_TRY(end_line(p, "requires"));
    while (!at(p, "end")) {
        pl_req *r;
        size_t k = 0;
        if (peek(p)->kind == PL_T_EOF)
            return missing_end(p, "requires", opened);
        while (k < sizeof kws / sizeof kws[0] && !at(p, kws[k].kw))
            k++;
        if (k == sizeof kws / sizeof kws[0]) {
            char what[64];
            describe(p, peek(p), what, sizeof what);
            return fail(p, peek(p)->pos,
                        "unknown requirement %s (expected bin, env, host, os, arch, hash_file, "
                        "read, write or end)",
                        what);
        }
        PB_TRY(statement(p));
        r = node(p, sizeof *r);
        if (!r)
            return oom(p);
        r->kind = kws[k].kind;
        r->pos = peek(p)->pos;
        p->i++;
        if (r->kind == PL_REQ_BIN) {
            PB_TRY(parse_bin(p, r));
        } else {
            PB_TRY(expect_string(p, kws[k].kw, &r->value));
            if (r->kind == PL_REQ_HASH_FILE) {
                if (peek(p)->kind != PL_T_STRING)
                    return fail(p, peek(p)->pos,
                                "expected a digest string after hash_file \"%s\" "
                                "(\"sha256:HEX\")",
                                r->value.s);
                PB_TRY(take(p, &r->hash));
            }
            if ((r->kind == PL_REQ_ENV || r->kind == PL_REQ_HOST) && at(p, "optional")) {
                r->optional = true;
                p->i++;
            }
            PB_TRY(end_line(p, kws[k].kw));
        }
        APPEND(tail, r);
        p->f->nreqs++;
    }
    return close_block(p, "requires", opened);
fail:
    return rc;
}

/* ---- commands --------------------------------------------------------------- */

static pl_type type_of(const char *s)
{
    static const char *const names[] = {"string", "int", "bool", "path", "float"};
    static const pl_type types[] = {PL_TYPE_STRING, PL_TYPE_INT, PL_TYPE_BOOL, PL_TYPE_PATH,
                                    PL_TYPE_FLOAT};
    if (!s)
        return PL_TYPE_STRING;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i]) == 0)
            return types[i];
    return PL_TYPE_UNKNOWN;
}

static bool at_arg_option(const parser *p)
{
    return at(p, "type") || at(p, "default") || at(p, "description") || at(p, "optional") ||
           at(p, "index") || at(p, "rest");
}

/* default (STRING | WORD): quotes are optional on a default, as in the Go form. */
static perch_err_kind arg_default(parser *p, pl_arg *a)
{
    if (a->def.s)
        return fail(p, peek(p)->pos, "arg %s has a default already", a->name.s);
    p->i++;
    if (peek(p)->kind != PL_T_STRING && peek(p)->kind != PL_T_WORD)
        return fail(p, peek(p)->pos, "expected a value after default");
    return take(p, &a->def);
}

/*
 * arg     -> "arg" WORD [ WORD ] [ STRING ] { "default" VALUE | "optional" | "rest" } NL
 *          | "arg" WORD NL argline NL { argline NL } "end" NL
 * argline -> "type" WORD | "default" VALUE | "description" STRING | "optional"
 *          | "index" WORD | "rest"
 */
static perch_err_kind parse_arg(parser *p, pl_arg *a)
{
    pl_pos opened = a->pos;
    perch_err_kind rc;
    if (peek(p)->kind != PL_T_WORD)
        return fail(p, peek(p)->pos, "expected an argument name after arg");
    PB_TRY(take(p, &a->name));
    if (peek(p)->kind == PL_T_NL) {
        p->i++;
        if (!at_arg_option(p)) {
            a->type = PL_TYPE_STRING;
            return PERCH_OK;
        }
        while (!at(p, "end")) {
            PB_TRY(statement(p));
            if (at(p, "type") && !a->type_name.s) {
                p->i++;
                if (peek(p)->kind != PL_T_WORD && peek(p)->kind != PL_T_STRING)
                    return fail(p, peek(p)->pos, "expected a type after type");
                PB_TRY(take(p, &a->type_name));
            } else if (at(p, "default")) {
                PB_TRY(arg_default(p, a));
            } else if (at(p, "description") && !a->description.s) {
                p->i++;
                PB_TRY(expect_string(p, "description", &a->description));
            } else if (at(p, "optional")) {
                a->optional = true;
                p->i++;
            } else if (at(p, "index") && !a->index.s) {
                p->i++;
                if (peek(p)->kind != PL_T_WORD)
                    return fail(p, peek(p)->pos, "expected a number after index");
                PB_TRY(take(p, &a->index));
            } else if (at(p, "rest")) {
                a->rest = true;
                p->i++;
            } else if (peek(p)->kind == PL_T_EOF) {
                return missing_end(p, "arg", opened);
            } else {
                char what[64];
                describe(p, peek(p), what, sizeof what);
                return fail(p, peek(p)->pos,
                            "unexpected %s in arg %s (expected type, default, description, "
                            "optional, index, rest or end; each once)",
                            what, a->name.s);
            }
            PB_TRY(end_line(p, "arg option"));
        }
        a->type = type_of(a->type_name.s);
        return close_block(p, "arg", opened);
    }
    if (peek(p)->kind == PL_T_WORD && !at(p, "default") && !at(p, "optional") && !at(p, "rest"))
        PB_TRY(take(p, &a->type_name));
    if (peek(p)->kind == PL_T_STRING)
        PB_TRY(take(p, &a->description));
    while (peek(p)->kind != PL_T_NL) {
        if (at(p, "default")) {
            PB_TRY(arg_default(p, a));
        } else if (at(p, "optional")) {
            a->optional = true;
            p->i++;
        } else if (at(p, "rest")) {
            a->rest = true;
            p->i++;
        } else {
            char what[64];
            describe(p, peek(p), what, sizeof what);
            return fail(p, peek(p)->pos,
                        "unexpected %s in arg %s (expected NAME TYPE \"DESCRIPTION\" "
                        "[default VALUE] [optional])",
                        what, a->name.s);
        }
    }
    a->type = type_of(a->type_name.s);
    return end_line(p, "arg");
fail:
    return rc;
}

static pl_cap cap_of(const char *s)
{
    static const struct {
        const char *name;
        pl_cap cap;
    } caps[] = {{"wasm_mount_read", PL_CAP_READ}, {"read", PL_CAP_READ},
                {"wasm_mount_write", PL_CAP_WRITE}, {"write", PL_CAP_WRITE},
                {"wasm_allow_host", PL_CAP_NET}, {"net", PL_CAP_NET},
                {"wasm_env", PL_CAP_ENV}, {"env", PL_CAP_ENV}};
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
        if (strcmp(s, caps[i].name) == 0)
            return caps[i].cap;
    return PL_CAP_UNKNOWN;
}

/* deny STRING [ STRING ]  |  grant STRING STRING */
static perch_err_kind parse_capline(parser *p, bool grant, pl_capline **out)
{
    const char *kw = grant ? "grant" : "deny";
    pl_capline *c = node(p, sizeof *c);
    perch_err_kind rc;
    if (!c)
        return oom(p);
    c->pos = peek(p)->pos;
    p->i++;
    if (peek(p)->kind != PL_T_STRING)
        return fail(p, peek(p)->pos, "expected a capability string after %s (\"wasm_allow_host\", "
                                     "\"wasm_env\", \"wasm_mount_read\" or \"wasm_mount_write\")",
                    kw);
    PB_TRY(take(p, &c->cap_name));
    c->cap = cap_of(c->cap_name.s);
    if (peek(p)->kind == PL_T_STRING)
        PB_TRY(take(p, &c->value));
    else if (grant)
        return fail(p, peek(p)->pos, "expected a value after grant \"%s\"", c->cap_name.s);
    PB_TRY(end_line(p, kw));
    *out = c;
    return PERCH_OK;
fail:
    return rc;
}

/* The guest path of a mount without "as": /ro/<base name> or /rw/<base name>. */
static perch_err_kind default_guest(parser *p, pl_mount *m)
{
    const char *h = m->host.s;
    size_t end = strlen(h), start;
    char *g;
    while (end > 1 && h[end - 1] == '/')
        end--;
    start = end;
    while (start > 0 && h[start - 1] != '/')
        start--;
    g = pl_alloc(&p->f->arena, end - start + 5);
    if (!g)
        return oom(p);
    snprintf(g, end - start + 5, "%s%.*s", m->write ? "/rw/" : "/ro/", (int)(end - start),
             h + start);
    m->guest.s = g;
    m->guest.pos = m->host.pos;
    m->guest.quoted = true;
    return PERCH_OK;
}

/* wasm_env "A,B": one entry per name; positions point at each name. */
static perch_err_kind split_env(parser *p, const pl_word *w, pl_word ***tail)
{
    const char *s = w->s;
    size_t i = 0;
    for (;;) {
        size_t a = i, b;
        pl_word *e;
        while (s[i] && s[i] != ',')
            i++;
        b = i;
        while (a < b && s[a] == ' ')
            a++;
        while (b > a && s[b - 1] == ' ')
            b--;
        e = node(p, sizeof *e);
        if (!e || !(e->s = pl_strndup(&p->f->arena, s + a, b - a)))
            return oom(p);
        e->pos = pl_pos_in(w, a);
        e->quoted = false;
        **tail = e;
        *tail = &e->next;
        if (!s[i])
            return PERCH_OK;
        i++;
    }
}

static perch_err_kind outside_wasm_run(parser *p, const char *kw)
{
    return fail(p, peek(p)->pos, "%s is only valid inside a wasm_run block", kw);
}

static bool at_wasm_line(const parser *p)
{
    static const char *const kws[] = {"wasm_arg",        "wasm_mount_read", "wasm_mount_write",
                                      "wasm_env",        "wasm_allow_host", "accept_manifest",
                                      "grant",           "require_signer",  "deny"};
    for (size_t i = 0; i < sizeof kws / sizeof kws[0]; i++)
        if (at(p, kws[i]))
            return true;
    return false;
}

/*
 * wasm_run -> "wasm_run" ( WORD | STRING ) NL { wasmline NL } "end" NL
 * wasmline -> "wasm_arg" ( STRING | WORD )
 *           | ( "wasm_mount_read" | "wasm_mount_write" ) STRING [ "as" STRING ]
 *           | "wasm_env" STRING | "wasm_allow_host" STRING
 *           | "accept_manifest" [ NL deny NL { deny NL } "end" ]
 *           | "grant" STRING STRING | "require_signer" STRING
 * deny     -> "deny" STRING [ STRING ]
 */
static perch_err_kind parse_wasm_run(parser *p, pl_step *st)
{
    pl_wasm *w = &st->wasm;
    pl_pos opened = st->pos;
    pl_word **args = &w->args, **env = &w->env, **hosts = &w->hosts, **signers = &w->signers;
    pl_mount **mounts = &w->mounts;
    pl_capline **denies = &w->denies, **grants = &w->grants;
    perch_err_kind rc;
    p->i++;
    if (peek(p)->kind != PL_T_WORD && peek(p)->kind != PL_T_STRING)
        return fail(p, peek(p)->pos,
                    "expected a bundle name or a quoted module path after wasm_run");
    w->module_is_path = peek(p)->kind == PL_T_STRING;
    PB_TRY(take(p, &w->module));
    PB_TRY(end_line(p, "wasm_run"));
    while (!at(p, "end")) {
        const pl_token *t = peek(p);
        if (t->kind == PL_T_EOF)
            return missing_end(p, "wasm_run", opened);
        PB_TRY(statement(p));
        if (at(p, "wasm_arg")) {
            pl_word *a = NULL;
            p->i++;
            if (peek(p)->kind != PL_T_STRING && peek(p)->kind != PL_T_WORD)
                return fail(p, peek(p)->pos, "expected a string or an argument name after "
                                             "wasm_arg");
            PB_TRY(take_new(p, &a));
            APPEND(args, a);
            PB_TRY(end_line(p, "wasm_arg"));
        } else if (at(p, "wasm_mount_read") || at(p, "wasm_mount_write")) {
            pl_mount *m = node(p, sizeof *m);
            const char *kw;
            if (!m)
                return oom(p);
            m->pos = t->pos;
            m->write = at(p, "wasm_mount_write");
            kw = m->write ? "wasm_mount_write" : "wasm_mount_read";
            p->i++;
            PB_TRY(expect_string(p, kw, &m->host));
            if (at(p, "as")) {
                p->i++;
                PB_TRY(expect_string(p, "as", &m->guest));
                m->guest_given = true;
            } else {
                PB_TRY(default_guest(p, m));
            }
            APPEND(mounts, m);
            PB_TRY(end_line(p, kw));
        } else if (at(p, "wasm_env")) {
            pl_word names;
            memset(&names, 0, sizeof names);
            p->i++;
            PB_TRY(expect_string(p, "wasm_env", &names));
            PB_TRY(split_env(p, &names, &env));
            PB_TRY(end_line(p, "wasm_env"));
        } else if (at(p, "wasm_allow_host")) {
            pl_word *h = NULL;
            p->i++;
            if (peek(p)->kind != PL_T_STRING)
                return fail(p, peek(p)->pos, "expected a string after wasm_allow_host");
            PB_TRY(take_new(p, &h));
            APPEND(hosts, h);
            PB_TRY(end_line(p, "wasm_allow_host"));
        } else if (at(p, "require_signer")) {
            pl_word *s = NULL;
            p->i++;
            if (peek(p)->kind != PL_T_STRING)
                return fail(p, peek(p)->pos, "expected a string after require_signer "
                                             "(\"ed25519:NAME\")");
            PB_TRY(take_new(p, &s));
            APPEND(signers, s);
            PB_TRY(end_line(p, "require_signer"));
        } else if (at(p, "grant")) {
            pl_capline *c = NULL;
            PB_TRY(parse_capline(p, true, &c));
            APPEND(grants, c);
        } else if (at(p, "deny")) {
            return fail(p, t->pos, "deny is only valid inside an accept_manifest block");
        } else if (at(p, "accept_manifest")) {
            pl_pos apos = t->pos;
            if (w->accept)
                return fail(p, t->pos, "accept_manifest appears twice in this wasm_run "
                                       "(first at line %u)",
                            (unsigned)w->accept_pos.line);
            w->accept = true;
            w->accept_pos = apos;
            p->i++;
            PB_TRY(end_line(p, "accept_manifest"));
            if (at(p, "deny")) {
                while (!at(p, "end")) {
                    pl_capline *c = NULL;
                    if (peek(p)->kind == PL_T_EOF)
                        return missing_end(p, "accept_manifest", apos);
                    if (!at(p, "deny")) {
                        char what[64];
                        describe(p, peek(p), what, sizeof what);
                        return fail(p, peek(p)->pos,
                                    "unexpected %s in accept_manifest (expected deny or end)",
                                    what);
                    }
                    PB_TRY(statement(p));
                    PB_TRY(parse_capline(p, false, &c));
                    APPEND(denies, c);
                }
                PB_TRY(close_block(p, "accept_manifest", apos));
            }
        } else {
            char what[64];
            describe(p, t, what, sizeof what);
            return fail(p, t->pos,
                        "unexpected %s in wasm_run (expected wasm_arg, wasm_mount_read, "
                        "wasm_mount_write, wasm_env, wasm_allow_host, accept_manifest, grant, "
                        "require_signer or end)",
                        what);
        }
    }
    return close_block(p, "wasm_run", opened);
fail:
    return rc;
}

/*
 * do   -> "do" NL { step NL } "end" NL
 * step -> "shell" STRING | wasm_run | call
 * call -> WORD { WORD | STRING }
 */
static perch_err_kind parse_do(parser *p, pl_command *c)
{
    pl_pos opened = peek(p)->pos;
    pl_step **tail = &c->steps;
    perch_err_kind rc;
    p->i++;
    PB_TRY(end_line(p, "do"));
    while (!at(p, "end")) {
        const pl_token *t = peek(p);
        pl_step *st;
        if (t->kind == PL_T_EOF)
            return missing_end(p, "do", opened);
        /* block keywords cannot be step names: a missing end shows where it is missing */
        if (t->kind != PL_T_WORD || at(p, "command") || at(p, "do") || at(p, "arg") ||
            at(p, "bundle") || at(p, "requires") || at(p, "include")) {
            char what[64];
            describe(p, t, what, sizeof what);
            return fail(p, t->pos, "unexpected %s in do (expected shell, wasm_run, a command "
                                   "or bin name, or end)",
                        what);
        }
        if (at_wasm_line(p)) {
            char kw[32];
            snprintf(kw, sizeof kw, "%.*s", (int)t->len, p->src + t->pos.off);
            return outside_wasm_run(p, kw);
        }
        PB_TRY(statement(p));
        st = node(p, sizeof *st);
        if (!st)
            return oom(p);
        st->pos = t->pos;
        if (at(p, "shell")) {
            st->kind = PL_STEP_SHELL;
            p->i++;
            PB_TRY(expect_string(p, "shell", &st->text));
            PB_TRY(end_line(p, "shell"));
        } else if (at(p, "wasm_run")) {
            st->kind = PL_STEP_WASM;
            PB_TRY(parse_wasm_run(p, st));
        } else {
            pl_word **argv = &st->argv;
            st->kind = PL_STEP_CALL;
            PB_TRY(take(p, &st->name));
            while (peek(p)->kind == PL_T_WORD || peek(p)->kind == PL_T_STRING) {
                pl_word *a = NULL;
                PB_TRY(take_new(p, &a));
                APPEND(argv, a);
            }
            PB_TRY(end_line(p, st->name.s));
        }
        APPEND(tail, st);
        c->nsteps++;
    }
    return close_block(p, "do", opened);
fail:
    return rc;
}

/*
 * command -> "command" WORD NL { config NL } do "end" NL
 * config  -> arg | "description" STRING
 */
static perch_err_kind parse_command(parser *p)
{
    pl_command *c = node(p, sizeof *c), **tail = &p->f->commands;
    pl_arg **args;
    perch_err_kind rc;
    bool has_do = false;
    if (!c)
        return oom(p);
    while (*tail)
        tail = &(*tail)->next;
    args = &c->args;
    c->pos = peek(p)->pos;
    p->i++;
    if (peek(p)->kind != PL_T_WORD)
        return fail(p, peek(p)->pos, "expected a command name after command");
    PB_TRY(take(p, &c->name));
    PB_TRY(end_line(p, "command"));
    while (!at(p, "end")) {
        const pl_token *t = peek(p);
        if (t->kind == PL_T_EOF)
            return missing_end(p, "command", c->pos);
        if (has_do)
            return missing_end(p, "command", c->pos);
        PB_TRY(statement(p));
        if (at(p, "arg")) {
            pl_arg *a = node(p, sizeof *a);
            if (!a)
                return oom(p);
            a->pos = t->pos;
            p->i++;
            PB_TRY(parse_arg(p, a));
            APPEND(args, a);
            c->nargs++;
        } else if (at(p, "description") && !c->description.s) {
            p->i++;
            PB_TRY(expect_string(p, "description", &c->description));
            PB_TRY(end_line(p, "description"));
        } else if (at(p, "do")) {
            PB_TRY(parse_do(p, c));
            has_do = true;
        } else {
            char what[64];
            describe(p, t, what, sizeof what);
            return fail(p, t->pos,
                        "unexpected %s in command %s (expected arg, description or do)", what,
                        c->name.s);
        }
    }
    if (!has_do)
        return fail(p, peek(p)->pos, "command %s has no do block", c->name.s);
    PB_TRY(close_block(p, "command", c->pos));
    APPEND(tail, c);
    p->f->ncommands++;
    return PERCH_OK;
fail:
    return rc;
}

/*
 * file -> { bundle | requires | command | meta } EOF
 * meta -> ( "name" | "about" | "version" ) STRING NL
 */
static perch_err_kind parse_file(parser *p)
{
    perch_err_kind rc;
    while (peek(p)->kind != PL_T_EOF) {
        const pl_token *t = peek(p);
        if (t->kind == PL_T_NL) {
            p->i++;
            continue;
        }
        PB_TRY(statement(p));
        if (at(p, "bundle")) {
            PB_TRY(parse_bundle(p));
        } else if (at(p, "requires")) {
            PB_TRY(parse_requires(p));
        } else if (at(p, "command")) {
            PB_TRY(parse_command(p));
        } else if (at(p, "name") || at(p, "about") || at(p, "version")) {
            pl_word *w = at(p, "name") ? &p->f->meta_name
                         : at(p, "about") ? &p->f->about
                                          : &p->f->version;
            char kw[8];
            snprintf(kw, sizeof kw, "%.*s", (int)t->len, p->src + t->pos.off);
            if (w->s)
                return fail(p, t->pos, "%s is given twice", kw);
            p->i++;
            PB_TRY(expect_string(p, kw, w));
            PB_TRY(end_line(p, kw));
        } else if (at_wasm_line(p) || at(p, "wasm_run") || at(p, "shell")) {
            char kw[32];
            snprintf(kw, sizeof kw, "%.*s", (int)t->len, p->src + t->pos.off);
            return fail(p, t->pos, "%s is only valid inside a command's do block", kw);
        } else {
            char what[64];
            describe(p, t, what, sizeof what);
            return fail(p, t->pos, "unexpected %s at the top level (expected bundle, requires "
                                   "or command)",
                        what);
        }
    }
    return PERCH_OK;
fail:
    return rc;
}

perch_err_kind pl_parse(const char *path, const char *src, size_t len, pl_file **out,
                        perch_err *err)
{
    parser p = {src, NULL, 0, 0, NULL, 0, err};
    perch_err_kind rc;
    *out = NULL;
    p.f = pb_calloc(1, sizeof *p.f);
    if (!p.f)
        return pb_fail(err, PERCH_E_IO, "out of memory");
    p.f->path = pl_strndup(&p.f->arena, path, strlen(path));
    if (!p.f->path) {
        rc = pb_fail(err, PERCH_E_IO, "out of memory");
        goto fail;
    }
    PB_TRY(pl_lex(path, src, len, &p.t, &p.n, err));
    PB_TRY(parse_file(&p));
    pb_free(p.t);
    *out = p.f;
    return PERCH_OK;
fail:
    pb_free(p.t);
    pl_file_free(p.f);
    return rc;
}

void pl_file_free(pl_file *f)
{
    if (!f)
        return;
    pl_arena_free(&f->arena);
    pb_free(f);
}

perch_err_kind pl_load(const char *path, pb_buf *src, pl_file **out, perch_err *err)
{
    perch_err_kind rc;
    struct stat st;
    *out = NULL;
    memset(src, 0, sizeof *src);
    /* the threat: a huge file read whole before the limit is checked */
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size > PL_MAX_FILE) {
        pl_pos start = {1, 1, 0};
        return pl_fail_pos(err, path, start, "file is larger than %zu bytes", PL_MAX_FILE);
    }
    PB_TRY(pb_file_read(path, src, err));
    PB_TRY(pl_parse(path, (const char *)src->data, src->len, out, err));
    rc = pl_check(*out, err);
    if (rc != PERCH_OK) {
        pl_file_free(*out);
        *out = NULL;
    }
    return rc;
fail:
    return rc;
}

const char *pl_type_name(pl_type t)
{
    static const char *const names[] = {"unknown", "string", "int", "bool", "path", "float"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

const char *pl_cap_name(pl_cap c)
{
    static const char *const names[] = {"read", "write", "net", "env", "unknown"};
    return (unsigned)c < sizeof names / sizeof names[0] ? names[c] : "unknown";
}

const char *pl_cmp_name(pl_cmp c)
{
    static const char *const names[] = {"", ">=", ">", "=", "<", "<="};
    return (unsigned)c < sizeof names / sizeof names[0] ? names[c] : "";
}
