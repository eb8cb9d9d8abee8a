/*
 * policy.c: `perch policy show` prints the policy in effect here (every
 * policy file found, plus the restriction flags given) with the file, line
 * or flag each rule comes from; `perch policy check FILE` validates one
 * file. The restriction flags are parsed here for every command that takes
 * them (cli_policy_option).
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "policy/policy.h"

static const char help[] =
    "usage: perch policy show [RESTRICTIONS] [--format json]\n"
    "       perch policy check FILE\n"
    "\n"
    "Host policy files narrow what every module may get. perch reads\n"
    "$XDG_CONFIG_HOME/perch/policy.yaml (default ~/.config/perch/policy.yaml)\n"
    "and the nearest .perch-policy.yaml in the current directory or a parent\n"
    "of it; both apply. docs/policy.md describes the format.\n"
    "\n"
    "  show    print the policy in effect: every rule, and the file:line:column\n"
    "          or flag it comes from; the restriction flags given are shown as\n"
    "          the rules they add\n"
    "  check   validate FILE as a policy and print 'ok: FILE'\n"
    "\n"
    "restrictions (as for the run commands):\n"
    "  --no-network          refuse every network need\n"
    "  --no-write            refuse every write need\n"
    "  --untrusted           refuse every network, write and environment need\n"
    "  --deny CAP            refuse what CAP names: read, write, net or env, alone\n"
    "                        or as KIND:PATTERN (env:DEBUG, net:*.example.com:443)\n"
    "  --allow-host HOST[:PORT]  refuse network needs outside these entries\n"
    "                        (port 443 when none is given); repeatable\n"
    "  --memory-max BYTES    cap linear memory\n"
    "  --unsigned-allow, --unsigned-deny  the posture for unsigned modules\n"
    "\n"
    "options:\n"
    "  --format json         print JSON instead of text\n"
    "  -h, --help            print this help\n"
    "\n"
    "exit status: 0 success; 2 an error (usage, io, policy_invalid with\n"
    "FILE:LINE:COLUMN).\n";

int cli_policy_option(const char *cmd, int argc, char **argv, int *i, pp_flags *fl,
                      const char **deny, const char **allow_hosts)
{
    const char *a = argv[*i];
    const char *val = NULL;
    static const char *const bare[] = {"--no-network", "--no-write", "--untrusted",
                                       "--unsigned-allow", "--unsigned-deny"};
    static const char *const valued[] = {"--deny", "--allow-host", "--memory-max"};
    size_t which = 0;
    bool found = false;

    for (size_t k = 0; k < sizeof bare / sizeof bare[0]; k++) {
        if (strcmp(a, bare[k]) == 0) {
            switch (k) {
            case 0: fl->no_network = true; break;
            case 1: fl->no_write = true; break;
            case 2: fl->untrusted = true; break;
            case 3:
            case 4:
                if (fl->unsigned_mode != PP_UNSIGNED_UNSET &&
                    fl->unsigned_mode != (k == 3 ? PP_UNSIGNED_ALLOW : PP_UNSIGNED_DENY)) {
                    cli_usage(cmd, "--unsigned-allow and --unsigned-deny exclude each other");
                    return -1;
                }
                fl->unsigned_mode = k == 3 ? PP_UNSIGNED_ALLOW : PP_UNSIGNED_DENY;
                break;
            }
            return 1;
        }
    }
    for (size_t k = 0; k < sizeof valued / sizeof valued[0] && !found; k++) {
        size_t n = strlen(valued[k]);
        if (strcmp(a, valued[k]) == 0) {
            if (*i + 1 >= argc) {
                cli_usage(cmd, "option '%s' needs a value", valued[k]);
                return -1;
            }
            val = argv[++*i];
        } else if (strncmp(a, valued[k], n) == 0 && a[n] == '=') {
            val = a + n + 1;
        } else {
            continue;
        }
        which = k;
        found = true;
    }
    if (!found)
        return 0;
    if (which == 0) {
        perch_err err;
        pp_kind kind;
        const char *pattern;
        perch_err_clear(&err);
        if (pp_parse_cap(val, &kind, &pattern, &err)) {
            cli_usage(cmd, "--deny: %s", err.message);
            return -1;
        }
        deny[fl->ndeny++] = val;
        fl->deny = deny;
    } else if (which == 1) {
        if (!*val) {
            cli_usage(cmd, "--allow-host needs HOST or HOST:PORT");
            return -1;
        }
        allow_hosts[fl->nallow_hosts++] = val;
        fl->allow_hosts = allow_hosts;
    } else {
        char *end;
        unsigned long long v;
        errno = 0;
        v = strtoull(val, &end, 10);
        if (!*val || *val == '-' || *end || errno || v > PM_MEMORY_LIMIT) {
            cli_usage(cmd, "--memory-max needs a number of bytes (at most %llu)",
                      (unsigned long long)PM_MEMORY_LIMIT);
            return -1;
        }
        if (!fl->has_memory_max || v < fl->memory_max)
            fl->memory_max = v;
        fl->has_memory_max = true;
    }
    return 1;
}

/* ---- rows: one rule, its value, its layer and where it comes from ------------------ */

typedef struct row {
    char rule[32];
    char *value;  /* owned */
    const char *layer;
    char *from;   /* owned */
} row;

typedef struct rows {
    row *v;
    size_t n, cap;
    bool oom;
} rows;

static void add(rows *r, const char *rule, const char *value, const char *layer,
                const char *from)
{
    row *w;
    if (r->oom)
        return;
    if (r->n == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 32;
        row *v = pb_realloc(r->v, ncap * sizeof *v);
        if (!v) {
            r->oom = true;
            return;
        }
        r->v = v;
        r->cap = ncap;
    }
    w = &r->v[r->n];
    snprintf(w->rule, sizeof w->rule, "%s", rule);
    w->layer = layer;
    w->value = pb_strdup(value);
    w->from = pb_strdup(from);
    if (!w->value || !w->from) {
        pb_free(w->value);
        pb_free(w->from);
        r->oom = true;
        return;
    }
    r->n++;
}

static void rows_free(rows *r)
{
    for (size_t i = 0; i < r->n; i++) {
        pb_free(r->v[i].value);
        pb_free(r->v[i].from);
    }
    pb_free(r->v);
}

static void where(char *buf, size_t cap, const pp_policy *p, pp_where at)
{
    snprintf(buf, cap, "%s:%u:%u", p->path, (unsigned)at.line, (unsigned)at.column);
}

static void add_items(rows *r, const char *rule, const pp_policy *p, const pp_items *l)
{
    char from[PATH_MAX + 32];
    for (size_t i = 0; i < l->count; i++) {
        where(from, sizeof from, p, l->items[i].at);
        add(r, rule, l->items[i].value, "policy", from);
    }
}

static void collect(rows *r, const pp_set *set, const pp_flags *fl, const char *ci)
{
    const pm_risk *d = pm_risk_default();
    char from[PATH_MAX + 32], value[64];
    const char *src;
    pp_unsigned mode;

    for (size_t f = 0; f < set->count; f++) {
        const pp_policy *p = &set->files[f];
        for (int k = 0; k < PP_MEMORY; k++) {
            char rule[32];
            snprintf(rule, sizeof rule, "deny.%s", pp_kind_name((pp_kind)k));
            add_items(r, rule, p, &p->deny[k]);
        }
    }
    if (fl->no_network)
        add(r, "deny.net", "*", "flag", "--no-network");
    if (fl->no_write)
        add(r, "deny.write", "/", "flag", "--no-write");
    if (fl->untrusted) {
        add(r, "deny.net", "*", "flag", "--untrusted");
        add(r, "deny.write", "/", "flag", "--untrusted");
        add(r, "deny.env", "*", "flag", "--untrusted");
    }
    for (size_t i = 0; i < fl->ndeny; i++) {
        pp_kind kind;
        const char *pattern;
        char rule[32];
        if (pp_parse_cap(fl->deny[i], &kind, &pattern, NULL))
            continue;
        snprintf(rule, sizeof rule, "deny.%s", pp_kind_name(kind));
        snprintf(from, sizeof from, "--deny %s", fl->deny[i]);
        add(r, rule, pattern ? pattern : (kind == PP_NET || kind == PP_ENV) ? "*" : "/",
            "flag", from);
    }
    for (size_t i = 0; i < fl->nallow_hosts; i++)
        add(r, "allow_host", fl->allow_hosts[i], "flag", "--allow-host");

    for (size_t f = 0; f < set->count; f++) {
        const pp_policy *p = &set->files[f];
        if (!p->has_memory_max)
            continue;
        where(from, sizeof from, p, p->memory_at);
        snprintf(value, sizeof value, "%" PRIu64, p->memory_max);
        add(r, "memory_max", value, "policy", from);
    }
    if (fl->has_memory_max) {
        snprintf(value, sizeof value, "%" PRIu64, fl->memory_max);
        add(r, "memory_max", value, "flag", "--memory-max");
    }

    mode = pp_unsigned_posture(set, fl, ci, &src, from, sizeof from);
    add(r, "signatures.unsigned", mode == PP_UNSIGNED_DENY ? "deny" : "allow",
        strncmp(src, "default", 7) == 0 ? "default" : src[0] == '-' ? "flag" : "policy", src);
    for (size_t f = 0; f < set->count; f++) {
        const pp_policy *p = &set->files[f];
        if (p->has_signers && p->signers.count == 0) {
            where(from, sizeof from, p, p->signers_at);
            add(r, "signatures.signers", "(none: every signed module is refused)", "policy",
                from);
        }
        add_items(r, "signatures.signers", p, &p->signers);
        add_items(r, "signatures.keyrings", p, &p->keyrings);
    }
    for (size_t f = 0; f < set->count; f++) {
        const pp_policy *p = &set->files[f];
        add_items(r, "wildcard_net.signers", p, &p->wildcard_signers);
        if (p->wildcard_ci) {
            where(from, sizeof from, p, p->wildcard_ci_at);
            add(r, "wildcard_net.allow_in_ci", "true", "policy", from);
        }
    }
    if (set->count == 0)
        add(r, "wildcard_net.signers", "(none: net * is refused)", "default",
            "built-in wildcard rule");

    for (size_t i = 0; i < d->env_count; i++)
        add(r, "high_risk.env", d->env_globs[i], "default", "built-in");
    for (size_t i = 0; i < d->net_count; i++)
        add(r, "high_risk.net", d->net[i], "default", "built-in");
    for (size_t i = 0; i < d->write_count; i++)
        add(r, "high_risk.write", d->write[i], "default", "built-in");
    for (size_t f = 0; f < set->count; f++) {
        const pp_policy *p = &set->files[f];
        add_items(r, "high_risk.env", p, &p->risk[PP_ENV]);
        add_items(r, "high_risk.net", p, &p->risk[PP_NET]);
        add_items(r, "high_risk.write", p, &p->risk[PP_WRITE]);
    }
}

static int print_json(const pp_set *set, const rows *r)
{
    json_t *o = json_object(), *files = json_array(), *rules = json_array();
    char *text;
    if (!o || !files || !rules) {
        json_decref(o), json_decref(files), json_decref(rules);
        fprintf(stderr, "io: out of memory\n");
        return CLI_ERROR;
    }
    for (size_t f = 0; f < set->count; f++)
        json_array_append_new(files, json_string(set->files[f].path));
    for (size_t i = 0; i < r->n; i++)
        json_array_append_new(rules, json_pack("{s:s, s:s, s:s, s:s}", "rule", r->v[i].rule,
                                               "value", r->v[i].value, "layer", r->v[i].layer,
                                               "from", r->v[i].from));
    json_object_set_new(o, "files", files);
    json_object_set_new(o, "rules", rules);
    text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!text) {
        fprintf(stderr, "io: out of memory\n");
        return CLI_ERROR;
    }
    printf("%s\n", text);
    free(text);
    return CLI_OK;
}

static void print_text(const pp_set *set, const rows *r)
{
    bool color = cli_color(stdout);
    size_t wr = 4, wv = 5;
    if (set->count == 0) {
        printf("policy files: none (the built-in rules and the flags apply)\n");
    } else {
        printf("policy files (all apply):\n");
        for (size_t f = 0; f < set->count; f++) {
            fputs("  ", stdout);
            cli_put_safe(stdout, set->files[f].path, strlen(set->files[f].path));
            fputc('\n', stdout);
        }
    }
    for (size_t i = 0; i < r->n; i++) {
        size_t a = strlen(r->v[i].rule), b = strlen(r->v[i].value);
        wr = a > wr ? a : wr;
        wv = b > wv && b <= 40 ? b : wv;
    }
    printf("\n%s%-*s  %-*s  %s%s\n", cli_sgr(color, CLI_BOLD), (int)wr, "rule", (int)wv,
           "value", "from", cli_reset(color));
    for (size_t i = 0; i < r->n; i++) {
        size_t n = strlen(r->v[i].value);
        printf("%-*s  ", (int)wr, r->v[i].rule);
        cli_put_safe(stdout, r->v[i].value, n);
        printf("%*s  %s", n < wv ? (int)(wv - n) : 0, "", cli_sgr(color, CLI_DIM));
        cli_put_safe(stdout, r->v[i].from, strlen(r->v[i].from));
        printf("%s\n", cli_reset(color));
    }
}

static int policy_show(int argc, char **argv)
{
    pp_flags fl;
    pp_set set = {0};
    rows r = {0};
    const char *format = NULL;
    const char **deny = NULL, **hosts = NULL;
    char cwd[PATH_MAX];
    perch_err err;
    int status = CLI_ERROR;
    bool json = false;

    memset(&fl, 0, sizeof fl);
    perch_err_clear(&err);
    if (!(deny = pb_calloc((size_t)argc, sizeof *deny)) ||
        !(hosts = pb_calloc((size_t)argc, sizeof *hosts))) {
        fprintf(stderr, "io: out of memory\n");
        goto out;
    }
    for (int i = 1; i < argc; i++) {
        int got;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(help, stdout);
            status = CLI_OK;
            goto out;
        }
        if (strcmp(argv[i], "--format") == 0 || strncmp(argv[i], "--format=", 9) == 0) {
            if (argv[i][8] == '=') {
                format = argv[i] + 9;
            } else if (i + 1 < argc) {
                format = argv[++i];
            } else {
                status = cli_usage("policy show", "option '--format' needs a value");
                goto out;
            }
            continue;
        }
        if ((got = cli_policy_option("policy show", argc, argv, &i, &fl, deny, hosts)) < 0)
            goto out;
        if (got == 0) {
            status = cli_usage("policy show", argv[i][0] == '-' ? "unknown option '%s'"
                                                                : "unexpected argument '%s'",
                               argv[i]);
            goto out;
        }
    }
    {
        static const char *const formats[] = {"text", "json"};
        if (!cli_format("policy show", format, formats, 2))
            goto out;
        json = format && strcmp(format, "json") == 0;
    }
    {
        pp_env env = pp_env_current(cwd, sizeof cwd);
        if (pp_discover(&env, &set, &err)) {
            status = cli_fail(&err, json);
            goto out;
        }
    }
    collect(&r, &set, &fl, getenv("CI"));
    if (r.oom) {
        fprintf(stderr, "io: out of memory\n");
        goto out;
    }
    if (json) {
        status = print_json(&set, &r);
    } else {
        print_text(&set, &r);
        status = CLI_OK;
    }
out:
    rows_free(&r);
    pp_set_free(&set);
    pb_free(deny);
    pb_free(hosts);
    return status;
}

static int policy_check(int argc, char **argv)
{
    cli_args args;
    pp_policy p;
    perch_err err;
    int status;
    if (!cli_parse("policy check", argc, argv, NULL, 0, &args, false))
        return CLI_ERROR;
    if (args.help) {
        fputs(help, stdout);
        pb_free(args.pos);
        return CLI_OK;
    }
    if (args.npos != 1) {
        pb_free(args.pos);
        return cli_usage("policy check", args.npos ? "one FILE only" : "missing FILE");
    }
    perch_err_clear(&err);
    if (pp_read(args.pos[0], &p, &err)) {
        status = cli_fail(&err, false);
    } else {
        fputs("ok: ", stdout);
        cli_put_safe(stdout, args.pos[0], strlen(args.pos[0]));
        fputc('\n', stdout);
        pp_policy_free(&p);
        status = CLI_OK;
    }
    pb_free(args.pos);
    return status;
}

int cmd_policy(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fputs(help, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_ERROR : CLI_OK;
    }
    if (strcmp(argv[1], "show") == 0)
        return policy_show(argc - 1, argv + 1);
    if (strcmp(argv[1], "check") == 0)
        return policy_check(argc - 1, argv + 1);
    if (argv[1][0] == '-')
        return cli_usage("policy", "unknown option '%s' (perch policy show|check)", argv[1]);
    return cli_usage("policy", "unknown command 'perch policy %s' (show or check)", argv[1]);
}
