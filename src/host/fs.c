/* fs.c: mounts, the guest descriptor table, rights and path resolution
 * beneath a directory (fs.h). */
/* O_PATH, openat2 (syscall), preadv/pwritev: beyond POSIX. */
#define _GNU_SOURCE /* NOLINT(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp) */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <linux/openat2.h>
#include <sys/syscall.h>
#endif

#include "base/base.h"
#include "host/fs.h"

#if defined(O_PATH)
#define DIR_WALK_FLAGS (O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
#else
#define DIR_WALK_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
#endif

/* Deepest directory stack of one walk. */
#define WALK_DEPTH 256

/* Rights of a directory descriptor on a writable mount; a read-only mount
 * gives the same without PH_RIGHTS_MUTATING. */
#define RIGHTS_DIR                                                              \
    (PH_RIGHT_FD_FDSTAT_SET_FLAGS | PH_RIGHT_FD_SYNC | PH_RIGHT_FD_DATASYNC |   \
     PH_RIGHT_FD_ADVISE | PH_RIGHT_PATH_CREATE_DIRECTORY |                      \
     PH_RIGHT_PATH_CREATE_FILE | PH_RIGHT_PATH_LINK_SOURCE |                    \
     PH_RIGHT_PATH_LINK_TARGET | PH_RIGHT_PATH_OPEN | PH_RIGHT_FD_READDIR |     \
     PH_RIGHT_PATH_READLINK | PH_RIGHT_PATH_RENAME_SOURCE |                     \
     PH_RIGHT_PATH_RENAME_TARGET | PH_RIGHT_PATH_FILESTAT_GET |                 \
     PH_RIGHT_PATH_FILESTAT_SET_SIZE | PH_RIGHT_PATH_FILESTAT_SET_TIMES |       \
     PH_RIGHT_FD_FILESTAT_GET | PH_RIGHT_FD_FILESTAT_SET_TIMES |                \
     PH_RIGHT_PATH_SYMLINK | PH_RIGHT_PATH_REMOVE_DIRECTORY |                   \
     PH_RIGHT_PATH_UNLINK_FILE)
#define RIGHTS_FILE                                                             \
    (PH_RIGHT_FD_DATASYNC | PH_RIGHT_FD_READ | PH_RIGHT_FD_SEEK |               \
     PH_RIGHT_FD_FDSTAT_SET_FLAGS | PH_RIGHT_FD_SYNC | PH_RIGHT_FD_TELL |        \
     PH_RIGHT_FD_WRITE | PH_RIGHT_FD_ADVISE | PH_RIGHT_FD_ALLOCATE |            \
     PH_RIGHT_FD_FILESTAT_GET | PH_RIGHT_FD_FILESTAT_SET_SIZE |                 \
     PH_RIGHT_FD_FILESTAT_SET_TIMES | PH_RIGHT_POLL_FD_READWRITE)
/* Rights that make path_open give a host descriptor open for writing. */
#define RIGHTS_OPEN_WRITE                                                       \
    (PH_RIGHT_FD_WRITE | PH_RIGHT_FD_DATASYNC | PH_RIGHT_FD_ALLOCATE |          \
     PH_RIGHT_FD_FILESTAT_SET_SIZE)

#define NO_MOUNT ((size_t)-1)

typedef struct fs_mount {
    char *guest; /* normalized absolute guest path, owned */
    size_t guest_len;
    int dirfd;   /* opened once at mount time, owned */
    bool writable;
} fs_mount;

typedef struct fs_entry {
    int host;        /* -1: the slot is free */
    bool own;        /* host is closed with the entry (false for stdio) */
    bool preopen;
    uint8_t type;
    uint16_t flags;
    uint64_t base, inheriting;
    size_t mount;    /* index into mounts, NO_MOUNT for stdio */
    char *path;      /* lexical guest path, for refusals and symlink checks; owned */
    DIR *dir;        /* fd_readdir state, owned */
    uint64_t dir_pos;
} fs_entry;

struct ph_fs {
    ph_fs_config cfg;
    fs_mount *mounts;
    size_t nmounts;
    fs_entry *fds;
    size_t nfds;
    bool no_openat2;
    bool stop;
    char stop_msg[512];
};

static const char *const right_names[] = {
    "fd_datasync", "fd_read", "fd_seek", "fd_fdstat_set_flags", "fd_sync", "fd_tell",
    "fd_write", "fd_advise", "fd_allocate", "path_create_directory", "path_create_file",
    "path_link_source", "path_link_target", "path_open", "fd_readdir", "path_readlink",
    "path_rename_source", "path_rename_target", "path_filestat_get",
    "path_filestat_set_size", "path_filestat_set_times", "fd_filestat_get",
    "fd_filestat_set_size", "fd_filestat_set_times", "path_symlink",
    "path_remove_directory", "path_unlink_file", "poll_fd_readwrite",
};

/* ---- errors ---------------------------------------------------------------- */

static ph_errno from_errno(int e)
{
    switch (e) {
    case 0: return PH_ESUCCESS;
    case E2BIG: return PH_E2BIG;
    case EACCES: return PH_EACCES;
    case EAGAIN: return PH_EAGAIN;
    case EBADF: return PH_EBADF;
    case EBUSY: return PH_EBUSY;
    case EEXIST: return PH_EEXIST;
    case EFAULT: return PH_EFAULT;
    case EFBIG: return PH_EFBIG;
    case EILSEQ: return PH_EILSEQ;
    case EINTR: return PH_EINTR;
    case EINVAL: return PH_EINVAL;
    case EISDIR: return PH_EISDIR;
    case ELOOP: return PH_ELOOP;
    case EMFILE: return PH_EMFILE;
    case EMLINK: return PH_EMLINK;
    case ENAMETOOLONG: return PH_ENAMETOOLONG;
    case ENFILE: return PH_ENFILE;
    case ENODEV: return PH_ENODEV;
    case ENOENT: return PH_ENOENT;
    case ENOMEM: return PH_ENOMEM;
    case ENOSPC: return PH_ENOSPC;
    case EDQUOT: return 19; /* dquot */
    case ENOSYS: return PH_ENOSYS;
    case ENOTDIR: return PH_ENOTDIR;
    case ENOTEMPTY: return PH_ENOTEMPTY;
    case ENOTTY: return PH_ENOTTY;
    case ENXIO: return PH_ENXIO;
    case EOVERFLOW: return PH_EOVERFLOW;
    case EPERM: return PH_EPERM;
    case EPIPE: return PH_EPIPE;
    case ERANGE: return PH_ERANGE;
    case EROFS: return PH_EROFS;
    case ESPIPE: return PH_ESPIPE;
    case ETXTBSY: return PH_ETXTBSY;
    case EXDEV: return PH_EXDEV;
    default:
        if (e == ENOTSUP || e == EOPNOTSUPP)
            return PH_ENOTSUP;
        return PH_EIO;
    }
}

static ph_errno last_errno(void) { return from_errno(errno); }

/*
 * Tell the hook about a refused call: op on path (joined to the guest path
 * of the descriptor it is relative to) broke rule. Returns code, so callers
 * write `return refuse(...)`.
 */
static ph_errno refuse(ph_fs *fs, const char *op, const fs_entry *e, const char *path,
                       size_t len, const char *rule, ph_errno code)
{
    char where[PH_FS_PATH_MAX + 64];
    ph_fs_refusal r;
    const char *base = e && e->path ? e->path : "";
    size_t show = len > PH_FS_PATH_MAX ? PH_FS_PATH_MAX : len;

    if (path && len)
        snprintf(where, sizeof where, "%s%s%.*s%s", base,
                 base[0] && base[strlen(base) - 1] != '/' ? "/" : "", (int)show, path,
                 show < len ? "..." : "");
    else
        snprintf(where, sizeof where, "%s", base);
    r.op = op;
    r.path = where;
    r.rule = rule;
    r.error = code;
    if (fs->cfg.on_refusal && fs->cfg.on_refusal(fs->cfg.refusal_ud, &r) && !fs->stop) {
        fs->stop = true;
        snprintf(fs->stop_msg, sizeof fs->stop_msg, "%s %s: %s", op, where, rule);
    }
    return code;
}

bool ph_fs_stop_requested(const ph_fs *fs, perch_err *err)
{
    if (!fs->stop)
        return false;
    pb_fail(err, PERCH_E_WASM_CAPABILITY_DENIED, "refused %s", fs->stop_msg);
    return true;
}

/* ---- guest paths (lexical, for display and symlink checks only) -------------- */

/* Normalize "base/path" into out (cap bytes): no `.`, no empty components,
 * `..` removes one component and stops at "/". */
static void lexical_join(const char *base, const char *path, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    const char *parts[2] = {base, path};
    size_t lens[2] = {strlen(base), len};

    out[o++] = '/';
    for (int k = 0; k < 2; k++) {
        const char *s = parts[k];
        size_t n = lens[k], i = 0;
        while (i < n) {
            size_t start, clen;
            while (i < n && s[i] == '/')
                i++;
            start = i;
            while (i < n && s[i] != '/')
                i++;
            clen = i - start;
            if (clen == 0 || (clen == 1 && s[start] == '.'))
                continue;
            if (clen == 2 && s[start] == '.' && s[start + 1] == '.') {
                while (o > 1 && out[o - 1] != '/')
                    o--;
                if (o > 1)
                    o--;
                continue;
            }
            if (o + clen + 2 >= cap)
                break;
            if (o > 1)
                out[o++] = '/';
            memcpy(out + o, s + start, clen);
            o += clen;
        }
    }
    out[o] = '\0';
}

static size_t components(const char *p)
{
    size_t n = 0;
    for (size_t i = 0; p[i]; i++)
        if (p[i] != '/' && (i == 0 || p[i - 1] == '/'))
            n++;
    return n;
}

/* ---- the table ------------------------------------------------------------- */

static fs_entry *entry_at(ph_fs *fs, uint32_t fd)
{
    if (fd >= fs->nfds || fs->fds[fd].host < 0)
        return NULL;
    return &fs->fds[fd];
}

static void entry_clear(fs_entry *e)
{
    if (e->dir)
        closedir(e->dir);
    if (e->own && e->host >= 0)
        close(e->host);
    pb_free(e->path);
    memset(e, 0, sizeof *e);
    e->host = -1;
    e->mount = NO_MOUNT;
}

/* Grow the table to hold at least want slots (want <= max_fds). */
static ph_errno entry_grow(ph_fs *fs, size_t want)
{
    size_t cap = fs->nfds < 8 ? 8 : fs->nfds * 2;
    fs_entry *v;
    if (want <= fs->nfds)
        return PH_ESUCCESS;
    if (cap < want)
        cap = want;
    if (cap > fs->cfg.max_fds)
        cap = fs->cfg.max_fds;
    if (!(v = pb_realloc(fs->fds, cap * sizeof *v)))
        return PH_ENOMEM;
    for (size_t i = fs->nfds; i < cap; i++) {
        memset(&v[i], 0, sizeof v[i]);
        v[i].host = -1;
        v[i].mount = NO_MOUNT;
    }
    fs->fds = v;
    fs->nfds = cap;
    return PH_ESUCCESS;
}

/* The lowest free slot, growing the table up to its bound. The threat is a
 * guest opening descriptors until the host runs out: the table is bounded. */
static ph_errno entry_new(ph_fs *fs, uint32_t *fd)
{
    size_t i;
    ph_errno rc;

    for (i = 0; i < fs->nfds; i++)
        if (fs->fds[i].host < 0) {
            *fd = (uint32_t)i;
            return PH_ESUCCESS;
        }
    if (fs->nfds >= fs->cfg.max_fds)
        return PH_EMFILE;
    if ((rc = entry_grow(fs, fs->nfds + 1)))
        return rc;
    *fd = (uint32_t)i;
    return PH_ESUCCESS;
}

static uint8_t filetype_of(mode_t m)
{
    if (S_ISREG(m))
        return PH_FILETYPE_REGULAR_FILE;
    if (S_ISDIR(m))
        return PH_FILETYPE_DIRECTORY;
    if (S_ISLNK(m))
        return PH_FILETYPE_SYMBOLIC_LINK;
    if (S_ISCHR(m))
        return PH_FILETYPE_CHARACTER_DEVICE;
    if (S_ISBLK(m))
        return PH_FILETYPE_BLOCK_DEVICE;
    if (S_ISSOCK(m))
        return PH_FILETYPE_SOCKET_STREAM;
    return PH_FILETYPE_UNKNOWN;
}

static bool add_stdio(ph_fs *fs, uint32_t fd, int host, uint64_t rights, const char *name)
{
    struct stat st;
    fs_entry *e = &fs->fds[fd];
    if (host < 0)
        return true;
    e->host = host;
    e->own = false;
    e->type = PH_FILETYPE_CHARACTER_DEVICE;
    e->base = rights | PH_RIGHT_POLL_FD_READWRITE | PH_RIGHT_FD_FDSTAT_SET_FLAGS |
              PH_RIGHT_FD_FILESTAT_GET;
    if (fstat(host, &st) == 0) {
        e->type = filetype_of(st.st_mode);
        /* A terminal has no seek or tell rights: that is how a WASI libc's
         * isatty() tells it from a file. */
        if (S_ISREG(st.st_mode))
            e->base |= PH_RIGHT_FD_SEEK | PH_RIGHT_FD_TELL;
    }
    e->path = pb_strdup(name);
    return e->path != NULL;
}

perch_err_kind ph_fs_new(const ph_fs_config *config, ph_fs **out, perch_err *err)
{
    ph_fs *fs = pb_calloc(1, sizeof *fs);

    *out = NULL;
    if (!fs)
        return pb_fail(err, PERCH_E_IO, "out of memory");
    fs->cfg = *config;
    if (fs->cfg.max_fds == 0)
        fs->cfg.max_fds = PH_FS_FDS_DEFAULT;
    if (fs->cfg.max_fds < 3)
        fs->cfg.max_fds = 3;
    if (fs->cfg.resolver == PH_FS_RESOLVE_WALK)
        fs->no_openat2 = true;
#if !defined(__linux__) || !defined(SYS_openat2)
    fs->no_openat2 = true;
#endif
    if (entry_grow(fs, 3) != PH_ESUCCESS)
        goto oom;
    if (!add_stdio(fs, 0, config->stdin_fd, PH_RIGHT_FD_READ, "<stdin>") ||
        !add_stdio(fs, 1, config->stdout_fd, PH_RIGHT_FD_WRITE, "<stdout>") ||
        !add_stdio(fs, 2, config->stderr_fd, PH_RIGHT_FD_WRITE, "<stderr>"))
        goto oom;
    *out = fs;
    return PERCH_OK;
oom:
    ph_fs_delete(fs);
    return pb_fail(err, PERCH_E_IO, "out of memory");
}

void ph_fs_delete(ph_fs *fs)
{
    if (!fs)
        return;
    for (size_t i = 0; i < fs->nfds; i++)
        entry_clear(&fs->fds[i]);
    for (size_t i = 0; i < fs->nmounts; i++) {
        close(fs->mounts[i].dirfd);
        pb_free(fs->mounts[i].guest);
    }
    pb_free(fs->fds);
    pb_free(fs->mounts);
    pb_free(fs);
}

/* ---- mounts ---------------------------------------------------------------- */

uint32_t ph_fs_mount_fd(size_t index) { return (uint32_t)(3 + index); }

/* guest -> "/" | ("/" name)+ ; names are neither "." nor "..". A trailing
 * slash is dropped. */
static bool guest_path_ok(const char *g, size_t *len)
{
    size_t n = strlen(g);
    if (n == 0 || g[0] != '/' || n > PH_FS_PATH_MAX)
        return false;
    while (n > 1 && g[n - 1] == '/')
        n--;
    for (size_t i = 1; i < n;) {
        size_t start = i;
        while (i < n && g[i] != '/')
            i++;
        if (i == start || (i - start == 1 && g[start] == '.') ||
            (i - start == 2 && g[start] == '.' && g[start + 1] == '.'))
            return false;
        i++;
    }
    *len = n;
    return true;
}

perch_err_kind ph_fs_mount(ph_fs *fs, const char *host_dir, const char *guest, bool writable,
                           perch_err *err)
{
    size_t glen;
    uint32_t fd;
    fs_mount *m;
    fs_entry *e;
    int dirfd;

    if (!guest_path_ok(guest, &glen))
        return pb_fail(err, PERCH_E_USAGE,
                       "mount point \"%s\" is not a normalized absolute guest path", guest);
    for (size_t i = 0; i < fs->nmounts; i++)
        if (fs->mounts[i].guest_len == glen && memcmp(fs->mounts[i].guest, guest, glen) == 0)
            return pb_fail(err, PERCH_E_USAGE, "guest path %.*s is mounted twice", (int)glen,
                           guest);
    /* Preopens are 3, 4, ... in mount order, whatever else is open. */
    fd = ph_fs_mount_fd(fs->nmounts);
    if (fd >= fs->cfg.max_fds)
        return pb_fail(err, PERCH_E_USAGE, "too many mounts for %zu descriptors",
                       fs->cfg.max_fds);
    if (entry_grow(fs, (size_t)fd + 1) != PH_ESUCCESS)
        return pb_fail(err, PERCH_E_IO, "out of memory");
    if (fs->fds[fd].host >= 0)
        return pb_fail(err, PERCH_E_USAGE, "mounts must be added before the module runs");
    if (!(m = pb_realloc(fs->mounts, (fs->nmounts + 1) * sizeof *m)))
        return pb_fail(err, PERCH_E_IO, "out of memory");
    fs->mounts = m;
    m = &fs->mounts[fs->nmounts];
    memset(m, 0, sizeof *m);
    if (!(m->guest = pb_strndup(guest, glen)))
        return pb_fail(err, PERCH_E_IO, "out of memory");
    /* The host path is the operator's, so it may go through symlinks; from
     * here on only this descriptor is used. */
    dirfd = open(host_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        pb_free(m->guest);
        return pb_fail(err, PERCH_E_IO, "cannot mount %s at %.*s: %s", host_dir, (int)glen,
                       guest, strerror(errno));
    }
    m->dirfd = dirfd;
    m->guest_len = glen;
    m->writable = writable;

    e = &fs->fds[fd];
    e->host = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    e->path = pb_strdup(m->guest);
    if (e->host < 0 || !e->path) {
        int saved = errno;
        entry_clear(e);
        close(dirfd);
        pb_free(m->guest);
        if (!e->path)
            return pb_fail(err, PERCH_E_IO, "out of memory");
        return pb_fail(err, PERCH_E_IO, "cannot mount %s: %s", host_dir, strerror(saved));
    }
    e->own = true;
    e->preopen = true;
    e->type = PH_FILETYPE_DIRECTORY;
    e->mount = fs->nmounts;
    e->base = writable ? RIGHTS_DIR : RIGHTS_DIR & ~PH_RIGHTS_MUTATING;
    e->inheriting = writable ? RIGHTS_DIR | RIGHTS_FILE
                             : (RIGHTS_DIR | RIGHTS_FILE) & ~PH_RIGHTS_MUTATING;
    fs->nmounts++;
    return PERCH_OK;
}

perch_err_kind ph_fs_mount_spec(ph_fs *fs, const char *spec, bool writable, perch_err *err)
{
    const char *sep = NULL;
    char *host;
    perch_err_kind rc;

    for (const char *p = spec; (p = strstr(p, ":/")) != NULL; p++)
        sep = p;
    if (!sep || sep == spec)
        return pb_fail(err, PERCH_E_USAGE, "expected HOST:GUEST with an absolute GUEST, got \"%s\"",
                       spec);
    if (!(host = pb_strndup(spec, (size_t)(sep - spec))))
        return pb_fail(err, PERCH_E_IO, "out of memory");
    rc = ph_fs_mount(fs, host, sep + 1, writable, err);
    pb_free(host);
    return rc;
}

bool ph_fs_mount_of(const ph_fs *fs, const char *path, size_t len, size_t *index, size_t *rest)
{
    bool found = false;
    size_t best = 0;

    if (len == 0 || path[0] != '/')
        return false;
    for (size_t i = 0; i < fs->nmounts; i++) {
        const fs_mount *m = &fs->mounts[i];
        size_t n = m->guest_len;
        bool root = n == 1;
        /* "/data" covers "/data" and "/data/...", never "/database". */
        if (root || (len >= n && memcmp(path, m->guest, n) == 0 &&
                     (len == n || path[n] == '/'))) {
            size_t weight = root ? 0 : n;
            if (!found || weight > best) {
                found = true;
                best = weight;
                *index = i;
                *rest = root ? 1 : n;
            }
        }
    }
    if (found) {
        while (*rest < len && path[*rest] == '/')
            (*rest)++;
    }
    return found;
}

/* ---- rights ---------------------------------------------------------------- */

/*
 * The descriptor fd with every right in rights, else EBADF or ENOTCAPABLE
 * (reported as a refusal). The threat: a guest using a descriptor for more
 * than its mount grants, e.g. writing through one from a read-only mount.
 */
static ph_errno need_at(ph_fs *fs, const char *op, uint32_t fd, uint64_t rights,
                        const char *path, size_t len, fs_entry **out)
{
    fs_entry *e = entry_at(fs, fd);
    uint64_t missing;
    char rule[160];
    int bit = 0;

    *out = e;
    if (!e)
        return PH_EBADF;
    missing = rights & ~e->base;
    if (!missing)
        return PH_ESUCCESS;
    /* Standard streams that are not files: not a capability question. */
    if (e->mount == NO_MOUNT && (missing & (PH_RIGHT_FD_SEEK | PH_RIGHT_FD_TELL)))
        return PH_ESPIPE;
    while (!(missing & ((uint64_t)1 << bit)))
        bit++;
    if ((missing & PH_RIGHTS_MUTATING) && e->mount != NO_MOUNT &&
        !fs->mounts[e->mount].writable)
        snprintf(rule, sizeof rule, "read-only mount %s (no %s right)",
                 fs->mounts[e->mount].guest, right_names[bit]);
    else
        snprintf(rule, sizeof rule, "descriptor lacks the %s right", right_names[bit]);
    return refuse(fs, op, e, path, len, rule, PH_ENOTCAPABLE);
}

/* The same for calls without a path. */
static ph_errno need(ph_fs *fs, const char *op, uint32_t fd, uint64_t rights, fs_entry **out)
{
    return need_at(fs, op, fd, rights, NULL, 0, out);
}

/* ---- resolution ------------------------------------------------------------ */

/* Where a path resolved to: the directory holding its last component. */
typedef struct fs_res {
    int dirfd;    /* beneath the start directory */
    bool own;     /* dirfd must be closed (res_done) */
    bool slash;   /* the path ended with '/' (the object must be a directory) */
    char name[PH_FS_NAME_MAX + 1]; /* last component, or "." for dirfd itself */
} fs_res;

static void res_done(fs_res *r)
{
    if (r->own && r->dirfd >= 0)
        close(r->dirfd);
    r->dirfd = -1;
    r->own = false;
}

static bool is_dot(const char *s, size_t n) { return n == 1 && s[0] == '.'; }
static bool is_dotdot(const char *s, size_t n) { return n == 2 && s[0] == '.' && s[1] == '.'; }

/* Checks every guest path goes through before it reaches the host: the
 * threats are truncation at a NUL the guest hid in the path and lengths
 * the host would handle differently from this layer. */
static ph_errno path_check(ph_fs *fs, const char *op, const fs_entry *e, const char *path,
                           size_t len)
{
    size_t run = 0;
    if (len == 0)
        return PH_ENOENT;
    if (path[0] == '/')
        return refuse(fs, op, e, path, len, "absolute path (paths are relative to a descriptor)",
                      PH_ENOTCAPABLE);
    if (memchr(path, '\0', len))
        return refuse(fs, op, e, path, len, "NUL byte inside the path", PH_EINVAL);
    if (len > PH_FS_PATH_MAX)
        return refuse(fs, op, e, path, PH_FS_PATH_MAX, "path longer than 4095 bytes",
                      PH_ENAMETOOLONG);
    for (size_t i = 0; i < len; i++) {
        run = path[i] == '/' ? 0 : run + 1;
        if (run > PH_FS_NAME_MAX)
            return refuse(fs, op, e, path, len, "path component longer than 255 bytes",
                          PH_ENAMETOOLONG);
    }
    return PH_ESUCCESS;
}

/*
 * The portable walk. Resolve path beneath e's directory one component at a
 * time:
 *
 *   path      -> component ("/" component)* "/"*
 *   component -> "." (stay) | ".." (pop the stack; never below e) | name
 *
 * Each intermediate name is opened with O_NOFOLLOW | O_DIRECTORY, so the
 * kernel never follows a symlink for us; a symlink met on the way (or as
 * the last component when following) is read and spliced in front of what
 * is left of the path, then resolved beneath the same stack, so `..` in a
 * link target pops like any other. `..` never asks the kernel: a directory
 * moved elsewhere while the walk holds it cannot lead the walk out.
 */
static ph_errno walk(ph_fs *fs, const char *op, fs_entry *e, const char *path, size_t len,
                     bool follow, fs_res *r)
{
    int stack[WALK_DEPTH];
    size_t depth = 1, pos = 0, plen = len;
    unsigned hops = 0;
    char pend[PH_FS_PATH_MAX + 1];
    char link[PH_FS_PATH_MAX + 1];
    ph_errno rc = PH_ESUCCESS;

    stack[0] = e->host;
    memcpy(pend, path, len);
    r->dirfd = -1;
    r->own = false;
    r->slash = false;
    for (;;) {
        size_t start, clen, after;
        bool last, slash;
        ssize_t n;
        int fd, top = stack[depth - 1];

        while (pos < plen && pend[pos] == '/')
            pos++;
        if (pos == plen) {
            /* Only slashes left: the path names the directory on top. */
            strcpy(r->name, ".");
            r->slash = true;
            break;
        }
        start = pos;
        while (pos < plen && pend[pos] != '/')
            pos++;
        clen = pos - start;
        after = pos;
        while (after < plen && pend[after] == '/')
            after++;
        last = after == plen;
        slash = last && pos < plen;
        if (is_dot(pend + start, clen)) {
            if (last) {
                strcpy(r->name, ".");
                break;
            }
            continue;
        }
        if (is_dotdot(pend + start, clen)) {
            /* The escape: `..` from the directory the path is relative to. */
            if (depth == 1) {
                rc = refuse(fs, op, e, path, len, "path leaves its directory", PH_ENOTCAPABLE);
                goto fail;
            }
            close(stack[--depth]);
            if (last) {
                strcpy(r->name, ".");
                break;
            }
            continue;
        }
        if (clen > PH_FS_NAME_MAX) {
            rc = PH_ENAMETOOLONG;
            goto fail;
        }
        memcpy(r->name, pend + start, clen);
        r->name[clen] = '\0';
        if (last && !follow && !slash) {
            break;
        }
        if (last) {
            n = readlinkat(top, r->name, link, sizeof link);
            if (n < 0) {
                if (errno == EINVAL || errno == ENOENT) {
                    r->slash = slash;
                    break;
                }
                rc = last_errno();
                goto fail;
            }
        } else {
            fd = openat(top, r->name, DIR_WALK_FLAGS);
            if (fd >= 0) {
                if (depth == WALK_DEPTH) {
                    close(fd);
                    rc = PH_ENAMETOOLONG;
                    goto fail;
                }
                stack[depth++] = fd;
                continue;
            }
            if (errno != ENOTDIR && errno != ELOOP) {
                rc = last_errno();
                goto fail;
            }
            n = readlinkat(top, r->name, link, sizeof link);
            if (n < 0) {
                rc = errno == EINVAL ? PH_ENOTDIR : last_errno();
                goto fail;
            }
        }
        /* A symlink: splice its target in front of the rest of the path. */
        if (++hops > PH_FS_SYMLINK_HOPS) {
            rc = refuse(fs, op, e, path, len, "too many levels of symbolic links", PH_ELOOP);
            goto fail;
        }
        if ((size_t)n >= sizeof link || (size_t)n + (plen - pos) > PH_FS_PATH_MAX) {
            rc = PH_ENAMETOOLONG;
            goto fail;
        }
        if (n == 0) {
            rc = PH_ENOENT;
            goto fail;
        }
        /* An absolute target names a host path: it could only be resolved
         * by leaving the directory, so it is never followed. */
        if (link[0] == '/') {
            rc = refuse(fs, op, e, path, len, "symlink to an absolute path", PH_ENOTCAPABLE);
            goto fail;
        }
        memmove(pend + n, pend + pos, plen - pos);
        memcpy(pend, link, (size_t)n);
        plen = (size_t)n + (plen - pos);
        pos = 0;
    }
    r->dirfd = stack[depth - 1];
    r->own = depth > 1;
    for (size_t i = 1; i + 1 < depth; i++)
        close(stack[i]);
    return PH_ESUCCESS;
fail:
    for (size_t i = 1; i < depth; i++)
        close(stack[i]);
    return rc;
}

#if defined(__linux__) && defined(SYS_openat2)
/* openat2 beneath dirfd with no magic links. Returns the descriptor, or -1
 * with errno set. */
static int beneath(int dirfd, const char *path, int flags, mode_t mode)
{
    struct open_how how;
    long fd;
    memset(&how, 0, sizeof how);
    how.flags = (uint64_t)(unsigned)flags;
    how.mode = (flags & O_CREAT) ? mode : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    do
        fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
    while (fd < 0 && errno == EINTR);
    return (int)fd;
}

/* The kernel refused openat2 itself (too old, or a seccomp filter): use
 * the walk from now on. */
static bool openat2_unavailable(ph_fs *fs, int e)
{
    if (e == ENOSYS || e == EPERM || e == E2BIG) {
        fs->no_openat2 = true;
        return true;
    }
    return false;
}

/* Whether an openat2 failure should be re-done by the walk, which names
 * the refusal precisely (escape, absolute link, loop) or retries a rename
 * race the kernel reported. */
static bool needs_walk(int e) { return e == EXDEV || e == ELOOP || e == EAGAIN; }
#endif

/*
 * Resolve path beneath e into (directory, last component), following a
 * symlink in the last component when follow is set. openat2 opens the
 * directory part when the kernel has it; anything unusual (a symlink as
 * last component, an escape, a loop) is handed to the walk.
 */
static ph_errno resolve(ph_fs *fs, const char *op, fs_entry *e, const char *path, size_t len,
                        bool follow, fs_res *r)
{
    ph_errno rc = path_check(fs, op, e, path, len);
    memset(r, 0, sizeof *r);
    r->dirfd = -1;
    if (rc)
        return rc;
#if defined(__linux__) && defined(SYS_openat2)
    if (!fs->no_openat2) {
        size_t end = len, start;
        char dir[PH_FS_PATH_MAX + 1];
        bool slash = false;
        while (end > 0 && path[end - 1] == '/') {
            end--;
            slash = true;
        }
        start = end;
        while (start > 0 && path[start - 1] != '/')
            start--;
        if (end == 0 || is_dot(path + start, end - start) ||
            is_dotdot(path + start, end - start))
            return walk(fs, op, e, path, len, follow, r);
        r->slash = slash;
        memcpy(r->name, path + start, end - start);
        r->name[end - start] = '\0';
        if (start == 0) {
            r->dirfd = e->host;
            r->own = false;
        } else {
            memcpy(dir, path, start);
            dir[start] = '\0';
            r->dirfd = beneath(e->host, dir, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
            if (r->dirfd < 0) {
                int saved = errno;
                if (openat2_unavailable(fs, saved) || needs_walk(saved))
                    return walk(fs, op, e, path, len, follow, r);
                return from_errno(saved);
            }
            r->own = true;
        }
        if (follow || slash) {
            char probe[2];
            if (readlinkat(r->dirfd, r->name, probe, sizeof probe) >= 0) {
                res_done(r);
                return walk(fs, op, e, path, len, follow, r);
            }
        }
        return PH_ESUCCESS;
    }
#endif
    return walk(fs, op, e, path, len, follow, r);
}

/* Open path beneath e with host flags: openat2 in one step where the
 * kernel has it, else the walk and an O_NOFOLLOW open of the last name. */
static int open_beneath(ph_fs *fs, const char *op, fs_entry *e, const char *path, size_t len,
                        bool follow, int flags, ph_errno *rc)
{
    fs_res r;
    int fd;

    if ((*rc = path_check(fs, op, e, path, len)))
        return -1;
#if defined(__linux__) && defined(SYS_openat2)
    if (!fs->no_openat2) {
        char p[PH_FS_PATH_MAX + 1];
        memcpy(p, path, len);
        p[len] = '\0';
        fd = beneath(e->host, p, flags | (follow ? 0 : O_NOFOLLOW), 0666);
        if (fd >= 0)
            return fd;
        if (!openat2_unavailable(fs, errno) && !needs_walk(errno)) {
            *rc = last_errno();
            return -1;
        }
    }
#endif
    if ((*rc = walk(fs, op, e, path, len, follow, &r)))
        return -1;
    if (r.slash && (flags & O_CREAT)) {
        /* "name/" cannot be created as a file. */
        *rc = PH_EISDIR;
        res_done(&r);
        return -1;
    }
    if (r.slash)
        flags |= O_DIRECTORY;
    fd = openat(r.dirfd, r.name, flags | O_NOFOLLOW, 0666);
    if (fd < 0)
        *rc = last_errno();
    res_done(&r);
    return fd;
}

/* A trailing slash promises a directory: refuse one on anything else. */
static ph_errno slash_check(const fs_res *r)
{
    struct stat st;
    if (r->slash && fstatat(r->dirfd, r->name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        !S_ISDIR(st.st_mode))
        return PH_ENOTDIR;
    return PH_ESUCCESS;
}

/* ---- descriptors ----------------------------------------------------------- */

ph_errno ph_fs_close(ph_fs *fs, uint32_t fd)
{
    fs_entry *e = entry_at(fs, fd);
    if (!e)
        return PH_EBADF;
    entry_clear(e);
    return PH_ESUCCESS;
}

ph_errno ph_fs_renumber(ph_fs *fs, uint32_t from, uint32_t to)
{
    fs_entry *a = entry_at(fs, from), *b = entry_at(fs, to);
    if (!a || !b)
        return PH_EBADF;
    if (from == to)
        return PH_ESUCCESS;
    entry_clear(b);
    *b = *a;
    memset(a, 0, sizeof *a);
    a->host = -1;
    a->mount = NO_MOUNT;
    return PH_ESUCCESS;
}

ph_errno ph_fs_prestat(ph_fs *fs, uint32_t fd, const char **name, size_t *len)
{
    fs_entry *e = entry_at(fs, fd);
    if (!e || !e->preopen)
        return PH_EBADF;
    *name = fs->mounts[e->mount].guest;
    *len = fs->mounts[e->mount].guest_len;
    return PH_ESUCCESS;
}

ph_errno ph_fs_fdstat(ph_fs *fs, uint32_t fd, ph_fdstat *out)
{
    fs_entry *e = entry_at(fs, fd);
    if (!e)
        return PH_EBADF;
    out->filetype = e->type;
    out->flags = e->flags;
    out->rights_base = e->base;
    out->rights_inheriting = e->inheriting;
    return PH_ESUCCESS;
}

ph_errno ph_fs_set_flags(ph_fs *fs, uint32_t fd, uint16_t flags)
{
    fs_entry *e;
    ph_errno rc = need(fs, "fd_fdstat_set_flags", fd, PH_RIGHT_FD_FDSTAT_SET_FLAGS, &e);
    int fl;
    if (rc)
        return rc;
    if (flags & ~(PH_FDFLAG_APPEND | PH_FDFLAG_NONBLOCK))
        return PH_ENOTSUP;
    if ((fl = fcntl(e->host, F_GETFL)) < 0)
        return last_errno();
    fl &= ~(O_APPEND | O_NONBLOCK);
    if (flags & PH_FDFLAG_APPEND)
        fl |= O_APPEND;
    if (flags & PH_FDFLAG_NONBLOCK)
        fl |= O_NONBLOCK;
    if (fcntl(e->host, F_SETFL, fl) != 0)
        return last_errno();
    e->flags = (uint16_t)((e->flags & ~(PH_FDFLAG_APPEND | PH_FDFLAG_NONBLOCK)) | flags);
    return PH_ESUCCESS;
}

ph_errno ph_fs_set_rights(ph_fs *fs, uint32_t fd, uint64_t base, uint64_t inheriting)
{
    fs_entry *e = entry_at(fs, fd);
    if (!e)
        return PH_EBADF;
    /* The threat: a guest granting itself rights its mount never gave. */
    if ((base & ~e->base) || (inheriting & ~e->inheriting))
        return refuse(fs, "fd_fdstat_set_rights", e, NULL, 0, "rights can only shrink",
                      PH_ENOTCAPABLE);
    e->base = base;
    e->inheriting = inheriting;
    return PH_ESUCCESS;
}

ph_errno ph_fs_read(ph_fs *fs, uint32_t fd, const struct iovec *iov, size_t n, int64_t offset,
                    size_t *done)
{
    fs_entry *e;
    ssize_t k;
    ph_errno rc = need(fs, offset < 0 ? "fd_read" : "fd_pread", fd,
                       PH_RIGHT_FD_READ | (offset < 0 ? 0 : PH_RIGHT_FD_SEEK), &e);
    *done = 0;
    if (rc)
        return rc;
    if (n > IOV_MAX)
        return PH_EINVAL;
    do
        k = offset < 0 ? readv(e->host, iov, (int)n) : preadv(e->host, iov, (int)n, offset);
    while (k < 0 && errno == EINTR);
    if (k < 0)
        return last_errno();
    *done = (size_t)k;
    return PH_ESUCCESS;
}

ph_errno ph_fs_write(ph_fs *fs, uint32_t fd, const struct iovec *iov, size_t n, int64_t offset,
                     size_t *done)
{
    fs_entry *e;
    ssize_t k;
    ph_errno rc = need(fs, offset < 0 ? "fd_write" : "fd_pwrite", fd,
                       PH_RIGHT_FD_WRITE | (offset < 0 ? 0 : PH_RIGHT_FD_SEEK), &e);
    *done = 0;
    if (rc)
        return rc;
    if (n > IOV_MAX)
        return PH_EINVAL;
    do
        k = offset < 0 ? writev(e->host, iov, (int)n) : pwritev(e->host, iov, (int)n, offset);
    while (k < 0 && errno == EINTR);
    if (k < 0)
        return last_errno();
    *done = (size_t)k;
    return PH_ESUCCESS;
}

ph_errno ph_fs_seek(ph_fs *fs, uint32_t fd, int64_t offset, uint8_t whence, uint64_t *pos)
{
    fs_entry *e;
    int w;
    off_t r;
    ph_errno rc;
    switch (whence) {
    case PH_WHENCE_SET: w = SEEK_SET; break;
    case PH_WHENCE_CUR: w = SEEK_CUR; break;
    case PH_WHENCE_END: w = SEEK_END; break;
    default: return PH_EINVAL;
    }
    rc = need(fs, "fd_seek", fd,
              offset == 0 && whence == PH_WHENCE_CUR ? PH_RIGHT_FD_TELL : PH_RIGHT_FD_SEEK, &e);
    if (rc)
        return rc;
    if ((r = lseek(e->host, (off_t)offset, w)) < 0)
        return last_errno();
    *pos = (uint64_t)r;
    return PH_ESUCCESS;
}

ph_errno ph_fs_tell(ph_fs *fs, uint32_t fd, uint64_t *pos)
{
    fs_entry *e;
    off_t r;
    ph_errno rc = need(fs, "fd_tell", fd, PH_RIGHT_FD_TELL, &e);
    if (rc)
        return rc;
    if ((r = lseek(e->host, 0, SEEK_CUR)) < 0)
        return last_errno();
    *pos = (uint64_t)r;
    return PH_ESUCCESS;
}

ph_errno ph_fs_sync(ph_fs *fs, uint32_t fd, bool data_only)
{
    fs_entry *e;
    ph_errno rc = need(fs, data_only ? "fd_datasync" : "fd_sync", fd,
                       data_only ? PH_RIGHT_FD_DATASYNC : PH_RIGHT_FD_SYNC, &e);
    if (rc)
        return rc;
    if ((data_only ? fdatasync(e->host) : fsync(e->host)) != 0)
        return last_errno();
    return PH_ESUCCESS;
}

ph_errno ph_fs_advise(ph_fs *fs, uint32_t fd, uint64_t offset, uint64_t len, uint8_t advice)
{
    fs_entry *e;
    ph_errno rc = need(fs, "fd_advise", fd, PH_RIGHT_FD_ADVISE, &e);
    if (rc)
        return rc;
    if (advice > 5 || offset > INT64_MAX || len > INT64_MAX)
        return PH_EINVAL;
    /* Advice is only advice: the guest learns nothing from the host's answer. */
    return PH_ESUCCESS;
}

ph_errno ph_fs_allocate(ph_fs *fs, uint32_t fd, uint64_t offset, uint64_t len)
{
    fs_entry *e;
    int r;
    ph_errno rc = need(fs, "fd_allocate", fd, PH_RIGHT_FD_ALLOCATE, &e);
    if (rc)
        return rc;
    if (len == 0 || offset > INT64_MAX || len > INT64_MAX - offset)
        return PH_EINVAL;
    r = posix_fallocate(e->host, (off_t)offset, (off_t)len);
    return from_errno(r);
}

static void filestat_of(const struct stat *st, ph_filestat *out)
{
    out->dev = (uint64_t)st->st_dev;
    out->ino = (uint64_t)st->st_ino;
    out->filetype = filetype_of(st->st_mode);
    out->nlink = (uint64_t)st->st_nlink;
    out->size = (uint64_t)st->st_size;
    out->atim = (uint64_t)st->st_atim.tv_sec * 1000000000u + (uint64_t)st->st_atim.tv_nsec;
    out->mtim = (uint64_t)st->st_mtim.tv_sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec;
    out->ctim = (uint64_t)st->st_ctim.tv_sec * 1000000000u + (uint64_t)st->st_ctim.tv_nsec;
}

ph_errno ph_fs_filestat(ph_fs *fs, uint32_t fd, ph_filestat *out)
{
    fs_entry *e;
    struct stat st;
    ph_errno rc = need(fs, "fd_filestat_get", fd, PH_RIGHT_FD_FILESTAT_GET, &e);
    if (rc)
        return rc;
    if (fstat(e->host, &st) != 0)
        return last_errno();
    filestat_of(&st, out);
    return PH_ESUCCESS;
}

ph_errno ph_fs_set_size(ph_fs *fs, uint32_t fd, uint64_t size)
{
    fs_entry *e;
    ph_errno rc = need(fs, "fd_filestat_set_size", fd, PH_RIGHT_FD_FILESTAT_SET_SIZE, &e);
    if (rc)
        return rc;
    if (size > INT64_MAX)
        return PH_EINVAL;
    if (ftruncate(e->host, (off_t)size) != 0)
        return last_errno();
    return PH_ESUCCESS;
}

/* WASI fstflags to two timespecs for futimens/utimensat. */
static ph_errno times_of(uint64_t atim, uint64_t mtim, uint16_t fst, struct timespec ts[2])
{
    if ((fst & ~15u) || ((fst & PH_FST_ATIM) && (fst & PH_FST_ATIM_NOW)) ||
        ((fst & PH_FST_MTIM) && (fst & PH_FST_MTIM_NOW)))
        return PH_EINVAL;
    ts[0].tv_sec = (time_t)(atim / 1000000000u);
    ts[0].tv_nsec = (long)(atim % 1000000000u);
    ts[1].tv_sec = (time_t)(mtim / 1000000000u);
    ts[1].tv_nsec = (long)(mtim % 1000000000u);
    if (fst & PH_FST_ATIM_NOW)
        ts[0].tv_nsec = UTIME_NOW;
    else if (!(fst & PH_FST_ATIM))
        ts[0].tv_nsec = UTIME_OMIT;
    if (fst & PH_FST_MTIM_NOW)
        ts[1].tv_nsec = UTIME_NOW;
    else if (!(fst & PH_FST_MTIM))
        ts[1].tv_nsec = UTIME_OMIT;
    return PH_ESUCCESS;
}

ph_errno ph_fs_set_times(ph_fs *fs, uint32_t fd, uint64_t atim, uint64_t mtim, uint16_t fst)
{
    fs_entry *e;
    struct timespec ts[2];
    ph_errno rc = need(fs, "fd_filestat_set_times", fd, PH_RIGHT_FD_FILESTAT_SET_TIMES, &e);
    if (rc || (rc = times_of(atim, mtim, fst, ts)))
        return rc;
    if (futimens(e->host, ts) != 0)
        return last_errno();
    return PH_ESUCCESS;
}

/* One dirent: d_next u64, d_ino u64, d_namlen u32, d_type u8, 3 bytes of
 * padding, then the name without a NUL. Copies what fits of it. */
static size_t put_dirent(uint8_t *buf, size_t room, uint64_t next, uint64_t ino, uint8_t type,
                         const char *name)
{
    uint8_t hdr[24];
    uint32_t nlen = (uint32_t)strlen(name);
    size_t n;
    memset(hdr, 0, sizeof hdr);
    for (int i = 0; i < 8; i++) {
        hdr[i] = (uint8_t)(next >> (8 * i));
        hdr[8 + i] = (uint8_t)(ino >> (8 * i));
    }
    for (int i = 0; i < 4; i++)
        hdr[16 + i] = (uint8_t)(nlen >> (8 * i));
    hdr[20] = type;
    n = room < sizeof hdr ? room : sizeof hdr;
    memcpy(buf, hdr, n);
    if (room > sizeof hdr) {
        size_t m = room - sizeof hdr < nlen ? room - sizeof hdr : nlen;
        memcpy(buf + sizeof hdr, name, m);
        n += m;
    }
    return n;
}

static uint8_t dirent_type(DIR *d, const struct dirent *de)
{
    struct stat st;
    switch (de->d_type) {
    case DT_REG: return PH_FILETYPE_REGULAR_FILE;
    case DT_DIR: return PH_FILETYPE_DIRECTORY;
    case DT_LNK: return PH_FILETYPE_SYMBOLIC_LINK;
    case DT_CHR: return PH_FILETYPE_CHARACTER_DEVICE;
    case DT_BLK: return PH_FILETYPE_BLOCK_DEVICE;
    case DT_SOCK: return PH_FILETYPE_SOCKET_STREAM;
    case DT_UNKNOWN:
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
            return filetype_of(st.st_mode);
        return PH_FILETYPE_UNKNOWN;
    default: return PH_FILETYPE_UNKNOWN;
    }
}

ph_errno ph_fs_readdir(ph_fs *fs, uint32_t fd, uint8_t *buf, size_t len, uint64_t cookie,
                       size_t *used)
{
    fs_entry *e;
    size_t o = 0;
    ph_errno rc = need(fs, "fd_readdir", fd, PH_RIGHT_FD_READDIR, &e);

    *used = 0;
    if (rc)
        return rc;
    if (!e->dir) {
        int dfd = openat(e->host, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
            return last_errno();
        if (!(e->dir = fdopendir(dfd))) {
            rc = last_errno();
            close(dfd);
            return rc;
        }
        e->dir_pos = 0;
    }
    /* The cookie is the index of the next entry; anything but the current
     * position restarts the stream and skips to it. */
    if (cookie != e->dir_pos) {
        rewinddir(e->dir);
        e->dir_pos = 0;
        while (e->dir_pos < cookie) {
            errno = 0;
            if (!readdir(e->dir)) {
                if (errno)
                    return last_errno();
                return PH_ESUCCESS;
            }
            e->dir_pos++;
        }
    }
    while (o < len) {
        struct dirent *de;
        errno = 0;
        if (!(de = readdir(e->dir))) {
            if (errno)
                return last_errno();
            break;
        }
        e->dir_pos++;
        o += put_dirent(buf + o, len - o, e->dir_pos, (uint64_t)de->d_ino,
                        dirent_type(e->dir, de), de->d_name);
    }
    /* A cut-off entry is read again by the next call, which asks for it by
     * its cookie: force the restart. */
    if (o == len)
        e->dir_pos = UINT64_MAX;
    *used = o;
    return PH_ESUCCESS;
}

ph_errno ph_fs_poll_fd(ph_fs *fs, uint32_t fd, int *host_fd, uint8_t *filetype)
{
    fs_entry *e;
    ph_errno rc = need(fs, "poll_oneoff", fd, PH_RIGHT_POLL_FD_READWRITE, &e);
    if (rc)
        return rc;
    *host_fd = e->host;
    *filetype = e->type;
    return PH_ESUCCESS;
}

/* ---- paths ----------------------------------------------------------------- */

/* The lexical guest path of path beneath e (owned), or NULL. */
static char *guest_path(const fs_entry *e, const char *path, size_t len)
{
    char out[PH_FS_PATH_MAX + 1];
    lexical_join(e->path ? e->path : "/", path, len, out, sizeof out);
    return pb_strdup(out);
}

ph_errno ph_fs_open(ph_fs *fs, uint32_t dirfd, uint32_t lookup, const char *path, size_t len,
                    uint16_t oflags, uint64_t rights_base, uint64_t rights_inheriting,
                    uint16_t fdflags, uint32_t *out)
{
    static const char op[] = "path_open";
    fs_entry *d, *e;
    uint64_t need_rights = PH_RIGHT_PATH_OPEN, wants_write;
    int flags = O_CLOEXEC | O_NOCTTY, host;
    uint32_t fd;
    struct stat st;
    ph_errno rc;

    if (oflags & PH_O_CREAT)
        need_rights |= PH_RIGHT_PATH_CREATE_FILE;
    if (oflags & PH_O_TRUNC)
        need_rights |= PH_RIGHT_PATH_FILESTAT_SET_SIZE;
    if ((rc = need_at(fs, op, dirfd, need_rights, path, len, &d)))
        return rc;
    /* O_EXCL makes the last component a name to create, never a link to follow. */
    if ((oflags & (PH_O_CREAT | PH_O_EXCL)) == (PH_O_CREAT | PH_O_EXCL))
        lookup &= ~(uint32_t)PH_LOOKUP_SYMLINK_FOLLOW;
    if ((oflags & ~15u) || (fdflags & ~31u))
        return PH_EINVAL;
    /* Open for write: the descriptor it makes would carry rights the
     * directory cannot hand down (always so on a read-only mount). Other
     * requested rights are simply cut to what the directory passes on. */
    wants_write = (rights_base & RIGHTS_OPEN_WRITE) |
                  ((fdflags & PH_FDFLAG_APPEND) ? PH_RIGHT_FD_WRITE : 0);
    if (wants_write & ~d->inheriting) {
        char rule[160];
        if (d->mount != NO_MOUNT && !fs->mounts[d->mount].writable)
            snprintf(rule, sizeof rule, "read-only mount %s (open for write)",
                     fs->mounts[d->mount].guest);
        else
            snprintf(rule, sizeof rule, "directory does not pass on write rights");
        return refuse(fs, op, d, path, len, rule, PH_ENOTCAPABLE);
    }
    if (wants_write)
        flags |= (rights_base & (PH_RIGHT_FD_READ | PH_RIGHT_FD_READDIR)) ? O_RDWR : O_WRONLY;
    else
        flags |= O_RDONLY;
    if (oflags & PH_O_CREAT)
        flags |= O_CREAT;
    if (oflags & PH_O_EXCL)
        flags |= O_EXCL;
    if (oflags & PH_O_TRUNC)
        flags |= O_TRUNC;
    if (oflags & PH_O_DIRECTORY)
        flags |= O_DIRECTORY;
    if (fdflags & PH_FDFLAG_APPEND)
        flags |= O_APPEND;
    if (fdflags & PH_FDFLAG_NONBLOCK)
        flags |= O_NONBLOCK;
    if (fdflags & PH_FDFLAG_DSYNC)
        flags |= O_DSYNC;
    if (fdflags & (PH_FDFLAG_SYNC | PH_FDFLAG_RSYNC))
        flags |= O_SYNC;
    if ((rc = entry_new(fs, &fd)))
        return rc;
    /* entry_new may have moved the table. */
    d = &fs->fds[dirfd];
    host = open_beneath(fs, op, d, path, len, (lookup & PH_LOOKUP_SYMLINK_FOLLOW) != 0, flags,
                        &rc);
    if (host < 0)
        return rc;
    if (fstat(host, &st) != 0) {
        rc = last_errno();
        close(host);
        return rc;
    }
    e = &fs->fds[fd];
    if (!(e->path = guest_path(d, path, len))) {
        close(host);
        return PH_ENOMEM;
    }
    e->host = host;
    e->own = true;
    e->preopen = false;
    e->type = filetype_of(st.st_mode);
    e->flags = fdflags & (PH_FDFLAG_APPEND | PH_FDFLAG_NONBLOCK | PH_FDFLAG_DSYNC |
                          PH_FDFLAG_RSYNC | PH_FDFLAG_SYNC);
    e->mount = d->mount;
    e->base = rights_base & d->inheriting;
    e->inheriting = rights_inheriting & d->inheriting;
    /* Read versus write is the host descriptor's: a read-only one never
     * carries write rights, whatever was asked. */
    if (!wants_write)
        e->base &= ~RIGHTS_OPEN_WRITE & ~PH_RIGHT_FD_WRITE;
    *out = fd;
    return PH_ESUCCESS;
}

ph_errno ph_fs_mkdir(ph_fs *fs, uint32_t dirfd, const char *path, size_t len)
{
    fs_entry *d;
    fs_res r;
    ph_errno rc = need_at(fs, "path_create_directory", dirfd, PH_RIGHT_PATH_CREATE_DIRECTORY,
                          path, len, &d);
    if (rc || (rc = resolve(fs, "path_create_directory", d, path, len, false, &r)))
        return rc;
    if (strcmp(r.name, ".") == 0)
        rc = PH_EEXIST;
    else if (mkdirat(r.dirfd, r.name, 0777) != 0)
        rc = last_errno();
    res_done(&r);
    return rc;
}

ph_errno ph_fs_rmdir(ph_fs *fs, uint32_t dirfd, const char *path, size_t len)
{
    fs_entry *d;
    fs_res r;
    ph_errno rc = need_at(fs, "path_remove_directory", dirfd, PH_RIGHT_PATH_REMOVE_DIRECTORY,
                          path, len, &d);
    if (rc || (rc = resolve(fs, "path_remove_directory", d, path, len, false, &r)))
        return rc;
    if (strcmp(r.name, ".") == 0)
        rc = PH_EINVAL;
    else if (unlinkat(r.dirfd, r.name, AT_REMOVEDIR) != 0)
        rc = last_errno();
    res_done(&r);
    return rc;
}

ph_errno ph_fs_unlink(ph_fs *fs, uint32_t dirfd, const char *path, size_t len)
{
    fs_entry *d;
    fs_res r;
    ph_errno rc = need_at(fs, "path_unlink_file", dirfd, PH_RIGHT_PATH_UNLINK_FILE, path, len,
                          &d);
    if (rc || (rc = resolve(fs, "path_unlink_file", d, path, len, false, &r)))
        return rc;
    if (strcmp(r.name, ".") == 0)
        rc = PH_EISDIR;
    else if (!(rc = slash_check(&r)) && unlinkat(r.dirfd, r.name, 0) != 0)
        rc = last_errno();
    res_done(&r);
    return rc;
}

ph_errno ph_fs_path_filestat(ph_fs *fs, uint32_t dirfd, uint32_t lookup, const char *path,
                             size_t len, ph_filestat *out)
{
    fs_entry *d;
    fs_res r;
    struct stat st;
    ph_errno rc = need_at(fs, "path_filestat_get", dirfd, PH_RIGHT_PATH_FILESTAT_GET, path,
                          len, &d);
    if (rc || (rc = resolve(fs, "path_filestat_get", d, path, len,
                            (lookup & PH_LOOKUP_SYMLINK_FOLLOW) != 0, &r)))
        return rc;
    if (fstatat(r.dirfd, r.name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        rc = last_errno();
    else if (r.slash && !S_ISDIR(st.st_mode))
        rc = PH_ENOTDIR;
    else
        filestat_of(&st, out);
    res_done(&r);
    return rc;
}

ph_errno ph_fs_path_set_times(ph_fs *fs, uint32_t dirfd, uint32_t lookup, const char *path,
                              size_t len, uint64_t atim, uint64_t mtim, uint16_t fst)
{
    fs_entry *d;
    fs_res r;
    struct timespec ts[2];
    ph_errno rc = need_at(fs, "path_filestat_set_times", dirfd,
                          PH_RIGHT_PATH_FILESTAT_SET_TIMES, path, len, &d);
    if (rc || (rc = times_of(atim, mtim, fst, ts)))
        return rc;
    if ((rc = resolve(fs, "path_filestat_set_times", d, path, len,
                      (lookup & PH_LOOKUP_SYMLINK_FOLLOW) != 0, &r)))
        return rc;
    if (!(rc = slash_check(&r)) && utimensat(r.dirfd, r.name, ts, AT_SYMLINK_NOFOLLOW) != 0)
        rc = last_errno();
    res_done(&r);
    return rc;
}

ph_errno ph_fs_readlink(ph_fs *fs, uint32_t dirfd, const char *path, size_t len, char *buf,
                        size_t cap, size_t *used)
{
    fs_entry *d;
    fs_res r;
    char link[PH_FS_PATH_MAX + 1];
    ssize_t n;
    ph_errno rc = need_at(fs, "path_readlink", dirfd, PH_RIGHT_PATH_READLINK, path, len, &d);
    *used = 0;
    if (rc || (rc = resolve(fs, "path_readlink", d, path, len, false, &r)))
        return rc;
    n = readlinkat(r.dirfd, r.name, link, sizeof link);
    if (n < 0) {
        rc = last_errno();
    } else {
        *used = (size_t)n < cap ? (size_t)n : cap;
        memcpy(buf, link, *used);
    }
    res_done(&r);
    return rc;
}

/* Both ends of a rename or link resolved, on the same mount. The threat
 * of two mounts: moving an object from one grant into another (or out of
 * a read-only one) behind the rights of either. */
static ph_errno two_paths(ph_fs *fs, const char *op, uint32_t fd1, uint64_t right1,
                          bool follow1, const char *p1, size_t l1, uint32_t fd2, uint64_t right2,
                          const char *p2, size_t l2, fs_res *r1, fs_res *r2)
{
    fs_entry *a, *b;
    ph_errno rc;
    memset(r1, 0, sizeof *r1);
    memset(r2, 0, sizeof *r2);
    r1->dirfd = r2->dirfd = -1;
    if ((rc = need_at(fs, op, fd1, right1, p1, l1, &a)) ||
        (rc = need_at(fs, op, fd2, right2, p2, l2, &b)))
        return rc;
    if (a->mount != b->mount)
        return refuse(fs, op, b, p2, l2, "source and target are on different mounts",
                      PH_EXDEV);
    if ((rc = resolve(fs, op, a, p1, l1, follow1, r1)))
        return rc;
    if ((rc = resolve(fs, op, b, p2, l2, false, r2))) {
        res_done(r1);
        return rc;
    }
    return PH_ESUCCESS;
}

ph_errno ph_fs_rename(ph_fs *fs, uint32_t dirfd, const char *path, size_t len, uint32_t to_dirfd,
                      const char *to_path, size_t to_len)
{
    fs_res a, b;
    ph_errno rc = two_paths(fs, "path_rename", dirfd, PH_RIGHT_PATH_RENAME_SOURCE, false, path,
                            len, to_dirfd, PH_RIGHT_PATH_RENAME_TARGET, to_path, to_len, &a, &b);
    if (rc)
        return rc;
    if (strcmp(a.name, ".") == 0 || strcmp(b.name, ".") == 0)
        rc = PH_EBUSY;
    else if (!(rc = slash_check(&a)) && renameat(a.dirfd, a.name, b.dirfd, b.name) != 0)
        rc = last_errno();
    res_done(&a);
    res_done(&b);
    return rc;
}

ph_errno ph_fs_link(ph_fs *fs, uint32_t dirfd, uint32_t lookup, const char *path, size_t len,
                    uint32_t to_dirfd, const char *to_path, size_t to_len)
{
    fs_res a, b;
    ph_errno rc = two_paths(fs, "path_link", dirfd, PH_RIGHT_PATH_LINK_SOURCE,
                            (lookup & PH_LOOKUP_SYMLINK_FOLLOW) != 0, path, len, to_dirfd,
                            PH_RIGHT_PATH_LINK_TARGET, to_path, to_len, &a, &b);
    if (rc)
        return rc;
    if (strcmp(a.name, ".") == 0)
        rc = PH_EPERM;
    else if (strcmp(b.name, ".") == 0 || b.slash)
        rc = PH_EEXIST;
    else if (!(rc = slash_check(&a)) && linkat(a.dirfd, a.name, b.dirfd, b.name, 0) != 0)
        rc = last_errno();
    res_done(&a);
    res_done(&b);
    return rc;
}

ph_errno ph_fs_symlink(ph_fs *fs, const char *target, size_t target_len, uint32_t dirfd,
                       const char *path, size_t len)
{
    static const char op[] = "path_symlink";
    fs_entry *d;
    fs_res r;
    char at[PH_FS_PATH_MAX + 1], t[PH_FS_PATH_MAX + 1];
    long level;
    ph_errno rc = need_at(fs, op, dirfd, PH_RIGHT_PATH_SYMLINK, path, len, &d);

    if (rc)
        return rc;
    if (target_len == 0)
        return PH_ENOENT;
    if (memchr(target, '\0', target_len))
        return refuse(fs, op, d, path, len, "NUL byte inside the symlink target", PH_EINVAL);
    if (target_len > PH_FS_PATH_MAX)
        return PH_ENAMETOOLONG;
    /* perch never follows these out of the mount, but the host's own tools
     * would: no link made by the guest points outside what it was given. */
    if (target[0] == '/')
        return refuse(fs, op, d, path, len, "symlink to an absolute path", PH_ENOTCAPABLE);
    lexical_join(d->path ? d->path : "/", path, len, at, sizeof at);
    level = (long)components(at) - 1 -
            (d->mount == NO_MOUNT ? 0 : (long)components(fs->mounts[d->mount].guest));
    for (size_t i = 0; i < target_len;) {
        size_t start = i;
        while (i < target_len && target[i] != '/')
            i++;
        if (is_dotdot(target + start, i - start)) {
            if (--level < 0)
                return refuse(fs, op, d, path, len, "symlink target climbs out of the mount",
                              PH_ENOTCAPABLE);
        } else if (i > start && !is_dot(target + start, i - start)) {
            level++;
        }
        i++;
    }
    if ((rc = resolve(fs, op, d, path, len, false, &r)))
        return rc;
    memcpy(t, target, target_len);
    t[target_len] = '\0';
    if (strcmp(r.name, ".") == 0 || r.slash)
        rc = PH_EEXIST;
    else if (symlinkat(t, r.dirfd, r.name) != 0)
        rc = last_errno();
    res_done(&r);
    return rc;
}
