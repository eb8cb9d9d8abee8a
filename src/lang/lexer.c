/*
 * lexer.c: .perch text to tokens; positions, error messages and the caret
 * line shown under an error.
 *
 * Lexical rules (docs/perch-files.md): the file is UTF-8 without NUL bytes
 * or control characters other than tab, LF and CR LF. A '#' that starts a
 * token starts a comment running to the end of the line. Strings are
 * quoted with ", ' or ` and end on the line they start; they have no escape
 * sequences (`${name}` is interpolated later; `\${` keeps "${" literally).
 * A word is a run of characters other than blanks and quotes. >=, >, =, <
 * and <= standing alone (followed by a blank, a quote, '#' or the end of
 * the line) are operators; elsewhere they are part of a word.
 */
#include <stdio.h>
#include <string.h>

#include "lang/lang.h"
#include "lang/lex.h"

size_t pl_utf8_seq(const uint8_t *s, size_t n)
{
    uint32_t c;
    size_t len;
    if (n == 0)
        return 0;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2, c = s[0] & 0x1fu;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3, c = s[0] & 0x0fu;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4, c = s[0] & 0x07u;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3fu);
    }
    /* overlong forms, surrogates, beyond U+10FFFF */
    if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
        (c >= 0xd800 && c <= 0xdfff))
        return 0;
    return len;
}

perch_err_kind pl_fail_pos(perch_err *err, const char *path, pl_pos pos, const char *fmt, ...)
{
    char text[sizeof err->message], safe[sizeof err->message];
    size_t k = 0;
    va_list ap;
    if (!err)
        return PERCH_E_PERCH_SYNTAX;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    /* values quoted from the file may hold tabs: messages carry no control bytes */
    for (const char *c = text; *c && k + 5 < sizeof safe; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            k += (size_t)snprintf(safe + k, sizeof safe - k, "\\x%02x", (unsigned char)*c);
        else
            safe[k++] = *c;
    }
    safe[k] = '\0';
    pb_fail(err, PERCH_E_PERCH_SYNTAX, "%s:%u:%u: %s", path, (unsigned)pos.line,
            (unsigned)pos.col, safe);
    err->offset = pos.off;
    return PERCH_E_PERCH_SYNTAX;
}

pl_pos pl_pos_in(const pl_word *w, size_t k)
{
    pl_pos p = w->pos;
    size_t start = w->quoted ? 1 : 0;
    p.col += (uint32_t)start;
    p.off += (uint32_t)start;
    for (size_t i = 0; i < k && w->s[i]; i++) {
        if (((unsigned char)w->s[i] & 0xc0) != 0x80)
            p.col++;
        p.off++;
    }
    return p;
}

typedef struct lexer {
    const char *path;
    const uint8_t *s;
    size_t len;
    size_t i;
    uint32_t line;
    uint32_t col;
    size_t line_start;
    pl_token *toks;
    size_t n, cap;
    perch_err *err;
} lexer;

static pl_pos here(const lexer *lx)
{
    pl_pos p = {lx->line, lx->col, (uint32_t)lx->i};
    return p;
}

static perch_err_kind push(lexer *lx, pl_tok_kind kind, pl_pos pos, size_t len)
{
    if (kind == PL_T_NL && (lx->n == 0 || lx->toks[lx->n - 1].kind == PL_T_NL))
        return PERCH_OK;
    if (lx->n == lx->cap) {
        size_t cap = lx->cap ? lx->cap * 2 : 256;
        pl_token *t = pb_realloc(lx->toks, cap * sizeof *t);
        if (!t)
            return pb_fail(lx->err, PERCH_E_IO, "out of memory");
        lx->toks = t;
        lx->cap = cap;
    }
    lx->toks[lx->n].kind = kind;
    lx->toks[lx->n].pos = pos;
    lx->toks[lx->n].len = (uint32_t)len;
    lx->n++;
    return PERCH_OK;
}

static bool is_blank(uint8_t c) { return c == ' ' || c == '\t'; }
static bool is_quote(uint8_t c) { return c == '"' || c == '\'' || c == '`'; }
static bool is_end(const lexer *lx, size_t i)
{
    return i >= lx->len || is_blank(lx->s[i]) || lx->s[i] == '\n' || lx->s[i] == '\r' ||
           is_quote(lx->s[i]) || lx->s[i] == '#';
}

/*
 * Step over the character at lx->i (which is not a line end), checking it:
 * the threat is text that hides from the person reading the file or the
 * error (NULs cutting C strings, escape sequences, invalid UTF-8).
 */
static perch_err_kind step(lexer *lx)
{
    uint8_t c = lx->s[lx->i];
    size_t n;
    if (c == 0)
        return pl_fail_pos(lx->err, lx->path, here(lx), "NUL byte in the file");
    if ((c < 0x20 && c != '\t') || c == 0x7f)
        return pl_fail_pos(lx->err, lx->path, here(lx), "control character 0x%02x in the file",
                           c);
    n = pl_utf8_seq(lx->s + lx->i, lx->len - lx->i);
    if (n == 0)
        return pl_fail_pos(lx->err, lx->path, here(lx), "invalid UTF-8 (byte 0x%02x)", c);
    if (lx->i + n - lx->line_start > PL_MAX_LINE) {
        pl_pos p = {lx->line, 1, (uint32_t)lx->line_start};
        return pl_fail_pos(lx->err, lx->path, p, "line is longer than %d bytes", PL_MAX_LINE);
    }
    lx->i += n;
    lx->col++;
    return PERCH_OK;
}

/* A line ends at LF or CR LF; a CR anywhere else is a control character. */
static bool at_newline(const lexer *lx)
{
    return lx->s[lx->i] == '\n' ||
           (lx->s[lx->i] == '\r' && lx->i + 1 < lx->len && lx->s[lx->i + 1] == '\n');
}

perch_err_kind pl_lex(const char *path, const char *src, size_t len, pl_token **toks,
                      size_t *ntoks, perch_err *err)
{
    lexer lx = {path, (const uint8_t *)src, len, 0, 1, 1, 0, NULL, 0, 0, err};
    perch_err_kind rc;
    *toks = NULL;
    *ntoks = 0;
    if (len > PL_MAX_FILE) {
        pl_pos p = {1, 1, 0};
        return pl_fail_pos(err, path, p, "file is larger than %zu bytes", PL_MAX_FILE);
    }
    /* a UTF-8 byte order mark is skipped */
    if (len >= 3 && memcmp(src, "\xef\xbb\xbf", 3) == 0)
        lx.i = 3;
    while (lx.i < len) {
        uint8_t c = lx.s[lx.i];
        pl_pos start = here(&lx);
        if (is_blank(c)) {
            PB_TRY(step(&lx));
        } else if (at_newline(&lx)) {
            PB_TRY(push(&lx, PL_T_NL, start, 0));
            lx.i += c == '\r' ? 2 : 1;
            lx.line++;
            lx.col = 1;
            lx.line_start = lx.i;
        } else if (c == '#') {
            while (lx.i < len && !at_newline(&lx))
                PB_TRY(step(&lx));
        } else if (is_quote(c)) {
            PB_TRY(step(&lx));
            while (lx.i < len && lx.s[lx.i] != c && !at_newline(&lx))
                PB_TRY(step(&lx));
            if (lx.i >= len || lx.s[lx.i] != c) {
                rc = pl_fail_pos(err, path, start,
                                 "unterminated string (a string ends on the line it starts)");
                goto fail;
            }
            PB_TRY(step(&lx));
            PB_TRY(push(&lx, PL_T_STRING, start, lx.i - start.off));
        } else {
            size_t oplen = 0;
            if (c == '>' || c == '<' || c == '=') {
                oplen = (c != '=' && lx.i + 1 < len && lx.s[lx.i + 1] == '=') ? 2 : 1;
                if (!is_end(&lx, lx.i + oplen))
                    oplen = 0;
            }
            if (oplen) {
                for (size_t k = 0; k < oplen; k++)
                    PB_TRY(step(&lx));
                PB_TRY(push(&lx, PL_T_OP, start, oplen));
                continue;
            }
            while (lx.i < len && !is_blank(lx.s[lx.i]) && !is_quote(lx.s[lx.i]) &&
                   !at_newline(&lx))
                PB_TRY(step(&lx));
            PB_TRY(push(&lx, PL_T_WORD, start, lx.i - start.off));
        }
    }
    PB_TRY(push(&lx, PL_T_NL, here(&lx), 0));
    PB_TRY(push(&lx, PL_T_EOF, here(&lx), 0));
    *toks = lx.toks;
    *ntoks = lx.n;
    return PERCH_OK;
fail:
    pb_free(lx.toks);
    return rc;
}

/* ---- the caret line ----------------------------------------------------------- */

/* Show this many bytes of a long line before the caret, and at most WINDOW in all. */
#define BEFORE 60
#define WINDOW 160

/* Append [s, s+n) printably; return its width in columns (tabs kept as tabs). */
static bool put_safe(pb_buf *out, pb_buf *pad, const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t k = pl_utf8_seq(s + i, n - i);
        if (s[i] == '\t') {
            if (!pb_buf_byte(out, '\t') || (pad && !pb_buf_byte(pad, '\t')))
                return false;
            i++;
        } else if (k == 0 || s[i] < 0x20 || s[i] == 0x7f) {
            if (!pb_buf_printf(out, "\\x%02x", s[i]) || (pad && !pb_buf_append(pad, "    ", 4)))
                return false;
            i++;
        } else {
            if (!pb_buf_append(out, s + i, k) || (pad && !pb_buf_byte(pad, ' ')))
                return false;
            i += k;
        }
    }
    return true;
}

bool pl_caret(const char *src, size_t len, uint64_t off, pb_buf *out)
{
    const uint8_t *s = (const uint8_t *)src;
    size_t ls, le, from, to;
    pb_buf pad = {0};
    bool ok;
    if (off > len)
        return false;
    ls = (size_t)off;
    while (ls > 0 && s[ls - 1] != '\n')
        ls--;
    le = (size_t)off;
    while (le < len && s[le] != '\n' && s[le] != '\r')
        le++;
    from = ls;
    if (off - ls > BEFORE) {
        from = (size_t)off - BEFORE;
        while (from < off && (s[from] & 0xc0) == 0x80)
            from++;
    }
    to = le;
    if (to - from > WINDOW) {
        to = from + WINDOW;
        if (to < off + 1)
            to = (size_t)off + 1;
        while (to < le && (s[to] & 0xc0) == 0x80)
            to++;
    }
    ok = pb_buf_append(out, "    ", 4) && pb_buf_append(&pad, "    ", 4);
    if (ok && from > ls)
        ok = pb_buf_append(out, "...", 3) && pb_buf_append(&pad, "   ", 3);
    ok = ok && put_safe(out, &pad, s + from, (size_t)off - from) &&
         put_safe(out, NULL, s + off, to - (size_t)off);
    if (ok && to < le)
        ok = pb_buf_append(out, "...", 3);
    ok = ok && pb_buf_byte(out, '\n') && pb_buf_append(out, pad.data, pad.len) &&
         pb_buf_append(out, "^\n", 2);
    pb_buf_free(&pad);
    return ok;
}
