/* test_rules.c: the value rules of single manifest entries, and covers. */
#include <string.h>

#include "check.h"
#include "manifest/manifest.h"

typedef bool (*rule_fn)(const char *, const char **);

/* value passes rule (why == NULL) or fails with exactly why. */
static void expect(rule_fn rule, const char *value, const char *why, int line)
{
    const char *got = NULL;
    bool ok = rule(value, &got);
    check_count++;
    if (why ? (ok || !got || strcmp(got, why) != 0) : !ok) {
        check_failures++;
        fprintf(stderr, "%s:%d: \"%s\": got %s \"%s\", expected %s \"%s\"\n", __FILE__, line,
                value, ok ? "ok" : "refused", got ? got : "", why ? "refused" : "ok",
                why ? why : "");
    }
}
#define OK(rule, v) expect(rule, v, NULL, __LINE__)
#define NO(rule, v, why) expect(rule, v, why, __LINE__)

static void test_path(void)
{
    OK(pm_check_path, "/");
    OK(pm_check_path, "/inputs");
    OK(pm_check_path, "/a/b.c/..d/.e");
    OK(pm_check_path, "/caf\xc3\xa9");
    NO(pm_check_path, "", "is empty");
    NO(pm_check_path, "inputs", "is relative (guest paths must start with '/')");
    NO(pm_check_path, "./inputs", "is relative (guest paths must start with '/')");
    NO(pm_check_path, "/a/../b", "contains a '..' component");
    NO(pm_check_path, "/..", "contains a '..' component");
    NO(pm_check_path, "/a/..", "contains a '..' component");
    NO(pm_check_path, "/a/./b", "contains a '.' component");
    NO(pm_check_path, "/a//b", "contains an empty component ('//')");
    NO(pm_check_path, "//", "ends with '/' (write it without the trailing slash)");
    NO(pm_check_path, "/a/", "ends with '/' (write it without the trailing slash)");
    NO(pm_check_path, "/a\tb", "contains a control character");
    NO(pm_check_path, "/a\x7f", "contains a control character");
    {
        char long_path[PM_MAX_TEXT + 2];
        memset(long_path, 'a', sizeof long_path);
        long_path[0] = '/';
        long_path[PM_MAX_TEXT] = '\0';
        OK(pm_check_path, long_path);
        long_path[PM_MAX_TEXT] = 'a';
        long_path[PM_MAX_TEXT + 1] = '\0';
        NO(pm_check_path, long_path, "is longer than 4096 bytes");
    }
}

static void test_env(void)
{
    OK(pm_check_env, "HOME");
    OK(pm_check_env, "_X1");
    OK(pm_check_env, "risk_threshold");
    NO(pm_check_env, "", "is empty");
    NO(pm_check_env, "1X", "must start with a letter or '_'");
    NO(pm_check_env, "A=B", "may contain only letters, digits and '_'");
    NO(pm_check_env, "A B", "may contain only letters, digits and '_'");
    NO(pm_check_env, "A*", "may contain only letters, digits and '_'");
    /* letters are ASCII letters whatever the locale */
    NO(pm_check_env, "\xc3\xa9", "must start with a letter or '_'");
    NO(pm_check_env, "A\xe9", "may contain only letters, digits and '_'");
    {
        char name[PM_MAX_NAME + 2];
        memset(name, 'A', sizeof name);
        name[PM_MAX_NAME] = '\0';
        OK(pm_check_env, name);
        name[PM_MAX_NAME] = 'A';
        name[PM_MAX_NAME + 1] = '\0';
        NO(pm_check_env, name, "is longer than 256 bytes");
    }
}

static void test_semver(void)
{
    static const char *bad_core = "is not a semantic version (MAJOR.MINOR.PATCH, no leading zeros)";
    OK(pm_check_semver, "0.0.0");
    OK(pm_check_semver, "1.4.0");
    OK(pm_check_semver, "10.20.30");
    OK(pm_check_semver, "1.0.0-alpha");
    OK(pm_check_semver, "1.0.0-alpha.1");
    OK(pm_check_semver, "1.0.0-0.3.7");
    OK(pm_check_semver, "1.0.0-x-y-z.--");
    OK(pm_check_semver, "1.0.0+20130313144700");
    OK(pm_check_semver, "1.0.0-beta+exp.sha.5114f85");
    OK(pm_check_semver, "1.0.0+001"); /* build identifiers may have leading zeros */
    NO(pm_check_semver, "", bad_core);
    NO(pm_check_semver, "1", bad_core);
    NO(pm_check_semver, "1.0", bad_core);
    NO(pm_check_semver, "1.0.0.0", bad_core);
    NO(pm_check_semver, "01.0.0", bad_core);
    NO(pm_check_semver, "1.00.0", bad_core);
    NO(pm_check_semver, "v1.0.0", bad_core);
    NO(pm_check_semver, "1.0.0 ", bad_core);
    NO(pm_check_semver, "1.0.0-", "has a malformed pre-release part");
    NO(pm_check_semver, "1.0.0-01", "has a malformed pre-release part");
    NO(pm_check_semver, "1.0.0-a..b", "has a malformed pre-release part");
    NO(pm_check_semver, "1.0.0+", "has malformed build metadata");
    NO(pm_check_semver, "1.0.0+a_b", "has malformed build metadata");
    NO(pm_check_semver, "1.0.0+a+b", "has malformed build metadata");
    NO(pm_check_semver, "1.0.0-a_b", "has a malformed pre-release part");
    NO(pm_check_semver, "1.0.0-a+", "has malformed build metadata");
}

static void test_net(void)
{
    OK(pm_check_net, "*");
    OK(pm_check_net, "api.example.com:443");
    OK(pm_check_net, "localhost:8080");
    OK(pm_check_net, "*.example.com:443");
    OK(pm_check_net, "a-b.c1.example:1");
    OK(pm_check_net, "10.0.0.1:65535");
    OK(pm_check_net, "[::1]:443");
    OK(pm_check_net, "[2001:db8::8a2e:370:7334]:443");
    OK(pm_check_net, "[::ffff:192.0.2.1]:80");
    OK(pm_check_net, "[1:2:3:4:5:6:7:8]:80");
    NO(pm_check_net, "", "is empty");
    NO(pm_check_net, "api.example.com", "has no port (write host:port, e.g. api.example.com:443)");
    NO(pm_check_net, "api.example.com:", "has an empty port");
    NO(pm_check_net, "api.example.com:0", "has a port out of range (1 to 65535, no leading zeros)");
    NO(pm_check_net, "api.example.com:0443", "has a port out of range (1 to 65535, no leading zeros)");
    NO(pm_check_net, "api.example.com:65536", "has a port out of range (1 to 65535)");
    NO(pm_check_net, "api.example.com:99999999999999999999", "has a port out of range (1 to 65535)");
    NO(pm_check_net, "api.example.com:https", "has a port that is not a number");
    NO(pm_check_net, "api.example.com:-1", "has a port that is not a number");
    NO(pm_check_net, "*:443", "has a '*' that is not a whole leading label (write *.example.com:443 or *)");
    NO(pm_check_net, "a*.example.com:443", "has a '*' that is not a whole leading label (write *.example.com:443 or *)");
    NO(pm_check_net, "a.*.com:443", "has a '*' that is not a whole leading label (write *.example.com:443 or *)");
    NO(pm_check_net, "*.*.com:443", "has a '*' that is not a whole leading label (write *.example.com:443 or *)");
    NO(pm_check_net, "API.example.com:443", "has uppercase letters in its host (write hosts in lowercase)");
    NO(pm_check_net, "a_b.com:443", "has a character not allowed in a host name");
    NO(pm_check_net, "caf\xc3\xa9.com:443", "has a character not allowed in a host name");
    NO(pm_check_net, "a..com:443", "has an empty label in its host");
    NO(pm_check_net, "example.com.:443", "has an empty label in its host");
    NO(pm_check_net, "-a.com:443", "has a host label that starts or ends with '-'");
    NO(pm_check_net, "a-.com:443", "has a host label that starts or ends with '-'");
    NO(pm_check_net, ":443", "has an empty host");
    NO(pm_check_net, "*.:443", "has an empty host");
    NO(pm_check_net, "1.2.3:443", "has a malformed IPv4 address");
    NO(pm_check_net, "1.2.3.256:443", "has a malformed IPv4 address");
    NO(pm_check_net, "01.2.3.4:443", "has a malformed IPv4 address");
    NO(pm_check_net, "*.1.2.3.4:443", "has a wildcard over an IP address");
    NO(pm_check_net, "::1:443", "has more than one ':' (IPv6 addresses go in brackets: [::1]:443)");
    NO(pm_check_net, "[::1]", "has no port (write host:port, e.g. api.example.com:443)");
    NO(pm_check_net, "[::1:443", "has a malformed IPv6 literal (write [addr]:port)");
    NO(pm_check_net, "[::1]x:443", "has a malformed IPv6 literal (write [addr]:port)");
    NO(pm_check_net, "[]:443", "has a malformed IPv6 address (lowercase hex, at most one '::')");
    NO(pm_check_net, "[1::2::3]:443", "has a malformed IPv6 address (lowercase hex, at most one '::')");
    NO(pm_check_net, "[::ABCD]:443", "has a malformed IPv6 address (lowercase hex, at most one '::')");
    NO(pm_check_net, "[1:2:3:4:5:6:7]:443", "has a malformed IPv6 address (lowercase hex, at most one '::')");
    NO(pm_check_net, "[fe80::1%eth0]:443", "has a malformed IPv6 address (lowercase hex, at most one '::')");
    NO(pm_check_net, "a.com:44\n3", "contains a control character");
    {
        char host[400];
        memset(host, 'a', sizeof host);
        strcpy(host + 301, ":443");
        NO(pm_check_net, host, "is longer than 300 bytes");
        memset(host, 'a', 64);
        strcpy(host + 64, ".com:443");
        NO(pm_check_net, host, "has a host label longer than 63 bytes");
    }
}

static void test_net_parse(void)
{
    pm_net n;
    CHECK(pm_net_parse("*", &n));
    CHECK(n.any && !n.wildcard && n.port == 0);
    CHECK(pm_net_parse("*.example.com:443", &n));
    CHECK(!n.any && n.wildcard && n.port == 443);
    CHECK_STR(n.host, "example.com");
    CHECK(pm_net_parse("[::1]:8080", &n));
    CHECK_STR(n.host, "::1");
    CHECK_INT(n.port, 8080);
    CHECK(!pm_net_parse("example.com", &n));
}

static bool net_covers(const char *a, const char *b)
{
    pm_net x, y;
    CHECK(pm_net_parse(a, &x));
    CHECK(pm_net_parse(b, &y));
    return pm_net_covers(&x, &y);
}

static void test_covers(void)
{
    CHECK(net_covers("*", "a.com:443"));
    CHECK(net_covers("*", "*"));
    CHECK(!net_covers("a.com:443", "*"));
    CHECK(net_covers("a.com:443", "a.com:443"));
    CHECK(!net_covers("a.com:443", "a.com:80"));
    CHECK(!net_covers("a.com:443", "b.a.com:443"));
    CHECK(net_covers("*.example.com:443", "a.example.com:443"));
    CHECK(net_covers("*.example.com:443", "a.b.example.com:443"));
    CHECK(net_covers("*.example.com:443", "*.a.example.com:443"));
    CHECK(net_covers("*.example.com:443", "*.example.com:443"));
    CHECK(!net_covers("*.example.com:443", "example.com:443"));
    CHECK(!net_covers("*.example.com:443", "badexample.com:443"));
    CHECK(!net_covers("*.example.com:443", "a.example.com:80"));
    CHECK(!net_covers("a.example.com:443", "*.example.com:443"));

    CHECK(pm_path_covers("/", "/a"));
    CHECK(pm_path_covers("/", "/"));
    CHECK(pm_path_covers("/a", "/a"));
    CHECK(pm_path_covers("/a", "/a/b"));
    CHECK(!pm_path_covers("/a", "/ab"));
    CHECK(!pm_path_covers("/a/b", "/a"));
}

int main(void)
{
    RUN(test_path);
    RUN(test_env);
    RUN(test_semver);
    RUN(test_net);
    RUN(test_net_parse);
    RUN(test_covers);
    return CHECK_DONE();
}
