/*
 * check.c: `perch check FILE.perch [--scan] [--format json]`: parse and
 * check a .perch file, compare its requires with this machine, or print
 * the static risk report.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lang/lang.h"

static const char help[] =
    "usage: perch check FILE.perch [--scan] [--format json]\n"
    "\n"
    "Parse a .perch file and check it without running anything: names defined\n"
    "once, references resolved (bundles, commands, ${name}), capability values\n"
    "well-formed (guest paths, hosts, env names, deny and grant, require_signer).\n"
    "Then compare its requires with this machine: each bin is found on PATH, its\n"
    "version is the first dotted version number `BIN --version` prints, hash pins\n"
    "match the file's SHA-256, env variables are set, os and arch match. Hosts\n"
    "are not probed. The rules are in docs/perch-files.md.\n"
    "\n"
    "options:\n"
    "  --scan           print the risk report instead of checking requires: per\n"
    "                   command a SAFE / LOW / MED / HIGH badge, what each step may\n"
    "                   touch, findings, and the tightest recommended invocation\n"
    "  --format json    print one JSON object on stdout\n"
    "  -h, --help       print this help\n"
    "\n"
    "exit status: 0 the file is valid (and, without --scan, every requirement is\n"
    "met); 1 requires_unmet; 2 an error: perch_syntax (with FILE:LINE:COLUMN and\n"
    "the line), io, usage.\n";

/* Line and column (in characters) of byte off of src. */
static void line_col(const pb_buf *src, uint64_t off, unsigned *line, unsigned *col)
{
    *line = 1;
    *col = 1;
    for (uint64_t i = 0; i < off && i < src->len; i++) {
        if (src->data[i] == '\n') {
            (*line)++;
            *col = 1;
        } else if ((src->data[i] & 0xc0) != 0x80) {
            (*col)++;
        }
    }
}

static int syntax_error(const perch_err *err, const pb_buf *src, bool json)
{
    pb_buf caret = {0};
    bool have = err->kind == PERCH_E_PERCH_SYNTAX && err->offset != PERCH_NO_OFFSET &&
                pl_caret((const char *)src->data, src->len, err->offset, &caret);
    if (json) {
        json_t *o = json_pack("{s:s, s:s}", "error", perch_err_kind_name(err->kind), "message",
                              err->message);
        char *text;
        if (o && have) {
            unsigned line, col;
            line_col(src, err->offset, &line, &col);
            json_object_set_new(o, "line", json_integer(line));
            json_object_set_new(o, "column", json_integer(col));
            json_object_set_new(o, "source",
                                json_stringn((const char *)caret.data, caret.len));
        }
        text = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        if (text)
            printf("%s\n", text);
        free(text);
        json_decref(o);
    } else {
        cli_print_error(err, false);
        if (have)
            fwrite(caret.data, 1, caret.len, stderr);
    }
    pb_buf_free(&caret);
    return CLI_ERROR;
}

static json_t *strs_json(const pl_strs *l)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < l->count; i++)
        json_array_append_new(a, json_string(l->items[i]));
    return a;
}

static const char *finding_level(pl_level l)
{
    static const char *const names[] = {"info", "low", "med", "high"};
    return names[l];
}

static json_t *caps_json(bool shell, bool sub, bool net, bool write, const pl_strs *bins,
                         const pl_strs *hosts, const pl_strs *env)
{
    return json_pack("{s:b, s:b, s:b, s:b, s:o, s:o, s:o}", "shell", shell, "subprocess", sub,
                     "network", net, "write", write, "bins", strs_json(bins), "hosts",
                     strs_json(hosts), "env", strs_json(env));
}

static void scan_json(const pl_file *f, const pl_scan *s)
{
    json_t *cmds = json_array(), *o;
    char *text;
    for (size_t i = 0; cmds && i < s->ncmds; i++) {
        const pl_cmd_scan *c = &s->cmds[i];
        json_t *fs = json_array();
        json_t *caps = caps_json(c->shell, c->subprocess, c->network, c->write, &c->bins,
                                 &c->hosts, &c->env);
        for (size_t k = 0; fs && k < c->nfindings; k++)
            json_array_append_new(fs, json_pack("{s:s, s:s}", "level",
                                                finding_level(c->findings[k].level), "text",
                                                c->findings[k].text));
        if (caps) {
            json_object_set_new(caps, "reads", strs_json(&c->reads));
            json_object_set_new(caps, "writes", strs_json(&c->writes));
        }
        json_array_append_new(cmds, json_pack("{s:s, s:s, s:o, s:o, s:o}", "name",
                                              c->cmd->name.s, "risk", pl_level_name(c->risk),
                                              "reasons", strs_json(&c->reasons),
                                              "capabilities", caps, "findings", fs));
    }
    o = json_pack("{s:i, s:s, s:s, s:o, s:o, s:s, s:s}", "schema", 1, "file", f->path, "risk",
                  pl_level_name(s->risk), "capabilities",
                  caps_json(s->shell, s->subprocess, s->network, s->write, &s->bins, &s->hosts,
                            &s->env),
                  "commands", cmds, "recommended", s->recommended, "summary", s->summary);
    text = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    if (text)
        printf("%s\n", text);
    free(text);
    json_decref(o);
}

static void put_list(const char *label, const pl_strs *l)
{
    printf("%s", label);
    for (size_t i = 0; i < l->count; i++) {
        printf("%s", i ? ", " : "");
        cli_put_safe(stdout, l->items[i], strlen(l->items[i]));
    }
}

static void cap_line(bool on, const char *name, const char *label, const pl_strs *l)
{
    printf("  %s %s", on ? "\xe2\x9c\x93" : "\xe2\x9c\x97", name);
    if (l && l->count) {
        printf("%*s", (int)(11 - strlen(name)), "");
        put_list(label, l);
    }
    printf("\n");
}

static void scan_text(const pl_file *f, const pl_scan *s)
{
    static const char *const levels[] = {"high", "med", "low", "info"};
    printf("scan: ");
    cli_put_safe(stdout, f->path, strlen(f->path));
    printf("\ncommands: %zu\nRISK: %s\n", s->ncmds, pl_level_badge(s->risk));
    printf("\nCAPABILITIES NEEDED\n");
    cap_line(s->shell, "shell", "bins: ", s->shell ? &s->bins : NULL);
    cap_line(s->subprocess, "subprocess", "bins: ", !s->shell ? &s->bins : NULL);
    cap_line(s->network, "network", "hosts: ", &s->hosts);
    cap_line(s->write, "writes", "", NULL);
    printf("\nENV VARS REFERENCED\n");
    if (s->env.count == 0)
        printf("  (none)\n");
    for (size_t i = 0; i < s->env.count; i++) {
        printf("  ");
        cli_put_safe(stdout, s->env.items[i], strlen(s->env.items[i]));
        printf("\n");
    }
    printf("\nCOMMANDS\n");
    for (size_t i = 0; i < s->ncmds; i++) {
        const pl_cmd_scan *c = &s->cmds[i];
        printf("  ");
        cli_put_safe(stdout, c->cmd->name.s, strlen(c->cmd->name.s));
        printf(": %s", pl_level_badge(c->risk));
        if (c->reasons.count)
            put_list("\n    reasons: ", &c->reasons);
        printf("\n");
        for (int lv = PL_HIGH; lv >= PL_SAFE; lv--)
            for (size_t k = 0; k < c->nfindings; k++)
                if ((int)c->findings[k].level == lv) {
                    printf("    [%s] ", levels[PL_HIGH - lv]);
                    cli_put_safe(stdout, c->findings[k].text, strlen(c->findings[k].text));
                    printf("\n");
                }
    }
    printf("\nRISK FINDINGS\n");
    for (int lv = PL_HIGH; lv >= PL_SAFE; lv--) {
        size_t n = 0;
        for (size_t i = 0; i < s->ncmds; i++)
            for (size_t k = 0; k < s->cmds[i].nfindings; k++)
                n += (int)s->cmds[i].findings[k].level == lv;
        printf("  %-5s %zu\n", levels[PL_HIGH - lv], n);
    }
    printf("\nRECOMMENDED INVOCATION\n  ");
    cli_put_safe(stdout, s->recommended, strlen(s->recommended));
    printf("\n  (");
    cli_put_safe(stdout, s->summary, strlen(s->summary));
    printf(")\n");
}

static const char *status_name(pl_req_status s)
{
    return s == PL_MET ? "ok" : s == PL_UNMET ? "unmet" : "-";
}

static void requires_output(const pl_file *f, const pl_req_result *res, size_t n, bool json,
                            const perch_err *err)
{
    if (json) {
        json_t *reqs = json_array(), *cmds = json_array(), *o;
        char *text;
        for (const pl_command *c = f->commands; cmds && c; c = c->next)
            json_array_append_new(cmds, json_string(c->name.s));
        for (size_t i = 0; reqs && i < n; i++)
            json_array_append_new(
                reqs, json_pack("{s:s, s:s, s:s}", "requirement", res[i].what, "status",
                                res[i].status == PL_MET     ? "met"
                                : res[i].status == PL_UNMET ? "unmet"
                                                            : "not_checked",
                                "detail", res[i].detail));
        o = json_pack("{s:s, s:b, s:o, s:o}", "file", f->path, "ok", err == NULL, "commands",
                      cmds, "requires", reqs);
        if (o && err) {
            json_object_set_new(o, "error", json_string(perch_err_kind_name(err->kind)));
            json_object_set_new(o, "message", json_string(err->message));
        }
        text = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        if (text)
            printf("%s\n", text);
        free(text);
        json_decref(o);
        return;
    }
    cli_put_safe(stdout, f->path, strlen(f->path));
    printf(": %s (%zu command%s, %zu bundle%s, %zu requirement%s)\n",
           err ? "requirements unmet" : "ok", f->ncommands, f->ncommands == 1 ? "" : "s",
           f->nincludes, f->nincludes == 1 ? "" : "s", n, n == 1 ? "" : "s");
    if (n)
        printf("requires:\n");
    for (size_t i = 0; i < n; i++) {
        printf("  %-6s ", status_name(res[i].status));
        cli_put_safe(stdout, res[i].what, strlen(res[i].what));
        printf(": ");
        cli_put_safe(stdout, res[i].detail, strlen(res[i].detail));
        printf("\n");
    }
    if (err)
        cli_print_error(err, false);
}

int cmd_check(int argc, char **argv)
{
    const char *format = NULL;
    bool scan = false, json;
    const cli_opt opts[] = {
        {"scan", 0, false, NULL, &scan},
        {"format", 0, true, &format, NULL},
    };
    static const char *const formats[] = {"text", "json"};
    cli_args a;
    pb_buf src = {0};
    pl_file *f = NULL;
    perch_err err;
    int status = CLI_OK;
    char dir[4096];
    const char *slash;
    if (!cli_parse("check", argc, argv, opts, sizeof opts / sizeof opts[0], &a, false))
        return CLI_ERROR;
    if (a.help) {
        fputs(help, stdout);
        pb_free(a.pos);
        return CLI_OK;
    }
    if (!cli_format("check", format, formats, 2)) {
        pb_free(a.pos);
        return CLI_ERROR;
    }
    json = format && strcmp(format, "json") == 0;
    if (a.npos != 1) {
        pb_free(a.pos);
        return cli_usage("check", "expected one FILE.perch");
    }
    perch_err_clear(&err);
    if (pl_load(a.pos[0], &src, &f, &err) != PERCH_OK) {
        status = syntax_error(&err, &src, json);
        goto done;
    }
    /* paths in the file are relative to its directory ("" for the current one) */
    slash = strrchr(a.pos[0], '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - a.pos[0]) : 0, a.pos[0]);
    if (slash == a.pos[0])
        snprintf(dir, sizeof dir, "/");
    if (scan) {
        pl_scan s;
        memset(&s, 0, sizeof s);
        if (pl_scan_file(f, dir, &s, &err) != PERCH_OK) {
            status = cli_fail(&err, json);
            goto done;
        }
        if (json)
            scan_json(f, &s);
        else
            scan_text(f, &s);
        pl_scan_free(&s);
    } else {
        pl_host host;
        pl_req_result *res = NULL;
        size_t n = 0;
        perch_err_kind rc;
        memset(&host, 0, sizeof host);
        host.dir = dir;
        rc = pl_requires_check(f, &host, &res, &n, &err);
        if (rc == PERCH_OK || rc == PERCH_E_REQUIRES_UNMET) {
            requires_output(f, res, n, json, rc == PERCH_OK ? NULL : &err);
            status = rc == PERCH_OK ? CLI_OK : CLI_NEGATIVE;
        } else {
            status = cli_fail(&err, json);
        }
        pb_free(res);
    }
done:
    pl_file_free(f);
    pb_buf_free(&src);
    pb_free(a.pos);
    return status;
}
