/*
 * audit.h: the hash-chained audit log. Prefix pa_. Uses trust (SHA-256,
 * Ed25519 for checkpoints) and jansson (reading records back).
 *
 * A log is JSON Lines: one record per line, each written with one write()
 * on a descriptor opened O_APPEND. Every record carries its sequence
 * number, a time, an event kind, the object, the outcome, the hash of the
 * record before it (prev) and its own hash:
 *
 *   hash = hex(SHA-256(prev || line-without-hash))
 *
 * docs/audit.md defines those bytes exactly, so a tool outside perch can
 * recompute every hash. A file's first record binds what follows to a
 * module digest and the grant it ran under and names the hash algorithm.
 *
 * Ownership: pa_log_open hands out an owned pa_log (pa_log_close releases
 * it, even when it fails). Strings passed in are borrowed for the call only.
 * A pa_log is used by one thread at a time.
 */
#ifndef PERCH_AUDIT_H
#define PERCH_AUDIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "trust/trust.h"

/* Longest line (record plus its newline) a writer emits or a reader accepts. */
#define PA_LINE_MAX ((size_t)1 << 20)
/* A string value longer than this many bytes is cut (the record says so). */
#define PA_VALUE_MAX 16384
/* Extra fields one event may carry. */
#define PA_FIELDS_MAX 16
/* Longest event kind, outcome or field name. */
#define PA_NAME_MAX 64
/* Characters of a hash in hex, without the NUL. */
#define PA_HASH_HEX 64 /* 2 * PT_SHA256_LEN */
/* The algorithm the header records name; the only one this perch writes. */
#define PA_ALGO "sha256"

/* ---- writing (log.c) ------------------------------------------------------- */

typedef struct pa_log pa_log;

/*
 * How a log is written. Zero-initialised means: no fsync per record (fsync
 * at rotation and close only), no rotation, the system's real-time clock.
 */
typedef struct pa_options {
    bool fsync_each;       /* fsync after every record */
    uint64_t rotate_bytes; /* rotate before a record would grow the file past this; 0: never */
    /* Microseconds since the Unix epoch; NULL: CLOCK_REALTIME. For tests. */
    int64_t (*clock)(void *ud);
    void *clock_ud;
} pa_options;

/*
 * What the log is about, written into the header record of every file:
 * the module's digest (as pt_module_digest computes it), an optional name,
 * and the effective grant as capability strings ("read:/inputs",
 * "net:api.example.com:443", ...; DESIGN.md, "Capabilities").
 */
typedef struct pa_binding {
    uint8_t module_digest[PT_SHA256_LEN];
    const char *module_name;  /* NULL or "" when unknown */
    const char *const *grant; /* ngrant strings */
    size_t ngrant;
} pa_binding;

/*
 * Open the log at path for appending (created with mode 0600 when it does
 * not exist) and write a log.open header record bound to binding.
 *
 * An existing log is continued: its last record must be a well-formed
 * record whose hash matches its content, and the chain goes on from it. A
 * torn last line (a write cut short by a crash) is cut off and the header
 * says how many bytes went ("torn_bytes"). When path does not exist but
 * rotated files path.1, path.2, ... do, the chain continues from the
 * newest. The file is locked (fcntl) against a second writer.
 *
 * *out is owned (pa_log_close). Errors: io (cannot open, read, lock or
 * write; the existing log's last record is malformed or over
 * PA_LINE_MAX), usage (a header over PA_LINE_MAX).
 */
perch_err_kind pa_log_open(const char *path, const pa_options *options,
                           const pa_binding *binding, pa_log **out, perch_err *err);

/* An extra field of an event: a string (str != NULL) or an integer. */
typedef struct pa_field {
    const char *key; /* [a-z0-9_]{1,64}, not a name the record itself uses */
    const char *str; /* the string value (any bytes), or NULL for num */
    size_t len;      /* bytes of str; PA_NUL: up to its NUL */
    int64_t num;
} pa_field;

#define PA_NUL SIZE_MAX
#define PA_STR(k, v) ((pa_field){(k), (v), PA_NUL, 0})
#define PA_STRN(k, v, n) ((pa_field){(k), (v), (n), 0})
#define PA_INT(k, v) ((pa_field){(k), NULL, 0, (int64_t)(v)})

/*
 * Append one event. kind is a dotted name ("fs.open", "refused.fs.open",
 * "net.http_get", "policy.exception"), outcome a short word ("ok",
 * "refused", "error"), both [a-z0-9_.]{1,64}. object is what was touched
 * (a guest path, a URL, a variable name): object_len bytes, PA_NUL for a
 * NUL-terminated string. Strings that are not UTF-8 have each bad byte
 * replaced by U+FFFD; strings over PA_VALUE_MAX bytes are cut at a
 * character boundary and the record gets "cut":true.
 *
 * One write() of one line, no allocation unless a record is longer than any
 * before it. Errors: usage (a bad kind, outcome or key, too many fields, a
 * line over PA_LINE_MAX: nothing is written), io (write, fsync or rotation
 * failed; the log then refuses every later event, since the file may end in
 * a partial record).
 */
perch_err_kind pa_log_event(pa_log *log, const char *kind, const char *object,
                            size_t object_len, const char *outcome, const pa_field *fields,
                            size_t nfields, perch_err *err);

/* Records written so far in the whole chain (the next sequence number). */
uint64_t pa_log_count(const pa_log *log);

/* Hex hash of the last record written (borrowed, lives as long as log). */
const char *pa_log_last_hash(const pa_log *log);

/*
 * Write a log.close record, fsync and close. Frees log in every case (NULL
 * is a no-op). Errors: io.
 */
perch_err_kind pa_log_close(pa_log *log, perch_err *err);

/* ---- reading records (record.c) --------------------------------------------- */

/* One line of a log, parsed. */
typedef struct pa_record {
    json_t *root;              /* owned: the whole object (json_decref) */
    uint64_t seq;
    const char *kind;          /* borrowed from root */
    char prev[PA_HASH_HEX + 1];
    char hash[PA_HASH_HEX + 1];
    bool hash_ok;              /* hash is SHA-256(prev || line without hash) */
} pa_record;

/*
 * Parse one line (without its newline): valid UTF-8, a JSON object with no
 * duplicate keys, the fields seq (integer >= 0), time, kind, object,
 * outcome, prev and hash (strings; prev and hash 64 lowercase hex digits),
 * the line ending exactly in ,"hash":"<64 hex>"}. Then recompute the hash
 * (hash_ok). scratch is working memory the caller keeps across calls
 * (pb_buf_free when done). On success out->root is owned. Errors: io, with
 * what is wrong ("not valid JSON: ... at column 17", "no \"seq\" field").
 */
perch_err_kind pa_record_parse(const char *line, size_t len, pb_buf *scratch, pa_record *out,
                               perch_err *err);

void pa_record_free(pa_record *r);

/* True for the kinds that start a file or a run: log.open, log.rotate. */
bool pa_kind_is_header(const char *kind);

/* ---- reading lines (read.c) ---------------------------------------------------- */

/* A buffered line reader over one file that can wait for more (--follow). */
typedef struct pa_reader {
    int fd;
    uint8_t *buf;      /* owned, PA_LINE_MAX + 1 bytes */
    size_t start, end; /* unread bytes are buf[start..end) */
    uint64_t offset;   /* file offset of buf[start] */
    uint64_t line;     /* number of the next line, from 1 */
    bool skipping;     /* inside a line over PA_LINE_MAX */
    uint64_t skip_at;  /* where that line started */
} pa_reader;

typedef enum pa_read {
    PA_READ_LINE,    /* a complete line (without its newline) */
    PA_READ_LONG,    /* a line over PA_LINE_MAX, skipped (len 0) */
    PA_READ_PARTIAL, /* end of file inside a line: the bytes so far, kept */
    PA_READ_END,     /* end of file at a line boundary */
} pa_read;

/* Open path at byte offset `offset`, counting lines from first_line. */
perch_err_kind pa_reader_open(pa_reader *r, const char *path, uint64_t offset,
                              uint64_t first_line, perch_err *err);

/*
 * The next line: *line and *len are borrowed until the next call; *at is
 * its byte offset and *lineno its number. After PA_READ_PARTIAL or
 * PA_READ_END the reader may be called again when the file has grown.
 */
perch_err_kind pa_reader_next(pa_reader *r, pa_read *what, const char **line, size_t *len,
                              uint64_t *at, uint64_t *lineno, perch_err *err);

void pa_reader_close(pa_reader *r);

/* ---- verifying (verify.c) -------------------------------------------------------- */

/*
 * An outside anchor: what the log held at some earlier moment, taken from
 * a previous verify, pa_log_last_hash/pa_log_count, or a signed checkpoint.
 * The log must still hold those records: at least count records, and the
 * record with sequence number count-1 (or, with no count, some record)
 * having hash last. Records written after the anchor are fine.
 */
typedef struct pa_anchor {
    bool has_count;
    uint64_t count;
    bool has_last;
    char last[PA_HASH_HEX + 1];
} pa_anchor;

typedef enum pa_status {
    PA_VERIFIED,  /* every record is intact and chained; anchors hold */
    PA_BROKEN,    /* a record was changed, removed, added or moved */
    PA_TRUNCATED, /* intact, except that the last line is incomplete */
} pa_status;

typedef enum pa_reason {
    PA_R_NONE,
    PA_R_EDITED,    /* a record's content no longer matches its hash, or is not a record */
    PA_R_DELETED,   /* records are missing before this one */
    PA_R_INSERTED,  /* a record that does not belong to the chain */
    PA_R_REORDERED, /* records are out of order */
    PA_R_TORN,      /* the last line stops mid-record (a crash) */
    PA_R_START,     /* the chain does not start with its first record */
    PA_R_ANCHOR,    /* records before the anchor are missing or were rewritten */
    PA_R_ALGO,      /* a hash algorithm this perch does not know */
} pa_reason;

/* "edited", "deleted", ... Static. */
const char *pa_reason_name(pa_reason r);

typedef struct pa_report {
    pa_status status;
    pa_reason reason;
    /* Where (BROKEN, TRUNCATED): index into paths, line number, byte offset. */
    size_t file;
    uint64_t line;
    uint64_t offset;
    bool has_seq;
    uint64_t seq;           /* the seq the bad record claims, when it has one */
    char message[400];      /* why, in words */
    /* The intact prefix: records verified, the last one's hash and kind. */
    uint64_t count;
    char last[PA_HASH_HEX + 1];
    bool closed;            /* the last intact record is log.close */
    bool anchored;          /* an anchor was given and matched */
} pa_report;

/*
 * Verify the chain across paths, oldest file first (path.1, path.2, ...,
 * path). Integrity findings go in *out (status, reason, where, why), with
 * PERCH_OK returned; the return is an error only when the check could not
 * be made: io (a file cannot be read, out of memory), usage (no paths).
 * anchor may be NULL.
 */
PERCH_NODISCARD perch_err_kind pa_verify(const char *const *paths, size_t npaths,
                                         const pa_anchor *anchor, pa_report *out,
                                         perch_err *err);

/* ---- checkpoints (checkpoint.c) ---------------------------------------------------- */

/*
 * A checkpoint is one JSON line signed with Ed25519:
 *   {"type":"perch.audit.checkpoint","count":N,"last":HEX,"time":T,
 *    "signer":NAME,"pubkey":B64,"sig":B64}
 * where sig covers the bytes "perch.audit.checkpoint\n<count>\n<last>\n".
 */
#define PA_CHECKPOINT_MAX 4096

/* The checkpoint text for (count, last) signed by key as signer, into out. */
perch_err_kind pa_checkpoint_make(uint64_t count, const char *last, const char *time,
                                  const pt_key *key, const char *signer, pb_buf *out,
                                  perch_err *err);

/*
 * Parse a checkpoint, check its signature and that its signer and key are
 * in ring; fill *anchor (has_count and has_last) and signer. Errors:
 * usage (malformed), manifest_signature_invalid (the signature does not
 * match), manifest_signer_untrusted (signer or key not in ring).
 */
perch_err_kind pa_checkpoint_check(const char *text, size_t len, const pt_keyring *ring,
                                   pa_anchor *anchor, char signer[PT_SIGNER_MAX + 1],
                                   perch_err *err);

/* RFC 3339 UTC time with microseconds of t (microseconds since the epoch),
 * "2024-05-01T12:34:56.123456Z", into out (28 bytes with the NUL). */
void pa_format_time(int64_t t, char out[28]);

#endif /* PERCH_AUDIT_H */
