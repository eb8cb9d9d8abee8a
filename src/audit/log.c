/*
 * log.c: appending records to the audit log: one write() per record on an
 * O_APPEND descriptor, the hash chain, rotation by size, recovery of a log
 * whose writer crashed.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"

struct pa_log {
    int fd;
    char *path;             /* owned */
    pa_options opt;
    /*
     * The record being built, preceded by the 64 hex digits of prev, so
     * that the bytes SHA-256 covers (prev || record) are contiguous and the
     * line written is line.data + PA_HASH_HEX. Reused for every record.
     */
    pb_buf line;
    pb_buf binding;         /* the header's members: ,"algo":...,"module":...,"grant":[...] */
    char *module_name;      /* owned, "" when none */
    char prev[PA_HASH_HEX + 1];
    uint64_t seq;           /* of the next record */
    uint64_t size;          /* bytes in the current file */
    uint64_t file_records;  /* records in the current file (2 for "some", when resumed) */
    unsigned next_rot;      /* the lowest suffix N for which path.N may be free */
    int64_t time_sec;       /* the second time_prefix shows */
    char time_prefix[20];   /* "YYYY-MM-DDTHH:MM:SS" */
    bool failed;            /* a write failed: the file may end mid-record */
};

static const char zero_hash[PA_HASH_HEX + 1] =
    "0000000000000000000000000000000000000000000000000000000000000000";

/* Names the record itself uses, which an extra field may not take. */
static const char *const reserved[] = {
    "seq", "time", "kind", "object", "outcome", "prev", "hash", "cut",
    "algo", "module", "grant", "prev_file", "torn_bytes",
};

/* ---- time -------------------------------------------------------------------- */

static int64_t now_us(const pa_log *log)
{
    struct timespec ts;
    if (log->opt.clock)
        return log->opt.clock(log->opt.clock_ud);
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void format_second(int64_t sec, char out[20])
{
    time_t t = (time_t)sec;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, 20, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void pa_format_time(int64_t t, char out[28])
{
    int64_t sec, us;
    if (t < 0)
        t = 0;
    sec = t / 1000000;
    us = t % 1000000;
    format_second(sec, out);
    snprintf(out + 19, 9, ".%06dZ", (int)us);
}

/* ---- building a record ---------------------------------------------------------- */

static void put(pb_buf *b, const char *s, size_t n)
{
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

#define PUT_LIT(b, lit) put((b), (lit), sizeof(lit) - 1)

static void put_u64(pb_buf *b, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        b->data[b->len++] = (uint8_t)tmp[--n];
}

static void put_i64(pb_buf *b, int64_t v)
{
    if (v < 0) {
        b->data[b->len++] = '-';
        put_u64(b, (uint64_t)0 - (uint64_t)v);
    } else {
        put_u64(b, (uint64_t)v);
    }
}

/* Length of the well-formed UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_seq(const uint8_t *s, size_t n)
{
    uint8_t c = s[0], lo = 0x80, hi = 0xbf;
    size_t need;
    if (c >= 0xc2 && c <= 0xdf)
        need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
        need = 2;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 3;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if (n < need + 1 || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i <= need; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return need + 1;
}

/*
 * A JSON string of [s, s+len): quote, backslash and every control character
 * (C0, DEL, C1) escaped, so the log is safe to cat on a terminal; bytes that
 * are not UTF-8 become U+FFFD. Longer than PA_VALUE_MAX: cut at a character
 * boundary and *cut set.
 */
static bool put_str(pb_buf *b, const char *str, size_t len, bool *cut)
{
    static const char hexd[] = "0123456789abcdef";
    const uint8_t *s = (const uint8_t *)str;
    if (len > PA_VALUE_MAX) {
        len = PA_VALUE_MAX;
        while (len > 0 && (s[len] & 0xc0) == 0x80)
            len--;
        *cut = true;
    }
    if (!pb_buf_reserve(b, len * 6 + 2))
        return false;
    b->data[b->len++] = '"';
    for (size_t i = 0; i < len;) {
        uint8_t c = s[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            b->data[b->len++] = c;
            i++;
        } else if (c == '"' || c == '\\') {
            b->data[b->len++] = '\\';
            b->data[b->len++] = c;
            i++;
        } else if (c < 0x80) {
            const char *esc = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" : NULL;
            if (esc) {
                put(b, esc, 2);
            } else {
                PUT_LIT(b, "\\u00");
                b->data[b->len++] = (uint8_t)hexd[c >> 4];
                b->data[b->len++] = (uint8_t)hexd[c & 15];
            }
            i++;
        } else {
            size_t k = utf8_seq(s + i, len - i);
            if (k == 0) {
                PUT_LIT(b, "\xef\xbf\xbd");
                i++;
            } else if (k == 2 && c == 0xc2 && s[i + 1] < 0xa0) {
                /* C1 control U+0080..U+009F: a terminal may obey it */
                PUT_LIT(b, "\\u00");
                b->data[b->len++] = (uint8_t)hexd[s[i + 1] >> 4];
                b->data[b->len++] = (uint8_t)hexd[s[i + 1] & 15];
                i += 2;
            } else {
                put(b, (const char *)s + i, k);
                i += k;
            }
        }
    }
    b->data[b->len++] = '"';
    return true;
}

/* [a-z0-9_.]{1,PA_NAME_MAX}; dots allowed only when dots is set. */
static bool name_ok(const char *s, bool dots)
{
    size_t n = 0;
    if (!s)
        return false;
    for (; s[n]; n++) {
        char c = s[n];
        if (n >= PA_NAME_MAX)
            return false;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
              (dots && c == '.')))
            return false;
    }
    return n > 0;
}

static perch_err_kind check_fields(const pa_field *f, size_t n, perch_err *err)
{
    if (n > PA_FIELDS_MAX)
        return pb_fail(err, PERCH_E_USAGE, "audit event has %zu extra fields; the limit is %d",
                       n, PA_FIELDS_MAX);
    for (size_t i = 0; i < n; i++) {
        if (!name_ok(f[i].key, false))
            return pb_fail(err, PERCH_E_USAGE,
                           "audit field name must be 1 to %d of [a-z0-9_]", PA_NAME_MAX);
        for (size_t r = 0; r < sizeof reserved / sizeof reserved[0]; r++)
            if (strcmp(f[i].key, reserved[r]) == 0)
                return pb_fail(err, PERCH_E_USAGE, "audit field name \"%s\" is reserved",
                               f[i].key);
        for (size_t j = 0; j < i; j++)
            if (strcmp(f[i].key, f[j].key) == 0)
                return pb_fail(err, PERCH_E_USAGE, "audit field \"%s\" given twice", f[i].key);
    }
    return PERCH_OK;
}

/*
 * Build into log->line: prev, then
 *   {"seq":N,"time":T,"kind":K,"object":O,"outcome":R[raw][,"key":value]*,
 *    "prev":P,"hash":H}\n
 * (docs/audit.md, "Bytes"). raw is a pre-built run of members (the binding).
 */
static perch_err_kind build(pa_log *log, const char *kind, const char *object,
                            size_t object_len, const char *outcome, const pa_field *f,
                            size_t nf, const char *raw, size_t raw_len, perch_err *err)
{
    pb_buf *b = &log->line;
    int64_t t = now_us(log);
    int64_t sec, us;
    bool cut = false;
    uint8_t digest[PT_SHA256_LEN];
    perch_err_kind rc;

    if (t < 0)
        t = 0;
    sec = t / 1000000;
    us = t % 1000000;
    if (sec != log->time_sec || !log->time_prefix[0]) {
        format_second(sec, log->time_prefix);
        log->time_sec = sec;
    }
    b->len = 0;
    /* Fixed parts: prev twice, seq, time, names, punctuation, hash. */
    if (!pb_buf_reserve(b, 3 * PA_HASH_HEX + 160 + 2 * PA_NAME_MAX + raw_len))
        return pb_fail(err, PERCH_E_IO, "out of memory");
    put(b, log->prev, PA_HASH_HEX);
    PUT_LIT(b, "{\"seq\":");
    put_u64(b, log->seq);
    PUT_LIT(b, ",\"time\":\"");
    put(b, log->time_prefix, 19);
    b->data[b->len++] = '.';
    for (int64_t d = 100000; d > 0; d /= 10)
        b->data[b->len++] = (uint8_t)('0' + (us / d) % 10);
    PUT_LIT(b, "Z\",\"kind\":\"");
    put(b, kind, strlen(kind));
    PUT_LIT(b, "\",\"object\":");
    if (!put_str(b, object, object_len, &cut))
        return pb_fail(err, PERCH_E_IO, "out of memory");
    if (!pb_buf_reserve(b, 16 + PA_NAME_MAX + raw_len))
        return pb_fail(err, PERCH_E_IO, "out of memory");
    PUT_LIT(b, ",\"outcome\":\"");
    put(b, outcome, strlen(outcome));
    b->data[b->len++] = '"';
    put(b, raw, raw_len);
    for (size_t i = 0; i < nf; i++) {
        if (!pb_buf_reserve(b, PA_NAME_MAX + 30))
            return pb_fail(err, PERCH_E_IO, "out of memory");
        PUT_LIT(b, ",\"");
        put(b, f[i].key, strlen(f[i].key));
        PUT_LIT(b, "\":");
        if (f[i].str) {
            size_t n = f[i].len == PA_NUL ? strlen(f[i].str) : f[i].len;
            if (!put_str(b, f[i].str, n, &cut))
                return pb_fail(err, PERCH_E_IO, "out of memory");
        } else {
            put_i64(b, f[i].num);
        }
    }
    /* ,"cut":true ,"prev":"P"} then ,"hash":"H"}\n in place of the brace */
    if (!pb_buf_reserve(b, 64 + 2 * PA_HASH_HEX))
        return pb_fail(err, PERCH_E_IO, "out of memory");
    if (cut)
        PUT_LIT(b, ",\"cut\":true");
    PUT_LIT(b, ",\"prev\":\"");
    put(b, log->prev, PA_HASH_HEX);
    PUT_LIT(b, "\"}");
    if ((rc = pt_sha256(b->data, b->len, digest, err)) != PERCH_OK)
        return rc;
    b->len--; /* the closing brace, which the hash member now precedes */
    PUT_LIT(b, ",\"hash\":\"");
    pt_hex(digest, sizeof digest, (char *)b->data + b->len);
    b->len += PA_HASH_HEX;
    PUT_LIT(b, "\"}\n");
    if (b->len - PA_HASH_HEX > PA_LINE_MAX)
        return pb_fail(err, PERCH_E_USAGE, "audit record of %zu bytes is over the limit of %zu",
                       b->len - PA_HASH_HEX, PA_LINE_MAX);
    return PERCH_OK;
}

/* ---- files ------------------------------------------------------------------------ */

static perch_err_kind write_all(pa_log *log, const uint8_t *p, size_t n, perch_err *err)
{
    while (n > 0) {
        ssize_t w = write(log->fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            log->failed = true;
            return pb_fail(err, PERCH_E_IO, "cannot write audit log %s: %s", log->path,
                           w < 0 ? strerror(errno) : "no progress");
        }
        p += w;
        n -= (size_t)w;
    }
    return PERCH_OK;
}

static perch_err_kind sync_fd(pa_log *log, perch_err *err)
{
    if (fsync(log->fd) != 0) {
        log->failed = true;
        return pb_fail(err, PERCH_E_IO, "cannot fsync audit log %s: %s", log->path,
                       strerror(errno));
    }
    return PERCH_OK;
}

/* Make a rename or a new name in path's directory durable. */
static void sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? pb_strndup(path, slash == path ? 1 : (size_t)(slash - path))
                      : pb_strdup(".");
    int fd;
    if (!dir)
        return;
    fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    pb_free(dir);
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* One writer per file: a second would fork the chain. */
static perch_err_kind lock_fd(int fd, const char *path, perch_err *err)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(fd, F_SETLK, &fl) != 0) {
        if (errno == EACCES || errno == EAGAIN)
            return pb_fail(err, PERCH_E_IO, "audit log %s is in use by another writer", path);
        return pb_fail(err, PERCH_E_IO, "cannot lock audit log %s: %s", path, strerror(errno));
    }
    return PERCH_OK;
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* path.N into an owned string. */
static char *rotated_name(const char *path, unsigned n)
{
    size_t len = strlen(path) + 16;
    char *s = pb_malloc(len);
    if (s)
        snprintf(s, len, "%s.%u", path, n);
    return s;
}

static perch_err_kind emit(pa_log *log, const char *kind, const char *object,
                           size_t object_len, const char *outcome, const pa_field *f,
                           size_t nf, bool header, bool may_rotate, perch_err *err);

/*
 * Move the full file to path.N (the lowest free N) and start a new path
 * whose log.rotate header names path.N and continues the chain.
 */
static perch_err_kind rotate(pa_log *log, perch_err *err)
{
    perch_err_kind rc;
    char *name = NULL;
    unsigned n = log->next_rot;
    int fd;
    pa_field pf;

    PB_TRY(sync_fd(log, err));
    for (;; n++) {
        pb_free(name);
        if (!(name = rotated_name(log->path, n))) {
            rc = pb_fail(err, PERCH_E_IO, "out of memory");
            goto fail;
        }
        if (!exists(name))
            break;
    }
    if (rename(log->path, name) != 0) {
        log->failed = true;
        rc = pb_fail(err, PERCH_E_IO, "cannot rotate audit log %s to %s: %s", log->path, name,
                     strerror(errno));
        goto fail;
    }
    fd = open(log->path, O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        log->failed = true;
        rc = pb_fail(err, PERCH_E_IO, "cannot create audit log %s: %s", log->path,
                     strerror(errno));
        goto fail;
    }
    close(log->fd);
    log->fd = fd;
    if ((rc = lock_fd(fd, log->path, err)) != PERCH_OK) {
        log->failed = true;
        goto fail;
    }
    sync_dir(log->path);
    log->next_rot = n + 1;
    log->size = 0;
    log->file_records = 0;
    pf = PA_STR("prev_file", base_name(name));
    PB_TRY(emit(log, "log.rotate", log->module_name, PA_NUL, "ok", &pf, 1, true, false, err));
    rc = sync_fd(log, err);
fail:
    pb_free(name);
    return rc;
}

static perch_err_kind emit(pa_log *log, const char *kind, const char *object,
                           size_t object_len, const char *outcome, const pa_field *f,
                           size_t nf, bool header, bool may_rotate, perch_err *err)
{
    perch_err_kind rc;
    const char *raw = header ? (const char *)log->binding.data : "";
    size_t raw_len = header ? log->binding.len : 0;
    size_t len;

    if (log->failed)
        return pb_fail(err, PERCH_E_IO,
                       "audit log %s: an earlier write failed; no more records are written",
                       log->path);
    if (object_len == PA_NUL)
        object_len = strlen(object);
    if ((rc = build(log, kind, object, object_len, outcome, f, nf, raw, raw_len, err)) != PERCH_OK)
        return rc;
    len = log->line.len - PA_HASH_HEX;
    if (may_rotate && log->opt.rotate_bytes && log->file_records > 1 &&
        log->size + len > log->opt.rotate_bytes) {
        if ((rc = rotate(log, err)) != PERCH_OK)
            return rc;
        /* The chain moved on (the rotation header): hash this record again. */
        if ((rc = build(log, kind, object, object_len, outcome, f, nf, raw, raw_len, err)) !=
            PERCH_OK)
            return rc;
        len = log->line.len - PA_HASH_HEX;
    }
    if ((rc = write_all(log, log->line.data + PA_HASH_HEX, len, err)) != PERCH_OK)
        return rc;
    /* The new hash sits just before the closing "}\n". */
    memcpy(log->prev, log->line.data + log->line.len - 3 - PA_HASH_HEX, PA_HASH_HEX);
    log->seq++;
    log->size += len;
    log->file_records++;
    if (log->opt.fsync_each)
        return sync_fd(log, err);
    return PERCH_OK;
}

perch_err_kind pa_log_event(pa_log *log, const char *kind, const char *object,
                            size_t object_len, const char *outcome, const pa_field *fields,
                            size_t nfields, perch_err *err)
{
    perch_err_kind rc;
    if (!name_ok(kind, true))
        return pb_fail(err, PERCH_E_USAGE, "audit event kind must be 1 to %d of [a-z0-9_.]",
                       PA_NAME_MAX);
    if (!name_ok(outcome, true))
        return pb_fail(err, PERCH_E_USAGE, "audit outcome must be 1 to %d of [a-z0-9_.]",
                       PA_NAME_MAX);
    if (pa_kind_is_header(kind) || strcmp(kind, "log.close") == 0)
        return pb_fail(err, PERCH_E_USAGE, "audit event kind \"%s\" is the log's own", kind);
    if (!object)
        object = "";
    if ((rc = check_fields(fields, nfields, err)) != PERCH_OK)
        return rc;
    return emit(log, kind, object, object_len, outcome, fields, nfields, false, true, err);
}

uint64_t pa_log_count(const pa_log *log) { return log->seq; }

const char *pa_log_last_hash(const pa_log *log) { return log->prev; }

/* ---- opening ---------------------------------------------------------------------- */

static perch_err_kind read_at(int fd, uint8_t *buf, size_t n, uint64_t off, const char *path,
                              perch_err *err)
{
    while (n > 0) {
        ssize_t r = pread(fd, buf, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return pb_fail(err, PERCH_E_IO, "cannot read audit log %s: %s", path,
                           r < 0 ? strerror(errno) : "file shrank");
        buf += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return PERCH_OK;
}

/*
 * Where the chain stands at the end of an existing file of size bytes: the
 * last complete record must be intact (its hash matches its content), and
 * bytes after the last newline are a torn record (*torn counts them).
 */
static perch_err_kind read_tail(int fd, uint64_t size, const char *path, pa_log *log,
                                uint64_t *torn, perch_err *err)
{
    size_t window = size < 2 * (uint64_t)PA_LINE_MAX ? (size_t)size : 2 * PA_LINE_MAX;
    uint8_t *buf = pb_malloc(window ? window : 1);
    size_t end, start;
    pa_record rec = {0};
    perch_err_kind rc;

    if (!buf)
        return pb_fail(err, PERCH_E_IO, "out of memory");
    PB_TRY(read_at(fd, buf, window, size - window, path, err));
    end = window;
    while (end > 0 && buf[end - 1] != '\n')
        end--;
    *torn = window - end;
    if (*torn > PA_LINE_MAX) {
        rc = pb_fail(err, PERCH_E_IO, "audit log %s ends in %llu bytes without a newline: "
                     "not a perch audit log", path, (unsigned long long)*torn);
        goto fail;
    }
    if (end == 0) {
        /* Only a torn first record: nothing to continue. */
        if (window < size) {
            rc = pb_fail(err, PERCH_E_IO, "audit log %s: last record is over %zu bytes", path,
                         PA_LINE_MAX);
            goto fail;
        }
        memcpy(log->prev, zero_hash, sizeof zero_hash);
        log->seq = 0;
        rc = PERCH_OK;
        goto fail;
    }
    start = end - 1;
    while (start > 0 && buf[start - 1] != '\n')
        start--;
    if (start == 0 && window < size) {
        rc = pb_fail(err, PERCH_E_IO, "audit log %s: last record is over %zu bytes", path,
                     PA_LINE_MAX);
        goto fail;
    }
    if ((rc = pa_record_parse((const char *)buf + start, end - 1 - start, &log->line, &rec,
                              err)) != PERCH_OK) {
        pb_prefix(err, "audit log %s: last record", path);
        goto fail;
    }
    if (!rec.hash_ok) {
        rc = pb_fail(err, PERCH_E_IO, "audit log %s: the last record's hash does not match its "
                     "content; run 'perch audit verify'", path);
        goto fail;
    }
    memcpy(log->prev, rec.hash, sizeof log->prev);
    log->seq = rec.seq + 1;
    rc = PERCH_OK;
fail:
    pa_record_free(&rec);
    pb_free(buf);
    return rc;
}

static perch_err_kind build_binding(pa_log *log, const pa_binding *bd, perch_err *err)
{
    char hex[PA_HASH_HEX + 1];
    bool cut = false;
    pb_buf *b = &log->binding;
    pt_hex(bd->module_digest, PT_SHA256_LEN, hex);
    if (!pb_buf_printf(b, ",\"algo\":\"%s\",\"module\":\"sha256:%s\",\"grant\":[", PA_ALGO, hex))
        return pb_fail(err, PERCH_E_IO, "out of memory");
    for (size_t i = 0; i < bd->ngrant; i++) {
        if (!bd->grant[i])
            return pb_fail(err, PERCH_E_USAGE, "audit binding: grant %zu is NULL", i);
        if ((i > 0 && !pb_buf_byte(b, ',')) || !put_str(b, bd->grant[i], strlen(bd->grant[i]), &cut))
            return pb_fail(err, PERCH_E_IO, "out of memory");
        if (b->len > PA_LINE_MAX / 2)
            return pb_fail(err, PERCH_E_USAGE, "audit binding: the grant is over %zu bytes",
                           PA_LINE_MAX / 2);
    }
    if (cut)
        return pb_fail(err, PERCH_E_USAGE, "audit binding: a grant entry is over %d bytes",
                       PA_VALUE_MAX);
    if (!pb_buf_byte(b, ']'))
        return pb_fail(err, PERCH_E_IO, "out of memory");
    log->module_name = pb_strdup(bd->module_name ? bd->module_name : "");
    if (!log->module_name)
        return pb_fail(err, PERCH_E_IO, "out of memory");
    return PERCH_OK;
}

static void free_log(pa_log *log)
{
    if (log->fd >= 0)
        close(log->fd);
    pb_buf_free(&log->line);
    pb_buf_free(&log->binding);
    pb_free(log->module_name);
    pb_free(log->path);
    pb_free(log);
}

perch_err_kind pa_log_open(const char *path, const pa_options *options,
                           const pa_binding *binding, pa_log **out, perch_err *err)
{
    pa_log *log;
    perch_err_kind rc;
    struct stat st;
    uint64_t torn = 0;
    char *prev_name = NULL;
    pa_field hf[2];
    size_t nhf = 0;

    *out = NULL;
    if (!path || !path[0] || !binding)
        return pb_fail(err, PERCH_E_USAGE, "audit log: no path or binding");
    if (!(log = pb_calloc(1, sizeof *log)))
        return pb_fail(err, PERCH_E_IO, "out of memory");
    log->fd = -1;
    if (options)
        log->opt = *options;
    memcpy(log->prev, zero_hash, sizeof zero_hash);
    if (!(log->path = pb_strdup(path)) || !pb_buf_reserve(&log->line, 4096)) {
        rc = pb_fail(err, PERCH_E_IO, "out of memory");
        goto fail;
    }
    PB_TRY(build_binding(log, binding, err));

    log->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log->fd < 0) {
        rc = pb_fail(err, PERCH_E_IO, "cannot open audit log %s: %s", path, strerror(errno));
        goto fail;
    }
    if (fstat(log->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = pb_fail(err, PERCH_E_IO, "audit log %s is not a regular file", path);
        goto fail;
    }
    PB_TRY(lock_fd(log->fd, path, err));
    log->next_rot = 1;
    for (;;) {
        char *name = rotated_name(path, log->next_rot);
        bool there;
        if (!name) {
            rc = pb_fail(err, PERCH_E_IO, "out of memory");
            goto fail;
        }
        there = exists(name);
        if (!there) {
            pb_free(name);
            break;
        }
        pb_free(prev_name);
        prev_name = name;
        log->next_rot++;
    }

    if (st.st_size > 0) {
        PB_TRY(read_tail(log->fd, (uint64_t)st.st_size, path, log, &torn, err));
        if (torn > 0 && ftruncate(log->fd, st.st_size - (off_t)torn) != 0) {
            rc = pb_fail(err, PERCH_E_IO, "cannot cut the torn record off audit log %s: %s",
                         path, strerror(errno));
            goto fail;
        }
        log->size = (uint64_t)st.st_size - torn;
        log->file_records = log->size > 0 ? 2 : 0;
        if (torn > 0)
            hf[nhf++] = PA_INT("torn_bytes", torn);
    } else if (prev_name) {
        /* A rotation that crashed between the rename and the new header. */
        int pfd = open(prev_name, O_RDONLY | O_CLOEXEC);
        struct stat pst;
        if (pfd < 0 || fstat(pfd, &pst) != 0) {
            rc = pb_fail(err, PERCH_E_IO, "cannot read %s: %s", prev_name, strerror(errno));
            if (pfd >= 0)
                close(pfd);
            goto fail;
        }
        rc = pst.st_size > 0 ? read_tail(pfd, (uint64_t)pst.st_size, prev_name, log, &torn, err)
                             : pb_fail(err, PERCH_E_IO, "rotated audit log %s is empty", prev_name);
        close(pfd);
        if (rc != PERCH_OK)
            goto fail;
        if (torn > 0) {
            rc = pb_fail(err, PERCH_E_IO, "rotated audit log %s ends in a partial record",
                         prev_name);
            goto fail;
        }
        hf[nhf++] = PA_STR("prev_file", base_name(prev_name));
    }
    PB_TRY(emit(log, "log.open", log->module_name, PA_NUL, "ok", hf, nhf, true, false, err));
    pb_free(prev_name);
    *out = log;
    return PERCH_OK;
fail:
    pb_free(prev_name);
    free_log(log);
    return rc;
}

perch_err_kind pa_log_close(pa_log *log, perch_err *err)
{
    perch_err_kind rc = PERCH_OK;
    if (!log)
        return PERCH_OK;
    if (log->failed)
        rc = pb_fail(err, PERCH_E_IO, "audit log %s: an earlier write failed; not closed cleanly",
                     log->path);
    else
        rc = emit(log, "log.close", "", 0, "ok", NULL, 0, false, false, err);
    if (rc == PERCH_OK && !log->failed)
        rc = sync_fd(log, err);
    if (close(log->fd) != 0 && rc == PERCH_OK)
        rc = pb_fail(err, PERCH_E_IO, "cannot close audit log %s: %s", log->path,
                     strerror(errno));
    log->fd = -1;
    free_log(log);
    return rc;
}
