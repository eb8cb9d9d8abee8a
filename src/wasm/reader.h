/*
 * reader.h: the WebAssembly binary format's outer structure.
 *
 * pw_layout_read walks the preamble and every section without decoding the
 * contents of known sections: ids, sizes, order, custom section names. It
 * costs time proportional to the number of sections, not to their size, so
 * inspect and diff stay fast on modules of any size. Contents are decoded on
 * demand (pw_imports_read and friends here; the whole module by the decoder).
 *
 * Everything a layout holds is offsets into the caller's bytes, which must
 * outlive the layout.
 */
#ifndef PERCH_WASM_READER_H
#define PERCH_WASM_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

enum pw_section_id {
    PW_SEC_CUSTOM = 0,
    PW_SEC_TYPE = 1,
    PW_SEC_IMPORT = 2,
    PW_SEC_FUNCTION = 3,
    PW_SEC_TABLE = 4,
    PW_SEC_MEMORY = 5,
    PW_SEC_GLOBAL = 6,
    PW_SEC_EXPORT = 7,
    PW_SEC_START = 8,
    PW_SEC_ELEMENT = 9,
    PW_SEC_CODE = 10,
    PW_SEC_DATA = 11,
    PW_SEC_DATACOUNT = 12,
};
#define PW_SEC_MAX_ID 12

/* "type", "import", ..., "custom"; "unknown" for other ids. Static. */
const char *pw_section_name(unsigned id);

typedef struct pw_section {
    uint8_t id;
    size_t start;      /* offset of the id byte */
    size_t payload;    /* offset of the first payload byte */
    size_t size;       /* payload size in bytes */
    /* custom sections only (zero otherwise): */
    size_t name;       /* offset of the name's first byte */
    uint32_t name_len; /* length of the name in bytes (UTF-8, no NUL) */
    size_t content;    /* offset of the first byte after the name */
} pw_section;

/* The end of a section: one past its last byte. */
static inline size_t pw_section_end(const pw_section *s) { return s->payload + s->size; }

typedef struct pw_layout {
    pw_section *sections; /* owned; in file order */
    size_t count;
    size_t known[PW_SEC_MAX_ID + 1]; /* index+1 of each known section, 0 if absent */
} pw_layout;

/*
 * Read the preamble and section structure of [bytes, bytes+len).
 * Checks: magic and version; section ids known; section sizes within the
 * file and LEB128-correct; each non-custom section at most once and in the
 * order of the specification (datacount between element and code); custom
 * section names well-formed UTF-8 within the section.
 * On success *out is filled (free with pw_layout_free). On failure returns
 * PERCH_E_WASM_MALFORMED (or PERCH_E_IO for out of memory) with err->offset
 * set, and *out is empty.
 */
perch_err_kind pw_layout_read(const uint8_t *bytes, size_t len, pw_layout *out,
                              perch_err *err);
void pw_layout_free(pw_layout *layout);

/* The known section with this id, or NULL. Borrowed from layout. */
const pw_section *pw_layout_section(const pw_layout *layout, unsigned id);

/* True when custom section s is named name (NUL-terminated). */
bool pw_custom_is(const pw_section *s, const uint8_t *bytes, const char *name);

/* How many custom sections are named name; *first gets the first or NULL. */
size_t pw_layout_custom(const pw_layout *layout, const uint8_t *bytes,
                        const char *name, const pw_section **first);

/* ---- section contents needed without decoding code --------------------- */

enum pw_extern_kind { PW_EXTERN_FUNC = 0, PW_EXTERN_TABLE = 1, PW_EXTERN_MEMORY = 2, PW_EXTERN_GLOBAL = 3 };
const char *pw_extern_kind_name(unsigned kind);

typedef struct pw_limits {
    uint64_t min;
    uint64_t max;
    bool has_max;
} pw_limits;

typedef struct pw_import {
    const uint8_t *module; /* borrowed from the module bytes, not NUL-terminated */
    uint32_t module_len;
    const uint8_t *name;
    uint32_t name_len;
    uint8_t kind;          /* enum pw_extern_kind */
    uint32_t type_index;   /* PW_EXTERN_FUNC */
    pw_limits limits;      /* PW_EXTERN_TABLE, PW_EXTERN_MEMORY */
    uint8_t valtype;       /* PW_EXTERN_GLOBAL: value type; PW_EXTERN_TABLE: reftype */
    bool mutable_;         /* PW_EXTERN_GLOBAL */
} pw_import;

typedef struct pw_export {
    const uint8_t *name; /* borrowed, not NUL-terminated */
    uint32_t name_len;
    uint8_t kind;
    uint32_t index;
} pw_export;

/*
 * Decode the import section (if any). *out is owned (pb_free); its strings
 * point into bytes. A module without imports gives *out = NULL, *count = 0.
 */
perch_err_kind pw_imports_read(const uint8_t *bytes, const pw_layout *layout,
                               pw_import **out, size_t *count, perch_err *err);

/* Decode the export section (if any); ownership as pw_imports_read. */
perch_err_kind pw_exports_read(const uint8_t *bytes, const pw_layout *layout,
                               pw_export **out, size_t *count, perch_err *err);

/* Decode the memory section (if any); *out owned (pb_free). */
perch_err_kind pw_memories_read(const uint8_t *bytes, const pw_layout *layout,
                                pw_limits **out, size_t *count, perch_err *err);

/*
 * Limits as the spec encodes them: 0x00 min | 0x01 min max. is_memory
 * selects the memory bounds (at most 65536 pages) reported as wasm_invalid
 * by the validator, not here; here only the encoding is checked.
 */
struct pw_cursor;
bool pw_limits_read(struct pw_cursor *c, pw_limits *out, const char *what);

#endif /* PERCH_WASM_READER_H */
