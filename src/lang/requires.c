/*
 * requires.c: compare a file's `requires` with this machine.
 *
 * Rules (docs/perch-files.md, "requires"): a bin is found on PATH (a name
 * with a '/' is a path relative to the .perch file), its version is the
 * first dotted version number its `--version` prints (stdout and stderr),
 * compared numerically component by component; hash pins hash the file
 * itself, never run it; env must be set and non-empty; os and arch compare
 * with uname. Hosts are declarations for the run and are not probed.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lang/lang.h"
#include "trust/trust.h"

extern char **environ;

#define VERSION_OUTPUT_MAX 65536
#define DEFAULT_TIMEOUT_MS 5000

static bool digit(char c) { return c >= '0' && c <= '9'; }

bool pl_version_find(const char *text, size_t n, size_t *start, size_t *len)
{
    size_t i = 0;
    while (i < n) {
        size_t s = i, j = i, groups = 0;
        if (!digit(text[i]) || (i > 0 && digit(text[i - 1]))) {
            i++;
            continue;
        }
        while (j < n && digit(text[j]))
            j++;
        while (j + 1 < n && text[j] == '.' && digit(text[j + 1])) {
            j++;
            while (j < n && digit(text[j]))
                j++;
            groups++;
        }
        if (groups > 0) {
            *start = s;
            *len = j - s;
            return true;
        }
        i = j;
    }
    return false;
}

/* Compare numbers written in decimal without converting (any length). */
static int cmp_number(const char *a, size_t an, const char *b, size_t bn)
{
    while (an > 1 && *a == '0')
        a++, an--;
    while (bn > 1 && *b == '0')
        b++, bn--;
    if (an != bn)
        return an < bn ? -1 : 1;
    return memcmp(a, b, an);
}

int pl_version_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t i = 0, j = 0;
    while (i < alen || j < blen) {
        size_t is = i, js = j;
        int c;
        while (i < alen && a[i] != '.')
            i++;
        while (j < blen && b[j] != '.')
            j++;
        c = cmp_number(is < i ? a + is : "0", is < i ? i - is : 1, js < j ? b + js : "0",
                       js < j ? j - js : 1);
        if (c != 0)
            return c < 0 ? -1 : 1;
        if (i < alen)
            i++;
        if (j < blen)
            j++;
    }
    return 0;
}

/* ---- the machine ------------------------------------------------------------- */

typedef struct ctx {
    const pl_file *f;
    const pl_host *h;
    const char *path;
    char os[64];
    char arch[64];
} ctx;

static const char *env_get(const ctx *c, const char *name)
{
    return c->h && c->h->getenv ? c->h->getenv(name, c->h->ud) : getenv(name);
}

/* Spellings of one platform, to the name Go and perch use. */
static const char *norm_arch(const char *a)
{
    if (strcmp(a, "x86_64") == 0)
        return "amd64";
    if (strcmp(a, "aarch64") == 0)
        return "arm64";
    if (strcmp(a, "i386") == 0 || strcmp(a, "i686") == 0 || strcmp(a, "x86") == 0)
        return "386";
    if (strncmp(a, "armv", 4) == 0)
        return "arm";
    return a;
}

static const char *norm_os(const char *o) { return strcmp(o, "macos") == 0 ? "darwin" : o; }

static void host_platform(ctx *c)
{
    struct utsname u;
    const char *os = c->h ? c->h->os : NULL, *arch = c->h ? c->h->arch : NULL;
    if ((!os || !arch) && uname(&u) == 0) {
        if (!os) {
            size_t i;
            for (i = 0; u.sysname[i] && i + 1 < sizeof c->os; i++)
                c->os[i] = (char)(u.sysname[i] >= 'A' && u.sysname[i] <= 'Z'
                                      ? u.sysname[i] - 'A' + 'a'
                                      : u.sysname[i]);
            c->os[i] = '\0';
        }
        if (!arch)
            snprintf(c->arch, sizeof c->arch, "%s", u.machine);
    }
    if (os)
        snprintf(c->os, sizeof c->os, "%s", os);
    if (arch)
        snprintf(c->arch, sizeof c->arch, "%s", arch);
}

static bool executable(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

/* A path relative to the .perch file's directory. */
static void rel(const ctx *c, const char *p, char *out, size_t cap)
{
    while (p[0] == '.' && p[1] == '/')
        p += 2;
    if (p[0] == '/' || !c->h || !c->h->dir || !c->h->dir[0])
        snprintf(out, cap, "%s", p);
    else
        snprintf(out, cap, "%s/%s", c->h->dir, p);
}

/* Find bin name on PATH (or as a path); false when there is no such file. */
static bool find_bin(const ctx *c, const char *name, char *out, size_t cap)
{
    const char *p = c->path;
    if (strchr(name, '/')) {
        rel(c, name, out, cap);
        return executable(out);
    }
    while (p) {
        const char *colon = strchr(p, ':');
        size_t n = colon ? (size_t)(colon - p) : strlen(p);
        if (n == 0)
            snprintf(out, cap, "./%s", name);
        else
            snprintf(out, cap, "%.*s/%s", (int)n, p, name);
        if (executable(out))
            return true;
        p = colon ? colon + 1 : NULL;
    }
    return false;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Run `bin --version` with stdin from /dev/null and stdout and stderr into
 * out (at most VERSION_OUTPUT_MAX bytes); kill it at the deadline. false
 * with a reason in why when it could not run or did not finish.
 */
static bool run_version(const ctx *c, const char *bin, pb_buf *out, char *why, size_t whycap)
{
    int fds[2];
    pid_t pid;
    posix_spawn_file_actions_t fa;
    char *argv[] = {(char *)(uintptr_t)bin, (char *)(uintptr_t)"--version", NULL};
    unsigned timeout = c->h && c->h->timeout_ms ? c->h->timeout_ms : DEFAULT_TIMEOUT_MS;
    long long deadline = now_ms() + timeout;
    bool ok = true;
    int status, rc;
    if (pipe(fds) != 0) {
        snprintf(why, whycap, "cannot run %s --version: %s", bin, strerror(errno));
        return false;
    }
    (void)fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    rc = posix_spawn(&pid, bin, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        snprintf(why, whycap, "cannot run %s --version: %s", bin, strerror(rc));
        return false;
    }
    for (;;) {
        struct pollfd pfd = {fds[0], POLLIN, 0};
        long long left = deadline - now_ms();
        char chunk[4096];
        ssize_t got;
        if (left <= 0) {
            snprintf(why, whycap, "%s --version did not finish within %u ms", bin, timeout);
            ok = false;
            break;
        }
        if (poll(&pfd, 1, (int)left) < 0) {
            if (errno == EINTR)
                continue;
            snprintf(why, whycap, "cannot read %s --version: %s", bin, strerror(errno));
            ok = false;
            break;
        }
        if (!pfd.revents)
            continue;
        got = read(fds[0], chunk, sizeof chunk);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        if (out->len < VERSION_OUTPUT_MAX &&
            !pb_buf_append(out, chunk,
                           (size_t)got < VERSION_OUTPUT_MAX - out->len ? (size_t)got
                                                                        : VERSION_OUTPUT_MAX - out->len)) {
            snprintf(why, whycap, "out of memory");
            ok = false;
            break;
        }
    }
    close(fds[0]);
    if (!ok)
        kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return ok;
}

/* The lowercase hex SHA-256 of a file into hex (65 bytes). */
static bool hash_file(const char *path, char *hex, char *why, size_t whycap)
{
    pb_buf b = {0};
    perch_err e;
    uint8_t d[PT_SHA256_LEN];
    if (pb_file_read(path, &b, &e) != PERCH_OK) {
        snprintf(why, whycap, "%s", e.message);
        return false;
    }
    if (pt_sha256(b.data, b.len, d, &e) != PERCH_OK) {
        pb_buf_free(&b);
        snprintf(why, whycap, "%s", e.message);
        return false;
    }
    pb_buf_free(&b);
    pt_hex(d, sizeof d, hex);
    return true;
}

static bool hex_eq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = (char)(*a >= 'A' && *a <= 'F' ? *a - 'A' + 'a' : *a);
        char y = (char)(*b >= 'A' && *b <= 'F' ? *b - 'A' + 'a' : *b);
        if (x != y)
            return false;
    }
    return *a == *b;
}

/* The file a "bundle:NAME" or plain path reference names, relative to dir. */
static bool ref_path(const ctx *c, const char *ref, char *out, size_t cap)
{
    if (strncmp(ref, "bundle:", 7) == 0) {
        for (const pl_include *i = c->f->includes; i; i = i->next)
            if (strcmp(i->name.s, ref + 7) == 0) {
                rel(c, i->path.s, out, cap);
                return true;
            }
        return false;
    }
    rel(c, ref, out, cap);
    return true;
}

/* The digest a hash_file pin file holds: its first word, bare hex or sha256:hex. */
static bool pinned_digest(const char *path, char *hex, char *why, size_t whycap)
{
    pb_buf b = {0};
    perch_err e;
    size_t i = 0, s;
    if (pb_file_read(path, &b, &e) != PERCH_OK) {
        snprintf(why, whycap, "%s", e.message);
        return false;
    }
    while (i < b.len && (b.data[i] == ' ' || b.data[i] == '\t' || b.data[i] == '\n' ||
                         b.data[i] == '\r'))
        i++;
    if (b.len - i >= 7 && memcmp(b.data + i, "sha256:", 7) == 0)
        i += 7;
    s = i;
    while (i < b.len && ((b.data[i] >= '0' && b.data[i] <= '9') ||
                         (b.data[i] >= 'a' && b.data[i] <= 'f') ||
                         (b.data[i] >= 'A' && b.data[i] <= 'F')))
        i++;
    if (i - s != 64 || (i < b.len && b.data[i] != ' ' && b.data[i] != '\t' &&
                        b.data[i] != '\n' && b.data[i] != '\r')) {
        snprintf(why, whycap, "%s does not start with a SHA-256 digest", path);
        pb_buf_free(&b);
        return false;
    }
    memcpy(hex, b.data + s, 64);
    hex[64] = '\0';
    pb_buf_free(&b);
    return true;
}

static pl_req_status check_bin(const ctx *c, const pl_req *r, char *d, size_t cap)
{
    char path[4096], got[2 * PT_SHA256_LEN + 1], pin[65];
    const char *want = r->hash.s ? r->hash.s + 7 : NULL;
    if (!find_bin(c, r->value.s, path, sizeof path)) {
        snprintf(d, cap, "%s%s", strchr(r->value.s, '/') ? "no executable file " : "not found on PATH",
                 strchr(r->value.s, '/') ? path : "");
        return r->optional ? PL_NOT_CHECKED : PL_UNMET;
    }
    if (r->hash_file.s) {
        char pinpath[4096];
        if (!ref_path(c, r->hash_file.s, pinpath, sizeof pinpath)) {
            snprintf(d, cap, "hash_file %s names no bundle", r->hash_file.s);
            return PL_UNMET;
        }
        if (!pinned_digest(pinpath, pin, d, cap))
            return PL_UNMET;
        if (want && !hex_eq(want, pin)) {
            snprintf(d, cap, "hash and hash_file disagree (sha256:%s, sha256:%s)", want, pin);
            return PL_UNMET;
        }
        want = pin;
    }
    if (want) {
        if (!hash_file(path, got, d, cap))
            return PL_UNMET;
        if (!hex_eq(want, got)) {
            snprintf(d, cap, "hash mismatch: expected sha256:%s, got sha256:%s (%s)", want, got,
                     path);
            return PL_UNMET;
        }
    }
    if (r->cmp != PL_CMP_NONE) {
        pb_buf out = {0};
        size_t s, n;
        int k;
        bool ok;
        if (!run_version(c, path, &out, d, cap)) {
            pb_buf_free(&out);
            return PL_UNMET;
        }
        if (!pl_version_find((const char *)out.data, out.len, &s, &n)) {
            pb_buf_free(&out);
            snprintf(d, cap, "no version number in the output of %s --version", path);
            return PL_UNMET;
        }
        k = pl_version_cmp((const char *)out.data + s, n, r->version.s, strlen(r->version.s));
        switch (r->cmp) {
        case PL_CMP_GE: ok = k >= 0; break;
        case PL_CMP_GT: ok = k > 0; break;
        case PL_CMP_EQ: ok = k == 0; break;
        case PL_CMP_LT: ok = k < 0; break;
        case PL_CMP_LE: ok = k <= 0; break;
        case PL_CMP_NONE:
        default: ok = true; break;
        }
        snprintf(d, cap, "version %.*s %s %s %s%s (%s)", (int)(n > 64 ? 64 : n),
                 (const char *)out.data + s, ok ? "is" : "is not", pl_cmp_name(r->cmp),
                 r->version.s, want ? ", sha256 matches" : "", path);
        pb_buf_free(&out);
        return ok ? PL_MET : PL_UNMET;
    }
    snprintf(d, cap, "%s%s", path, want ? " (sha256 matches)" : "");
    return PL_MET;
}

static pl_req_status check_one(const ctx *c, const pl_req *r, char *d, size_t cap)
{
    switch (r->kind) {
    case PL_REQ_BIN:
        return check_bin(c, r, d, cap);
    case PL_REQ_ENV: {
        const char *v = env_get(c, r->value.s);
        if (v && v[0]) {
            snprintf(d, cap, "set");
            return PL_MET;
        }
        snprintf(d, cap, "%s", v ? "is empty" : "is not set");
        return r->optional ? PL_NOT_CHECKED : PL_UNMET;
    }
    case PL_REQ_HOST:
        snprintf(d, cap, "not probed: a host is a declaration for wasm_allow_host");
        return PL_NOT_CHECKED;
    case PL_REQ_OS: {
        bool ok = strcmp(r->value.s, "unix") == 0 ? strcmp(c->os, "windows") != 0
                                                  : strcmp(norm_os(r->value.s), norm_os(c->os)) == 0;
        snprintf(d, cap, "this machine runs %s", c->os);
        return ok ? PL_MET : PL_UNMET;
    }
    case PL_REQ_ARCH: {
        bool ok = strcmp(norm_arch(r->value.s), norm_arch(c->arch)) == 0;
        snprintf(d, cap, "this machine is %s", norm_arch(c->arch));
        return ok ? PL_MET : PL_UNMET;
    }
    case PL_REQ_HASH_FILE: {
        char path[4096], got[2 * PT_SHA256_LEN + 1];
        if (!ref_path(c, r->value.s, path, sizeof path)) {
            snprintf(d, cap, "names no bundle");
            return PL_UNMET;
        }
        if (!hash_file(path, got, d, cap))
            return PL_UNMET;
        if (!hex_eq(r->hash.s + 7, got)) {
            snprintf(d, cap, "hash mismatch: expected %s, got sha256:%s (%s)", r->hash.s, got,
                     path);
            return PL_UNMET;
        }
        snprintf(d, cap, "sha256 matches (%s)", path);
        return PL_MET;
    }
    case PL_REQ_READ:
    case PL_REQ_WRITE:
        snprintf(d, cap, "a root for mounts, checked when a step mounts it");
        return PL_NOT_CHECKED;
    }
    return PL_NOT_CHECKED;
}

static void describe(const pl_req *r, char *out, size_t cap)
{
    static const char *const kw[] = {"bin", "env", "host", "os", "arch", "hash_file", "read",
                                     "write"};
    if (r->kind == PL_REQ_BIN && r->cmp != PL_CMP_NONE)
        snprintf(out, cap, "bin \"%s\" %s \"%s\"", r->value.s, pl_cmp_name(r->cmp),
                 r->version.s);
    else
        snprintf(out, cap, "%s \"%s\"", kw[r->kind], r->value.s);
}

perch_err_kind pl_requires_check(const pl_file *f, const pl_host *host, pl_req_result **out,
                                 size_t *n, perch_err *err)
{
    ctx c;
    pl_req_result *res;
    size_t k = 0, unmet = 0, first = 0;
    memset(&c, 0, sizeof c);
    c.f = f;
    c.h = host;
    c.path = host && host->path ? host->path : getenv("PATH");
    host_platform(&c);
    *out = NULL;
    *n = 0;
    res = pb_calloc(f->nreqs ? f->nreqs : 1, sizeof *res);
    if (!res)
        return pb_fail(err, PERCH_E_IO, "out of memory");
    for (const pl_req *r = f->reqs; r; r = r->next, k++) {
        res[k].req = r;
        describe(r, res[k].what, sizeof res[k].what);
        res[k].status = check_one(&c, r, res[k].detail, sizeof res[k].detail);
        if (res[k].status == PL_UNMET && unmet++ == 0)
            first = k;
    }
    *out = res;
    *n = k;
    if (unmet == 0)
        return PERCH_OK;
    if (unmet == 1)
        return pb_fail(err, PERCH_E_REQUIRES_UNMET, "%s: %s", res[first].what, res[first].detail);
    return pb_fail(err, PERCH_E_REQUIRES_UNMET, "%s: %s (and %zu more unmet)", res[first].what,
                   res[first].detail, unmet - 1);
}
