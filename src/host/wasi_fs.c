/* wasi_fs.c: the WASI fd_*, path_* and poll_oneoff functions (wasi_fs.h). */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>

#include "base/base.h"
#include "host/wasi_fs.h"

/* ---- guest memory: the ABI boundary ----------------------------------------- */

/* The guest range [ptr, ptr+len), or NULL when any of it lies outside the
 * caller's memory: the threat is a guest pointer aimed at the host. */
static uint8_t *span(perch_caller *c, uint32_t ptr, uint64_t len)
{
    perch_memory *m = perch_caller_memory(c);
    return m ? perch_memory_span(m, ptr, len) : NULL;
}

static void le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t from_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static bool put_u32(perch_caller *c, uint32_t ptr, uint32_t v)
{
    uint8_t *p = span(c, ptr, 4);
    if (p)
        le(p, v, 4);
    return p != NULL;
}

static bool put_u64(perch_caller *c, uint32_t ptr, uint64_t v)
{
    uint8_t *p = span(c, ptr, 8);
    if (p)
        le(p, v, 8);
    return p != NULL;
}

/* iovs -> (buf: u32, len: u32) * n, each buffer inside memory. The total is
 * kept below 2 GiB so the count written back fits the guest's u32. */
static ph_errno iovecs(perch_caller *c, uint32_t iovs, uint32_t n, struct iovec *out)
{
    const uint8_t *v;
    uint64_t total = 0;
    if (n > PH_WASI_FS_IOVS)
        return PH_EINVAL;
    if (!(v = span(c, iovs, (uint64_t)n * 8)))
        return PH_EFAULT;
    for (size_t i = 0; i < n; i++) {
        uint32_t ptr = (uint32_t)from_le(v + 8 * i, 4), len = (uint32_t)from_le(v + 8 * i + 4, 4);
        uint8_t *p = span(c, ptr, len);
        if (!p)
            return PH_EFAULT;
        total += len;
        if (total > INT32_MAX)
            return PH_EINVAL;
        out[i].iov_base = p;
        out[i].iov_len = len;
    }
    return PH_ESUCCESS;
}

static perch_err_kind done(ph_fs *fs, perch_val *results, ph_errno e, perch_err *err)
{
    if (ph_fs_stop_requested(fs, err))
        return PERCH_E_WASM_CAPABILITY_DENIED;
    results[0].of.i32 = (int32_t)e;
    return PERCH_OK;
}

#define ARG(i) ((uint32_t)args[i].of.i32)
#define ARG64(i) ((uint64_t)args[i].of.i64)
#define RET(e) return done(fs, results, (e), err)
#define HOSTFN(name)                                                            \
    static perch_err_kind name(void *ud, perch_caller *c, const perch_val *args, \
                               perch_val *results, perch_err *err)
#define PROLOGUE                                                                \
    ph_fs *fs = ud;                                                             \
    (void)c

/* A path argument (ptr, len) inside memory, else EFAULT. */
#define PATH_ARG(var, ip, il)                                                   \
    const char *var = /* NOLINT(bugprone-macro-parentheses): a declarator */    \
        (const char *)span(c, ARG(ip), ARG(il));                                \
    if (!(var))                                                                 \
    RET(PH_EFAULT)

/* ---- descriptors -------------------------------------------------------------- */

/* fd_close(fd) -> errno */
HOSTFN(fd_close)
{
    PROLOGUE;
    RET(ph_fs_close(fs, ARG(0)));
}

/* fd_renumber(fd, to) -> errno */
HOSTFN(fd_renumber)
{
    PROLOGUE;
    RET(ph_fs_renumber(fs, ARG(0), ARG(1)));
}

/* fd_prestat_get(fd, buf: *prestat) -> errno; prestat is {tag: u8 = 0
 * (dir), pr_name_len: u32 at 4}. */
HOSTFN(fd_prestat_get)
{
    const char *name;
    size_t len;
    uint8_t *p;
    ph_errno e;
    PROLOGUE;
    if ((e = ph_fs_prestat(fs, ARG(0), &name, &len)))
        RET(e);
    if (!(p = span(c, ARG(1), 8)))
        RET(PH_EFAULT);
    memset(p, 0, 8);
    le(p + 4, len, 4);
    RET(PH_ESUCCESS);
}

/* fd_prestat_dir_name(fd, path: *u8, path_len) -> errno */
HOSTFN(fd_prestat_dir_name)
{
    const char *name;
    size_t len;
    uint8_t *p;
    ph_errno e;
    PROLOGUE;
    if ((e = ph_fs_prestat(fs, ARG(0), &name, &len)))
        RET(e);
    if (ARG(2) < len)
        RET(PH_ENAMETOOLONG);
    if (!(p = span(c, ARG(1), len)))
        RET(PH_EFAULT);
    memcpy(p, name, len);
    RET(PH_ESUCCESS);
}

/* fd_fdstat_get(fd, buf: *fdstat) -> errno; fdstat is {filetype: u8,
 * flags: u16 at 2, rights_base: u64 at 8, rights_inheriting: u64 at 16}. */
HOSTFN(fd_fdstat_get)
{
    ph_fdstat st;
    uint8_t *p;
    ph_errno e;
    PROLOGUE;
    if ((e = ph_fs_fdstat(fs, ARG(0), &st)))
        RET(e);
    if (!(p = span(c, ARG(1), 24)))
        RET(PH_EFAULT);
    memset(p, 0, 24);
    p[0] = st.filetype;
    le(p + 2, st.flags, 2);
    le(p + 8, st.rights_base, 8);
    le(p + 16, st.rights_inheriting, 8);
    RET(PH_ESUCCESS);
}

/* fd_fdstat_set_flags(fd, flags: u16) -> errno */
HOSTFN(fd_fdstat_set_flags)
{
    PROLOGUE;
    if (ARG(1) > 0xffff)
        RET(PH_EINVAL);
    RET(ph_fs_set_flags(fs, ARG(0), (uint16_t)ARG(1)));
}

/* fd_fdstat_set_rights(fd, base: u64, inheriting: u64) -> errno */
HOSTFN(fd_fdstat_set_rights)
{
    PROLOGUE;
    RET(ph_fs_set_rights(fs, ARG(0), ARG64(1), ARG64(2)));
}

/* filestat: {dev u64, ino u64, filetype u8 at 16, nlink u64 at 24, size
 * at 32, atim at 40, mtim at 48, ctim at 56}: 64 bytes. */
static bool put_filestat(perch_caller *c, uint32_t ptr, const ph_filestat *st)
{
    uint8_t *p = span(c, ptr, 64);
    if (!p)
        return false;
    memset(p, 0, 64);
    le(p, st->dev, 8);
    le(p + 8, st->ino, 8);
    p[16] = st->filetype;
    le(p + 24, st->nlink, 8);
    le(p + 32, st->size, 8);
    le(p + 40, st->atim, 8);
    le(p + 48, st->mtim, 8);
    le(p + 56, st->ctim, 8);
    return true;
}

/* fd_filestat_get(fd, buf: *filestat) -> errno */
HOSTFN(fd_filestat_get)
{
    ph_filestat st;
    ph_errno e;
    PROLOGUE;
    if ((e = ph_fs_filestat(fs, ARG(0), &st)))
        RET(e);
    RET(put_filestat(c, ARG(1), &st) ? PH_ESUCCESS : PH_EFAULT);
}

/* fd_filestat_set_size(fd, size: u64) -> errno */
HOSTFN(fd_filestat_set_size)
{
    PROLOGUE;
    RET(ph_fs_set_size(fs, ARG(0), ARG64(1)));
}

/* fd_filestat_set_times(fd, atim: u64, mtim: u64, fstflags: u16) -> errno */
HOSTFN(fd_filestat_set_times)
{
    PROLOGUE;
    if (ARG(3) > 0xffff)
        RET(PH_EINVAL);
    RET(ph_fs_set_times(fs, ARG(0), ARG64(1), ARG64(2), (uint16_t)ARG(3)));
}

/* Shared by the four reads and writes: iovecs, then the layer, then the
 * count. offset < 0: at the current position. */
static perch_err_kind rw(ph_fs *fs, perch_caller *c, const perch_val *args, int64_t offset,
                         uint32_t count_ptr, bool write, perch_val *results, perch_err *err)
{
    struct iovec iov[PH_WASI_FS_IOVS];
    size_t n = 0;
    ph_errno e = iovecs(c, ARG(1), ARG(2), iov);
    if (e)
        RET(e);
    /* The count pointer is checked before anything moves. */
    if (!span(c, count_ptr, 4))
        RET(PH_EFAULT);
    e = write ? ph_fs_write(fs, ARG(0), iov, ARG(2), offset, &n)
              : ph_fs_read(fs, ARG(0), iov, ARG(2), offset, &n);
    if (e)
        RET(e);
    (void)put_u32(c, count_ptr, (uint32_t)n);
    RET(PH_ESUCCESS);
}

/* fd_read(fd, iovs: *iovec, iovs_len, nread: *size) -> errno */
HOSTFN(fd_read)
{
    PROLOGUE;
    return rw(fs, c, args, -1, ARG(3), false, results, err);
}

/* fd_write(fd, iovs: *ciovec, iovs_len, nwritten: *size) -> errno */
HOSTFN(fd_write)
{
    PROLOGUE;
    return rw(fs, c, args, -1, ARG(3), true, results, err);
}

/* fd_pread(fd, iovs, iovs_len, offset: u64, nread: *size) -> errno */
HOSTFN(fd_pread)
{
    PROLOGUE;
    if (ARG64(3) > INT64_MAX)
        RET(PH_EINVAL);
    return rw(fs, c, args, (int64_t)ARG64(3), ARG(4), false, results, err);
}

/* fd_pwrite(fd, iovs, iovs_len, offset: u64, nwritten: *size) -> errno */
HOSTFN(fd_pwrite)
{
    PROLOGUE;
    if (ARG64(3) > INT64_MAX)
        RET(PH_EINVAL);
    return rw(fs, c, args, (int64_t)ARG64(3), ARG(4), true, results, err);
}

/* fd_seek(fd, offset: s64, whence: u8, newoffset: *u64) -> errno */
HOSTFN(fd_seek)
{
    uint64_t pos;
    ph_errno e;
    PROLOGUE;
    if (!span(c, ARG(3), 8))
        RET(PH_EFAULT);
    if (ARG(2) > 0xff)
        RET(PH_EINVAL);
    if ((e = ph_fs_seek(fs, ARG(0), args[1].of.i64, (uint8_t)ARG(2), &pos)))
        RET(e);
    (void)put_u64(c, ARG(3), pos);
    RET(PH_ESUCCESS);
}

/* fd_tell(fd, offset: *u64) -> errno */
HOSTFN(fd_tell)
{
    uint64_t pos;
    ph_errno e;
    PROLOGUE;
    if (!span(c, ARG(1), 8))
        RET(PH_EFAULT);
    if ((e = ph_fs_tell(fs, ARG(0), &pos)))
        RET(e);
    (void)put_u64(c, ARG(1), pos);
    RET(PH_ESUCCESS);
}

/* fd_sync(fd) -> errno */
HOSTFN(fd_sync)
{
    PROLOGUE;
    RET(ph_fs_sync(fs, ARG(0), false));
}

/* fd_datasync(fd) -> errno */
HOSTFN(fd_datasync)
{
    PROLOGUE;
    RET(ph_fs_sync(fs, ARG(0), true));
}

/* fd_advise(fd, offset: u64, len: u64, advice: u8) -> errno */
HOSTFN(fd_advise)
{
    PROLOGUE;
    if (ARG(3) > 0xff)
        RET(PH_EINVAL);
    RET(ph_fs_advise(fs, ARG(0), ARG64(1), ARG64(2), (uint8_t)ARG(3)));
}

/* fd_allocate(fd, offset: u64, len: u64) -> errno */
HOSTFN(fd_allocate)
{
    PROLOGUE;
    RET(ph_fs_allocate(fs, ARG(0), ARG64(1), ARG64(2)));
}

/* fd_readdir(fd, buf: *u8, buf_len, cookie: u64, bufused: *size) -> errno */
HOSTFN(fd_readdir)
{
    uint8_t *buf;
    size_t used;
    ph_errno e;
    PROLOGUE;
    if (!(buf = span(c, ARG(1), ARG(2))) || !span(c, ARG(4), 4))
        RET(PH_EFAULT);
    if ((e = ph_fs_readdir(fs, ARG(0), buf, ARG(2), ARG64(3), &used)))
        RET(e);
    (void)put_u32(c, ARG(4), (uint32_t)used);
    RET(PH_ESUCCESS);
}

/* ---- paths -------------------------------------------------------------------- */

/* path_open(fd, dirflags, path, path_len, oflags, rights_base: u64,
 *           rights_inheriting: u64, fdflags, opened_fd: *fd) -> errno */
HOSTFN(path_open)
{
    uint32_t fd;
    ph_errno e;
    PROLOGUE;
    PATH_ARG(path, 2, 3);
    if (!span(c, ARG(8), 4))
        RET(PH_EFAULT);
    if (ARG(4) > 0xffff || ARG(7) > 0xffff)
        RET(PH_EINVAL);
    if ((e = ph_fs_open(fs, ARG(0), ARG(1), path, ARG(3), (uint16_t)ARG(4), ARG64(5), ARG64(6),
                        (uint16_t)ARG(7), &fd)))
        RET(e);
    (void)put_u32(c, ARG(8), fd);
    RET(PH_ESUCCESS);
}

/* path_create_directory(fd, path, path_len) -> errno */
HOSTFN(path_create_directory)
{
    PROLOGUE;
    PATH_ARG(path, 1, 2);
    RET(ph_fs_mkdir(fs, ARG(0), path, ARG(2)));
}

/* path_remove_directory(fd, path, path_len) -> errno */
HOSTFN(path_remove_directory)
{
    PROLOGUE;
    PATH_ARG(path, 1, 2);
    RET(ph_fs_rmdir(fs, ARG(0), path, ARG(2)));
}

/* path_unlink_file(fd, path, path_len) -> errno */
HOSTFN(path_unlink_file)
{
    PROLOGUE;
    PATH_ARG(path, 1, 2);
    RET(ph_fs_unlink(fs, ARG(0), path, ARG(2)));
}

/* path_filestat_get(fd, lookupflags, path, path_len, buf: *filestat) -> errno */
HOSTFN(path_filestat_get)
{
    ph_filestat st;
    ph_errno e;
    PROLOGUE;
    PATH_ARG(path, 2, 3);
    if (!span(c, ARG(4), 64))
        RET(PH_EFAULT);
    if ((e = ph_fs_path_filestat(fs, ARG(0), ARG(1), path, ARG(3), &st)))
        RET(e);
    (void)put_filestat(c, ARG(4), &st);
    RET(PH_ESUCCESS);
}

/* path_filestat_set_times(fd, lookupflags, path, path_len, atim: u64,
 *                         mtim: u64, fstflags) -> errno */
HOSTFN(path_filestat_set_times)
{
    PROLOGUE;
    PATH_ARG(path, 2, 3);
    if (ARG(6) > 0xffff)
        RET(PH_EINVAL);
    RET(ph_fs_path_set_times(fs, ARG(0), ARG(1), path, ARG(3), ARG64(4), ARG64(5),
                             (uint16_t)ARG(6)));
}

/* path_readlink(fd, path, path_len, buf: *u8, buf_len, bufused: *size) -> errno */
HOSTFN(path_readlink)
{
    uint8_t *buf;
    size_t used;
    ph_errno e;
    PROLOGUE;
    PATH_ARG(path, 1, 2);
    if (!(buf = span(c, ARG(3), ARG(4))) || !span(c, ARG(5), 4))
        RET(PH_EFAULT);
    if ((e = ph_fs_readlink(fs, ARG(0), path, ARG(2), (char *)buf, ARG(4), &used)))
        RET(e);
    (void)put_u32(c, ARG(5), (uint32_t)used);
    RET(PH_ESUCCESS);
}

/* path_rename(fd, old_path, old_len, new_fd, new_path, new_len) -> errno */
HOSTFN(path_rename)
{
    PROLOGUE;
    PATH_ARG(from, 1, 2);
    PATH_ARG(to, 4, 5);
    RET(ph_fs_rename(fs, ARG(0), from, ARG(2), ARG(3), to, ARG(5)));
}

/* path_link(old_fd, old_flags, old_path, old_len, new_fd, new_path, new_len) -> errno */
HOSTFN(path_link)
{
    PROLOGUE;
    PATH_ARG(from, 2, 3);
    PATH_ARG(to, 5, 6);
    RET(ph_fs_link(fs, ARG(0), ARG(1), from, ARG(3), ARG(4), to, ARG(6)));
}

/* path_symlink(old_path, old_len, fd, new_path, new_len) -> errno */
HOSTFN(path_symlink)
{
    PROLOGUE;
    PATH_ARG(target, 0, 1);
    PATH_ARG(path, 3, 4);
    RET(ph_fs_symlink(fs, target, ARG(1), ARG(2), path, ARG(4)));
}

/* ---- poll_oneoff ---------------------------------------------------------------- */

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

static uint64_t now_ns(clockid_t id)
{
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* event: {userdata u64, error u16 at 8, type u8 at 10, nbytes u64 at 16,
 * flags u16 at 24}: 32 bytes. */
static void put_event(uint8_t *ev, uint64_t userdata, ph_errno error, uint8_t type, uint16_t flags)
{
    memset(ev, 0, 32);
    le(ev, userdata, 8);
    le(ev + 8, error, 2);
    ev[10] = type;
    le(ev + 24, flags, 2);
}

/*
 * poll_oneoff(in: *subscription, out: *event, nsubscriptions,
 *             nevents: *size) -> errno
 *
 * subscription: {userdata u64, tag u8 at 8, then at 16 either clock {id
 * u32, timeout u64 at 24, precision u64 at 32, flags u16 at 40} or
 * fd_readwrite {fd u32}}: 48 bytes. Waits until a descriptor is ready or
 * the earliest clock expires; a subscription that fails at once (bad fd,
 * bad clock) is an event with its error and no wait.
 */
HOSTFN(poll_oneoff)
{
    const uint8_t *in;
    uint8_t *out;
    uint32_t n = ARG(2);
    size_t nev = 0, npfd = 0;
    struct pollfd pfd[PH_WASI_FS_SUBSCRIPTIONS];
    size_t pfd_sub[PH_WASI_FS_SUBSCRIPTIONS];
    uint64_t rel[PH_WASI_FS_SUBSCRIPTIONS];
    uint64_t wait = UINT64_MAX, start = now_ns(CLOCK_MONOTONIC), elapsed;
    bool immediate = false;
    int r;
    PROLOGUE;

    if (n == 0 || n > PH_WASI_FS_SUBSCRIPTIONS)
        RET(PH_EINVAL);
    if (!(in = span(c, ARG(0), (uint64_t)n * 48)) || !(out = span(c, ARG(1), (uint64_t)n * 32)) ||
        !span(c, ARG(3), 4))
        RET(PH_EFAULT);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *s = in + 48 * i;
        uint8_t tag = s[8];
        if (tag == 0) {
            clockid_t id;
            uint64_t timeout = from_le(s + 24, 8);
            rel[i] = timeout;
            if (!clock_of((uint32_t)from_le(s + 16, 4), &id)) {
                immediate = true;
                continue;
            }
            if (from_le(s + 40, 2) & 1) { /* abstime */
                uint64_t now = now_ns(id);
                rel[i] = timeout > now ? timeout - now : 0;
            }
            if (rel[i] < wait)
                wait = rel[i];
        } else if (tag == 1 || tag == 2) {
            int host;
            uint8_t type;
            if (ph_fs_poll_fd(fs, (uint32_t)from_le(s + 16, 4), &host, &type)) {
                immediate = true;
                continue;
            }
            pfd[npfd].fd = host;
            pfd[npfd].events = tag == 1 ? POLLIN : POLLOUT;
            pfd[npfd].revents = 0;
            pfd_sub[npfd++] = i;
        } else {
            RET(PH_EINVAL);
        }
    }
    if (ph_fs_stop_requested(fs, err))
        return PERCH_E_WASM_CAPABILITY_DENIED;
    if (immediate)
        wait = 0;
    if (npfd == 0 && wait == UINT64_MAX)
        RET(PH_EINVAL);
    if (npfd > 0) {
        /* Milliseconds, rounded up so a clock never fires early. */
        uint64_t ms = wait == UINT64_MAX ? 0 : wait / 1000000u + (wait % 1000000u != 0);
        r = poll(pfd, (nfds_t)npfd, wait == UINT64_MAX ? -1 : ms > INT32_MAX ? INT32_MAX : (int)ms);
        if (r < 0)
            RET(errno == EINTR ? PH_EINTR : PH_EIO);
    } else if (wait > 0) {
        struct timespec ts = {(time_t)(wait / 1000000000u), (long)(wait % 1000000000u)};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
    }
    elapsed = now_ns(CLOCK_MONOTONIC) - start;
    /* Events, in subscription order. */
    for (size_t i = 0, k = 0; i < n; i++) {
        const uint8_t *s = in + 48 * i;
        uint64_t userdata = from_le(s, 8);
        uint8_t tag = s[8];
        if (tag == 0) {
            clockid_t id;
            if (!clock_of((uint32_t)from_le(s + 16, 4), &id))
                put_event(out + 32 * nev++, userdata, PH_EINVAL, 0, 0);
            else if (elapsed >= rel[i])
                put_event(out + 32 * nev++, userdata, PH_ESUCCESS, 0, 0);
        } else {
            int host;
            uint8_t type;
            ph_errno e = ph_fs_poll_fd(fs, (uint32_t)from_le(s + 16, 4), &host, &type);
            if (e) {
                put_event(out + 32 * nev++, userdata, e, tag, 0);
            } else if (k < npfd && pfd_sub[k] == i) {
                short re = pfd[k++].revents;
                if (re)
                    put_event(out + 32 * nev++, userdata, (re & (POLLERR | POLLNVAL)) ? PH_EIO : 0,
                              tag, (re & POLLHUP) ? 1 : 0);
            }
        }
    }
    (void)put_u32(c, ARG(3), (uint32_t)nev);
    RET(PH_ESUCCESS);
}

#undef ARG
#undef ARG64
#undef RET

/* ---- the table ------------------------------------------------------------------ */

#define I PERCH_I32
#define L PERCH_I64

typedef struct fs_fn {
    const char *name;
    perch_host_fn fn;
    size_t nparams;
    perch_valkind params[9];
} fs_fn;

static const fs_fn fs_fns[] = {
    {"fd_advise", fd_advise, 4, {I, L, L, I}},
    {"fd_allocate", fd_allocate, 3, {I, L, L}},
    {"fd_close", fd_close, 1, {I}},
    {"fd_datasync", fd_datasync, 1, {I}},
    {"fd_fdstat_get", fd_fdstat_get, 2, {I, I}},
    {"fd_fdstat_set_flags", fd_fdstat_set_flags, 2, {I, I}},
    {"fd_fdstat_set_rights", fd_fdstat_set_rights, 3, {I, L, L}},
    {"fd_filestat_get", fd_filestat_get, 2, {I, I}},
    {"fd_filestat_set_size", fd_filestat_set_size, 2, {I, L}},
    {"fd_filestat_set_times", fd_filestat_set_times, 4, {I, L, L, I}},
    {"fd_pread", fd_pread, 5, {I, I, I, L, I}},
    {"fd_prestat_get", fd_prestat_get, 2, {I, I}},
    {"fd_prestat_dir_name", fd_prestat_dir_name, 3, {I, I, I}},
    {"fd_pwrite", fd_pwrite, 5, {I, I, I, L, I}},
    {"fd_read", fd_read, 4, {I, I, I, I}},
    {"fd_readdir", fd_readdir, 5, {I, I, I, L, I}},
    {"fd_renumber", fd_renumber, 2, {I, I}},
    {"fd_seek", fd_seek, 4, {I, L, I, I}},
    {"fd_sync", fd_sync, 1, {I}},
    {"fd_tell", fd_tell, 2, {I, I}},
    {"fd_write", fd_write, 4, {I, I, I, I}},
    {"path_create_directory", path_create_directory, 3, {I, I, I}},
    {"path_filestat_get", path_filestat_get, 5, {I, I, I, I, I}},
    {"path_filestat_set_times", path_filestat_set_times, 7, {I, I, I, I, L, L, I}},
    {"path_link", path_link, 7, {I, I, I, I, I, I, I}},
    {"path_open", path_open, 9, {I, I, I, I, I, L, L, I, I}},
    {"path_readlink", path_readlink, 6, {I, I, I, I, I, I}},
    {"path_remove_directory", path_remove_directory, 3, {I, I, I}},
    {"path_rename", path_rename, 6, {I, I, I, I, I, I}},
    {"path_symlink", path_symlink, 5, {I, I, I, I, I}},
    {"path_unlink_file", path_unlink_file, 3, {I, I, I}},
    {"poll_oneoff", poll_oneoff, 4, {I, I, I, I}},
};

#undef I
#undef L

bool ph_wasi_fs_lookup(const char *name, size_t len, perch_host_fn *fn, perch_functype *type)
{
    static const perch_valkind result = PERCH_I32;
    for (size_t i = 0; i < sizeof fs_fns / sizeof fs_fns[0]; i++) {
        const fs_fn *f = &fs_fns[i];
        if (strlen(f->name) == len && memcmp(f->name, name, len) == 0) {
            *fn = f->fn;
            type->nparams = f->nparams;
            type->params = f->params;
            type->nresults = 1;
            type->results = &result;
            return true;
        }
    }
    return false;
}
