/*
 * test_http_net.c: the network rules of the perch host module without a
 * network: address classification (every range, its edges, the IPv4 forms
 * inside IPv6), the strict URL parser (the spellings other parsers read
 * differently), and the allowlist (exact, wildcard depth, ports, schemes,
 * IPv6 literals, literal grants of refused ranges).
 */
#include "check.h"
#include "host/net.h"

/* ---- addresses ----------------------------------------------------------- */

static ph_addr_class cls(const char *text)
{
    ph_addr a;
    if (!ph_addr_parse(text, &a)) {
        fprintf(stderr, "unparsable test address %s\n", text);
        return (ph_addr_class)-1;
    }
    return ph_addr_classify(&a);
}

static void test_classify_ipv4(void)
{
    CHECK_INT(cls("0.0.0.0"), PH_ADDR_UNSPECIFIED);
    CHECK_INT(cls("0.255.255.255"), PH_ADDR_UNSPECIFIED);
    CHECK_INT(cls("1.0.0.0"), PH_ADDR_PUBLIC);
    CHECK_INT(cls("9.255.255.255"), PH_ADDR_PUBLIC);
    CHECK_INT(cls("10.0.0.0"), PH_ADDR_PRIVATE);
    CHECK_INT(cls("10.255.255.255"), PH_ADDR_PRIVATE);
    CHECK_INT(cls("11.0.0.0"), PH_ADDR_PUBLIC);
    CHECK_INT(cls("100.63.255.255"), PH_ADDR_PUBLIC);
    CHECK_INT(cls("100.64.0.0"), PH_ADDR_CGNAT);
    CHECK_INT(cls("100.127.255.255"), PH_ADDR_CGNAT);
    CHECK_INT(cls("100.128.0.0"), PH_ADDR_PUBLIC);
    CHECK_INT(cls("126.255.255.255"), PH_ADDR_PUBLIC);
    CHECK_INT(cls("127.0.0.0"), PH_ADDR_LOOPBACK);
    CHECK_INT(cls("127.0.0.1"), PH_ADDR_LOOPBACK);
    CHECK_INT(cls("127.255.255.255"), PH_ADDR_LOOPBACK);
    CHECK_INT(cls("128.0.0.0"), PH_ADDR_PUBLIC);
    CHECK_INT(cls("169.253.255.255"), PH_ADDR_PUBLIC);
    CHECK_INT(cls("169.254.0.0"), PH_ADDR_LINK_LOCAL);
    CHECK_INT(cls("169.254.169.253"), PH_ADDR_LINK_LOCAL);
    CHECK_INT(cls("169.254.169.254"), PH_ADDR_METADATA);
    CHECK_INT(cls("169.254.170.2"), PH_ADDR_METADATA);
    CHECK_INT(cls("169.254.255.255"), PH_ADDR_LINK_LOCAL);
    CHECK_INT(cls("169.255.0.0"), PH_ADDR_PUBLIC);
    CHECK_INT(cls("100.100.100.200"), PH_ADDR_METADATA);
    CHECK_INT(cls("168.63.129.16"), PH_ADDR_METADATA);
    CHECK_INT(cls("172.15.255.255"), PH_ADDR_PUBLIC);
    CHECK_INT(cls("172.16.0.0"), PH_ADDR_PRIVATE);
    CHECK_INT(cls("172.31.255.255"), PH_ADDR_PRIVATE);
    CHECK_INT(cls("172.32.0.0"), PH_ADDR_PUBLIC);
    CHECK_INT(cls("192.0.0.0"), PH_ADDR_RESERVED);
    CHECK_INT(cls("192.0.2.1"), PH_ADDR_RESERVED);
    CHECK_INT(cls("192.0.3.0"), PH_ADDR_PUBLIC);
    CHECK_INT(cls("192.88.99.1"), PH_ADDR_RESERVED);
    CHECK_INT(cls("192.167.255.255"), PH_ADDR_PUBLIC);
    CHECK_INT(cls("192.168.0.0"), PH_ADDR_PRIVATE);
    CHECK_INT(cls("192.168.255.255"), PH_ADDR_PRIVATE);
    CHECK_INT(cls("192.169.0.0"), PH_ADDR_PUBLIC);
    CHECK_INT(cls("198.17.255.255"), PH_ADDR_PUBLIC);
    CHECK_INT(cls("198.18.0.0"), PH_ADDR_RESERVED);
    CHECK_INT(cls("198.19.255.255"), PH_ADDR_RESERVED);
    CHECK_INT(cls("198.20.0.0"), PH_ADDR_PUBLIC);
    CHECK_INT(cls("198.51.100.7"), PH_ADDR_RESERVED);
    CHECK_INT(cls("203.0.113.255"), PH_ADDR_RESERVED);
    CHECK_INT(cls("223.255.255.255"), PH_ADDR_PUBLIC);
    CHECK_INT(cls("224.0.0.0"), PH_ADDR_MULTICAST);
    CHECK_INT(cls("239.255.255.255"), PH_ADDR_MULTICAST);
    CHECK_INT(cls("240.0.0.0"), PH_ADDR_RESERVED);
    CHECK_INT(cls("255.255.255.255"), PH_ADDR_RESERVED);
    CHECK_INT(cls("8.8.8.8"), PH_ADDR_PUBLIC);
}

static void test_classify_ipv6(void)
{
    CHECK_INT(cls("::"), PH_ADDR_UNSPECIFIED);
    CHECK_INT(cls("::1"), PH_ADDR_LOOPBACK);
    CHECK_INT(cls("::2"), PH_ADDR_RESERVED);
    CHECK_INT(cls("::127.0.0.1"), PH_ADDR_RESERVED);
    /* IPv4-mapped: the IPv4 address decides */
    CHECK_INT(cls("::ffff:127.0.0.1"), PH_ADDR_LOOPBACK);
    CHECK_INT(cls("::ffff:7f00:1"), PH_ADDR_LOOPBACK);
    CHECK_INT(cls("::ffff:10.1.2.3"), PH_ADDR_PRIVATE);
    CHECK_INT(cls("::ffff:169.254.169.254"), PH_ADDR_METADATA);
    CHECK_INT(cls("::ffff:a9fe:a9fe"), PH_ADDR_METADATA);
    CHECK_INT(cls("::ffff:0.0.0.0"), PH_ADDR_UNSPECIFIED);
    CHECK_INT(cls("::ffff:8.8.8.8"), PH_ADDR_PUBLIC);
    CHECK_INT(cls("0:0:0:0:0:ffff:192.168.1.1"), PH_ADDR_PRIVATE);
    /* NAT64 and 6to4 carry an IPv4 address too */
    CHECK_INT(cls("64:ff9b::7f00:1"), PH_ADDR_LOOPBACK);
    CHECK_INT(cls("64:ff9b::808:808"), PH_ADDR_PUBLIC);
    CHECK_INT(cls("64:ff9b:1::1"), PH_ADDR_PRIVATE);
    CHECK_INT(cls("2002:7f00:1::"), PH_ADDR_LOOPBACK);
    CHECK_INT(cls("2002:a9fe:a9fe::1"), PH_ADDR_METADATA);
    CHECK_INT(cls("2002:808:808::1"), PH_ADDR_PUBLIC);
    CHECK_INT(cls("fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), PH_ADDR_PUBLIC);
    CHECK_INT(cls("fc00::"), PH_ADDR_UNIQUE_LOCAL);
    CHECK_INT(cls("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), PH_ADDR_UNIQUE_LOCAL);
    CHECK_INT(cls("fd00:ec2::254"), PH_ADDR_METADATA);
    CHECK_INT(cls("fd00:ec2::253"), PH_ADDR_UNIQUE_LOCAL);
    CHECK_INT(cls("fe80::"), PH_ADDR_LINK_LOCAL);
    CHECK_INT(cls("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), PH_ADDR_LINK_LOCAL);
    CHECK_INT(cls("fec0::1"), PH_ADDR_PRIVATE);
    CHECK_INT(cls("ff00::"), PH_ADDR_MULTICAST);
    CHECK_INT(cls("ff02::1"), PH_ADDR_MULTICAST);
    CHECK_INT(cls("2001:db8::1"), PH_ADDR_RESERVED);
    CHECK_INT(cls("2001::1"), PH_ADDR_RESERVED);
    CHECK_INT(cls("2001:2::1"), PH_ADDR_RESERVED);
    CHECK_INT(cls("3fff::1"), PH_ADDR_RESERVED);
    CHECK_INT(cls("100::1"), PH_ADDR_RESERVED);
    CHECK_INT(cls("2606:4700::1111"), PH_ADDR_PUBLIC);
    CHECK_INT(cls("2001:4860:4860::8888"), PH_ADDR_PUBLIC);
}

static void test_addr_parse(void)
{
    ph_addr a;
    char text[64];
    CHECK(ph_addr_parse("1.2.3.4", &a) && a.family == 4);
    CHECK(!ph_addr_parse("01.2.3.4", &a));
    CHECK(!ph_addr_parse("1.2.3", &a));
    CHECK(!ph_addr_parse("1.2.3.4.5", &a));
    CHECK(!ph_addr_parse("256.1.1.1", &a));
    CHECK(!ph_addr_parse("", &a));
    CHECK(!ph_addr_parse("fe80::1%eth0", &a));
    CHECK(ph_addr_parse("0:0:0:0:0:0:0:1", &a) && a.family == 6);
    ph_addr_format(&a, text, sizeof text);
    CHECK_STR(text, "::1");
    CHECK_STR(ph_addr_class_name(PH_ADDR_CGNAT), "carrier-grade NAT");
    CHECK_STR(ph_addr_class_name(PH_ADDR_METADATA), "cloud metadata");
}

/* ---- URLs ---------------------------------------------------------------- */

/* Parse s; on success the canonical form, on failure "!" + the message. */
static char parsed[1024];
static const char *url(const char *s)
{
    ph_url u;
    perch_err err;
    perch_err_clear(&err);
    if (ph_url_parse(s, strlen(s), &u, &err) != PERCH_OK) {
        if (err.kind != PERCH_E_WASM_HTTP_REFUSED)
            snprintf(parsed, sizeof parsed, "!wrong kind %d", (int)err.kind);
        else
            snprintf(parsed, sizeof parsed, "!%s", err.message);
        return parsed;
    }
    char *c = ph_url_string(&u);
    snprintf(parsed, sizeof parsed, "%s", c ? c : "(oom)");
    pb_free(c);
    ph_url_free(&u);
    return parsed;
}

static bool refused_by(const char *s, const char *rule)
{
    const char *r = url(s);
    size_t n = strlen(rule);
    if (r[0] != '!' || strncmp(r + 1, rule, n) != 0 || r[1 + n] != ':') {
        fprintf(stderr, "  %s -> %s (expected a %s refusal)\n", s, r, rule);
        return false;
    }
    return true;
}

static void test_url_canonical(void)
{
    CHECK_STR(url("https://example.com"), "https://example.com:443/");
    CHECK_STR(url("https://example.com/a/b?c=d"), "https://example.com:443/a/b?c=d");
    CHECK_STR(url("http://example.com/"), "http://example.com:80/");
    CHECK_STR(url("HTTPS://EXAMPLE.COM/Path"), "https://example.com:443/Path");
    CHECK_STR(url("HtTp://Api.Example.Com:8080"), "http://api.example.com:8080/");
    CHECK_STR(url("https://example.com./x"), "https://example.com:443/x");
    CHECK_STR(url("https://example.com/x#frag"), "https://example.com:443/x");
    CHECK_STR(url("https://example.com#frag"), "https://example.com:443/");
    CHECK_STR(url("https://example.com?q=1"), "https://example.com:443/?q=1");
    CHECK_STR(url("https://example.com:/x"), "https://example.com:443/x");
    CHECK_STR(url("https://127.0.0.1:8443/"), "https://127.0.0.1:8443/");
    CHECK_STR(url("https://127.0.0.1./"), "https://127.0.0.1:443/");
    CHECK_STR(url("https://[::1]:8443/"), "https://[::1]:8443/");
    CHECK_STR(url("https://[0:0:0:0:0:0:0:1]/"), "https://[::1]:443/");
    CHECK_STR(url("https://[::FFFF:7F00:1]/"), "https://[::ffff:127.0.0.1]:443/");
    CHECK_STR(url("https://xn--bcher-kva.example/"), "https://xn--bcher-kva.example:443/");
    CHECK_STR(url("https://a.com:65535/"), "https://a.com:65535/");
}

static void test_url_refused(void)
{
    /* no scheme, other schemes */
    CHECK(refused_by("example.com/x", "scheme"));
    CHECK(refused_by("localhost:8080/x", "scheme"));
    CHECK(refused_by("//example.com/x", "scheme"));
    CHECK(refused_by("ftp://example.com/", "scheme"));
    CHECK(refused_by("file:///etc/passwd", "scheme"));
    CHECK(refused_by("gopher://example.com/", "scheme"));
    CHECK(refused_by("https:example.com", "url"));
    CHECK(refused_by("https:/example.com", "url"));
    /* userinfo: which host is meant depends on the parser */
    CHECK(refused_by("https://allowed.com@evil.com/", "url"));
    CHECK(refused_by("https://user:pass@allowed.com/", "url"));
    CHECK(refused_by("https://@allowed.com/", "url"));
    CHECK_STR(url("https://allowed.com/@evil.com"), "https://allowed.com:443/@evil.com");
    /* backslashes, whitespace, controls, NUL, non-ASCII */
    CHECK(refused_by("https://allowed.com\\@evil.com/", "url"));
    CHECK(refused_by("https:\\\\evil.com/", "url"));
    CHECK(refused_by("https://allowed.com/ x", "url"));
    CHECK(refused_by("https://allowed.com/\tx", "url"));
    CHECK(refused_by("https://allowed.com/\x7f", "url"));
    CHECK(refused_by("https://b\xc3\xbc" "cher.example/", "url"));
    {
        ph_url u;
        perch_err err;
        static const char nul[] = "https://allowed.com\0.evil.com/";
        CHECK_INT(ph_url_parse(nul, sizeof nul - 1, &u, &err), PERCH_E_WASM_HTTP_REFUSED);
        CHECK_MSG(err, "url: the URL has whitespace or a control character");
    }
    /* hosts */
    CHECK(refused_by("https:///x", "url"));
    CHECK(refused_by("https://:443/", "url"));
    CHECK(refused_by("https://a..com/", "url"));
    CHECK(refused_by("https://example.com../", "url"));
    CHECK(refused_by("https://./", "url"));
    CHECK(refused_by("https://-a.com/", "url"));
    CHECK(refused_by("https://a-.com/", "url"));
    CHECK(refused_by("https://a_b.com/", "url"));
    CHECK(refused_by("https://a%2ecom/", "url"));
    CHECK(refused_by("https://evil.com%2f@allowed.com/", "url"));
    /* IPv4 in every spelling but the canonical one */
    CHECK(refused_by("http://2130706433/", "url"));
    CHECK(refused_by("http://0x7f.1/", "url"));
    CHECK(refused_by("http://0x7f000001/", "url"));
    CHECK(refused_by("http://0177.0.0.1/", "url"));
    CHECK(refused_by("http://127.1/", "url"));
    CHECK(refused_by("http://127.0.1/", "url"));
    CHECK(refused_by("http://127.000.000.001/", "url"));
    CHECK(refused_by("http://1.2.3.4.5/", "url"));
    CHECK(refused_by("http://256.0.0.1/", "url"));
    CHECK(refused_by("http://example.123/", "url"));
    CHECK(refused_by("http://example.0x1f/", "url"));
    CHECK(refused_by("http://0x/", "url"));
    CHECK_STR(url("http://0x7f.example/"), "http://0x7f.example:80/");
    CHECK_STR(url("http://123.example/"), "http://123.example:80/");
    /* IPv6 literals */
    CHECK(refused_by("https://[::1/", "url"));
    CHECK(refused_by("https://[::1]x/", "url"));
    CHECK(refused_by("https://[fe80::1%25eth0]/", "url"));
    CHECK(refused_by("https://[1.2.3.4]/", "url"));
    CHECK(refused_by("https://[]/", "url"));
    CHECK(refused_by("https://[::g]/", "url"));
    CHECK(refused_by("https://::1/", "url"));
    /* ports */
    CHECK(refused_by("https://a.com:0/", "url"));
    CHECK(refused_by("https://a.com:65536/", "url"));
    CHECK(refused_by("https://a.com:0443/", "url"));
    CHECK(refused_by("https://a.com:44a/", "url"));
    CHECK(refused_by("https://a.com:123456/", "url"));
    CHECK(refused_by("https://a.com:-1/", "url"));
    /* sizes */
    CHECK(refused_by("", "url"));
    {
        static char big[PH_URL_MAX + 2];
        ph_url u;
        perch_err err;
        memcpy(big, "https://a.com/", 14);
        memset(big + 14, 'a', sizeof big - 15);
        CHECK_INT(ph_url_parse(big, PH_URL_MAX + 1, &u, &err), PERCH_E_WASM_HTTP_REFUSED);
        CHECK_MSG(err, "url: the URL is longer than 8192 bytes");
        CHECK_INT(ph_url_parse(big, PH_URL_MAX, &u, &err), PERCH_OK);
        ph_url_free(&u);
    }
    {
        char label[80];
        char host[400];
        memset(label, 'a', 64);
        label[64] = '\0';
        snprintf(host, sizeof host, "https://%s.com/", label);
        CHECK(refused_by(host, "url"));
        label[63] = '\0';
        snprintf(host, sizeof host, "https://%s.com/", label);
        CHECK(url(host)[0] != '!');
    }
}

static void test_url_messages(void)
{
    CHECK_STR(url("example.com"), "!scheme: the URL has no scheme (write https://HOST/PATH)");
    CHECK_STR(url("ftp://x.com/"), "!scheme: \"ftp\" is not allowed (only https, and http where granted)");
    CHECK_STR(url("https://a@b.com/"), "!url: user information before '@' is not allowed");
    CHECK_STR(url("http://0x7f.1/"),
              "!url: the host \"0x7f.1\" is an IPv4 address in a non-canonical spelling (write it as four decimal numbers, a.b.c.d)");
    CHECK_STR(url("https://a.com\\b"), "!url: the URL has a backslash");
}

/* ---- the allowlist ------------------------------------------------------- */

static ph_allowlist allow(const char *a, const char *b, const char *c)
{
    const char *v[3] = {a, b, c};
    size_t n = c ? 3 : b ? 2 : a ? 1 : 0;
    ph_allowlist l;
    perch_err err;
    if (ph_allowlist_parse(v, n, &l, &err) != PERCH_OK)
        fprintf(stderr, "bad test allowlist: %s\n", err.message);
    return l;
}

/* "ok" with the grant's host, or the refusal's message. */
static char verdict[600];
static const char *check(const ph_allowlist *l, const char *s)
{
    ph_url u;
    perch_err err;
    const ph_grant *g;
    if (ph_url_parse(s, strlen(s), &u, &err) != PERCH_OK)
        return "unparsable";
    if (ph_allowlist_check(l, &u, &g, &err) != PERCH_OK)
        snprintf(verdict, sizeof verdict, "%s", err.message);
    else
        snprintf(verdict, sizeof verdict, "ok %s%s", g->net.wildcard ? "*." : "", g->net.any ? "*" : g->net.host);
    ph_url_free(&u);
    return verdict;
}

static void test_allow_exact_and_wildcard(void)
{
    ph_allowlist l = allow("api.example.com:443", "*.example.org:443", NULL);
    CHECK_STR(check(&l, "https://api.example.com/"), "ok api.example.com");
    CHECK_STR(check(&l, "https://API.EXAMPLE.COM./x"), "ok api.example.com");
    CHECK_STR(check(&l, "https://example.com/"), "allowlist: example.com:443 is not granted");
    CHECK_STR(check(&l, "https://x.api.example.com/"), "allowlist: x.api.example.com:443 is not granted");
    CHECK_STR(check(&l, "https://api.example.com:8443/"), "allowlist: api.example.com:8443 is not granted");
    CHECK_STR(check(&l, "https://a.example.org/"), "ok *.example.org");
    CHECK_STR(check(&l, "https://a.b.example.org/"), "ok *.example.org");
    CHECK_STR(check(&l, "https://example.org/"), "allowlist: example.org:443 is not granted");
    CHECK_STR(check(&l, "https://badexample.org/"), "allowlist: badexample.org:443 is not granted");
    CHECK_STR(check(&l, "https://a.example.org.evil.com/"), "allowlist: a.example.org.evil.com:443 is not granted");
    CHECK_STR(check(&l, "https://a.example.org:444/"), "allowlist: a.example.org:444 is not granted");
    ph_allowlist_free(&l);

    l = allow(NULL, NULL, NULL);
    CHECK_STR(check(&l, "https://a.com/"),
              "allowlist: a.com:443 is not granted (this run grants no network access)");
    ph_allowlist_free(&l);

    /* an exact grant wins over a wildcard, whatever the order */
    l = allow("*", "*.example.com:443", "api.example.com:443");
    CHECK_STR(check(&l, "https://api.example.com/"), "ok api.example.com");
    CHECK_STR(check(&l, "https://b.example.com/"), "ok *");
    CHECK_STR(check(&l, "https://other.net:9/"), "ok *");
    ph_allowlist_free(&l);
}

static void test_allow_schemes(void)
{
    ph_allowlist l = allow("a.com:443", "b.com:80", "http://c.com:8080");
    CHECK_STR(check(&l, "https://a.com/"), "ok a.com");
    CHECK_STR(check(&l, "http://a.com:443/"), "scheme: plain http to a.com:443 is not granted (use https, or grant http://a.com:443)");
    CHECK_STR(check(&l, "http://b.com/"), "ok b.com");
    CHECK_STR(check(&l, "https://b.com:80/"), "ok b.com");
    CHECK_STR(check(&l, "https://b.com/"), "allowlist: b.com:443 is not granted");
    CHECK_STR(check(&l, "http://c.com:8080/"), "ok c.com");
    CHECK_STR(check(&l, "https://c.com:8080/"), "ok c.com");
    ph_allowlist_free(&l);
    l = allow("*", NULL, NULL);
    CHECK_STR(check(&l, "https://any.net:1234/"), "ok *");
    CHECK_STR(check(&l, "http://any.net:1234/"), "scheme: plain http to any.net:1234 is not granted (use https, or grant http://any.net:1234)");
    ph_allowlist_free(&l);
}

static void test_allow_ip_literals(void)
{
    ph_allowlist l = allow("127.0.0.1:8080", "[::1]:8443", "[0:0:0:0:0:0:0:2]:443");
    CHECK_STR(check(&l, "https://127.0.0.1:8080/"), "ok 127.0.0.1");
    CHECK_STR(check(&l, "https://[::1]:8443/"), "ok ::1");
    CHECK_STR(check(&l, "https://[0::1]:8443/"), "ok ::1");
    CHECK_STR(check(&l, "https://[::2]/"), "ok 0:0:0:0:0:0:0:2");
    CHECK_STR(check(&l, "https://[::ffff:127.0.0.1]:8080/"), "allowlist: [::ffff:127.0.0.1]:8080 is not granted");
    CHECK_STR(check(&l, "https://localhost:8080/"), "allowlist: localhost:8080 is not granted");
    CHECK_STR(check(&l, "https://127.0.0.2:8080/"), "allowlist: 127.0.0.2:8080 is not granted");
    CHECK_STR(check(&l, "https://[::1]:8080/"), "allowlist: [::1]:8080 is not granted");
    ph_allowlist_free(&l);
}

static void test_allow_parse_errors(void)
{
    const char *bad[] = {"a.com", "*.a.com", "a.com:0", "a.com:65536", "*x.com:443", "A.com:443",
                         "http://a.com", "ftp://a.com:21", "1.2.3:80", "::1:443", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ph_allowlist l;
        perch_err err;
        CHECK_INT(ph_allowlist_parse(&bad[i], 1, &l, &err), PERCH_E_USAGE);
        CHECK_MSG(err, "allowed host \"");
    }
    {
        ph_allowlist l;
        perch_err err;
        const char *p = "a.com";
        CHECK_INT(ph_allowlist_parse(&p, 1, &l, &err), PERCH_E_USAGE);
        CHECK_STR(err.message, "allowed host \"a.com\" has no port (write host:port, e.g. api.example.com:443)");
    }
}

/* The address rule for url reached through its grant in l. */
static const char *addr_check(const ph_allowlist *l, const char *s, const char *addr)
{
    ph_url u;
    perch_err err;
    const ph_grant *g;
    ph_addr a;
    if (ph_url_parse(s, strlen(s), &u, &err) || ph_allowlist_check(l, &u, &g, &err) ||
        !ph_addr_parse(addr, &a))
        return "setup failed";
    perch_err_clear(&err);
    if (ph_allowlist_check_addr(l, &u, g, &a, &err) != PERCH_OK)
        snprintf(verdict, sizeof verdict, "%s [%s]", err.message, err.detail);
    else
        snprintf(verdict, sizeof verdict, "ok");
    ph_url_free(&u);
    return verdict;
}

static void test_allow_addresses(void)
{
    ph_allowlist l = allow("*.corp.com:443", "db.corp.com:443", "169.254.169.254:80");
    CHECK_STR(addr_check(&l, "https://www.corp.com/", "93.184.216.34"), "ok");
    CHECK_STR(addr_check(&l, "https://www.corp.com/", "10.0.0.5"),
              "address: www.corp.com:443 resolves to an address in the private range (grant the name or the address literally to reach it) [10.0.0.5]");
    CHECK_STR(addr_check(&l, "https://www.corp.com/", "::ffff:127.0.0.1"),
              "address: www.corp.com:443 resolves to an address in the loopback range (grant the name or the address literally to reach it) [::ffff:127.0.0.1]");
    /* the name granted literally reaches a private address... */
    CHECK_STR(addr_check(&l, "https://db.corp.com/", "10.0.0.5"), "ok");
    CHECK_STR(addr_check(&l, "https://db.corp.com/", "fd12::5"), "ok");
    /* ...but never a metadata service: only the address itself does */
    CHECK_STR(addr_check(&l, "https://db.corp.com/", "169.254.169.254"),
              "address: db.corp.com:443 resolves to a cloud metadata address (only a grant of that address itself reaches it) [169.254.169.254]");
    CHECK_STR(addr_check(&l, "https://db.corp.com/", "fd00:ec2::254"),
              "address: db.corp.com:443 resolves to a cloud metadata address (only a grant of that address itself reaches it) [fd00:ec2::254]");
    CHECK_STR(addr_check(&l, "http://169.254.169.254/", "169.254.169.254"), "ok");
    ph_allowlist_free(&l);

    l = allow("*", "10.1.1.1:443", NULL);
    CHECK_STR(addr_check(&l, "https://127.0.0.1/", "127.0.0.1"),
              "address: 127.0.0.1:443 is in the loopback range (grant it literally to reach it) [127.0.0.1]");
    CHECK_STR(addr_check(&l, "https://[::]/", "::"),
              "address: [::]:443 is in the unspecified range (grant it literally to reach it) [::]");
    CHECK_STR(addr_check(&l, "https://100.64.0.1/", "100.64.0.1"),
              "address: 100.64.0.1:443 is in the carrier-grade NAT range (grant it literally to reach it) [100.64.0.1]");
    CHECK_STR(addr_check(&l, "https://[fe80::1]/", "fe80::1"),
              "address: [fe80::1]:443 is in the link-local range (grant it literally to reach it) [fe80::1]");
    CHECK_STR(addr_check(&l, "https://[ff02::1]/", "ff02::1"),
              "address: [ff02::1]:443 is in the multicast range (grant it literally to reach it) [ff02::1]");
    CHECK_STR(addr_check(&l, "https://[::ffff:169.254.169.254]/", "::ffff:169.254.169.254"),
              "address: [::ffff:169.254.169.254]:443 is in the cloud metadata range (grant it literally to reach it) [::ffff:169.254.169.254]");
    /* a name under "*" that resolves to an address granted literally */
    CHECK_STR(addr_check(&l, "https://internal.example/", "10.1.1.1"), "ok");
    CHECK_STR(addr_check(&l, "https://internal.example:444/", "10.1.1.1"),
              "address: internal.example:444 resolves to an address in the private range (grant the name or the address literally to reach it) [10.1.1.1]");
    CHECK_STR(addr_check(&l, "https://1.1.1.1/", "1.1.1.1"), "ok");
    ph_allowlist_free(&l);
}

int main(void)
{
    RUN(test_classify_ipv4);
    RUN(test_classify_ipv6);
    RUN(test_addr_parse);
    RUN(test_url_canonical);
    RUN(test_url_refused);
    RUN(test_url_messages);
    RUN(test_allow_exact_and_wildcard);
    RUN(test_allow_schemes);
    RUN(test_allow_ip_literals);
    RUN(test_allow_parse_errors);
    RUN(test_allow_addresses);
    return CHECK_DONE();
}
