/* test_section.c: the perch.manifest custom section inside module bytes. */
#include <string.h>

#include "check.h"
#include "manifest/manifest.h"

#define HEADER "\x00\x61\x73\x6d\x01\x00\x00\x00"
/* type section: one type, () -> () */
#define TYPE_SEC "\x01\x04\x01\x60\x00\x00"
/* custom section "other" with one content byte */
#define OTHER_SEC "\x00\x07\x05other\x2a"

/* {3 "name" "hello" "schema" 1 "version" "1.0.0"}: 34 bytes */
#define PAYLOAD "\xa3\x64name\x65hello\x66schema\x01\x67version\x65" "1.0.0"
#define PAYLOAD_LEN 34
/* the section holding it: id, size 1+14+34 = 49, name */
#define MANIFEST_SEC "\x00\x31\x0eperch.manifest" PAYLOAD
#define MANIFEST_SEC_LEN (2 + 15 + PAYLOAD_LEN)

static void append(pb_buf *b, const char *s, size_t n) { pb_buf_append(b, s, n); }
#define APPEND(b, lit) append((b), (lit), sizeof(lit) - 1)

/* A module made of literal pieces, and its layout. */
#define MODULE(b, l, lit)                                                      \
    do {                                                                       \
        perch_err e_;                                                          \
        memset((b), 0, sizeof *(b));                                           \
        APPEND((b), lit);                                                      \
        CHECK_INT(pw_layout_read((b)->data, (b)->len, (l), &e_), PERCH_OK);    \
    } while (0)

static void test_no_section(void)
{
    pb_buf b;
    pw_layout l;
    pm_manifest m;
    perch_err err;
    bool present = true;
    MODULE(&b, &l, HEADER TYPE_SEC OTHER_SEC);
    CHECK_INT(pm_module_manifest(b.data, &l, &m, &present, &err), PERCH_OK);
    CHECK(!present);
    CHECK(m.name == NULL);
    pw_layout_free(&l);
    pb_buf_free(&b);
}

static void test_one_section(void)
{
    pb_buf b;
    pw_layout l;
    pm_manifest m;
    perch_err err;
    bool present = false;
    MODULE(&b, &l, HEADER TYPE_SEC MANIFEST_SEC OTHER_SEC);
    CHECK_INT(pm_module_manifest(b.data, &l, &m, &present, &err), PERCH_OK);
    CHECK(present);
    CHECK_STR(m.name, "hello");
    CHECK_STR(m.version, "1.0.0");
    pm_manifest_free(&m);
    pw_layout_free(&l);
    pb_buf_free(&b);
}

static void test_two_sections(void)
{
    pb_buf b, out;
    pw_layout l;
    pm_manifest m;
    perch_err err;
    bool present = false;
    MODULE(&b, &l, HEADER MANIFEST_SEC TYPE_SEC MANIFEST_SEC);
    CHECK_INT(pm_module_manifest(b.data, &l, &m, &present, &err), PERCH_E_MANIFEST_MALFORMED);
    CHECK_STR(err.message, "two perch.manifest sections (at bytes 8 and 65); a module declares "
                           "its needs in exactly one");
    CHECK_INT(err.offset, 65);
    CHECK(!present);
    CHECK_INT(pm_module_set(b.data, b.len, &l, (const uint8_t *)PAYLOAD, PAYLOAD_LEN, &out, &err),
              PERCH_E_MANIFEST_MALFORMED);
    CHECK_STR(err.message, "two perch.manifest sections (at bytes 8 and 65); a module declares "
                           "its needs in exactly one");
    CHECK(out.data == NULL);
    pw_layout_free(&l);
    pb_buf_free(&b);
}

static void test_bad_payload(void)
{
    pb_buf b = {0};
    pw_layout l;
    pm_manifest m;
    perch_err err;
    bool present = false;

    /* a rule broken at a value: the offset is the value's in the module */
    APPEND(&b, HEADER TYPE_SEC "\x00\x2f\x0eperch.manifest"
               "\xa3\x64name\x65hello\x66schema\x01\x67version\x63" "1.0");
    CHECK_INT(pw_layout_read(b.data, b.len, &l, &err), PERCH_OK);
    CHECK_INT(pm_module_manifest(b.data, &l, &m, &present, &err), PERCH_E_MANIFEST_MALFORMED);
    CHECK_STR(err.message, "version \"1.0\": is not a semantic version (MAJOR.MINOR.PATCH, no leading zeros)");
    CHECK_INT(err.offset, 31 + 28);
    CHECK_STR(err.detail, "at byte 59 (0x3b) of the module, byte 28 of the perch.manifest payload");
    CHECK(!present && m.name == NULL);
    pw_layout_free(&l);
    pb_buf_free(&b);

    /* a rule of the whole manifest: the section's offset */
    APPEND(&b, HEADER TYPE_SEC "\x00\x23\x0eperch.manifest"
               "\xa2\x64name\x65hello\x66schema\x01");
    CHECK_INT(pw_layout_read(b.data, b.len, &l, &err), PERCH_OK);
    CHECK_INT(pm_module_manifest(b.data, &l, &m, &present, &err), PERCH_E_MANIFEST_MALFORMED);
    CHECK_STR(err.message, "missing required key \"version\"");
    CHECK_INT(err.offset, 14);
    CHECK_STR(err.detail, "in the perch.manifest section at byte 14");
    pw_layout_free(&l);
    pb_buf_free(&b);

    /* a byte too many: the offset is the module's, the payload's in the detail */
    APPEND(&b, HEADER "\x00\x32\x0eperch.manifest" PAYLOAD "\x00");
    CHECK_INT(pw_layout_read(b.data, b.len, &l, &err), PERCH_OK);
    CHECK_INT(pm_module_manifest(b.data, &l, &m, &present, &err), PERCH_E_MANIFEST_MALFORMED);
    CHECK_STR(err.message, "trailing bytes after the map: 1 bytes from byte 34");
    CHECK_INT(err.offset, 8 + 2 + 15 + 34);
    CHECK_STR(err.detail, "at byte 59 (0x3b) of the module, byte 34 of the perch.manifest payload");
    pw_layout_free(&l);
    pb_buf_free(&b);

    /* an empty payload */
    APPEND(&b, HEADER "\x00\x0f\x0eperch.manifest");
    CHECK_INT(pw_layout_read(b.data, b.len, &l, &err), PERCH_OK);
    CHECK_INT(pm_module_manifest(b.data, &l, &m, &present, &err), PERCH_E_MANIFEST_MALFORMED);
    CHECK_STR(err.message, "empty payload: expected a CBOR map");
    pw_layout_free(&l);
    pb_buf_free(&b);
}

static bool same(const pb_buf *b, const char *want, size_t n)
{
    return b->len == n && memcmp(b->data, want, n) == 0;
}

static void test_set_appends(void)
{
    static const char want[] = HEADER TYPE_SEC OTHER_SEC MANIFEST_SEC;
    pb_buf b, out;
    pw_layout l;
    perch_err err;
    MODULE(&b, &l, HEADER TYPE_SEC OTHER_SEC);
    CHECK_INT(pm_module_set(b.data, b.len, &l, (const uint8_t *)PAYLOAD, PAYLOAD_LEN, &out, &err),
              PERCH_OK);
    CHECK(same(&out, want, sizeof want - 1));
    pb_buf_free(&out);
    pw_layout_free(&l);
    pb_buf_free(&b);
}

static void test_set_replaces_in_place(void)
{
    /* {3 "name" "bye" ...}: two bytes shorter than PAYLOAD */
    static const char payload2[] = "\xa3\x64name\x63" "bye\x66schema\x01\x67version\x65" "1.0.0";
    static const char want[] = HEADER TYPE_SEC "\x00\x2f\x0eperch.manifest"
                               "\xa3\x64name\x63" "bye\x66schema\x01\x67version\x65" "1.0.0" OTHER_SEC;
    pb_buf b, out;
    pw_layout l, l2;
    perch_err err;
    pm_manifest m;
    bool present;
    MODULE(&b, &l, HEADER TYPE_SEC MANIFEST_SEC OTHER_SEC);
    CHECK_INT(pm_module_set(b.data, b.len, &l, (const uint8_t *)payload2, sizeof payload2 - 1,
                            &out, &err), PERCH_OK);
    CHECK(same(&out, want, sizeof want - 1));
    CHECK_INT(pw_layout_read(out.data, out.len, &l2, &err), PERCH_OK);
    CHECK_INT(pm_module_manifest(out.data, &l2, &m, &present, &err), PERCH_OK);
    CHECK(present);
    CHECK_STR(m.name, "bye");
    pm_manifest_free(&m);
    pw_layout_free(&l2);
    pb_buf_free(&out);
    pw_layout_free(&l);
    pb_buf_free(&b);
}

/* A payload of 200 bytes needs a two-byte section size. */
static void test_set_long_payload(void)
{
    pb_buf b, out, payload;
    pw_layout l, l2;
    perch_err err;
    pm_manifest m;
    bool present;
    MODULE(&b, &l, HEADER TYPE_SEC);
    static const char json[] =
        "{\"schema\":1,\"name\":\"n\",\"version\":\"1.0.0\",\"needs_env\":"
        "[\"A_LONG_VARIABLE_NAME_1\",\"A_LONG_VARIABLE_NAME_2\","
        "\"A_LONG_VARIABLE_NAME_3\",\"A_LONG_VARIABLE_NAME_4\","
        "\"A_LONG_VARIABLE_NAME_5\",\"A_LONG_VARIABLE_NAME_6\"]}";
    CHECK_INT(pm_from_json(json, sizeof json - 1, &m, &err), PERCH_OK);
    CHECK_INT(pm_to_cbor(&m, &payload, &err), PERCH_OK);
    pm_manifest_free(&m);
    CHECK(payload.len > 127);
    CHECK_INT(pm_module_set(b.data, b.len, &l, payload.data, payload.len, &out, &err), PERCH_OK);
    CHECK_INT(out.len, 14 + 1 + 2 + 15 + payload.len);
    CHECK_INT(out.data[15], (15 + payload.len) % 128 + 128);
    CHECK_INT(out.data[16], (15 + payload.len) / 128);
    CHECK_INT(pw_layout_read(out.data, out.len, &l2, &err), PERCH_OK);
    CHECK_INT(pm_module_manifest(out.data, &l2, &m, &present, &err), PERCH_OK);
    CHECK_INT(m.needs_env.count, 6);
    pm_manifest_free(&m);
    pw_layout_free(&l2);
    pb_buf_free(&out);
    pb_buf_free(&payload);
    pw_layout_free(&l);
    pb_buf_free(&b);
}

static void test_set_too_large(void)
{
    pb_buf b, out;
    pw_layout l;
    perch_err err;
    static uint8_t big[PM_MAX_PAYLOAD + 1];
    MODULE(&b, &l, HEADER);
    CHECK_INT(pm_module_set(b.data, b.len, &l, big, sizeof big, &out, &err),
              PERCH_E_MANIFEST_MALFORMED);
    CHECK_STR(err.message, "payload is 1048577 bytes; the limit is 1048576");
    pw_layout_free(&l);
    pb_buf_free(&b);
}

static void test_allocation_failures(void)
{
    pb_buf b, out = {0};
    pw_layout l;
    perch_err err;
    pm_manifest m;
    bool present;
    MODULE(&b, &l, HEADER TYPE_SEC MANIFEST_SEC OTHER_SEC);
    for (uint64_t n = 1;; n++) {
        perch_err_kind rc;
        pb_alloc_fail_after(n);
        rc = pm_module_set(b.data, b.len, &l, (const uint8_t *)PAYLOAD, PAYLOAD_LEN, &out, &err);
        pb_alloc_fail_after(0);
        if (rc == PERCH_OK)
            break;
        CHECK_INT(rc, PERCH_E_IO);
        CHECK(out.data == NULL);
    }
    CHECK_INT(out.len, b.len);
    CHECK(memcmp(out.data, b.data, b.len) == 0);
    pb_buf_free(&out);
    for (uint64_t n = 1;; n++) {
        perch_err_kind rc;
        pb_alloc_fail_after(n);
        rc = pm_module_manifest(b.data, &l, &m, &present, &err);
        pb_alloc_fail_after(0);
        if (rc == PERCH_OK)
            break;
        CHECK_INT(rc, PERCH_E_IO);
        CHECK(m.name == NULL);
    }
    CHECK_STR(m.name, "hello");
    pm_manifest_free(&m);
    pw_layout_free(&l);
    pb_buf_free(&b);
}

int main(void)
{
    RUN(test_no_section);
    RUN(test_one_section);
    RUN(test_two_sections);
    RUN(test_bad_payload);
    RUN(test_set_appends);
    RUN(test_set_replaces_in_place);
    RUN(test_set_long_payload);
    RUN(test_set_too_large);
    RUN(test_allocation_failures);
    return CHECK_DONE();
}
