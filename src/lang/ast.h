/*
 * ast.h: the syntax tree of a .perch file, and the arena it lives in.
 *
 * Ownership: every node and every string of a pl_file is allocated from the
 * file's arena and released at once by pl_file_free; pointers into the tree
 * are borrowed from the file. Strings are NUL-terminated copies of the
 * source text (string contents without their quotes; the lexer refuses NUL
 * bytes, so no string holds one). Lists are singly linked in source order.
 */
#ifndef PERCH_LANG_AST_H
#define PERCH_LANG_AST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* ---- arena ----------------------------------------------------------------- */

typedef struct pl_chunk pl_chunk;

typedef struct pl_arena {
    pl_chunk *head; /* owned chain of chunks */
} pl_arena;

/* Zeroed, suitably aligned memory from the arena, or NULL when out of memory. */
void *pl_alloc(pl_arena *a, size_t size);
/* An arena copy of the first n bytes of s, NUL-terminated, or NULL. */
char *pl_strndup(pl_arena *a, const char *s, size_t n);
/* Release every chunk; the arena is empty (and reusable) afterwards. */
void pl_arena_free(pl_arena *a);

/* ---- positions -------------------------------------------------------------- */

/* Where something starts in the source: 1-based line and column (columns
 * count characters, not bytes) and the byte offset. */
typedef struct pl_pos {
    uint32_t line;
    uint32_t col;
    uint32_t off;
} pl_pos;

/* A string or word with where it starts (at its opening quote if quoted). */
typedef struct pl_word {
    struct pl_word *next;
    char *s;
    pl_pos pos;
    bool quoted; /* written as "..." rather than a bare word */
} pl_word;

/* ---- bundle ----------------------------------------------------------------- */

/* include "PATH" [as NAME] */
typedef struct pl_include {
    struct pl_include *next;
    pl_pos pos;
    pl_word path;  /* relative to the .perch file's directory */
    pl_word name;  /* NAME, or the file's base name without .wasm */
} pl_include;

/* ---- requires --------------------------------------------------------------- */

typedef enum pl_req_kind {
    PL_REQ_BIN,       /* bin "NAME" [as H] [optional] [CMP "V"] [hash "H"] [block] */
    PL_REQ_ENV,       /* env "NAME" [optional] */
    PL_REQ_HOST,      /* host "H" [optional] */
    PL_REQ_OS,        /* os "linux" */
    PL_REQ_ARCH,      /* arch "amd64" */
    PL_REQ_HASH_FILE, /* hash_file "bundle:NAME" "sha256:..." */
    PL_REQ_READ,      /* read "PATH" */
    PL_REQ_WRITE      /* write "PATH" */
} pl_req_kind;

typedef enum pl_cmp {
    PL_CMP_NONE,
    PL_CMP_GE,
    PL_CMP_GT,
    PL_CMP_EQ,
    PL_CMP_LT,
    PL_CMP_LE
} pl_cmp;

typedef struct pl_req {
    struct pl_req *next;
    pl_req_kind kind;
    pl_pos pos;        /* the keyword */
    pl_word value;     /* bin name, env name, host, os, arch, bundle ref, path */
    pl_word alias;     /* bin ... as HANDLE; s NULL when absent */
    bool optional;
    pl_cmp cmp;        /* bin version comparison */
    pl_word version;   /* s NULL when cmp is PL_CMP_NONE */
    pl_word hash;      /* bin hash, or hash_file's expected digest; s may be NULL */
    pl_word hash_file; /* bin block's hash_file "PATH|bundle:NAME"; s may be NULL */
} pl_req;

/* ---- commands --------------------------------------------------------------- */

typedef enum pl_type {
    PL_TYPE_UNKNOWN, /* the checker refuses it */
    PL_TYPE_STRING,
    PL_TYPE_INT,
    PL_TYPE_BOOL,
    PL_TYPE_PATH,
    PL_TYPE_FLOAT
} pl_type;

/* arg NAME TYPE ["DESCRIPTION"] [default V] [optional]   or   arg NAME ... end */
typedef struct pl_arg {
    struct pl_arg *next;
    pl_pos pos;
    pl_word name;
    pl_word type_name; /* s NULL: string */
    pl_type type;      /* set by the parser from type_name */
    pl_word description; /* s may be NULL */
    pl_word def;       /* default; s NULL when absent */
    pl_word index;     /* Go form: index N; s may be NULL */
    bool optional;
    bool rest;
} pl_arg;

/* A capability named in deny / grant. */
typedef enum pl_cap {
    PL_CAP_READ,  /* wasm_mount_read, read */
    PL_CAP_WRITE, /* wasm_mount_write, write */
    PL_CAP_NET,   /* wasm_allow_host, net */
    PL_CAP_ENV,   /* wasm_env, env */
    PL_CAP_UNKNOWN
} pl_cap;

/* deny "CAP" ["VALUE"] / grant "CAP" "VALUE" */
typedef struct pl_capline {
    struct pl_capline *next;
    pl_pos pos;
    pl_word cap_name;
    pl_cap cap;    /* set by the parser from cap_name */
    pl_word value; /* s NULL: every value of cap (deny only) */
} pl_capline;

/* wasm_mount_read "HOST" [as "GUEST"] / wasm_mount_write ... */
typedef struct pl_mount {
    struct pl_mount *next;
    pl_pos pos;
    bool write;
    pl_word host;
    pl_word guest; /* given after "as", or /ro|/rw/<basename of host> */
    bool guest_given;
} pl_mount;

/* wasm_run NAME|"PATH" ... end */
typedef struct pl_wasm {
    pl_word module;       /* a bundle name (bare word) or a path (string) */
    bool module_is_path;
    pl_word *args;        /* wasm_arg; bare words name an arg of the command */
    pl_mount *mounts;
    pl_word *env;         /* wasm_env, one entry per comma-separated name */
    pl_word *hosts;       /* wasm_allow_host */
    bool accept;          /* accept_manifest */
    pl_pos accept_pos;
    pl_capline *denies;
    pl_capline *grants;
    pl_word *signers;     /* require_signer "ed25519:NAME" */
} pl_wasm;

typedef enum pl_step_kind {
    PL_STEP_SHELL, /* shell "TEXT" */
    PL_STEP_WASM,  /* wasm_run ... end */
    PL_STEP_CALL   /* NAME [WORD|STRING ...]: a command of the file or a declared bin */
} pl_step_kind;

typedef struct pl_step {
    struct pl_step *next;
    pl_step_kind kind;
    pl_pos pos;
    pl_word text;      /* shell */
    pl_wasm wasm;      /* wasm_run */
    pl_word name;      /* call: command or bin name */
    pl_word *argv;     /* call: the words after the name */
    struct pl_command *target; /* call of a command: set by the checker; NULL for a bin */
} pl_step;

/* command NAME ... do ... end end */
typedef struct pl_command {
    struct pl_command *next;
    pl_pos pos;
    pl_word name;
    pl_word description; /* s may be NULL */
    pl_arg *args;
    size_t nargs;
    pl_step *steps;
    size_t nsteps;
} pl_command;

/* ---- the file ----------------------------------------------------------------- */

typedef struct pl_file {
    pl_arena arena;
    char *path;           /* as given to pl_parse (arena copy), used in messages */
    pl_word meta_name;    /* name "..."; s may be NULL */
    pl_word about;
    pl_word version;
    bool has_bundle;
    pl_include *includes;
    size_t nincludes;
    bool has_requires;
    pl_req *reqs;
    size_t nreqs;
    pl_command *commands;
    size_t ncommands;
} pl_file;

#endif /* PERCH_LANG_AST_H */
