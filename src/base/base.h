/*
 * base.h: what every layer shares: error filling, the allocation hook, byte
 * buffers and whole-file I/O. Prefix pb_. Uses libc only.
 *
 * Departure from DESIGN.md's layer table, on purpose: errors and allocation
 * are needed by every layer, including src/wasm/, which may not depend on
 * anything above it, so they live in a layer below all of them.
 */
#ifndef PERCH_BASE_H
#define PERCH_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "perch.h"

#if defined(__GNUC__) || defined(__clang__)
#define PB_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define PB_PRINTF(f, a)
#endif

/* ---- errors -------------------------------------------------------------- */

/*
 * Fill err (which may be NULL) and return kind, so a failing function can
 * write `return pb_fail(err, PERCH_E_IO, "...", ...);`.
 */
perch_err_kind pb_fail(perch_err *err, perch_err_kind kind, const char *fmt, ...)
    PB_PRINTF(3, 4);

/* Same, recording the byte offset the error refers to. */
perch_err_kind pb_fail_at(perch_err *err, perch_err_kind kind, uint64_t offset,
                          const char *fmt, ...) PB_PRINTF(4, 5);

/* Set err->detail (printf-style); keeps kind and message. */
void pb_detail(perch_err *err, const char *fmt, ...) PB_PRINTF(2, 3);

/* Prefix err->message with "PREFIX: " (used to add a file or section name). */
void pb_prefix(perch_err *err, const char *fmt, ...) PB_PRINTF(2, 3);

/* Run an expression returning perch_err_kind; jump to `fail` on error. */
#define PB_TRY(expr)                                                          \
    do {                                                                      \
        if ((rc = (expr)) != PERCH_OK)                                        \
            goto fail;                                                        \
    } while (0)

/* ---- allocation ---------------------------------------------------------- */

/*
 * All of perch's allocations go through these (STYLE.md, habit 8). They
 * return NULL on failure and never abort. pb_free(NULL) is a no-op.
 */
void *pb_malloc(size_t size);
void *pb_calloc(size_t count, size_t size);
void *pb_realloc(void *ptr, size_t size);
void pb_free(void *ptr);
/* Owned copy of s (NUL-terminated), or NULL. */
char *pb_strdup(const char *s);
/* Owned NUL-terminated copy of the first n bytes of s, or NULL. */
char *pb_strndup(const char *s, size_t n);

/*
 * Test hook: make the Nth allocation from now fail (n == 0 disables).
 * Used by tests to prove every error path frees what it took.
 */
void pb_alloc_fail_after(uint64_t n);

/* ---- byte buffers -------------------------------------------------------- */

/* A growable byte buffer. data is owned by the buffer; free with pb_buf_free. */
typedef struct pb_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} pb_buf;

bool pb_buf_reserve(pb_buf *b, size_t extra);
bool pb_buf_append(pb_buf *b, const void *data, size_t len);
bool pb_buf_byte(pb_buf *b, uint8_t byte);
/* Append the unsigned LEB128 encoding of v (shortest form). */
bool pb_buf_uleb(pb_buf *b, uint64_t v);
bool pb_buf_printf(pb_buf *b, const char *fmt, ...) PB_PRINTF(2, 3);
void pb_buf_free(pb_buf *b);

/* ---- files --------------------------------------------------------------- */

/* Largest file perch reads whole (modules, manifests, keyrings): 1 GiB. */
#define PB_FILE_MAX ((size_t)1 << 30)

/*
 * Read a whole regular file. On success *out holds an owned buffer
 * (pb_buf_free) with a NUL byte after the last one (not counted in len).
 * Errors: PERCH_E_IO (with the path and the system's reason).
 */
perch_err_kind pb_file_read(const char *path, pb_buf *out, perch_err *err);

/*
 * Replace (or create) path with data atomically: write a temporary file in
 * the same directory, fsync it, rename it over path, fsync the directory.
 * Either path holds all of data afterwards or it is exactly as it was.
 * mode applies to a new file; an existing file keeps its mode.
 */
perch_err_kind pb_file_write_atomic(const char *path, const void *data,
                                    size_t len, unsigned mode, perch_err *err);

/* ---- text ---------------------------------------------------------------- */

/* True when bytes [s, s+n) are well-formed UTF-8 (no overlongs, no surrogates). */
bool pb_utf8_valid(const uint8_t *s, size_t n);

#endif /* PERCH_BASE_H */
