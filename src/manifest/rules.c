/*
 * rules.c: what a single manifest value may be, and when one grant covers
 * another. The readers (CBOR and JSON) and the diff share these, so each
 * rule has exactly one home.
 */
#include <stdlib.h>
#include <string.h>

#include "manifest/manifest.h"

/*
 * ASCII classes, independent of the locale: a rule must not accept a byte
 * in one environment that it refuses in another.
 */
static bool a_digit(int c) { return c >= '0' && c <= '9'; }
static bool a_lower(int c) { return c >= 'a' && c <= 'z'; }
static bool a_upper(int c) { return c >= 'A' && c <= 'Z'; }
static bool a_alpha(int c) { return a_lower(c) || a_upper(c); }
static bool a_alnum(int c) { return a_alpha(c) || a_digit(c); }
static bool a_xdigit(int c) { return a_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

static bool reject(const char **why, const char *reason)
{
    if (why)
        *why = reason;
    return false;
}

static bool has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

/*
 * A guest path is absolute and canonical: it starts with '/', has no empty,
 * "." or ".." components, no trailing '/' (except "/" itself), and no
 * control characters. Canonical form is required rather than normalised so
 * that what the reviewer reads is exactly what is enforced.
 */
bool pm_check_path(const char *path, const char **why)
{
    size_t len = strlen(path);
    const char *p;
    if (len == 0)
        return reject(why, "is empty");
    if (len > PM_MAX_TEXT)
        return reject(why, "is longer than 4096 bytes");
    if (path[0] != '/')
        return reject(why, "is relative (guest paths must start with '/')");
    if (has_control(path))
        return reject(why, "contains a control character");
    if (strcmp(path, "/") == 0)
        return true;
    if (path[len - 1] == '/')
        return reject(why, "ends with '/' (write it without the trailing slash)");
    p = path + 1;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 0)
            return reject(why, "contains an empty component ('//')");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return reject(why, "contains a '..' component");
        if (n == 1 && p[0] == '.')
            return reject(why, "contains a '.' component");
        p += n;
        if (*p == '/')
            p++;
    }
    return true;
}

/* env name -> [A-Za-z_][A-Za-z0-9_]* , at most 256 bytes */
bool pm_check_env(const char *name, const char **why)
{
    size_t len = strlen(name);
    if (len == 0)
        return reject(why, "is empty");
    if (len > PM_MAX_NAME)
        return reject(why, "is longer than 256 bytes");
    if (!(a_alpha((unsigned char)name[0]) || name[0] == '_'))
        return reject(why, "must start with a letter or '_'");
    for (size_t i = 0; i < len; i++)
        if (!(a_alnum((unsigned char)name[i]) || name[i] == '_'))
            return reject(why, "may contain only letters, digits and '_'");
    return true;
}

/* A semver number: "0" or digits without a leading zero. */
static const char *semver_number(const char *p)
{
    if (!a_digit((unsigned char)*p))
        return NULL;
    if (*p == '0')
        return a_digit((unsigned char)p[1]) ? NULL : p + 1;
    while (a_digit((unsigned char)*p))
        p++;
    return p;
}

/* Dot-separated identifiers of [0-9A-Za-z-]; numeric ones without leading zeros when numeric_rule. */
static const char *semver_idents(const char *p, bool numeric_rule)
{
    for (;;) {
        const char *start = p;
        bool all_digits = true;
        while (a_alnum((unsigned char)*p) || *p == '-') {
            if (!a_digit((unsigned char)*p))
                all_digits = false;
            p++;
        }
        if (p == start)
            return NULL;
        if (numeric_rule && all_digits && p - start > 1 && *start == '0')
            return NULL;
        if (*p != '.')
            return p;
        p++;
    }
}

/* version -> MAJOR.MINOR.PATCH [-prerelease] [+build]  (semver 2.0.0) */
bool pm_check_semver(const char *v, const char **why)
{
    const char *p = v;
    if (strlen(v) > PM_MAX_NAME)
        return reject(why, "is longer than 256 bytes");
    for (int i = 0; i < 3; i++) {
        p = semver_number(p);
        if (!p)
            return reject(why, "is not a semantic version (MAJOR.MINOR.PATCH, no leading zeros)");
        if (i < 2) {
            if (*p != '.')
                return reject(why, "is not a semantic version (MAJOR.MINOR.PATCH, no leading zeros)");
            p++;
        }
    }
    if (*p == '-') {
        p = semver_idents(p + 1, true);
        if (!p || (*p && *p != '+'))
            return reject(why, "has a malformed pre-release part");
    }
    if (*p == '+') {
        p = semver_idents(p + 1, false);
        if (!p || *p)
            return reject(why, "has malformed build metadata");
    }
    if (*p)
        return reject(why, "is not a semantic version (MAJOR.MINOR.PATCH, no leading zeros)");
    return true;
}

/* label -> [a-z0-9] ([a-z0-9-]{0,61} [a-z0-9])? */
static bool dns_name(const char *h, size_t len, const char **why)
{
    size_t label = 0;
    if (len == 0)
        return reject(why, "has an empty host");
    if (len > 253)
        return reject(why, "has a host longer than 253 bytes");
    for (size_t i = 0; i <= len; i++) {
        char c = i < len ? h[i] : '.';
        if (c == '.') {
            if (label == 0)
                return reject(why, "has an empty label in its host");
            if (h[i - 1] == '-' || h[i - label] == '-')
                return reject(why, "has a host label that starts or ends with '-'");
            label = 0;
            continue;
        }
        if (a_upper((unsigned char)c))
            return reject(why, "has uppercase letters in its host (write hosts in lowercase)");
        if (!(a_lower((unsigned char)c) || a_digit((unsigned char)c) || c == '-'))
            return reject(why, "has a character not allowed in a host name");
        if (++label > 63)
            return reject(why, "has a host label longer than 63 bytes");
    }
    return true;
}

/* ipv4 -> dec-octet "." dec-octet "." dec-octet "." dec-octet (no leading zeros) */
static bool ipv4_literal(const char *h, size_t len)
{
    int parts = 0;
    size_t i = 0;
    while (i < len) {
        unsigned v = 0;
        size_t start = i;
        while (i < len && a_digit((unsigned char)h[i]) && i - start < 4)
            v = v * 10 + (unsigned)(h[i++] - '0');
        if (i == start || i - start > 3 || v > 255 || (h[start] == '0' && i - start > 1))
            return false;
        parts++;
        if (i < len) {
            if (h[i] != '.' || parts == 4)
                return false;
            i++;
            if (i == len)
                return false;
        }
    }
    return parts == 4;
}

static bool all_numeric_labels(const char *h, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!a_digit((unsigned char)h[i]) && h[i] != '.')
            return false;
    return true;
}

/* ipv6 -> hex groups and colons, at most one "::", optional dotted quad tail */
static bool ipv6_literal(const char *h, size_t len)
{
    size_t groups = 0, i = 0;
    bool gap = false;
    if (len < 2 || len > 45)
        return false;
    if (h[0] == ':') {
        if (h[1] != ':')
            return false;
        gap = true;
        i = 2;
        if (i == len)
            return true;
    }
    while (i < len) {
        size_t start = i;
        while (i < len && a_xdigit((unsigned char)h[i]))
            i++;
        if (i < len && h[i] == '.') {
            /* embedded IPv4 ends the address */
            if (!ipv4_literal(h + start, len - start))
                return false;
            groups += 2;
            break;
        }
        if (i == start || i - start > 4)
            return false;
        groups++;
        if (i == len)
            break;
        if (h[i] != ':')
            return false;
        i++;
        if (i < len && h[i] == ':') {
            if (gap)
                return false;
            gap = true;
            i++;
            if (i == len)
                break;
        } else if (i == len) {
            return false;
        }
    }
    for (size_t k = 0; k < len; k++)
        if (a_upper((unsigned char)h[k]))
            return false;
    return gap ? groups < 8 : groups == 8;
}

/*
 * net -> "*" | host ":" port | "*." domain ":" port | "[" ipv6 "]" ":" port
 * port -> 1..65535, always explicit, no leading zeros
 */
static bool net_parse(const char *pattern, pm_net *out, const char **why)
{
    size_t len = strlen(pattern);
    const char *colon, *host, *end;
    size_t hlen;
    unsigned long port = 0;

    memset(out, 0, sizeof *out);
    if (len == 0)
        return reject(why, "is empty");
    if (len > 300)
        return reject(why, "is longer than 300 bytes");
    if (has_control(pattern))
        return reject(why, "contains a control character");
    if (strcmp(pattern, "*") == 0) {
        out->any = true;
        return true;
    }
    colon = strrchr(pattern, ':');
    if (pattern[0] == '[') {
        const char *close = strchr(pattern, ']');
        if (!close)
            return reject(why, "has a malformed IPv6 literal (write [addr]:port)");
        if (colon && colon < close)
            colon = NULL;
    }
    if (!colon)
        return reject(why, "has no port (write host:port, e.g. api.example.com:443)");
    if (colon[1] == '\0')
        return reject(why, "has an empty port");
    if (colon[1] == '0')
        return reject(why, "has a port out of range (1 to 65535, no leading zeros)");
    for (const char *q = colon + 1; *q; q++) {
        if (!a_digit((unsigned char)*q))
            return reject(why, "has a port that is not a number");
        port = port * 10 + (unsigned long)(*q - '0');
        if (port > 65535)
            return reject(why, "has a port out of range (1 to 65535)");
    }
    out->port = (uint16_t)port;
    host = pattern;
    end = colon;
    if (host[0] == '[') {
        if (end[-1] != ']')
            return reject(why, "has a malformed IPv6 literal (write [addr]:port)");
        host++, end--;
        hlen = (size_t)(end - host);
        if (!ipv6_literal(host, hlen))
            return reject(why, "has a malformed IPv6 address (lowercase hex, at most one '::')");
        memcpy(out->host, host, hlen);
        return true;
    }
    if (host[0] == '*') {
        if (host[1] != '.')
            return reject(why, "has a '*' that is not a whole leading label (write *.example.com:443 or *)");
        out->wildcard = true;
        host += 2;
    }
    hlen = (size_t)(end - host);
    if (hlen == 0)
        return reject(why, "has an empty host");
    if (memchr(host, '*', hlen))
        return reject(why, "has a '*' that is not a whole leading label (write *.example.com:443 or *)");
    if (memchr(host, ':', hlen))
        return reject(why, "has more than one ':' (IPv6 addresses go in brackets: [::1]:443)");
    if (!out->wildcard && all_numeric_labels(host, hlen)) {
        if (!ipv4_literal(host, hlen))
            return reject(why, "has a malformed IPv4 address");
    } else {
        if (out->wildcard && all_numeric_labels(host, hlen))
            return reject(why, "has a wildcard over an IP address");
        if (!dns_name(host, hlen, why))
            return false;
    }
    memcpy(out->host, host, hlen);
    return true;
}

bool pm_check_net(const char *pattern, const char **why)
{
    pm_net tmp;
    return net_parse(pattern, &tmp, why);
}

bool pm_net_parse(const char *pattern, pm_net *out)
{
    return net_parse(pattern, out, NULL);
}

/* Whether host is a proper subdomain of domain ("a.example.com" of "example.com"). */
static bool subdomain_of(const char *host, const char *domain)
{
    size_t h = strlen(host), d = strlen(domain);
    return h > d + 1 && host[h - d - 1] == '.' && strcmp(host + h - d, domain) == 0;
}

bool pm_net_covers(const pm_net *a, const pm_net *b)
{
    if (a->any)
        return true;
    if (b->any || a->port != b->port)
        return false;
    if (!a->wildcard)
        return !b->wildcard && strcmp(a->host, b->host) == 0;
    /* *.d covers x.d and *.x.d, never d itself */
    return subdomain_of(b->host, a->host) ||
           (b->wildcard && strcmp(b->host, a->host) == 0);
}

bool pm_path_covers(const char *a, const char *b)
{
    size_t n = strlen(a);
    if (strcmp(a, "/") == 0)
        return b[0] == '/';
    return strncmp(a, b, n) == 0 && (b[n] == '\0' || b[n] == '/');
}
