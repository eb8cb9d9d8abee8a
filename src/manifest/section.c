/*
 * section.c: the perch.manifest custom section inside module bytes.
 *
 * customsec -> 0x00 size:u32 name:"perch.manifest" payload:byte*
 * (the layout from pw_layout_read has already checked the section framing).
 */
#include <string.h>

#include "manifest/manifest.h"

/*
 * A second section could make two readers of the same module see two
 * different manifests (one tool takes the first, another the last), so
 * more than one is malformed rather than resolved.
 */
static perch_err_kind two_sections(const pw_layout *layout, const uint8_t *bytes,
                                   perch_err *err)
{
    const pw_section *seen[2];
    size_t n = 0;
    for (size_t i = 0; i < layout->count && n < 2; i++)
        if (pw_custom_is(&layout->sections[i], bytes, PM_SECTION_NAME))
            seen[n++] = &layout->sections[i];
    return pm_fail(err, seen[1]->start,
                   "two perch.manifest sections (at bytes %zu and %zu); a module "
                   "declares its needs in exactly one",
                   seen[0]->start, seen[1]->start);
}

perch_err_kind pm_module_manifest(const uint8_t *bytes, const pw_layout *layout,
                                  pm_manifest *out, bool *present, perch_err *err)
{
    const pw_section *s;
    size_t n = pw_layout_custom(layout, bytes, PM_SECTION_NAME, &s);
    perch_err_kind rc;

    pm_manifest_init(out);
    *present = false;
    if (n == 0)
        return PERCH_OK;
    if (n > 1)
        return two_sections(layout, bytes, err);
    rc = pm_from_cbor(bytes + s->content, pw_section_end(s) - s->content, out, err);
    if (rc != PERCH_OK) {
        if (!err)
            return rc;
        if (err->offset != PERCH_NO_OFFSET) {
            uint64_t rel = err->offset;
            err->offset = s->content + rel;
            pb_detail(err, "at byte %llu (0x%llx) of the module, byte %llu of the "
                           "perch.manifest payload",
                      (unsigned long long)err->offset, (unsigned long long)err->offset,
                      (unsigned long long)rel);
        } else if (rc == PERCH_E_MANIFEST_MALFORMED) {
            err->offset = s->start;
            pb_detail(err, "in the perch.manifest section at byte %zu", s->start);
        }
        return rc;
    }
    *present = true;
    return PERCH_OK;
}

perch_err_kind pm_module_set(const uint8_t *bytes, size_t len,
                             const pw_layout *layout, const uint8_t *payload,
                             size_t payload_len, pb_buf *out, perch_err *err)
{
    static const char name[] = PM_SECTION_NAME;
    const pw_section *s;
    size_t n = pw_layout_custom(layout, bytes, PM_SECTION_NAME, &s);
    size_t before = len, after = len;
    uint64_t size;
    bool ok;

    memset(out, 0, sizeof *out);
    if (n > 1)
        return two_sections(layout, bytes, err);
    if (payload_len > PM_MAX_PAYLOAD)
        return pm_fail(err, PERCH_NO_OFFSET, "payload is %zu bytes; the limit is %u",
                       payload_len, PM_MAX_PAYLOAD);
    if (s) {
        before = s->start;
        after = pw_section_end(s);
    }
    size = 1 + (sizeof name - 1) + payload_len; /* the name's length fits one byte */
    ok = pb_buf_reserve(out, len + 16 + (sizeof name - 1) + payload_len) &&
         pb_buf_append(out, bytes, before) && pb_buf_byte(out, PW_SEC_CUSTOM) &&
         pb_buf_uleb(out, size) && pb_buf_uleb(out, sizeof name - 1) &&
         pb_buf_append(out, name, sizeof name - 1) &&
         pb_buf_append(out, payload, payload_len) &&
         pb_buf_append(out, bytes + after, len - after);
    if (!ok) {
        pb_buf_free(out);
        return pb_fail(err, PERCH_E_IO, "out of memory writing the module");
    }
    return PERCH_OK;
}
