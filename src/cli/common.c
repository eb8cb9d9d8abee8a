/* common.c: option parsing and output shared by every subcommand. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "usage: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'perch %s --help')\n", cmd);
    return CLI_ERROR;
}

static const cli_opt *find_long(const cli_opt *opts, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(opts[i].name) == len && memcmp(opts[i].name, name, len) == 0)
            return &opts[i];
    return NULL;
}

static const cli_opt *find_short(const cli_opt *opts, size_t n, char c)
{
    for (size_t i = 0; i < n; i++)
        if (opts[i].short_ && opts[i].short_ == c)
            return &opts[i];
    return NULL;
}

static bool parse_args(const char *cmd, int argc, char **argv, const cli_opt *opts,
                       size_t nopts, cli_args *out, bool allow_rest);

/* On failure out->pos is freed here, so callers need no cleanup on that path. */
bool cli_parse(const char *cmd, int argc, char **argv, const cli_opt *opts,
               size_t nopts, cli_args *out, bool allow_rest)
{
    if (parse_args(cmd, argc, argv, opts, nopts, out, allow_rest))
        return true;
    pb_free(out->pos);
    out->pos = NULL;
    return false;
}

static bool parse_args(const char *cmd, int argc, char **argv, const cli_opt *opts,
                       size_t nopts, cli_args *out, bool allow_rest)
{
    memset(out, 0, sizeof *out);
    out->pos = pb_calloc((size_t)argc + 1, sizeof *out->pos);
    if (!out->pos) {
        fprintf(stderr, "io: out of memory\n");
        return false;
    }
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        const cli_opt *o = NULL;
        const char *value = NULL;
        if (strcmp(a, "--") == 0) {
            if (!allow_rest) {
                cli_usage(cmd, "'--' is not accepted here");
                return false;
            }
            out->rest = argv + i + 1;
            out->nrest = argc - i - 1;
            break;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            out->help = true;
            continue;
        }
        if (a[0] == '-' && a[1] == '-') {
            const char *eq = strchr(a + 2, '=');
            size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
            o = find_long(opts, nopts, a + 2, len);
            if (!o) {
                cli_usage(cmd, "unknown option '%.*s'", (int)len + 2, a);
                return false;
            }
            if (eq) {
                if (!o->takes_value) {
                    cli_usage(cmd, "option '--%s' takes no value", o->name);
                    return false;
                }
                value = eq + 1;
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            o = a[2] == '\0' ? find_short(opts, nopts, a[1]) : NULL;
            if (!o) {
                cli_usage(cmd, "unknown option '%s'", a);
                return false;
            }
        } else {
            out->pos[out->npos++] = a;
            continue;
        }
        if (o->takes_value) {
            if (!value) {
                if (i + 1 >= argc) {
                    cli_usage(cmd, "option '--%s' needs a value", o->name);
                    return false;
                }
                value = argv[++i];
            }
            *o->value = value;
        } else {
            *o->flag = true;
        }
    }
    return true;
}

bool cli_format(const char *cmd, const char *value, const char *const *allowed,
                size_t nallowed)
{
    if (!value)
        return true;
    for (size_t i = 0; i < nallowed; i++)
        if (strcmp(value, allowed[i]) == 0)
            return true;
    cli_usage(cmd, "unknown --format '%s'", value);
    return false;
}

void cli_put_safe(FILE *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            fprintf(out, "\\x%02x", c);
        else
            fputc(c, out);
    }
}

void cli_print_error(const perch_err *err, bool json)
{
    if (json) {
        json_t *o = json_pack("{s:s, s:s}", "error", perch_err_kind_name(err->kind),
                              "message", err->message);
        char *text;
        if (!o)
            return;
        if (err->detail[0])
            json_object_set_new(o, "detail", json_string(err->detail));
        if (err->offset != PERCH_NO_OFFSET)
            json_object_set_new(o, "offset", json_integer((json_int_t)err->offset));
        text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (text)
            printf("%s\n", text);
        free(text);
        json_decref(o);
        return;
    }
    fprintf(stderr, "%s: ", perch_err_kind_name(err->kind));
    cli_put_safe(stderr, err->message, strlen(err->message));
    if (err->detail[0]) {
        fputs(" (", stderr);
        cli_put_safe(stderr, err->detail, strlen(err->detail));
        fputc(')', stderr);
    }
    fputc('\n', stderr);
}

int cli_fail(const perch_err *err, bool json)
{
    cli_print_error(err, json);
    return CLI_ERROR;
}

bool cli_color(FILE *stream)
{
    const char *nc = getenv("NO_COLOR");
    if (nc && nc[0] != '\0')
        return false;
    return isatty(fileno(stream)) == 1;
}

const char *cli_sgr(bool color, cli_style style)
{
    static const char *const codes[] = {
        [CLI_PLAIN] = "", [CLI_BOLD] = "\033[1m", [CLI_RED] = "\033[1;31m",
        [CLI_GREEN] = "\033[32m", [CLI_YELLOW] = "\033[33m", [CLI_DIM] = "\033[2m",
    };
    return color ? codes[style] : "";
}

const char *cli_reset(bool color) { return color ? "\033[0m" : ""; }
