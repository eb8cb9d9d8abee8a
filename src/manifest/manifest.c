/*
 * manifest.c: the manifest model's life cycle, the validation of a whole
 * manifest, and the steps the CBOR and JSON readers share (keys, values,
 * list entries, messages), so each rule and each message has one home.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest/manifest.h"

static const char *const key_names[PM_KEY__COUNT] = {
    [PM_KEY_SCHEMA] = "schema",         [PM_KEY_NAME] = "name",
    [PM_KEY_VERSION] = "version",       [PM_KEY_NEEDS_READ] = "needs_read",
    [PM_KEY_NEEDS_WRITE] = "needs_write", [PM_KEY_NEEDS_NET] = "needs_net",
    [PM_KEY_NEEDS_ENV] = "needs_env",   [PM_KEY_MEMORY_MAX] = "memory_max",
};

#define SCHEMA_KEYS                                                           \
    "schema, name, version, needs_read, needs_write, needs_net, needs_env, "  \
    "memory_max"

/* Room for a quoted value in a message: 64 input bytes, each up to \xNN. */
#define QUOTE_CAP (64 * 4 + 8)

const char *pm_key_name(pm_key key)
{
    return (unsigned)key < PM_KEY__COUNT ? key_names[key] : "unknown";
}

const char *pm_key_type(pm_key key)
{
    switch (key) {
    case PM_KEY_SCHEMA:
    case PM_KEY_MEMORY_MAX: return "uint";
    case PM_KEY_NAME:
    case PM_KEY_VERSION: return "text";
    default: return "array";
    }
}

pm_list *pm_key_list(pm_manifest *m, pm_key key)
{
    switch (key) {
    case PM_KEY_NEEDS_READ: return &m->needs_read;
    case PM_KEY_NEEDS_WRITE: return &m->needs_write;
    case PM_KEY_NEEDS_NET: return &m->needs_net;
    case PM_KEY_NEEDS_ENV: return &m->needs_env;
    default: return NULL;
    }
}

static const pm_list *key_list_const(const pm_manifest *m, pm_key key)
{
    return pm_key_list((pm_manifest *)(uintptr_t)m, key);
}

void pm_manifest_init(pm_manifest *m)
{
    memset(m, 0, sizeof *m);
}

static void list_free(pm_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        pb_free(l->items[i]);
    pb_free(l->items);
    l->items = NULL;
    l->count = 0;
}

void pm_manifest_free(pm_manifest *m)
{
    pb_free(m->name);
    pb_free(m->version);
    list_free(&m->needs_read);
    list_free(&m->needs_write);
    list_free(&m->needs_net);
    list_free(&m->needs_env);
    pm_manifest_init(m);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void pm_normalize(pm_manifest *m)
{
    for (pm_key k = PM_KEY_NEEDS_READ; k <= PM_KEY_NEEDS_ENV; k++) {
        pm_list *l = pm_key_list(m, k);
        if (l->count > 1)
            qsort(l->items, l->count, sizeof *l->items, cmp_str);
    }
}

/* ---- messages ------------------------------------------------------------ */

perch_err_kind pm_fail(perch_err *err, uint64_t at, const char *fmt, ...)
{
    char msg[sizeof err->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (at == PERCH_NO_OFFSET)
        return pb_fail(err, PERCH_E_MANIFEST_MALFORMED, "%s", msg);
    return pb_fail_at(err, PERCH_E_MANIFEST_MALFORMED, at, "%s", msg);
}

/* Code points that reorder or hide text on a terminal: C1 controls, bidi marks. */
static bool invisible(uint32_t cp)
{
    return (cp >= 0x80 && cp < 0xa0) || cp == 0x200e || cp == 0x200f ||
           (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

static uint32_t utf8_at(const uint8_t *s, size_t *n);

void pm_quote(char *dst, size_t cap, const uint8_t *s, size_t len)
{
    bool utf8 = pb_utf8_valid(s, len);
    size_t shown = len > 64 ? 64 : len, o = 0, i = 0;

    if (cap < 8) {
        if (cap)
            dst[0] = '\0';
        return;
    }
    /* Never cut a UTF-8 sequence in half: back up to a lead byte. */
    if (utf8 && shown < len)
        while (shown > 0 && (s[shown] & 0xc0) == 0x80)
            shown--;
    dst[o++] = '"';
    while (i < shown && o + 12 < cap) {
        uint8_t c = s[i];
        size_t n = 1;
        if (c == '"' || c == '\\') {
            dst[o++] = '\\';
            dst[o++] = (char)c;
        } else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8)) {
            o += (size_t)snprintf(dst + o, cap - o, "\\x%02x", c);
        } else if (c >= 0x80) {
            uint32_t cp = utf8_at(s + i, &n);
            if (invisible(cp))
                o += (size_t)snprintf(dst + o, cap - o, "\\u%04x", (unsigned)cp);
            else
                for (size_t k = 0; k < n; k++)
                    dst[o++] = (char)s[i + k];
        } else {
            dst[o++] = (char)c;
        }
        i += n;
    }
    if (shown < len) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o++] = '"';
    dst[o] = '\0';
}

/* "needs_read[2]" or "name" */
static void where(char *dst, size_t cap, pm_key key, size_t index)
{
    if (index == SIZE_MAX)
        snprintf(dst, cap, "%s", pm_key_name(key));
    else
        snprintf(dst, cap, "%s[%zu]", pm_key_name(key), index);
}

/* "WHERE VALUE: WHY" */
static perch_err_kind fail_value(perch_err *err, uint64_t at, pm_key key,
                                 size_t index, const uint8_t *s, size_t len,
                                 const char *why)
{
    char w[64], q[QUOTE_CAP];
    where(w, sizeof w, key, index);
    pm_quote(q, sizeof q, s, len);
    return pm_fail(err, at, "%s %s: %s", w, q, why);
}

perch_err_kind pm_read_type_error(pm_key key, size_t index, uint64_t at,
                                  const char *expected, const char *found,
                                  perch_err *err)
{
    if (index == SIZE_MAX)
        return pm_fail(err, at, "key \"%s\": expected %s, found %s",
                       pm_key_name(key), expected, found);
    return pm_fail(err, at, "%s[%zu]: expected %s, found %s", pm_key_name(key),
                   index, expected, found);
}

static perch_err_kind oom(perch_err *err)
{
    return pb_fail(err, PERCH_E_IO, "out of memory reading the manifest");
}

/* ---- the rules of single values ----------------------------------------- */

static const char *schema_why(uint64_t v)
{
    return v == PM_SCHEMA ? NULL : "is not a supported schema (this perch reads schema 1)";
}

static const char *memory_why(uint64_t v)
{
    return v <= PM_MEMORY_LIMIT
               ? NULL
               : "is above 4 GiB (4294967296 bytes), the most a wasm32 memory can address";
}

/* The code point of the UTF-8 sequence at s (well-formed input), and its length. */
static uint32_t utf8_at(const uint8_t *s, size_t *n)
{
    if (s[0] < 0x80) {
        *n = 1;
        return s[0];
    }
    if ((s[0] & 0xe0) == 0xc0) {
        *n = 2;
        return (uint32_t)(s[0] & 0x1f) << 6 | (s[1] & 0x3fu);
    }
    if ((s[0] & 0xf0) == 0xe0) {
        *n = 3;
        return (uint32_t)(s[0] & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3fu);
    }
    *n = 4;
    return (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 |
           (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3fu);
}

/*
 * A name is what an auditor reads first, so it may not hide anything: no
 * C0/C1 control characters, and no bidirectional overrides that would make
 * it display as another name. The caller has checked UTF-8.
 */
static const char *name_why(const char *name)
{
    const uint8_t *s = (const uint8_t *)name;
    size_t len = strlen(name);
    if (len == 0)
        return "is empty";
    if (len > PM_MAX_NAME)
        return "is longer than 256 bytes";
    for (size_t i = 0, n; i < len; i += n) {
        uint32_t cp = utf8_at(s + i, &n);
        if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
            return "contains a control character";
        if ((cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
            cp == 0x200e || cp == 0x200f)
            return "contains a bidirectional control character";
    }
    return NULL;
}

/* The rule of one list entry (already NUL-free UTF-8). */
static const char *entry_why(pm_key key, const char *s)
{
    const char *why = NULL;
    bool ok = false;
    switch (key) {
    case PM_KEY_NEEDS_READ:
    case PM_KEY_NEEDS_WRITE: ok = pm_check_path(s, &why); break;
    case PM_KEY_NEEDS_NET: ok = pm_check_net(s, &why); break;
    case PM_KEY_NEEDS_ENV: ok = pm_check_env(s, &why); break;
    default: why = "is not a list"; break;
    }
    return ok ? NULL : why;
}

/* Checks on raw text before it becomes a C string: encoding, NUL, size. */
static const char *raw_text_why(const uint8_t *s, size_t len)
{
    if (len > PM_MAX_TEXT)
        return "is longer than 4096 bytes";
    if (!pb_utf8_valid(s, len))
        return "is not well-formed UTF-8";
    if (memchr(s, '\0', len))
        return "contains a control character";
    return NULL;
}

/* ---- whole-manifest validation ------------------------------------------ */

typedef struct indexed {
    const char *s;
    size_t i;
} indexed;

static int cmp_indexed(const void *a, const void *b)
{
    const indexed *x = a, *y = b;
    int c = strcmp(x->s, y->s);
    if (c)
        return c;
    return x->i < y->i ? -1 : x->i > y->i;
}

/*
 * The earliest entry that repeats an earlier one: *dup gets its index and
 * *first the index of the entry it repeats. Sorting keeps this
 * O(n log n) on lists of PM_MAX_ENTRIES.
 */
static perch_err_kind find_duplicate(const pm_list *l, bool *found, size_t *first,
                                     size_t *dup, perch_err *err)
{
    indexed *v;
    *found = false;
    if (l->count < 2)
        return PERCH_OK;
    v = pb_calloc(l->count, sizeof *v);
    if (!v)
        return pb_fail(err, PERCH_E_IO, "out of memory checking the manifest");
    for (size_t i = 0; i < l->count; i++)
        v[i] = (indexed){l->items[i], i};
    qsort(v, l->count, sizeof *v, cmp_indexed);
    for (size_t i = 1; i < l->count; i++) {
        if (strcmp(v[i - 1].s, v[i].s) != 0)
            continue;
        /* v[i-1] is the first of its run only if the one before differs */
        size_t g = i - 1;
        while (g > 0 && strcmp(v[g - 1].s, v[i].s) == 0)
            g--;
        if (!*found || v[i].i < *dup) {
            *found = true;
            *dup = v[i].i;
            *first = v[g].i;
        }
    }
    pb_free(v);
    return PERCH_OK;
}

perch_err_kind pm_validate(const pm_manifest *m, perch_err *err)
{
    const char *why;

    if (m->schema == 0)
        return pm_fail(err, PERCH_NO_OFFSET, "missing required key \"schema\"");
    if ((why = schema_why(m->schema)))
        return pm_fail(err, PERCH_NO_OFFSET, "schema %llu: %s",
                       (unsigned long long)m->schema, why);
    if (!m->name)
        return pm_fail(err, PERCH_NO_OFFSET, "missing required key \"name\"");
    if ((why = raw_text_why((const uint8_t *)m->name, strlen(m->name))) ||
        (why = name_why(m->name)))
        return fail_value(err, PERCH_NO_OFFSET, PM_KEY_NAME, SIZE_MAX,
                          (const uint8_t *)m->name, strlen(m->name), why);
    if (!m->version)
        return pm_fail(err, PERCH_NO_OFFSET, "missing required key \"version\"");
    if ((why = raw_text_why((const uint8_t *)m->version, strlen(m->version))) ||
        !pm_check_semver(m->version, &why))
        return fail_value(err, PERCH_NO_OFFSET, PM_KEY_VERSION, SIZE_MAX,
                          (const uint8_t *)m->version, strlen(m->version), why);
    for (pm_key k = PM_KEY_NEEDS_READ; k <= PM_KEY_NEEDS_ENV; k++) {
        const pm_list *l = key_list_const(m, k);
        perch_err_kind rc;
        bool found;
        size_t first = 0, dup = 0;
        if (l->count > PM_MAX_ENTRIES)
            return pm_fail(err, PERCH_NO_OFFSET, "%s: more than %d entries",
                           pm_key_name(k), PM_MAX_ENTRIES);
        for (size_t i = 0; i < l->count; i++) {
            const char *s = l->items[i];
            if ((why = raw_text_why((const uint8_t *)s, strlen(s))) ||
                (why = entry_why(k, s)))
                return fail_value(err, PERCH_NO_OFFSET, k, i, (const uint8_t *)s,
                                  strlen(s), why);
        }
        if ((rc = find_duplicate(l, &found, &first, &dup, err)) != PERCH_OK)
            return rc;
        if (found) {
            char w[64], q[QUOTE_CAP];
            where(w, sizeof w, k, dup);
            pm_quote(q, sizeof q, (const uint8_t *)l->items[dup], strlen(l->items[dup]));
            return pm_fail(err, PERCH_NO_OFFSET, "%s %s: duplicate entry (same as %s[%zu])",
                           w, q, pm_key_name(k), first);
        }
    }
    if (m->has_memory_max && (why = memory_why(m->memory_max)))
        return pm_fail(err, PERCH_NO_OFFSET, "memory_max %llu: %s",
                       (unsigned long long)m->memory_max, why);
    return PERCH_OK;
}

/* ---- the readers' shared steps ------------------------------------------ */

void pm_read_init(pm_reader *r, pm_manifest *m)
{
    memset(r, 0, sizeof *r);
    r->m = m;
}

perch_err_kind pm_read_key(pm_reader *r, const uint8_t *s, size_t len,
                           uint64_t at, pm_key *out, perch_err *err)
{
    char q[QUOTE_CAP];
    if (!pb_utf8_valid(s, len)) {
        pm_quote(q, sizeof q, s, len);
        return pm_fail(err, at, "map key %s: is not well-formed UTF-8", q);
    }
    for (pm_key k = 0; k < PM_KEY__COUNT; k++) {
        if (strlen(key_names[k]) != len || memcmp(key_names[k], s, len) != 0)
            continue;
        if (r->seen & (1u << k))
            return pm_fail(err, at, "duplicate key \"%s\"", key_names[k]);
        r->seen |= 1u << k;
        *out = k;
        return PERCH_OK;
    }
    pm_quote(q, sizeof q, s, len);
    return pm_fail(err, at, "unknown key %s (the keys of schema 1 are " SCHEMA_KEYS ")", q);
}

perch_err_kind pm_read_uint(pm_reader *r, pm_key key, uint64_t v, uint64_t at,
                            perch_err *err)
{
    const char *why;
    if (key == PM_KEY_SCHEMA) {
        if ((why = schema_why(v)))
            return pm_fail(err, at, "schema %llu: %s", (unsigned long long)v, why);
        r->m->schema = v;
        return PERCH_OK;
    }
    if (key == PM_KEY_MEMORY_MAX) {
        if ((why = memory_why(v)))
            return pm_fail(err, at, "memory_max %llu: %s", (unsigned long long)v, why);
        r->m->memory_max = v;
        r->m->has_memory_max = true;
        return PERCH_OK;
    }
    return pm_read_type_error(key, SIZE_MAX, at, pm_key_type(key), "uint", err);
}

perch_err_kind pm_read_text(pm_reader *r, pm_key key, const uint8_t *s,
                            size_t len, uint64_t at, perch_err *err)
{
    const char *why = raw_text_why(s, len);
    char **slot = key == PM_KEY_NAME ? &r->m->name : key == PM_KEY_VERSION ? &r->m->version : NULL;
    if (!slot)
        return pm_read_type_error(key, SIZE_MAX, at, pm_key_type(key), "text", err);
    if (!why && len > PM_MAX_NAME)
        why = "is longer than 256 bytes";
    if (why)
        return fail_value(err, at, key, SIZE_MAX, s, len, why);
    pb_free(*slot);
    if (!(*slot = pb_strndup((const char *)s, len)))
        return oom(err);
    if (key == PM_KEY_NAME && (why = name_why(*slot)))
        return fail_value(err, at, key, SIZE_MAX, s, len, why);
    if (key == PM_KEY_VERSION && !pm_check_semver(*slot, &why))
        return fail_value(err, at, key, SIZE_MAX, s, len, why);
    return PERCH_OK;
}

perch_err_kind pm_read_entry(pm_reader *r, pm_key key, const uint8_t *s,
                             size_t len, uint64_t at, perch_err *err)
{
    pm_list *l = pm_key_list(r->m, key);
    const char *why;
    char *copy;
    if (!l)
        return pm_read_type_error(key, SIZE_MAX, at, pm_key_type(key), "array", err);
    if (l->count >= PM_MAX_ENTRIES)
        return pm_fail(err, at, "%s: more than %d entries", pm_key_name(key), PM_MAX_ENTRIES);
    if ((why = raw_text_why(s, len)))
        return fail_value(err, at, key, l->count, s, len, why);
    if (l->count == r->cap[key]) {
        size_t ncap = r->cap[key] ? r->cap[key] * 2 : 4;
        char **items = pb_realloc(l->items, ncap * sizeof *items);
        if (!items)
            return oom(err);
        l->items = items;
        r->cap[key] = ncap;
    }
    if (!(copy = pb_strndup((const char *)s, len)))
        return oom(err);
    l->items[l->count++] = copy;
    if ((why = entry_why(key, copy)))
        return fail_value(err, at, key, l->count - 1, s, len, why);
    return PERCH_OK;
}

perch_err_kind pm_read_finish(pm_reader *r, perch_err *err)
{
    return pm_validate(r->m, err);
}
