/*
 * fs.h: the file-system capability layer under WASI: mounts, the guest's
 * descriptor table, rights, and path resolution that never leaves a mount.
 * Prefix ph_fs_.
 *
 * The model, in three layers checked in this order (STYLE.md, habit 9):
 *
 *   1. Guest pointers are checked at the ABI boundary (wasi_fs.c); this
 *      layer only ever sees host buffers that are known to be valid.
 *   2. Every guest descriptor is an index into this table, never a host
 *      descriptor, and carries WASI rights derived from its mount. A call
 *      whose descriptor lacks the right is refused with ENOTCAPABLE.
 *   3. A path is resolved beneath the descriptor it is relative to, with
 *      openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) on Linux or a
 *      component-by-component walk (O_NOFOLLOW, `..` popped from a stack of
 *      directory descriptors, symlinks followed by hand and re-resolved
 *      beneath the same directory). No host path is ever built from a guest
 *      path, and nothing is compared as a string to decide an access.
 *
 * A mount is a host directory opened once, when it is added, and reached by
 * the guest through its preopened descriptor (3, 4, ... in mount order).
 * Read-only mounts give descriptors without any mutating right, and the
 * host descriptors behind them are opened without write access.
 *
 * Errors: the ph_fs_* operations return a WASI errno (ph_errno), which is
 * what the guest gets back; 0 is success. Setting up (ph_fs_new,
 * ph_fs_mount) returns a perch_err_kind like the rest of the library.
 *
 * Refusals: a call refused by a capability rule (a missing right, a read-only
 * mount, a path leaving its directory, an absolute symlink, an operation
 * across mounts) is reported to the config's on_refusal hook before the
 * errno goes back, so the runtime can log it and decide to end the run.
 */
#ifndef PERCH_HOST_FS_H
#define PERCH_HOST_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "perch.h"

/* A WASI errno value (wasi_snapshot_preview1 numbering); 0 is success. */
typedef uint16_t ph_errno;

enum {
    PH_ESUCCESS = 0,
    PH_E2BIG = 1,
    PH_EACCES = 2,
    PH_EAGAIN = 6,
    PH_EBADF = 8,
    PH_EBUSY = 10,
    PH_EEXIST = 20,
    PH_EFAULT = 21,
    PH_EFBIG = 22,
    PH_EILSEQ = 25,
    PH_EINTR = 27,
    PH_EINVAL = 28,
    PH_EIO = 29,
    PH_EISDIR = 31,
    PH_ELOOP = 32,
    PH_EMFILE = 33,
    PH_EMLINK = 34,
    PH_ENAMETOOLONG = 37,
    PH_ENFILE = 41,
    PH_ENODEV = 43,
    PH_ENOENT = 44,
    PH_ENOMEM = 48,
    PH_ENOSPC = 51,
    PH_ENOSYS = 52,
    PH_ENOTDIR = 54,
    PH_ENOTEMPTY = 55,
    PH_ENOTSUP = 58,
    PH_ENOTTY = 59,
    PH_ENXIO = 60,
    PH_EOVERFLOW = 61,
    PH_EPERM = 63,
    PH_EPIPE = 64,
    PH_ERANGE = 68,
    PH_EROFS = 69,
    PH_ESPIPE = 70,
    PH_ETXTBSY = 74,
    PH_EXDEV = 75,
    PH_ENOTCAPABLE = 76
};

/* WASI rights (the bit numbers of wasi_snapshot_preview1). */
#define PH_RIGHT_FD_DATASYNC ((uint64_t)1 << 0)
#define PH_RIGHT_FD_READ ((uint64_t)1 << 1)
#define PH_RIGHT_FD_SEEK ((uint64_t)1 << 2)
#define PH_RIGHT_FD_FDSTAT_SET_FLAGS ((uint64_t)1 << 3)
#define PH_RIGHT_FD_SYNC ((uint64_t)1 << 4)
#define PH_RIGHT_FD_TELL ((uint64_t)1 << 5)
#define PH_RIGHT_FD_WRITE ((uint64_t)1 << 6)
#define PH_RIGHT_FD_ADVISE ((uint64_t)1 << 7)
#define PH_RIGHT_FD_ALLOCATE ((uint64_t)1 << 8)
#define PH_RIGHT_PATH_CREATE_DIRECTORY ((uint64_t)1 << 9)
#define PH_RIGHT_PATH_CREATE_FILE ((uint64_t)1 << 10)
#define PH_RIGHT_PATH_LINK_SOURCE ((uint64_t)1 << 11)
#define PH_RIGHT_PATH_LINK_TARGET ((uint64_t)1 << 12)
#define PH_RIGHT_PATH_OPEN ((uint64_t)1 << 13)
#define PH_RIGHT_FD_READDIR ((uint64_t)1 << 14)
#define PH_RIGHT_PATH_READLINK ((uint64_t)1 << 15)
#define PH_RIGHT_PATH_RENAME_SOURCE ((uint64_t)1 << 16)
#define PH_RIGHT_PATH_RENAME_TARGET ((uint64_t)1 << 17)
#define PH_RIGHT_PATH_FILESTAT_GET ((uint64_t)1 << 18)
#define PH_RIGHT_PATH_FILESTAT_SET_SIZE ((uint64_t)1 << 19)
#define PH_RIGHT_PATH_FILESTAT_SET_TIMES ((uint64_t)1 << 20)
#define PH_RIGHT_FD_FILESTAT_GET ((uint64_t)1 << 21)
#define PH_RIGHT_FD_FILESTAT_SET_SIZE ((uint64_t)1 << 22)
#define PH_RIGHT_FD_FILESTAT_SET_TIMES ((uint64_t)1 << 23)
#define PH_RIGHT_PATH_SYMLINK ((uint64_t)1 << 24)
#define PH_RIGHT_PATH_REMOVE_DIRECTORY ((uint64_t)1 << 25)
#define PH_RIGHT_PATH_UNLINK_FILE ((uint64_t)1 << 26)
#define PH_RIGHT_POLL_FD_READWRITE ((uint64_t)1 << 27)

/* Rights that change something on the host: none of them is ever given on
 * a read-only mount. */
#define PH_RIGHTS_MUTATING                                                      \
    (PH_RIGHT_FD_DATASYNC | PH_RIGHT_FD_WRITE | PH_RIGHT_FD_ALLOCATE |          \
     PH_RIGHT_PATH_CREATE_DIRECTORY | PH_RIGHT_PATH_CREATE_FILE |               \
     PH_RIGHT_PATH_LINK_SOURCE | PH_RIGHT_PATH_LINK_TARGET |                    \
     PH_RIGHT_PATH_RENAME_SOURCE | PH_RIGHT_PATH_RENAME_TARGET |                \
     PH_RIGHT_PATH_FILESTAT_SET_SIZE | PH_RIGHT_PATH_FILESTAT_SET_TIMES |       \
     PH_RIGHT_FD_FILESTAT_SET_SIZE | PH_RIGHT_FD_FILESTAT_SET_TIMES |           \
     PH_RIGHT_PATH_SYMLINK | PH_RIGHT_PATH_REMOVE_DIRECTORY |                   \
     PH_RIGHT_PATH_UNLINK_FILE)

/* WASI flag values used by the operations below. */
enum {
    PH_LOOKUP_SYMLINK_FOLLOW = 1,               /* lookupflags */
    PH_O_CREAT = 1, PH_O_DIRECTORY = 2, PH_O_EXCL = 4, PH_O_TRUNC = 8, /* oflags */
    PH_FDFLAG_APPEND = 1, PH_FDFLAG_DSYNC = 2, PH_FDFLAG_NONBLOCK = 4,
    PH_FDFLAG_RSYNC = 8, PH_FDFLAG_SYNC = 16,   /* fdflags */
    PH_FST_ATIM = 1, PH_FST_ATIM_NOW = 2, PH_FST_MTIM = 4, PH_FST_MTIM_NOW = 8,
    PH_WHENCE_SET = 0, PH_WHENCE_CUR = 1, PH_WHENCE_END = 2
};

/* WASI file types. */
enum {
    PH_FILETYPE_UNKNOWN = 0,
    PH_FILETYPE_BLOCK_DEVICE = 1,
    PH_FILETYPE_CHARACTER_DEVICE = 2,
    PH_FILETYPE_DIRECTORY = 3,
    PH_FILETYPE_REGULAR_FILE = 4,
    PH_FILETYPE_SOCKET_STREAM = 6,
    PH_FILETYPE_SYMBOLIC_LINK = 7
};

/* Bounds. Longer guest paths (after symlink expansion) are ENAMETOOLONG,
 * longer components too; more symlinks in one resolution is ELOOP. */
#define PH_FS_PATH_MAX 4095
#define PH_FS_NAME_MAX 255
#define PH_FS_SYMLINK_HOPS 40
/* Default size of the descriptor table (stdio and preopens included). */
#define PH_FS_FDS_DEFAULT 1024

/* What a refused call was, for the audit log. The strings are borrowed for
 * the duration of the hook only. */
typedef struct ph_fs_refusal {
    const char *op;   /* the WASI function: "path_open", "fd_write", ... */
    const char *path; /* the guest path concerned ("/data/a/b"), or "" */
    const char *rule; /* why: "read-only mount /data", "path leaves its directory", ... */
    ph_errno error;   /* what the guest gets back */
} ph_fs_refusal;

/* Called for every refusal. Return true to end the run: the WASI call then
 * fails with wasm_capability_denied instead of returning the errno (see
 * ph_fs_stop_requested). */
typedef bool (*ph_fs_refusal_fn)(void *ud, const ph_fs_refusal *refusal);

typedef enum ph_fs_resolver {
    PH_FS_RESOLVE_AUTO = 0, /* openat2 where the kernel has it, else the walk */
    PH_FS_RESOLVE_WALK      /* always the portable walk (tests use both) */
} ph_fs_resolver;

typedef struct ph_fs_config {
    /* Host descriptors behind guest 0, 1 and 2, borrowed (never closed by
     * this layer); -1 leaves the guest descriptor closed. */
    int stdin_fd, stdout_fd, stderr_fd;
    size_t max_fds;             /* 0: PH_FS_FDS_DEFAULT */
    ph_fs_resolver resolver;
    ph_fs_refusal_fn on_refusal; /* may be NULL */
    void *refusal_ud;
} ph_fs_config;

typedef struct ph_fs ph_fs;

/* *out is owned (ph_fs_delete). Errors: io (out of memory). */
perch_err_kind ph_fs_new(const ph_fs_config *config, ph_fs **out, perch_err *err);
/* Closes every host descriptor the layer opened. NULL is a no-op. */
void ph_fs_delete(ph_fs *fs);

/*
 * Mount the host directory host_dir at the absolute guest path guest
 * ("/data", "/"), read-only or writable. The directory is opened now and
 * held until ph_fs_delete; the mount becomes the next preopened descriptor.
 * Errors: usage (guest not absolute, with `.` or `..` components, or
 * mounted twice), io (host_dir cannot be opened as a directory).
 */
perch_err_kind ph_fs_mount(ph_fs *fs, const char *host_dir, const char *guest, bool writable,
                           perch_err *err);
/* The same from a flag's "HOST:GUEST" (split at the last ":/"). */
perch_err_kind ph_fs_mount_spec(ph_fs *fs, const char *spec, bool writable, perch_err *err);

/*
 * The mount whose guest path is the longest prefix of the absolute guest
 * path at a component boundary ("/data" covers "/data" and "/data/x", not
 * "/database"). Returns its index (mount order) and sets *rest to the
 * offset in path of what lies beneath it; false when no mount covers path.
 */
bool ph_fs_mount_of(const ph_fs *fs, const char *path, size_t len, size_t *index, size_t *rest);
/* The guest descriptor that preopens mount index (3 + index). */
uint32_t ph_fs_mount_fd(size_t index);

/* True once the refusal hook asked to end the run; fills err with
 * wasm_capability_denied and the refusal. */
bool ph_fs_stop_requested(const ph_fs *fs, perch_err *err);

/* ---- descriptors ---------------------------------------------------------- */

typedef struct ph_fdstat {
    uint8_t filetype;
    uint16_t flags;
    uint64_t rights_base, rights_inheriting;
} ph_fdstat;

typedef struct ph_filestat {
    uint64_t dev, ino;
    uint8_t filetype;
    uint64_t nlink, size, atim, mtim, ctim;
} ph_filestat;

ph_errno ph_fs_close(ph_fs *fs, uint32_t fd);
/* Move from onto to (both open), closing what to was; from is then closed.
 * A preopen replaced this way stops being a preopen. */
ph_errno ph_fs_renumber(ph_fs *fs, uint32_t from, uint32_t to);
/* The guest path of a preopened directory; *name is borrowed from fs. */
ph_errno ph_fs_prestat(ph_fs *fs, uint32_t fd, const char **name, size_t *len);
ph_errno ph_fs_fdstat(ph_fs *fs, uint32_t fd, ph_fdstat *out);
ph_errno ph_fs_set_flags(ph_fs *fs, uint32_t fd, uint16_t flags);
/* Rights may only shrink. */
ph_errno ph_fs_set_rights(ph_fs *fs, uint32_t fd, uint64_t base, uint64_t inheriting);

/* Read or write iov[0..n) at offset (pread/pwrite), or at the current
 * position when offset is negative. *done is the byte count. */
ph_errno ph_fs_read(ph_fs *fs, uint32_t fd, const struct iovec *iov, size_t n, int64_t offset,
                    size_t *done);
ph_errno ph_fs_write(ph_fs *fs, uint32_t fd, const struct iovec *iov, size_t n, int64_t offset,
                     size_t *done);
ph_errno ph_fs_seek(ph_fs *fs, uint32_t fd, int64_t offset, uint8_t whence, uint64_t *pos);
ph_errno ph_fs_tell(ph_fs *fs, uint32_t fd, uint64_t *pos);
ph_errno ph_fs_sync(ph_fs *fs, uint32_t fd, bool data_only);
ph_errno ph_fs_advise(ph_fs *fs, uint32_t fd, uint64_t offset, uint64_t len, uint8_t advice);
ph_errno ph_fs_allocate(ph_fs *fs, uint32_t fd, uint64_t offset, uint64_t len);
ph_errno ph_fs_filestat(ph_fs *fs, uint32_t fd, ph_filestat *out);
ph_errno ph_fs_set_size(ph_fs *fs, uint32_t fd, uint64_t size);
ph_errno ph_fs_set_times(ph_fs *fs, uint32_t fd, uint64_t atim, uint64_t mtim, uint16_t fst);
/*
 * WASI fd_readdir: fill buf with dirents (24-byte header, then the name)
 * starting at entry number cookie; the last one may be cut short. *used is
 * the bytes written (less than len means the directory ended).
 */
ph_errno ph_fs_readdir(ph_fs *fs, uint32_t fd, uint8_t *buf, size_t len, uint64_t cookie,
                       size_t *used);
/* The host descriptor poll_oneoff waits on for guest fd (borrowed), after
 * checking its poll right. */
ph_errno ph_fs_poll_fd(ph_fs *fs, uint32_t fd, int *host_fd, uint8_t *filetype);

/* ---- paths (relative to a directory descriptor; not NUL-terminated) -------- */

ph_errno ph_fs_open(ph_fs *fs, uint32_t dirfd, uint32_t lookup, const char *path, size_t len,
                    uint16_t oflags, uint64_t rights_base, uint64_t rights_inheriting,
                    uint16_t fdflags, uint32_t *out);
ph_errno ph_fs_mkdir(ph_fs *fs, uint32_t dirfd, const char *path, size_t len);
ph_errno ph_fs_rmdir(ph_fs *fs, uint32_t dirfd, const char *path, size_t len);
ph_errno ph_fs_unlink(ph_fs *fs, uint32_t dirfd, const char *path, size_t len);
ph_errno ph_fs_path_filestat(ph_fs *fs, uint32_t dirfd, uint32_t lookup, const char *path,
                             size_t len, ph_filestat *out);
ph_errno ph_fs_path_set_times(ph_fs *fs, uint32_t dirfd, uint32_t lookup, const char *path,
                              size_t len, uint64_t atim, uint64_t mtim, uint16_t fst);
/* The link's target, not NUL-terminated, cut to cap bytes. */
ph_errno ph_fs_readlink(ph_fs *fs, uint32_t dirfd, const char *path, size_t len, char *buf,
                        size_t cap, size_t *used);
ph_errno ph_fs_rename(ph_fs *fs, uint32_t dirfd, const char *path, size_t len, uint32_t to_dirfd,
                      const char *to_path, size_t to_len);
ph_errno ph_fs_link(ph_fs *fs, uint32_t dirfd, uint32_t lookup, const char *path, size_t len,
                    uint32_t to_dirfd, const char *to_path, size_t to_len);
/* Create path (beneath dirfd) as a symlink holding target. Absolute targets
 * and targets that climb above the mount are refused. */
ph_errno ph_fs_symlink(ph_fs *fs, const char *target, size_t target_len, uint32_t dirfd,
                       const char *path, size_t len);

#endif /* PERCH_HOST_FS_H */
