/*
 * policy.h: host policy files, and the intersection of every layer that can
 * refuse a module's declared needs. Prefix pp_.
 *
 * A host policy is a YAML file (docs/policy.md has the schema): the user's
 * $XDG_CONFIG_HOME/perch/policy.yaml and the nearest .perch-policy.yaml up
 * from the current directory. Both apply. A policy can only narrow what a
 * module gets: deny paths, hosts and environment names, cap memory, demand
 * signatures, name the keyrings that are trusted, mark names HIGH RISK.
 * The one thing a policy can allow is the exception to the wildcard rule
 * (a module declaring needs_net "*" runs only when its signer is listed by
 * every policy file), and only when every file agrees.
 *
 * What a module gets (pp_compose) is what it declares, minus what any
 * layer refuses:
 *   manifest      what the module (or the .perch file, for an unmanifested
 *                 module) declares;
 *   perch-file    the .perch file's deny lines;
 *   policy        the host policy files;
 *   flag          the command line's restriction flags.
 * A declared need that any layer refuses is a refusal naming the layer, the
 * file and line or the flag, and the rule; any refusal makes the module
 * manifest_rejected before it runs.
 *
 * Ownership: structures filled by pp_parse, pp_read, pp_discover,
 * pp_compose and pp_risk_build belong to the caller and are released with
 * the matching *_free, also after a failure (they are then empty). Strings
 * inside them are owned by the structure unless marked borrowed.
 */
#ifndef PERCH_POLICY_H
#define PERCH_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "manifest/diff.h"
#include "manifest/manifest.h"

/* The name of the file looked for in the current directory and its parents. */
#define PP_LOCAL_NAME ".perch-policy.yaml"
/* The user's policy, under $XDG_CONFIG_HOME (default ~/.config). */
#define PP_USER_NAME "perch/policy.yaml"

/* Limits that keep hostile policy files small. */
#define PP_MAX_BYTES ((size_t)256 * 1024) /* bytes of one file */
#define PP_MAX_DEPTH 8              /* nested mappings and sequences */
#define PP_MAX_NODES 20000          /* scalars, mappings and sequences */

/* The kinds of capability (DESIGN.md, "Capabilities and refusals"). */
typedef enum pp_kind {
    PP_READ,
    PP_WRITE,
    PP_NET,
    PP_ENV,
    PP_MEMORY,
    PP_KIND__COUNT
} pp_kind;

/* "read", "write", "net", "env", "memory". Static. */
const char *pp_kind_name(pp_kind kind);

/* Where a value was written: 1-based line and column; line 0 when absent. */
typedef struct pp_where {
    uint32_t line, column;
} pp_where;

/* One string of a policy file and where it was written. */
typedef struct pp_item {
    char *value; /* owned */
    pp_where at;
} pp_item;

typedef struct pp_items {
    pp_item *items; /* owned */
    size_t count;
} pp_items;

typedef enum pp_unsigned {
    PP_UNSIGNED_UNSET, /* this layer does not say */
    PP_UNSIGNED_ALLOW,
    PP_UNSIGNED_DENY,
} pp_unsigned;

/*
 * One policy file, as written. Patterns are validated (pp_check_pattern)
 * and listed once each; a relative keyring path is joined to the
 * directory part of the policy file's path.
 */
typedef struct pp_policy {
    char *path;                 /* owned: the file, as given to pp_read */
    pp_items deny[PP_MEMORY];   /* deny.read, deny.write, deny.net, deny.env */
    bool has_memory_max;
    uint64_t memory_max;        /* bytes, at most PM_MEMORY_LIMIT */
    pp_where memory_at;
    pp_unsigned unsigned_mode;  /* signatures.unsigned */
    pp_where unsigned_at;
    bool has_signers;           /* signatures.signers given (maybe empty) */
    pp_items signers;           /* the only signers accepted */
    pp_where signers_at;
    pp_items keyrings;          /* signatures.keyrings: absolute paths */
    pp_items risk[PP_MEMORY];   /* high_risk.env / .net / .write (read: always empty) */
    pp_items wildcard_signers;  /* wildcard_net.signers */
    bool wildcard_ci;           /* wildcard_net.allow_in_ci */
    pp_where wildcard_ci_at;
} pp_policy;

void pp_policy_init(pp_policy *p);
void pp_policy_free(pp_policy *p);

/*
 * Parse policy text (len bytes). name is used in messages and kept as
 * p->path; keyring paths are resolved against its directory. Strict: YAML
 * syntax errors, a second document, anchors, aliases and tags, unknown
 * keys, duplicate keys, wrong types, bad patterns, lists over
 * PM_MAX_ENTRIES, nesting over PP_MAX_DEPTH, more than PP_MAX_NODES nodes or
 * PP_MAX_BYTES bytes are all policy_invalid, the message starting with
 * "NAME:LINE:COLUMN: ". io when out of memory.
 */
perch_err_kind pp_parse(const char *text, size_t len, const char *name, pp_policy *out,
                        perch_err *err);

/*
 * Read and parse one file. A missing file is io ("cannot open"); a file
 * over PP_MAX_BYTES is policy_invalid without being read whole.
 */
perch_err_kind pp_read(const char *path, pp_policy *out, perch_err *err);

/* ---- discovery ------------------------------------------------------------ */

/* The environment discovery looks at. Borrowed; any may be NULL or "". */
typedef struct pp_env {
    const char *xdg_config_home; /* used when absolute, as the XDG spec says */
    const char *home;            /* for ~/.config when xdg_config_home is not */
    const char *cwd;             /* where the walk up for .perch-policy.yaml starts */
} pp_env;

/* The environment of this process: getenv and getcwd (cwd storage given). */
pp_env pp_env_current(char *cwd_buf, size_t cwd_cap);

/* The policies that apply, in the order they were found. */
typedef struct pp_set {
    pp_policy *files; /* owned */
    size_t count;
} pp_set;

void pp_set_free(pp_set *s);

/*
 * Find and read the policies that apply under env: the user's file
 * (XDG_CONFIG_HOME/perch/policy.yaml, or HOME/.config/perch/policy.yaml),
 * then the nearest .perch-policy.yaml in cwd or a parent of it. A file that
 * does not exist is skipped; one that exists and cannot be read or parsed is
 * an error (io, policy_invalid): a policy is never ignored.
 */
perch_err_kind pp_discover(const pp_env *env, pp_set *out, perch_err *err);

/* Append an already parsed policy to a set (moved: *p is left empty). */
perch_err_kind pp_set_add(pp_set *s, pp_policy *p, perch_err *err);

/* ---- patterns ------------------------------------------------------------- */

/*
 * Whether pattern is acceptable in a deny rule of kind:
 *   read, write  a guest path (pm_check_path) whose components may each be
 *                '*' (any one component); "/" is everything
 *   net          a manifest net entry (pm_check_net): "host:port",
 *                "*.domain:port", or "*"
 *   env          an environment name (pm_check_env) in which '*' stands for
 *                any run of characters
 * On false *why gets a static reason.
 */
bool pp_check_pattern(pp_kind kind, const char *pattern, const char **why);

/*
 * Whether deny pattern pattern refuses need (a declared value of kind):
 *   read, write  need and pattern overlap: one lies beneath the other
 *                ("/data" and "/data/keys" both ways)
 *   net          one of need and pattern grants part of the other
 *   env          the glob matches the name, ignoring ASCII case
 * pattern must have passed pp_check_pattern.
 */
bool pp_pattern_refuses(pp_kind kind, const char *pattern, const char *need);

/* ---- the command line ------------------------------------------------------ */

/* A .perch file's deny line: a capability string as for --deny. */
typedef struct pp_perch_deny {
    const char *cap;  /* borrowed: "net", "env:DEBUG", "read:/data/keys" */
    uint32_t line;    /* in the .perch file, 0 when unknown */
} pp_perch_deny;

/*
 * The command line's restrictions. Borrowed strings. deny holds capability
 * strings: "KIND" refuses every value of a kind, "KIND:PATTERN" the values
 * the pattern refuses (pp_pattern_refuses); KIND is read, write, net or env.
 * allow_hosts, when nallow_hosts > 0, refuses every net need that no entry
 * grants; an entry without a port means port 443.
 */
typedef struct pp_flags {
    bool no_network;  /* --no-network: every net need */
    bool no_write;    /* --no-write: every write need */
    bool untrusted;   /* --untrusted: every net, write and env need */
    const char *const *deny; /* --deny CAP, repeatable */
    size_t ndeny;
    const char *const *allow_hosts; /* --allow-host HOST[:PORT], repeatable */
    size_t nallow_hosts;
    bool has_memory_max;            /* --memory-max BYTES */
    uint64_t memory_max;
    pp_unsigned unsigned_mode;      /* --unsigned-allow / --unsigned-deny */
} pp_flags;

/*
 * Check a capability string of --deny or a .perch deny line. kind and
 * *pattern (borrowed from cap, NULL for a whole kind) get its parts.
 * usage with the rule in the message otherwise.
 */
perch_err_kind pp_parse_cap(const char *cap, pp_kind *kind, const char **pattern,
                            perch_err *err);

/* ---- composition --------------------------------------------------------- */

typedef enum pp_layer {
    PP_LAYER_MANIFEST,
    PP_LAYER_PERCH_FILE,
    PP_LAYER_POLICY,
    PP_LAYER_FLAG,
} pp_layer;

/* "manifest", "perch-file", "policy", "flag". Static. */
const char *pp_layer_name(pp_layer layer);

/* One declared need that a layer refused. */
typedef struct pp_refusal {
    pp_kind kind;
    char *need;    /* owned: the capability, "net:*", "env:AWS_TOKEN", "memory:1048576" */
    pp_layer layer;
    char *source;  /* owned: "/etc/x/policy.yaml:4:7", "--no-network", "app.perch:12",
                      "built-in wildcard rule" */
    char *rule;    /* owned: what the rule says, "deny net *.internal:443" */
} pp_refusal;

/* Everything pp_compose looks at. Borrowed. */
typedef struct pp_request {
    const pm_manifest *declared;  /* what the module (or .perch file) declares */
    const pp_perch_deny *perch_deny; /* the .perch file's deny lines */
    size_t nperch_deny;
    const char *perch_file;       /* its name for messages, NULL: "perch file" */
    const pp_set *policies;       /* NULL: none */
    const pp_flags *flags;        /* NULL: none */
    /*
     * The module's signer when its signature was verified and the signer
     * is trusted (pt_check_module's verdict), NULL otherwise. Only the
     * wildcard rule looks at it.
     */
    const char *signer;
    const char *ci;               /* the CI environment variable, NULL when unset */
} pp_request;

/* The outcome of composition. */
typedef struct pp_grant {
    /*
     * The effective grant: the declared needs that no layer refused, and
     * memory_max the smallest of the declared limit and every cap (set when
     * any of them is). name and version are the declared ones.
     */
    pm_manifest grant;
    pp_refusal *refusals; /* owned, in declaration order: read, write, net, env, memory */
    size_t nrefusals;
    /*
     * needs_net "*" was granted by the wildcard exception: the runtime
     * writes a policy.exception audit event with exception_detail (owned:
     * "net:* for signer NAME allowed by FILE:LINE, FILE:LINE") before the
     * module runs.
     */
    bool wildcard_exception;
    char *exception_detail;
} pp_grant;

void pp_grant_free(pp_grant *g);

/*
 * Intersect every layer of req. *out is filled in every case but out of
 * memory. Returns:
 *   PERCH_OK                   nothing was refused
 *   manifest_rejected          at least one refusal: the message names the
 *                              first ("net:* refused by policy FILE:3:5: deny
 *                              net *") and how many more there are
 *   usage / perch_syntax       a --deny or .perch deny capability is malformed
 *   io                         out of memory
 */
perch_err_kind pp_compose(const pp_request *req, pp_grant *out, perch_err *err);

/* ---- signatures ----------------------------------------------------------- */

/*
 * The unsigned posture every layer together asks for: DENY when any layer
 * (a policy file or the flags) says deny; otherwise ALLOW when any says
 * allow; otherwise deny when ci is non-empty and allow when not (the
 * default of DESIGN.md). A policy's deny wins over --unsigned-allow, and
 * --unsigned-allow over a policy's allow, which only replaces the default.
 * *source (may be NULL) gets what decided it: "FILE:LINE:COLUMN" (written
 * into buf, cap bytes), "--unsigned-deny", "--unsigned-allow", "default (CI
 * is set)" or "default (CI is not set)" (static).
 */
pp_unsigned pp_unsigned_posture(const pp_set *set, const pp_flags *flags, const char *ci,
                                const char **source, char *buf, size_t cap);

/*
 * Whether signer (NULL: the module is unsigned or its signer unverified)
 * is accepted by every policy file that lists signatures.signers. On false
 * buf (cap bytes) names the first file refusing it ("FILE:LINE:COLUMN").
 */
bool pp_signer_allowed(const pp_set *set, const char *signer, char *buf, size_t cap);

/* ---- HIGH RISK ------------------------------------------------------------ */

/*
 * The HIGH RISK rules of DESIGN.md (pm_risk_default) extended with every
 * policy file's high_risk lists, for pm_diff_compute and inspect. The
 * strings are borrowed from the set, which must outlive the pp_risk.
 */
typedef struct pp_risk {
    pm_risk rules;           /* what pm_risk_match and pm_diff_compute take */
    const char **env;        /* owned arrays behind rules */
    const char **net;
    const char **write;
} pp_risk;

perch_err_kind pp_risk_build(const pp_set *set, pp_risk *out, perch_err *err);
void pp_risk_free(pp_risk *r);

#endif /* PERCH_POLICY_H */
