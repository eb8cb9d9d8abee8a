/*
 * lex.h: the tokens of a .perch file and the lexer, shared by the parser
 * and the checker (not part of the layer's interface, lang.h).
 */
#ifndef PERCH_LANG_LEX_H
#define PERCH_LANG_LEX_H

#include "lang/ast.h"

typedef enum pl_tok_kind {
    PL_T_WORD,   /* a run of non-blank characters: keywords, names, flags */
    PL_T_STRING, /* "...", '...' or `...` on one line, no escapes */
    PL_T_OP,     /* >= > = < <= standing alone */
    PL_T_NL,     /* end of a line that held a token */
    PL_T_EOF
} pl_tok_kind;

typedef struct pl_token {
    pl_tok_kind kind;
    pl_pos pos;
    uint32_t len; /* bytes in the source, quotes included */
} pl_token;

/*
 * Split src into tokens. *toks (owned, pb_free) ends with one PL_T_EOF; no
 * two PL_T_NL follow each other and none comes first. Errors: perch_syntax
 * (size and line limits, NUL, control characters, invalid UTF-8,
 * unterminated strings), io.
 */
perch_err_kind pl_lex(const char *path, const char *src, size_t len, pl_token **toks,
                      size_t *ntoks, perch_err *err);

/* Fill err with perch_syntax, "PATH:LINE:COL: " + the formatted text, and
 * err->offset = pos.off. Returns PERCH_E_PERCH_SYNTAX. */
perch_err_kind pl_fail_pos(perch_err *err, const char *path, pl_pos pos, const char *fmt, ...)
    PB_PRINTF(4, 5);

/* The position of byte k of a string's contents, the string starting at
 * pos (its opening quote when quoted). */
pl_pos pl_pos_in(const pl_word *w, size_t k);

/* Length of the well-formed UTF-8 sequence at s (n bytes left), 0 if none. */
size_t pl_utf8_seq(const uint8_t *s, size_t n);

/* The command word of a shell line: blanks and NAME=value assignments
 * skipped; *len 0 when the line holds none. */
void pl_shell_first_word(const char *s, size_t *start, size_t *len);

#endif /* PERCH_LANG_LEX_H */
