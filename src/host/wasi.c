/* wasi.c: the WASI preview1 subset of wasi.h. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/random.h>
#endif

#include "base/base.h"
#include "host/wasi.h"

/* WASI errno values. */
enum {
    WASI_ESUCCESS = 0,
    WASI_EBADF = 8,
    WASI_EFAULT = 21,
    WASI_EINVAL = 28,
    WASI_EIO = 29,
    WASI_ENOSYS = 52,
    WASI_ESPIPE = 70,
};

struct ph_wasi_state {
    ph_wasi_config cfg;
    int exit_code;
};

perch_err_kind ph_wasi_new(const ph_wasi_config *config, ph_wasi_state **out, perch_err *err)
{
    ph_wasi_state *w = pb_calloc(1, sizeof *w);
    *out = NULL;
    if (!w)
        return pb_fail(err, PERCH_E_IO, "out of memory");
    w->cfg = *config;
    *out = w;
    return PERCH_OK;
}

void ph_wasi_delete(ph_wasi_state *w) { pb_free(w); }

int ph_wasi_exit_code(const ph_wasi_state *w) { return w->exit_code; }

/* ---- guest memory -------------------------------------------------------- */

/* The guest range [ptr, ptr+len) of the caller's memory, or NULL: the
 * threat is a guest pointer aimed outside its own memory. */
static uint8_t *span(perch_caller *c, uint32_t ptr, uint64_t len)
{
    return perch_memory_span(perch_caller_memory(c), ptr, len);
}

static bool put_u32(perch_caller *c, uint32_t ptr, uint32_t v)
{
    uint8_t *p = span(c, ptr, 4);
    if (!p)
        return false;
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
    return true;
}

static bool put_u64(perch_caller *c, uint32_t ptr, uint64_t v)
{
    uint8_t *p = span(c, ptr, 8);
    if (!p)
        return false;
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
    return true;
}

static bool get_u32(perch_caller *c, uint32_t ptr, uint32_t *v)
{
    const uint8_t *p = span(c, ptr, 4);
    if (!p)
        return false;
    *v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return true;
}

#define ARG(i) ((uint32_t)args[i].of.i32)
#define RET(v)                                                                 \
    do {                                                                       \
        results[0].of.i32 = (int32_t)(v);                                      \
        return PERCH_OK;                                                       \
    } while (0)

/* ---- args and environ ---------------------------------------------------- */

/* Shared by args_* and environ_*: a list of strings laid out as pointers
 * into one buffer of NUL-terminated strings. */
static int32_t strings_get(perch_caller *c, const char *const *v, size_t n, uint32_t ptrs,
                           uint32_t buf)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(v[i]) + 1;
        uint8_t *dst = span(c, buf, len);
        if (!dst || !put_u32(c, ptrs + (uint32_t)(4 * i), buf))
            return WASI_EFAULT;
        memcpy(dst, v[i], len);
        buf += (uint32_t)len;
    }
    return WASI_ESUCCESS;
}

static int32_t strings_sizes(perch_caller *c, const char *const *v, size_t n, uint32_t count_ptr,
                             uint32_t size_ptr)
{
    uint64_t size = 0;
    for (size_t i = 0; i < n; i++)
        size += strlen(v[i]) + 1;
    if (size > UINT32_MAX)
        return WASI_EINVAL;
    if (!put_u32(c, count_ptr, (uint32_t)n) || !put_u32(c, size_ptr, (uint32_t)size))
        return WASI_EFAULT;
    return WASI_ESUCCESS;
}

/* args_get(argv: **u8, argv_buf: *u8) -> errno */
static perch_err_kind args_get(void *ud, perch_caller *c, const perch_val *args, perch_val *results,
                               perch_err *err)
{
    ph_wasi_state *w = ud;
    (void)err;
    RET(strings_get(c, w->cfg.argv, w->cfg.argc, ARG(0), ARG(1)));
}

/* args_sizes_get(argc: *size, argv_buf_size: *size) -> errno */
static perch_err_kind args_sizes_get(void *ud, perch_caller *c, const perch_val *args,
                                     perch_val *results, perch_err *err)
{
    ph_wasi_state *w = ud;
    (void)err;
    RET(strings_sizes(c, w->cfg.argv, w->cfg.argc, ARG(0), ARG(1)));
}

static perch_err_kind environ_get(void *ud, perch_caller *c, const perch_val *args,
                                  perch_val *results, perch_err *err)
{
    ph_wasi_state *w = ud;
    (void)err;
    RET(strings_get(c, w->cfg.env, w->cfg.envc, ARG(0), ARG(1)));
}

static perch_err_kind environ_sizes_get(void *ud, perch_caller *c, const perch_val *args,
                                        perch_val *results, perch_err *err)
{
    ph_wasi_state *w = ud;
    (void)err;
    RET(strings_sizes(c, w->cfg.env, w->cfg.envc, ARG(0), ARG(1)));
}

/* ---- clocks and random --------------------------------------------------- */

static bool clock_of(uint32_t id, clockid_t *out)
{
    switch (id) {
    case 0: *out = CLOCK_REALTIME; return true;
    case 1: *out = CLOCK_MONOTONIC; return true;
    case 2: *out = CLOCK_PROCESS_CPUTIME_ID; return true;
    case 3: *out = CLOCK_THREAD_CPUTIME_ID; return true;
    default: return false;
    }
}

/* clock_res_get(id: clockid, resolution: *timestamp) -> errno */
static perch_err_kind clock_res_get(void *ud, perch_caller *c, const perch_val *args,
                                    perch_val *results, perch_err *err)
{
    clockid_t id;
    struct timespec ts;
    (void)ud;
    (void)err;
    if (!clock_of(ARG(0), &id) || clock_getres(id, &ts) != 0)
        RET(WASI_EINVAL);
    if (!put_u64(c, ARG(1), (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec))
        RET(WASI_EFAULT);
    RET(WASI_ESUCCESS);
}

/* clock_time_get(id: clockid, precision: timestamp, time: *timestamp) -> errno */
static perch_err_kind clock_time_get(void *ud, perch_caller *c, const perch_val *args,
                                     perch_val *results, perch_err *err)
{
    clockid_t id;
    struct timespec ts;
    (void)ud;
    (void)err;
    if (!clock_of(ARG(0), &id) || clock_gettime(id, &ts) != 0)
        RET(WASI_EINVAL);
    if (!put_u64(c, ARG(2), (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec))
        RET(WASI_EFAULT);
    RET(WASI_ESUCCESS);
}

/* random_get(buf: *u8, len: size) -> errno */
static perch_err_kind random_get(void *ud, perch_caller *c, const perch_val *args,
                                 perch_val *results, perch_err *err)
{
    uint8_t *p = span(c, ARG(0), ARG(1));
    size_t len = ARG(1), done = 0;
    (void)ud;
    (void)err;
    if (!p)
        RET(WASI_EFAULT);
#if defined(__linux__)
    while (done < len) {
        ssize_t n = getrandom(p + done, len - done, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            RET(WASI_EIO);
        }
        done += (size_t)n;
    }
#else
    {
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            RET(WASI_EIO);
        while (done < len) {
            ssize_t n = read(fd, p + done, len - done);
            if (n <= 0) {
                close(fd);
                RET(WASI_EIO);
            }
            done += (size_t)n;
        }
        close(fd);
    }
#endif
    RET(WASI_ESUCCESS);
}

/* ---- descriptors: 0, 1 and 2 only ---------------------------------------- */

static int host_fd(const ph_wasi_state *w, uint32_t fd)
{
    switch (fd) {
    case 0: return w->cfg.stdin_fd;
    case 1: return w->cfg.stdout_fd;
    case 2: return w->cfg.stderr_fd;
    default: return -1;
    }
}

/* fd_write(fd, iovs: *ciovec, iovs_len, nwritten: *size) -> errno */
static perch_err_kind fd_write(void *ud, perch_caller *c, const perch_val *args, perch_val *results,
                               perch_err *err)
{
    ph_wasi_state *w = ud;
    uint32_t fd = ARG(0), iovs = ARG(1), n = ARG(2);
    uint64_t total = 0;
    int hfd = fd == 1 || fd == 2 ? host_fd(w, fd) : -1;
    (void)err;
    if (hfd < 0)
        RET(WASI_EBADF);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t ptr, len;
        const uint8_t *p;
        if (!get_u32(c, iovs + 8 * i, &ptr) || !get_u32(c, iovs + 8 * i + 4, &len) ||
            !(p = span(c, ptr, len)))
            RET(WASI_EFAULT);
        while (len > 0) {
            ssize_t k = write(hfd, p, len);
            if (k < 0) {
                if (errno == EINTR)
                    continue;
                RET(WASI_EIO);
            }
            p += k;
            len -= (uint32_t)k;
            total += (uint64_t)k;
        }
    }
    if (!put_u32(c, ARG(3), (uint32_t)total))
        RET(WASI_EFAULT);
    RET(WASI_ESUCCESS);
}

/* fd_read(fd, iovs: *iovec, iovs_len, nread: *size) -> errno */
static perch_err_kind fd_read(void *ud, perch_caller *c, const perch_val *args, perch_val *results,
                              perch_err *err)
{
    ph_wasi_state *w = ud;
    uint32_t iovs = ARG(1), n = ARG(2);
    uint64_t total = 0;
    int hfd = ARG(0) == 0 ? host_fd(w, 0) : -1;
    (void)err;
    if (hfd < 0)
        RET(WASI_EBADF);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t ptr, len;
        uint8_t *p;
        ssize_t k;
        if (!get_u32(c, iovs + 8 * i, &ptr) || !get_u32(c, iovs + 8 * i + 4, &len) ||
            !(p = span(c, ptr, len)))
            RET(WASI_EFAULT);
        do
            k = read(hfd, p, len);
        while (k < 0 && errno == EINTR);
        if (k < 0)
            RET(WASI_EIO);
        total += (uint64_t)k;
        if ((uint32_t)k < len)
            break;
    }
    if (!put_u32(c, ARG(3), (uint32_t)total))
        RET(WASI_EFAULT);
    RET(WASI_ESUCCESS);
}

/* fd_fdstat_get(fd, stat: *fdstat) -> errno: a character device with
 * every right, for the three standard descriptors. */
static perch_err_kind fd_fdstat_get(void *ud, perch_caller *c, const perch_val *args,
                                    perch_val *results, perch_err *err)
{
    uint8_t *p;
    (void)ud;
    (void)err;
    if (ARG(0) > 2)
        RET(WASI_EBADF);
    if (!(p = span(c, ARG(1), 24)))
        RET(WASI_EFAULT);
    memset(p, 0, 24);
    p[0] = 2; /* character_device */
    (void)put_u64(c, ARG(1) + 8, ARG(0) == 0 ? 0x2 : 0x40); /* fd_read / fd_write */
    RET(WASI_ESUCCESS);
}

/* fd_close(fd) -> errno */
static perch_err_kind fd_close(void *ud, perch_caller *c, const perch_val *args, perch_val *results,
                               perch_err *err)
{
    (void)ud;
    (void)c;
    (void)err;
    RET(ARG(0) <= 2 ? WASI_ESUCCESS : WASI_EBADF);
}

/* fd_seek(fd, offset: filedelta, whence, newoffset: *filesize) -> errno */
static perch_err_kind fd_seek(void *ud, perch_caller *c, const perch_val *args, perch_val *results,
                              perch_err *err)
{
    (void)ud;
    (void)c;
    (void)err;
    RET(ARG(0) <= 2 ? WASI_ESPIPE : WASI_EBADF);
}

/* fd_prestat_get(fd, buf) -> errno: no preopened directories. */
static perch_err_kind fd_prestat_get(void *ud, perch_caller *c, const perch_val *args,
                                     perch_val *results, perch_err *err)
{
    (void)ud;
    (void)c;
    (void)args;
    (void)err;
    RET(WASI_EBADF);
}

static perch_err_kind sched_yield_fn(void *ud, perch_caller *c, const perch_val *args,
                                     perch_val *results, perch_err *err)
{
    (void)ud;
    (void)c;
    (void)args;
    (void)err;
    RET(WASI_ESUCCESS);
}

/* proc_exit(rval): ends the run; the status is kept for the embedder. */
static perch_err_kind proc_exit(void *ud, perch_caller *c, const perch_val *args,
                                perch_val *results, perch_err *err)
{
    ph_wasi_state *w = ud;
    (void)c;
    (void)results;
    w->exit_code = (int)ARG(0);
    return pb_fail(err, PERCH_E_WASM_MODULE_EXITED, "the module exited with status %d",
                   w->exit_code);
}

/* Any other WASI function: "not implemented" through its own signature. */
static perch_err_kind enosys(void *ud, perch_caller *c, const perch_val *args, perch_val *results,
                             perch_err *err)
{
    (void)ud;
    (void)c;
    (void)args;
    (void)err;
    if (results[0].kind == PERCH_I32)
        results[0].of.i32 = WASI_ENOSYS;
    return PERCH_OK;
}

#undef ARG
#undef RET

typedef struct wasi_fn {
    const char *name;
    const char *params; /* 'i' i32, 'I' i64 */
    perch_host_fn fn;
} wasi_fn;

static const wasi_fn wasi_fns[] = {
    {"args_get", "ii", args_get},
    {"args_sizes_get", "ii", args_sizes_get},
    {"environ_get", "ii", environ_get},
    {"environ_sizes_get", "ii", environ_sizes_get},
    {"clock_res_get", "ii", clock_res_get},
    {"clock_time_get", "iIi", clock_time_get},
    {"random_get", "ii", random_get},
    {"fd_write", "iiii", fd_write},
    {"fd_read", "iiii", fd_read},
    {"fd_fdstat_get", "ii", fd_fdstat_get},
    {"fd_close", "i", fd_close},
    {"fd_seek", "iIii", fd_seek},
    {"fd_prestat_get", "ii", fd_prestat_get},
    {"sched_yield", "", sched_yield_fn},
    {"proc_exit", "i", proc_exit},
};

void ph_imports_free(perch_extern *imports) { pb_free(imports); }

static bool name_is(const perch_moddesc *d, const char *s)
{
    return d->name_len == strlen(s) && memcmp(d->name, s, d->name_len) == 0;
}

perch_err_kind ph_wasi_imports(ph_wasi_state *w, perch_store *store, perch_module *module,
                               perch_extern **imports, perch_err *err)
{
    size_t n = perch_module_import_count(module);
    perch_extern *v = pb_calloc(n + 1, sizeof *v);
    perch_err_kind rc;
    static const perch_valkind i32 = PERCH_I32;

    *imports = NULL;
    if (!v)
        return pb_fail(err, PERCH_E_IO, "out of memory");
    for (size_t i = 0; i < n; i++) {
        perch_moddesc d = perch_module_import(module, i);
        perch_functype want, have;
        perch_valkind kinds[8];
        perch_host_fn fn = enosys;
        const wasi_fn *known = NULL;

        if (d.kind != PERCH_EXTERN_FUNC || d.module_len != 22 ||
            memcmp(d.module, "wasi_snapshot_preview1", 22) != 0) {
            rc = pb_fail(err, PERCH_E_WASM_UNLINKABLE, "unknown import \"%.*s\" \"%.*s\"",
                         (int)d.module_len, d.module, (int)d.name_len, d.name);
            goto fail;
        }
        (void)perch_module_import_functype(module, i, &want);
        for (size_t k = 0; k < sizeof wasi_fns / sizeof wasi_fns[0]; k++)
            if (name_is(&d, wasi_fns[k].name))
                known = &wasi_fns[k];
        if (known) {
            size_t np = strlen(known->params);
            for (size_t k = 0; k < np; k++)
                kinds[k] = known->params[k] == 'I' ? PERCH_I64 : PERCH_I32;
            have.nparams = np;
            have.params = kinds;
            have.nresults = strcmp(known->name, "proc_exit") == 0 ? 0 : 1;
            have.results = &i32;
            if (have.nparams != want.nparams || have.nresults != want.nresults ||
                memcmp(have.params, want.params, np * sizeof *kinds) != 0 ||
                (have.nresults && want.results[0] != PERCH_I32)) {
                rc = pb_fail(err, PERCH_E_WASM_UNLINKABLE,
                             "incompatible import type: wasi_snapshot_preview1 \"%.*s\" has another signature",
                             (int)d.name_len, d.name);
                goto fail;
            }
            fn = known->fn;
        } else {
            have = want;
        }
        v[i].kind = PERCH_EXTERN_FUNC;
        if ((rc = perch_store_host_func(store, &have, fn, w, &v[i].of.func, err)))
            goto fail;
    }
    *imports = v;
    return PERCH_OK;
fail:
    pb_free(v);
    return rc;
}
