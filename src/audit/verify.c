/*
 * verify.c: walk the chain across a log's files and name the first record
 * that breaks it, and how: edited, deleted, inserted, reordered, torn.
 */
#include <stdarg.h>
#include <string.h>

#include "audit/audit.h"

static const char zero_hash[PA_HASH_HEX + 1] =
    "0000000000000000000000000000000000000000000000000000000000000000";

const char *pa_reason_name(pa_reason r)
{
    static const char *const names[] = {
        [PA_R_NONE] = "none",         [PA_R_EDITED] = "edited",
        [PA_R_DELETED] = "deleted",   [PA_R_INSERTED] = "inserted",
        [PA_R_REORDERED] = "reordered", [PA_R_TORN] = "truncated",
        [PA_R_START] = "start",       [PA_R_ANCHOR] = "anchor",
        [PA_R_ALGO] = "algorithm",
    };
    return (unsigned)r < sizeof names / sizeof names[0] ? names[r] : "?";
}

typedef struct walk {
    const char *const *paths;
    size_t npaths;
    pa_report *rep;
    pb_buf scratch;
    char expect_prev[PA_HASH_HEX + 1];
    uint64_t expect_seq;
    bool started;
} walk;

static void PB_PRINTF(6, 7) mark(pa_report *rep, pa_status st, pa_reason why, size_t file,
                                 uint64_t line, const char *fmt, ...)
{
    va_list ap;
    rep->status = st;
    rep->reason = why;
    rep->file = file;
    rep->line = line;
    rep->has_seq = false;
    va_start(ap, fmt);
    vsnprintf(rep->message, sizeof rep->message, fmt, ap);
    va_end(ap);
}

/*
 * Look past the current line (file fi, byte off, line number lineno) for
 * the record the chain expects next: seq with prev, intact. *dist is how
 * many lines later it is (0: nowhere); *hash its hash.
 */
static perch_err_kind look_ahead(walk *w, size_t fi, uint64_t off, uint64_t lineno,
                                 uint64_t seq, const char *prev, uint64_t *dist,
                                 char hash[PA_HASH_HEX + 1], perch_err *err)
{
    uint64_t n = 0;
    *dist = 0;
    for (size_t f = fi; f < w->npaths; f++) {
        pa_reader r;
        perch_err_kind rc = pa_reader_open(&r, w->paths[f], f == fi ? off : 0,
                                           f == fi ? lineno : 1, err);
        if (rc != PERCH_OK)
            return rc;
        for (;;) {
            pa_read what;
            const char *line;
            size_t len;
            uint64_t at, ln;
            pa_record rec;
            perch_err ignored;
            if ((rc = pa_reader_next(&r, &what, &line, &len, &at, &ln, err)) != PERCH_OK) {
                pa_reader_close(&r);
                return rc;
            }
            if (what == PA_READ_END || what == PA_READ_PARTIAL)
                break;
            n++;
            if (what != PA_READ_LINE ||
                pa_record_parse(line, len, &w->scratch, &rec, &ignored) != PERCH_OK)
                continue;
            if (rec.hash_ok && rec.seq == seq && strcmp(rec.prev, prev) == 0) {
                *dist = n;
                memcpy(hash, rec.hash, PA_HASH_HEX + 1);
                pa_record_free(&rec);
                pa_reader_close(&r);
                return PERCH_OK;
            }
            pa_record_free(&rec);
        }
        pa_reader_close(&r);
    }
    return PERCH_OK;
}

/* The record is intact but is not the one the chain expects: say why. */
static perch_err_kind classify(walk *w, const pa_record *rec, size_t fi, uint64_t next_off,
                               uint64_t lineno, perch_err *err)
{
    uint64_t dist, e = w->expect_seq, s = rec->seq;
    char found[PA_HASH_HEX + 1];
    perch_err_kind rc = look_ahead(w, fi, next_off, lineno + 1, e, w->expect_prev, &dist,
                                   found, err);
    const char *hint = w->rep->count > 0 && lineno == 1 && fi > 0
                           ? " (are the files given oldest first?)"
                           : "";
    if (rc != PERCH_OK)
        return rc;
    if (dist == 1 && strcmp(rec->prev, found) != 0)
        mark(w->rep, PA_BROKEN, PA_R_INSERTED, fi, lineno,
             "record seq %llu does not belong to the chain: it was inserted before seq %llu",
             (unsigned long long)s, (unsigned long long)e);
    else if (dist > 0)
        mark(w->rep, PA_BROKEN, PA_R_REORDERED, fi, lineno,
             "record seq %llu is where seq %llu belongs, which comes %llu line%s later",
             (unsigned long long)s, (unsigned long long)e, (unsigned long long)dist,
             dist == 1 ? "" : "s");
    else if (s > e)
        mark(w->rep, PA_BROKEN, PA_R_DELETED, fi, lineno,
             s == e + 1 ? "record seq %llu is missing before this one (seq %llu)%s"
                        : "records seq %llu to %llu are missing before this one%s",
             (unsigned long long)e,
             (unsigned long long)(s == e + 1 ? s : s - 1), hint);
    else if (s == e)
        mark(w->rep, PA_BROKEN, PA_R_INSERTED, fi, lineno,
             "record seq %llu does not chain to the record before it (its prev is %.12s..., "
             "that record's hash is %.12s...): it was forged, or the one before it rewritten%s",
             (unsigned long long)s, rec->prev, w->expect_prev, hint);
    else
        mark(w->rep, PA_BROKEN, PA_R_INSERTED, fi, lineno,
             "record seq %llu comes after seq %llu: a record before it was inserted or "
             "duplicated%s",
             (unsigned long long)s, (unsigned long long)(e - 1), hint);
    w->rep->has_seq = true;
    w->rep->seq = s;
    return PERCH_OK;
}

/* The first record of the chain: seq 0, log.open, prev all zeros. */
static void check_start(walk *w, const pa_record *rec, size_t fi, uint64_t lineno)
{
    json_t *pf = json_object_get(rec->root, "prev_file");
    if (rec->seq == 0 && strcmp(rec->kind, "log.open") == 0 && strcmp(rec->prev, zero_hash) == 0)
        return;
    if (rec->seq == 0)
        mark(w->rep, PA_BROKEN, PA_R_START, fi, lineno,
             "record seq 0 must be a log.open record with prev 000...0");
    else if (pa_kind_is_header(rec->kind) && json_is_string(pf))
        mark(w->rep, PA_BROKEN, PA_R_START, fi, lineno,
             "the chain begins at seq %llu, continuing from %s, which was not given: give "
             "every file, oldest first",
             (unsigned long long)rec->seq, json_string_value(pf));
    else
        mark(w->rep, PA_BROKEN, PA_R_DELETED, fi, lineno,
             "the log starts at seq %llu: records seq 0 to %llu are missing",
             (unsigned long long)rec->seq, (unsigned long long)rec->seq - 1);
    w->rep->has_seq = true;
    w->rep->seq = rec->seq;
}

/* Check one intact record against the chain and the anchor; false stops. */
static perch_err_kind step(walk *w, const pa_record *rec, size_t fi, uint64_t lineno,
                           uint64_t next_off, const pa_anchor *anchor, perch_err *err)
{
    pa_report *rep = w->rep;
    if (!w->started) {
        w->started = true;
        check_start(w, rec, fi, lineno);
        if (rep->status != PA_VERIFIED)
            return PERCH_OK;
    } else if (rec->seq != w->expect_seq || strcmp(rec->prev, w->expect_prev) != 0) {
        return classify(w, rec, fi, next_off, lineno, err);
    }
    if (pa_kind_is_header(rec->kind)) {
        json_t *algo = json_object_get(rec->root, "algo");
        if (!json_is_string(algo) || strcmp(json_string_value(algo), PA_ALGO) != 0) {
            mark(rep, PA_BROKEN, PA_R_ALGO, fi, lineno,
                 "header record names hash algorithm %s; this perch knows only " PA_ALGO,
                 json_is_string(algo) ? json_string_value(algo) : "(none)");
            rep->has_seq = true;
            rep->seq = rec->seq;
            return PERCH_OK;
        }
    }
    if (anchor && anchor->has_count && rec->seq + 1 == anchor->count && anchor->has_last &&
        strcmp(rec->hash, anchor->last) != 0) {
        mark(rep, PA_BROKEN, PA_R_ANCHOR, fi, lineno,
             "record seq %llu has hash %s but the anchor says %s: the log was rewritten",
             (unsigned long long)rec->seq, rec->hash, anchor->last);
        rep->has_seq = true;
        rep->seq = rec->seq;
        return PERCH_OK;
    }
    if (anchor && anchor->has_last && strcmp(rec->hash, anchor->last) == 0 &&
        (!anchor->has_count || rec->seq + 1 == anchor->count))
        rep->anchored = true;
    if (anchor && anchor->has_count && !anchor->has_last && rec->seq + 1 == anchor->count)
        rep->anchored = true;
    memcpy(w->expect_prev, rec->hash, sizeof w->expect_prev);
    w->expect_seq = rec->seq + 1;
    rep->count = rec->seq + 1;
    memcpy(rep->last, rec->hash, sizeof rep->last);
    rep->closed = strcmp(rec->kind, "log.close") == 0;
    return PERCH_OK;
}

static perch_err_kind walk_file(walk *w, size_t fi, const pa_anchor *anchor, bool *any,
                                perch_err *err)
{
    pa_report *rep = w->rep;
    pa_reader r;
    perch_err_kind rc = pa_reader_open(&r, w->paths[fi], 0, 1, err);
    if (rc != PERCH_OK)
        return rc;
    while (rep->status == PA_VERIFIED) {
        pa_read what;
        const char *line;
        size_t len;
        uint64_t at, lineno;
        pa_record rec;
        perch_err why;
        if ((rc = pa_reader_next(&r, &what, &line, &len, &at, &lineno, err)) != PERCH_OK) {
            pb_prefix(err, "%s", w->paths[fi]);
            break;
        }
        rep->offset = at;
        if (what == PA_READ_END)
            break;
        if (what == PA_READ_LONG || (what == PA_READ_PARTIAL && r.skipping)) {
            mark(rep, PA_BROKEN, PA_R_EDITED, fi, lineno,
                 "line is over %zu bytes: not a record any writer makes", PA_LINE_MAX);
            break;
        }
        if (what == PA_READ_PARTIAL) {
            if (fi + 1 == w->npaths)
                mark(rep, PA_TRUNCATED, PA_R_TORN, fi, lineno,
                     "the last line stops after %zu bytes, mid-record (a write cut short, as "
                     "by a crash); every record before it is intact", len);
            else
                mark(rep, PA_BROKEN, PA_R_TORN, fi, lineno,
                     "the file ends mid-record, but it is not the last file of the log");
            break;
        }
        *any = true;
        perch_err_clear(&why);
        if (pa_record_parse(line, len, &w->scratch, &rec, &why) != PERCH_OK) {
            if (why.kind != PERCH_E_IO || strcmp(why.message, "out of memory") == 0) {
                *err = why;
                rc = why.kind;
                break;
            }
            mark(rep, PA_BROKEN, PA_R_EDITED, fi, lineno, "%s", why.message);
            break;
        }
        if (!rec.hash_ok) {
            mark(rep, PA_BROKEN, PA_R_EDITED, fi, lineno,
                 "record seq %llu was changed: its content does not match its hash",
                 (unsigned long long)rec.seq);
            rep->has_seq = true;
            rep->seq = rec.seq;
        } else {
            rc = step(w, &rec, fi, lineno, r.offset, anchor, err);
        }
        pa_record_free(&rec);
        if (rc != PERCH_OK)
            break;
    }
    pa_reader_close(&r);
    return rc;
}

perch_err_kind pa_verify(const char *const *paths, size_t npaths, const pa_anchor *anchor,
                         pa_report *out, perch_err *err)
{
    walk w;
    perch_err_kind rc = PERCH_OK;
    bool any = false;

    memset(out, 0, sizeof *out);
    memcpy(out->last, zero_hash, sizeof out->last);
    if (npaths == 0)
        return pb_fail(err, PERCH_E_USAGE, "no audit log to verify");
    memset(&w, 0, sizeof w);
    w.paths = paths;
    w.npaths = npaths;
    w.rep = out;
    for (size_t fi = 0; fi < npaths && out->status == PA_VERIFIED; fi++)
        if ((rc = walk_file(&w, fi, anchor, &any, err)) != PERCH_OK)
            goto done;
    if (out->status == PA_VERIFIED && !any) {
        mark(out, PA_BROKEN, PA_R_START, 0, 1, "the log holds no records");
        goto done;
    }
    if (out->status == PA_BROKEN || !anchor || (!anchor->has_count && !anchor->has_last) ||
        out->anchored)
        goto done;
    /* The anchor's record never came: whole records are gone from the end. */
    out->has_seq = false;
    if (anchor->has_count && out->count < anchor->count)
        mark(out, PA_BROKEN, PA_R_ANCHOR, npaths - 1, 0,
             "the log holds %llu records but the anchor says at least %llu: records were "
             "removed from the end",
             (unsigned long long)out->count, (unsigned long long)anchor->count);
    else
        mark(out, PA_BROKEN, PA_R_ANCHOR, npaths - 1, 0,
             "no record has the anchor's hash %s: records were removed from the end or the "
             "log was rewritten",
             anchor->last);
done:
    pb_buf_free(&w.scratch);
    return rc;
}
