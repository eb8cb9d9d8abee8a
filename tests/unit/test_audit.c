/*
 * test_audit.c: the audit log: the exact bytes written, the chain across
 * reopen and rotation, every way verify says a log was broken, hostile
 * lines, checkpoints, and allocation failure.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit/audit.h"
#include "check.h"

static char dir[64];

static const char *tmp(const char *name)
{
    static char paths[8][128];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, 128, "%s/%s", dir, name);
    return p;
}

static int64_t fixed_clock(void *ud)
{
    (void)ud;
    return 1714566896123456; /* 2024-05-01T12:34:56.123456Z */
}

static const char *grant[] = {"read:/in", "net:api.example.com:443"};

static pa_binding binding(void)
{
    pa_binding b = {{0}, "demo", grant, 2};
    for (int i = 0; i < PT_SHA256_LEN; i++)
        b.module_digest[i] = (uint8_t)i;
    return b;
}

static pa_options fixed_options(void)
{
    pa_options o = {0};
    o.clock = fixed_clock;
    return o;
}

static char *slurp(const char *path, size_t *len)
{
    pb_buf b = {0};
    if (pb_file_read(path, &b, NULL) != PERCH_OK)
        return NULL;
    if (len)
        *len = b.len;
    return (char *)b.data;
}

static void spit(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return;
    fwrite(data, 1, len, f);
    fclose(f);
}

/* A log of header + n fs.read events + close, at path. */
static void make_log(const char *path, int n, const pa_options *o)
{
    pa_binding b = binding();
    pa_log *log = NULL;
    perch_err err;
    unlink(path);
    CHECK_INT(pa_log_open(path, o, &b, &log, &err), PERCH_OK);
    if (!log)
        return;
    for (int i = 0; i < n; i++) {
        pa_field f[] = {PA_INT("bytes", i)};
        CHECK_INT(pa_log_event(log, "fs.read", "/in/data.txt", PA_NUL, "ok", f, 1, &err),
                  PERCH_OK);
    }
    CHECK_INT(pa_log_close(log, &err), PERCH_OK);
}

static pa_report verify1(const char *path, const pa_anchor *anchor)
{
    pa_report r;
    perch_err err;
    const char *paths[] = {path};
    perch_err_clear(&err);
    memset(&r, 0, sizeof r);
    CHECK_INT(pa_verify(paths, 1, anchor, &r, &err), PERCH_OK);
    return r;
}

/* Lines of a file, to rearrange them. */
typedef struct lines {
    char *text;
    char *line[256];
    size_t len[256];
    int n;
    size_t tail; /* bytes after the last newline */
} lines;

static void split(const char *path, lines *l)
{
    size_t len, start = 0;
    memset(l, 0, sizeof *l);
    l->text = slurp(path, &len);
    if (!l->text)
        return;
    for (size_t i = 0; i < len && l->n < 256; i++)
        if (l->text[i] == '\n') {
            l->line[l->n] = l->text + start;
            l->len[l->n++] = i - start + 1;
            start = i + 1;
        }
    l->tail = len - start;
}

/* Write lines in the order given by idx (n of them). */
static void join(const char *path, const lines *l, const int *idx, int n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return;
    for (int i = 0; i < n; i++)
        fwrite(l->line[idx[i]], 1, l->len[idx[i]], f);
    fclose(f);
}

/* ---- writing ------------------------------------------------------------------- */

/*
 * The bytes of docs/audit.md's example, hashes recomputed by an
 * independent implementation (Python hashlib) of the rule there.
 */
static void test_exact_bytes(void)
{
    static const char want[] =
        "{\"seq\":0,\"time\":\"2024-05-01T12:34:56.123456Z\",\"kind\":\"log.open\","
        "\"object\":\"demo\",\"outcome\":\"ok\",\"algo\":\"sha256\",\"module\":\"sha256:"
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\",\"grant\":"
        "[\"read:/in\",\"net:api.example.com:443\"],\"prev\":"
        "\"0000000000000000000000000000000000000000000000000000000000000000\",\"hash\":"
        "\"52825d1c6cb38ab32ff72fec62cd39f69b4bd4d8052ba35ae5c387656c332ca5\"}\n"
        "{\"seq\":1,\"time\":\"2024-05-01T12:34:56.123456Z\",\"kind\":\"fs.open\","
        "\"object\":\"/in/a.txt\",\"outcome\":\"ok\",\"bytes\":12,"
        "\"note\":\"a\\\"b\\\\c\\n\\u0001\\u007f\\u0085\xef\xbf\xbd\",\"prev\":"
        "\"52825d1c6cb38ab32ff72fec62cd39f69b4bd4d8052ba35ae5c387656c332ca5\",\"hash\":"
        "\"ad7b9777c0822fa57ecc1e4ce9afa175808b8f07c9537ec7b73f56d7b268081a\"}\n"
        "{\"seq\":2,\"time\":\"2024-05-01T12:34:56.123456Z\",\"kind\":\"log.close\","
        "\"object\":\"\",\"outcome\":\"ok\",\"prev\":"
        "\"ad7b9777c0822fa57ecc1e4ce9afa175808b8f07c9537ec7b73f56d7b268081a\",\"hash\":"
        "\"06b29c0901fee2ec6d5f57dafc409fc58faf86a86c466fdf0cc967457dc7a099\"}\n";
    const char *path = tmp("exact.log");
    pa_options o = fixed_options();
    pa_binding b = binding();
    pa_log *log = NULL;
    perch_err err;
    char *got;
    size_t len = 0;
    pa_field f[] = {PA_INT("bytes", 12), PA_STR("note", "a\"b\\c\n\x01\x7f\xc2\x85\xff")};

    unlink(path);
    CHECK_INT(pa_log_open(path, &o, &b, &log, &err), PERCH_OK);
    CHECK_INT(pa_log_event(log, "fs.open", "/in/a.txt", PA_NUL, "ok", f, 2, &err), PERCH_OK);
    CHECK_INT(pa_log_count(log), 2);
    CHECK_STR(pa_log_last_hash(log),
              "ad7b9777c0822fa57ecc1e4ce9afa175808b8f07c9537ec7b73f56d7b268081a");
    CHECK_INT(pa_log_close(log, &err), PERCH_OK);
    got = slurp(path, &len);
    CHECK(got && len == sizeof want - 1 && memcmp(got, want, len) == 0);
    pb_free(got);
    {
        struct stat st;
        CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    }
}

static void test_time_format(void)
{
    char t[28];
    pa_format_time(0, t);
    CHECK_STR(t, "1970-01-01T00:00:00.000000Z");
    pa_format_time(1714566896000001, t);
    CHECK_STR(t, "2024-05-01T12:34:56.000001Z");
    pa_format_time(-5, t);
    CHECK_STR(t, "1970-01-01T00:00:00.000000Z");
}

static void test_round_trip(void)
{
    const char *path = tmp("round.log");
    pa_report r;
    make_log(path, 100, NULL);
    r = verify1(path, NULL);
    CHECK_INT(r.status, PA_VERIFIED);
    CHECK_INT(r.count, 102);
    CHECK(r.closed);
    CHECK(!r.anchored);
}

static void test_usage_errors_write_nothing(void)
{
    const char *path = tmp("usage.log");
    pa_binding b = binding();
    pa_log *log = NULL;
    perch_err err;
    struct stat before, after;
    pa_field f17[17];
    pa_field reserved[] = {PA_STR("hash", "x")};
    pa_field dup[] = {PA_INT("n", 1), PA_INT("n", 2)};
    pa_field badkey[] = {PA_INT("Bad-Key", 1)};

    unlink(path);
    CHECK_INT(pa_log_open(path, NULL, &b, &log, &err), PERCH_OK);
    if (!log)
        return;
    CHECK(stat(path, &before) == 0);
    for (int i = 0; i < 17; i++)
        f17[i] = PA_INT("k", i);
    CHECK_INT(pa_log_event(log, "FS.open", "/x", PA_NUL, "ok", NULL, 0, &err), PERCH_E_USAGE);
    CHECK_MSG(err, "event kind");
    CHECK_INT(pa_log_event(log, "fs.open", "/x", PA_NUL, "o k", NULL, 0, &err), PERCH_E_USAGE);
    CHECK_MSG(err, "outcome");
    CHECK_INT(pa_log_event(log, "", "/x", PA_NUL, "ok", NULL, 0, &err), PERCH_E_USAGE);
    CHECK_INT(pa_log_event(log, "log.open", "/x", PA_NUL, "ok", NULL, 0, &err), PERCH_E_USAGE);
    CHECK_MSG(err, "the log's own");
    CHECK_INT(pa_log_event(log, "fs.open", "/x", PA_NUL, "ok", f17, 17, &err), PERCH_E_USAGE);
    CHECK_MSG(err, "17 extra fields");
    CHECK_INT(pa_log_event(log, "fs.open", "/x", PA_NUL, "ok", reserved, 1, &err), PERCH_E_USAGE);
    CHECK_MSG(err, "\"hash\" is reserved");
    CHECK_INT(pa_log_event(log, "fs.open", "/x", PA_NUL, "ok", dup, 2, &err), PERCH_E_USAGE);
    CHECK_MSG(err, "given twice");
    CHECK_INT(pa_log_event(log, "fs.open", "/x", PA_NUL, "ok", badkey, 1, &err), PERCH_E_USAGE);
    CHECK_MSG(err, "field name");
    CHECK(stat(path, &after) == 0);
    CHECK_INT(after.st_size, before.st_size);
    CHECK_INT(pa_log_count(log), 1);
    CHECK_INT(pa_log_close(log, &err), PERCH_OK);
    CHECK_INT(verify1(path, NULL).status, PA_VERIFIED);
}

static void test_open_errors(void)
{
    pa_binding b = binding();
    pa_log *log = NULL;
    perch_err err;
    const char *bad[] = {"read:/x", NULL};
    pa_binding nullgrant = {{0}, NULL, bad, 2};

    CHECK_INT(pa_log_open(tmp("no/such/dir/log"), NULL, &b, &log, &err), PERCH_E_IO);
    CHECK_MSG(err, "cannot open audit log");
    CHECK(log == NULL);
    CHECK_INT(pa_log_open(dir, NULL, &b, &log, &err), PERCH_E_IO);
    CHECK_INT(pa_log_open("", NULL, &b, &log, &err), PERCH_E_USAGE);
    CHECK_INT(pa_log_open(tmp("nullgrant.log"), NULL, &nullgrant, &log, &err), PERCH_E_USAGE);
    CHECK_MSG(err, "grant 1 is NULL");
    CHECK_INT(pa_log_open("/dev/null", NULL, &b, &log, &err), PERCH_E_IO);
    CHECK_MSG(err, "not a regular file");
}

/* Long values are cut at a character boundary, and the record says so. */
static void test_cut_and_escape(void)
{
    const char *path = tmp("cut.log");
    pa_binding b = binding();
    pa_log *log = NULL;
    perch_err err;
    char *big = pb_malloc(PA_VALUE_MAX + 100);
    char *text;
    pa_report r;
    if (!big)
        return;
    memset(big, 'a', PA_VALUE_MAX + 100);
    /* a 3-byte character straddling the limit */
    memcpy(big + PA_VALUE_MAX - 1, "\xe2\x82\xac", 3);
    unlink(path);
    CHECK_INT(pa_log_open(path, NULL, &b, &log, &err), PERCH_OK);
    CHECK_INT(pa_log_event(log, "net.http_get", big, PA_VALUE_MAX + 100, "ok", NULL, 0, &err),
              PERCH_OK);
    CHECK_INT(pa_log_event(log, "fs.open", "\x1b[31mred\x9b", PA_NUL, "refused", NULL, 0, &err),
              PERCH_OK);
    CHECK_INT(pa_log_close(log, &err), PERCH_OK);
    text = slurp(path, NULL);
    CHECK(text && strstr(text, "\"cut\":true"));
    CHECK(text && strstr(text, "\\u001b[31mred\xef\xbf\xbd\""));
    CHECK(text && !strstr(text, "\xe2\x82\xac"));
    CHECK(text && !strchr(text, 0x1b));
    r = verify1(path, NULL);
    CHECK_INT(r.status, PA_VERIFIED);
    CHECK_INT(r.count, 4);
    pb_free(text);
    pb_free(big);
}

/* ---- reopen, torn tails, rotation -------------------------------------------------- */

static void test_reopen_continues(void)
{
    const char *path = tmp("reopen.log");
    pa_binding b = binding();
    pa_log *log = NULL;
    perch_err err;
    pa_report r;
    make_log(path, 3, NULL);
    CHECK_INT(pa_log_open(path, NULL, &b, &log, &err), PERCH_OK);
    if (!log)
        return;
    CHECK_INT(pa_log_count(log), 6); /* open, 3, close, open */
    CHECK_INT(pa_log_event(log, "env.get", "HOME", PA_NUL, "refused", NULL, 0, &err), PERCH_OK);
    CHECK_INT(pa_log_close(log, &err), PERCH_OK);
    r = verify1(path, NULL);
    CHECK_INT(r.status, PA_VERIFIED);
    CHECK_INT(r.count, 8);
}

static void test_torn_tail(void)
{
    const char *path = tmp("torn.log");
    pa_binding b = binding();
    pa_log *log = NULL;
    perch_err err;
    pa_report r;
    lines l;
    char *text;
    size_t len;

    make_log(path, 5, NULL);
    split(path, &l);
    /* The last record cut in the middle, as a crash leaves it. */
    spit(path, l.text, (size_t)(l.line[l.n - 1] - l.text) + 40);
    r = verify1(path, NULL);
    CHECK_INT(r.status, PA_TRUNCATED);
    CHECK_INT(r.reason, PA_R_TORN);
    CHECK_INT(r.line, 7);
    CHECK_INT(r.count, 6);
    CHECK(strstr(r.message, "after 40 bytes") != NULL);
    /* The next writer cuts it off and says so, and the chain goes on. */
    CHECK_INT(pa_log_open(path, NULL, &b, &log, &err), PERCH_OK);
    CHECK_INT(pa_log_close(log, &err), PERCH_OK);
    text = slurp(path, &len);
    CHECK(text && strstr(text, "\"torn_bytes\":40"));
    r = verify1(path, NULL);
    CHECK_INT(r.status, PA_VERIFIED);
    CHECK_INT(r.count, 8);
    pb_free(text);
    pb_free(l.text);
}

/* A writer refuses to continue a log whose last record was changed. */
static void test_reopen_refuses_tampered_tail(void)
{
    const char *path = tmp("tail.log");
    pa_binding b = binding();
    pa_log *log = NULL;
    perch_err err;
    char *text;
    size_t len;
    make_log(path, 2, NULL);
    text = slurp(path, &len);
    if (!text)
        return;
    {
        char *p = strstr(text, "\"log.close\"");
        if (p)
            p[7] = 'e'; /* log.clese */
    }
    spit(path, text, len);
    CHECK_INT(pa_log_open(path, NULL, &b, &log, &err), PERCH_E_IO);
    CHECK_MSG(err, "does not match its content");
    spit(path, "not json\n", 9);
    CHECK_INT(pa_log_open(path, NULL, &b, &log, &err), PERCH_E_IO);
    CHECK_MSG(err, "last record");
    pb_free(text);
}

static int count_rotated(const char *path)
{
    char name[200];
    int n = 0;
    for (;;) {
        struct stat st;
        snprintf(name, sizeof name, "%s.%d", path, n + 1);
        if (stat(name, &st) != 0)
            return n;
        n++;
    }
}

/* The files of a rotated log, oldest first, into names (static storage). */
static int rotated_paths(const char *path, const char **paths)
{
    static char names[64][200];
    int n = count_rotated(path);
    for (int i = 0; i < n && i < 63; i++) {
        snprintf(names[i], sizeof names[i], "%s.%d", path, i + 1);
        paths[i] = names[i];
    }
    paths[n] = path;
    return n + 1;
}

static void remove_rotated(const char *path)
{
    char name[200];
    for (int i = 1; i < 64; i++) {
        snprintf(name, sizeof name, "%s.%d", path, i);
        unlink(name);
    }
    unlink(path);
}

static void test_rotation(void)
{
    const char *path = tmp("rot.log");
    const char *paths[64], *swapped[64];
    pa_options o = {0};
    pa_report r;
    perch_err err;
    int n;
    char *text;
    size_t len;

    remove_rotated(path);
    o.rotate_bytes = 1500;
    make_log(path, 40, &o);
    n = rotated_paths(path, paths);
    CHECK(n >= 4);
    CHECK_INT(pa_verify(paths, (size_t)n, NULL, &r, &err), PERCH_OK);
    CHECK_INT(r.status, PA_VERIFIED);
    CHECK_INT(r.count, 42 + (uint64_t)(n - 1)); /* one log.rotate per new file */
    CHECK(r.closed);
    /*
     * Every file stays within the limit (the last may exceed it by its
     * log.close record); each new file starts with log.rotate.
     */
    for (int i = 0; i < n; i++) {
        text = slurp(paths[i], &len);
        CHECK(text && len <= (i + 1 < n ? 1500 : 1500 + 300));
        if (i > 0)
            CHECK(text && strstr(text, "\"kind\":\"log.rotate\"") != NULL &&
                  strstr(text, "\"prev_file\":\"rot.log.") != NULL);
        pb_free(text);
    }
    /* Only the newest file: the chain starts in a file not given. */
    CHECK_INT(pa_verify(paths + n - 1, 1, NULL, &r, &err), PERCH_OK);
    CHECK_INT(r.status, PA_BROKEN);
    CHECK_INT(r.reason, PA_R_START);
    CHECK(strstr(r.message, "which was not given") != NULL);
    /* A middle file left out: records are missing. */
    memcpy(swapped, paths, sizeof(char *) * (size_t)n);
    memmove(swapped + 1, swapped + 2, sizeof(char *) * (size_t)(n - 2));
    CHECK_INT(pa_verify(swapped, (size_t)n - 1, NULL, &r, &err), PERCH_OK);
    CHECK_INT(r.status, PA_BROKEN);
    CHECK_INT(r.reason, PA_R_DELETED);
    CHECK_INT(r.file, 1);
    CHECK_INT(r.line, 1);
    /* Files out of order. */
    memcpy(swapped, paths, sizeof(char *) * (size_t)n);
    swapped[1] = paths[2];
    swapped[2] = paths[1];
    CHECK_INT(pa_verify(swapped, (size_t)n, NULL, &r, &err), PERCH_OK);
    CHECK_INT(r.status, PA_BROKEN);
    CHECK_INT(r.file, 1);
    CHECK(r.reason == PA_R_DELETED || r.reason == PA_R_REORDERED);
    /* A byte changed in an older file. */
    text = slurp(paths[1], &len);
    if (text) {
        char *p = strstr(text, "/in/data.txt");
        if (p)
            p[1] = 'X';
        spit(paths[1], text, len);
    }
    CHECK_INT(pa_verify(paths, (size_t)n, NULL, &r, &err), PERCH_OK);
    CHECK_INT(r.status, PA_BROKEN);
    CHECK_INT(r.reason, PA_R_EDITED);
    CHECK_INT(r.file, 1);
    pb_free(text);
}

/* A rotation cut short between the rename and the new file: the chain goes on. */
static void test_rotation_crash_recovery(void)
{
    const char *path = tmp("rc.log");
    const char *paths[64];
    pa_binding b = binding();
    pa_log *log = NULL;
    pa_report r;
    perch_err err;
    char name[200];
    int n;

    remove_rotated(path);
    make_log(path, 3, NULL);
    snprintf(name, sizeof name, "%s.1", path);
    CHECK(rename(path, name) == 0);
    CHECK_INT(pa_log_open(path, NULL, &b, &log, &err), PERCH_OK);
    CHECK_INT(pa_log_count(log), 6);
    CHECK_INT(pa_log_close(log, &err), PERCH_OK);
    n = rotated_paths(path, paths);
    CHECK_INT(n, 2);
    CHECK_INT(pa_verify(paths, (size_t)n, NULL, &r, &err), PERCH_OK);
    CHECK_INT(r.status, PA_VERIFIED);
    CHECK_INT(r.count, 7);
}

/* ---- tampering ------------------------------------------------------------------------ */

static void test_edit_a_byte(void)
{
    const char *path = tmp("edit.log");
    char *text;
    size_t len;
    pa_report r;
    make_log(path, 5, NULL);
    text = slurp(path, &len);
    if (!text)
        return;
    {
        char *p = strstr(text, "\"bytes\":2");
        if (p)
            p[8] = '7';
    }
    spit(path, text, len);
    r = verify1(path, NULL);
    CHECK_INT(r.status, PA_BROKEN);
    CHECK_INT(r.reason, PA_R_EDITED);
    CHECK_INT(r.line, 4);
    CHECK(r.has_seq && r.seq == 3);
    CHECK_INT(r.count, 3);
    CHECK(strstr(r.message, "does not match its hash") != NULL);
    pb_free(text);
}

static void test_edit_breaks_syntax(void)
{
    const char *path = tmp("syntax.log");
    char *text;
    size_t len;
    pa_report r;
    make_log(path, 2, NULL);
    text = slurp(path, &len);
    if (!text)
        return;
    text[1] = 'X'; /* {"seq" -> {Xseq" */
    spit(path, text, len);
    r = verify1(path, NULL);
    CHECK_INT(r.status, PA_BROKEN);
    CHECK_INT(r.reason, PA_R_EDITED);
    CHECK_INT(r.line, 1);
    CHECK(strstr(r.message, "not valid JSON") != NULL);
    pb_free(text);
}

static void test_delete_a_line(void)
{
    const char *path = tmp("delete.log");
    lines l;
    int keep[] = {0, 1, 2, 4, 5, 6};
    int keep_from1[] = {1, 2, 3, 4, 5, 6};
    pa_report r;
    make_log(path, 5, NULL);
    split(path, &l);
    join(path, &l, keep, 6);
    r = verify1(path, NULL);
    CHECK_INT(r.status, PA_BROKEN);
    CHECK_INT(r.reason, PA_R_DELETED);
    CHECK_INT(r.line, 4);
    CHECK(strstr(r.message, "record seq 3 is missing") != NULL);
    join(path, &l, keep_from1, 6);
    r = verify1(path, NULL);
    CHECK_INT(r.reason, PA_R_DELETED);
    CHECK(strstr(r.message, "seq 0 to 0 are missing") != NULL);
    pb_free(l.text);
}

static void test_swap_two_lines(void)
{
    const char *path = tmp("swap.log");
    lines l;
    int order[] = {0, 1, 3, 2, 4, 5, 6};
    int far[] = {0, 1, 3, 4, 5, 2, 6};
    pa_report r;
    make_log(path, 5, NULL);
    split(path, &l);
    join(path, &l, order, 7);
    r = verify1(path, NULL);
    CHECK_INT(r.status, PA_BROKEN);
    CHECK_INT(r.reason, PA_R_REORDERED);
    CHECK_INT(r.line, 3);
    CHECK(strstr(r.message, "comes 1 line later") != NULL);
    join(path, &l, far, 7);
    r = verify1(path, NULL);
    CHECK_INT(r.reason, PA_R_REORDERED);
    CHECK(strstr(r.message, "comes 3 lines later") != NULL);
    pb_free(l.text);
}

/* A forged record whose own hash is right but whose prev is not the chain's. */
static void test_insert_forged(void)
{
    const char *path = tmp("forged.log");
    const char *forged_path = tmp("forged-src.log");
    lines l, f;
    pa_report r;
    FILE *out;
    make_log(path, 5, NULL);
    /* The same events from another writer: well-formed, self-consistent. */
    {
        pa_options o = fixed_options();
        make_log(forged_path, 5, &o);
    }
    split(path, &l);
    split(forged_path, &f);
    out = fopen(path, "wb");
    if (out) {
        for (int i = 0; i < l.n; i++) {
            if (i == 3)
                fwrite(f.line[3], 1, f.len[3], out);
            fwrite(l.line[i], 1, l.len[i], out);
        }
        fclose(out);
    }
    r = verify1(path, NULL);
    CHECK_INT(r.status, PA_BROKEN);
    CHECK_INT(r.reason, PA_R_INSERTED);
    CHECK_INT(r.line, 4);
    CHECK(strstr(r.message, "inserted before seq 3") != NULL);
    /* Replacing a record instead: it does not chain either. */
    out = fopen(path, "wb");
    if (out) {
        for (int i = 0; i < l.n; i++)
            fwrite(i == 3 ? f.line[3] : l.line[i], 1, l.len[i], out);
        fclose(out);
    }
    r = verify1(path, NULL);
    CHECK_INT(r.reason, PA_R_INSERTED);
    CHECK(strstr(r.message, "does not chain") != NULL);
    /* Appended at the end with a later seq: still caught. */
    out = fopen(path, "wb");
    if (out) {
        for (int i = 0; i < l.n; i++)
            fwrite(l.line[i], 1, l.len[i], out);
        fwrite(f.line[2], 1, f.len[2], out);
        fclose(out);
    }
    r = verify1(path, NULL);
    CHECK_INT(r.status, PA_BROKEN);
    CHECK_INT(r.reason, PA_R_INSERTED);
    CHECK_INT(r.line, 8);
    pb_free(l.text);
    pb_free(f.text);
}

static void test_anchors(void)
{
    const char *path = tmp("anchor.log");
    lines l;
    int all_but_last[] = {0, 1, 2, 3, 4, 5};
    pa_report r;
    pa_anchor a;
    char last[PA_HASH_HEX + 1];

    make_log(path, 5, NULL);
    r = verify1(path, NULL);
    memcpy(last, r.last, sizeof last);
    memset(&a, 0, sizeof a);
    a.has_count = true;
    a.count = 7;
    a.has_last = true;
    memcpy(a.last, last, sizeof last);
    r = verify1(path, &a);
    CHECK_INT(r.status, PA_VERIFIED);
    CHECK(r.anchored);
    /* An older anchor holds too: records after it are fine. */
    a.count = 7;
    a.has_last = false;
    CHECK(verify1(path, &a).anchored);

    /* The last whole record removed: only the anchor can tell. */
    split(path, &l);
    join(path, &l, all_but_last, 6);
    CHECK_INT(verify1(path, NULL).status, PA_VERIFIED);
    CHECK(!verify1(path, NULL).closed);
    r = verify1(path, &a);
    CHECK_INT(r.status, PA_BROKEN);
    CHECK_INT(r.reason, PA_R_ANCHOR);
    CHECK(strstr(r.message, "holds 6 records but the anchor says at least 7") != NULL);
    memset(&a, 0, sizeof a);
    a.has_last = true;
    memcpy(a.last, last, sizeof last);
    r = verify1(path, &a);
    CHECK_INT(r.reason, PA_R_ANCHOR);
    CHECK(strstr(r.message, "no record has the anchor's hash") != NULL);
    /* A rewritten log: the record at the anchor's count has another hash. */
    {
        pa_options o = fixed_options();
        make_log(path, 5, &o);
    }
    a.has_count = true;
    a.count = 7;
    r = verify1(path, &a);
    CHECK_INT(r.reason, PA_R_ANCHOR);
    CHECK(strstr(r.message, "the log was rewritten") != NULL);
    CHECK_INT(r.line, 7);
    pb_free(l.text);
}

/* ---- hostile logs ------------------------------------------------------------------- */

static void test_hostile_lines(void)
{
    const char *path = tmp("hostile.log");
    pa_report r;
    size_t big = PA_LINE_MAX + 10;
    char *buf = pb_malloc(big + 1);
    if (!buf)
        return;
    /* A line over the limit. */
    memset(buf, 'a', big);
    buf[big] = '\n';
    spit(path, buf, big + 1);
    r = verify1(path, NULL);
    CHECK_INT(r.status, PA_BROKEN);
    CHECK_INT(r.reason, PA_R_EDITED);
    CHECK(strstr(r.message, "over") != NULL);
    /* The same without a newline. */
    spit(path, buf, big);
    r = verify1(path, NULL);
    CHECK_INT(r.status, PA_BROKEN);
    CHECK_INT(r.reason, PA_R_EDITED);
    /* Deep nesting ending like a record. */
    {
        size_t n = 0;
        static const char tailstr[] =
            "],\"hash\":\"0000000000000000000000000000000000000000000000000000000000000000\"}\n";
        memcpy(buf, "{\"a\":", 5);
        n = 5;
        for (int i = 0; i < 100000; i++)
            buf[n++] = '[';
        memcpy(buf + n, tailstr, sizeof tailstr - 1);
        n += sizeof tailstr - 1;
        spit(path, buf, n);
        r = verify1(path, NULL);
        CHECK_INT(r.status, PA_BROKEN);
        CHECK_INT(r.reason, PA_R_EDITED);
        CHECK(strstr(r.message, "not valid JSON") != NULL);
    }
    /* Invalid UTF-8, a NUL, an array, a missing field, duplicate keys. */
    {
        static const char *const bad[][2] = {
            {"{\"seq\":0,\"x\":\"\xff\"}\n", "not valid UTF-8"},
            {"\0\n", "does not end in"},
            {"[1]\n", "does not end in"},
            {"{\"seq\":0,\"hash\":\"0000000000000000000000000000000000000000000000000000000000000000\"}\n",
             "no \"time\" field"},
            {"{\"seq\":-1,\"hash\":\"0000000000000000000000000000000000000000000000000000000000000000\"}\n",
             "\"seq\" is not an integer >= 0"},
            {"{\"seq\":0,\"seq\":0,\"hash\":\"0000000000000000000000000000000000000000000000000000000000000000\"}\n",
             "duplicate"},
            {"{\"seq\":0,\"time\":\"t\",\"kind\":\"k\",\"object\":\"o\",\"outcome\":\"ok\",\"prev\":\"zz\",\"hash\":\"0000000000000000000000000000000000000000000000000000000000000000\"}\n",
             "\"prev\" is not 64"},
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            size_t n = i == 1 ? 2 : strlen(bad[i][0]);
            spit(path, bad[i][0], n);
            r = verify1(path, NULL);
            CHECK_INT(r.status, PA_BROKEN);
            CHECK_INT(r.reason, PA_R_EDITED);
            if (!strstr(r.message, bad[i][1]))
                fprintf(stderr, "case %zu: message \"%s\" lacks \"%s\"\n", i, r.message, bad[i][1]);
            CHECK(strstr(r.message, bad[i][1]) != NULL);
        }
    }
    /* Empty. */
    spit(path, "", 0);
    r = verify1(path, NULL);
    CHECK_INT(r.status, PA_BROKEN);
    CHECK_INT(r.reason, PA_R_START);
    /* Missing file, no files. */
    {
        pa_report rep;
        perch_err err;
        const char *missing[] = {tmp("missing.log")};
        CHECK_INT(pa_verify(missing, 1, NULL, &rep, &err), PERCH_E_IO);
        CHECK_MSG(err, "cannot open");
        CHECK_INT(pa_verify(missing, 0, NULL, &rep, &err), PERCH_E_USAGE);
    }
    pb_free(buf);
}

/* A log whose header names another algorithm. */
static void test_unknown_algo(void)
{
    const char *path = tmp("algo.log");
    char *text;
    size_t len;
    pa_report r;
    make_log(path, 1, NULL);
    text = slurp(path, &len);
    if (!text)
        return;
    {
        char *p = strstr(text, "\"algo\":\"sha256\"");
        if (p)
            memcpy(p + 8, "sha999", 6);
    }
    spit(path, text, len);
    r = verify1(path, NULL);
    CHECK_INT(r.status, PA_BROKEN);
    /* The change also breaks the hash, which is found first. */
    CHECK_INT(r.reason, PA_R_EDITED);
    pb_free(text);
}

/* ---- locking, checkpoints, allocation failure ------------------------------------- */

static void test_second_writer_refused(void)
{
    const char *path = tmp("lock.log");
    pa_binding b = binding();
    pa_log *log = NULL;
    perch_err err;
    pid_t pid;
    int status = -1;
    unlink(path);
    CHECK_INT(pa_log_open(path, NULL, &b, &log, &err), PERCH_OK);
    pid = fork();
    if (pid == 0) {
        pa_log *other = NULL;
        perch_err e2;
        perch_err_kind k = pa_log_open(path, NULL, &b, &other, &e2);
        _exit(k == PERCH_E_IO && strstr(e2.message, "in use by another writer") ? 0 : 1);
    }
    CHECK(pid > 0);
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_INT(pa_log_close(log, &err), PERCH_OK);
}

static void test_checkpoint(void)
{
    const char *path = tmp("cp.log");
    pt_key *key = NULL, *other = NULL;
    pt_keyring ring = {0};
    pb_buf cp = {0}, ringjson = {0};
    uint8_t pub[PT_ED25519_PUBLIC_LEN];
    perch_err err;
    pa_anchor a;
    pa_report r;
    char signer[PT_SIGNER_MAX + 1];

    make_log(path, 3, NULL);
    r = verify1(path, NULL);
    CHECK_INT(pt_key_generate(&key, &err), PERCH_OK);
    CHECK_INT(pt_key_generate(&other, &err), PERCH_OK);
    if (!key || !other)
        return;
    pt_key_public(key, pub);
    CHECK_INT(pt_keyring_encode_one("auditor", pub, &ringjson, &err), PERCH_OK);
    CHECK_INT(pt_keyring_parse((const char *)ringjson.data, ringjson.len, &ring, &err), PERCH_OK);
    CHECK_INT(pa_checkpoint_make(r.count, r.last, "2024-05-01T12:34:56.000000Z", key, "auditor",
                                 &cp, &err),
              PERCH_OK);
    CHECK_INT(pa_checkpoint_check((const char *)cp.data, cp.len, &ring, &a, signer, &err),
              PERCH_OK);
    CHECK_STR(signer, "auditor");
    CHECK(a.has_count && a.count == 5 && a.has_last && strcmp(a.last, r.last) == 0);
    CHECK(verify1(path, &a).anchored);
    /* A changed count no longer matches the signature. */
    {
        char *p = strstr((char *)cp.data, "\"count\":5");
        if (p)
            p[8] = '4';
        CHECK_INT(pa_checkpoint_check((const char *)cp.data, cp.len, &ring, &a, signer, &err),
                  PERCH_E_MANIFEST_SIGNATURE_INVALID);
    }
    /* Signed by a key the ring does not hold. */
    cp.len = 0;
    CHECK_INT(pa_checkpoint_make(r.count, r.last, "t", other, "auditor", &cp, &err), PERCH_OK);
    CHECK_INT(pa_checkpoint_check((const char *)cp.data, cp.len, &ring, &a, signer, &err),
              PERCH_E_MANIFEST_SIGNER_UNTRUSTED);
    CHECK_INT(pa_checkpoint_check((const char *)cp.data, cp.len, NULL, &a, signer, &err),
              PERCH_E_MANIFEST_SIGNER_UNTRUSTED);
    /* Malformed. */
    CHECK_INT(pa_checkpoint_check("{}", 2, &ring, &a, signer, &err), PERCH_E_USAGE);
    CHECK_INT(pa_checkpoint_check("{", 1, &ring, &a, signer, &err), PERCH_E_USAGE);
    CHECK_MSG(err, "not valid JSON");
    CHECK_INT(pa_checkpoint_make(1, "nothex", "t", key, "auditor", &cp, &err), PERCH_E_USAGE);
    pt_key_free(key);
    pt_key_free(other);
    pt_keyring_free(&ring);
    pb_buf_free(&cp);
    pb_buf_free(&ringjson);
}

/* Every allocation of open, event, close and verify may fail; nothing leaks. */
static void test_allocation_failure(void)
{
    const char *path = tmp("oom.log");
    pa_binding b = binding();
    int ok_runs = 0;
    for (uint64_t n = 1; n < 40; n++) {
        pa_log *log = NULL;
        perch_err err;
        perch_err_kind rc;
        pa_report r;
        const char *paths[] = {path};
        unlink(path);
        pb_alloc_fail_after(n);
        rc = pa_log_open(path, NULL, &b, &log, &err);
        if (rc == PERCH_OK) {
            (void)pa_log_event(log, "fs.open", "/in", PA_NUL, "ok", NULL, 0, &err);
            (void)pa_log_close(log, &err);
            rc = pa_verify(paths, 1, NULL, &r, &err);
        }
        pb_alloc_fail_after(0);
        if (rc == PERCH_OK)
            ok_runs++;
        else
            CHECK_MSG(err, "out of memory");
    }
    CHECK(ok_runs > 0);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/perch-audit-XXXXXX");
    if (!mkdtemp(dir))
        return 2;
    RUN(test_exact_bytes);
    RUN(test_time_format);
    RUN(test_round_trip);
    RUN(test_usage_errors_write_nothing);
    RUN(test_open_errors);
    RUN(test_cut_and_escape);
    RUN(test_reopen_continues);
    RUN(test_torn_tail);
    RUN(test_reopen_refuses_tampered_tail);
    RUN(test_rotation);
    RUN(test_rotation_crash_recovery);
    RUN(test_edit_a_byte);
    RUN(test_edit_breaks_syntax);
    RUN(test_delete_a_line);
    RUN(test_swap_two_lines);
    RUN(test_insert_forged);
    RUN(test_anchors);
    RUN(test_hostile_lines);
    RUN(test_unknown_algo);
    RUN(test_second_writer_refused);
    RUN(test_checkpoint);
    RUN(test_allocation_failure);
    {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
    }
    return CHECK_DONE();
}
