/* net.c: address classification, the strict URL parser and the allowlist (net.h). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "host/net.h"

/* ASCII classes, independent of the locale (as in the manifest rules). */
static bool a_digit(int c) { return c >= '0' && c <= '9'; }
static bool a_lower(int c) { return c >= 'a' && c <= 'z'; }
static bool a_upper(int c) { return c >= 'A' && c <= 'Z'; }
static bool a_alpha(int c) { return a_lower(c) || a_upper(c); }
static bool a_xdigit(int c) { return a_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
static char a_tolower(char c) { return a_upper((unsigned char)c) ? (char)(c - 'A' + 'a') : c; }

#define REFUSED PERCH_E_WASM_HTTP_REFUSED

/* ---- addresses ----------------------------------------------------------- */

/* ipv4 -> dec-octet "." dec-octet "." dec-octet "." dec-octet (no leading zeros) */
static bool ipv4_canonical(const char *s, size_t len, uint8_t out[4])
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        size_t start = i;
        unsigned v = 0;
        while (i < len && a_digit((unsigned char)s[i]) && i - start < 3)
            v = v * 10 + (unsigned)(s[i++] - '0');
        if (i == start || v > 255 || (s[start] == '0' && i - start > 1))
            return false;
        out[part] = (uint8_t)v;
        if (part < 3) {
            if (i >= len || s[i] != '.')
                return false;
            i++;
        }
    }
    return i == len;
}

bool ph_addr_parse(const char *s, ph_addr *out)
{
    size_t len = strlen(s);
    memset(out, 0, sizeof *out);
    if (ipv4_canonical(s, len, out->b)) {
        out->family = 4;
        return true;
    }
    if (len == 0 || len > 45 || strchr(s, '%'))
        return false;
    if (inet_pton(AF_INET6, s, out->b) != 1)
        return false;
    out->family = 6;
    return true;
}

void ph_addr_format(const ph_addr *a, char *dst, size_t cap)
{
    if (cap == 0)
        return;
    if (!inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->b, dst, (socklen_t)cap))
        dst[0] = '\0';
}

bool ph_addr_equal(const ph_addr *a, const ph_addr *b)
{
    return a->family == b->family && memcmp(a->b, b->b, a->family == 4 ? 4 : 16) == 0;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Whether v lies in prefix/bits. */
static bool in4(uint32_t v, uint32_t prefix, unsigned bits)
{
    uint32_t mask = bits == 0 ? 0 : 0xffffffffu << (32 - bits);
    return (v & mask) == prefix;
}

/*
 * Metadata services answer credentials to whoever asks from inside the
 * instance: AWS/GCP/Azure/OpenStack 169.254.169.254, AWS ECS 169.254.170.2,
 * Alibaba 100.100.100.200, Azure's wire server 168.63.129.16 (a public
 * address), AWS IPv6 fd00:ec2::254.
 */
static ph_addr_class classify4(uint32_t v)
{
    if (v == 0xa9fea9feu || v == 0xa9feaa02u || v == 0x646464c8u || v == 0xa83f8110u)
        return PH_ADDR_METADATA;
    if (in4(v, 0x00000000u, 8))
        return PH_ADDR_UNSPECIFIED;
    if (in4(v, 0x7f000000u, 8))
        return PH_ADDR_LOOPBACK;
    if (in4(v, 0x0a000000u, 8) || in4(v, 0xac100000u, 12) || in4(v, 0xc0a80000u, 16))
        return PH_ADDR_PRIVATE;
    if (in4(v, 0xa9fe0000u, 16))
        return PH_ADDR_LINK_LOCAL;
    if (in4(v, 0x64400000u, 10))
        return PH_ADDR_CGNAT;
    if (in4(v, 0xe0000000u, 4))
        return PH_ADDR_MULTICAST;
    /* 192.0.0/24 protocol assignments, 192.0.2/24, 198.51.100/24,
     * 203.0.113/24 documentation, 192.88.99/24 6to4 relays, 198.18/15
     * benchmarking, 240/4 future use and the broadcast address */
    if (in4(v, 0xc0000000u, 24) || in4(v, 0xc0000200u, 24) || in4(v, 0xc6336400u, 24) ||
        in4(v, 0xcb007100u, 24) || in4(v, 0xc0586300u, 24) || in4(v, 0xc6120000u, 15) ||
        in4(v, 0xf0000000u, 4))
        return PH_ADDR_RESERVED;
    return PH_ADDR_PUBLIC;
}

static bool zeros(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static ph_addr_class classify6(const uint8_t *b)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t ec2[16] = {0xfd, 0, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54};

    if (zeros(b, 16))
        return PH_ADDR_UNSPECIFIED;
    if (zeros(b, 15) && b[15] == 1)
        return PH_ADDR_LOOPBACK;
    /* The IPv4 forms: a mapped or translated address reaches the IPv4 host. */
    if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0)
        return classify4(be32(b + 12));
    if (b[0] == 0x20 && b[1] == 0x02) /* 6to4 carries an IPv4 address in bits 16..47 */
        return classify4(be32(b + 2));
    if (memcmp(b, ec2, 16) == 0)
        return PH_ADDR_METADATA;
    if (zeros(b, 12)) /* IPv4-compatible, deprecated */
        return PH_ADDR_RESERVED;
    if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b[4] == 0 && b[5] == 1)
        return PH_ADDR_PRIVATE; /* 64:ff9b:1::/48, local-use translation */
    if ((b[0] & 0xfe) == 0xfc)
        return PH_ADDR_UNIQUE_LOCAL;
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
        return PH_ADDR_LINK_LOCAL;
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)
        return PH_ADDR_PRIVATE; /* fec0::/10, site-local, deprecated */
    if (b[0] == 0xff)
        return PH_ADDR_MULTICAST;
    /* 2001:db8::/32 and 3fff::/20 documentation, 2001::/32 Teredo (an IPv4
     * host behind a relay), 2001:2::/48 benchmarking, 100::/64 discard */
    if ((b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) ||
        (b[0] == 0x3f && b[1] == 0xff && (b[2] & 0xf0) == 0) ||
        (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0) ||
        (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0x02 && b[4] == 0 && b[5] == 0) ||
        (b[0] == 0x01 && zeros(b + 1, 7)))
        return PH_ADDR_RESERVED;
    return PH_ADDR_PUBLIC;
}

ph_addr_class ph_addr_classify(const ph_addr *a)
{
    return a->family == 4 ? classify4(be32(a->b)) : classify6(a->b);
}

const char *ph_addr_class_name(ph_addr_class c)
{
    switch (c) {
    case PH_ADDR_PUBLIC: return "public";
    case PH_ADDR_UNSPECIFIED: return "unspecified";
    case PH_ADDR_LOOPBACK: return "loopback";
    case PH_ADDR_PRIVATE: return "private";
    case PH_ADDR_LINK_LOCAL: return "link-local";
    case PH_ADDR_CGNAT: return "carrier-grade NAT";
    case PH_ADDR_UNIQUE_LOCAL: return "unique-local";
    case PH_ADDR_MULTICAST: return "multicast";
    case PH_ADDR_METADATA: return "cloud metadata";
    case PH_ADDR_RESERVED: return "reserved";
    }
    return "unknown";
}

/* ---- URLs ---------------------------------------------------------------- */

/*
 * Whether host (lowercase, no trailing dot) ends in a number, the WHATWG
 * URL standard's test for "this host is meant as an IPv4 address": its last
 * label is all digits or 0x followed by hex digits.
 */
static bool ends_in_number(const char *host)
{
    const char *last = strrchr(host, '.');
    last = last ? last + 1 : host;
    if (last[0] == '0' && last[1] == 'x') {
        for (const char *p = last + 2; *p; p++)
            if (!a_xdigit((unsigned char)*p))
                return false;
        return true;
    }
    if (!*last)
        return false;
    for (const char *p = last; *p; p++)
        if (!a_digit((unsigned char)*p))
            return false;
    return true;
}

/* dns-name -> label ("." label)*, label -> 1..63 of [a-z0-9-], not starting or ending with '-' */
static perch_err_kind check_dns_name(const char *h, perch_err *err)
{
    size_t len = strlen(h), label = 0;
    if (len > 253)
        return pb_fail(err, REFUSED, "url: the host is longer than 253 bytes");
    for (size_t i = 0; i <= len; i++) {
        char c = i < len ? h[i] : '.';
        if (c == '.') {
            if (label == 0)
                return pb_fail(err, REFUSED, "url: the host has an empty label");
            if (h[i - 1] == '-' || h[i - label] == '-')
                return pb_fail(err, REFUSED, "url: a host label starts or ends with '-'");
            label = 0;
            continue;
        }
        if (!(a_lower((unsigned char)c) || a_digit((unsigned char)c) || c == '-'))
            return pb_fail(err, REFUSED, "url: the host has a character not allowed in a host name ('%c')", c);
        if (++label > 63)
            return pb_fail(err, REFUSED, "url: a host label is longer than 63 bytes");
    }
    return PERCH_OK;
}

static perch_err_kind parse_host(const char *h, size_t n, ph_url *out, perch_err *err)
{
    char buf[300];
    if (n == 0)
        return pb_fail(err, REFUSED, "url: the host is empty");
    if (h[0] == '[') {
        if (n < 3 || h[n - 1] != ']' || n - 2 >= sizeof buf)
            return pb_fail(err, REFUSED, "url: malformed IPv6 literal");
        for (size_t i = 0; i < n - 2; i++)
            buf[i] = a_tolower(h[i + 1]);
        buf[n - 2] = '\0';
        if (!strchr(buf, ':') || !ph_addr_parse(buf, &out->ip) || out->ip.family != 6)
            return pb_fail(err, REFUSED, "url: malformed IPv6 address [%s]", buf);
        out->host_is_ip = true;
        ph_addr_format(&out->ip, out->host, sizeof out->host);
        return PERCH_OK;
    }
    if (n >= sizeof buf)
        return pb_fail(err, REFUSED, "url: the host is longer than 253 bytes");
    for (size_t i = 0; i < n; i++)
        buf[i] = a_tolower(h[i]);
    buf[n] = '\0';
    /* "example.com." names the same host as "example.com" */
    if (n > 1 && buf[n - 1] == '.' && buf[n - 2] != '.')
        buf[--n] = '\0';
    if (ends_in_number(buf)) {
        if (!ipv4_canonical(buf, n, out->ip.b))
            return pb_fail(err, REFUSED,
                           "url: the host \"%s\" is an IPv4 address in a non-canonical spelling (write it as four decimal numbers, a.b.c.d)",
                           buf);
        out->ip.family = 4;
        out->host_is_ip = true;
        memcpy(out->host, buf, n + 1);
        return PERCH_OK;
    }
    if (check_dns_name(buf, err))
        return REFUSED;
    memcpy(out->host, buf, n + 1);
    return PERCH_OK;
}

/* port -> 1..65535 in decimal, no leading zeros; empty means the scheme's default */
static perch_err_kind parse_port(const char *p, size_t n, ph_url *out, perch_err *err)
{
    unsigned long v = 0;
    if (n == 0) {
        out->port = out->https ? 443 : 80;
        return PERCH_OK;
    }
    if (p[0] == '0' || n > 5)
        return pb_fail(err, REFUSED, "url: the port is out of range (1 to 65535, no leading zeros)");
    for (size_t i = 0; i < n; i++) {
        if (!a_digit((unsigned char)p[i]))
            return pb_fail(err, REFUSED, "url: the port is not a number");
        v = v * 10 + (unsigned long)(p[i] - '0');
    }
    if (v > 65535)
        return pb_fail(err, REFUSED, "url: the port is out of range (1 to 65535, no leading zeros)");
    out->port = (uint16_t)v;
    return PERCH_OK;
}

static bool ci_equal(const char *s, size_t n, const char *lit)
{
    if (strlen(lit) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (a_tolower(s[i]) != lit[i])
            return false;
    return true;
}

perch_err_kind ph_url_parse(const char *s, size_t len, ph_url *out, perch_err *err)
{
    size_t i = 0, a, auth_end, end, colon;
    const char *hostp;
    size_t hostn;

    memset(out, 0, sizeof *out);
    if (len == 0)
        return pb_fail(err, REFUSED, "url: the URL is empty");
    if (len > PH_URL_MAX)
        return pb_fail(err, REFUSED, "url: the URL is longer than %d bytes", PH_URL_MAX);
    /* Bytes other parsers read differently are refused, not guessed at:
     * browsers turn '\' into '/', some libraries stop at whitespace or NUL. */
    for (size_t k = 0; k < len; k++) {
        unsigned char c = (unsigned char)s[k];
        if (c >= 0x80)
            return pb_fail(err, REFUSED,
                           "url: the URL has non-ASCII bytes (write host names in their xn-- form and percent-encode the path)");
        if (c <= 0x20 || c == 0x7f)
            return pb_fail(err, REFUSED, "url: the URL has whitespace or a control character");
        if (c == '\\')
            return pb_fail(err, REFUSED, "url: the URL has a backslash");
    }
    /* scheme -> ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
    if (a_alpha((unsigned char)s[0]))
        while (i < len && (a_alpha((unsigned char)s[i]) || a_digit((unsigned char)s[i]) ||
                           s[i] == '+' || s[i] == '-' || s[i] == '.'))
            i++;
    if (i == 0 || i == len || s[i] != ':' || len - i < 3 || s[i + 1] != '/' || s[i + 2] != '/') {
        if (i > 0 && i < len && s[i] == ':' && (ci_equal(s, i, "https") || ci_equal(s, i, "http")))
            return pb_fail(err, REFUSED, "url: expected \"//\" after \"%.*s:\"", (int)i, s);
        return pb_fail(err, REFUSED, "scheme: the URL has no scheme (write https://HOST/PATH)");
    }
    if (ci_equal(s, i, "https"))
        out->https = true;
    else if (!ci_equal(s, i, "http"))
        return pb_fail(err, REFUSED, "scheme: \"%.*s\" is not allowed (only https, and http where granted)",
                       (int)(i > 32 ? 32 : i), s);
    a = i + 3;
    auth_end = a;
    while (auth_end < len && s[auth_end] != '/' && s[auth_end] != '?' && s[auth_end] != '#')
        auth_end++;
    if (memchr(s + a, '@', auth_end - a))
        return pb_fail(err, REFUSED, "url: user information before '@' is not allowed");
    if (memchr(s + a, '%', auth_end - a))
        return pb_fail(err, REFUSED, "url: percent signs are not allowed in the host");
    hostp = s + a;
    if (a < auth_end && s[a] == '[') {
        const char *close = memchr(s + a, ']', auth_end - a);
        if (!close)
            return pb_fail(err, REFUSED, "url: malformed IPv6 literal");
        colon = (size_t)(close - s) + 1;
        if (colon < auth_end && s[colon] != ':')
            return pb_fail(err, REFUSED, "url: unexpected text after the IPv6 literal");
    } else {
        const char *c = memchr(s + a, ':', auth_end - a);
        colon = c ? (size_t)(c - s) : auth_end;
    }
    hostn = colon - a;
    if (parse_host(hostp, hostn, out, err))
        return REFUSED;
    if (colon < auth_end) {
        if (parse_port(s + colon + 1, auth_end - colon - 1, out, err))
            return REFUSED;
    } else {
        out->port = out->https ? 443 : 80;
    }
    /* target -> path-abempty [ "?" query ]; the fragment is never sent */
    end = auth_end;
    while (end < len && s[end] != '#')
        end++;
    if (end == auth_end) {
        out->target = pb_strdup("/");
    } else if (s[auth_end] == '?') {
        out->target = pb_malloc(end - auth_end + 2);
        if (out->target) {
            out->target[0] = '/';
            memcpy(out->target + 1, s + auth_end, end - auth_end);
            out->target[end - auth_end + 1] = '\0';
        }
    } else {
        out->target = pb_strndup(s + auth_end, end - auth_end);
    }
    if (!out->target) {
        memset(out, 0, sizeof *out);
        return pb_fail(err, PERCH_E_IO, "out of memory");
    }
    return PERCH_OK;
}

void ph_url_free(ph_url *u)
{
    pb_free(u->target);
    u->target = NULL;
}

void ph_url_hostport(const ph_url *u, char *dst, size_t cap)
{
    if (u->host_is_ip && u->ip.family == 6)
        snprintf(dst, cap, "[%s]:%u", u->host, (unsigned)u->port);
    else
        snprintf(dst, cap, "%s:%u", u->host, (unsigned)u->port);
}

char *ph_url_string(const ph_url *u)
{
    char hp[300];
    size_t n;
    char *s;
    ph_url_hostport(u, hp, sizeof hp);
    n = strlen(hp) + strlen(u->target) + 9;
    s = pb_malloc(n);
    if (s)
        snprintf(s, n, "%s://%s%s", u->https ? "https" : "http", hp, u->target);
    return s;
}

/* ---- the allowlist ------------------------------------------------------- */

perch_err_kind ph_allowlist_parse(const char *const *patterns, size_t n, ph_allowlist *out,
                                  perch_err *err)
{
    out->items = NULL;
    out->count = 0;
    if (n == 0)
        return PERCH_OK;
    out->items = pb_calloc(n, sizeof *out->items);
    if (!out->items)
        return pb_fail(err, PERCH_E_IO, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *p = patterns[i];
        ph_grant *g = &out->items[i];
        const char *why = NULL;
        if (strncmp(p, "http://", 7) == 0) {
            g->http = true;
            p += 7;
        } else if (strncmp(p, "https://", 8) == 0) {
            p += 8;
        }
        if (!pm_check_net(p, &why) || !pm_net_parse(p, &g->net)) {
            char q[100];
            pm_quote(q, sizeof q, (const uint8_t *)patterns[i], strlen(patterns[i]));
            ph_allowlist_free(out);
            return pb_fail(err, PERCH_E_USAGE, "allowed host %s %s", q, why ? why : "is malformed");
        }
        if (!g->net.any && !g->net.wildcard && ph_addr_parse(g->net.host, &g->addr))
            g->ip = true;
        out->count++;
    }
    return PERCH_OK;
}

void ph_allowlist_free(ph_allowlist *l)
{
    pb_free(l->items);
    l->items = NULL;
    l->count = 0;
}

static bool exact(const ph_grant *g) { return !g->net.any && !g->net.wildcard; }

/* Whether grant g covers u's host and port (scheme aside). */
static bool grant_covers(const ph_grant *g, const ph_url *u)
{
    pm_net want;
    if (g->net.any)
        return true;
    if (g->net.port != u->port)
        return false;
    if (g->ip || u->host_is_ip)
        return g->ip && u->host_is_ip && ph_addr_equal(&g->addr, &u->ip);
    memset(&want, 0, sizeof want);
    memcpy(want.host, u->host, strlen(u->host) + 1);
    want.port = u->port;
    return pm_net_covers(&g->net, &want);
}

perch_err_kind ph_allowlist_check(const ph_allowlist *l, const ph_url *u, const ph_grant **grant,
                                  perch_err *err)
{
    const ph_grant *best = NULL;
    bool covered = false;
    char hp[300];

    *grant = NULL;
    for (size_t i = 0; i < l->count; i++) {
        const ph_grant *g = &l->items[i];
        if (!grant_covers(g, u))
            continue;
        covered = true;
        /* Plain http is readable and forgeable on the path: only where
         * granted for it (port 80, or a grant written http://). */
        if (!u->https && !g->http && g->net.port != 80)
            continue;
        if (exact(g)) {
            best = g;
            break;
        }
        if (!best)
            best = g;
    }
    ph_url_hostport(u, hp, sizeof hp);
    if (best) {
        *grant = best;
        return PERCH_OK;
    }
    if (covered)
        return pb_fail(err, REFUSED, "scheme: plain http to %s is not granted (use https, or grant http://%s)",
                       hp, hp);
    if (l->count == 0)
        return pb_fail(err, REFUSED, "allowlist: %s is not granted (this run grants no network access)", hp);
    return pb_fail(err, REFUSED, "allowlist: %s is not granted", hp);
}

perch_err_kind ph_allowlist_check_addr(const ph_allowlist *l, const ph_url *u, const ph_grant *g,
                                       const ph_addr *a, perch_err *err)
{
    ph_addr_class c = ph_addr_classify(a);
    bool literal_addr = false;
    char hp[300], text[64];

    if (c == PH_ADDR_PUBLIC)
        return PERCH_OK;
    for (size_t i = 0; i < l->count; i++)
        if (l->items[i].ip && l->items[i].net.port == u->port && ph_addr_equal(&l->items[i].addr, a))
            literal_addr = true;
    if (literal_addr || (c != PH_ADDR_METADATA && g && exact(g)))
        return PERCH_OK;
    ph_url_hostport(u, hp, sizeof hp);
    ph_addr_format(a, text, sizeof text);
    if (u->host_is_ip)
        pb_fail(err, REFUSED, "address: %s is in the %s range (grant it literally to reach it)", hp,
                ph_addr_class_name(c));
    else if (c == PH_ADDR_METADATA)
        pb_fail(err, REFUSED, "address: %s resolves to a cloud metadata address (only a grant of that address itself reaches it)",
                hp);
    else
        pb_fail(err, REFUSED, "address: %s resolves to an address in the %s range (grant the name or the address literally to reach it)",
                hp, ph_addr_class_name(c));
    pb_detail(err, "%s", text);
    return REFUSED;
}
