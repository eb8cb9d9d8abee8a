/* read.c: lines of a log file, bounded by PA_LINE_MAX, resumable at EOF. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"

perch_err_kind pa_reader_open(pa_reader *r, const char *path, uint64_t offset,
                              uint64_t first_line, perch_err *err)
{
    struct stat st;
    memset(r, 0, sizeof *r);
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0)
        return pb_fail(err, PERCH_E_IO, "cannot open %s: %s", path, strerror(errno));
    if (fstat(r->fd, &st) != 0 || S_ISDIR(st.st_mode)) {
        int e = errno;
        pa_reader_close(r);
        return pb_fail(err, PERCH_E_IO, "cannot read %s: %s", path,
                       S_ISDIR(st.st_mode) ? "is a directory" : strerror(e));
    }
    if (offset > 0 && lseek(r->fd, (off_t)offset, SEEK_SET) < 0) {
        int e = errno;
        pa_reader_close(r);
        return pb_fail(err, PERCH_E_IO, "cannot seek in %s: %s", path, strerror(e));
    }
    r->buf = pb_malloc(PA_LINE_MAX);
    if (!r->buf) {
        pa_reader_close(r);
        return pb_fail(err, PERCH_E_IO, "out of memory");
    }
    r->offset = offset;
    r->line = first_line;
    return PERCH_OK;
}

perch_err_kind pa_reader_next(pa_reader *r, pa_read *what, const char **line, size_t *len,
                              uint64_t *at, uint64_t *lineno, perch_err *err)
{
    *line = NULL;
    *len = 0;
    for (;;) {
        uint8_t *nl = r->end > r->start ? memchr(r->buf + r->start, '\n', r->end - r->start)
                                        : NULL;
        ssize_t n;
        if (nl) {
            size_t k = (size_t)(nl - (r->buf + r->start));
            *lineno = r->line++;
            if (r->skipping) {
                *what = PA_READ_LONG;
                *at = r->skip_at;
                r->skipping = false;
            } else {
                *what = PA_READ_LINE;
                *line = (const char *)r->buf + r->start;
                *len = k;
                *at = r->offset;
            }
            r->start += k + 1;
            r->offset += k + 1;
            return PERCH_OK;
        }
        if (r->skipping) {
            r->offset += r->end - r->start;
            r->start = r->end = 0;
        } else if (r->end - r->start == PA_LINE_MAX) {
            /* No newline in PA_LINE_MAX bytes: not a line any writer makes. */
            r->skipping = true;
            r->skip_at = r->offset;
            r->offset += PA_LINE_MAX;
            r->start = r->end = 0;
        }
        if (r->start > 0) {
            memmove(r->buf, r->buf + r->start, r->end - r->start);
            r->end -= r->start;
            r->start = 0;
        }
        n = read(r->fd, r->buf + r->end, PA_LINE_MAX - r->end);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return pb_fail(err, PERCH_E_IO, "cannot read: %s", strerror(errno));
        if (n == 0) {
            *lineno = r->line;
            if (r->skipping || r->end > r->start) {
                *what = PA_READ_PARTIAL;
                *at = r->skipping ? r->skip_at : r->offset;
                *line = (const char *)r->buf + r->start;
                *len = r->end - r->start;
            } else {
                *what = PA_READ_END;
                *at = r->offset;
            }
            return PERCH_OK;
        }
        r->end += (size_t)n;
    }
}

void pa_reader_close(pa_reader *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    pb_free(r->buf);
    r->buf = NULL;
}
