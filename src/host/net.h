/*
 * net.h: the network rules of the perch host module, without any network:
 * IP address classification, the strict URL parser, and the allowlist of
 * granted hosts and ports. Prefix ph_. Uses libc and the manifest's net
 * rules (pm_net_parse, pm_net_covers), so a grant means here exactly what it
 * means in a manifest (DESIGN.md, "Capabilities and refusals").
 *
 * Every refusal is PERCH_E_WASM_HTTP_REFUSED with a message that starts with
 * the name of the rule that refused, "RULE: ...", one of:
 *
 *   url          the URL is malformed or ambiguous (userinfo, backslash,
 *                non-ASCII, non-canonical IPv4 spelling, ...)
 *   scheme       no scheme, a scheme other than http/https, plain http to a
 *                port not granted for it, an https to http redirect
 *   allowlist    host:port not granted
 *   address      the host resolves to (or is) an address in a refused range
 *   redirect     too many redirects, or a redirect without a usable target
 *   size         the response body is larger than the cap
 *   certificate  the server's certificate does not verify
 *   limit        too many open responses in one run
 */
#ifndef PERCH_HOST_NET_H
#define PERCH_HOST_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "manifest/manifest.h"

/* ---- addresses ----------------------------------------------------------- */

/* An IP address: family 4 (b[0..3]) or 6 (b[0..15]), network byte order. */
typedef struct ph_addr {
    int family;
    uint8_t b[16];
} ph_addr;

/*
 * Where an address points. Only PH_ADDR_PUBLIC is reachable without a
 * literal grant; the others are the ranges a server-side request forgery
 * aims at. IPv4-mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::/96) and 6to4
 * (2002::/16) addresses are classified by the IPv4 address they carry.
 */
typedef enum ph_addr_class {
    PH_ADDR_PUBLIC = 0,
    PH_ADDR_UNSPECIFIED,  /* 0.0.0.0/8, :: */
    PH_ADDR_LOOPBACK,     /* 127.0.0.0/8, ::1 */
    PH_ADDR_PRIVATE,      /* 10/8, 172.16/12, 192.168/16, fec0::/10, 64:ff9b:1::/48 */
    PH_ADDR_LINK_LOCAL,   /* 169.254/16, fe80::/10 */
    PH_ADDR_CGNAT,        /* 100.64/10 */
    PH_ADDR_UNIQUE_LOCAL, /* fc00::/7 */
    PH_ADDR_MULTICAST,    /* 224/4, ff00::/8 */
    PH_ADDR_METADATA,     /* cloud instance metadata services (see net.c) */
    PH_ADDR_RESERVED      /* documentation, benchmarking, 240/4, broadcast,
                             IPv4-compatible ::/96, Teredo, discard-only */
} ph_addr_class;

/*
 * Parse a canonical IPv4 dotted quad (no leading zeros) or an IPv6 address
 * (no brackets, no zone). False for anything else.
 */
bool ph_addr_parse(const char *s, ph_addr *out);
/* The address as text (IPv6 in its compressed form, no brackets). */
void ph_addr_format(const ph_addr *a, char *dst, size_t cap);
bool ph_addr_equal(const ph_addr *a, const ph_addr *b);
ph_addr_class ph_addr_classify(const ph_addr *a);
/* "public", "loopback", "private", ... Static. */
const char *ph_addr_class_name(ph_addr_class c);

/* ---- URLs ---------------------------------------------------------------- */

/* Longest URL accepted, in bytes. */
#define PH_URL_MAX 8192

/*
 * A URL the host module will request, in canonical form: scheme lowercase,
 * host lowercase without a trailing dot (IPv6 compressed, no brackets),
 * port always explicit, target the path and query ("/" when empty), the
 * fragment dropped.
 */
typedef struct ph_url {
    bool https;
    char host[256];
    bool host_is_ip;
    ph_addr ip;         /* when host_is_ip */
    uint16_t port;
    char *target;       /* owned (ph_url_free) */
} ph_url;

/*
 * url -> scheme "://" host [":" port] [target] ["#" fragment]
 * scheme -> "http" | "https" (any case)
 * host -> dns-name ["."] | ipv4 | "[" ipv6 "]"
 *
 * Parse s (len bytes, not NUL-terminated) strictly. What other parsers read
 * differently is refused rather than guessed: userinfo (`a.com@b.com`),
 * backslashes, whitespace and control characters, non-ASCII bytes (write
 * IDNs in their xn-- form), percent signs in the host, IPv6 zones, and IPv4
 * in any spelling other than a canonical dotted quad (2130706433, 0x7f.1,
 * 0177.0.0.1). Errors: wasm_http_refused with rule url or scheme. On
 * failure *out is empty and needs no freeing.
 */
perch_err_kind ph_url_parse(const char *s, size_t len, ph_url *out, perch_err *err);
void ph_url_free(ph_url *u);
/* "host:port" with IPv6 in brackets, as grants are written. */
void ph_url_hostport(const ph_url *u, char *dst, size_t cap);
/* The canonical URL, "scheme://host:port/target". Owned (pb_free); NULL
 * when out of memory. */
char *ph_url_string(const ph_url *u);

/* ---- the allowlist ------------------------------------------------------- */

/* One grant: a manifest net pattern, optionally allowing plain http. */
typedef struct ph_grant {
    pm_net net;
    bool ip;            /* the host is an IP literal (then addr holds it) */
    ph_addr addr;
    bool http;          /* written "http://PATTERN": plain http allowed */
} ph_grant;

typedef struct ph_allowlist {
    ph_grant *items;    /* owned */
    size_t count;
} ph_allowlist;

/*
 * Parse grants: each a manifest net pattern ("host:port", "*.domain:port",
 * "[v6]:port", "*"), optionally prefixed with "http://" to allow plain
 * http on that port (https is always allowed on a granted port; plain http
 * without the prefix only on port 80). Errors: usage, naming the pattern
 * and the rule. *out owned (ph_allowlist_free).
 */
perch_err_kind ph_allowlist_parse(const char *const *patterns, size_t n, ph_allowlist *out,
                                  perch_err *err);
void ph_allowlist_free(ph_allowlist *l);

/*
 * Decide whether u may be requested at all (before any address is known):
 * PERCH_OK with *grant set to the covering grant (an exact one when there
 * is one), or wasm_http_refused with rule allowlist or scheme.
 */
perch_err_kind ph_allowlist_check(const ph_allowlist *l, const ph_url *u, const ph_grant **grant,
                                  perch_err *err);

/*
 * Whether address a (reached for url u through grant g) may be connected
 * to: public addresses always; any other range only when the grant names
 * u's host exactly (not by wildcard) or some grant names a itself with u's
 * port. Metadata addresses need the address itself granted: a granted name
 * whose DNS an attacker controls must not reach them. Errors:
 * wasm_http_refused with rule address; the message names the range and the
 * host, and err->detail the address.
 */
perch_err_kind ph_allowlist_check_addr(const ph_allowlist *l, const ph_url *u, const ph_grant *g,
                                       const ph_addr *a, perch_err *err);

#endif /* PERCH_HOST_NET_H */
