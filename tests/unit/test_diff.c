/* test_diff.c: every classification of pm_diff_compute, the HIGH RISK rules and the verdict. */
#include "check.h"
#include "manifest/diff.h"

/* A list over string literals; the manifests here are built by hand, never freed. */
#define LIST(...)                                                              \
    ((pm_list){(char *[]){__VA_ARGS__},                                        \
               sizeof((char *[]){__VA_ARGS__}) / sizeof(char *)})

static pm_manifest mk(void)
{
    pm_manifest m;
    memset(&m, 0, sizeof m);
    m.schema = PM_SCHEMA;
    m.name = "risk-model";
    m.version = "1.4.2";
    return m;
}

/* Compare and insist on success. */
static void diff(const pm_manifest *a, const pm_manifest *b, pm_diff *d)
{
    perch_err err;
    perch_err_clear(&err);
    CHECK_INT(pm_diff_compute(a, b, NULL, d, &err), PERCH_OK);
}

/* The entry for cap:value, or NULL. */
static const pm_diff_entry *find(const pm_diff *d, pm_cap cap, const char *value)
{
    for (size_t i = 0; i < d->count; i++)
        if (d->entries[i].cap == cap && strcmp(d->entries[i].value, value) == 0)
            return &d->entries[i];
    return NULL;
}

/* cap:value is present with this change and note (NULL: no note). */
static void check_entry(const pm_diff *d, pm_cap cap, const char *value, pm_change change,
                        const char *note, int line)
{
    const pm_diff_entry *e = find(d, cap, value);
    int before = check_failures;
    CHECK(e != NULL);
    if (e) {
        CHECK_STR(pm_change_name(e->change), pm_change_name(change));
        if (note)
            CHECK_STR(e->note, note);
        else
            CHECK(e->note == NULL);
    }
    if (check_failures != before)
        fprintf(stderr, "  (entry %s:%s, checked at line %d)\n", pm_cap_name(cap), value, line);
}
#define CHECK_ENTRY(d, cap, value, change, note)                               \
    check_entry(&(d), (cap), (value), (change), (note), __LINE__)

static void test_names(void)
{
    CHECK_STR(pm_cap_name(PM_CAP_READ), "read");
    CHECK_STR(pm_cap_name(PM_CAP_WRITE), "write");
    CHECK_STR(pm_cap_name(PM_CAP_NET), "net");
    CHECK_STR(pm_cap_name(PM_CAP_ENV), "env");
    CHECK_STR(pm_change_name(PM_UNCHANGED), "unchanged");
    CHECK_STR(pm_change_name(PM_NEW), "new");
    CHECK_STR(pm_change_name(PM_NARROWED), "narrowed");
    CHECK_STR(pm_change_name(PM_REMOVED), "removed");
    CHECK_STR(pm_verdict_name(PM_VERDICT_UNCHANGED), "UNCHANGED");
    CHECK_STR(pm_verdict_name(PM_VERDICT_REDUCED), "REDUCED");
    CHECK_STR(pm_verdict_name(PM_VERDICT_ELEVATED), "ELEVATED");
}

static void check_risk(pm_cap cap, const char *value, const char *rule)
{
    const char *why = "unset";
    bool hit = pm_risk_match(pm_risk_default(), cap, value, &why);
    CHECK_INT(hit, rule != NULL);
    if (rule)
        CHECK_STR(why, rule);
    else
        CHECK_STR(why, "unset");
}

static void test_risk_default(void)
{
    check_risk(PM_CAP_ENV, "STRIPE_SECRET_KEY", "*SECRET*");
    check_risk(PM_CAP_ENV, "secret", "*SECRET*");
    check_risk(PM_CAP_ENV, "MySecretThing", "*SECRET*");
    check_risk(PM_CAP_ENV, "GITHUB_TOKEN", "*TOKEN*");
    check_risk(PM_CAP_ENV, "tokenizer_path", "*TOKEN*");
    check_risk(PM_CAP_ENV, "DB_PASSWORD", "*PASSWORD*");
    check_risk(PM_CAP_ENV, "db_Password_file", "*PASSWORD*");
    check_risk(PM_CAP_ENV, "AWS_ACCESS_KEY", "*_KEY");
    check_risk(PM_CAP_ENV, "api_key", "*_KEY");
    check_risk(PM_CAP_ENV, "_KEY", "*_KEY");
    check_risk(PM_CAP_ENV, "KEYBOARD", NULL);
    check_risk(PM_CAP_ENV, "KEY", NULL);
    check_risk(PM_CAP_ENV, "MONKEY", NULL);
    check_risk(PM_CAP_ENV, "API_KEYS", NULL);
    check_risk(PM_CAP_ENV, "KEY_ID", NULL);
    check_risk(PM_CAP_ENV, "RISK_THRESHOLD", NULL);
    check_risk(PM_CAP_ENV, "PASSWOR", NULL);
    check_risk(PM_CAP_NET, "*", "*");
    check_risk(PM_CAP_NET, "*.example.com:443", NULL);
    check_risk(PM_CAP_NET, "api.example.com:443", NULL);
    check_risk(PM_CAP_WRITE, "/", "/");
    check_risk(PM_CAP_WRITE, "/data", NULL);
    check_risk(PM_CAP_READ, "/", NULL);
    check_risk(PM_CAP_ENV, "*", NULL); /* the env rules are globs over names, not entries */
    /* NULL rules are the default ones; why may be NULL */
    CHECK(pm_risk_match(NULL, PM_CAP_NET, "*", NULL));
}

static void test_risk_custom(void)
{
    static const char *const env[] = {"AWS_*", "*PASS*WORD"};
    static const char *const net[] = {"metadata.internal:80"};
    pm_risk r = {env, 2, net, 1, NULL, 0};
    const char *why = NULL;
    CHECK(pm_risk_match(&r, PM_CAP_ENV, "aws_region", &why));
    CHECK_STR(why, "AWS_*");
    CHECK(pm_risk_match(&r, PM_CAP_ENV, "MY_PASS_OLD_WORD", &why));
    CHECK_STR(why, "*PASS*WORD");
    CHECK(!pm_risk_match(&r, PM_CAP_ENV, "MY_PASSWORDS", NULL));
    CHECK(!pm_risk_match(&r, PM_CAP_ENV, "STRIPE_SECRET_KEY", NULL));
    CHECK(pm_risk_match(&r, PM_CAP_NET, "metadata.internal:80", &why));
    CHECK_STR(why, "metadata.internal:80");
    CHECK(!pm_risk_match(&r, PM_CAP_NET, "*", NULL));
    CHECK(!pm_risk_match(&r, PM_CAP_WRITE, "/", NULL));
}

static void test_custom_rules_in_compute(void)
{
    static const char *const env[] = {"AWS_*"};
    static const char *const write[] = {"/etc"};
    pm_risk r = {env, 1, NULL, 0, write, 1};
    pm_manifest a = mk(), b = mk();
    pm_diff d;
    perch_err err;
    b.needs_env = LIST("AWS_REGION", "GITHUB_TOKEN");
    b.needs_write = LIST("/etc", "/");
    b.needs_net = LIST("*");
    CHECK_INT(pm_diff_compute(&a, &b, &r, &d, &err), PERCH_OK);
    CHECK(find(&d, PM_CAP_ENV, "AWS_REGION")->high_risk);
    CHECK(find(&d, PM_CAP_ENV, "AWS_REGION")->risk_rule == env[0]);
    CHECK(!find(&d, PM_CAP_ENV, "GITHUB_TOKEN")->high_risk);
    CHECK(find(&d, PM_CAP_WRITE, "/etc")->high_risk);
    CHECK(!find(&d, PM_CAP_WRITE, "/")->high_risk);
    CHECK(!find(&d, PM_CAP_NET, "*")->high_risk);
    CHECK_INT(d.n_high_risk, 2);
    pm_diff_free(&d);
}

static void test_identical(void)
{
    pm_manifest a = mk();
    pm_diff d;
    a.needs_read = LIST("/inputs");
    a.needs_write = LIST("/outputs");
    a.needs_net = LIST("api.example.com:443");
    a.needs_env = LIST("HOME");
    a.has_memory_max = true;
    a.memory_max = 1 << 20;
    diff(&a, &a, &d);
    CHECK_INT(d.count, 4);
    CHECK_ENTRY(d, PM_CAP_READ, "/inputs", PM_UNCHANGED, NULL);
    CHECK_ENTRY(d, PM_CAP_WRITE, "/outputs", PM_UNCHANGED, NULL);
    CHECK_ENTRY(d, PM_CAP_NET, "api.example.com:443", PM_UNCHANGED, NULL);
    CHECK_ENTRY(d, PM_CAP_ENV, "HOME", PM_UNCHANGED, NULL);
    CHECK_INT(d.n_unchanged, 4);
    CHECK_INT(d.n_new + d.n_removed + d.n_narrowed + d.n_high_risk + d.n_lost, 0);
    CHECK_INT(d.memory_change, PM_UNCHANGED);
    CHECK_INT(d.verdict, PM_VERDICT_UNCHANGED);
    CHECK(d.old_present && d.new_present);
    CHECK_STR(d.old_name, "risk-model");
    CHECK_STR(d.new_version, "1.4.2");
    CHECK(d.explanation == NULL);
    pm_diff_free(&d);
    CHECK(d.entries == NULL && d.count == 0 && d.old_name == NULL);
}

static void test_new_each_kind(void)
{
    pm_manifest a = mk(), b = mk();
    pm_diff d;
    b.needs_read = LIST("/etc/keys");
    b.needs_write = LIST("/tmp/cache");
    b.needs_net = LIST("api.openai.com:443");
    b.needs_env = LIST("LANG");
    diff(&a, &b, &d);
    CHECK_INT(d.count, 4);
    CHECK_ENTRY(d, PM_CAP_READ, "/etc/keys", PM_NEW, NULL);
    CHECK_ENTRY(d, PM_CAP_WRITE, "/tmp/cache", PM_NEW, NULL);
    CHECK_ENTRY(d, PM_CAP_NET, "api.openai.com:443", PM_NEW, NULL);
    CHECK_ENTRY(d, PM_CAP_ENV, "LANG", PM_NEW, NULL);
    CHECK_INT(d.n_new, 4);
    CHECK_INT(d.n_high_risk, 0);
    CHECK_INT(d.verdict, PM_VERDICT_ELEVATED);
    pm_diff_free(&d);
}

static void test_removed_each_kind(void)
{
    pm_manifest a = mk(), b = mk();
    pm_diff d;
    a.needs_read = LIST("/etc/keys");
    a.needs_write = LIST("/tmp/cache");
    a.needs_net = LIST("legacy.vendor.com:443");
    a.needs_env = LIST("STRIPE_SECRET_KEY");
    diff(&a, &b, &d);
    CHECK_INT(d.count, 4);
    CHECK_ENTRY(d, PM_CAP_READ, "/etc/keys", PM_REMOVED, NULL);
    CHECK_ENTRY(d, PM_CAP_WRITE, "/tmp/cache", PM_REMOVED, NULL);
    CHECK_ENTRY(d, PM_CAP_NET, "legacy.vendor.com:443", PM_REMOVED, NULL);
    CHECK_ENTRY(d, PM_CAP_ENV, "STRIPE_SECRET_KEY", PM_REMOVED, NULL);
    /* what NEW no longer grants carries no risk */
    CHECK(!find(&d, PM_CAP_ENV, "STRIPE_SECRET_KEY")->high_risk);
    CHECK(find(&d, PM_CAP_ENV, "STRIPE_SECRET_KEY")->risk_rule == NULL);
    CHECK_INT(d.n_removed, 4);
    CHECK_INT(d.n_lost, 4);
    CHECK_INT(d.n_high_risk, 0);
    CHECK_INT(d.verdict, PM_VERDICT_REDUCED);
    pm_diff_free(&d);
}

static void test_narrowed_each_kind(void)
{
    pm_manifest a = mk(), b = mk();
    pm_diff d;
    a.needs_read = LIST("/data");
    a.needs_write = LIST("/out");
    a.needs_net = LIST("*.example.com:443");
    b.needs_read = LIST("/data", "/data/in", "/out/log");
    b.needs_write = LIST("/out", "/out/tmp");
    b.needs_net = LIST("*.example.com:443", "a.b.example.com:443", "*.eu.example.com:443");
    diff(&a, &b, &d);
    CHECK_ENTRY(d, PM_CAP_READ, "/data/in", PM_NARROWED, "within /data");
    CHECK_ENTRY(d, PM_CAP_READ, "/out/log", PM_NARROWED, "within write /out");
    CHECK_ENTRY(d, PM_CAP_WRITE, "/out/tmp", PM_NARROWED, "within /out");
    CHECK_ENTRY(d, PM_CAP_NET, "a.b.example.com:443", PM_NARROWED, "within *.example.com:443");
    CHECK_ENTRY(d, PM_CAP_NET, "*.eu.example.com:443", PM_NARROWED, "within *.example.com:443");
    CHECK_INT(d.n_narrowed, 5);
    CHECK_INT(d.n_unchanged, 3);
    /* OLD's grant is all still there: narrower additions change nothing */
    CHECK_INT(d.verdict, PM_VERDICT_UNCHANGED);
    pm_diff_free(&d);
}

static void test_narrowed_replacing(void)
{
    pm_manifest a = mk(), b = mk();
    pm_diff d;
    a.needs_read = LIST("/data");
    b.needs_read = LIST("/data/in");
    diff(&a, &b, &d);
    CHECK_INT(d.count, 2);
    CHECK_ENTRY(d, PM_CAP_READ, "/data", PM_REMOVED, NULL);
    CHECK_ENTRY(d, PM_CAP_READ, "/data/in", PM_NARROWED, "within /data");
    CHECK_INT(d.n_lost, 1);
    CHECK_INT(d.verdict, PM_VERDICT_REDUCED);
    pm_diff_free(&d);
}

static void test_env_is_exact(void)
{
    pm_manifest a = mk(), b = mk();
    pm_diff d;
    a.needs_env = LIST("HOME");
    b.needs_env = LIST("home", "HOME_DIR");
    diff(&a, &b, &d);
    CHECK_ENTRY(d, PM_CAP_ENV, "HOME", PM_REMOVED, NULL);
    CHECK_ENTRY(d, PM_CAP_ENV, "home", PM_NEW, NULL);
    CHECK_ENTRY(d, PM_CAP_ENV, "HOME_DIR", PM_NEW, NULL);
    CHECK_INT(d.verdict, PM_VERDICT_ELEVATED);
    pm_diff_free(&d);
}

static void test_host_broadening(void)
{
    pm_manifest a = mk(), b = mk();
    pm_diff d;
    a.needs_net = LIST("api.example.com:443");
    b.needs_net = LIST("*.example.com:443");
    diff(&a, &b, &d);
    CHECK_INT(d.count, 2);
    CHECK_ENTRY(d, PM_CAP_NET, "*.example.com:443", PM_NEW, "broadens api.example.com:443");
    CHECK_ENTRY(d, PM_CAP_NET, "api.example.com:443", PM_REMOVED,
                "still granted by *.example.com:443");
    CHECK_INT(d.n_new, 1);
    CHECK_INT(d.n_removed, 1);
    CHECK_INT(d.n_lost, 0);
    CHECK_INT(d.verdict, PM_VERDICT_ELEVATED);
    pm_diff_free(&d);

    /* the other direction: a wildcard replaced by one host */
    diff(&b, &a, &d);
    CHECK_ENTRY(d, PM_CAP_NET, "api.example.com:443", PM_NARROWED, "within *.example.com:443");
    CHECK_ENTRY(d, PM_CAP_NET, "*.example.com:443", PM_REMOVED, NULL);
    CHECK_INT(d.n_lost, 1);
    CHECK_INT(d.verdict, PM_VERDICT_REDUCED);
    pm_diff_free(&d);
}

static void test_host_not_covered(void)
{
    pm_manifest a = mk(), b = mk();
    pm_diff d;
    /* *.d never grants d itself, nor another port, nor a look-alike domain */
    a.needs_net = LIST("*.example.com:443");
    b.needs_net = LIST("*.example.com:443", "badexample.com:443", "example.com:443",
                       "x.example.com:80");
    diff(&a, &b, &d);
    CHECK_ENTRY(d, PM_CAP_NET, "example.com:443", PM_NEW, NULL);
    CHECK_ENTRY(d, PM_CAP_NET, "badexample.com:443", PM_NEW, NULL);
    CHECK_ENTRY(d, PM_CAP_NET, "x.example.com:80", PM_NEW, NULL);
    CHECK_INT(d.n_new, 3);
    pm_diff_free(&d);
}

static void test_net_wildcard(void)
{
    pm_manifest a = mk(), b = mk();
    pm_diff d;
    a.needs_net = LIST("a.example.com:443", "b.example.com:443", "c.example.com:443",
                       "d.example.com:443", "e.example.com:443");
    b.needs_net = LIST("*");
    diff(&a, &b, &d);
    CHECK_ENTRY(d, PM_CAP_NET, "*", PM_NEW,
                "broadens a.example.com:443, b.example.com:443, c.example.com:443 and 2 more");
    CHECK(find(&d, PM_CAP_NET, "*")->high_risk);
    CHECK_STR(find(&d, PM_CAP_NET, "*")->risk_rule, "*");
    CHECK_ENTRY(d, PM_CAP_NET, "c.example.com:443", PM_REMOVED, "still granted by *");
    CHECK_INT(d.n_new, 1);
    CHECK_INT(d.n_high_risk, 1);
    CHECK_INT(d.n_removed, 5);
    CHECK_INT(d.n_lost, 0);
    CHECK_INT(d.verdict, PM_VERDICT_ELEVATED);
    pm_diff_free(&d);

    /* "*" unchanged stays marked, but is not counted as a new HIGH RISK request */
    diff(&b, &b, &d);
    CHECK(d.entries[0].high_risk);
    CHECK_INT(d.n_high_risk, 0);
    CHECK_INT(d.verdict, PM_VERDICT_UNCHANGED);
    pm_diff_free(&d);
}

static void test_path_broadening(void)
{
    pm_manifest a = mk(), b = mk();
    pm_diff d;
    a.needs_read = LIST("/data/in", "/data/more", "/database");
    b.needs_read = LIST("/data", "/database");
    diff(&a, &b, &d);
    /* "/data" does not grant "/database": components, not string prefixes */
    CHECK_ENTRY(d, PM_CAP_READ, "/data", PM_NEW, "broadens /data/in, /data/more");
    CHECK_ENTRY(d, PM_CAP_READ, "/data/in", PM_REMOVED, "still granted by /data");
    CHECK_ENTRY(d, PM_CAP_READ, "/database", PM_UNCHANGED, NULL);
    CHECK_INT(d.verdict, PM_VERDICT_ELEVATED);
    pm_diff_free(&d);
}

/* Coverage found among neighbours that sort between an entry and its children. */
static void test_coverage_search(void)
{
    pm_manifest a = mk(), b = mk();
    pm_diff d;
    a.needs_read = LIST("/a-b", "/a.c", "/a/b", "/a0", "/b/c/d/e");
    a.needs_write = LIST("/");
    a.needs_net = LIST("*.z.example.com:443", "*.example.com:8443", "*.deep.example.org:80",
                       "x.z.example.com:443", "example.com:443");
    b.needs_read = LIST("/a", "/b/c/d/e/f/g");
    b.needs_write = LIST("/");
    b.needs_net = LIST("*.example.com:443", "a.example.com:8443", "q.r.deep.example.org:80",
                       "*.x.deep.example.org:80");
    diff(&a, &b, &d);
    CHECK_ENTRY(d, PM_CAP_READ, "/a", PM_NARROWED, "within write /");
    CHECK_ENTRY(d, PM_CAP_READ, "/b/c/d/e/f/g", PM_NARROWED, "within /b/c/d/e");
    CHECK_ENTRY(d, PM_CAP_READ, "/a/b", PM_REMOVED, "still granted by /a");
    CHECK_ENTRY(d, PM_CAP_READ, "/a-b", PM_REMOVED, "still granted by write /");
    CHECK_ENTRY(d, PM_CAP_NET, "*.example.com:443", PM_NEW,
                "broadens *.z.example.com:443, x.z.example.com:443");
    CHECK_ENTRY(d, PM_CAP_NET, "a.example.com:8443", PM_NARROWED, "within *.example.com:8443");
    CHECK_ENTRY(d, PM_CAP_NET, "q.r.deep.example.org:80", PM_NARROWED,
                "within *.deep.example.org:80");
    CHECK_ENTRY(d, PM_CAP_NET, "*.x.deep.example.org:80", PM_NARROWED,
                "within *.deep.example.org:80");
    CHECK_ENTRY(d, PM_CAP_NET, "example.com:443", PM_REMOVED, NULL);
    CHECK_ENTRY(d, PM_CAP_NET, "x.z.example.com:443", PM_REMOVED,
                "still granted by *.example.com:443");
    pm_diff_free(&d);

    /* a path's "broadens" note names its children only, not its neighbours */
    a = mk();
    b = mk();
    a.needs_read = LIST("/a-b", "/a.c", "/a/b", "/a0", "/a/c/d");
    b.needs_read = LIST("/a");
    diff(&a, &b, &d);
    CHECK_ENTRY(d, PM_CAP_READ, "/a", PM_NEW, "broadens /a/b, /a/c/d");
    pm_diff_free(&d);
}

static void test_write_over_read(void)
{
    pm_manifest a = mk(), b = mk();
    pm_diff d;
    a.needs_read = LIST("/data");
    b.needs_write = LIST("/data");
    diff(&a, &b, &d);
    CHECK_ENTRY(d, PM_CAP_WRITE, "/data", PM_NEW, "was read-only");
    CHECK_ENTRY(d, PM_CAP_READ, "/data", PM_REMOVED, "still granted by write /data");
    CHECK_INT(d.n_lost, 0);
    CHECK_INT(d.verdict, PM_VERDICT_ELEVATED);
    pm_diff_free(&d);

    a.needs_read = LIST("/data");
    a.needs_write = LIST("/data/out/tmp");
    b.needs_read = LIST("/data");
    b.needs_write = LIST("/data/out");
    diff(&a, &b, &d);
    CHECK_ENTRY(d, PM_CAP_WRITE, "/data/out", PM_NEW,
                "was read-only under /data; broadens /data/out/tmp");
    CHECK_ENTRY(d, PM_CAP_READ, "/data", PM_UNCHANGED, NULL);
    pm_diff_free(&d);

    /* write to / is HIGH RISK; read of / is not */
    a = mk();
    b = mk();
    b.needs_read = LIST("/");
    b.needs_write = LIST("/");
    diff(&a, &b, &d);
    CHECK(!find(&d, PM_CAP_READ, "/")->high_risk);
    CHECK(find(&d, PM_CAP_WRITE, "/")->high_risk);
    CHECK_STR(find(&d, PM_CAP_WRITE, "/")->risk_rule, "/");
    CHECK_INT(d.n_high_risk, 1);
    pm_diff_free(&d);

    /* a write that had only been readable through an old write stays "within" */
    a.needs_write = LIST("/w");
    b = mk();
    b.needs_read = LIST("/w/x");
    b.needs_write = LIST("/w");
    diff(&a, &b, &d);
    CHECK_ENTRY(d, PM_CAP_READ, "/w/x", PM_NARROWED, "within write /w");
    CHECK_INT(d.verdict, PM_VERDICT_UNCHANGED);
    pm_diff_free(&d);
}

static void test_removed_but_still_granted(void)
{
    pm_manifest a = mk(), b = mk();
    pm_diff d;
    a.needs_read = LIST("/a", "/a/b");
    b.needs_read = LIST("/a");
    diff(&a, &b, &d);
    CHECK_ENTRY(d, PM_CAP_READ, "/a/b", PM_REMOVED, "still granted by /a");
    CHECK_INT(d.n_removed, 1);
    CHECK_INT(d.n_lost, 0);
    CHECK_INT(d.verdict, PM_VERDICT_UNCHANGED);
    pm_diff_free(&d);
}

static void check_memory(bool oh, uint64_t ov, bool nh, uint64_t nv, pm_change change,
                         pm_verdict verdict)
{
    pm_manifest a = mk(), b = mk();
    pm_diff d;
    a.has_memory_max = oh;
    a.memory_max = ov;
    b.has_memory_max = nh;
    b.memory_max = nv;
    diff(&a, &b, &d);
    CHECK_STR(pm_change_name(d.memory_change), pm_change_name(change));
    CHECK_STR(pm_verdict_name(d.verdict), pm_verdict_name(verdict));
    CHECK_INT(d.old_has_memory, oh);
    CHECK_INT(d.new_has_memory, nh);
    CHECK_INT(d.old_memory, oh ? ov : 0);
    CHECK_INT(d.new_memory, nh ? nv : 0);
    CHECK_INT(d.count, 0);
    pm_diff_free(&d);
}

static void test_memory(void)
{
    check_memory(true, 256u << 20, true, 512u << 20, PM_NEW, PM_VERDICT_ELEVATED);
    check_memory(true, 512u << 20, true, 256u << 20, PM_NARROWED, PM_VERDICT_REDUCED);
    check_memory(true, 1u << 20, true, 1u << 20, PM_UNCHANGED, PM_VERDICT_UNCHANGED);
    /* a limit appearing narrows; one disappearing means no limit at all */
    check_memory(false, 0, true, PM_MEMORY_LIMIT, PM_NARROWED, PM_VERDICT_REDUCED);
    check_memory(true, PM_MEMORY_LIMIT, false, 0, PM_NEW, PM_VERDICT_ELEVATED);
    check_memory(false, 0, false, 0, PM_UNCHANGED, PM_VERDICT_UNCHANGED);
}

/* The seed's example: 4 new requests, 1 HIGH RISK, 1 removed. */
static void test_seed_pair(void)
{
    pm_manifest a = mk(), b = mk();
    pm_diff d;
    a.needs_read = LIST("/inputs");
    a.needs_net = LIST("risk-api.vendor.com:443", "legacy.vendor.com:443");
    a.needs_env = LIST("RISK_THRESHOLD");
    a.has_memory_max = true;
    a.memory_max = 256u << 20;
    b = a;
    b.version = "1.5.0";
    b.needs_read = LIST("/tmp/cache", "/inputs", "/etc/keys");
    b.needs_net = LIST("risk-api.vendor.com:443", "api.openai.com:443");
    b.needs_env = LIST("RISK_THRESHOLD", "STRIPE_SECRET_KEY");
    diff(&a, &b, &d);
    CHECK_INT(d.count, 8);
    CHECK_INT(d.n_new, 4);
    CHECK_INT(d.n_high_risk, 1);
    CHECK_INT(d.n_removed, 1);
    CHECK_INT(d.n_lost, 1);
    CHECK_INT(d.n_unchanged, 3);
    CHECK_INT(d.n_narrowed, 0);
    CHECK_INT(d.memory_change, PM_UNCHANGED);
    CHECK_INT(d.verdict, PM_VERDICT_ELEVATED);
    CHECK_STR(d.old_version, "1.4.2");
    CHECK_STR(d.new_version, "1.5.0");
    {
        const pm_diff_entry *e = find(&d, PM_CAP_ENV, "STRIPE_SECRET_KEY");
        CHECK(e && e->high_risk && e->change == PM_NEW);
        CHECK_STR(e ? e->risk_rule : NULL, "*SECRET*");
    }
    pm_diff_free(&d);
}

static void test_sort_order(void)
{
    pm_manifest a = mk(), b = mk();
    pm_diff d;
    static const struct { pm_cap cap; const char *value; } want[] = {
        {PM_CAP_READ, "/B"}, {PM_CAP_READ, "/a"}, {PM_CAP_READ, "/a/b"}, {PM_CAP_READ, "/b"},
        {PM_CAP_WRITE, "/x"}, {PM_CAP_WRITE, "/z"},
        {PM_CAP_NET, "*"}, {PM_CAP_NET, "a.com:443"}, {PM_CAP_NET, "b.com:443"},
        {PM_CAP_ENV, "A"}, {PM_CAP_ENV, "Z"}, {PM_CAP_ENV, "a"},
    };
    /* unsorted and repeated in the input; one sorted merge in the output */
    a.needs_env = LIST("a", "Z");
    a.needs_read = LIST("/b", "/a/b", "/b");
    a.needs_net = LIST("b.com:443");
    b.needs_net = LIST("b.com:443", "*", "a.com:443");
    b.needs_env = LIST("A", "Z", "A");
    b.needs_write = LIST("/z", "/x");
    b.needs_read = LIST("/a", "/B");
    diff(&a, &b, &d);
    CHECK_INT(d.count, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < d.count && i < sizeof want / sizeof want[0]; i++) {
        CHECK_INT(d.entries[i].cap, want[i].cap);
        CHECK_STR(d.entries[i].value, want[i].value);
    }
    CHECK_INT(d.n_new + d.n_narrowed + d.n_removed + d.n_unchanged, d.count);
    pm_diff_free(&d);
}

static void test_manifest_gained(void)
{
    pm_manifest b = mk();
    pm_diff d;
    b.needs_read = LIST("/inputs");
    b.needs_env = LIST("API_TOKEN");
    b.has_memory_max = true;
    b.memory_max = 1u << 20;
    diff(NULL, &b, &d);
    CHECK(!d.old_present && d.new_present);
    CHECK(d.old_name == NULL && d.old_version == NULL);
    CHECK_STR(d.new_name, "risk-model");
    CHECK_ENTRY(d, PM_CAP_READ, "/inputs", PM_NEW, NULL);
    CHECK_ENTRY(d, PM_CAP_ENV, "API_TOKEN", PM_NEW, NULL);
    CHECK_INT(d.n_high_risk, 1);
    CHECK_INT(d.memory_change, PM_NARROWED);
    CHECK_INT(d.verdict, PM_VERDICT_ELEVATED);
    CHECK_STR(d.explanation, "OLD has no perch.manifest section: NEW's declarations are "
                             "compared as if OLD declared nothing");
    pm_diff_free(&d);

    /* gaining a manifest that declares nothing but a limit */
    b = mk();
    b.has_memory_max = true;
    b.memory_max = 1u << 20;
    diff(NULL, &b, &d);
    CHECK_INT(d.count, 0);
    CHECK_INT(d.verdict, PM_VERDICT_REDUCED);
    CHECK(d.explanation != NULL);
    pm_diff_free(&d);
}

static void test_manifest_lost(void)
{
    pm_manifest a = mk();
    pm_diff d;
    a.needs_read = LIST("/inputs");
    a.needs_net = LIST("api.example.com:443", "*");
    diff(&a, NULL, &d);
    CHECK(d.old_present && !d.new_present);
    CHECK(d.new_name == NULL && d.new_version == NULL);
    CHECK_STR(d.old_name, "risk-model");
    CHECK_INT(d.count, 0);
    CHECK_INT(d.verdict, PM_VERDICT_ELEVATED);
    CHECK_INT(d.memory_change, PM_UNCHANGED);
    CHECK_STR(d.explanation, "NEW has no perch.manifest section: what it needs is no longer "
                             "declared, so nothing bounds what it may be granted (OLD declared "
                             "3 capabilities)");
    pm_diff_free(&d);

    a = mk();
    a.needs_env = LIST("HOME");
    a.has_memory_max = true;
    a.memory_max = 4096;
    diff(&a, NULL, &d);
    CHECK_INT(d.memory_change, PM_NEW);
    CHECK_INT(d.verdict, PM_VERDICT_ELEVATED);
    CHECK(strstr(d.explanation, "(OLD declared 1 capability and a memory limit)") != NULL);
    pm_diff_free(&d);
}

static void test_manifest_neither(void)
{
    pm_diff d;
    diff(NULL, NULL, &d);
    CHECK(!d.old_present && !d.new_present);
    CHECK_INT(d.count, 0);
    CHECK_INT(d.verdict, PM_VERDICT_UNCHANGED);
    CHECK_INT(d.memory_change, PM_UNCHANGED);
    CHECK_STR(d.explanation, "neither module has a perch.manifest section: nothing is declared, "
                             "so there is nothing to compare");
    pm_diff_free(&d);
}

static void test_names_do_not_change_verdict(void)
{
    pm_manifest a = mk(), b = mk();
    pm_diff d;
    b.name = "risk-model-pro";
    b.version = "2.0.0";
    diff(&a, &b, &d);
    CHECK_STR(d.old_name, "risk-model");
    CHECK_STR(d.new_name, "risk-model-pro");
    CHECK_INT(d.verdict, PM_VERDICT_UNCHANGED);
    pm_diff_free(&d);
}

static void test_unparsable_net_entry(void)
{
    pm_manifest a = mk(), b = mk();
    pm_diff d;
    /* not valid after pm_check_net; compared as plain strings, never covering */
    a.needs_net = LIST("bogus", "*.x:99999");
    b.needs_net = LIST("bogus", "*.x:99999x", "a.x:443");
    diff(&a, &b, &d);
    CHECK_ENTRY(d, PM_CAP_NET, "bogus", PM_UNCHANGED, NULL);
    CHECK_ENTRY(d, PM_CAP_NET, "a.x:443", PM_NEW, NULL);
    CHECK_ENTRY(d, PM_CAP_NET, "*.x:99999x", PM_NEW, NULL);
    CHECK_ENTRY(d, PM_CAP_NET, "*.x:99999", PM_REMOVED, NULL);
    pm_diff_free(&d);
}

/* Fail the 1st, 2nd, ... allocation: each failure is reported and leaks nothing. */
static void test_alloc_failure(void)
{
    pm_manifest a = mk(), b = mk();
    int failures = 0;
    a.needs_read = LIST("/data");
    a.needs_net = LIST("api.example.com:443", "b.example.com:443", "c.example.com:443",
                       "d.example.com:443");
    a.needs_env = LIST("HOME");
    b.needs_read = LIST("/data/in");
    b.needs_write = LIST("/data", "/tmp");
    b.needs_net = LIST("*.example.com:443");
    b.needs_env = LIST("HOME", "API_KEY");
    for (uint64_t n = 1; n < 1000; n++) {
        pm_diff d;
        perch_err err;
        perch_err_kind rc;
        perch_err_clear(&err);
        pb_alloc_fail_after(n);
        rc = pm_diff_compute(&a, &b, NULL, &d, &err);
        pb_alloc_fail_after(0);
        if (rc == PERCH_OK) {
            CHECK_INT(d.count, 11);
            CHECK_INT(d.verdict, PM_VERDICT_ELEVATED);
            pm_diff_free(&d);
            break;
        }
        failures++;
        CHECK_INT(rc, PERCH_E_IO);
        CHECK_INT(err.kind, PERCH_E_IO);
        CHECK_MSG(err, "out of memory");
        CHECK(d.entries == NULL && d.count == 0 && d.explanation == NULL && d.old_name == NULL);
        pm_diff_free(&d); /* harmless on the emptied result */
    }
    CHECK(failures > 10);

    /* the branches without entries: lost, gained, neither */
    for (int branch = 0; branch < 3; branch++) {
        const pm_manifest *o = branch == 2 ? NULL : &a, *nw = branch == 1 ? &b : NULL;
        if (branch == 1)
            o = NULL;
        failures = 0;
        for (uint64_t n = 1; n < 1000; n++) {
            pm_diff d;
            perch_err err;
            perch_err_kind rc;
            pb_alloc_fail_after(n);
            rc = pm_diff_compute(o, nw, NULL, &d, &err);
            pb_alloc_fail_after(0);
            if (rc == PERCH_OK) {
                CHECK(d.explanation != NULL);
                pm_diff_free(&d);
                break;
            }
            failures++;
            CHECK_INT(rc, PERCH_E_IO);
            CHECK_MSG(err, "out of memory");
            CHECK(d.explanation == NULL && d.old_name == NULL);
        }
        CHECK(failures >= 1);
    }
}

int main(void)
{
    RUN(test_names);
    RUN(test_risk_default);
    RUN(test_risk_custom);
    RUN(test_custom_rules_in_compute);
    RUN(test_identical);
    RUN(test_new_each_kind);
    RUN(test_removed_each_kind);
    RUN(test_narrowed_each_kind);
    RUN(test_narrowed_replacing);
    RUN(test_env_is_exact);
    RUN(test_host_broadening);
    RUN(test_host_not_covered);
    RUN(test_net_wildcard);
    RUN(test_path_broadening);
    RUN(test_coverage_search);
    RUN(test_write_over_read);
    RUN(test_removed_but_still_granted);
    RUN(test_memory);
    RUN(test_seed_pair);
    RUN(test_sort_order);
    RUN(test_manifest_gained);
    RUN(test_manifest_lost);
    RUN(test_manifest_neither);
    RUN(test_names_do_not_change_verdict);
    RUN(test_unparsable_net_entry);
    RUN(test_alloc_failure);
    return CHECK_DONE();
}
