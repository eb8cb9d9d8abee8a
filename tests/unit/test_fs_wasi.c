/*
 * test_fs_wasi.c: the WASI file functions end to end through the engine.
 * A module built here imports wasi_snapshot_preview1 functions (linked to
 * ph_wasi_fs_lookup's host functions over a ph_fs) and exports one wrapper
 * per import that forwards its arguments, plus its memory; each test writes
 * arguments into that memory and calls the wrapper, so every pointer goes
 * through the ABI checks exactly as a guest's would.
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "check.h"
#include "host/fs.h"
#include "host/wasi_fs.h"

static const char *const imports[] = {
    "fd_prestat_get", "fd_prestat_dir_name", "path_open", "fd_read", "fd_write",
    "fd_close", "fd_readdir", "poll_oneoff", "fd_seek", "path_filestat_get",
    "fd_fdstat_get", "path_unlink_file", "path_create_directory", "fd_pread",
    "path_symlink", "path_readlink", "fd_renumber", "path_rename",
};
#define NIMPORTS (sizeof imports / sizeof imports[0])

static char root[64];
static bool stop_on_refusal;
static int refusals;

static bool hook(void *ud, const ph_fs_refusal *r)
{
    (void)ud;
    (void)r;
    refusals++;
    return stop_on_refusal;
}

typedef struct env {
    ph_fs *fs;
    perch_store *store;
    perch_instance *inst;
    perch_memory *mem;
    perch_err err;
    perch_err_kind rc; /* of the last call */
} env;

/* ---- the module -------------------------------------------------------------- */

static void name(pb_buf *b, const char *s)
{
    pb_buf_uleb(b, strlen(s));
    pb_buf_append(b, s, strlen(s));
}

static void section(pb_buf *m, uint8_t id, pb_buf *body)
{
    pb_buf_byte(m, id);
    pb_buf_uleb(m, body->len);
    pb_buf_append(m, body->data, body->len);
    pb_buf_free(body);
}

/* types, imports, one forwarding function per import, memory, exports. */
static void build(pb_buf *m)
{
    static const uint8_t magic[8] = {0, 'a', 's', 'm', 1, 0, 0, 0};
    pb_buf s = {0};
    perch_functype t[NIMPORTS];
    perch_host_fn fn;

    for (size_t i = 0; i < NIMPORTS; i++)
        CHECK(ph_wasi_fs_lookup(imports[i], strlen(imports[i]), &fn, &t[i]));
    pb_buf_append(m, magic, 8);
    pb_buf_uleb(&s, NIMPORTS);
    for (size_t i = 0; i < NIMPORTS; i++) {
        pb_buf_byte(&s, 0x60);
        pb_buf_uleb(&s, t[i].nparams);
        for (size_t k = 0; k < t[i].nparams; k++)
            pb_buf_byte(&s, (uint8_t)t[i].params[k]);
        pb_buf_byte(&s, 1);
        pb_buf_byte(&s, 0x7f);
    }
    section(m, 1, &s);
    pb_buf_uleb(&s, NIMPORTS);
    for (size_t i = 0; i < NIMPORTS; i++) {
        name(&s, "wasi_snapshot_preview1");
        name(&s, imports[i]);
        pb_buf_byte(&s, 0);
        pb_buf_uleb(&s, i);
    }
    section(m, 2, &s);
    pb_buf_uleb(&s, NIMPORTS);
    for (size_t i = 0; i < NIMPORTS; i++)
        pb_buf_uleb(&s, i);
    section(m, 3, &s);
    pb_buf_append(&s, "\x01\x00\x01", 3); /* one memory, min 1 page */
    section(m, 5, &s);
    pb_buf_uleb(&s, NIMPORTS + 1);
    name(&s, "memory");
    pb_buf_byte(&s, 2);
    pb_buf_byte(&s, 0);
    for (size_t i = 0; i < NIMPORTS; i++) {
        name(&s, imports[i]);
        pb_buf_byte(&s, 0);
        pb_buf_uleb(&s, NIMPORTS + i);
    }
    section(m, 7, &s);
    pb_buf_uleb(&s, NIMPORTS);
    for (size_t i = 0; i < NIMPORTS; i++) {
        pb_buf body = {0};
        pb_buf_byte(&body, 0); /* no locals */
        for (size_t k = 0; k < t[i].nparams; k++) {
            pb_buf_byte(&body, 0x20);
            pb_buf_uleb(&body, k);
        }
        pb_buf_byte(&body, 0x10);
        pb_buf_uleb(&body, i);
        pb_buf_byte(&body, 0x0b);
        pb_buf_uleb(&s, body.len);
        pb_buf_append(&s, body.data, body.len);
        pb_buf_free(&body);
    }
    section(m, 10, &s);
}

static bool setup(env *e)
{
    pb_buf m = {0};
    perch_module *mod = NULL;
    perch_extern ext[NIMPORTS];
    ph_fs_config cfg;
    char p[128];
    bool ok = false;

    memset(e, 0, sizeof *e);
    memset(&cfg, 0, sizeof cfg);
    cfg.stdin_fd = -1;
    cfg.stdout_fd = 1;
    cfg.stderr_fd = 2;
    cfg.on_refusal = hook;
    refusals = 0;
    stop_on_refusal = false;
    build(&m);
    if (ph_fs_new(&cfg, &e->fs, &e->err) || perch_module_new(m.data, m.len, &mod, &e->err) ||
        perch_store_new(&e->store, &e->err))
        goto out;
    snprintf(p, sizeof p, "%s/ro", root);
    if (ph_fs_mount(e->fs, p, "/ro", false, &e->err))
        goto out;
    snprintf(p, sizeof p, "%s/rw", root);
    if (ph_fs_mount(e->fs, p, "/rw", true, &e->err))
        goto out;
    for (size_t i = 0; i < NIMPORTS; i++) {
        perch_functype t;
        perch_host_fn fn;
        (void)ph_wasi_fs_lookup(imports[i], strlen(imports[i]), &fn, &t);
        ext[i].kind = PERCH_EXTERN_FUNC;
        if (perch_store_host_func(e->store, &t, fn, e->fs, &ext[i].of.func, &e->err))
            goto out;
    }
    if (perch_store_instantiate(e->store, mod, ext, NIMPORTS, &e->inst, &e->err))
        goto out;
    e->mem = perch_instance_memory(e->inst);
    ok = e->mem != NULL;
out:
    if (!ok)
        fprintf(stderr, "setup: %s\n", e->err.message);
    perch_module_delete(mod);
    pb_buf_free(&m);
    return ok;
}

static void teardown(env *e)
{
    perch_store_delete(e->store);
    ph_fs_delete(e->fs);
}

/* Call the wrapper of import fn with args (i64 where its type says so);
 * the WASI errno, or -1 when the call failed (e->rc says how). */
static int32_t call(env *e, const char *fn, size_t n, const int64_t *args)
{
    perch_extern x;
    perch_val a[9], r[1];
    perch_functype t;
    if (!perch_instance_export(e->inst, fn, &x) || x.kind != PERCH_EXTERN_FUNC)
        return -2;
    t = perch_func_type(x.of.func);
    for (size_t i = 0; i < n; i++) {
        a[i].kind = t.params[i];
        if (t.params[i] == PERCH_I64)
            a[i].of.i64 = args[i];
        else
            a[i].of.i32 = (int32_t)args[i];
    }
    r[0].kind = PERCH_I32;
    e->rc = perch_func_call(e->store, x.of.func, a, n, r, 1, &e->err);
    return e->rc ? -1 : r[0].of.i32;
}

#define CALL(e, fn, ...)                                                        \
    call(e, fn, sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t), (int64_t[]){__VA_ARGS__})

static uint8_t *mem(env *e) { return perch_memory_data(e->mem); }

static void poke(env *e, uint32_t at, const void *p, size_t n) { memcpy(mem(e) + at, p, n); }

static void poke32(env *e, uint32_t at, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        mem(e)[at + (uint32_t)i] = (uint8_t)(v >> (8 * i));
}

static uint32_t peek32(env *e, uint32_t at)
{
    const uint8_t *p = mem(e) + at;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t peek64(env *e, uint32_t at)
{
    return (uint64_t)peek32(e, at) | (uint64_t)peek32(e, at + 4) << 32;
}

#define MEM_SIZE 65536
#define R_READ ((int64_t)(PH_RIGHT_FD_READ | PH_RIGHT_FD_SEEK | PH_RIGHT_FD_READDIR))

/* ---- tests ------------------------------------------------------------------- */

static void test_prestat(void)
{
    env e;
    if (!setup(&e))
        return;
    CHECK_INT(CALL(&e, "fd_prestat_get", 3, 100), 0);
    CHECK_INT(mem(&e)[100], 0);
    CHECK_INT(peek32(&e, 104), 3);
    CHECK_INT(CALL(&e, "fd_prestat_dir_name", 3, 200, 3), 0);
    CHECK(memcmp(mem(&e) + 200, "/ro", 3) == 0);
    CHECK_INT(CALL(&e, "fd_prestat_dir_name", 4, 200, 2), PH_ENAMETOOLONG);
    CHECK_INT(CALL(&e, "fd_prestat_get", 5, 100), PH_EBADF);
    CHECK_INT(CALL(&e, "fd_prestat_get", 1, 100), PH_EBADF);
    /* Pointers at and past the end of memory. */
    CHECK_INT(CALL(&e, "fd_prestat_get", 3, MEM_SIZE - 4), PH_EFAULT);
    CHECK_INT(CALL(&e, "fd_prestat_get", 3, MEM_SIZE - 8), 0);
    CHECK_INT(CALL(&e, "fd_prestat_dir_name", 3, MEM_SIZE - 2, 3), PH_EFAULT);
    CHECK_INT(CALL(&e, "fd_prestat_dir_name", 3, -1, 3), PH_EFAULT);
    CHECK_INT(CALL(&e, "fd_fdstat_get", 3, 300), 0);
    CHECK_INT(mem(&e)[300], PH_FILETYPE_DIRECTORY);
    CHECK_INT(peek64(&e, 308) & PH_RIGHTS_MUTATING, 0);
    CHECK_INT(CALL(&e, "fd_fdstat_get", 4, 300), 0);
    CHECK(peek64(&e, 308) & PH_RIGHT_PATH_CREATE_FILE);
    CHECK_INT(CALL(&e, "fd_fdstat_get", 4, MEM_SIZE - 23), PH_EFAULT);
    teardown(&e);
}

static void test_open_read_write(void)
{
    env e;
    int32_t fd;
    if (!setup(&e))
        return;
    /* path_open(fd, dirflags, path, len, oflags, base, inheriting, fdflags, *fd) */
    poke(&e, 1000, "file.txt", 8);
    CHECK_INT(CALL(&e, "path_open", 3, 1, 1000, 8, 0, R_READ, 0, 0, 2000), 0);
    fd = (int32_t)peek32(&e, 2000);
    CHECK_INT(fd, 0); /* stdin is closed here: the lowest free slot */
    /* iovecs: two buffers, 2 and 10 bytes. */
    poke32(&e, 3000, 4000);
    poke32(&e, 3004, 2);
    poke32(&e, 3008, 4100);
    poke32(&e, 3012, 10);
    CHECK_INT(CALL(&e, "fd_read", fd, 3000, 2, 3100), 0);
    CHECK_INT(peek32(&e, 3100), 5);
    CHECK(memcmp(mem(&e) + 4000, "he", 2) == 0 && memcmp(mem(&e) + 4100, "llo", 3) == 0);
    CHECK_INT(CALL(&e, "fd_pread", fd, 3000, 1, 3, 3100), 0);
    CHECK_INT(peek32(&e, 3100), 2);
    CHECK(memcmp(mem(&e) + 4000, "lo", 2) == 0);
    /* fd_seek(fd, offset: i64, whence, *newoffset) */
    CHECK_INT(CALL(&e, "fd_seek", fd, -2, PH_WHENCE_END, 3200), 0);
    CHECK_INT(peek64(&e, 3200), 3);
    CHECK_INT(CALL(&e, "fd_seek", fd, 0, PH_WHENCE_SET, MEM_SIZE - 4), PH_EFAULT);

    /* An iovec aimed outside memory, or a count outside, or too many. */
    poke32(&e, 3000, MEM_SIZE - 1);
    CHECK_INT(CALL(&e, "fd_read", fd, 3000, 1, 3100), PH_EFAULT);
    poke32(&e, 3000, 4000);
    poke32(&e, 3004, 0xffffffffu);
    CHECK_INT(CALL(&e, "fd_read", fd, 3000, 1, 3100), PH_EFAULT);
    CHECK_INT(CALL(&e, "fd_read", fd, MEM_SIZE - 4, 1, 3100), PH_EFAULT);
    CHECK_INT(CALL(&e, "fd_read", fd, 3000, 0x20000000, 3100), PH_EINVAL);
    CHECK_INT(CALL(&e, "fd_read", fd, 3000, PH_WASI_FS_IOVS + 1, 3100), PH_EINVAL);
    poke32(&e, 3004, 2);
    CHECK_INT(CALL(&e, "fd_read", fd, 3000, 1, MEM_SIZE), PH_EFAULT);
    /* Writing through a read-only descriptor. */
    CHECK_INT(CALL(&e, "fd_write", fd, 3000, 1, 3100), PH_ENOTCAPABLE);
    CHECK_INT(CALL(&e, "fd_close", fd), 0);
    CHECK_INT(CALL(&e, "fd_close", fd), PH_EBADF);
    CHECK_INT(CALL(&e, "fd_read", fd, 3000, 1, 3100), PH_EBADF);

    /* Create and write on the writable mount. */
    poke(&e, 1000, "out.txt", 7);
    CHECK_INT(CALL(&e, "path_open", 4, 0, 1000, 7, PH_O_CREAT | PH_O_EXCL,
                   (int64_t)(PH_RIGHT_FD_WRITE | PH_RIGHT_FD_READ), 0, 0, 2000),
              0);
    fd = (int32_t)peek32(&e, 2000);
    poke(&e, 4000, "written", 7);
    poke32(&e, 3000, 4000);
    poke32(&e, 3004, 7);
    CHECK_INT(CALL(&e, "fd_write", fd, 3000, 1, 3100), 0);
    CHECK_INT(peek32(&e, 3100), 7);
    CHECK_INT(CALL(&e, "fd_close", fd), 0);
    {
        char p[128], buf[16] = {0};
        FILE *f;
        snprintf(p, sizeof p, "%s/rw/out.txt", root);
        f = fopen(p, "r");
        CHECK(f != NULL);
        if (f) {
            CHECK_INT(fread(buf, 1, sizeof buf, f), 7);
            fclose(f);
        }
        CHECK_STR(buf, "written");
    }
    /* The path itself outside memory, the result pointer outside memory. */
    CHECK_INT(CALL(&e, "path_open", 3, 0, MEM_SIZE - 3, 8, 0, R_READ, 0, 0, 2000), PH_EFAULT);
    CHECK_INT(CALL(&e, "path_open", 3, 0, 1000, 7, 0, R_READ, 0, 0, MEM_SIZE - 2), PH_EFAULT);
    CHECK_INT(CALL(&e, "path_open", 3, 0, 1000, 0xfffffff0, 0, R_READ, 0, 0, 2000), PH_EFAULT);
    CHECK_INT(CALL(&e, "path_open", 3, 0, 1000, 7, 0x10000, R_READ, 0, 0, 2000), PH_EINVAL);
    teardown(&e);
}

static void test_escapes_through_abi(void)
{
    env e;
    if (!setup(&e))
        return;
    poke(&e, 1000, "../outside/secret.txt", 21);
    CHECK_INT(CALL(&e, "path_open", 3, 1, 1000, 21, 0, R_READ, 0, 0, 2000), PH_ENOTCAPABLE);
    CHECK_INT(refusals, 1);
    poke(&e, 1000, "file.txt\0/../x", 14);
    CHECK_INT(CALL(&e, "path_open", 3, 1, 1000, 14, 0, R_READ, 0, 0, 2000), PH_EINVAL);
    poke(&e, 1000, "file.txt", 8);
    CHECK_INT(CALL(&e, "path_unlink_file", 3, 1000, 8), PH_ENOTCAPABLE);
    CHECK_INT(CALL(&e, "path_open", 3, 0, 1000, 8, 0, (int64_t)PH_RIGHT_FD_WRITE, 0, 0, 2000),
              PH_ENOTCAPABLE);
    poke(&e, 1000, "/etc/passwd", 11);
    poke(&e, 1100, "pw", 2);
    CHECK_INT(CALL(&e, "path_symlink", 1000, 11, 4, 1100, 2), PH_ENOTCAPABLE);
    poke(&e, 1000, "data", 4);
    CHECK_INT(CALL(&e, "path_create_directory", 3, 1000, 4), PH_ENOTCAPABLE);
    CHECK_INT(CALL(&e, "path_create_directory", 4, 1000, 4), 0);
    CHECK_INT(CALL(&e, "path_rename", 4, 1000, 4, 3, 1000, 4), PH_ENOTCAPABLE);
    CHECK_INT(refusals, 7);
    teardown(&e);
}

/* A refusal the hook answers with "stop" ends the run with a tagged error. */
static void test_kill_on_refusal(void)
{
    env e;
    if (!setup(&e))
        return;
    stop_on_refusal = true;
    poke(&e, 1000, "..", 2);
    CHECK_INT(CALL(&e, "path_open", 3, 1, 1000, 2, 0, R_READ, 0, 0, 2000), -1);
    CHECK_INT(e.rc, PERCH_E_WASM_CAPABILITY_DENIED);
    CHECK_STR(e.err.message, "refused path_open /ro/..: path leaves its directory");
    teardown(&e);
}

static void test_readdir_and_stat(void)
{
    env e;
    if (!setup(&e))
        return;
    /* fd_readdir(fd, buf, len, cookie: i64, *used) */
    CHECK_INT(CALL(&e, "fd_readdir", 3, 5000, 1000, 0, 6000), 0);
    CHECK_INT(peek32(&e, 6000), 3 * 24 + 1 + 2 + 8);
    CHECK_INT(CALL(&e, "fd_readdir", 3, MEM_SIZE - 10, 1000, 0, 6000), PH_EFAULT);
    CHECK_INT(CALL(&e, "fd_readdir", 3, 5000, 1000, 0, MEM_SIZE), PH_EFAULT);
    /* path_filestat_get(fd, flags, path, len, *filestat) */
    poke(&e, 1000, "file.txt", 8);
    CHECK_INT(CALL(&e, "path_filestat_get", 3, 0, 1000, 8, 7000), 0);
    CHECK_INT(mem(&e)[7016], PH_FILETYPE_REGULAR_FILE);
    CHECK_INT(peek64(&e, 7032), 5);
    CHECK_INT(peek64(&e, 7024), 1);
    CHECK_INT(CALL(&e, "path_filestat_get", 3, 0, 1000, 8, MEM_SIZE - 63), PH_EFAULT);
    /* symlink + readlink with a short buffer. */
    poke(&e, 1100, "file.txt", 8);
    poke(&e, 1200, "lnk", 3);
    CHECK_INT(CALL(&e, "path_symlink", 1100, 8, 4, 1200, 3), 0);
    CHECK_INT(CALL(&e, "path_readlink", 4, 1200, 3, 8000, 4, 8100), 0);
    CHECK_INT(peek32(&e, 8100), 4);
    CHECK(memcmp(mem(&e) + 8000, "file", 4) == 0);
    CHECK_INT(CALL(&e, "path_readlink", 4, 1200, 3, MEM_SIZE - 2, 4, 8100), PH_EFAULT);
    teardown(&e);
}

static void test_renumber(void)
{
    env e;
    int32_t fd;
    if (!setup(&e))
        return;
    poke(&e, 1000, "file.txt", 8);
    CHECK_INT(CALL(&e, "path_open", 3, 1, 1000, 8, 0, R_READ, 0, 0, 2000), 0);
    fd = (int32_t)peek32(&e, 2000);
    CHECK_INT(CALL(&e, "fd_renumber", fd, 3), 0);
    CHECK_INT(CALL(&e, "fd_prestat_get", 3, 100), PH_EBADF);
    CHECK_INT(CALL(&e, "fd_renumber", fd, 3), PH_EBADF);
    CHECK_INT(CALL(&e, "fd_renumber", 3, 99), PH_EBADF);
    teardown(&e);
}

/* poll_oneoff: a relative clock, an absolute one already past, stdout
 * writable, a closed descriptor, and the bounds. */
static void test_poll(void)
{
    env e;
    uint8_t sub[48 * 3];
    struct timespec t0, t1;
    if (!setup(&e))
        return;
    memset(sub, 0, sizeof sub);
    sub[0] = 7;                    /* userdata */
    sub[8] = 0;                    /* clock */
    sub[16] = 1;                   /* monotonic */
    sub[24] = 0x40; sub[25] = 0x42; sub[26] = 0x0f; /* 1000000 ns */
    poke(&e, 10000, sub, 48);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_INT(CALL(&e, "poll_oneoff", 10000, 11000, 1, 12000), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK_INT(peek32(&e, 12000), 1);
    CHECK_INT(mem(&e)[11000], 7);
    CHECK_INT(mem(&e)[11010], 0);
    CHECK((t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec) >= 1000000L);

    /* stdout for writing and fd 9 (closed) for reading: both at once. */
    memset(sub, 0, sizeof sub);
    sub[0] = 1;
    sub[8] = 2;
    sub[16] = 1;
    sub[48] = 2;
    sub[56] = 1;
    sub[64] = 9;
    sub[96] = 3;                   /* a clock with a bad id */
    sub[104] = 0;
    sub[112] = 77;
    poke(&e, 10000, sub, sizeof sub);
    CHECK_INT(CALL(&e, "poll_oneoff", 10000, 11000, 3, 12000), 0);
    {
        uint32_t n = peek32(&e, 12000);
        bool bad_fd = false, bad_clock = false;
        CHECK(n >= 2);
        for (uint32_t i = 0; i < n && i < 3; i++) {
            uint8_t *ev = mem(&e) + 11000 + 32 * i;
            if (ev[0] == 2)
                bad_fd = ev[8] == PH_EBADF;
            if (ev[0] == 3)
                bad_clock = ev[8] == PH_EINVAL;
        }
        CHECK(bad_fd && bad_clock);
    }
    CHECK_INT(CALL(&e, "poll_oneoff", 10000, 11000, 0, 12000), PH_EINVAL);
    CHECK_INT(CALL(&e, "poll_oneoff", 10000, 11000, PH_WASI_FS_SUBSCRIPTIONS + 1, 12000),
              PH_EINVAL);
    CHECK_INT(CALL(&e, "poll_oneoff", MEM_SIZE - 40, 11000, 1, 12000), PH_EFAULT);
    CHECK_INT(CALL(&e, "poll_oneoff", 10000, MEM_SIZE - 31, 1, 12000), PH_EFAULT);
    CHECK_INT(CALL(&e, "poll_oneoff", 10000, 11000, 1, MEM_SIZE - 3), PH_EFAULT);
    mem(&e)[10008] = 9; /* unknown subscription tag */
    CHECK_INT(CALL(&e, "poll_oneoff", 10000, 11000, 1, 12000), PH_EINVAL);
    teardown(&e);
}

static void test_lookup(void)
{
    perch_host_fn fn;
    perch_functype t;
    CHECK(ph_wasi_fs_lookup("path_open", 9, &fn, &t));
    CHECK_INT(t.nparams, 9);
    CHECK_INT(t.params[5], PERCH_I64);
    CHECK_INT(t.nresults, 1);
    CHECK(!ph_wasi_fs_lookup("path_ope", 8, &fn, &t));
    CHECK(!ph_wasi_fs_lookup("path_openx", 10, &fn, &t));
    CHECK(!ph_wasi_fs_lookup("proc_exit", 9, &fn, &t));
    CHECK(!ph_wasi_fs_lookup("sock_accept", 11, &fn, &t));
}

int main(void)
{
    char cmd[160];
    snprintf(root, sizeof root, "/tmp/perch-test-fs-wasi-XXXXXX");
    if (!mkdtemp(root))
        return 2;
    snprintf(cmd, sizeof cmd, "cd '%s' && mkdir ro rw outside && printf hello > ro/file.txt && "
                              "printf secret > outside/secret.txt", root);
    if (system(cmd) != 0)
        return 2;
    RUN(test_lookup);
    RUN(test_prestat);
    RUN(test_open_read_write);
    RUN(test_escapes_through_abi);
    RUN(test_kill_on_refusal);
    RUN(test_readdir_and_stat);
    RUN(test_renumber);
    RUN(test_poll);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", root);
    return CHECK_DONE();
}
