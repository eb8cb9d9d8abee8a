/*
 * diff.h: what changed between two modules' manifests, and the verdict.
 *
 * Entries are compared per capability kind with effective semantics:
 * write implies read, a path grants everything beneath it, "*.d:p" grants
 * every subdomain of d on port p, "*" grants every host and port. A new
 * entry that an old one already granted is "narrowed" (not an elevation);
 * one that no old entry granted is "new" (an elevation), and when it
 * replaces narrower old entries the note says so ("broadens ...").
 */
#ifndef PERCH_MANIFEST_DIFF_H
#define PERCH_MANIFEST_DIFF_H

#include "manifest/manifest.h"

typedef enum pm_cap {
    PM_CAP_READ,
    PM_CAP_WRITE,
    PM_CAP_NET,
    PM_CAP_ENV,
    PM_CAP__COUNT
} pm_cap;

/* "read", "write", "net", "env". Static. */
const char *pm_cap_name(pm_cap cap);

typedef enum pm_change {
    PM_UNCHANGED, /* in both */
    PM_NEW,       /* granted by NEW, by no entry of OLD: an elevation */
    PM_NARROWED,  /* in NEW only, but within an entry of OLD */
    PM_REMOVED,   /* in OLD only */
} pm_change;

/* "unchanged", "new", "narrowed", "removed". Static. */
const char *pm_change_name(pm_change change);

/* The default HIGH RISK list of DESIGN.md, extensible by host policy later. */
typedef struct pm_risk {
    const char *const *env_globs; /* matched case-insensitively, '*' only */
    size_t env_count;
    const char *const *net;       /* exact entries, e.g. "*" */
    size_t net_count;
    const char *const *write;     /* exact guest paths, e.g. "/" */
    size_t write_count;
} pm_risk;

/* The built-in list: env *SECRET* *TOKEN* *PASSWORD* *_KEY, net *, write /. Static. */
const pm_risk *pm_risk_default(void);

/*
 * Whether value of cap is HIGH RISK under rules (NULL: pm_risk_default());
 * *why (may be NULL) gets the matching rule, borrowed from rules: a glob of
 * env_globs, or an entry of net or write. read values are never HIGH RISK.
 */
bool pm_risk_match(const pm_risk *rules, pm_cap cap, const char *value,
                   const char **why);

typedef struct pm_diff_entry {
    pm_cap cap;
    pm_change change;
    char *value;    /* owned */
    bool high_risk; /* the value matches a HIGH RISK rule; always false for PM_REMOVED */
    const char *risk_rule; /* borrowed from the rules, NULL unless high_risk: "*_KEY" */
    /*
     * owned, may be NULL. PM_NEW: "broadens api.example.com:443", "was
     * read-only", "was read-only under /data"; PM_NARROWED: "within /data",
     * "within write /data"; PM_REMOVED: "still granted by *.example.com:443"
     * when a broader NEW entry keeps granting it.
     */
    char *note;
} pm_diff_entry;

typedef enum pm_verdict { PM_VERDICT_UNCHANGED, PM_VERDICT_REDUCED, PM_VERDICT_ELEVATED } pm_verdict;
const char *pm_verdict_name(pm_verdict v); /* "UNCHANGED", "REDUCED", "ELEVATED" */

typedef struct pm_diff {
    bool old_present, new_present; /* whether each module has a manifest */
    char *old_name, *new_name;     /* owned, NULL when absent */
    char *old_version, *new_version;
    bool old_has_memory, new_has_memory;
    uint64_t old_memory, new_memory;
    /*
     * No memory_max is no limit, the most memory there is. PM_NEW when the
     * limit grew or disappeared, PM_NARROWED when it shrank or appeared.
     */
    pm_change memory_change;
    pm_diff_entry *entries;        /* owned; sorted by cap, then value bytewise */
    size_t count;
    pm_verdict verdict;
    size_t n_new, n_removed, n_narrowed, n_unchanged;
    size_t n_high_risk; /* PM_NEW entries marked HIGH RISK */
    size_t n_lost;      /* PM_REMOVED entries that no NEW entry still grants */
    char *explanation;             /* owned, may be NULL: gaining or losing a manifest */
} pm_diff;

/*
 * Compare. old or new_ may be NULL for "this module has no manifest".
 * A module losing its manifest is ELEVATED (what it needs is no longer
 * declared; no entries are listed, the explanation says what OLD declared);
 * a module gaining one is compared as if OLD declared nothing; when neither
 * has one the verdict is UNCHANGED with an explanation. rules NULL means
 * pm_risk_default(); the strings of rules must outlive *out (risk_rule
 * points to one).
 *
 * Verdict: ELEVATED when an entry is PM_NEW or memory_change is PM_NEW;
 * otherwise REDUCED when n_lost > 0 or memory_change is PM_NARROWED;
 * otherwise UNCHANGED. Names and versions never change the verdict.
 *
 * *out owned by the caller (pm_diff_free), also after a failure (then
 * empty). Errors: PERCH_E_IO "out of memory".
 */
perch_err_kind pm_diff_compute(const pm_manifest *old, const pm_manifest *new_,
                               const pm_risk *rules, pm_diff *out, perch_err *err);
void pm_diff_free(pm_diff *d);

#endif /* PERCH_MANIFEST_DIFF_H */
