/*
 * manifest.h: the perch.manifest model (schema 1), its CBOR and JSON forms,
 * validation, and the custom section inside module bytes. Prefix pm_.
 *
 * The CBOR payload is the format (DESIGN.md, "perch.manifest"); JSON is the
 * authors' and tools' view of the same data. Both readers fail closed: any
 * unknown key, duplicate, wrong type or value outside the rules is
 * PERCH_E_MANIFEST_MALFORMED with a message naming the key and the rule.
 */
#ifndef PERCH_MANIFEST_H
#define PERCH_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "wasm/reader.h"

#define PM_SECTION_NAME "perch.manifest"
#define PM_SCHEMA 1

/* Limits that keep hostile manifests small. */
#define PM_MAX_PAYLOAD (1u << 20) /* bytes of CBOR or JSON */
#define PM_MAX_ENTRIES 4096       /* per list */
#define PM_MAX_TEXT 4096          /* bytes per string */
#define PM_MAX_NAME 256           /* bytes for name and version */
#define PM_MEMORY_LIMIT ((uint64_t)1 << 32) /* wasm32 can address 4 GiB */

/* A list of owned, NUL-terminated, validated strings. */
typedef struct pm_list {
    char **items; /* owned array of owned strings */
    size_t count;
} pm_list;

/*
 * One manifest. Every string is owned by the manifest. Lists hold no
 * duplicates; after pm_normalize they are sorted bytewise.
 */
typedef struct pm_manifest {
    uint64_t schema;    /* always PM_SCHEMA once validated */
    char *name;         /* required */
    char *version;      /* required, semver 2.0.0 */
    pm_list needs_read; /* guest absolute paths */
    pm_list needs_write;
    pm_list needs_net;  /* "host:port", "*.domain:port", "*" */
    pm_list needs_env;  /* variable names */
    bool has_memory_max;
    uint64_t memory_max; /* bytes, <= PM_MEMORY_LIMIT */
} pm_manifest;

void pm_manifest_init(pm_manifest *m);
void pm_manifest_free(pm_manifest *m);

/* Sort each list bytewise (lists are already free of duplicates). */
void pm_normalize(pm_manifest *m);

/*
 * Decode a CBOR payload (any valid encoding of the schema) into *out; lists
 * keep the payload's order (pm_normalize sorts them). On failure *out is
 * left initialised and empty, and err->offset is the byte of the payload at
 * fault when there is one. Never allocates more than the payload holds:
 * declared lengths are checked against the remaining bytes first.
 */
perch_err_kind pm_from_cbor(const uint8_t *data, size_t len, pm_manifest *out,
                            perch_err *err);

/*
 * Encode deterministically (RFC 8949 section 4.2.1: shortest integers,
 * definite lengths, map keys in bytewise order of their encoding; lists
 * sorted; empty lists and an absent memory_max omitted). *out is owned by
 * the caller (pb_buf_free).
 */
perch_err_kind pm_to_cbor(const pm_manifest *m, pb_buf *out, perch_err *err);

/*
 * Decode the JSON form (an object with the same keys; memory_max may be
 * null, meaning absent). Syntax errors and duplicate keys are reported with
 * their line and column. On failure *out is left initialised and empty.
 * jansson's allocator is pointed at pb_malloc/pb_free (process-wide), so its
 * allocations go through the hook too.
 */
perch_err_kind pm_from_json(const char *text, size_t len, pm_manifest *out,
                            perch_err *err);

/*
 * The JSON form: every key present (empty lists as []), memory_max null
 * when absent, keys in schema order, lists sorted, 2-space indentation and a
 * trailing newline. *out owned by the caller (pb_buf_free).
 *
 * Both writers check m with pm_validate first and write nothing (*out
 * empty) for a manifest that breaks a rule, so what perch writes reads back.
 */
perch_err_kind pm_to_json(const pm_manifest *m, pb_buf *out, perch_err *err);

/*
 * Check a whole manifest against every rule of schema 1: schema is 1, name
 * and version present and valid, every list entry valid and listed once,
 * memory_max within PM_MEMORY_LIMIT. The writers call it first, so every
 * payload perch writes reads back. Messages name the key and the rule, e.g.
 * `needs_read[2] "/a/../b": contains a '..' component`.
 */
perch_err_kind pm_validate(const pm_manifest *m, perch_err *err);

/* ---- the schema's keys and the readers' shared steps --------------------- */

/*
 * The keys of schema 1 in schema order (the order of the table in DESIGN.md
 * and of the JSON form).
 */
typedef enum pm_key {
    PM_KEY_SCHEMA,
    PM_KEY_NAME,
    PM_KEY_VERSION,
    PM_KEY_NEEDS_READ,
    PM_KEY_NEEDS_WRITE,
    PM_KEY_NEEDS_NET,
    PM_KEY_NEEDS_ENV,
    PM_KEY_MEMORY_MAX,
    PM_KEY__COUNT
} pm_key;

/* "schema", "name", ... Static. */
const char *pm_key_name(pm_key key);

/* The type of a key's value in the schema: "uint", "text" or "array". Static. */
const char *pm_key_type(pm_key key);

/* The list a list key names (needs_read ...), or NULL for other keys. */
pm_list *pm_key_list(pm_manifest *m, pm_key key);

/*
 * The steps both readers (CBOR and JSON) share, so that each rule and each
 * message has one home. A reader walks its input, calls these in input
 * order, and finishes with pm_read_finish. `at` is the byte offset of the
 * item in the input for messages (PERCH_NO_OFFSET when unknown). Every
 * failure is PERCH_E_MANIFEST_MALFORMED (or PERCH_E_IO for out of memory);
 * the manifest may then hold part of the input and the caller frees it.
 */
typedef struct pm_reader {
    pm_manifest *m;             /* borrowed, being filled */
    unsigned seen;              /* bit (1 << pm_key) per key read */
    size_t cap[PM_KEY__COUNT];  /* allocated slots of each list */
} pm_reader;

void pm_read_init(pm_reader *r, pm_manifest *m);
/* A map key: well-formed UTF-8, a schema key, not seen before. */
perch_err_kind pm_read_key(pm_reader *r, const uint8_t *s, size_t len,
                           uint64_t at, pm_key *out, perch_err *err);
/* The value of schema or memory_max. */
perch_err_kind pm_read_uint(pm_reader *r, pm_key key, uint64_t v, uint64_t at,
                            perch_err *err);
/* The value of name or version (raw bytes, checked here). */
perch_err_kind pm_read_text(pm_reader *r, pm_key key, const uint8_t *s,
                            size_t len, uint64_t at, perch_err *err);
/* Append one entry to a list key (raw bytes, checked here). */
perch_err_kind pm_read_entry(pm_reader *r, pm_key key, const uint8_t *s,
                             size_t len, uint64_t at, perch_err *err);
/*
 * "WHERE: expected EXPECTED, found FOUND", WHERE being `key "name"` or,
 * when index != SIZE_MAX, `needs_read[2]`.
 */
perch_err_kind pm_read_type_error(pm_key key, size_t index, uint64_t at,
                                  const char *expected, const char *found,
                                  perch_err *err);
/* Missing keys, duplicate entries, every value rule (pm_validate). */
perch_err_kind pm_read_finish(pm_reader *r, perch_err *err);

/*
 * Fill err with kind manifest_malformed; with pb_fail_at's byte offset when
 * at != PERCH_NO_OFFSET.
 */
perch_err_kind pm_fail(perch_err *err, uint64_t at, const char *fmt, ...)
    PB_PRINTF(3, 4);

/*
 * Write s (len bytes, any content) into dst as a quoted string safe to
 * print: control characters, DEL, '"' and backslash escaped (\xNN, \",
 * \\), non-ASCII bytes kept when s is well-formed UTF-8 and escaped
 * otherwise, cut with "..." after 64 bytes of input. dst always ends with
 * NUL.
 */
void pm_quote(char *dst, size_t cap, const uint8_t *s, size_t len);

/* ---- single-value rules, shared by the readers and by other layers ------ */

/*
 * Each returns true when the value is acceptable; otherwise false with a
 * short reason in why (a static string, e.g. "contains a '..' component").
 */
bool pm_check_path(const char *path, const char **why);
bool pm_check_net(const char *pattern, const char **why);
bool pm_check_env(const char *name, const char **why);
bool pm_check_semver(const char *version, const char **why);

/*
 * A parsed net entry. host is "" for the full wildcard "*" (any host, any
 * port, port == 0). wildcard is true for "*.domain" patterns, and then host
 * holds "domain" (without "*."). Borrowed pointers into buf.
 */
typedef struct pm_net {
    bool any;        /* "*" */
    bool wildcard;   /* "*.domain:port" */
    char host[256];  /* lowercase host or domain, IPv6 without brackets */
    uint16_t port;
} pm_net;
bool pm_net_parse(const char *pattern, pm_net *out);

/* True when pattern a grants everything pattern b grants (b within a). */
bool pm_net_covers(const pm_net *a, const pm_net *b);

/* True when guest path a equals b or is an ancestor directory of b. */
bool pm_path_covers(const char *a, const char *b);

/* ---- the section inside module bytes ----------------------------------- */

/*
 * Find and decode the module's perch.manifest section.
 *   no section       -> PERCH_OK, *present = false, *out empty
 *   one section      -> PERCH_OK, *present = true, *out filled
 *   two or more      -> PERCH_E_MANIFEST_MALFORMED ("two perch.manifest sections")
 *   bad payload      -> PERCH_E_MANIFEST_MALFORMED with the rule and the
 *                       section's byte offset
 */
perch_err_kind pm_module_manifest(const uint8_t *bytes, const pw_layout *layout,
                                  pm_manifest *out, bool *present, perch_err *err);

/*
 * New module bytes with payload as the only perch.manifest section: an
 * existing section is replaced where it stood (every other byte unchanged);
 * otherwise the section is appended at the end. *out owned by the caller.
 * A module with two or more sections is refused (manifest_malformed), as is
 * a payload over PM_MAX_PAYLOAD; the payload itself is stored as given (the
 * caller encodes it with pm_to_cbor).
 */
perch_err_kind pm_module_set(const uint8_t *bytes, size_t len,
                             const pw_layout *layout, const uint8_t *payload,
                             size_t payload_len, pb_buf *out, perch_err *err);

#endif /* PERCH_MANIFEST_H */
