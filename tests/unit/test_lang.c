/*
 * test_lang.c: the .perch front end: the tree the parser builds for the
 * seed's and the Go perch's forms, positions and carets, versions,
 * requires against a fake machine, hostile input, allocation failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "lang/lang.h"

static const char seed[] =
    "bundle\n"
    "    include \"./policy.wasm\" as policy\n"
    "end\n"
    "\n"
    "requires\n"
    "    bin \"kubectl\" >= \"1.28.0\"\n"
    "    host \"api.github.com\"\n"
    "end\n"
    "\n"
    "command validate\n"
    "    arg deploy string \"deploy spec\"\n"
    "    do\n"
    "        wasm_run policy\n"
    "            wasm_arg deploy\n"
    "            wasm_mount_read \"./deploys\" as \"/ro\"\n"
    "            wasm_env \"DEPLOY_TARGET\"\n"
    "            wasm_allow_host \"api.github.com\"\n"
    "        end\n"
    "    end\n"
    "end\n";

static pl_file *parse_ok(const char *src)
{
    pl_file *f = NULL;
    perch_err err;
    perch_err_clear(&err);
    if (pl_parse("t.perch", src, strlen(src), &f, &err) != PERCH_OK) {
        fprintf(stderr, "parse: %s\n", err.message);
        return NULL;
    }
    if (pl_check(f, &err) != PERCH_OK) {
        fprintf(stderr, "check: %s\n", err.message);
        pl_file_free(f);
        return NULL;
    }
    return f;
}

/* The message of the error src gets (parse, then check). */
static const char *error_of(const char *src, size_t len, perch_err *err)
{
    pl_file *f = NULL;
    perch_err_clear(err);
    if (pl_parse("t.perch", src, len, &f, err) == PERCH_OK) {
        (void)pl_check(f, err);
        pl_file_free(f);
    }
    return err->message;
}

static void test_seed_tree(void)
{
    pl_file *f = parse_ok(seed);
    const pl_step *st;
    CHECK(f != NULL);
    if (!f)
        return;
    CHECK_INT(f->nincludes, 1);
    CHECK_STR(f->includes->path.s, "./policy.wasm");
    CHECK_STR(f->includes->name.s, "policy");
    CHECK_INT(f->nreqs, 2);
    CHECK_INT(f->reqs->kind, PL_REQ_BIN);
    CHECK_STR(f->reqs->value.s, "kubectl");
    CHECK_INT(f->reqs->cmp, PL_CMP_GE);
    CHECK_STR(f->reqs->version.s, "1.28.0");
    CHECK_INT(f->reqs->next->kind, PL_REQ_HOST);
    CHECK_INT(f->ncommands, 1);
    CHECK_STR(f->commands->name.s, "validate");
    CHECK_INT(f->commands->nargs, 1);
    CHECK_STR(f->commands->args->name.s, "deploy");
    CHECK_INT(f->commands->args->type, PL_TYPE_STRING);
    CHECK_STR(f->commands->args->description.s, "deploy spec");
    CHECK_INT(f->commands->nsteps, 1);
    st = f->commands->steps;
    CHECK_INT(st->kind, PL_STEP_WASM);
    CHECK_STR(st->wasm.module.s, "policy");
    CHECK(!st->wasm.module_is_path);
    CHECK_STR(st->wasm.args->s, "deploy");
    CHECK(!st->wasm.args->quoted);
    CHECK_STR(st->wasm.mounts->host.s, "./deploys");
    CHECK_STR(st->wasm.mounts->guest.s, "/ro");
    CHECK(st->wasm.mounts->guest_given);
    CHECK(!st->wasm.mounts->write);
    CHECK_STR(st->wasm.env->s, "DEPLOY_TARGET");
    CHECK_STR(st->wasm.hosts->s, "api.github.com");
    CHECK(!st->wasm.accept);
    /* positions: line, column in characters, byte offset */
    CHECK_INT(st->wasm.mounts->pos.line, 15);
    CHECK_INT(st->wasm.mounts->pos.col, 13);
    CHECK_INT(st->wasm.mounts->host.pos.col, 29);
    CHECK_INT(seed[st->wasm.mounts->host.pos.off], '"');
    pl_file_free(f);
}

static void test_go_forms_tree(void)
{
    static const char src[] =
        "requires\n"
        "    bin \"kubectl\"\n"
        "        hash \"sha256:" "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" "\"\n"
        "        hash_file \"pins/kubectl\"\n"
        "    end\n"
        "    bin \"./tools/x\" as x optional\n"
        "end\n"
        "command c\n"
        "    arg name\n"
        "        type int\n"
        "        default 3\n"
        "        description \"how many\"\n"
        "        optional\n"
        "    end\n"
        "    arg rest\n"
        "    do\n"
        "        wasm_run \"plugins/${name}.wasm\"\n"
        "            wasm_mount_read \"${rest}/data/\"\n"
        "            wasm_mount_write \"out\"\n"
        "            wasm_env \"A, B\"\n"
        "        end\n"
        "        x --flag=1 \"${name}\"\n"
        "    end\n"
        "end\n";
    pl_file *f = parse_ok(src);
    const pl_wasm *w;
    CHECK(f != NULL);
    if (!f)
        return;
    CHECK_STR(f->reqs->hash.s, "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    CHECK_STR(f->reqs->hash_file.s, "pins/kubectl");
    CHECK_STR(f->reqs->next->alias.s, "x");
    CHECK(f->reqs->next->optional);
    CHECK_INT(f->commands->args->type, PL_TYPE_INT);
    CHECK_STR(f->commands->args->def.s, "3");
    CHECK(f->commands->args->optional);
    CHECK_INT(f->commands->args->next->type, PL_TYPE_STRING);
    w = &f->commands->steps->wasm;
    CHECK(w->module_is_path);
    CHECK_STR(w->mounts->guest.s, "/ro/data");
    CHECK(!w->mounts->guest_given);
    CHECK_STR(w->mounts->next->guest.s, "/rw/out");
    CHECK_STR(w->env->s, "A");
    CHECK_STR(w->env->next->s, "B");
    CHECK_INT(w->env->next->pos.col, 26);
    CHECK_INT(f->commands->steps->next->kind, PL_STEP_CALL);
    CHECK(f->commands->steps->next->target == NULL);
    CHECK_STR(f->commands->steps->next->argv->s, "--flag=1");
    pl_file_free(f);
}

static void test_accept_block_and_calls(void)
{
    static const char src[] =
        "bundle\n include \"m.wasm\"\nend\n"
        "command a\n arg x int default 1\n do\n"
        "  wasm_run m\n   accept_manifest\n    deny \"wasm_allow_host\"\n"
        "    deny \"wasm_env\" \"DEBUG\"\n   end\n"
        "   grant \"net\" \"second-host.com\"\n   require_signer \"ed25519:vendor\"\n  end\n"
        " end\nend\n"
        "command b\n do\n  a 2\n  a\n end\nend\n";
    pl_file *f = parse_ok(src);
    const pl_wasm *w;
    CHECK(f != NULL);
    if (!f)
        return;
    CHECK_STR(f->includes->name.s, "m");
    w = &f->commands->steps->wasm;
    CHECK(w->accept);
    CHECK_INT(w->denies->cap, PL_CAP_NET);
    CHECK(w->denies->value.s == NULL);
    CHECK_INT(w->denies->next->cap, PL_CAP_ENV);
    CHECK_STR(w->denies->next->value.s, "DEBUG");
    CHECK_INT(w->grants->cap, PL_CAP_NET);
    CHECK_STR(w->signers->s, "ed25519:vendor");
    CHECK(f->commands->next->steps->target == f->commands);
    pl_file_free(f);
}

static void test_caret(void)
{
    static const char src[] = "a\n\tb caf\xc3\xa9 x\xc3\n";
    pb_buf out = {0};
    CHECK(pl_caret(src, strlen(src), 10, &out)); /* the 'x' */
    CHECK(pb_buf_byte(&out, 0));
    CHECK_STR((const char *)out.data, "    \tb caf\xc3\xa9 x\\xc3\n    \t      ^\n");
    pb_buf_free(&out);
    CHECK(!pl_caret(src, strlen(src), 99, &out));
    pb_buf_free(&out);
    CHECK(pl_caret("", 0, 0, &out));
    CHECK(pb_buf_byte(&out, 0));
    CHECK_STR((const char *)out.data, "    \n    ^\n");
    pb_buf_free(&out);
}

static void test_versions(void)
{
    size_t s, n;
    static const char out[] = "kubectl Client Version: v1.28.3-gke.1\n";
    CHECK(pl_version_find(out, strlen(out), &s, &n));
    CHECK_INT(s, 25);
    CHECK_INT(n, 6);
    CHECK(pl_version_find("git version 2.39.2", 18, &s, &n) && s == 12 && n == 6);
    CHECK(!pl_version_find("x86_64 build 12", 15, &s, &n));
    CHECK(pl_version_find("x86_64 3.1", 10, &s, &n) && s == 7);
    CHECK_INT(pl_version_cmp("1.28.3", 6, "1.28.0", 6), 1);
    CHECK_INT(pl_version_cmp("1.28", 4, "1.28.0", 6), 0);
    CHECK_INT(pl_version_cmp("1.3", 3, "1.28", 4), -1);
    CHECK_INT(pl_version_cmp("01.2", 4, "1.2", 3), 0);
    CHECK_INT(pl_version_cmp("99999999999999999999.1", 22, "99999999999999999998.9", 22), 1);
}

static const char *fake_env(const char *name, void *ud)
{
    (void)ud;
    return strcmp(name, "SET") == 0 ? "yes" : strcmp(name, "EMPTY") == 0 ? "" : NULL;
}

static void test_requires_fake_machine(void)
{
    char dir[] = "/tmp/perch-lang-XXXXXX", tool[64], slow[64];
    FILE *fp;
    pl_file *f;
    pl_req_result *res = NULL;
    size_t n = 0;
    perch_err err;
    pl_host host;
    static const char src[] =
        "requires\n bin \"tool\" >= \"2.1\"\n bin \"slow\" > \"1\"\n env \"SET\"\n"
        " env \"EMPTY\" optional\n env \"UNSET\"\n os \"darwin\"\n arch \"x86_64\"\n"
        " host \"*.example.com\"\nend\n";
    CHECK(mkdtemp(dir) != NULL);
    snprintf(tool, sizeof tool, "%s/tool", dir);
    snprintf(slow, sizeof slow, "%s/slow", dir);
    fp = fopen(tool, "w");
    CHECK(fp != NULL);
    if (!fp)
        return;
    fputs("#!/bin/sh\necho \"tool 2.10.0\" >&2\n", fp);
    fclose(fp);
    fp = fopen(slow, "w");
    CHECK(fp != NULL);
    if (!fp)
        return;
    fputs("#!/bin/sh\nexec sleep 5\n", fp);
    fclose(fp);
    CHECK(chmod(tool, 0755) == 0 && chmod(slow, 0755) == 0);
    f = parse_ok(src);
    CHECK(f != NULL);
    if (!f)
        return;
    memset(&host, 0, sizeof host);
    host.path = dir;
    host.os = "darwin";
    host.arch = "amd64";
    host.getenv = fake_env;
    host.timeout_ms = 300;
    CHECK_INT(pl_requires_check(f, &host, &res, &n, &err), PERCH_E_REQUIRES_UNMET);
    CHECK_INT(n, 8);
    if (n == 8) {
        char want[256];
        CHECK_INT(res[0].status, PL_MET);
        snprintf(want, sizeof want, "version 2.10.0 is >= 2.1 (%s)", tool);
        CHECK_STR(res[0].detail, want);
        CHECK_INT(res[1].status, PL_UNMET);
        snprintf(want, sizeof want, "%s --version did not finish within 300 ms", slow);
        CHECK_STR(res[1].detail, want);
        CHECK_INT(res[2].status, PL_MET);
        CHECK_INT(res[3].status, PL_NOT_CHECKED);
        CHECK_STR(res[3].detail, "is empty");
        CHECK_INT(res[4].status, PL_UNMET);
        CHECK_STR(res[4].what, "env \"UNSET\"");
        CHECK_INT(res[5].status, PL_MET);
        CHECK_INT(res[6].status, PL_MET);
        CHECK_INT(res[7].status, PL_NOT_CHECKED);
    }
    {
        char want[300];
        snprintf(want, sizeof want,
                 "bin \"slow\" > \"1\": %s --version did not finish within 300 ms (and 1 more "
                 "unmet)",
                 slow);
        CHECK_STR(err.message, want);
    }
    pb_free(res);
    pl_file_free(f);
    unlink(tool);
    unlink(slow);
    rmdir(dir);
}

static void test_hostile_input(void)
{
    perch_err err;
    size_t big = PL_MAX_FILE + 1, n;
    char *buf = malloc(big + 64);
    CHECK(buf != NULL);
    if (!buf)
        return;
    /* too large */
    memset(buf, '#', big);
    error_of(buf, big, &err);
    CHECK_INT(err.kind, PERCH_E_PERCH_SYNTAX);
    CHECK_STR(err.message, "t.perch:1:1: file is larger than 1048576 bytes");
    /* too many statements */
    n = (size_t)sprintf(buf, "requires\n");
    for (int i = 0; i < PL_MAX_STATEMENTS + 1; i++)
        n += (size_t)sprintf(buf + n, " os \"linux\"\n");
    error_of(buf, n, &err);
    CHECK_STR(err.message, "t.perch:8193:2: too many statements (more than 8192)");
    /* NUL inside a string, not terminated, no newline at the end */
    error_of("requires\n bin \"a\0b\"", 19, &err);
    CHECK_STR(err.message, "t.perch:2:8: NUL byte in the file");
    error_of("command a\n do\n  shell \"x", 24, &err);
    CHECK_STR(err.message, "t.perch:3:9: unterminated string (a string ends on the line it starts)");
    /* surrogates and overlongs are not UTF-8 */
    error_of("# \xed\xa0\x80\n", 6, &err);
    CHECK_STR(err.message, "t.perch:1:3: invalid UTF-8 (byte 0xed)");
    error_of("# \xc0\xaf\n", 5, &err);
    CHECK_STR(err.message, "t.perch:1:3: invalid UTF-8 (byte 0xc0)");
    /* deep nesting is a grammar error at the first level too many */
    n = 0;
    for (int i = 0; i < 1000; i++)
        n += (size_t)sprintf(buf + n, "command a\n do\n");
    error_of(buf, n, &err);
    CHECK_STR(err.message, "t.perch:3:1: unexpected 'command' in do (expected shell, wasm_run, a "
                           "command or bin name, or end)");
    {
        static const char acc[] = "command a\n do\n  wasm_run m\n   accept_manifest\n"
                                  "    deny \"x\"\n    accept_manifest\n";
        CHECK_STR(error_of(acc, strlen(acc), &err),
                  "t.perch:6:5: unexpected 'accept_manifest' in accept_manifest (expected deny "
                  "or end)");
    }
    /* an empty file and a file of comments are valid and empty */
    {
        pl_file *f = parse_ok("");
        CHECK(f != NULL && f->ncommands == 0);
        pl_file_free(f);
        f = parse_ok("\xef\xbb\xbf# only a comment\r\n\r\n");
        CHECK(f != NULL && f->ncommands == 0);
        pl_file_free(f);
    }
    free(buf);
}

/* Every allocation failure is reported as io and frees what was taken
 * (the sanitizer build catches leaks). */
static void test_allocation_failure(void)
{
    static const char src[] =
        "bundle\n include \"m.wasm\" as m\nend\nrequires\n bin \"sh\"\n env \"HOME\"\nend\n"
        "command a\n arg x int default 1\n do\n  wasm_run m\n   accept_manifest\n"
        "    deny \"wasm_env\" \"X\"\n   end\n   wasm_env \"A,B\"\n   wasm_mount_read \"d\"\n"
        "  end\n  shell \"echo ${x} ${HOME}\"\n end\nend\ncommand b\n do\n  a 1\n end\nend\n";
    int ok_at = 0;
    for (uint64_t k = 1; k < 200 && !ok_at; k++) {
        pl_file *f = NULL;
        pl_scan s;
        perch_err err;
        perch_err_kind rc;
        pb_alloc_fail_after(k);
        rc = pl_parse("t.perch", src, strlen(src), &f, &err);
        if (rc == PERCH_OK)
            rc = pl_check(f, &err);
        if (rc == PERCH_OK) {
            rc = pl_scan_file(f, "/nonexistent", &s, &err);
            if (rc == PERCH_OK) {
                pl_scan_free(&s);
                ok_at = (int)k;
            }
        }
        pb_alloc_fail_after(0);
        if (rc != PERCH_OK) {
            CHECK_INT(rc, PERCH_E_IO);
            CHECK_STR(err.message, "out of memory");
        }
        pl_file_free(f);
    }
    CHECK(ok_at > 3);
}

static void test_scan_levels(void)
{
    static const char src[] =
        "bundle\n include \"m.wasm\"\nend\nrequires\n bin \"git\"\nend\n"
        "command safe\n do\n  wasm_run m\n   wasm_mount_read \"in\"\n  end\n end\nend\n"
        "command low\n do\n  wasm_run m\n   wasm_allow_host \"a.com:8443\"\n  end\n end\nend\n"
        "command med\n do\n  git pull\n  wasm_run m\n   wasm_allow_host \"a.com\"\n  end\n end\nend\n"
        "command high\n do\n  wasm_run m\n   wasm_env \"DB_PASSWORD\"\n  end\n end\nend\n";
    pl_file *f = parse_ok(src);
    pl_scan s;
    perch_err err;
    CHECK(f != NULL);
    if (!f)
        return;
    CHECK_INT(pl_scan_file(f, "", &s, &err), PERCH_OK);
    CHECK_INT(s.ncmds, 4);
    CHECK_INT(s.cmds[0].risk, PL_SAFE);
    CHECK_INT(s.cmds[1].risk, PL_LOW);
    CHECK_INT(s.cmds[2].risk, PL_MED);
    CHECK_INT(s.cmds[3].risk, PL_HIGH);
    CHECK_INT(s.risk, PL_HIGH);
    CHECK_STR(s.cmds[1].hosts.items[0], "a.com:8443");
    CHECK_STR(s.recommended, "perch run t.perch --allow-bin git --allow-host a.com:8443 "
                             "--allow-host a.com:443 --no-write --env DB_PASSWORD --timeout 600 "
                             "--audit-log /var/log/perch-t.ndjson");
    CHECK_STR(pl_level_name(PL_MED), "MED");
    CHECK(strncmp(pl_level_badge(PL_SAFE), "\xf0\x9f\x9f\xa2 SAFE  (pure ops", 20) == 0);
    pl_scan_free(&s);
    pl_file_free(f);
}

int main(void)
{
    RUN(test_seed_tree);
    RUN(test_go_forms_tree);
    RUN(test_accept_block_and_calls);
    RUN(test_caret);
    RUN(test_versions);
    RUN(test_requires_fake_machine);
    RUN(test_hostile_input);
    RUN(test_allocation_failure);
    RUN(test_scan_levels);
    return CHECK_DONE();
}
