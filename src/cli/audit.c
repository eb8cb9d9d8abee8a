/*
 * audit.c: `perch audit verify|show|checkpoint`: check a hash-chained audit
 * log, print it readably, sign an anchor for it (docs/audit.md).
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "cli/cli.h"

static const char help[] =
    "usage: perch audit verify LOG... [--expect-last HASH] [--expect-count N]\n"
    "                                 [--checkpoint FILE --trust-keys KEYRING]\n"
    "       perch audit show LOG [--format json] [--follow]\n"
    "       perch audit checkpoint --key KEY LOG... [-o OUT]\n"
    "\n"
    "An audit log is JSON Lines, one record per line, each holding the SHA-256\n"
    "of the record before it, so a record cannot be changed, removed, added or\n"
    "moved without breaking the chain (docs/audit.md).\n"
    "\n"
    "commands:\n"
    "  verify      check the chain: OK with the count and last hash, or the first break\n"
    "  show        print the records readably, or as JSON Lines\n"
    "  checkpoint  sign the log's count and last hash: an anchor for verify\n"
    "\n"
    "'perch audit COMMAND --help' describes each.\n";

static const char verify_help[] =
    "usage: perch audit verify LOG... [options]\n"
    "\n"
    "Check the hash chain of an audit log. Give a rotated log's files oldest\n"
    "first: LOG.1 LOG.2 ... LOG. Prints one of\n"
    "  OK: N records, last hash H\n"
    "  BROKEN: FILE:LINE: seq S: REASON: why\n"
    "  TRUNCATED: FILE:LINE: why\n"
    "where REASON is edited (a record's content does not match its hash, or\n"
    "the line is not a record), deleted, inserted, reordered, start (the chain\n"
    "does not begin at its first record), anchor or algorithm. TRUNCATED means\n"
    "the last line stops mid-record, as after a crash, and everything before\n"
    "it is intact. Keep the printed count and hash: records removed from the\n"
    "end of a log are caught only against such an anchor.\n"
    "\n"
    "options:\n"
    "  --expect-last HASH     the record with this hash must still be in the log\n"
    "  --expect-count N       the log must hold at least N records (with\n"
    "                         --expect-last: record N-1 must have that hash)\n"
    "  --checkpoint FILE      the same, from a checkpoint signed by a key in\n"
    "  --trust-keys KEYRING   KEYRING (perch audit checkpoint writes them)\n"
    "  --allow-torn           exit 0 when the only fault is a torn last line\n"
    "  --format json          print the result as a JSON object\n"
    "  -h, --help             print this help\n"
    "\n"
    "exit status: 0 the chain is intact and the anchors hold; 1 it is broken or\n"
    "truncated, or the checkpoint's signature is invalid or untrusted; 2 an\n"
    "error (usage, io), printed as 'kind: message (detail)'.\n";

static const char show_help[] =
    "usage: perch audit show LOG [--format json] [--follow]\n"
    "\n"
    "Print the records of an audit log, one per line: sequence number, time,\n"
    "kind, object, outcome and the other fields as key=value. Control\n"
    "characters from the log are shown escaped (\\xNN), so a log cannot move the\n"
    "cursor or recolour the terminal. A record whose hash does not match its\n"
    "content is marked [hash mismatch]; show does not check the chain (verify\n"
    "does).\n"
    "\n"
    "options:\n"
    "  --format json   print each record as one line of JSON (ASCII only)\n"
    "  --follow        keep printing records as they are appended, across\n"
    "                  rotations, until interrupted\n"
    "  -h, --help      print this help\n"
    "\n"
    "exit status: 0 every line was a record; 2 an error (usage, io: a line\n"
    "that is not an audit record, an incomplete last line), printed as\n"
    "'kind: message (detail)' on stderr after the records that could be read.\n";

static const char checkpoint_help[] =
    "usage: perch audit checkpoint --key KEY LOG... [-o OUT] [--signer NAME]\n"
    "\n"
    "Verify LOG (its files oldest first) and, when the chain is intact, write a\n"
    "checkpoint: one line of JSON holding the record count and the last hash,\n"
    "signed with the Ed25519 secret key in KEY:\n"
    "  {\"type\":\"perch.audit.checkpoint\",\"count\":N,\"last\":H,\"time\":T,\n"
    "   \"signer\":NAME,\"pubkey\":B64,\"sig\":B64}\n"
    "Store it away from the log. 'perch audit verify --checkpoint FILE\n"
    "--trust-keys KEYRING LOG...' then proves that none of those records was\n"
    "removed or rewritten since.\n"
    "\n"
    "options:\n"
    "  --key KEY         the secret key (perch wasm keygen writes one)\n"
    "  --signer NAME     the signer, when KEY does not name one\n"
    "  -o, --output OUT  write the checkpoint to OUT (default: standard output)\n"
    "  -h, --help        print this help\n"
    "\n"
    "exit status: 0 written; 1 the log is broken or truncated (nothing is\n"
    "signed); 2 an error (usage, io).\n";

/* ---- verify ------------------------------------------------------------------- */

static bool parse_count(const char *s, uint64_t *out)
{
    char *end;
    if (!s[0] || s[0] < '0' || s[0] > '9')
        return false;
    errno = 0;
    *out = strtoull(s, &end, 10);
    return errno == 0 && *end == '\0';
}

static bool parse_hash(const char *s, char out[PA_HASH_HEX + 1])
{
    size_t i = 0;
    for (; i < PA_HASH_HEX && s[i]; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
        out[i] = c;
    }
    out[i] = '\0';
    return i == PA_HASH_HEX && s[i] == '\0';
}

static void print_report(const pa_report *r, const char *const *paths, bool json)
{
    static const char *const status[] = {"ok", "broken", "truncated"};
    if (json) {
        json_t *o = json_pack("{s:s, s:I, s:s, s:b, s:b}", "status", status[r->status],
                              "count", (json_int_t)r->count, "last", r->last, "closed",
                              r->closed, "anchored", r->anchored);
        char *text;
        if (!o)
            return;
        if (r->status != PA_VERIFIED) {
            json_object_set_new(o, "reason", json_string(pa_reason_name(r->reason)));
            json_object_set_new(o, "file", json_string(paths[r->file]));
            if (r->line)
                json_object_set_new(o, "line", json_integer((json_int_t)r->line));
            if (r->has_seq)
                json_object_set_new(o, "seq", json_integer((json_int_t)r->seq));
            json_object_set_new(o, "message", json_string(r->message));
        }
        text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
        if (text)
            printf("%s\n", text);
        free(text);
        json_decref(o);
        return;
    }
    if (r->status == PA_VERIFIED) {
        printf("OK: %llu records, last hash %s%s%s\n", (unsigned long long)r->count, r->last,
               r->closed ? "" : " (not closed: the writer is running or stopped without "
                                "closing)",
               r->anchored ? "; anchor holds" : "");
        return;
    }
    fputs(r->status == PA_BROKEN ? "BROKEN: " : "TRUNCATED: ", stdout);
    cli_put_safe(stdout, paths[r->file], strlen(paths[r->file]));
    if (r->line)
        printf(":%llu", (unsigned long long)r->line);
    if (r->has_seq)
        printf(": seq %llu", (unsigned long long)r->seq);
    printf(": %s: ", pa_reason_name(r->reason));
    cli_put_safe(stdout, r->message, strlen(r->message));
    printf("\n  intact before it: %llu records, last hash %s\n", (unsigned long long)r->count,
           r->last);
}

static int cmd_verify(int argc, char **argv)
{
    const char *cmd = "audit verify", *expect_last = NULL, *expect_count = NULL,
               *checkpoint = NULL, *trust = NULL, *format = NULL;
    bool allow_torn = false, json;
    static const char *const formats[] = {"json"};
    cli_opt opts[] = {
        {"expect-last", 0, true, &expect_last, NULL},
        {"expect-count", 0, true, &expect_count, NULL},
        {"checkpoint", 0, true, &checkpoint, NULL},
        {"trust-keys", 0, true, &trust, NULL},
        {"allow-torn", 0, false, NULL, &allow_torn},
        {"format", 0, true, &format, NULL},
    };
    cli_args a;
    pa_anchor anchor;
    pa_report rep;
    perch_err err;
    pt_keyring ring = {0};
    pb_buf text = {0};
    int status = CLI_ERROR;

    memset(&anchor, 0, sizeof anchor);
    perch_err_clear(&err);
    if (!cli_parse(cmd, argc, argv, opts, sizeof opts / sizeof opts[0], &a, false))
        goto done;
    if (a.help) {
        fputs(verify_help, stdout);
        status = CLI_OK;
        goto done;
    }
    if (!cli_format(cmd, format, formats, 1))
        goto done;
    json = format != NULL;
    if (a.npos == 0) {
        status = cli_usage(cmd, "expected LOG");
        goto done;
    }
    if (checkpoint && (expect_last || expect_count)) {
        status = cli_usage(cmd, "--checkpoint cannot be combined with --expect-last or --expect-count");
        goto done;
    }
    if ((checkpoint != NULL) != (trust != NULL)) {
        status = cli_usage(cmd, checkpoint ? "--checkpoint needs --trust-keys: a signature "
                                             "nobody trusts proves nothing"
                                           : "--trust-keys is used only with --checkpoint");
        goto done;
    }
    if (expect_last) {
        if (!parse_hash(expect_last, anchor.last)) {
            status = cli_usage(cmd, "--expect-last must be 64 hex digits");
            goto done;
        }
        anchor.has_last = true;
    }
    if (expect_count) {
        if (!parse_count(expect_count, &anchor.count) || anchor.count == 0) {
            status = cli_usage(cmd, "--expect-count must be a whole number >= 1");
            goto done;
        }
        anchor.has_count = true;
    }
    if (checkpoint) {
        char signer[PT_SIGNER_MAX + 1];
        perch_err_kind rc;
        if (pt_keyring_read(trust, &ring, &err) != PERCH_OK ||
            pb_file_read(checkpoint, &text, &err) != PERCH_OK) {
            status = cli_fail(&err, json);
            goto done;
        }
        rc = pa_checkpoint_check((const char *)text.data, text.len, &ring, &anchor, signer, &err);
        if (rc != PERCH_OK) {
            pb_prefix(&err, "%s", checkpoint);
            cli_print_error(&err, json);
            status = rc == PERCH_E_USAGE ? CLI_ERROR : CLI_NEGATIVE;
            goto done;
        }
    }
    if (pa_verify((const char *const *)a.pos, (size_t)a.npos, &anchor, &rep, &err) != PERCH_OK) {
        status = cli_fail(&err, json);
        goto done;
    }
    print_report(&rep, (const char *const *)a.pos, json);
    status = rep.status == PA_VERIFIED || (rep.status == PA_TRUNCATED && allow_torn)
                 ? CLI_OK
                 : CLI_NEGATIVE;
done:
    pt_keyring_free(&ring);
    pb_buf_free(&text);
    pb_free(a.pos);
    return status;
}

/* ---- show ---------------------------------------------------------------------- */

/*
 * Text from the log, for a terminal: C0 controls, DEL and C1 controls
 * (U+0080..U+009F, which some terminals obey) shown as \xNN / \u00NN.
 */
static void put_text(FILE *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] < 0xa0 &&
            (unsigned char)s[i + 1] >= 0x80) {
            fprintf(out, "\\u00%02x", (unsigned char)s[i + 1]);
            i++;
        } else {
            cli_put_safe(out, s + i, 1);
        }
    }
}

static void put_value(FILE *out, json_t *v)
{
    if (json_is_string(v)) {
        put_text(out, json_string_value(v), json_string_length(v));
    } else {
        char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
        if (t) {
            put_text(out, t, strlen(t));
            free(t);
        }
    }
}

static void show_record(const pa_record *rec, bool json)
{
    const char *key;
    json_t *v;
    if (json) {
        /* ASCII only; DEL, which JSON lets through raw, only ever inside a string. */
        char *t = json_dumps(rec->root, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
        if (!t)
            return;
        for (const char *p = t; *p; p++)
            if (*p == 0x7f)
                fputs("\\u007f", stdout);
            else
                fputc(*p, stdout);
        fputc('\n', stdout);
        free(t);
        return;
    }
    printf("%6llu  ", (unsigned long long)rec->seq);
    put_value(stdout, json_object_get(rec->root, "time"));
    fputs("  ", stdout);
    put_value(stdout, json_object_get(rec->root, "kind"));
    fputs("  ", stdout);
    put_value(stdout, json_object_get(rec->root, "object"));
    fputs("  ", stdout);
    put_value(stdout, json_object_get(rec->root, "outcome"));
    json_object_foreach(rec->root, key, v) {
        static const char *const fixed[] = {"seq", "time", "kind", "object", "outcome",
                                            "prev", "hash"};
        bool skip = false;
        for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
            skip = skip || strcmp(key, fixed[i]) == 0;
        if (skip)
            continue;
        fputc(' ', stdout);
        put_text(stdout, key, strlen(key));
        fputc('=', stdout);
        put_value(stdout, v);
    }
    if (!rec->hash_ok)
        fputs("  [hash mismatch]", stdout);
    fputc('\n', stdout);
}

static void pause_briefly(void)
{
    struct timespec ts = {0, 200000000L};
    nanosleep(&ts, NULL);
}

/* True when path now names a different file than the one r reads. */
static bool rotated(const pa_reader *r, const char *path)
{
    struct stat a, b;
    if (stat(path, &a) != 0 || fstat(r->fd, &b) != 0)
        return false;
    return a.st_ino != b.st_ino || a.st_dev != b.st_dev;
}

static int cmd_show(int argc, char **argv)
{
    const char *cmd = "audit show", *format = NULL, *path;
    static const char *const formats[] = {"json"};
    bool follow = false, json, bad = false;
    cli_opt opts[] = {
        {"format", 0, true, &format, NULL},
        {"follow", 'f', false, NULL, &follow},
    };
    cli_args a;
    pa_reader r = {.fd = -1};
    pb_buf scratch = {0};
    perch_err err;
    int status = CLI_ERROR;

    perch_err_clear(&err);
    if (!cli_parse(cmd, argc, argv, opts, sizeof opts / sizeof opts[0], &a, false))
        goto done;
    if (a.help) {
        fputs(show_help, stdout);
        status = CLI_OK;
        goto done;
    }
    if (!cli_format(cmd, format, formats, 1))
        goto done;
    json = format != NULL;
    if (a.npos != 1) {
        status = cli_usage(cmd, a.npos ? "expected one LOG" : "expected LOG");
        goto done;
    }
    path = a.pos[0];
    if (pa_reader_open(&r, path, 0, 1, &err) != PERCH_OK) {
        status = cli_fail(&err, false);
        goto done;
    }
    for (;;) {
        pa_read what;
        const char *line;
        size_t len;
        uint64_t at, lineno;
        pa_record rec;
        perch_err why;
        if (pa_reader_next(&r, &what, &line, &len, &at, &lineno, &err) != PERCH_OK) {
            pb_prefix(&err, "%s", path);
            cli_print_error(&err, false);
            bad = true;
            break;
        }
        if (what == PA_READ_END || what == PA_READ_PARTIAL) {
            if (!follow) {
                if (what == PA_READ_PARTIAL) {
                    perch_err_kind k = pb_fail(&err, PERCH_E_IO, "the last line is incomplete "
                                               "(%zu bytes, no newline): a torn record", len);
                    (void)k;
                    pb_detail(&err, "%s:%llu", path, (unsigned long long)lineno);
                    cli_print_error(&err, false);
                    bad = true;
                }
                break;
            }
            fflush(stdout);
            if (what == PA_READ_END && rotated(&r, path)) {
                pa_reader_close(&r);
                while (pa_reader_open(&r, path, 0, 1, &err) != PERCH_OK)
                    pause_briefly();
                continue;
            }
            pause_briefly();
            continue;
        }
        perch_err_clear(&why);
        if (what == PA_READ_LONG) {
            (void)pb_fail(&why, PERCH_E_IO, "line over %zu bytes: not an audit record",
                          PA_LINE_MAX);
        } else if (pa_record_parse(line, len, &scratch, &rec, &why) == PERCH_OK) {
            show_record(&rec, json);
            pa_record_free(&rec);
            continue;
        }
        fflush(stdout);
        pb_detail(&why, "%s:%llu", path, (unsigned long long)lineno);
        cli_print_error(&why, false);
        bad = true;
    }
    status = bad ? CLI_ERROR : CLI_OK;
done:
    pa_reader_close(&r);
    pb_buf_free(&scratch);
    pb_free(a.pos);
    return status;
}

/* ---- checkpoint ----------------------------------------------------------------- */

static int cmd_checkpoint(int argc, char **argv)
{
    const char *cmd = "audit checkpoint", *key_path = NULL, *out_path = NULL, *signer = NULL;
    cli_opt opts[] = {
        {"key", 0, true, &key_path, NULL},
        {"output", 'o', true, &out_path, NULL},
        {"signer", 0, true, &signer, NULL},
    };
    cli_args a;
    pt_key *key = NULL;
    char *file_signer = NULL;
    pa_report rep;
    perch_err err;
    pb_buf out = {0};
    char now[28];
    struct timespec ts;
    int status = CLI_ERROR;

    perch_err_clear(&err);
    if (!cli_parse(cmd, argc, argv, opts, sizeof opts / sizeof opts[0], &a, false))
        goto done;
    if (a.help) {
        fputs(checkpoint_help, stdout);
        status = CLI_OK;
        goto done;
    }
    if (!key_path) {
        status = cli_usage(cmd, "--key KEY is required");
        goto done;
    }
    if (a.npos == 0) {
        status = cli_usage(cmd, "expected LOG");
        goto done;
    }
    if (pt_key_read(key_path, &key, &file_signer, &err) != PERCH_OK) {
        status = cli_fail(&err, false);
        goto done;
    }
    if (!signer)
        signer = file_signer;
    if (!signer) {
        status = cli_usage(cmd, "%s names no signer: give --signer NAME", key_path);
        goto done;
    }
    if (pa_verify((const char *const *)a.pos, (size_t)a.npos, NULL, &rep, &err) != PERCH_OK) {
        status = cli_fail(&err, false);
        goto done;
    }
    if (rep.status != PA_VERIFIED) {
        print_report(&rep, (const char *const *)a.pos, false);
        fprintf(stderr, "nothing signed: the log does not verify\n");
        status = CLI_NEGATIVE;
        goto done;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    pa_format_time((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000, now);
    if (pa_checkpoint_make(rep.count, rep.last, now, key, signer, &out, &err) != PERCH_OK) {
        status = cli_fail(&err, false);
        goto done;
    }
    if (out_path) {
        if (pb_file_write_atomic(out_path, out.data, out.len, 0644, &err) != PERCH_OK) {
            status = cli_fail(&err, false);
            goto done;
        }
    } else {
        fwrite(out.data, 1, out.len, stdout);
    }
    fprintf(stderr, "checkpoint: %llu records, last hash %s, signed by %s\n",
            (unsigned long long)rep.count, rep.last, signer);
    status = CLI_OK;
done:
    pt_key_free(key);
    pb_free(file_signer);
    pb_buf_free(&out);
    pb_free(a.pos);
    return status;
}

int cmd_audit(int argc, char **argv)
{
    if (argc < 2) {
        fputs(help, stderr);
        return CLI_ERROR;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(help, stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "verify") == 0)
        return cmd_verify(argc - 1, argv + 1);
    if (strcmp(argv[1], "show") == 0)
        return cmd_show(argc - 1, argv + 1);
    if (strcmp(argv[1], "checkpoint") == 0)
        return cmd_checkpoint(argc - 1, argv + 1);
    if (argv[1][0] == '-')
        return cli_usage("audit", "unknown option '%s'", argv[1]);
    return cli_usage("audit", "unknown command 'perch audit %s'", argv[1]);
}
