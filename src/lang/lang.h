/*
 * lang.h: .perch files: parse, check, compare `requires` with this machine,
 * and the static risk report of `perch check --scan`. Prefix pl_.
 *
 * The language is described in docs/perch-files.md (grammar in EBNF). Every
 * refusal of a file's text is PERCH_E_PERCH_SYNTAX with a message of the
 * shape "FILE:LINE:COLUMN: what was expected" and err->offset set to the
 * byte the message points at, so pl_caret can show the line under it.
 * Nothing here prints; nothing runs a module.
 */
#ifndef PERCH_LANG_H
#define PERCH_LANG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "lang/ast.h"

/* Limits that keep hostile files cheap (each refusal is perch_syntax). */
#define PL_MAX_FILE ((size_t)1 << 20) /* bytes of a .perch file */
#define PL_MAX_LINE 16384             /* bytes of one line */
#define PL_MAX_STATEMENTS 8192        /* statements (lines that do something) */

/*
 * Parse src (len bytes; need not be NUL-terminated; borrowed for the call
 * only). path names the file in messages. On success *out is owned by the
 * caller (pl_file_free). Errors: perch_syntax (lexical and grammar errors:
 * NUL bytes, invalid UTF-8, control characters, unterminated strings, a
 * statement out of place, a missing `end`, a file or line over the limits),
 * io (out of memory).
 */
perch_err_kind pl_parse(const char *path, const char *src, size_t len, pl_file **out,
                        perch_err *err);
void pl_file_free(pl_file *f);

/*
 * Check what the grammar cannot: names defined once (bundles, commands,
 * args), references resolved (wasm_run NAME to a bundle, hash_file
 * "bundle:NAME", called commands, `${name}` to an arg of the command or an
 * env of requires, the first word of a shell step to a declared bin), values
 * well-formed (arg types and defaults, guest paths, hosts, env names,
 * capabilities of deny and grant, require_signer, versions and digests).
 * Fills in pl_step.target. Reports the first problem in file order as
 * perch_syntax.
 */
perch_err_kind pl_check(pl_file *f, perch_err *err);

/* Read path (at most PL_MAX_FILE bytes), parse and check it. *src receives
 * the file's bytes (owned, pb_buf_free) even on failure, for pl_caret. */
perch_err_kind pl_load(const char *path, pb_buf *src, pl_file **out, perch_err *err);

/*
 * Append to out the source line holding byte off and a caret under it:
 *     "    wasm_mount_read deploys as \"/ro\"\n"
 *     "                    ^\n"
 * (four spaces of indent; control bytes and invalid UTF-8 shown as \xNN;
 * a long line shown as a window around the caret, cut with "..."). Returns
 * false when out of memory or off is past the end (src + len).
 */
bool pl_caret(const char *src, size_t len, uint64_t off, pb_buf *out);

/* "string", "int", ... Static. */
const char *pl_type_name(pl_type t);
/* "read", "write", "net", "env". Static. */
const char *pl_cap_name(pl_cap c);
/* ">=", ">", "=", "<", "<=", "" Static. */
const char *pl_cmp_name(pl_cmp c);

/*
 * The first dotted version number in text: digits, then one or more groups
 * of '.' and digits ("git version 2.39.2" -> "2.39.2", "v1.28.3" ->
 * "1.28.3"). *start and *len locate it; false when there is none.
 */
bool pl_version_find(const char *text, size_t n, size_t *start, size_t *len);
/* Compare two dotted versions numerically, component by component, a
 * missing component counting as 0: <0, 0, >0. */
int pl_version_cmp(const char *a, size_t alen, const char *b, size_t blen);

/* ---- requires --------------------------------------------------------------- */

/* What pl_requires_check looks at; NULL members take this process's value. */
typedef struct pl_host {
    const char *path;     /* the search path (PATH) */
    const char *os;       /* "linux" (uname sysname, lowercase) */
    const char *arch;     /* "amd64", "arm64" (uname machine, normalised) */
    const char *(*getenv)(const char *name, void *ud); /* NULL: getenv(3) */
    void *ud;
    const char *dir;      /* directory of the .perch file, for relative paths */
    unsigned timeout_ms;  /* for BIN --version; 0: 5000 */
} pl_host;

typedef enum pl_req_status { PL_MET, PL_UNMET, PL_NOT_CHECKED } pl_req_status;

typedef struct pl_req_result {
    const pl_req *req;      /* borrowed from the file */
    pl_req_status status;
    char what[192];         /* `bin "git"`, `env "HOME"` */
    char detail[512];       /* "2.39.2 >= 2.0 (/usr/bin/git)", "not found on PATH" */
} pl_req_result;

/*
 * Compare every requirement of f with this machine, without running
 * anything but `BIN --version` for bins with a version comparison (stdin
 * from /dev/null, output read up to 64 KiB, killed after the timeout).
 * Hash pins hash the file found on PATH or the bundled file. host lines are
 * not probed (PL_NOT_CHECKED). *out (owned, pb_free) gets one result per
 * requirement in file order, *n their count, also when requirements are
 * unmet. Returns requires_unmet naming the first unmet requirement (and how
 * many more there are) when any is, io when out of memory.
 */
perch_err_kind pl_requires_check(const pl_file *f, const pl_host *host, pl_req_result **out,
                                 size_t *n, perch_err *err);

/* ---- the risk report ---------------------------------------------------------- */

typedef enum pl_level { PL_SAFE, PL_LOW, PL_MED, PL_HIGH } pl_level;

/* "SAFE", "LOW", "MED", "HIGH". Static. */
const char *pl_level_name(pl_level l);
/* The badge with its explanation, e.g. "🟢 SAFE  (pure ops — no shell, no
 * network, no writes)". Static. */
const char *pl_level_badge(pl_level l);

/* A list of distinct strings, in first-seen order. Strings are borrowed from
 * the report's arena or the file. */
typedef struct pl_strs {
    const char **items;
    size_t count;
    size_t cap;
} pl_strs;

typedef struct pl_finding {
    pl_level level;
    const char *text;  /* "wasm_run policy: accepts net * (any host)" */
} pl_finding;

typedef struct pl_cmd_scan {
    const pl_command *cmd; /* borrowed from the file */
    pl_level risk;
    bool shell, subprocess, network, write;
    bool metachars;        /* a shell step uses | > < & ; ` $( */
    pl_strs bins;          /* binaries run (shell first words, declared bins) */
    pl_strs hosts;         /* net entries a module may reach */
    pl_strs reads;         /* host paths (mounts) and guest paths (manifests) read */
    pl_strs writes;
    pl_strs env;           /* env names modules see or strings reference */
    pl_strs reasons;       /* why the badge is what it is */
    pl_finding *findings;
    size_t nfindings;
    size_t capfindings;
} pl_cmd_scan;

typedef struct pl_scan {
    pl_arena arena;
    pl_level risk;         /* the highest of the commands' */
    pl_cmd_scan *cmds;     /* owned, one per command, in file order */
    size_t ncmds;
    pl_strs bins, hosts, env; /* unions over the commands */
    bool shell, subprocess, network, write, metachars;
    const char *recommended;  /* the tightest `perch run` invocation */
    const char *summary;      /* what it refuses compared with a bare run */
} pl_scan;

/*
 * Classify every command of a checked file. dir is the .perch file's
 * directory: for accept_manifest, the bundled module's manifest is read
 * (when the file exists) and its needs, minus the deny lines, count as what
 * the step may touch. *out is owned by the caller (pl_scan_free). Errors:
 * io (out of memory) only; an unreadable bundle is a finding, not an error.
 */
perch_err_kind pl_scan_file(const pl_file *f, const char *dir, pl_scan *out, perch_err *err);
void pl_scan_free(pl_scan *s);

#endif /* PERCH_LANG_H */
