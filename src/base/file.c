/* file.c: whole-file reads and atomic replacement. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"

perch_err_kind pb_file_read(const char *path, pb_buf *out, perch_err *err)
{
    struct stat st;
    int fd;
    size_t want;

    memset(out, 0, sizeof *out);
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return pb_fail(err, PERCH_E_IO, "cannot open %s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0) {
        pb_fail(err, PERCH_E_IO, "cannot stat %s: %s", path, strerror(errno));
        goto fail;
    }
    if (S_ISDIR(st.st_mode)) {
        pb_fail(err, PERCH_E_IO, "%s is a directory, not a file", path);
        goto fail;
    }
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > PB_FILE_MAX) {
        pb_fail(err, PERCH_E_IO, "%s is too large (%llu bytes; the limit is %zu)",
                path, (unsigned long long)st.st_size, (size_t)PB_FILE_MAX);
        goto fail;
    }
    want = S_ISREG(st.st_mode) ? (size_t)st.st_size : 65536;
    if (!pb_buf_reserve(out, want))
        goto nomem;
    for (;;) {
        ssize_t n;
        if (out->cap - out->len - 1 == 0 && !pb_buf_reserve(out, out->cap))
            goto nomem;
        n = read(fd, out->data + out->len, out->cap - out->len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            pb_fail(err, PERCH_E_IO, "cannot read %s: %s", path, strerror(errno));
            goto fail;
        }
        if (n == 0)
            break;
        out->len += (size_t)n;
        if (out->len > PB_FILE_MAX) {
            pb_fail(err, PERCH_E_IO, "%s is too large (over %zu bytes)", path,
                    (size_t)PB_FILE_MAX);
            goto fail;
        }
    }
    out->data[out->len] = 0;
    close(fd);
    return PERCH_OK;
nomem:
    pb_fail(err, PERCH_E_IO, "out of memory reading %s", path);
fail:
    close(fd);
    pb_buf_free(out);
    return err ? err->kind : PERCH_E_IO;
}

static perch_err_kind write_all(int fd, const uint8_t *p, size_t len,
                                const char *what, perch_err *err)
{
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return pb_fail(err, PERCH_E_IO, "cannot write %s: %s", what, strerror(errno));
        }
        p += n;
        len -= (size_t)n;
    }
    return PERCH_OK;
}

perch_err_kind pb_file_write_atomic(const char *path, const void *data,
                                    size_t len, unsigned mode, perch_err *err)
{
    pb_buf dir = {0}, tmp = {0};
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    struct stat st;
    perch_err_kind rc = PERCH_OK;
    int fd = -1, dfd;
    bool created = false;

    if (*base == '\0')
        return pb_fail(err, PERCH_E_IO, "cannot write %s: not a file name", path);
    if (stat(path, &st) == 0) {
        if (!S_ISREG(st.st_mode))
            return pb_fail(err, PERCH_E_IO, "cannot replace %s: not a regular file", path);
        mode = st.st_mode & 07777u;
    }
    if (!(slash ? pb_buf_append(&dir, path, (size_t)(slash - path) + 1)
                : pb_buf_append(&dir, "./", 2)) ||
        !pb_buf_printf(&tmp, "%s.%s.XXXXXX", (const char *)dir.data, base)) {
        rc = pb_fail(err, PERCH_E_IO, "out of memory writing %s", path);
        goto fail;
    }
    fd = mkstemp((char *)tmp.data);
    if (fd < 0) {
        rc = pb_fail(err, PERCH_E_IO, "cannot create a temporary file beside %s: %s",
                     path, strerror(errno));
        goto fail;
    }
    created = true;
    PB_TRY(write_all(fd, data, len, path, err));
    if (fchmod(fd, (mode_t)mode) != 0 || fsync(fd) != 0) {
        rc = pb_fail(err, PERCH_E_IO, "cannot write %s: %s", path, strerror(errno));
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = pb_fail(err, PERCH_E_IO, "cannot write %s: %s", path, strerror(errno));
        goto fail;
    }
    fd = -1;
    if (rename((char *)tmp.data, path) != 0) {
        rc = pb_fail(err, PERCH_E_IO, "cannot replace %s: %s", path, strerror(errno));
        goto fail;
    }
    /* The rename is durable only once the directory entry is. */
    dfd = open((char *)dir.data, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    pb_buf_free(&dir);
    pb_buf_free(&tmp);
    return PERCH_OK;
fail:
    if (fd >= 0)
        close(fd);
    if (created)
        unlink((char *)tmp.data);
    pb_buf_free(&dir);
    pb_buf_free(&tmp);
    return rc;
}
