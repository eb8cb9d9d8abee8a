/*
 * diff.c: what changed between two manifests, classified with the grant
 * each entry actually gives (diff.h), and the verdict an auditor acts on.
 *
 * Coverage is decided by the rules in rules.c (pm_path_covers,
 * pm_net_covers) and nowhere else. Every list is bounded by PM_MAX_ENTRIES,
 * so the pairwise comparisons below stay within a few million calls even
 * for a hostile pair of manifests.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest/diff.h"

/* How many covered entries a "broadens" note names before "and N more". */
#define NOTE_MAX_NAMED 3

const char *pm_cap_name(pm_cap cap)
{
    static const char *const names[PM_CAP__COUNT] = {
        [PM_CAP_READ] = "read", [PM_CAP_WRITE] = "write",
        [PM_CAP_NET] = "net", [PM_CAP_ENV] = "env",
    };
    return (unsigned)cap < PM_CAP__COUNT ? names[cap] : "unknown";
}

const char *pm_change_name(pm_change change)
{
    switch (change) {
    case PM_UNCHANGED: return "unchanged";
    case PM_NEW: return "new";
    case PM_NARROWED: return "narrowed";
    case PM_REMOVED: return "removed";
    }
    return "unknown";
}

const char *pm_verdict_name(pm_verdict v)
{
    switch (v) {
    case PM_VERDICT_UNCHANGED: return "UNCHANGED";
    case PM_VERDICT_REDUCED: return "REDUCED";
    case PM_VERDICT_ELEVATED: return "ELEVATED";
    }
    return "UNKNOWN";
}

/* ---- HIGH RISK ---------------------------------------------------------- */

static const char *const default_env[] = {"*SECRET*", "*TOKEN*", "*PASSWORD*", "*_KEY"};
static const char *const default_net[] = {"*"};
static const char *const default_write[] = {"/"};

static const pm_risk default_risk = {
    default_env, sizeof default_env / sizeof default_env[0],
    default_net, sizeof default_net / sizeof default_net[0],
    default_write, sizeof default_write / sizeof default_write[0],
};

const pm_risk *pm_risk_default(void) { return &default_risk; }

/*
 * glob -> { '*' | char }, '*' matching any run of characters (also none),
 * every other character matching itself regardless of ASCII case. Greedy
 * with one backtrack point: linear in practice, quadratic at worst.
 */
static bool glob_match_ci(const char *glob, const char *s)
{
    const char *star = NULL, *resume = NULL;
    while (*s) {
        if (*glob == '*') {
            star = glob++;
            resume = s;
        } else if (*glob && tolower((unsigned char)*glob) == tolower((unsigned char)*s)) {
            glob++, s++;
        } else if (star) {
            glob = star + 1;
            s = ++resume;
        } else {
            return false;
        }
    }
    while (*glob == '*')
        glob++;
    return *glob == '\0';
}

bool pm_risk_match(const pm_risk *rules, pm_cap cap, const char *value,
                   const char **why)
{
    const char *const *list = NULL;
    size_t n = 0;
    if (!rules)
        rules = &default_risk;
    switch (cap) {
    case PM_CAP_ENV:
        for (size_t i = 0; i < rules->env_count; i++) {
            if (glob_match_ci(rules->env_globs[i], value)) {
                if (why)
                    *why = rules->env_globs[i];
                return true;
            }
        }
        return false;
    case PM_CAP_NET: list = rules->net, n = rules->net_count; break;
    case PM_CAP_WRITE: list = rules->write, n = rules->write_count; break;
    case PM_CAP_READ:
    case PM_CAP__COUNT: return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(list[i], value) == 0) {
            if (why)
                *why = list[i];
            return true;
        }
    }
    return false;
}

/* ---- one side of the comparison ----------------------------------------- */

/* A manifest's lists, sorted and free of duplicates; net entries parsed. */
typedef struct side {
    const char **v[PM_CAP__COUNT]; /* owned arrays of borrowed strings */
    size_t n[PM_CAP__COUNT];
    pm_net *net;                   /* owned, parallel to v[PM_CAP_NET] */
    bool *net_ok;                  /* whether each net entry parsed */
} side;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void side_free(side *s)
{
    for (int c = 0; c < PM_CAP__COUNT; c++)
        pb_free((void *)s->v[c]);
    pb_free(s->net);
    pb_free(s->net_ok);
    memset(s, 0, sizeof *s);
}

static const pm_list *cap_list(const pm_manifest *m, pm_cap cap)
{
    switch (cap) {
    case PM_CAP_READ: return &m->needs_read;
    case PM_CAP_WRITE: return &m->needs_write;
    case PM_CAP_NET: return &m->needs_net;
    case PM_CAP_ENV:
    case PM_CAP__COUNT: break;
    }
    return &m->needs_env;
}

/* m may be NULL: a side that declares nothing. False when out of memory. */
static bool side_init(side *s, const pm_manifest *m)
{
    memset(s, 0, sizeof *s);
    if (!m)
        return true;
    for (int c = 0; c < PM_CAP__COUNT; c++) {
        const pm_list *l = cap_list(m, (pm_cap)c);
        size_t k = 0;
        if (l->count == 0)
            continue;
        s->v[c] = pb_calloc(l->count, sizeof *s->v[c]);
        if (!s->v[c])
            return false;
        for (size_t i = 0; i < l->count; i++)
            s->v[c][i] = l->items[i];
        qsort((void *)s->v[c], l->count, sizeof *s->v[c], cmp_str);
        for (size_t i = 0; i < l->count; i++)
            if (k == 0 || strcmp(s->v[c][k - 1], s->v[c][i]) != 0)
                s->v[c][k++] = s->v[c][i];
        s->n[c] = k;
    }
    if (s->n[PM_CAP_NET]) {
        s->net = pb_calloc(s->n[PM_CAP_NET], sizeof *s->net);
        s->net_ok = pb_calloc(s->n[PM_CAP_NET], sizeof *s->net_ok);
        if (!s->net || !s->net_ok)
            return false;
        for (size_t i = 0; i < s->n[PM_CAP_NET]; i++)
            s->net_ok[i] = pm_net_parse(s->v[PM_CAP_NET][i], &s->net[i]);
    }
    return true;
}

/*
 * The first index of sorted v[0..n) whose first len bytes are not below
 * key[0..len). Entries starting with key follow one another from there.
 */
static size_t lower_bound(const char *const *v, size_t n, const char *key, size_t len)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strncmp(v[mid], key, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The entry of sorted v[0..n) equal to key[0..len), or NULL. */
static const char *find_n(const char *const *v, size_t n, const char *key, size_t len)
{
    size_t i = lower_bound(v, n, key, len);
    return i < n && strncmp(v[i], key, len) == 0 && v[i][len] == '\0' ? v[i] : NULL;
}

/*
 * The broadest entry of list that grants path, or NULL. Only an ancestor
 * (or the path itself) can grant a path, so each is looked up by binary
 * search; pm_path_covers has the last word on every candidate.
 */
static const char *path_granted(const side *s, pm_cap list, const char *path)
{
    size_t len = strlen(path);
    for (size_t i = 1; i <= len; i++) {
        const char *g;
        if (i != 1 && i != len && path[i] != '/')
            continue;
        g = find_n(s->v[list], s->n[list], path, i);
        if (g && pm_path_covers(g, path))
            return g;
    }
    return NULL;
}

/* The net entry of s spelled key[0..len), if it grants b. */
static const char *net_lookup(const side *s, const char *key, size_t len, const pm_net *b)
{
    size_t i = lower_bound(s->v[PM_CAP_NET], s->n[PM_CAP_NET], key, len);
    if (find_n(s->v[PM_CAP_NET], s->n[PM_CAP_NET], key, len) && s->net_ok[i] &&
        pm_net_covers(&s->net[i], b))
        return s->v[PM_CAP_NET][i];
    return NULL;
}

/*
 * An entry of s that grants net pattern value, or NULL. Only "*", the
 * pattern itself and "*.D:PORT" for each parent domain D of its host can,
 * so each is looked up by binary search; pm_net_covers has the last word.
 */
static const char *net_granted(const side *s, const char *value)
{
    char key[sizeof ((pm_net *)0)->host + 16];
    pm_net b;
    const char *g, *h;
    if (!pm_net_parse(value, &b))
        return NULL;
    if ((g = net_lookup(s, "*", 1, &b)) || (g = net_lookup(s, value, strlen(value), &b)))
        return g;
    if (b.any)
        return NULL;
    /* parents of the host ("*.b.c:p" is itself, found above, for "*.b.c:p") */
    for (h = strchr(b.host, '.'); h; h = strchr(h + 1, '.')) {
        int len = snprintf(key, sizeof key, "*.%s:%u", h + 1, (unsigned)b.port);
        if (len > 0 && (size_t)len < sizeof key && (g = net_lookup(s, key, (size_t)len, &b)))
            return g;
    }
    return NULL;
}

/*
 * The entry of s that grants value of cap, or NULL; *by gets the list it
 * was found in (a read is granted by a write entry too). env names grant
 * only themselves, which the caller has already compared.
 */
static const char *granted_by(const side *s, pm_cap cap, const char *value, pm_cap *by)
{
    const char *g = NULL;
    *by = cap;
    switch (cap) {
    case PM_CAP_READ:
        g = path_granted(s, PM_CAP_READ, value);
        if (!g) {
            *by = PM_CAP_WRITE;
            g = path_granted(s, PM_CAP_WRITE, value);
        }
        break;
    case PM_CAP_WRITE: g = path_granted(s, PM_CAP_WRITE, value); break;
    case PM_CAP_NET: g = net_granted(s, value); break;
    case PM_CAP_ENV:
    case PM_CAP__COUNT: break;
    }
    return g;
}

/* Whether new entry a grants old entry b of the same kind (and is not b). */
static bool broadens(pm_cap cap, const char *a, const pm_net *an, bool an_ok,
                     const side *old, size_t i)
{
    const char *b = old->v[cap][i];
    if (strcmp(a, b) == 0)
        return false;
    if (cap == PM_CAP_NET)
        return an_ok && old->net_ok[i] && pm_net_covers(an, &old->net[i]);
    return pm_path_covers(a, b);
}

/* ---- building entries --------------------------------------------------- */

/* "within /data", "within write /data", "still granted by ..." */
static bool note_grant(pb_buf *b, const char *lead, pm_cap cap, pm_cap by, const char *entry)
{
    return by == cap ? pb_buf_printf(b, "%s %s", lead, entry)
                     : pb_buf_printf(b, "%s %s %s", lead, pm_cap_name(by), entry);
}

/* The note of a NEW entry: what it widens, so a reviewer sees the old grant beside it. */
static bool note_new(pb_buf *b, pm_cap cap, const char *value, const side *old)
{
    pm_net an;
    bool an_ok = false;
    size_t named = 0, more = 0, start, vlen = strlen(value);
    if (cap == PM_CAP_WRITE) {
        pm_cap by;
        const char *r = granted_by(old, PM_CAP_READ, value, &by);
        if (r && by == PM_CAP_READ) {
            if (!(strcmp(r, value) == 0 ? pb_buf_printf(b, "was read-only")
                                        : pb_buf_printf(b, "was read-only under %s", r)))
                return false;
        }
    }
    if (cap != PM_CAP_READ && cap != PM_CAP_WRITE && cap != PM_CAP_NET)
        return true;
    if (cap == PM_CAP_NET) {
        an_ok = pm_net_parse(value, &an);
        /* host:port grants only itself */
        if (!an_ok || !(an.any || an.wildcard))
            return true;
        start = 0;
    } else {
        /* what a path grants starts with it, so sorts from it onward */
        start = lower_bound(old->v[cap], old->n[cap], value, vlen);
    }
    for (size_t i = start; i < old->n[cap]; i++) {
        if (cap != PM_CAP_NET && strncmp(old->v[cap][i], value, vlen) != 0)
            break;
        if (!broadens(cap, value, &an, an_ok, old, i))
            continue;
        if (named == NOTE_MAX_NAMED) {
            more++;
            continue;
        }
        if (!pb_buf_printf(b, "%s%s", b->len == 0 ? "broadens " : named ? ", " : "; broadens ",
                           old->v[cap][i]))
            return false;
        named++;
    }
    if (more && !pb_buf_printf(b, " and %zu more", more))
        return false;
    return true;
}

typedef struct builder {
    pm_diff *d;
    const pm_risk *rules;
} builder;

/* Append one entry; note (may be empty) is copied. False when out of memory. */
static bool add_entry(builder *bl, pm_cap cap, pm_change change, const char *value,
                      const pb_buf *note)
{
    pm_diff *d = bl->d;
    pm_diff_entry *e = &d->entries[d->count];
    memset(e, 0, sizeof *e);
    e->cap = cap;
    e->change = change;
    e->value = pb_strdup(value);
    if (!e->value)
        return false;
    if (note->len) {
        e->note = pb_strndup((const char *)note->data, note->len);
        if (!e->note) {
            pb_free(e->value);
            return false;
        }
    }
    /* The risk is of what NEW grants; a removed entry grants nothing. */
    if (change != PM_REMOVED)
        e->high_risk = pm_risk_match(bl->rules, cap, value, &e->risk_rule);
    d->count++;
    switch (change) {
    case PM_UNCHANGED: d->n_unchanged++; break;
    case PM_NEW:
        d->n_new++;
        if (e->high_risk)
            d->n_high_risk++;
        break;
    case PM_NARROWED: d->n_narrowed++; break;
    case PM_REMOVED: d->n_removed++; break;
    }
    return true;
}

/*
 * Merge the sorted lists of one kind into entries. False when out of memory.
 */
static bool compare_cap(builder *bl, pm_cap cap, const side *old, const side *nw)
{
    size_t i = 0, j = 0;
    pb_buf note = {0};
    bool ok = true;
    while (ok && (i < old->n[cap] || j < nw->n[cap])) {
        int c = i == old->n[cap] ? 1
              : j == nw->n[cap]  ? -1
                                 : strcmp(old->v[cap][i], nw->v[cap][j]);
        pm_cap by;
        const char *g;
        note.len = 0;
        if (c == 0) {
            ok = add_entry(bl, cap, PM_UNCHANGED, old->v[cap][i], &note);
            i++, j++;
        } else if (c < 0) {
            const char *v = old->v[cap][i++];
            g = granted_by(nw, cap, v, &by);
            if (g)
                ok = note_grant(&note, "still granted by", cap, by, g);
            else
                bl->d->n_lost++;
            ok = ok && add_entry(bl, cap, PM_REMOVED, v, &note);
        } else {
            const char *v = nw->v[cap][j++];
            g = granted_by(old, cap, v, &by);
            if (g)
                ok = note_grant(&note, "within", cap, by, g) &&
                     add_entry(bl, cap, PM_NARROWED, v, &note);
            else
                ok = note_new(&note, cap, v, old) && add_entry(bl, cap, PM_NEW, v, &note);
        }
    }
    pb_buf_free(&note);
    return ok;
}

/* A limit of "none" is the most memory there is. */
static pm_change memory_change(bool old_has, uint64_t old_v, bool new_has, uint64_t new_v)
{
    uint64_t a = old_has ? old_v : UINT64_MAX, b = new_has ? new_v : UINT64_MAX;
    return b > a ? PM_NEW : b < a ? PM_NARROWED : PM_UNCHANGED;
}

static size_t declared_count(const pm_manifest *m)
{
    size_t n = 0;
    for (int c = 0; c < PM_CAP__COUNT; c++)
        n += cap_list(m, (pm_cap)c)->count;
    return n;
}

static perch_err_kind oom(pm_diff *out, side *a, side *b, perch_err *err)
{
    side_free(a);
    side_free(b);
    pm_diff_free(out);
    return pb_fail(err, PERCH_E_IO, "out of memory comparing manifests");
}

perch_err_kind pm_diff_compute(const pm_manifest *old, const pm_manifest *new_,
                               const pm_risk *rules, pm_diff *out, perch_err *err)
{
    side so, sn;
    builder bl = {out, rules ? rules : &default_risk};
    size_t total;
    pb_buf expl = {0};

    memset(out, 0, sizeof *out);
    memset(&so, 0, sizeof so);
    memset(&sn, 0, sizeof sn);
    out->old_present = old != NULL;
    out->new_present = new_ != NULL;
    if ((old && !(out->old_name = pb_strdup(old->name))) ||
        (old && !(out->old_version = pb_strdup(old->version))) ||
        (new_ && !(out->new_name = pb_strdup(new_->name))) ||
        (new_ && !(out->new_version = pb_strdup(new_->version))))
        return oom(out, &so, &sn, err);
    if (old) {
        out->old_has_memory = old->has_memory_max;
        out->old_memory = old->memory_max;
    }
    if (new_) {
        out->new_has_memory = new_->has_memory_max;
        out->new_memory = new_->memory_max;
    }
    out->memory_change = memory_change(out->old_has_memory, out->old_memory,
                                       out->new_has_memory, out->new_memory);

    if (!new_) {
        /*
         * Without a manifest nothing bounds what a module may be granted:
         * an operator must grant it by hand, and nothing here can say
         * whether that is more or less than OLD declared.
         */
        if (old) {
            size_t n = declared_count(old);
            out->verdict = PM_VERDICT_ELEVATED;
            if (!pb_buf_printf(&expl,
                               "NEW has no perch.manifest section: what it needs is no longer "
                               "declared, so nothing bounds what it may be granted (OLD declared "
                               "%zu capabilit%s%s)",
                               n, n == 1 ? "y" : "ies",
                               old->has_memory_max ? " and a memory limit" : ""))
                goto fail_oom;
        } else {
            out->memory_change = PM_UNCHANGED;
            out->verdict = PM_VERDICT_UNCHANGED;
            if (!pb_buf_printf(&expl, "neither module has a perch.manifest section: nothing is "
                                      "declared, so there is nothing to compare"))
                goto fail_oom;
        }
        goto done;
    }

    if (!old && !pb_buf_printf(&expl, "OLD has no perch.manifest section: NEW's declarations "
                                      "are compared as if OLD declared nothing"))
        goto fail_oom;
    if (!side_init(&so, old) || !side_init(&sn, new_))
        goto fail_oom;
    total = 0;
    for (int c = 0; c < PM_CAP__COUNT; c++)
        total += so.n[c] + sn.n[c];
    if (total) {
        out->entries = pb_calloc(total, sizeof *out->entries);
        if (!out->entries)
            goto fail_oom;
    }
    for (int c = 0; c < PM_CAP__COUNT; c++)
        if (!compare_cap(&bl, (pm_cap)c, &so, &sn))
            goto fail_oom;

    if (out->n_new || out->memory_change == PM_NEW)
        out->verdict = PM_VERDICT_ELEVATED;
    else if (out->n_lost || out->memory_change == PM_NARROWED)
        out->verdict = PM_VERDICT_REDUCED;
    else
        out->verdict = PM_VERDICT_UNCHANGED;

done:
    if (expl.len) {
        out->explanation = pb_strndup((const char *)expl.data, expl.len);
        if (!out->explanation)
            goto fail_oom;
    }
    pb_buf_free(&expl);
    side_free(&so);
    side_free(&sn);
    return PERCH_OK;

fail_oom:
    pb_buf_free(&expl);
    return oom(out, &so, &sn, err);
}

void pm_diff_free(pm_diff *d)
{
    if (!d)
        return;
    pb_free(d->old_name);
    pb_free(d->new_name);
    pb_free(d->old_version);
    pb_free(d->new_version);
    for (size_t i = 0; i < d->count; i++) {
        pb_free(d->entries[i].value);
        pb_free(d->entries[i].note);
    }
    pb_free(d->entries);
    pb_free(d->explanation);
    memset(d, 0, sizeof *d);
}
