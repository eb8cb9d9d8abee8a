/*
 * test_fs.c: the file-system capability layer (host/fs.h) driven directly:
 * mounts and preopens, rights on every descriptor, read-only mounts against
 * every mutating call, and escape attempts (`..` at every depth, absolute
 * paths, symlinks absolute, relative, chained, dangling and looping, /proc
 * magic links, NUL bytes, huge paths and names, trailing slashes, hard links
 * and renames across the mount boundary, a directory swapped for a symlink
 * by a racing thread). Every check that touches resolution runs twice: with
 * openat2 where the kernel has it, and with the portable walk.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "check.h"
#include "host/fs.h"

#define R_READ                                                                  \
    (PH_RIGHT_FD_READ | PH_RIGHT_FD_SEEK | PH_RIGHT_FD_TELL |                   \
     PH_RIGHT_FD_FILESTAT_GET | PH_RIGHT_FD_READDIR | PH_RIGHT_FD_ADVISE)
#define R_WRITE                                                                 \
    (PH_RIGHT_FD_WRITE | PH_RIGHT_FD_SEEK | PH_RIGHT_FD_FILESTAT_SET_SIZE |      \
     PH_RIGHT_FD_FILESTAT_SET_TIMES | PH_RIGHT_FD_SYNC | PH_RIGHT_FD_ALLOCATE |  \
     PH_RIGHT_FD_DATASYNC)
#define R_ALL (((uint64_t)1 << 28) - 1) /* every file and path right */
/* What a Rust program asks for when it opens to read: everything but the
 * rights that make a descriptor writable. */
#define R_ALL_BUT_WRITE                                                         \
    (R_ALL & ~(PH_RIGHT_FD_WRITE | PH_RIGHT_FD_DATASYNC | PH_RIGHT_FD_ALLOCATE |  \
               PH_RIGHT_FD_FILESTAT_SET_SIZE))

enum { RO = 3, RW = 4, RW2 = 5 };

static char root[64];
static ph_fs_resolver resolver;

/* The last refusal the hook saw, and how many. */
static struct {
    int count;
    char op[64], path[PH_FS_PATH_MAX + 80], rule[256];
    ph_errno error;
    bool stop; /* what the hook answers */
} seen;

static bool hook(void *ud, const ph_fs_refusal *r)
{
    (void)ud;
    seen.count++;
    snprintf(seen.op, sizeof seen.op, "%s", r->op);
    snprintf(seen.path, sizeof seen.path, "%s", r->path);
    snprintf(seen.rule, sizeof seen.rule, "%s", r->rule);
    seen.error = r->error;
    return seen.stop;
}

static void reset_seen(void)
{
    memset(&seen, 0, sizeof seen);
}

/* ---- fixture ------------------------------------------------------------------ */

static void at(char *out, size_t cap, const char *rel)
{
    snprintf(out, cap, "%s/%s", root, rel);
}

static void mk(const char *rel, const char *content)
{
    char p[256];
    FILE *f;
    at(p, sizeof p, rel);
    f = fopen(p, "w");
    if (f) {
        fputs(content, f);
        fclose(f);
    }
}

static void mkd(const char *rel)
{
    char p[256];
    at(p, sizeof p, rel);
    (void)mkdir(p, 0755);
}

static void sl(const char *target, const char *rel)
{
    char p[256];
    at(p, sizeof p, rel);
    (void)symlink(target, p);
}

static bool exists(const char *rel)
{
    char p[256];
    struct stat st;
    at(p, sizeof p, rel);
    return lstat(p, &st) == 0;
}

/* The host file's content (up to 63 bytes), or "" */
static const char *content(const char *rel)
{
    static char buf[64];
    char p[256];
    FILE *f;
    size_t n = 0;
    at(p, sizeof p, rel);
    buf[0] = '\0';
    if ((f = fopen(p, "r"))) {
        n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
    }
    buf[n] = '\0';
    return buf;
}

/*
 * root/outside/secret.txt        what must never be reached
 * root/ro/ (read-only at /ro)    file.txt, sub/inner.txt and symlinks
 * root/rw/ (writable at /rw)     d1/d2/d3/ and a few files
 * root/rw2/ (writable at /rw2)
 */
static void fixture(void)
{
    char abs_outside[128];
    snprintf(root, sizeof root, "/tmp/perch-test-fs-XXXXXX");
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        exit(2);
    }
    mkd("outside");
    mk("outside/secret.txt", "TOP SECRET");
    mkd("ro");
    mk("ro/file.txt", "hello");
    mkd("ro/sub");
    mk("ro/sub/inner.txt", "inner");
    at(abs_outside, sizeof abs_outside, "outside");
    sl(abs_outside, "ro/abs");          /* absolute, to a real directory outside */
    sl("/", "ro/slash");                /* to the host's root */
    sl("/etc/passwd", "ro/passwd");
    sl("../outside", "ro/up");          /* relative, climbing out */
    sl("sub/../../outside/secret.txt", "ro/up2");
    sl("..", "ro/dotdot");
    sl("loop2", "ro/loop1");            /* loop */
    sl("loop1", "ro/loop2");
    sl("self", "ro/self");              /* points at itself */
    sl("nothere", "ro/dang");           /* dangling */
    sl("sub", "ro/tosub");              /* chained: chain -> tosub -> sub */
    sl("tosub", "ro/chain");
    sl("sub/inner.txt", "ro/ok");
    sl("sub/../file.txt", "ro/ok2");
    mkd("rw");
    mkd("rw/d1");
    mkd("rw/d1/d2");
    mkd("rw/d1/d2/d3");
    mk("rw/data.txt", "data");
    mkd("rw2");
}

static void fixture_remove(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", root);
}

static ph_fs *make(size_t max_fds)
{
    ph_fs_config cfg;
    ph_fs *fs = NULL;
    perch_err err;
    char p[256];
    memset(&cfg, 0, sizeof cfg);
    cfg.stdin_fd = 0;
    cfg.stdout_fd = 1;
    cfg.stderr_fd = 2;
    cfg.max_fds = max_fds;
    cfg.resolver = resolver;
    cfg.on_refusal = hook;
    if (ph_fs_new(&cfg, &fs, &err) != PERCH_OK)
        return NULL;
    at(p, sizeof p, "ro");
    CHECK_INT(ph_fs_mount(fs, p, "/ro", false, &err), PERCH_OK);
    at(p, sizeof p, "rw");
    CHECK_INT(ph_fs_mount(fs, p, "/rw", true, &err), PERCH_OK);
    at(p, sizeof p, "rw2");
    CHECK_INT(ph_fs_mount(fs, p, "/rw2", true, &err), PERCH_OK);
    reset_seen();
    return fs;
}

/* path_open with C strings. */
static ph_errno op(ph_fs *fs, uint32_t dir, const char *path, uint16_t oflags, uint64_t rights,
                   uint16_t fdflags, bool follow, uint32_t *fd)
{
    uint32_t dummy;
    return ph_fs_open(fs, dir, follow ? PH_LOOKUP_SYMLINK_FOLLOW : 0, path, strlen(path),
                      oflags, rights, rights, fdflags, fd ? fd : &dummy);
}

/* Open for reading, read it all, close: the bytes, or "" on failure. */
static const char *readall(ph_fs *fs, uint32_t dir, const char *path, ph_errno *rc)
{
    static char buf[128];
    uint32_t fd;
    size_t n = 0;
    struct iovec iov = {buf, sizeof buf - 1};
    buf[0] = '\0';
    *rc = op(fs, dir, path, 0, R_READ, 0, true, &fd);
    if (*rc)
        return buf;
    *rc = ph_fs_read(fs, fd, &iov, 1, -1, &n);
    buf[n] = '\0';
    ph_fs_close(fs, fd);
    return buf;
}

/* ---- mounts ----------------------------------------------------------------- */

static void test_mount_setup(void)
{
    ph_fs_config cfg;
    ph_fs *fs;
    perch_err err;
    char p[256], spec[300];
    size_t idx, rest;

    memset(&cfg, 0, sizeof cfg);
    cfg.stdin_fd = cfg.stdout_fd = cfg.stderr_fd = -1;
    CHECK_INT(ph_fs_new(&cfg, &fs, &err), PERCH_OK);
    at(p, sizeof p, "rw");
    CHECK_INT(ph_fs_mount(fs, p, "data", true, &err), PERCH_E_USAGE);
    CHECK_MSG(err, "not a normalized absolute guest path");
    CHECK_INT(ph_fs_mount(fs, p, "/a/../b", true, &err), PERCH_E_USAGE);
    CHECK_INT(ph_fs_mount(fs, p, "/a//b", true, &err), PERCH_E_USAGE);
    CHECK_INT(ph_fs_mount(fs, p, "/a/./b", true, &err), PERCH_E_USAGE);
    CHECK_INT(ph_fs_mount(fs, p, "", true, &err), PERCH_E_USAGE);
    CHECK_INT(ph_fs_mount(fs, "/nonexistent-perch-dir", "/x", true, &err), PERCH_E_IO);
    CHECK_MSG(err, "cannot mount /nonexistent-perch-dir at /x");
    at(p, sizeof p, "ro/file.txt");
    CHECK_INT(ph_fs_mount(fs, p, "/x", true, &err), PERCH_E_IO);
    at(p, sizeof p, "rw");
    CHECK_INT(ph_fs_mount(fs, p, "/data/", false, &err), PERCH_OK); /* fd 3 */
    CHECK_INT(ph_fs_mount(fs, p, "/data", false, &err), PERCH_E_USAGE);
    CHECK_MSG(err, "mounted twice");
    snprintf(spec, sizeof spec, "%s:/data/out", p);
    CHECK_INT(ph_fs_mount_spec(fs, spec, true, &err), PERCH_OK); /* fd 4 */
    CHECK_INT(ph_fs_mount_spec(fs, "no-guest-here", true, &err), PERCH_E_USAGE);
    CHECK_MSG(err, "expected HOST:GUEST");
    CHECK_INT(ph_fs_mount_spec(fs, ":/x", true, &err), PERCH_E_USAGE);
    CHECK_INT(ph_fs_mount(fs, p, "/", false, &err), PERCH_OK); /* fd 5 */

    /* The longest guest prefix at a component boundary. */
    CHECK(ph_fs_mount_of(fs, "/data/out/x", 11, &idx, &rest));
    CHECK_INT(idx, 1);
    CHECK_INT(rest, 10);
    CHECK(ph_fs_mount_of(fs, "/data/outx", 10, &idx, &rest));
    CHECK_INT(idx, 0);
    CHECK_INT(rest, 6);
    CHECK(ph_fs_mount_of(fs, "/data", 5, &idx, &rest));
    CHECK_INT(idx, 0);
    CHECK_INT(rest, 5);
    CHECK(ph_fs_mount_of(fs, "/database", 9, &idx, &rest));
    CHECK_INT(idx, 2);
    CHECK_INT(rest, 1);
    CHECK(!ph_fs_mount_of(fs, "data", 4, &idx, &rest));
    CHECK_INT(ph_fs_mount_fd(2), 5);
    ph_fs_delete(fs);

    /* Without a root mount nothing else is covered. */
    CHECK_INT(ph_fs_new(&cfg, &fs, &err), PERCH_OK);
    CHECK_INT(ph_fs_mount(fs, p, "/data", false, &err), PERCH_OK);
    CHECK(!ph_fs_mount_of(fs, "/database", 9, &idx, &rest));
    ph_fs_delete(fs);

    /* A table too small for the mounts. */
    cfg.max_fds = 4;
    CHECK_INT(ph_fs_new(&cfg, &fs, &err), PERCH_OK);
    CHECK_INT(ph_fs_mount(fs, p, "/a", false, &err), PERCH_OK);
    CHECK_INT(ph_fs_mount(fs, p, "/b", false, &err), PERCH_E_USAGE);
    CHECK_MSG(err, "too many mounts");
    ph_fs_delete(fs);
}

static void test_preopens(void)
{
    ph_fs *fs = make(0);
    const char *name;
    size_t len;
    ph_fdstat st;

    CHECK_INT(ph_fs_prestat(fs, RO, &name, &len), 0);
    CHECK_INT(len, 3);
    CHECK(memcmp(name, "/ro", 3) == 0);
    CHECK_INT(ph_fs_prestat(fs, RW2, &name, &len), 0);
    CHECK(len == 4 && memcmp(name, "/rw2", 4) == 0);
    CHECK_INT(ph_fs_prestat(fs, 1, &name, &len), PH_EBADF);
    CHECK_INT(ph_fs_prestat(fs, 6, &name, &len), PH_EBADF);
    CHECK_INT(ph_fs_prestat(fs, 0xffffffffu, &name, &len), PH_EBADF);

    CHECK_INT(ph_fs_fdstat(fs, RO, &st), 0);
    CHECK_INT(st.filetype, PH_FILETYPE_DIRECTORY);
    CHECK_INT(st.rights_base & PH_RIGHTS_MUTATING, 0);
    CHECK_INT(st.rights_inheriting & PH_RIGHTS_MUTATING, 0);
    CHECK(st.rights_base & PH_RIGHT_PATH_OPEN);
    CHECK(st.rights_inheriting & PH_RIGHT_FD_READ);
    CHECK_INT(ph_fs_fdstat(fs, RW, &st), 0);
    CHECK(st.rights_base & PH_RIGHT_PATH_CREATE_FILE);
    CHECK(st.rights_inheriting & PH_RIGHT_FD_WRITE);
    CHECK_INT(ph_fs_fdstat(fs, 1, &st), 0);
    CHECK(st.rights_base & PH_RIGHT_FD_WRITE);
    CHECK_INT(ph_fs_fdstat(fs, 9, &st), PH_EBADF);
    ph_fs_delete(fs);
}

/* ---- ordinary use ------------------------------------------------------------ */

static void test_read_and_write(void)
{
    ph_fs *fs = make(0);
    ph_errno rc;
    uint32_t fd;
    size_t n;
    uint64_t pos;
    ph_filestat st;
    ph_fdstat fst;
    char buf[16];
    struct iovec iov[2] = {{buf, 2}, {buf + 2, 10}};

    CHECK_STR(readall(fs, RO, "file.txt", &rc), "hello");
    CHECK_INT(rc, 0);
    CHECK_STR(readall(fs, RO, "sub/inner.txt", &rc), "inner");
    CHECK_STR(readall(fs, RO, "./sub/../sub//inner.txt", &rc), "inner");
    CHECK_STR(readall(fs, RO, "ok", &rc), "inner");     /* relative link, inside */
    CHECK_STR(readall(fs, RO, "ok2", &rc), "hello");    /* climbs and comes back */
    CHECK_STR(readall(fs, RO, "chain/inner.txt", &rc), "inner"); /* chained */
    CHECK_STR(readall(fs, RO, "nothing", &rc), "");
    CHECK_INT(rc, PH_ENOENT);
    CHECK_INT(seen.count, 0);

    CHECK_INT(op(fs, RO, "file.txt", 0, R_READ, 0, true, &fd), 0);
    CHECK_INT(ph_fs_read(fs, fd, iov, 2, -1, &n), 0);
    CHECK_INT(n, 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    CHECK_INT(ph_fs_tell(fs, fd, &pos), 0);
    CHECK_INT(pos, 5);
    CHECK_INT(ph_fs_seek(fs, fd, 1, PH_WHENCE_SET, &pos), 0);
    CHECK_INT(pos, 1);
    CHECK_INT(ph_fs_seek(fs, fd, -1, PH_WHENCE_END, &pos), 0);
    CHECK_INT(pos, 4);
    CHECK_INT(ph_fs_seek(fs, fd, 0, 3, &pos), PH_EINVAL);
    CHECK_INT(ph_fs_seek(fs, fd, -10, PH_WHENCE_SET, &pos), PH_EINVAL);
    CHECK_INT(ph_fs_read(fs, fd, iov, 1, 3, &n), 0); /* pread */
    CHECK(n == 2 && memcmp(buf, "lo", 2) == 0);
    CHECK_INT(ph_fs_filestat(fs, fd, &st), 0);
    CHECK_INT(st.size, 5);
    CHECK_INT(st.filetype, PH_FILETYPE_REGULAR_FILE);
    CHECK_INT(ph_fs_fdstat(fs, fd, &fst), 0);
    CHECK_INT(fst.filetype, PH_FILETYPE_REGULAR_FILE);
    CHECK_INT(fst.rights_base, R_READ);
    CHECK_INT(ph_fs_advise(fs, fd, 0, 5, 2), 0);
    CHECK_INT(ph_fs_advise(fs, fd, 0, 5, 6), PH_EINVAL);
    CHECK_INT(ph_fs_close(fs, fd), 0);

    /* Write, create, append, truncate, sizes and times on the writable mount. */
    CHECK_INT(op(fs, RW, "new.txt", PH_O_CREAT | PH_O_EXCL, R_READ | R_WRITE, 0, false, &fd), 0);
    iov[0].iov_base = (void *)"abcdef";
    iov[0].iov_len = 6;
    CHECK_INT(ph_fs_write(fs, fd, iov, 1, -1, &n), 0);
    CHECK_INT(n, 6);
    iov[0].iov_base = (void *)"XY";
    iov[0].iov_len = 2;
    CHECK_INT(ph_fs_write(fs, fd, iov, 1, 1, &n), 0); /* pwrite */
    CHECK_STR(content("rw/new.txt"), "aXYdef");
    CHECK_INT(ph_fs_set_size(fs, fd, 3), 0);
    CHECK_STR(content("rw/new.txt"), "aXY");
    CHECK_INT(ph_fs_set_times(fs, fd, 1000000000u, 2000000000u, PH_FST_ATIM | PH_FST_MTIM), 0);
    CHECK_INT(ph_fs_filestat(fs, fd, &st), 0);
    CHECK_INT(st.mtim, 2000000000u);
    CHECK_INT(ph_fs_set_times(fs, fd, 0, 0, PH_FST_ATIM | PH_FST_ATIM_NOW), PH_EINVAL);
    CHECK_INT(ph_fs_sync(fs, fd, false), 0);
    CHECK_INT(ph_fs_close(fs, fd), 0);
    CHECK_INT(op(fs, RW, "new.txt", PH_O_CREAT | PH_O_EXCL, R_WRITE, 0, false, &fd), PH_EEXIST);
    CHECK_INT(op(fs, RW, "new.txt", 0, R_WRITE, PH_FDFLAG_APPEND, false, &fd), 0);
    iov[0].iov_base = (void *)"++";
    CHECK_INT(ph_fs_write(fs, fd, iov, 1, -1, &n), 0);
    CHECK_INT(ph_fs_fdstat(fs, fd, &fst), 0);
    CHECK_INT(fst.flags, PH_FDFLAG_APPEND);
    CHECK_INT(ph_fs_close(fs, fd), 0);
    CHECK_STR(content("rw/new.txt"), "aXY++");
    CHECK_INT(op(fs, RW, "new.txt", PH_O_TRUNC, R_WRITE, 0, false, &fd), 0);
    CHECK_INT(ph_fs_allocate(fs, fd, 0, 10), 0);
    CHECK_INT(ph_fs_allocate(fs, fd, 0, 0), PH_EINVAL);
    CHECK_INT(ph_fs_close(fs, fd), 0);
    CHECK_INT(ph_fs_path_filestat(fs, RW, 0, "new.txt", 7, &st), 0);
    CHECK_INT(st.size, 10);

    /* Directories. */
    CHECK_INT(ph_fs_mkdir(fs, RW, "dir", 3), 0);
    CHECK_INT(ph_fs_mkdir(fs, RW, "dir", 3), PH_EEXIST);
    CHECK_INT(ph_fs_mkdir(fs, RW, "dir2/", 5), 0);
    CHECK_INT(ph_fs_rename(fs, RW, "new.txt", 7, RW, "dir/moved.txt", 13), 0);
    CHECK(exists("rw/dir/moved.txt") && !exists("rw/new.txt"));
    CHECK_INT(ph_fs_link(fs, RW, 0, "dir/moved.txt", 13, RW, "hard.txt", 8), 0);
    CHECK_INT(ph_fs_path_filestat(fs, RW, 0, "hard.txt", 8, &st), 0);
    CHECK_INT(st.nlink, 2);
    CHECK_INT(ph_fs_symlink(fs, "dir/moved.txt", 13, RW, "sym", 3), 0);
    {
        char lb[64];
        CHECK_INT(ph_fs_readlink(fs, RW, "sym", 3, lb, sizeof lb, &n), 0);
        CHECK(n == 13 && memcmp(lb, "dir/moved.txt", 13) == 0);
        CHECK_INT(ph_fs_readlink(fs, RW, "sym", 3, lb, 4, &n), 0);
        CHECK_INT(n, 4);
        CHECK_INT(ph_fs_readlink(fs, RW, "hard.txt", 8, lb, sizeof lb, &n), PH_EINVAL);
    }
    CHECK_INT(ph_fs_path_filestat(fs, RW, 0, "sym", 3, &st), 0);
    CHECK_INT(st.filetype, PH_FILETYPE_SYMBOLIC_LINK);
    CHECK_INT(ph_fs_path_filestat(fs, RW, PH_LOOKUP_SYMLINK_FOLLOW, "sym", 3, &st), 0);
    CHECK_INT(st.filetype, PH_FILETYPE_REGULAR_FILE);
    CHECK_INT(ph_fs_path_set_times(fs, RW, 0, "hard.txt", 8, 0, 5000000000u, PH_FST_MTIM), 0);
    CHECK_INT(ph_fs_path_filestat(fs, RW, 0, "hard.txt", 8, &st), 0);
    CHECK_INT(st.mtim, 5000000000u);
    CHECK_INT(ph_fs_unlink(fs, RW, "sym", 3), 0);
    CHECK_INT(ph_fs_unlink(fs, RW, "hard.txt", 8), 0);
    CHECK_INT(ph_fs_unlink(fs, RW, "dir", 3), PH_EISDIR);
    CHECK_INT(ph_fs_rmdir(fs, RW, "dir", 3), PH_ENOTEMPTY);
    CHECK_INT(ph_fs_unlink(fs, RW, "dir/moved.txt", 13), 0);
    CHECK_INT(ph_fs_rmdir(fs, RW, "dir", 3), 0);
    CHECK_INT(ph_fs_rmdir(fs, RW, "dir2/", 5), 0);
    CHECK_INT(ph_fs_rmdir(fs, RW, ".", 1), PH_EINVAL);
    CHECK(!exists("rw/dir"));
    CHECK_INT(seen.count, 0);
    ph_fs_delete(fs);
}

/* fd_readdir: every name once, cookies resume, a cut entry is re-read. */
static void test_readdir(void)
{
    ph_fs *fs = make(0);
    uint8_t buf[4096];
    size_t used, o = 0;
    uint64_t cookie = 0;
    int names = 0, found_sub = 0, found_file = 0;
    uint32_t fd;

    CHECK_INT(ph_fs_readdir(fs, RO, buf, sizeof buf, 0, &used), 0);
    CHECK(used > 0 && used < sizeof buf);
    while (o + 24 <= used) {
        uint32_t nlen = (uint32_t)buf[o + 16] | (uint32_t)buf[o + 17] << 8;
        if (nlen == 3 && memcmp(buf + o + 24, "sub", 3) == 0)
            found_sub = buf[o + 20] == PH_FILETYPE_DIRECTORY;
        if (nlen == 8 && memcmp(buf + o + 24, "file.txt", 8) == 0)
            found_file = buf[o + 20] == PH_FILETYPE_REGULAR_FILE;
        names++;
        o += 24 + nlen;
    }
    CHECK_INT(o, used);
    CHECK_INT(names, 18); /* . .. file.txt sub and 14 links */
    CHECK(found_sub && found_file);

    /* Small buffers: each call resumes at the cookie of the last whole entry. */
    names = 0;
    for (int guard = 0; guard < 200; guard++) {
        size_t i = 0;
        CHECK_INT(ph_fs_readdir(fs, RO, buf, 40, cookie, &used), 0);
        while (i + 24 <= used) {
            uint32_t nlen = (uint32_t)buf[i + 16];
            if (i + 24 + nlen > used)
                break;
            cookie = (uint64_t)buf[i] | (uint64_t)buf[i + 1] << 8;
            names++;
            i += 24 + nlen;
        }
        if (used < 40)
            break;
    }
    CHECK_INT(names, 18);

    /* Rights: a file has no fd_readdir, a directory opened for reading has. */
    CHECK_INT(op(fs, RO, "file.txt", 0, R_READ, 0, false, &fd), 0);
    CHECK_INT(ph_fs_readdir(fs, fd, buf, sizeof buf, 0, &used), PH_ENOTDIR);
    ph_fs_close(fs, fd);
    CHECK_INT(op(fs, RO, "sub", PH_O_DIRECTORY, PH_RIGHT_FD_READDIR, 0, false, &fd), 0);
    CHECK_INT(ph_fs_readdir(fs, fd, buf, sizeof buf, 0, &used), 0);
    CHECK(used == 3 * 24 + 1 + 2 + 9);
    ph_fs_close(fs, fd);
    CHECK_INT(op(fs, RO, "sub", PH_O_DIRECTORY, PH_RIGHT_FD_READ, 0, false, &fd), 0);
    CHECK_INT(ph_fs_readdir(fs, fd, buf, sizeof buf, 0, &used), PH_ENOTCAPABLE);
    CHECK_STR(seen.rule, "descriptor lacks the fd_readdir right");
    CHECK_STR(seen.path, "/ro/sub");
    ph_fs_close(fs, fd);
    ph_fs_delete(fs);
}

/* ---- escapes ----------------------------------------------------------------- */

/* Each path, opened relative to dir, fails with want and is refused by
 * rule (NULL: no refusal expected, only the errno). */
static void escape(ph_fs *fs, uint32_t dir, const char *path, ph_errno want, const char *rule)
{
    uint32_t fd = 99;
    ph_errno rc;
    ph_filestat st;
    int before = seen.count;
    rc = op(fs, dir, path, 0, R_READ, 0, true, &fd);
    CHECK_INT(rc, want);
    if (rc != want)
        fprintf(stderr, "  path \"%s\" (resolver %d)\n", path, (int)resolver);
    CHECK_INT(fd, 99);
    if (rule) {
        CHECK_INT(seen.count, before + 1);
        CHECK_STR(seen.rule, rule);
        CHECK_INT(seen.error, want);
        CHECK_STR(seen.op, "path_open");
    }
    /* The same path through the other resolution entry point. */
    rc = ph_fs_path_filestat(fs, dir, PH_LOOKUP_SYMLINK_FOLLOW, path, strlen(path), &st);
    CHECK_INT(rc, want);
}

static void test_dotdot(void)
{
    ph_fs *fs = make(0);
    char path[256];
    uint32_t sub;
    const char *leave = "path leaves its directory";

    escape(fs, RO, "..", PH_ENOTCAPABLE, leave);
    CHECK_STR(seen.path, "/ro/..");
    escape(fs, RO, "../outside/secret.txt", PH_ENOTCAPABLE, leave);
    escape(fs, RO, "./..", PH_ENOTCAPABLE, leave);
    escape(fs, RO, "sub/../..", PH_ENOTCAPABLE, leave);
    escape(fs, RO, "sub/../../outside/secret.txt", PH_ENOTCAPABLE, leave);
    escape(fs, RO, "sub/../../ro/file.txt", PH_ENOTCAPABLE, leave);
    escape(fs, RO, "../../../../../../../../etc/passwd", PH_ENOTCAPABLE, leave);
    escape(fs, RO, "nothere/../../x", PH_ENOENT, NULL);
    /* `..` at every depth, one more than the depth. */
    for (int depth = 0; depth <= 3; depth++) {
        size_t o = 0;
        for (int i = 1; i <= depth; i++)
            o += (size_t)snprintf(path + o, sizeof path - o, "d%d/", i);
        for (int i = 0; i <= depth; i++)
            o += (size_t)snprintf(path + o, sizeof path - o, "../");
        snprintf(path + o, sizeof path - o, "outside/secret.txt");
        escape(fs, RW, path, PH_ENOTCAPABLE, leave);
        /* Exactly the depth stays inside. */
        path[o - 3] = '\0';
        if (depth > 0)
            CHECK_INT(op(fs, RW, path, PH_O_DIRECTORY, R_READ, 0, true, NULL), 0);
    }
    /* Beneath a subdirectory's descriptor, not beneath the mount. */
    CHECK_INT(op(fs, RO, "sub", PH_O_DIRECTORY, R_READ | PH_RIGHT_PATH_OPEN, 0, false, &sub), 0);
    escape(fs, sub, "../file.txt", PH_ENOTCAPABLE, leave);
    CHECK_STR(seen.path, "/ro/sub/../file.txt");
    {
        ph_errno rc;
        CHECK_STR(readall(fs, sub, "inner.txt", &rc), "inner");
    }
    CHECK_INT(ph_fs_close(fs, sub), 0);
    /* The directory itself is fine. */
    CHECK_INT(op(fs, RO, "sub/..", PH_O_DIRECTORY, R_READ, 0, true, NULL), 0);
    CHECK_INT(op(fs, RO, ".", PH_O_DIRECTORY, R_READ, 0, true, NULL), 0);
    ph_fs_delete(fs);
}

static void test_absolute_and_symlinks(void)
{
    ph_fs *fs = make(0);
    const char *abs = "symlink to an absolute path";
    const char *leave = "path leaves its directory";
    ph_filestat st;

    escape(fs, RO, "/etc/passwd", PH_ENOTCAPABLE,
           "absolute path (paths are relative to a descriptor)");
    escape(fs, RO, "/", PH_ENOTCAPABLE, "absolute path (paths are relative to a descriptor)");
    escape(fs, RO, "abs", PH_ENOTCAPABLE, abs);
    escape(fs, RO, "abs/secret.txt", PH_ENOTCAPABLE, abs);
    escape(fs, RO, "slash", PH_ENOTCAPABLE, abs);
    escape(fs, RO, "slash/etc/passwd", PH_ENOTCAPABLE, abs);
    escape(fs, RO, "passwd", PH_ENOTCAPABLE, abs);
    escape(fs, RO, "up", PH_ENOTCAPABLE, leave);
    escape(fs, RO, "up/secret.txt", PH_ENOTCAPABLE, leave);
    escape(fs, RO, "up2", PH_ENOTCAPABLE, leave);
    escape(fs, RO, "dotdot", PH_ENOTCAPABLE, leave);
    escape(fs, RO, "dotdot/outside/secret.txt", PH_ENOTCAPABLE, leave);
    escape(fs, RO, "sub/../up/secret.txt", PH_ENOTCAPABLE, leave);
    escape(fs, RO, "loop1", PH_ELOOP, "too many levels of symbolic links");
    escape(fs, RO, "loop1/x", PH_ELOOP, "too many levels of symbolic links");
    escape(fs, RO, "self", PH_ELOOP, "too many levels of symbolic links");
    escape(fs, RO, "dang", PH_ENOENT, NULL);
    /* Not following: the link itself, which is inside, is what is named. */
    CHECK_INT(ph_fs_path_filestat(fs, RO, 0, "abs", 3, &st), 0);
    CHECK_INT(st.filetype, PH_FILETYPE_SYMBOLIC_LINK);
    CHECK_INT(op(fs, RO, "abs", 0, R_READ, 0, false, NULL), PH_ELOOP);
    CHECK_INT(op(fs, RO, "up", 0, R_READ, 0, false, NULL), PH_ELOOP);
    /* A symlink in the middle is always followed, and beneath. */
    CHECK_INT(op(fs, RO, "up/secret.txt", 0, R_READ, 0, false, NULL), PH_ENOTCAPABLE);
    ph_fs_delete(fs);
}

static void test_bad_paths(void)
{
    ph_fs *fs = make(0);
    char *big = malloc(PH_FS_PATH_MAX + 12);
    char name[300];
    ph_errno rc;

    /* NUL: the host would see "file.txt" and stop there. */
    CHECK_INT(ph_fs_open(fs, RO, 0, "file.txt\0/../../x", 17, 0, R_READ, 0, 0, &(uint32_t){0}),
              PH_EINVAL);
    CHECK_STR(seen.rule, "NUL byte inside the path");
    CHECK_INT(ph_fs_mkdir(fs, RW, "a\0b", 3), PH_EINVAL);
    CHECK(!exists("rw/a"));
    CHECK_INT(ph_fs_open(fs, RO, 0, "", 0, 0, R_READ, 0, 0, &(uint32_t){0}), PH_ENOENT);

    /* Huge paths. */
    for (size_t i = 0; i < PH_FS_PATH_MAX + 10; i += 2) {
        big[i] = 'a';
        big[i + 1] = '/';
    }
    CHECK_INT(ph_fs_open(fs, RO, 0, big, PH_FS_PATH_MAX + 1, 0, R_READ, 0, 0, &(uint32_t){0}),
              PH_ENAMETOOLONG);
    CHECK_STR(seen.rule, "path longer than 4095 bytes");
    CHECK_INT(ph_fs_open(fs, RO, 0, big, PH_FS_PATH_MAX, 0, R_READ, 0, 0, &(uint32_t){0}),
              PH_ENOENT);
    /* Components of 255 bytes pass to the host, 256 do not. */
    memset(name, 'n', sizeof name);
    CHECK_INT(ph_fs_open(fs, RO, 0, name, 255, 0, R_READ, 0, 0, &(uint32_t){0}), PH_ENOENT);
    CHECK_INT(ph_fs_open(fs, RO, 0, name, 256, 0, R_READ, 0, 0, &(uint32_t){0}),
              PH_ENAMETOOLONG);
    CHECK_STR(seen.rule, "path component longer than 255 bytes");
    CHECK_INT(ph_fs_mkdir(fs, RW, name, 300), PH_ENAMETOOLONG);
    /* Deep but legal: 2000 levels of "./" resolve to the directory. */
    for (size_t i = 0; i < 4000; i += 2) {
        big[i] = '.';
        big[i + 1] = '/';
    }
    memcpy(big + 4000, "file.txt", 8);
    {
        uint32_t fd;
        CHECK_INT(ph_fs_open(fs, RO, 0, big, 4008, 0, R_READ, 0, 0, &fd), 0);
        ph_fs_close(fs, fd);
    }

    /* Trailing slashes name directories only. */
    CHECK_INT(op(fs, RO, "file.txt/", 0, R_READ, 0, true, NULL), PH_ENOTDIR);
    CHECK_INT(op(fs, RO, "file.txt/.", 0, R_READ, 0, true, NULL), PH_ENOTDIR);
    CHECK_INT(op(fs, RO, "sub/", 0, R_READ, 0, true, NULL), 0);
    CHECK_INT(op(fs, RO, "sub/.", 0, R_READ, 0, true, NULL), 0);
    CHECK_INT(op(fs, RO, "tosub/", 0, R_READ, 0, false, NULL), 0); /* a slash follows */
    CHECK_INT(op(fs, RO, "up/", 0, R_READ, 0, false, NULL), PH_ENOTCAPABLE);
    CHECK_INT(ph_fs_path_filestat(fs, RO, 0, "file.txt/", 9, &(ph_filestat){0}), PH_ENOTDIR);
    CHECK_INT(ph_fs_unlink(fs, RW, "data.txt/", 9), PH_ENOTDIR);
    CHECK(exists("rw/data.txt"));
    CHECK_INT(ph_fs_rename(fs, RW, "data.txt/", 9, RW, "x", 1), PH_ENOTDIR);
    CHECK_INT(op(fs, RW, "newfile/", PH_O_CREAT, R_WRITE, 0, false, NULL), PH_EISDIR);
    CHECK(!exists("rw/newfile"));
    readall(fs, RO, "file.txt", &rc);
    CHECK_INT(rc, 0);
    free(big);
    ph_fs_delete(fs);
}

/* /proc's magic links name objects by kernel fiat, not by path. */
static void test_proc_magic_links(void)
{
    static const char *const links[] = {"root", "cwd", "exe", "fd/0", "fd/1", "fd/2",
                                        "root/etc/passwd", "cwd/..", "self/root",
                                        "thread-self/root", "map_files"};
    ph_fs_config cfg;
    ph_fs *fs;
    perch_err err;
    uint32_t fd;

    memset(&cfg, 0, sizeof cfg);
    cfg.stdin_fd = cfg.stdout_fd = cfg.stderr_fd = -1;
    cfg.resolver = resolver;
    cfg.on_refusal = hook;
    CHECK_INT(ph_fs_new(&cfg, &fs, &err), PERCH_OK);
    CHECK_INT(ph_fs_mount(fs, "/proc/self", "/p", false, &err), PERCH_OK);
    CHECK_INT(ph_fs_mount(fs, "/proc", "/proc", false, &err), PERCH_OK);
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        ph_errno a = op(fs, 3, links[i], 0, R_READ, 0, true, &fd);
        ph_errno b = op(fs, 4, links[i], 0, R_READ, 0, true, &fd);
        char selfp[64];
        ph_errno c;
        snprintf(selfp, sizeof selfp, "self/%s", links[i]);
        c = op(fs, 4, selfp, 0, R_READ, 0, true, &fd);
        if (strcmp(links[i], "map_files") == 0)
            continue; /* a plain directory: only its own links matter */
        CHECK(a != 0);
        CHECK(c != 0);
        if (a == 0 || c == 0)
            fprintf(stderr, "  /proc link %s opened (resolver %d)\n", links[i], (int)resolver);
        (void)b;
    }
    CHECK_INT(op(fs, 3, "root", 0, R_READ, 0, true, &fd), PH_ENOTCAPABLE);
    CHECK_INT(op(fs, 3, "cwd", 0, R_READ, 0, true, &fd), PH_ENOTCAPABLE);
    CHECK_INT(op(fs, 4, "self/root/etc/passwd", 0, R_READ, 0, true, &fd), PH_ENOTCAPABLE);
    /* Ordinary files in /proc still read. */
    CHECK_INT(op(fs, 3, "status", 0, R_READ, 0, true, &fd), 0);
    ph_fs_close(fs, fd);
    ph_fs_delete(fs);
}

/* ---- read-only mounts and rights ----------------------------------------------- */

static void refused(ph_errno rc, const char *op_name, const char *rule_has)
{
    CHECK_INT(rc, PH_ENOTCAPABLE);
    CHECK_STR(seen.op, op_name);
    if (!strstr(seen.rule, rule_has)) {
        check_failures++;
        fprintf(stderr, "rule \"%s\" lacks \"%s\"\n", seen.rule, rule_has);
    }
}

static void test_read_only_mount(void)
{
    ph_fs *fs = make(0);
    struct stat before, after;
    char p[256];
    uint32_t fd, rwfd;
    size_t n;
    struct iovec iov = {(void *)"x", 1};
    const char *ro = "read-only mount /ro";

    at(p, sizeof p, "ro/file.txt");
    stat(p, &before);
    refused(op(fs, RO, "file.txt", 0, PH_RIGHT_FD_WRITE, 0, false, NULL), "path_open",
            "read-only mount /ro (open for write)");
    CHECK_STR(seen.path, "/ro/file.txt");
    refused(op(fs, RO, "file.txt", 0, R_READ | PH_RIGHT_FD_FILESTAT_SET_SIZE, 0, false, NULL),
            "path_open", ro);
    refused(op(fs, RO, "file.txt", 0, R_READ, PH_FDFLAG_APPEND, false, NULL), "path_open", ro);
    refused(op(fs, RO, "new.txt", PH_O_CREAT, R_READ, 0, false, NULL), "path_open",
            "read-only mount /ro (no path_create_file right)");
    refused(op(fs, RO, "file.txt", PH_O_TRUNC, R_READ, 0, false, NULL), "path_open",
            "path_filestat_set_size");
    refused(op(fs, RO, "dang", PH_O_CREAT, R_READ, 0, true, NULL), "path_open", ro);
    refused(ph_fs_mkdir(fs, RO, "newdir", 6), "path_create_directory", ro);
    refused(ph_fs_rmdir(fs, RO, "sub", 3), "path_remove_directory", ro);
    refused(ph_fs_unlink(fs, RO, "file.txt", 8), "path_unlink_file", ro);
    refused(ph_fs_symlink(fs, "file.txt", 8, RO, "s", 1), "path_symlink", ro);
    refused(ph_fs_link(fs, RO, 0, "file.txt", 8, RO, "h", 1), "path_link", ro);
    refused(ph_fs_link(fs, RO, 0, "file.txt", 8, RW, "h", 1), "path_link", ro);
    refused(ph_fs_rename(fs, RO, "file.txt", 8, RO, "f2", 2), "path_rename", ro);
    refused(ph_fs_rename(fs, RO, "file.txt", 8, RW, "stolen", 6), "path_rename", ro);
    refused(ph_fs_rename(fs, RW, "data.txt", 8, RO, "planted", 7), "path_rename", ro);
    refused(ph_fs_path_set_times(fs, RO, 0, "file.txt", 8, 0, 0, PH_FST_MTIM_NOW),
            "path_filestat_set_times", ro);

    /* A descriptor opened on it, even asking for every right, has no
     * mutating one and is read-only on the host. */
    CHECK_INT(op(fs, RO, "file.txt", 0, R_ALL_BUT_WRITE, 0, false, &fd), 0);
    {
        ph_fdstat st;
        CHECK_INT(ph_fs_fdstat(fs, fd, &st), 0);
        CHECK_INT(st.rights_base & PH_RIGHTS_MUTATING, 0);
        CHECK(st.rights_base & PH_RIGHT_FD_READ);
    }
    refused(ph_fs_write(fs, fd, &iov, 1, -1, &n), "fd_write", ro);
    refused(ph_fs_write(fs, fd, &iov, 1, 0, &n), "fd_pwrite", ro);
    refused(ph_fs_set_size(fs, fd, 0), "fd_filestat_set_size", ro);
    refused(ph_fs_set_times(fs, fd, 0, 0, PH_FST_MTIM_NOW), "fd_filestat_set_times", ro);
    refused(ph_fs_allocate(fs, fd, 0, 100), "fd_allocate", ro);
    refused(ph_fs_sync(fs, fd, true), "fd_datasync", ro);
    /* Rights only shrink. */
    refused(ph_fs_set_rights(fs, fd, PH_RIGHT_FD_READ | PH_RIGHT_FD_WRITE, 0),
            "fd_fdstat_set_rights", "rights can only shrink");
    CHECK_INT(ph_fs_set_rights(fs, fd, PH_RIGHT_FD_READ, 0), 0);
    refused(ph_fs_seek(fs, fd, 0, PH_WHENCE_SET, &(uint64_t){0}), "fd_seek",
            "descriptor lacks the fd_seek right");
    CHECK_INT(ph_fs_close(fs, fd), 0);
    /* Subdirectories of a read-only mount are read-only too. */
    CHECK_INT(op(fs, RO, "sub", PH_O_DIRECTORY, R_ALL, 0, false, &fd), PH_ENOTCAPABLE);
    CHECK_INT(op(fs, RO, "sub", PH_O_DIRECTORY, R_ALL_BUT_WRITE, 0, false, &fd), 0);
    refused(op(fs, fd, "inner.txt", PH_O_TRUNC, R_READ, 0, false, NULL), "path_open", ro);
    refused(ph_fs_unlink(fs, fd, "inner.txt", 9), "path_unlink_file", ro);
    CHECK_INT(ph_fs_close(fs, fd), 0);

    stat(p, &after);
    CHECK_STR(content("ro/file.txt"), "hello");
    CHECK_INT(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
    CHECK_INT(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
    CHECK(exists("ro/sub/inner.txt") && !exists("ro/newdir") && !exists("ro/s") &&
          !exists("rw/stolen") && !exists("ro/planted") && !exists("ro/nothere"));

    /* A writable descriptor for comparison. */
    CHECK_INT(op(fs, RW, "data.txt", 0, R_WRITE, 0, false, &rwfd), 0);
    iov.iov_base = (void *)"D";
    CHECK_INT(ph_fs_write(fs, rwfd, &iov, 1, -1, &n), 0);
    iov.iov_base = (void *)"d";
    CHECK_INT(ph_fs_write(fs, rwfd, &iov, 1, 0, &n), 0);
    ph_fs_close(fs, rwfd);
    CHECK_STR(content("rw/data.txt"), "data");
    ph_fs_delete(fs);
}

static void test_across_mounts_and_links(void)
{
    ph_fs *fs = make(0);
    char p[256];
    ph_filestat st;

    CHECK_INT(ph_fs_rename(fs, RW, "data.txt", 8, RW2, "data.txt", 8), PH_EXDEV);
    CHECK_STR(seen.rule, "source and target are on different mounts");
    CHECK_STR(seen.path, "/rw2/data.txt");
    CHECK_INT(ph_fs_link(fs, RW, 0, "data.txt", 8, RW2, "data.txt", 8), PH_EXDEV);
    CHECK(!exists("rw2/data.txt") && exists("rw/data.txt"));

    /* Hard links whose source is outside, however it is named. */
    at(p, sizeof p, "outside/secret.txt");
    {
        char up[256];
        at(up, sizeof up, "rw/up");
        (void)symlink("../outside/secret.txt", up);
        at(up, sizeof up, "rw/abs");
        (void)symlink(p, up);
    }
    CHECK_INT(ph_fs_link(fs, RW, 0, "../outside/secret.txt", 21, RW, "h1", 2), PH_ENOTCAPABLE);
    CHECK_INT(ph_fs_link(fs, RW, PH_LOOKUP_SYMLINK_FOLLOW, "up", 2, RW, "h2", 2),
              PH_ENOTCAPABLE);
    CHECK_INT(ph_fs_link(fs, RW, PH_LOOKUP_SYMLINK_FOLLOW, "abs", 3, RW, "h3", 2),
              PH_ENOTCAPABLE);
    CHECK_STR(seen.rule, "symlink to an absolute path");
    CHECK_INT(ph_fs_link(fs, RW, 0, "data.txt", 8, RW, "../h4", 5), PH_ENOTCAPABLE);
    /* Without following, the link made is to the symlink itself, inside. */
    CHECK_INT(ph_fs_link(fs, RW, 0, "up", 2, RW, "h5", 2), 0);
    CHECK_INT(ph_fs_path_filestat(fs, RW, 0, "h5", 2, &st), 0);
    CHECK_INT(st.filetype, PH_FILETYPE_SYMBOLIC_LINK);
    CHECK(!exists("rw/h1") && !exists("rw/h2") && !exists("rw/h3") && !exists("h4"));
    CHECK_INT(ph_fs_link(fs, RW, 0, "d1", 2, RW, "dirlink", 7), PH_EPERM);
    /* Renames out of the mount through `..` or a symlink. */
    CHECK_INT(ph_fs_rename(fs, RW, "data.txt", 8, RW, "../gone.txt", 11), PH_ENOTCAPABLE);
    CHECK_INT(ph_fs_rename(fs, RW, "data.txt", 8, RW, "up/../gone.txt", 14), PH_ENOTCAPABLE);
    CHECK_INT(ph_fs_rename(fs, RW, "up/../secret.txt", 16, RW, "got.txt", 7), PH_ENOTCAPABLE);
    CHECK_INT(ph_fs_rename(fs, RW, "..", 2, RW, "x", 1), PH_ENOTCAPABLE);
    CHECK_INT(ph_fs_rename(fs, RW, "d1/..", 5, RW, "x", 1), PH_EBUSY);
    CHECK(!exists("gone.txt") && exists("outside/secret.txt") && exists("rw/data.txt"));
    /* Renaming the symlink itself is fine: it moves, its target stays put. */
    CHECK_INT(ph_fs_rename(fs, RW, "up", 2, RW, "d1/up", 5), 0);
    CHECK(exists("outside/secret.txt"));
    CHECK_INT(ph_fs_unlink(fs, RW, "d1/up", 5), 0);
    CHECK(exists("outside/secret.txt"));
    CHECK_INT(ph_fs_rmdir(fs, RW, "..", 2), PH_ENOTCAPABLE);
    CHECK_INT(ph_fs_unlink(fs, RW, "../outside/secret.txt", 21), PH_ENOTCAPABLE);
    CHECK_INT(ph_fs_mkdir(fs, RW, "../made", 7), PH_ENOTCAPABLE);
    CHECK_INT(ph_fs_path_set_times(fs, RW, PH_LOOKUP_SYMLINK_FOLLOW, "abs", 3, 0, 0,
                                   PH_FST_MTIM_NOW),
              PH_ENOTCAPABLE);
    CHECK(exists("outside/secret.txt") && !exists("made"));
    ph_fs_delete(fs);
}

static void test_guest_symlinks(void)
{
    ph_fs *fs = make(0);
    ph_errno rc;

    CHECK_INT(ph_fs_symlink(fs, "/etc/passwd", 11, RW, "s1", 2), PH_ENOTCAPABLE);
    CHECK_STR(seen.rule, "symlink to an absolute path");
    CHECK_INT(ph_fs_symlink(fs, "../outside", 10, RW, "s2", 2), PH_ENOTCAPABLE);
    CHECK_STR(seen.rule, "symlink target climbs out of the mount");
    CHECK_INT(ph_fs_symlink(fs, "d1/../../x", 10, RW, "s3", 2), PH_ENOTCAPABLE);
    CHECK_INT(ph_fs_symlink(fs, "../../x", 7, RW, "d1/s4", 5), PH_ENOTCAPABLE);
    CHECK_INT(ph_fs_symlink(fs, "a\0b", 3, RW, "s5", 2), PH_EINVAL);
    CHECK_INT(ph_fs_symlink(fs, "", 0, RW, "s6", 2), PH_ENOENT);
    CHECK(!exists("rw/s1") && !exists("rw/s2") && !exists("rw/s3") && !exists("rw/d1/s4"));
    /* Inside: allowed, and followed. */
    CHECK_INT(ph_fs_symlink(fs, "../data.txt", 11, RW, "d1/s7", 5), 0);
    CHECK_STR(readall(fs, RW, "d1/s7", &rc), "data");
    CHECK_INT(ph_fs_symlink(fs, "d2/./d3", 7, RW, "d1/s8", 5), 0);
    CHECK_INT(ph_fs_symlink(fs, "x", 1, RW, "d1/s8", 5), PH_EEXIST);
    /* O_CREAT through a dangling link creates its target, inside. */
    CHECK_INT(ph_fs_symlink(fs, "target.txt", 10, RW, "dl", 2), 0);
    CHECK_INT(op(fs, RW, "dl", PH_O_CREAT, R_WRITE, 0, true, NULL), 0);
    CHECK(exists("rw/target.txt"));
    /* O_EXCL never follows. */
    CHECK_INT(ph_fs_symlink(fs, "target2.txt", 11, RW, "dl2", 3), 0);
    CHECK_INT(op(fs, RW, "dl2", PH_O_CREAT | PH_O_EXCL, R_WRITE, 0, true, NULL), PH_EEXIST);
    CHECK(!exists("rw/target2.txt"));
    ph_fs_delete(fs);
}

/* ---- the descriptor table -------------------------------------------------------- */

static void test_fd_table(void)
{
    ph_fs *fs = make(16);
    uint32_t fds[32], fd, n = 0;
    ph_errno rc = 0;
    ph_errno got;
    char buf[8];
    struct iovec iov = {buf, sizeof buf};
    size_t k;
    const char *name;
    size_t len;

    while (n < 32 && (rc = op(fs, RO, "file.txt", 0, R_READ, 0, false, &fds[n])) == 0)
        n++;
    CHECK_INT(rc, PH_EMFILE);
    CHECK_INT(n, 16 - 6); /* 0-2 stdio, 3-5 preopens */
    for (uint32_t i = 0; i < n; i++)
        CHECK(fds[i] >= 6 && fds[i] < 16);
    CHECK_INT(ph_fs_close(fs, fds[4]), 0);
    CHECK_INT(ph_fs_close(fs, fds[4]), PH_EBADF); /* double close */
    CHECK_INT(ph_fs_read(fs, fds[4], &iov, 1, -1, &k), PH_EBADF); /* use after close */
    CHECK_INT(op(fs, RO, "file.txt", 0, R_READ, 0, false, &fd), 0);
    CHECK_INT(fd, fds[4]); /* the lowest free slot */
    for (uint32_t i = 0; i < n; i++)
        ph_fs_close(fs, fds[i]);

    /* fd_renumber into a preopen: the preopen is gone, the file is there. */
    CHECK_INT(op(fs, RO, "file.txt", 0, R_READ, 0, false, &fd), 0);
    CHECK_INT(ph_fs_renumber(fs, fd, RO), 0);
    CHECK_INT(ph_fs_prestat(fs, RO, &name, &len), PH_EBADF);
    CHECK_INT(ph_fs_read(fs, RO, &iov, 1, -1, &k), 0);
    CHECK(k == 5 && memcmp(buf, "hello", 5) == 0);
    CHECK_INT(ph_fs_read(fs, fd, &iov, 1, -1, &k), PH_EBADF);
    CHECK_INT(op(fs, RO, "file.txt", 0, R_READ, 0, false, &fd), PH_ENOTCAPABLE);
    /* A preopen renumbered elsewhere stays a preopen with its rights. */
    CHECK_INT(op(fs, RW, "data.txt", 0, R_READ, 0, false, &fd), 0);
    CHECK_INT(ph_fs_renumber(fs, RW2, fd), 0);
    CHECK_INT(ph_fs_prestat(fs, fd, &name, &len), 0);
    CHECK(len == 4 && memcmp(name, "/rw2", 4) == 0);
    CHECK_INT(ph_fs_prestat(fs, RW2, &name, &len), PH_EBADF);
    CHECK_INT(ph_fs_mkdir(fs, fd, "made", 4), 0);
    CHECK(exists("rw2/made"));
    CHECK_INT(ph_fs_renumber(fs, fd, fd), 0);
    CHECK_INT(ph_fs_renumber(fs, fd, 15), PH_EBADF);
    CHECK_INT(ph_fs_renumber(fs, 15, fd), PH_EBADF);
    CHECK_INT(ph_fs_renumber(fs, fd, 0xffffffffu), PH_EBADF);
    /* Closing a preopen closes the guest's way in, not the mount. */
    CHECK_INT(ph_fs_close(fs, RW), 0);
    CHECK_INT(ph_fs_mkdir(fs, RW, "x", 1), PH_EBADF);
    got = op(fs, RW, "data.txt", 0, R_READ, 0, false, &fd);
    CHECK_INT(got, PH_EBADF);
    ph_fs_delete(fs);
}

/* ---- the hook ------------------------------------------------------------------ */

static void test_hook_stops(void)
{
    ph_fs *fs = make(0);
    perch_err err;
    CHECK(!ph_fs_stop_requested(fs, &err));
    seen.stop = true;
    CHECK_INT(ph_fs_unlink(fs, RO, "file.txt", 8), PH_ENOTCAPABLE);
    CHECK(ph_fs_stop_requested(fs, &err));
    CHECK_INT(err.kind, PERCH_E_WASM_CAPABILITY_DENIED);
    CHECK_STR(err.message, "refused path_unlink_file /ro/file.txt: read-only mount /ro (no path_unlink_file right)");
    ph_fs_delete(fs);
}

static void test_alloc_failures(void)
{
    ph_fs_config cfg;
    ph_fs *fs = NULL;
    perch_err err;
    char p[256];
    int failed = 0;

    memset(&cfg, 0, sizeof cfg);
    cfg.stdin_fd = 0;
    cfg.stdout_fd = 1;
    cfg.stderr_fd = 2;
    at(p, sizeof p, "rw");
    for (uint64_t n = 1; n < 12; n++) {
        perch_err_kind rc;
        pb_alloc_fail_after(n);
        rc = ph_fs_new(&cfg, &fs, &err);
        if (rc == PERCH_OK) {
            rc = ph_fs_mount(fs, p, "/a", true, &err);
            if (rc == PERCH_OK) {
                uint32_t fd;
                ph_errno e = op(fs, 3, "data.txt", 0, R_READ, 0, false, &fd);
                CHECK(e == 0 || e == PH_ENOMEM);
            }
            ph_fs_delete(fs);
        }
        if (rc != PERCH_OK) {
            failed++;
            CHECK_INT(rc, PERCH_E_IO);
            CHECK_MSG(err, "out of memory");
        }
        pb_alloc_fail_after(0);
    }
    CHECK(failed > 0);
}

/* ---- the race ------------------------------------------------------------------ */

static atomic_int race_stop;

/* Swap rw/race/d between a real directory and symlinks out of the mount
 * (absolute and relative) as fast as the host allows. */
static void *swapper(void *arg)
{
    char d[256], real[256], evil[256], evil2[256];
    (void)arg;
    at(d, sizeof d, "rw/race/d");
    at(real, sizeof real, "rw/race/real");
    at(evil, sizeof evil, "rw/race/evil");
    at(evil2, sizeof evil2, "rw/race/evil2");
    while (!atomic_load(&race_stop)) {
        (void)rename(real, d);
        (void)rename(d, real);
        (void)rename(evil, d);
        (void)rename(d, evil);
        (void)rename(evil2, d);
        (void)rename(d, evil2);
    }
    return NULL;
}

static void test_symlink_race(void)
{
    ph_fs *fs = make(0);
    pthread_t t;
    char outside[256], p[256];
    int inside = 0, escaped = 0, refusals = 0;

    mkd("rw/race");
    mkd("rw/race/real");
    mk("rw/race/real/secret.txt", "inside");
    at(outside, sizeof outside, "outside");
    at(p, sizeof p, "rw/race/evil");
    (void)symlink(outside, p);
    at(p, sizeof p, "rw/race/evil2");
    (void)symlink("../../outside", p);
    atomic_store(&race_stop, 0);
    if (pthread_create(&t, NULL, swapper, NULL) != 0) {
        CHECK(false); /* pthread_create failed */
        ph_fs_delete(fs);
        return;
    }
    for (int i = 0; i < 4000; i++) {
        ph_errno rc;
        const char *got = readall(fs, RW, i % 2 ? "race/d/secret.txt" : "race/d/../d/secret.txt",
                                  &rc);
        ph_filestat st;
        if (rc == 0) {
            if (strcmp(got, "inside") == 0)
                inside++;
            else
                escaped++;
        } else if (rc == PH_ENOTCAPABLE) {
            refusals++;
        }
        rc = ph_fs_path_filestat(fs, RW, PH_LOOKUP_SYMLINK_FOLLOW, "race/d/secret.txt", 17, &st);
        if (rc == 0 && st.size != 6)
            escaped++;
    }
    atomic_store(&race_stop, 1);
    pthread_join(t, NULL);
    CHECK_INT(escaped, 0);
    fprintf(stderr, "  race (resolver %d): %d opened inside, %d refused, %d escaped\n",
            (int)resolver, inside, refusals, escaped);
    ph_fs_delete(fs);
}

int main(void)
{
    for (int pass = 0; pass < 2; pass++) {
        resolver = pass == 0 ? PH_FS_RESOLVE_AUTO : PH_FS_RESOLVE_WALK;
        fprintf(stderr, "-- resolver: %s\n", pass == 0 ? "auto (openat2)" : "walk");
        fixture();
        RUN(test_mount_setup);
        RUN(test_preopens);
        RUN(test_read_and_write);
        RUN(test_readdir);
        RUN(test_dotdot);
        RUN(test_absolute_and_symlinks);
        RUN(test_bad_paths);
        RUN(test_proc_magic_links);
        RUN(test_read_only_mount);
        RUN(test_across_mounts_and_links);
        RUN(test_guest_symlinks);
        RUN(test_fd_table);
        RUN(test_hook_stops);
        RUN(test_alloc_failures);
        RUN(test_symlink_race);
        fixture_remove();
    }
    return CHECK_DONE();
}
