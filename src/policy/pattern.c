/*
 * pattern.c: what a deny pattern may be, and which declared needs it
 * refuses. The value rules themselves live in src/manifest/rules.c; a
 * pattern is a manifest value with '*' allowed in the places listed in
 * policy.h, checked by substituting the '*' and asking rules.c.
 */
#include <string.h>

#include "policy/policy.h"

const char *pp_kind_name(pp_kind kind)
{
    static const char *const names[PP_KIND__COUNT] = {
        [PP_READ] = "read", [PP_WRITE] = "write", [PP_NET] = "net",
        [PP_ENV] = "env", [PP_MEMORY] = "memory",
    };
    return (unsigned)kind < PP_KIND__COUNT ? names[kind] : "unknown";
}

static bool reject(const char **why, const char *reason)
{
    if (why)
        *why = reason;
    return false;
}

/* path-pattern -> "/" | ("/" (component | "*"))+ */
static bool check_path_pattern(const char *pattern, const char **why)
{
    char copy[PM_MAX_TEXT + 1];
    size_t len = strlen(pattern);
    if (len > PM_MAX_TEXT)
        return reject(why, "is longer than 4096 bytes");
    memcpy(copy, pattern, len + 1);
    for (size_t i = 0; i < len; i++) {
        if (copy[i] != '*')
            continue;
        /* a '*' stands for one whole component */
        if (i == 0 || copy[i - 1] != '/' || (copy[i + 1] != '/' && copy[i + 1] != '\0'))
            return reject(why, "has a '*' that is not a whole component (write /home/*/.ssh)");
        copy[i] = 'x';
    }
    return pm_check_path(copy, why);
}

/* env-pattern -> ( name-char | "*" )+, a valid name once each '*' is a letter */
static bool check_env_pattern(const char *pattern, const char **why)
{
    char copy[PM_MAX_NAME + 1];
    size_t len = strlen(pattern);
    if (len > PM_MAX_NAME)
        return reject(why, "is longer than 256 bytes");
    memcpy(copy, pattern, len + 1);
    for (size_t i = 0; i < len; i++)
        if (copy[i] == '*')
            copy[i] = 'X';
    return pm_check_env(copy, why);
}

bool pp_check_pattern(pp_kind kind, const char *pattern, const char **why)
{
    switch (kind) {
    case PP_READ:
    case PP_WRITE: return check_path_pattern(pattern, why);
    case PP_NET: return pm_check_net(pattern, why);
    case PP_ENV: return check_env_pattern(pattern, why);
    case PP_MEMORY:
    case PP_KIND__COUNT: break;
    }
    return reject(why, "is not a kind that takes patterns");
}

/* The next component of *p ("" at the end); advances *p past it. */
static size_t next_component(const char **p, const char **start)
{
    const char *s = *p;
    size_t n;
    while (*s == '/')
        s++;
    *start = s;
    n = strcspn(s, "/");
    *p = s + n;
    return n;
}

/*
 * Two paths overlap when, over the components both have, each pair is
 * equal or the pattern's is '*': then one lies beneath the other, and a
 * grant of the broader one reaches into the narrower.
 */
static bool path_overlaps(const char *pattern, const char *need)
{
    const char *p = pattern, *n = need;
    for (;;) {
        const char *ps, *ns;
        size_t pl = next_component(&p, &ps);
        size_t nl = next_component(&n, &ns);
        if (pl == 0 || nl == 0)
            return true;
        if (!(pl == 1 && ps[0] == '*') && (pl != nl || memcmp(ps, ns, pl) != 0))
            return false;
    }
}

static int ascii_lower(int c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; }

/*
 * glob -> { '*' | char }, '*' matching any run (also none), other
 * characters themselves ignoring ASCII case. One backtrack point: linear
 * in practice, quadratic at worst on names of at most 256 bytes.
 */
static bool glob_match_ci(const char *glob, const char *s)
{
    const char *star = NULL, *resume = NULL;
    while (*s) {
        if (*glob == '*') {
            star = glob++;
            resume = s;
        } else if (*glob && ascii_lower((unsigned char)*glob) == ascii_lower((unsigned char)*s)) {
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

bool pp_pattern_refuses(pp_kind kind, const char *pattern, const char *need)
{
    switch (kind) {
    case PP_READ:
    case PP_WRITE: return path_overlaps(pattern, need);
    case PP_NET: {
        pm_net a, b;
        /* a need that does not parse cannot be granted: refuse it */
        if (!pm_net_parse(pattern, &a) || !pm_net_parse(need, &b))
            return true;
        return pm_net_covers(&a, &b) || pm_net_covers(&b, &a);
    }
    case PP_ENV: return glob_match_ci(pattern, need);
    case PP_MEMORY:
    case PP_KIND__COUNT: break;
    }
    return true;
}

perch_err_kind pp_parse_cap(const char *cap, pp_kind *kind, const char **pattern,
                            perch_err *err)
{
    static const pp_kind kinds[] = {PP_READ, PP_WRITE, PP_NET, PP_ENV};
    const char *why = NULL;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        const char *name = pp_kind_name(kinds[i]);
        size_t n = strlen(name);
        if (strncmp(cap, name, n) != 0 || (cap[n] != '\0' && cap[n] != ':'))
            continue;
        *kind = kinds[i];
        if (cap[n] == '\0' || strcmp(cap + n + 1, "*") == 0) {
            /* "net:*" is every host too; "env:*" and "read:/" say the same */
            *pattern = NULL;
            return PERCH_OK;
        }
        *pattern = cap + n + 1;
        if (!pp_check_pattern(kinds[i], *pattern, &why))
            return pb_fail(err, PERCH_E_USAGE, "capability \"%s\": the %s pattern %s", cap,
                           name, why);
        return PERCH_OK;
    }
    if (strncmp(cap, "memory", 6) == 0 && (cap[6] == '\0' || cap[6] == ':'))
        return pb_fail(err, PERCH_E_USAGE,
                       "capability \"%s\": memory is not denied but capped (--memory-max)",
                       cap);
    return pb_fail(err, PERCH_E_USAGE,
                   "capability \"%s\": expected read, write, net or env, alone or followed "
                   "by ':' and a pattern (net:api.example.com:443)",
                   cap);
}
