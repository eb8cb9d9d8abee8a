/*
 * json.c: the manifest's JSON form, what authors write and tools read.
 *
 * Reading parses with jansson (duplicate keys rejected), then walks the
 * object through the same steps as the CBOR reader (pm_read_*), so both
 * forms obey one set of rules with one set of messages. Writing is done
 * here rather than by jansson so the output is fixed byte for byte: keys in
 * schema order, every key present, 2-space indentation, a final newline.
 */
#include <jansson.h>
#include <string.h>

#include "manifest/manifest.h"

#define PUT(b, lit) pb_buf_append((b), (lit), sizeof(lit) - 1)

/*
 * jansson reports a failed allocation inside the parser as whatever syntax
 * error it was in the middle of, so the hook remembers that one failed.
 */
static _Thread_local bool json_oom;

static void *json_alloc(size_t size)
{
    void *p = pb_malloc(size);
    if (!p)
        json_oom = true;
    return p;
}

static void json_release(void *ptr) { pb_free(ptr); }

static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "text";
    case JSON_INTEGER: return json_integer_value(v) < 0 ? "negative integer" : "uint";
    case JSON_REAL: return "real";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    default: return "null";
    }
}

static perch_err_kind syntax_error(const json_error_t *je, perch_err *err)
{
    char text[sizeof je->text];
    size_t n = strnlen(je->text, sizeof je->text - 1);
    /* jansson quotes the input near the error: keep control bytes out */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)je->text[i];
        text[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    text[n] = '\0';
    if (json_error_code(je) == json_error_null_character ||
        json_error_code(je) == json_error_null_byte_in_key)
        return pm_fail(err, PERCH_NO_OFFSET, "line %d, column %d: a NUL character (\\u0000) "
                       "is not allowed in a %s", je->line, je->column,
                       json_error_code(je) == json_error_null_character ? "string" : "key");
    if (json_error_code(je) == json_error_duplicate_key) {
        /* "duplicate object key near '"KEY"'": name the key as the CBOR reader does */
        char *near = strstr(text, " near '");
        size_t k = near ? strlen(near) : 0;
        if (near && k > 8 && near[k - 1] == '\'') {
            near[k - 1] = '\0';
            return pm_fail(err, PERCH_NO_OFFSET, "line %d, column %d: duplicate key %s",
                           je->line, je->column, near + 7);
        }
        return pm_fail(err, PERCH_NO_OFFSET, "line %d, column %d: duplicate key",
                       je->line, je->column);
    }
    return pm_fail(err, PERCH_NO_OFFSET, "line %d, column %d: %s", je->line,
                   je->column, text);
}

static perch_err_kind read_uint(pm_reader *r, pm_key key, const json_t *v,
                                perch_err *err)
{
    if (key == PM_KEY_MEMORY_MAX && json_is_null(v))
        return PERCH_OK; /* null: absent */
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return pm_read_type_error(key, SIZE_MAX, PERCH_NO_OFFSET, "uint",
                                  json_type_name(v), err);
    return pm_read_uint(r, key, (uint64_t)json_integer_value(v), PERCH_NO_OFFSET, err);
}

static perch_err_kind read_list(pm_reader *r, pm_key key, const json_t *v,
                                perch_err *err)
{
    perch_err_kind rc;
    size_t i;
    json_t *item;
    if (!json_is_array(v))
        return pm_read_type_error(key, SIZE_MAX, PERCH_NO_OFFSET, "array",
                                  json_type_name(v), err);
    json_array_foreach(v, i, item) {
        if (!json_is_string(item))
            return pm_read_type_error(key, i, PERCH_NO_OFFSET, "text",
                                      json_type_name(item), err);
        if ((rc = pm_read_entry(r, key, (const uint8_t *)json_string_value(item),
                                json_string_length(item), PERCH_NO_OFFSET, err)) != PERCH_OK)
            return rc;
    }
    return PERCH_OK;
}

/* manifest -> "{" (key ":" value),* "}"  with the keys of schema 1 */
static perch_err_kind read_object(pm_reader *r, json_t *root, perch_err *err)
{
    perch_err_kind rc;
    if (!json_is_object(root))
        return pm_fail(err, PERCH_NO_OFFSET, "expected a JSON object at the top level, found %s",
                       json_type_name(root));
    for (void *it = json_object_iter(root); it; it = json_object_iter_next(root, it)) {
        const char *k = json_object_iter_key(it);
        json_t *v = json_object_iter_value(it);
        pm_key key;
        if ((rc = pm_read_key(r, (const uint8_t *)k, json_object_iter_key_len(it),
                              PERCH_NO_OFFSET, &key, err)) != PERCH_OK)
            return rc;
        switch (key) {
        case PM_KEY_SCHEMA:
        case PM_KEY_MEMORY_MAX:
            rc = read_uint(r, key, v, err);
            break;
        case PM_KEY_NAME:
        case PM_KEY_VERSION:
            if (!json_is_string(v))
                return pm_read_type_error(key, SIZE_MAX, PERCH_NO_OFFSET, "text",
                                          json_type_name(v), err);
            rc = pm_read_text(r, key, (const uint8_t *)json_string_value(v),
                              json_string_length(v), PERCH_NO_OFFSET, err);
            break;
        default:
            rc = read_list(r, key, v, err);
            break;
        }
        if (rc != PERCH_OK)
            return rc;
    }
    return pm_read_finish(r, err);
}

perch_err_kind pm_from_json(const char *text, size_t len, pm_manifest *out,
                            perch_err *err)
{
    json_error_t je;
    json_t *root;
    pm_reader r;
    perch_err_kind rc;

    pm_manifest_init(out);
    if (len > PM_MAX_PAYLOAD)
        return pm_fail(err, PERCH_NO_OFFSET, "manifest is %zu bytes; the limit is %u",
                       len, PM_MAX_PAYLOAD);
    json_set_alloc_funcs(json_alloc, json_release);
    json_oom = false;
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        if (json_oom || json_error_code(&je) == json_error_out_of_memory)
            return pb_fail(err, PERCH_E_IO, "out of memory reading the manifest");
        return syntax_error(&je, err);
    }
    pm_read_init(&r, out);
    rc = read_object(&r, root, err);
    json_decref(root);
    if (rc != PERCH_OK)
        pm_manifest_free(out);
    return rc;
}

/* ---- writing ------------------------------------------------------------- */

/* A JSON string: '"', '\\' and control characters escaped; UTF-8 kept. */
static bool put_string(pb_buf *b, const char *s)
{
    bool ok = pb_buf_byte(b, '"');
    for (; ok && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            ok = pb_buf_byte(b, '\\') && pb_buf_byte(b, c);
        else if (c < 0x20 || c == 0x7f)
            ok = pb_buf_printf(b, "\\u%04x", c);
        else
            ok = pb_buf_byte(b, c);
    }
    return ok && pb_buf_byte(b, '"');
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool put_list(pb_buf *b, const pm_list *l)
{
    char **v;
    bool ok = true;
    if (l->count == 0)
        return PUT(b, "[]");
    if (!(v = pb_calloc(l->count, sizeof *v)))
        return false;
    memcpy(v, l->items, l->count * sizeof *v);
    qsort(v, l->count, sizeof *v, cmp_str);
    ok = PUT(b, "[\n");
    for (size_t i = 0; ok && i < l->count; i++)
        ok = PUT(b, "    ") && put_string(b, v[i]) &&
             (i + 1 < l->count ? PUT(b, ",\n") : PUT(b, "\n"));
    pb_free(v);
    return ok && PUT(b, "  ]");
}

perch_err_kind pm_to_json(const pm_manifest *m, pb_buf *out, perch_err *err)
{
    perch_err_kind rc;
    bool ok;

    memset(out, 0, sizeof *out);
    if ((rc = pm_validate(m, err)) != PERCH_OK)
        return rc;
    ok = pb_buf_printf(out, "{\n  \"schema\": %llu,\n  \"name\": ", (unsigned long long)m->schema) &&
         put_string(out, m->name) && PUT(out, ",\n  \"version\": ") &&
         put_string(out, m->version);
    for (pm_key k = PM_KEY_NEEDS_READ; ok && k <= PM_KEY_NEEDS_ENV; k++)
        ok = pb_buf_printf(out, ",\n  \"%s\": ", pm_key_name(k)) &&
             put_list(out, pm_key_list((pm_manifest *)(uintptr_t)m, k));
    if (ok)
        ok = m->has_memory_max
                 ? pb_buf_printf(out, ",\n  \"memory_max\": %llu\n}\n",
                                 (unsigned long long)m->memory_max)
                 : PUT(out, ",\n  \"memory_max\": null\n}\n");
    if (!ok) {
        pb_buf_free(out);
        return pb_fail(err, PERCH_E_IO, "out of memory writing the manifest");
    }
    return PERCH_OK;
}
