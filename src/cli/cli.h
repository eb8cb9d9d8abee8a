/*
 * cli.h: what every perch subcommand shares: option parsing, error and
 * colour output, exit codes.
 *
 * Exit codes of the inspection commands (inspect, diff, manifest, verify):
 *   0  success
 *   1  a negative answer the caller asked for (diff --fail-on-elevated and
 *      the verdict is ELEVATED; verify finds a failing check)
 *   2  an error: usage, I/O, malformed input (the message names the kind)
 */
#ifndef PERCH_CLI_H
#define PERCH_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "base/base.h"

enum { CLI_OK = 0, CLI_NEGATIVE = 1, CLI_ERROR = 2 };

/* One subcommand: "wasm inspect" runs fn(argc, argv) with argv[0] = "inspect". */
typedef struct cli_command {
    const char *path;    /* "wasm inspect" */
    const char *synopsis;/* one line for `perch help` */
    int (*fn)(int argc, char **argv);
} cli_command;

/*
 * Options. A command lists what it accepts; cli_parse fills values and
 * collects positionals. Accepted spellings: --name VALUE, --name=VALUE,
 * -x VALUE (when short is set), and "--" ends options.
 */
typedef struct cli_opt {
    const char *name;  /* "format" (without dashes) */
    char short_;       /* 'o' or 0 */
    bool takes_value;
    const char **value;/* where a value goes (takes_value) */
    bool *flag;        /* where presence goes (!takes_value) */
} cli_opt;

typedef struct cli_args {
    char **pos;     /* positionals, borrowed from argv */
    int npos;
    char **rest;    /* after "--", borrowed */
    int nrest;
    bool help;      /* --help or -h was given */
} cli_args;

/*
 * Parse argv[1..argc). On a usage error prints "usage: ..." with the
 * command's name to stderr and returns false. rest receives arguments after
 * "--" (or they are an error when allow_rest is false). On failure nothing
 * is left to free (out->pos is NULL).
 */
bool cli_parse(const char *cmd, int argc, char **argv, const cli_opt *opts,
               size_t nopts, cli_args *out, bool allow_rest);

/* Print "usage: MESSAGE" plus a hint to run --help; returns CLI_ERROR. */
int cli_usage(const char *cmd, const char *fmt, ...) PB_PRINTF(2, 3);

/* Print "kind: message (detail)" to stderr, or a JSON object when json. */
void cli_print_error(const perch_err *err, bool json);

/* Print err and return CLI_ERROR. */
int cli_fail(const perch_err *err, bool json);

/* Colour is used on a terminal only, and never when NO_COLOR is set. */
bool cli_color(FILE *stream);
typedef enum cli_style { CLI_PLAIN, CLI_BOLD, CLI_RED, CLI_GREEN, CLI_YELLOW, CLI_DIM } cli_style;
/* The escape sequence for style when colour is on, "" otherwise. */
const char *cli_sgr(bool color, cli_style style);
const char *cli_reset(bool color);

/* Check --format: "text" (NULL) or one of the allowed values. */
bool cli_format(const char *cmd, const char *value, const char *const *allowed,
                size_t nallowed);

/*
 * Write s to out with every control character (and DEL) shown as \xNN, so
 * text that came from a module can never move the cursor or recolour the
 * terminal of the person reading it.
 */
void cli_put_safe(FILE *out, const char *s, size_t len);

/* The commands. */
int cmd_wasm_inspect(int argc, char **argv);
int cmd_wasm_diff(int argc, char **argv);
int cmd_wasm_manifest(int argc, char **argv);
int cmd_wasm_run(int argc, char **argv);
int cmd_wasm_keygen(int argc, char **argv);
int cmd_wasm_sign(int argc, char **argv);
int cmd_wasm_verify(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_policy(int argc, char **argv);

/*
 * The restriction flags every run command shares (policy/policy.h,
 * pp_flags): --no-network, --no-write, --untrusted, --deny CAP,
 * --allow-host HOST[:PORT], --memory-max BYTES, --unsigned-allow,
 * --unsigned-deny. When argv[*i] is one, it is recorded in *fl, *i moves
 * past its value and 1 is returned; 0 when argv[*i] is none of them; -1
 * after printing a usage error. deny and allow_hosts are arrays of argc
 * entries, owned by the caller, that fl->deny and fl->allow_hosts then
 * point to.
 */
struct pp_flags;
int cli_policy_option(const char *cmd, int argc, char **argv, int *i, struct pp_flags *fl,
                      const char **deny, const char **allow_hosts);
int cmd_check(int argc, char **argv);

#endif /* PERCH_CLI_H */
