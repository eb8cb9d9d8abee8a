/*
 * test_policy.c: policy files (every parse error, one test per message),
 * deny patterns, composition (every layer refusing each kind of
 * capability), the wildcard rule in and out of CI, the signature posture,
 * discovery and the HIGH RISK extension.
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "policy/policy.h"

static perch_err err;

/* Parse text as "p.yaml"; the policy is freed unless out is given. */
static perch_err_kind parse_into(const char *text, size_t len, pp_policy *out)
{
    pp_policy p;
    perch_err_kind rc;
    perch_err_clear(&err);
    rc = pp_parse(text, len, "p.yaml", out ? out : &p, &err);
    if (!out)
        pp_policy_free(&p);
    return rc;
}

static perch_err_kind parse(const char *text) { return parse_into(text, strlen(text), NULL); }

/* text is refused as policy_invalid with exactly this message. */
static void refused(const char *text, const char *message, int line)
{
    int before = check_failures;
    CHECK_INT(parse(text), PERCH_E_POLICY_INVALID);
    CHECK_STR(err.message, message);
    if (check_failures != before)
        fprintf(stderr, "  (policy checked at line %d)\n", line);
}
#define REFUSED(text, message) refused((text), (message), __LINE__)

/* ---- parsing: what is accepted ------------------------------------------------- */

static void test_parse_full(void)
{
    static const char text[] =
        "# a team policy\n"
        "version: 1\n"
        "deny:\n"
        "  read: [/etc, \"/home/*/.ssh\"]\n"
        "  write:\n"
        "    - /\n"
        "  net: [\"*.internal.example.com:443\", \"169.254.169.254:80\"]\n"
        "  env: [\"*_TOKEN\", AWS_SECRET_ACCESS_KEY]\n"
        "memory_max: 268435456\n"
        "signatures:\n"
        "  unsigned: deny\n"
        "  signers: [vendor-co-prod-2026]\n"
        "  keyrings: [keys/vendor.json, /etc/perch/org.json]\n"
        "high_risk:\n"
        "  env: [\"*_CREDENTIALS\"]\n"
        "  net: [\"paste.example.com:443\"]\n"
        "  write: [/etc]\n"
        "wildcard_net:\n"
        "  signers: [vendor-co-prod-2026]\n"
        "  allow_in_ci: true\n";
    pp_policy p;
    perch_err_clear(&err);
    CHECK_INT(pp_parse(text, strlen(text), "conf/team.yaml", &p, &err), PERCH_OK);
    CHECK_STR(p.path, "conf/team.yaml");
    CHECK_INT(p.deny[PP_READ].count, 2);
    CHECK_STR(p.deny[PP_READ].items[1].value, "/home/*/.ssh");
    CHECK_INT(p.deny[PP_READ].items[1].at.line, 4);
    CHECK_INT(p.deny[PP_READ].items[1].at.column, 16);
    CHECK_INT(p.deny[PP_WRITE].count, 1);
    CHECK_INT(p.deny[PP_WRITE].items[0].at.line, 6);
    CHECK_INT(p.deny[PP_WRITE].items[0].at.column, 7);
    CHECK_INT(p.deny[PP_NET].count, 2);
    CHECK_STR(p.deny[PP_ENV].items[0].value, "*_TOKEN");
    CHECK(p.has_memory_max);
    CHECK_INT(p.memory_max, 268435456);
    CHECK_INT(p.memory_at.line, 9);
    CHECK_INT(p.memory_at.column, 13);
    CHECK_INT(p.unsigned_mode, PP_UNSIGNED_DENY);
    CHECK(p.has_signers);
    CHECK_STR(p.signers.items[0].value, "vendor-co-prod-2026");
    CHECK_STR(p.keyrings.items[0].value, "conf/keys/vendor.json");
    CHECK_STR(p.keyrings.items[1].value, "/etc/perch/org.json");
    CHECK_STR(p.risk[PP_ENV].items[0].value, "*_CREDENTIALS");
    CHECK_STR(p.risk[PP_NET].items[0].value, "paste.example.com:443");
    CHECK_STR(p.risk[PP_WRITE].items[0].value, "/etc");
    CHECK_STR(p.wildcard_signers.items[0].value, "vendor-co-prod-2026");
    CHECK(p.wildcard_ci);
    pp_policy_free(&p);
}

static void test_parse_minimal(void)
{
    pp_policy p;
    CHECK_INT(parse_into("version: 1\n", 11, &p), PERCH_OK);
    CHECK_INT(p.deny[PP_READ].count + p.deny[PP_NET].count, 0);
    CHECK(!p.has_memory_max);
    CHECK(!p.has_signers);
    CHECK_INT(p.unsigned_mode, PP_UNSIGNED_UNSET);
    pp_policy_free(&p);
    /* flow style, an explicit document start and end, empty lists */
    CHECK_INT(parse("---\n{version: 1, deny: {env: []}, signatures: {signers: []}}\n...\n"),
              PERCH_OK);
    /* a keyring beside a policy named without a directory stays as written */
    {
        static const char t[] = "version: 1\nsignatures: {keyrings: [k.json]}\n";
        CHECK_INT(parse_into(t, strlen(t), &p), PERCH_OK);
    }
    CHECK_STR(p.keyrings.items[0].value, "k.json");
    CHECK(p.has_signers == false);
    pp_policy_free(&p);
}

/* ---- parsing: one test per message ----------------------------------------------- */

static void test_parse_yaml_errors(void)
{
    REFUSED("version: 1\ndeny: [a\n",
            "p.yaml:3:1: YAML syntax: did not find expected ',' or ']' while parsing a flow "
            "sequence (line 2)");
    CHECK_INT(parse("version: 1\n\xff\n"), PERCH_E_POLICY_INVALID);
    CHECK_STR(err.message, "p.yaml: byte 11: invalid leading UTF-8 octet");
    REFUSED("version: 1\n---\nversion: 1\n",
            "p.yaml:2:1: a second YAML document (a policy is one document)");
    REFUSED("version: 1\ndeny: &d {}\n",
            "p.yaml:2:7: anchors (&d) are not allowed in a policy");
    REFUSED("version: 1\ndeny:\n  env: [*_TOKEN]\n",
            "p.yaml:3:9: aliases (*_TOKEN) are not allowed in a policy (a pattern starting "
            "with '*' must be quoted: \"*_TOKEN\")");
    REFUSED("version: !!int 1\n", "p.yaml:1:10: tags (tag:yaml.org,2002:int) are not allowed "
                                  "in a policy");
    REFUSED("%TAG !e! tag:example.com,2000:\n---\nversion: 1\n",
            "p.yaml:1:1: tags (%TAG) are not allowed in a policy");
    REFUSED("version: 1\ndeny: [[[[[[[[1]]]]]]]]\n",
            "p.yaml:2:14: nested deeper than 8 levels");
    REFUSED("version: 1\ndeny: {read: [/a], read: [/b]}\n",
            "p.yaml:2:20: duplicate key \"read\" (first at line 2)");
    REFUSED("? [a]\n: 1\n", "p.yaml:1:3: a mapping key must be text, not a sequence");
}

static void test_parse_limits(void)
{
    pb_buf b = {0};
    /* more values than PP_MAX_NODES */
    CHECK(pb_buf_printf(&b, "version: 1\nx: ["));
    for (int i = 0; i < PP_MAX_NODES; i++)
        CHECK(pb_buf_printf(&b, "%s1", i ? "," : ""));
    CHECK(pb_buf_printf(&b, "]\n"));
    CHECK_INT(parse_into((const char *)b.data, b.len, NULL), PERCH_E_POLICY_INVALID);
    CHECK_STR(err.message, "p.yaml:2:39995: too many values (more than 20000)");
    /* a list over PM_MAX_ENTRIES */
    b.len = 0;
    CHECK(pb_buf_printf(&b, "version: 1\ndeny:\n  env: ["));
    for (int i = 0; i <= PM_MAX_ENTRIES; i++)
        CHECK(pb_buf_printf(&b, "%sE%d", i ? "," : "", i));
    CHECK(pb_buf_printf(&b, "]\n"));
    CHECK_INT(parse_into((const char *)b.data, b.len, NULL), PERCH_E_POLICY_INVALID);
    CHECK_STR(err.message, "p.yaml:3:8: deny.env: more than 4096 entries");
    /* a file over PP_MAX_BYTES, refused before parsing */
    b.len = 0;
    CHECK(pb_buf_printf(&b, "version: 1\n"));
    while (b.len <= PP_MAX_BYTES)
        CHECK(pb_buf_printf(&b, "# padding padding padding padding padding padding\n"));
    CHECK_INT(parse_into((const char *)b.data, b.len, NULL), PERCH_E_POLICY_INVALID);
    CHECK_MSG(err, "p.yaml: ");
    CHECK_MSG(err, " bytes is too large for a policy (at most 262144)");
    pb_buf_free(&b);
}

static void test_parse_schema_errors(void)
{
    REFUSED("", "p.yaml:1:1: the policy is empty (it starts with 'version: 1')");
    REFUSED("# only a comment\n", "p.yaml:1:1: the policy is empty (it starts with 'version: 1')");
    REFUSED("- version\n", "p.yaml:1:1: the policy must be a mapping of keys, found sequence");
    REFUSED("deny: {}\n", "p.yaml:1:1: missing key \"version\" (write 'version: 1' first)");
    REFUSED("version: 2\n", "p.yaml:1:10: version 2 is not supported (this perch reads 1)");
    REFUSED("version: \"1\"\n", "p.yaml:1:10: version: expected an integer, found text");
    REFUSED("version: 1\nallow: {}\n",
            "p.yaml:2:1: unknown key \"allow\" in the policy (expected one of: version, deny, "
            "memory_max, signatures, high_risk, wildcard_net)");
    REFUSED("version: 1\ndeny: {raed: []}\n",
            "p.yaml:2:8: unknown key \"raed\" in deny (expected one of: read, write, net, env)");
    REFUSED("version: 1\nsignatures: {required: true}\n",
            "p.yaml:2:14: unknown key \"required\" in signatures (expected one of: unsigned, "
            "signers, keyrings)");
    REFUSED("version: 1\nhigh_risk: {read: []}\n",
            "p.yaml:2:13: unknown key \"read\" in high_risk (expected one of: env, net, write)");
    REFUSED("version: 1\nwildcard_net: {allow: true}\n",
            "p.yaml:2:16: unknown key \"allow\" in wildcard_net (expected one of: signers, "
            "allow_in_ci)");
    REFUSED("version: 1\ndeny: [/etc]\n", "p.yaml:2:7: deny: expected a mapping, found sequence");
    REFUSED("version: 1\ndeny:\n", "p.yaml:2:6: deny: expected a mapping, found null");
    REFUSED("version: 1\nsignatures: yes\n",
            "p.yaml:2:13: signatures: expected a mapping, found boolean");
    REFUSED("version: 1\nhigh_risk: 3\n",
            "p.yaml:2:12: high_risk: expected a mapping, found integer");
    REFUSED("version: 1\nwildcard_net: []\n",
            "p.yaml:2:15: wildcard_net: expected a mapping, found sequence");
    REFUSED("version: 1\ndeny: {env: DEBUG}\n",
            "p.yaml:2:13: deny.env: expected a sequence, found text");
    REFUSED("version: 1\ndeny: {env: [123]}\n",
            "p.yaml:2:14: deny.env[0]: expected text, found integer (quote it to make it text)");
    REFUSED("version: 1\ndeny: {env: [NO]}\n",
            "p.yaml:2:14: deny.env[0]: expected text, found boolean (quote it to make it text)");
    REFUSED("version: 1\ndeny: {env: [1.5e3]}\n",
            "p.yaml:2:14: deny.env[0]: expected text, found float (quote it to make it text)");
    REFUSED("version: 1\ndeny: {env: [[A]]}\n",
            "p.yaml:2:14: deny.env[0]: expected text, found sequence");
    REFUSED("version: 1\ndeny: {env: [\"A\\0B\"]}\n",
            "p.yaml:2:14: deny.env[0]: contains a NUL character");
    REFUSED("version: 1\nmemory_max: 1 GiB\n",
            "p.yaml:2:13: memory_max: expected an integer, found text");
    REFUSED("version: 1\nmemory_max: 0x100\n",
            "p.yaml:2:13: memory_max: write the number in decimal, without a sign");
    REFUSED("version: 1\nmemory_max: -1\n",
            "p.yaml:2:13: memory_max: write the number in decimal, without a sign");
    REFUSED("version: 1\nmemory_max: 4294967297\n",
            "p.yaml:2:13: memory_max: 4294967297 is out of range (at most 4294967296)");
    REFUSED("version: 1\nmemory_max: 99999999999999999999999\n",
            "p.yaml:2:13: memory_max: 99999999999999999999999 is out of range (at most "
            "4294967296)");
    REFUSED("version: 1\nsignatures: {unsigned: maybe}\n",
            "p.yaml:2:24: signatures.unsigned: expected allow or deny, found \"maybe\"");
    REFUSED("version: 1\nsignatures: {unsigned: no}\n",
            "p.yaml:2:24: signatures.unsigned: expected text, found boolean (quote it to make "
            "it text)");
    REFUSED("version: 1\nwildcard_net: {allow_in_ci: yes}\n",
            "p.yaml:2:29: wildcard_net.allow_in_ci: write true or false, not yes");
    REFUSED("version: 1\nwildcard_net: {allow_in_ci: \"true\"}\n",
            "p.yaml:2:29: wildcard_net.allow_in_ci: expected true or false, found text");
}

static void test_parse_value_errors(void)
{
    REFUSED("version: 1\ndeny: {read: [etc]}\n",
            "p.yaml:2:15: deny.read[0] \"etc\" is relative (guest paths must start with '/')");
    REFUSED("version: 1\ndeny: {write: [\"/a*\"]}\n",
            "p.yaml:2:16: deny.write[0] \"/a*\" has a '*' that is not a whole component (write "
            "/home/*/.ssh)");
    REFUSED("version: 1\ndeny: {read: [/a/../b]}\n",
            "p.yaml:2:15: deny.read[0] \"/a/../b\" contains a '..' component");
    REFUSED("version: 1\ndeny: {net: [example.com]}\n",
            "p.yaml:2:14: deny.net[0] \"example.com\" has no port (write host:port, e.g. "
            "api.example.com:443)");
    REFUSED("version: 1\ndeny: {net: [\"*example.com:443\"]}\n",
            "p.yaml:2:14: deny.net[0] \"*example.com:443\" has a '*' that is not a whole "
            "leading label (write *.example.com:443 or *)");
    REFUSED("version: 1\ndeny: {env: [1BAD]}\n",
            "p.yaml:2:14: deny.env[0] \"1BAD\" must start with a letter or '_'");
    REFUSED("version: 1\ndeny: {env: [\"A-B\"]}\n",
            "p.yaml:2:14: deny.env[0] \"A-B\" may contain only letters, digits and '_'");
    REFUSED("version: 1\ndeny:\n  env: [A, B, A]\n",
            "p.yaml:3:15: deny.env[2] \"A\" is listed twice (first at line 3)");
    REFUSED("version: 1\nsignatures: {signers: [\"a/b\"]}\n",
            "p.yaml:2:24: signatures.signers[0] \"a/b\" the signer name has a character outside "
            "[A-Za-z0-9._@-]");
    REFUSED("version: 1\nsignatures: {keyrings: [\"\"]}\n",
            "p.yaml:2:25: signatures.keyrings[0] \"\" is empty");
    REFUSED("version: 1\nsignatures: {keyrings: [\"a\\tb\"]}\n",
            "p.yaml:2:25: signatures.keyrings[0] \"a\\x09b\" contains a control character");
    REFUSED("version: 1\nhigh_risk: {net: [\"*.x.com\"]}\n",
            "p.yaml:2:19: high_risk.net[0] \"*.x.com\" has no port (write host:port, e.g. "
            "api.example.com:443)");
    REFUSED("version: 1\nhigh_risk: {write: [etc]}\n",
            "p.yaml:2:21: high_risk.write[0] \"etc\" is relative (guest paths must start with '/')");
    REFUSED("version: 1\nhigh_risk: {env: [\"*-*\"]}\n",
            "p.yaml:2:19: high_risk.env[0] \"*-*\" may contain only letters, digits and '_'");
    REFUSED("version: 1\nwildcard_net: {signers: [\"\"]}\n",
            "p.yaml:2:26: wildcard_net.signers[0] \"\" the signer name is empty");
}

/* pp_read: files, missing files, directories, huge files. */
static void test_read(void)
{
    char dir[] = "/tmp/perch-policy-XXXXXX", path[128];
    pp_policy p;
    FILE *f;
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/missing.yaml", dir);
    perch_err_clear(&err);
    CHECK_INT(pp_read(path, &p, &err), PERCH_E_IO);
    CHECK_MSG(err, "cannot open ");
    CHECK_INT(pp_read(dir, &p, &err), PERCH_E_IO);
    CHECK_MSG(err, "is not a regular file");
    snprintf(path, sizeof path, "%s/big.yaml", dir);
    f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("version: 1\n", f);
        for (unsigned i = 0; i < PP_MAX_BYTES; i += 8)
            fputs("#       \n", f);
        fclose(f);
    }
    CHECK_INT(pp_read(path, &p, &err), PERCH_E_POLICY_INVALID);
    CHECK_MSG(err, "big.yaml: the file is too large for a policy (more than 262144 bytes)");
    f = fopen(path, "w");
    if (f) {
        fputs("version: 1\ndeny: {env: [X]}\n", f);
        fclose(f);
    }
    CHECK_INT(pp_read(path, &p, &err), PERCH_OK);
    CHECK_STR(p.path, path);
    CHECK_STR(p.deny[PP_ENV].items[0].value, "X");
    pp_policy_free(&p);
    unlink(path);
    rmdir(dir);
}

/* ---- patterns ------------------------------------------------------------------ */

static void test_patterns(void)
{
    const char *why = NULL;
    CHECK(pp_check_pattern(PP_READ, "/", &why));
    CHECK(pp_check_pattern(PP_READ, "/home/*/.ssh", &why));
    CHECK(pp_check_pattern(PP_WRITE, "/*", &why));
    CHECK(!pp_check_pattern(PP_READ, "/home/a*", &why));
    CHECK_STR(why, "has a '*' that is not a whole component (write /home/*/.ssh)");
    CHECK(!pp_check_pattern(PP_READ, "*", &why));
    CHECK(!pp_check_pattern(PP_READ, "/a/", &why));
    CHECK(pp_check_pattern(PP_NET, "*", &why));
    CHECK(pp_check_pattern(PP_NET, "*.example.com:443", &why));
    CHECK(!pp_check_pattern(PP_NET, "example.com:*", &why));
    CHECK(pp_check_pattern(PP_ENV, "*", &why));
    CHECK(pp_check_pattern(PP_ENV, "*_KEY", &why));
    CHECK(pp_check_pattern(PP_ENV, "AWS_*", &why));
    CHECK(!pp_check_pattern(PP_ENV, "AWS-*", &why));
    CHECK(!pp_check_pattern(PP_MEMORY, "1", &why));

    /* paths: overlap either way, '*' is one component */
    CHECK(pp_pattern_refuses(PP_READ, "/etc", "/etc"));
    CHECK(pp_pattern_refuses(PP_READ, "/etc", "/etc/ssl"));
    CHECK(pp_pattern_refuses(PP_READ, "/etc/ssl", "/etc"));
    CHECK(pp_pattern_refuses(PP_READ, "/etc", "/"));
    CHECK(pp_pattern_refuses(PP_READ, "/", "/data"));
    CHECK(!pp_pattern_refuses(PP_READ, "/etc", "/etcetera"));
    CHECK(!pp_pattern_refuses(PP_READ, "/data/keys", "/data/public"));
    CHECK(pp_pattern_refuses(PP_READ, "/home/*/.ssh", "/home/ann/.ssh/id"));
    CHECK(pp_pattern_refuses(PP_READ, "/home/*/.ssh", "/home"));
    CHECK(!pp_pattern_refuses(PP_READ, "/home/*/.ssh", "/home/ann/docs"));
    /* net: either grants part of the other */
    CHECK(pp_pattern_refuses(PP_NET, "*", "api.example.com:443"));
    CHECK(pp_pattern_refuses(PP_NET, "api.example.com:443", "*"));
    CHECK(pp_pattern_refuses(PP_NET, "*.example.com:443", "a.b.example.com:443"));
    CHECK(pp_pattern_refuses(PP_NET, "a.example.com:443", "*.example.com:443"));
    CHECK(!pp_pattern_refuses(PP_NET, "*.example.com:443", "example.com:443"));
    CHECK(!pp_pattern_refuses(PP_NET, "*.example.com:443", "badexample.com:443"));
    CHECK(!pp_pattern_refuses(PP_NET, "api.example.com:443", "api.example.com:80"));
    /* env: glob, ignoring ASCII case */
    CHECK(pp_pattern_refuses(PP_ENV, "*_TOKEN", "GITHUB_TOKEN"));
    CHECK(pp_pattern_refuses(PP_ENV, "*_token", "GITHUB_TOKEN"));
    CHECK(pp_pattern_refuses(PP_ENV, "AWS_*", "AWS_REGION"));
    CHECK(!pp_pattern_refuses(PP_ENV, "*_TOKEN", "TOKENS"));
    CHECK(!pp_pattern_refuses(PP_ENV, "DEBUG", "DEBUGGER"));
}

static void test_parse_cap(void)
{
    pp_kind k;
    const char *pat;
    perch_err_clear(&err);
    CHECK_INT(pp_parse_cap("net", &k, &pat, &err), PERCH_OK);
    CHECK_INT(k, PP_NET);
    CHECK(pat == NULL);
    CHECK_INT(pp_parse_cap("net:*", &k, &pat, &err), PERCH_OK);
    CHECK(pat == NULL);
    CHECK_INT(pp_parse_cap("net:api.example.com:443", &k, &pat, &err), PERCH_OK);
    CHECK_STR(pat, "api.example.com:443");
    CHECK_INT(pp_parse_cap("write:/out/*", &k, &pat, &err), PERCH_OK);
    CHECK_INT(k, PP_WRITE);
    CHECK_INT(pp_parse_cap("env:DEBUG", &k, &pat, &err), PERCH_OK);
    CHECK_INT(k, PP_ENV);
    CHECK_INT(pp_parse_cap("read:data", &k, &pat, &err), PERCH_E_USAGE);
    CHECK_STR(err.message, "capability \"read:data\": the read pattern is relative (guest "
                           "paths must start with '/')");
    CHECK_INT(pp_parse_cap("memory:1024", &k, &pat, &err), PERCH_E_USAGE);
    CHECK_STR(err.message,
              "capability \"memory:1024\": memory is not denied but capped (--memory-max)");
    CHECK_INT(pp_parse_cap("network", &k, &pat, &err), PERCH_E_USAGE);
    CHECK_STR(err.message, "capability \"network\": expected read, write, net or env, alone "
                           "or followed by ':' and a pattern (net:api.example.com:443)");
    CHECK_INT(pp_parse_cap("", &k, &pat, &err), PERCH_E_USAGE);
}

/* ---- composition ----------------------------------------------------------------- */

#define LIST(...)                                                              \
    ((pm_list){(char *[]){__VA_ARGS__},                                        \
               sizeof((char *[]){__VA_ARGS__}) / sizeof(char *)})

/* What the module declares: one need of each kind, in static storage. */
static pm_manifest declared(void)
{
    static char *read[] = {"/inputs"}, *write[] = {"/out"};
    static char *net[] = {"risk-api.vendor.com:443"}, *env[] = {"RISK_THRESHOLD"};
    pm_manifest m;
    memset(&m, 0, sizeof m);
    m.schema = PM_SCHEMA;
    m.name = "risk-model";
    m.version = "1.4.2";
    m.needs_read = (pm_list){read, 1};
    m.needs_write = (pm_list){write, 1};
    m.needs_net = (pm_list){net, 1};
    m.needs_env = (pm_list){env, 1};
    m.has_memory_max = true;
    m.memory_max = 1 << 20;
    return m;
}

/* A one-file set parsed from text under name. */
static void one_policy(pp_set *s, const char *name, const char *text)
{
    pp_policy p;
    perch_err_clear(&err);
    memset(s, 0, sizeof *s);
    CHECK_INT(pp_parse(text, strlen(text), name, &p, &err), PERCH_OK);
    CHECK_INT(pp_set_add(s, &p, &err), PERCH_OK);
}

static void add_policy(pp_set *s, const char *name, const char *text)
{
    pp_policy p;
    CHECK_INT(pp_parse(text, strlen(text), name, &p, &err), PERCH_OK);
    CHECK_INT(pp_set_add(s, &p, &err), PERCH_OK);
}

/* The only refusal of g is need by layer from source under rule. */
static void only_refusal(const pp_grant *g, const char *need, pp_layer layer,
                         const char *source, const char *rule, int line)
{
    int before = check_failures;
    CHECK_INT(g->nrefusals, 1);
    if (g->nrefusals >= 1) {
        CHECK_STR(g->refusals[0].need, need);
        CHECK_STR(pp_layer_name(g->refusals[0].layer), pp_layer_name(layer));
        CHECK_STR(g->refusals[0].source, source);
        CHECK_STR(g->refusals[0].rule, rule);
    }
    if (check_failures != before)
        fprintf(stderr, "  (refusal checked at line %d)\n", line);
}
#define ONLY_REFUSAL(g, need, layer, source, rule)                              \
    only_refusal(&(g), (need), (layer), (source), (rule), __LINE__)

static perch_err_kind compose(const pp_request *q, pp_grant *g)
{
    perch_err_clear(&err);
    return pp_compose(q, g, &err);
}

static void test_compose_nothing_refused(void)
{
    pm_manifest m = declared();
    pp_request q = {0};
    pp_grant g;
    q.declared = &m;
    CHECK_INT(compose(&q, &g), PERCH_OK);
    CHECK_INT(g.nrefusals, 0);
    CHECK_STR(g.grant.name, "risk-model");
    CHECK_STR(g.grant.version, "1.4.2");
    CHECK_INT(g.grant.needs_read.count, 1);
    CHECK_STR(g.grant.needs_write.items[0], "/out");
    CHECK_STR(g.grant.needs_net.items[0], "risk-api.vendor.com:443");
    CHECK_STR(g.grant.needs_env.items[0], "RISK_THRESHOLD");
    CHECK(g.grant.has_memory_max);
    CHECK_INT(g.grant.memory_max, 1 << 20);
    CHECK(!g.wildcard_exception);
    pp_grant_free(&g);
}

/* the .perch file's deny lines, each kind */
static void test_compose_perch_file(void)
{
    pm_manifest m = declared();
    pp_perch_deny lines[] = {{"read:/inputs", 3}, {"write", 4}, {"net:*.vendor.com:443", 5},
                             {"env:RISK_*", 0}};
    pp_request q = {0};
    pp_grant g;
    q.declared = &m;
    q.perch_file = "app.perch";
    for (size_t i = 0; i < 4; i++) {
        static const char *const needs[] = {"read:/inputs", "write:/out",
                                            "net:risk-api.vendor.com:443",
                                            "env:RISK_THRESHOLD"};
        static const char *const sources[] = {"app.perch:3", "app.perch:4", "app.perch:5",
                                              "app.perch"};
        char rule[64];
        q.perch_deny = &lines[i];
        q.nperch_deny = 1;
        CHECK_INT(compose(&q, &g), PERCH_E_MANIFEST_REJECTED);
        snprintf(rule, sizeof rule, "deny %s", lines[i].cap);
        ONLY_REFUSAL(g, needs[i], PP_LAYER_PERCH_FILE, sources[i], rule);
        CHECK_INT(g.grant.needs_read.count + g.grant.needs_write.count + g.grant.needs_net.count +
                      g.grant.needs_env.count,
                  3);
        pp_grant_free(&g);
    }
    q.perch_deny = &lines[1];
    CHECK_INT(compose(&q, &g), PERCH_E_MANIFEST_REJECTED);
    CHECK_STR(err.message, "write:/out refused by perch-file app.perch:4: deny write");
    CHECK_INT(g.grant.needs_write.count, 0);
    CHECK_INT(g.grant.needs_read.count, 1);
    pp_grant_free(&g);
    /* denying reads refuses writes too: writing implies reading */
    {
        pp_perch_deny r = {"read:/out", 9};
        q.perch_deny = &r;
        CHECK_INT(compose(&q, &g), PERCH_E_MANIFEST_REJECTED);
        ONLY_REFUSAL(g, "write:/out", PP_LAYER_PERCH_FILE, "app.perch:9", "deny read:/out");
        pp_grant_free(&g);
    }
    /* a malformed line is the .perch file's syntax error */
    {
        pp_perch_deny bad = {"net:example.com", 7};
        q.perch_deny = &bad;
        CHECK_INT(compose(&q, &g), PERCH_E_PERCH_SYNTAX);
        CHECK_STR(err.message, "app.perch:7: capability \"net:example.com\": the net pattern "
                               "has no port (write host:port, e.g. api.example.com:443)");
        CHECK_INT(g.nrefusals, 0);
        pp_grant_free(&g);
    }
}

/* a policy file, each kind and memory */
static void test_compose_policy(void)
{
    pm_manifest m = declared();
    pp_request q = {0};
    pp_set s;
    pp_grant g;
    q.declared = &m;
    q.policies = &s;

    one_policy(&s, "/etc/org.yaml", "version: 1\ndeny:\n  read: [\"/*\"]\n");
    CHECK_INT(compose(&q, &g), PERCH_E_MANIFEST_REJECTED);
    CHECK_INT(g.nrefusals, 2);
    CHECK_STR(g.refusals[0].need, "read:/inputs");
    CHECK_STR(g.refusals[0].source, "/etc/org.yaml:3:10");
    CHECK_STR(g.refusals[0].rule, "deny.read \"/*\"");
    CHECK_STR(g.refusals[1].need, "write:/out");
    CHECK_STR(err.message, "read:/inputs refused by policy /etc/org.yaml:3:10: deny.read "
                           "\"/*\" (and 1 more refusal)");
    pp_grant_free(&g);
    pp_set_free(&s);

    one_policy(&s, "/etc/org.yaml", "version: 1\ndeny:\n  write: [/out/tmp]\n");
    CHECK_INT(compose(&q, &g), PERCH_E_MANIFEST_REJECTED);
    ONLY_REFUSAL(g, "write:/out", PP_LAYER_POLICY, "/etc/org.yaml:3:11",
                 "deny.write \"/out/tmp\"");
    CHECK_INT(g.grant.needs_read.count, 1);
    pp_grant_free(&g);
    pp_set_free(&s);

    one_policy(&s, "/etc/org.yaml", "version: 1\ndeny:\n  net: [\"*.vendor.com:443\"]\n");
    CHECK_INT(compose(&q, &g), PERCH_E_MANIFEST_REJECTED);
    ONLY_REFUSAL(g, "net:risk-api.vendor.com:443", PP_LAYER_POLICY, "/etc/org.yaml:3:9",
                 "deny.net \"*.vendor.com:443\"");
    pp_grant_free(&g);
    pp_set_free(&s);

    one_policy(&s, "/etc/org.yaml", "version: 1\ndeny:\n  env: [\"risk_*\"]\n");
    CHECK_INT(compose(&q, &g), PERCH_E_MANIFEST_REJECTED);
    ONLY_REFUSAL(g, "env:RISK_THRESHOLD", PP_LAYER_POLICY, "/etc/org.yaml:3:9",
                 "deny.env \"risk_*\"");
    CHECK_INT(g.grant.needs_env.count, 0);
    pp_grant_free(&g);
    pp_set_free(&s);

    /* memory: a declared limit above the cap is refused; the grant gets the cap */
    one_policy(&s, "/etc/org.yaml", "version: 1\nmemory_max: 65536\n");
    CHECK_INT(compose(&q, &g), PERCH_E_MANIFEST_REJECTED);
    ONLY_REFUSAL(g, "memory:1048576", PP_LAYER_POLICY, "/etc/org.yaml:2:13",
                 "memory_max 65536");
    CHECK_INT(g.grant.memory_max, 65536);
    pp_grant_free(&g);
    /* no declared limit: not refused, capped */
    m.has_memory_max = false;
    CHECK_INT(compose(&q, &g), PERCH_OK);
    CHECK(g.grant.has_memory_max);
    CHECK_INT(g.grant.memory_max, 65536);
    pp_grant_free(&g);
    m.has_memory_max = true;
    pp_set_free(&s);

    /* two files: both apply, each refusal names its own file */
    one_policy(&s, "/home/u/.config/perch/policy.yaml", "version: 1\ndeny: {env: [RISK_THRESHOLD]}\n");
    add_policy(&s, "/repo/.perch-policy.yaml",
               "version: 1\nmemory_max: 2097152\ndeny: {env: [\"*\"]}\n");
    CHECK_INT(compose(&q, &g), PERCH_E_MANIFEST_REJECTED);
    CHECK_INT(g.nrefusals, 2);
    CHECK_STR(g.refusals[0].source, "/home/u/.config/perch/policy.yaml:2:14");
    CHECK_STR(g.refusals[1].source, "/repo/.perch-policy.yaml:3:14");
    CHECK_INT(g.grant.memory_max, 1 << 20);
    pp_grant_free(&g);
    pp_set_free(&s);
}

/* command-line flags, each kind and memory */
static void test_compose_flags(void)
{
    pm_manifest m = declared();
    pp_request q = {0};
    pp_flags fl;
    pp_grant g;
    const char *deny[1];
    const char *hosts[2];
    q.declared = &m;
    q.flags = &fl;

    memset(&fl, 0, sizeof fl);
    fl.no_network = true;
    CHECK_INT(compose(&q, &g), PERCH_E_MANIFEST_REJECTED);
    ONLY_REFUSAL(g, "net:risk-api.vendor.com:443", PP_LAYER_FLAG, "--no-network",
                 "no network access");
    CHECK_STR(err.message, "net:risk-api.vendor.com:443 refused by flag --no-network: no "
                           "network access");
    pp_grant_free(&g);

    memset(&fl, 0, sizeof fl);
    fl.no_write = true;
    CHECK_INT(compose(&q, &g), PERCH_E_MANIFEST_REJECTED);
    ONLY_REFUSAL(g, "write:/out", PP_LAYER_FLAG, "--no-write", "no writes");
    pp_grant_free(&g);

    memset(&fl, 0, sizeof fl);
    fl.untrusted = true;
    CHECK_INT(compose(&q, &g), PERCH_E_MANIFEST_REJECTED);
    CHECK_INT(g.nrefusals, 3);
    CHECK_STR(g.refusals[0].need, "write:/out");
    CHECK_STR(g.refusals[1].need, "net:risk-api.vendor.com:443");
    CHECK_STR(g.refusals[2].need, "env:RISK_THRESHOLD");
    CHECK_STR(g.refusals[2].source, "--untrusted");
    CHECK_INT(g.grant.needs_read.count, 1);
    pp_grant_free(&g);

    memset(&fl, 0, sizeof fl);
    deny[0] = "read:/inputs";
    fl.deny = deny;
    fl.ndeny = 1;
    CHECK_INT(compose(&q, &g), PERCH_E_MANIFEST_REJECTED);
    ONLY_REFUSAL(g, "read:/inputs", PP_LAYER_FLAG, "--deny read:/inputs", "deny read:/inputs");
    pp_grant_free(&g);
    deny[0] = "env";
    CHECK_INT(compose(&q, &g), PERCH_E_MANIFEST_REJECTED);
    ONLY_REFUSAL(g, "env:RISK_THRESHOLD", PP_LAYER_FLAG, "--deny env", "deny env");
    pp_grant_free(&g);
    deny[0] = "env:RISK";
    CHECK_INT(compose(&q, &g), PERCH_OK);
    pp_grant_free(&g);
    deny[0] = "bin:sh";
    CHECK_INT(compose(&q, &g), PERCH_E_USAGE);
    CHECK_STR(err.message, "--deny: capability \"bin:sh\": expected read, write, net or env, "
                           "alone or followed by ':' and a pattern (net:api.example.com:443)");
    pp_grant_free(&g);

    memset(&fl, 0, sizeof fl);
    hosts[0] = "api.example.com";
    hosts[1] = "*.vendor.com:8443";
    fl.allow_hosts = hosts;
    fl.nallow_hosts = 2;
    CHECK_INT(compose(&q, &g), PERCH_E_MANIFEST_REJECTED);
    ONLY_REFUSAL(g, "net:risk-api.vendor.com:443", PP_LAYER_FLAG, "--allow-host",
                 "not within any --allow-host entry");
    pp_grant_free(&g);
    hosts[1] = "*.vendor.com"; /* port 443 */
    CHECK_INT(compose(&q, &g), PERCH_OK);
    CHECK_INT(g.grant.needs_net.count, 1);
    pp_grant_free(&g);

    memset(&fl, 0, sizeof fl);
    fl.has_memory_max = true;
    fl.memory_max = 1 << 19;
    CHECK_INT(compose(&q, &g), PERCH_E_MANIFEST_REJECTED);
    ONLY_REFUSAL(g, "memory:1048576", PP_LAYER_FLAG, "--memory-max 524288", "memory_max 524288");
    CHECK_INT(g.grant.memory_max, 1 << 19);
    pp_grant_free(&g);
    fl.memory_max = 1 << 21; /* above the declared limit: the declared one stays */
    CHECK_INT(compose(&q, &g), PERCH_OK);
    CHECK_INT(g.grant.memory_max, 1 << 20);
    pp_grant_free(&g);
}

/* every layer refusing the same need: one refusal each, in layer order */
static void test_compose_all_layers(void)
{
    pm_manifest m = declared();
    pp_perch_deny line = {"net", 2};
    pp_flags fl;
    pp_set s;
    pp_request q = {0};
    pp_grant g;
    memset(&fl, 0, sizeof fl);
    fl.no_network = true;
    one_policy(&s, "p.yaml", "version: 1\ndeny: {net: [\"*\"]}\n");
    q.declared = &m;
    q.perch_deny = &line;
    q.nperch_deny = 1;
    q.perch_file = "app.perch";
    q.policies = &s;
    q.flags = &fl;
    CHECK_INT(compose(&q, &g), PERCH_E_MANIFEST_REJECTED);
    CHECK_INT(g.nrefusals, 3);
    CHECK_INT(g.refusals[0].layer, PP_LAYER_PERCH_FILE);
    CHECK_INT(g.refusals[1].layer, PP_LAYER_POLICY);
    CHECK_STR(g.refusals[1].source, "p.yaml:2:14");
    CHECK_INT(g.refusals[2].layer, PP_LAYER_FLAG);
    CHECK_STR(err.message, "net:risk-api.vendor.com:443 refused by perch-file app.perch:2: "
                           "deny net (and 2 more refusals)");
    pp_grant_free(&g);
    pp_set_free(&s);
}

/* ---- the wildcard rule ----------------------------------------------------------- */

static void test_wildcard(void)
{
    pm_manifest m = declared();
    pp_request q = {0};
    pp_set s;
    pp_grant g;
    m.needs_net = LIST("*");
    q.declared = &m;

    /* no verified signer: refused by the built-in rule */
    CHECK_INT(compose(&q, &g), PERCH_E_MANIFEST_REJECTED);
    ONLY_REFUSAL(g, "net:*", PP_LAYER_POLICY, "(built-in wildcard rule)",
                 "net * needs a verified, trusted signer listed in wildcard_net.signers; this "
                 "module has none");
    CHECK(!g.wildcard_exception);
    pp_grant_free(&g);

    /* a signer, but no policy lists it */
    q.signer = "vendor";
    CHECK_INT(compose(&q, &g), PERCH_E_MANIFEST_REJECTED);
    ONLY_REFUSAL(g, "net:*", PP_LAYER_POLICY, "(built-in wildcard rule)",
                 "net * needs its signer listed in wildcard_net.signers; no policy file lists "
                 "vendor");
    pp_grant_free(&g);

    /* listed: granted as an exception, out of CI */
    one_policy(&s, "/etc/org.yaml", "version: 1\nwildcard_net:\n  signers: [other, vendor]\n");
    q.policies = &s;
    CHECK_INT(compose(&q, &g), PERCH_OK);
    CHECK(g.wildcard_exception);
    CHECK_STR(g.exception_detail, "net:* for signer vendor allowed by /etc/org.yaml:3:20");
    CHECK_STR(g.grant.needs_net.items[0], "*");
    pp_grant_free(&g);
    /* CI="" is not CI */
    q.ci = "";
    CHECK_INT(compose(&q, &g), PERCH_OK);
    pp_grant_free(&g);

    /* in CI it fails unless the policy allows it */
    q.ci = "true";
    CHECK_INT(compose(&q, &g), PERCH_E_MANIFEST_REJECTED);
    ONLY_REFUSAL(g, "net:*", PP_LAYER_POLICY, "/etc/org.yaml:3:20",
                 "CI is set and wildcard_net.allow_in_ci is not true: net * fails in CI unless "
                 "every policy allows it");
    CHECK(!g.wildcard_exception);
    CHECK(g.exception_detail == NULL);
    CHECK_INT(g.grant.needs_net.count, 0);
    pp_grant_free(&g);
    pp_set_free(&s);
    one_policy(&s, "/etc/org.yaml",
               "version: 1\nwildcard_net:\n  signers: [vendor]\n  allow_in_ci: true\n");
    CHECK_INT(compose(&q, &g), PERCH_OK);
    CHECK(g.wildcard_exception);
    pp_grant_free(&g);

    /* a second file that does not list the signer refuses it */
    add_policy(&s, "/repo/.perch-policy.yaml", "version: 1\n");
    CHECK_INT(compose(&q, &g), PERCH_E_MANIFEST_REJECTED);
    ONLY_REFUSAL(g, "net:*", PP_LAYER_POLICY, "/repo/.perch-policy.yaml",
                 "wildcard_net.signers does not list vendor");
    pp_grant_free(&g);
    pp_set_free(&s);

    /* listed, but another layer refuses it: no exception */
    one_policy(&s, "/etc/org.yaml", "version: 1\nwildcard_net: {signers: [vendor]}\n");
    q.ci = NULL;
    {
        pp_flags fl;
        memset(&fl, 0, sizeof fl);
        fl.no_network = true;
        q.flags = &fl;
        CHECK_INT(compose(&q, &g), PERCH_E_MANIFEST_REJECTED);
        ONLY_REFUSAL(g, "net:*", PP_LAYER_FLAG, "--no-network", "no network access");
        CHECK(!g.wildcard_exception);
        CHECK(g.exception_detail == NULL);
        pp_grant_free(&g);
        q.flags = NULL;
    }
    /* "*.d:p" is not the wildcard */
    m.needs_net = LIST("*.vendor.com:443");
    q.signer = NULL;
    CHECK_INT(compose(&q, &g), PERCH_OK);
    CHECK(!g.wildcard_exception);
    pp_grant_free(&g);
    pp_set_free(&s);
}

/* ---- signatures ------------------------------------------------------------------ */

static void test_posture(void)
{
    pp_set s = {0};
    pp_flags fl;
    const char *src;
    char buf[128];
    memset(&fl, 0, sizeof fl);
    CHECK_INT(pp_unsigned_posture(NULL, NULL, NULL, &src, buf, sizeof buf), PP_UNSIGNED_ALLOW);
    CHECK_STR(src, "default (CI is not set)");
    CHECK_INT(pp_unsigned_posture(NULL, NULL, "1", &src, buf, sizeof buf), PP_UNSIGNED_DENY);
    CHECK_STR(src, "default (CI is set)");
    fl.unsigned_mode = PP_UNSIGNED_ALLOW;
    CHECK_INT(pp_unsigned_posture(NULL, &fl, "1", &src, buf, sizeof buf), PP_UNSIGNED_ALLOW);
    CHECK_STR(src, "--unsigned-allow");
    /* a policy's allow replaces the default */
    one_policy(&s, "a.yaml", "version: 1\nsignatures: {unsigned: allow}\n");
    CHECK_INT(pp_unsigned_posture(&s, NULL, "1", &src, buf, sizeof buf), PP_UNSIGNED_ALLOW);
    CHECK_STR(src, "a.yaml:2:24");
    fl.unsigned_mode = PP_UNSIGNED_DENY;
    CHECK_INT(pp_unsigned_posture(&s, &fl, NULL, &src, buf, sizeof buf), PP_UNSIGNED_DENY);
    CHECK_STR(src, "--unsigned-deny");
    /* a policy's deny wins over --unsigned-allow */
    add_policy(&s, "b.yaml", "version: 1\nsignatures:\n  unsigned: deny\n");
    fl.unsigned_mode = PP_UNSIGNED_ALLOW;
    CHECK_INT(pp_unsigned_posture(&s, &fl, NULL, &src, buf, sizeof buf), PP_UNSIGNED_DENY);
    CHECK_STR(src, "b.yaml:3:13");
    pp_set_free(&s);

    CHECK(pp_signer_allowed(NULL, NULL, buf, sizeof buf));
    one_policy(&s, "a.yaml", "version: 1\nsignatures: {signers: [alice, bob]}\n");
    CHECK(pp_signer_allowed(&s, "bob", buf, sizeof buf));
    CHECK(!pp_signer_allowed(&s, "carol", buf, sizeof buf));
    CHECK_STR(buf, "a.yaml:2:14");
    CHECK(!pp_signer_allowed(&s, NULL, buf, sizeof buf));
    add_policy(&s, "b.yaml", "version: 1\nsignatures:\n  signers: [alice]\n");
    CHECK(pp_signer_allowed(&s, "alice", buf, sizeof buf));
    CHECK(!pp_signer_allowed(&s, "bob", buf, sizeof buf));
    CHECK_STR(buf, "b.yaml:3:3");
    pp_set_free(&s);
}

/* ---- HIGH RISK ---------------------------------------------------------------------- */

static void test_risk(void)
{
    pp_set s;
    pp_risk r;
    const char *why = NULL;
    pm_manifest a, b;
    pm_diff d;
    one_policy(&s, "p.yaml",
               "version: 1\nhigh_risk:\n  env: [\"*_CREDENTIALS\"]\n  net: "
               "[\"paste.example.com:443\"]\n  write: [/etc]\n");
    CHECK_INT(pp_risk_build(&s, &r, &err), PERCH_OK);
    CHECK_INT(r.rules.env_count, 5);
    CHECK(pm_risk_match(&r.rules, PM_CAP_ENV, "GCP_CREDENTIALS", &why));
    CHECK_STR(why, "*_CREDENTIALS");
    CHECK(pm_risk_match(&r.rules, PM_CAP_ENV, "GITHUB_TOKEN", &why));
    CHECK_STR(why, "*TOKEN*");
    CHECK(pm_risk_match(&r.rules, PM_CAP_NET, "paste.example.com:443", &why));
    CHECK_STR(why, "paste.example.com:443");
    CHECK(pm_risk_match(&r.rules, PM_CAP_NET, "*", &why));
    CHECK(pm_risk_match(&r.rules, PM_CAP_WRITE, "/etc", &why));
    CHECK(pm_risk_match(&r.rules, PM_CAP_WRITE, "/", &why));
    CHECK(!pm_risk_match(&r.rules, PM_CAP_ENV, "HOME", &why));
    CHECK(!pm_risk_match(pm_risk_default(), PM_CAP_ENV, "GCP_CREDENTIALS", &why));

    /* diff marks what the policy marks */
    memset(&a, 0, sizeof a);
    a.schema = PM_SCHEMA;
    a.name = "m";
    a.version = "1.0.0";
    b = a;
    b.needs_env = LIST("GCP_CREDENTIALS", "LANG");
    CHECK_INT(pm_diff_compute(&a, &b, &r.rules, &d, &err), PERCH_OK);
    CHECK_INT(d.n_high_risk, 1);
    CHECK_INT(d.count, 2);
    CHECK(d.entries[0].high_risk);
    CHECK_STR(d.entries[0].risk_rule, "*_CREDENTIALS");
    CHECK(!d.entries[1].high_risk);
    pm_diff_free(&d);
    CHECK_INT(pm_diff_compute(&a, &b, NULL, &d, &err), PERCH_OK);
    CHECK_INT(d.n_high_risk, 0);
    pm_diff_free(&d);
    pp_risk_free(&r);

    /* no policy: exactly the defaults */
    CHECK_INT(pp_risk_build(NULL, &r, &err), PERCH_OK);
    CHECK_INT(r.rules.env_count, 4);
    CHECK_INT(r.rules.net_count, 1);
    CHECK_INT(r.rules.write_count, 1);
    pp_risk_free(&r);
    pp_set_free(&s);
}

/* ---- discovery ------------------------------------------------------------------- */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_discover(void)
{
    char root[] = "/tmp/perch-disc-XXXXXX", p[256], cwd[256], xdg[256], home[256];
    pp_env env;
    pp_set s;
    CHECK(mkdtemp(root) != NULL);
    snprintf(p, sizeof p, "%s/a", root), mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/a/b", root), mkdir(p, 0700);
    snprintf(cwd, sizeof cwd, "%s/a/b/c", root), mkdir(cwd, 0700);
    snprintf(home, sizeof home, "%s/home", root), mkdir(home, 0700);
    snprintf(p, sizeof p, "%s/home/.config", root), mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/home/.config/perch", root), mkdir(p, 0700);
    snprintf(xdg, sizeof xdg, "%s/xdg", root), mkdir(xdg, 0700);
    snprintf(p, sizeof p, "%s/xdg/perch", root), mkdir(p, 0700);

    env.xdg_config_home = NULL;
    env.home = home;
    env.cwd = cwd;
    perch_err_clear(&err);
    CHECK_INT(pp_discover(&env, &s, &err), PERCH_OK);
    CHECK_INT(s.count, 0);
    pp_set_free(&s);

    /* the nearest .perch-policy.yaml up the tree, only that one */
    snprintf(p, sizeof p, "%s/a/.perch-policy.yaml", root);
    write_file(p, "version: 1\ndeny: {env: [FAR]}\n");
    snprintf(p, sizeof p, "%s/a/b/.perch-policy.yaml", root);
    write_file(p, "version: 1\ndeny: {env: [NEAR]}\n");
    CHECK_INT(pp_discover(&env, &s, &err), PERCH_OK);
    CHECK_INT(s.count, 1);
    if (s.count == 1) {
        CHECK_STR(s.files[0].path, p);
        CHECK_STR(s.files[0].deny[PP_ENV].items[0].value, "NEAR");
    }
    pp_set_free(&s);
    /* from a trailing-slash cwd, the same */
    snprintf(cwd, sizeof cwd, "%s/a/b/c/", root);
    CHECK_INT(pp_discover(&env, &s, &err), PERCH_OK);
    CHECK_INT(s.count, 1);
    pp_set_free(&s);
    unlink(p);
    CHECK_INT(pp_discover(&env, &s, &err), PERCH_OK);
    CHECK_INT(s.count, 1);
    if (s.count == 1)
        CHECK_STR(s.files[0].deny[PP_ENV].items[0].value, "FAR");
    pp_set_free(&s);

    /* the user's file under HOME/.config, first */
    snprintf(p, sizeof p, "%s/home/.config/perch/policy.yaml", root);
    write_file(p, "version: 1\ndeny: {env: [HOMEFILE]}\n");
    CHECK_INT(pp_discover(&env, &s, &err), PERCH_OK);
    CHECK_INT(s.count, 2);
    if (s.count == 2) {
        CHECK_STR(s.files[0].path, p);
        CHECK_STR(s.files[1].deny[PP_ENV].items[0].value, "FAR");
    }
    pp_set_free(&s);
    /* XDG_CONFIG_HOME, when absolute, replaces ~/.config */
    env.xdg_config_home = xdg;
    CHECK_INT(pp_discover(&env, &s, &err), PERCH_OK);
    CHECK_INT(s.count, 1);
    pp_set_free(&s);
    snprintf(p, sizeof p, "%s/xdg/perch/policy.yaml", root);
    write_file(p, "version: 1\ndeny: {env: [XDGFILE]}\n");
    CHECK_INT(pp_discover(&env, &s, &err), PERCH_OK);
    CHECK_INT(s.count, 2);
    if (s.count == 2)
        CHECK_STR(s.files[0].deny[PP_ENV].items[0].value, "XDGFILE");
    pp_set_free(&s);
    /* a relative XDG_CONFIG_HOME is ignored */
    env.xdg_config_home = "xdg";
    CHECK_INT(pp_discover(&env, &s, &err), PERCH_OK);
    CHECK_INT(s.count, 2);
    if (s.count == 2)
        CHECK_STR(s.files[0].deny[PP_ENV].items[0].value, "HOMEFILE");
    pp_set_free(&s);

    /* a broken file is an error, never skipped */
    snprintf(p, sizeof p, "%s/a/b/.perch-policy.yaml", root);
    write_file(p, "version: 1\ndeny: {env: [\"bad-name\"]}\n");
    CHECK_INT(pp_discover(&env, &s, &err), PERCH_E_POLICY_INVALID);
    CHECK_MSG(err, "/a/b/.perch-policy.yaml:2:14: deny.env[0] \"bad-name\" may contain only");
    CHECK_INT(s.count, 0);
    unlink(p);
    /* so is a directory in its place */
    mkdir(p, 0700);
    CHECK_INT(pp_discover(&env, &s, &err), PERCH_E_IO);
    CHECK_MSG(err, "is not a regular file");
    rmdir(p);

    /* no HOME and no cwd: nothing to find */
    env.xdg_config_home = NULL;
    env.home = NULL;
    env.cwd = NULL;
    CHECK_INT(pp_discover(&env, &s, &err), PERCH_OK);
    CHECK_INT(s.count, 0);

    snprintf(p, sizeof p, "rm -rf '%s'", root);
    CHECK_INT(system(p), 0);
}

/* ---- out of memory: every error path frees what it took -------------------------- */

static void test_alloc_failures(void)
{
    static const char text[] =
        "version: 1\ndeny: {read: [/etc], env: [\"*_TOKEN\"], net: [\"*\"]}\n"
        "memory_max: 65536\nsignatures: {signers: [a], keyrings: [k.json]}\n"
        "high_risk: {env: [X]}\nwildcard_net: {signers: [v], allow_in_ci: true}\n";
    pm_manifest m = declared();
    int ok_parse = 0, ok_compose = 0;
    for (uint64_t n = 1; n < 400; n++) {
        pp_policy p;
        pp_set s = {0};
        pp_grant g;
        pp_request q = {0};
        pp_perch_deny line = {"env:RISK_*", 1};
        perch_err_kind rc;
        perch_err_clear(&err);
        pb_alloc_fail_after(n);
        rc = pp_parse(text, strlen(text), "d/p.yaml", &p, &err);
        pb_alloc_fail_after(0);
        if (rc == PERCH_OK) {
            ok_parse++;
            if (pp_set_add(&s, &p, &err) != PERCH_OK)
                pp_policy_free(&p);
        } else {
            CHECK_INT(rc, PERCH_E_IO);
        }
        q.declared = &m;
        q.policies = &s;
        q.perch_deny = &line;
        q.nperch_deny = 1;
        pb_alloc_fail_after(n);
        rc = pp_compose(&q, &g, &err);
        pb_alloc_fail_after(0);
        if (rc != PERCH_E_IO)
            ok_compose++;
        pp_grant_free(&g);
        pp_set_free(&s);
    }
    CHECK(ok_parse > 0);
    CHECK(ok_compose > 0);
}

int main(void)
{
    RUN(test_parse_full);
    RUN(test_parse_minimal);
    RUN(test_parse_yaml_errors);
    RUN(test_parse_limits);
    RUN(test_parse_schema_errors);
    RUN(test_parse_value_errors);
    RUN(test_read);
    RUN(test_patterns);
    RUN(test_parse_cap);
    RUN(test_compose_nothing_refused);
    RUN(test_compose_perch_file);
    RUN(test_compose_policy);
    RUN(test_compose_flags);
    RUN(test_compose_all_layers);
    RUN(test_wildcard);
    RUN(test_posture);
    RUN(test_risk);
    RUN(test_discover);
    RUN(test_alloc_failures);
    return CHECK_DONE();
}
