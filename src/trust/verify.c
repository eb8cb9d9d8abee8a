/*
 * verify.c: the checklist `perch wasm verify` prints, one line per check.
 * Every check runs that can (a failure does not hide the others), so the
 * person reading the report sees everything that is wrong at once.
 */
#include <stdio.h>
#include <string.h>

#include "manifest/manifest.h"
#include "trust/trust.h"

const char *pt_check_name(pt_check_id id)
{
    static const char *const names[PT_CHECK__COUNT] = {
        [PT_CHECK_SECTION] = "section",     [PT_CHECK_FORMAT] = "format",
        [PT_CHECK_SIGNATURE] = "signature", [PT_CHECK_MANIFEST] = "manifest",
        [PT_CHECK_SIGNER] = "signer",       [PT_CHECK_POLICY] = "policy",
    };
    return (unsigned)id < PT_CHECK__COUNT ? names[id] : "unknown";
}

const char *pt_status_name(pt_status s)
{
    switch (s) {
    case PT_PASS: return "pass";
    case PT_FAIL: return "fail";
    case PT_SKIPPED: return "skipped";
    case PT_NOT_CHECKED: return "not checked";
    }
    return "unknown";
}

static void set(pt_report *r, pt_check_id id, pt_status st, perch_err_kind kind,
                const char *fmt, ...) PB_PRINTF(5, 6);
static void set(pt_report *r, pt_check_id id, pt_status st, perch_err_kind kind,
                const char *fmt, ...)
{
    va_list ap;
    r->checks[id].status = st;
    r->checks[id].kind = st == PT_FAIL ? kind : PERCH_OK;
    va_start(ap, fmt);
    vsnprintf(r->checks[id].message, sizeof r->checks[id].message, fmt, ap);
    va_end(ap);
    if (st == PT_FAIL)
        r->failures++;
}

static void check_manifest(const uint8_t *bytes, const pw_layout *layout, pt_report *r,
                           perch_err *err)
{
    pm_manifest m;
    bool present = false;
    const pw_section *s;
    perch_err_kind rc;
    perch_err merr;

    perch_err_clear(&merr);
    rc = pm_module_manifest(bytes, layout, &m, &present, &merr);
    pm_manifest_free(&m);
    if (rc == PERCH_E_IO) {
        *err = merr;
        return;
    }
    if (rc != PERCH_OK) {
        set(r, PT_CHECK_MANIFEST, PT_FAIL, rc, "%s%s%s%s", merr.message,
            merr.detail[0] ? " (" : "", merr.detail, merr.detail[0] ? ")" : "");
        return;
    }
    if (!present) {
        set(r, PT_CHECK_MANIFEST, PT_FAIL, PERCH_E_MANIFEST_MISSING,
            "no perch.manifest section: the signature covers code that declares nothing");
        return;
    }
    (void)pw_layout_custom(layout, bytes, PM_SECTION_NAME, &s);
    if (r->checks[PT_CHECK_SIGNATURE].status != PT_PASS) {
        set(r, PT_CHECK_MANIFEST, PT_SKIPPED, PERCH_OK,
            "perch.manifest (%zu bytes at byte %zu) is not covered: no valid signature",
            s->size, s->start);
        return;
    }
    set(r, PT_CHECK_MANIFEST, PT_PASS, PERCH_OK,
        "perch.manifest (%zu bytes at byte %zu) is covered by the signature", s->size, s->start);
}

static void check_signer(const pt_keyring *ring, pt_report *r)
{
    char b64[64];
    if (!r->parsed) {
        set(r, PT_CHECK_SIGNER, PT_SKIPPED, PERCH_OK, "no signer to look up");
        return;
    }
    if (!ring) {
        set(r, PT_CHECK_SIGNER, PT_FAIL, PERCH_E_MANIFEST_SIGNER_UNTRUSTED,
            "no keyring given: nobody is trusted");
        return;
    }
    switch (pt_keyring_lookup(ring, r->sig.signer, r->sig.pubkey)) {
    case PT_TRUSTED:
        set(r, PT_CHECK_SIGNER, PT_PASS, PERCH_OK, "%s is in the keyring with this key",
            r->sig.signer);
        return;
    case PT_OTHER_KEY:
        pt_b64_encode(r->sig.pubkey, PT_ED25519_PUBLIC_LEN, b64);
        set(r, PT_CHECK_SIGNER, PT_FAIL, PERCH_E_MANIFEST_SIGNER_UNTRUSTED,
            "%s is in the keyring with another key; this module was signed with key %s",
            r->sig.signer, b64);
        return;
    case PT_UNKNOWN_SIGNER:
        break;
    }
    set(r, PT_CHECK_SIGNER, PT_FAIL, PERCH_E_MANIFEST_SIGNER_UNTRUSTED,
        "%s is not in the keyring", r->sig.signer);
}

perch_err_kind pt_verify_module(const uint8_t *bytes, size_t len, const pw_layout *layout,
                                const pt_keyring *ring, pt_report *out, perch_err *err)
{
    const pw_section *first = NULL;
    char hex[2 * PT_SHA256_LEN + 1];
    perch_err perr;
    perch_err_kind rc;

    memset(out, 0, sizeof *out);
    perch_err_clear(&perr);
    PB_TRY(pt_module_digest(bytes, len, layout, out->digest, err));
    pt_hex(out->digest, PT_SHA256_LEN, hex);

    out->sections = pw_layout_custom(layout, bytes, PT_SIGNATURE_SECTION, &first);
    if (out->sections == 0) {
        set(out, PT_CHECK_SECTION, PT_FAIL, PERCH_E_MANIFEST_UNSIGNED,
            "no perch.signature section: the module is unsigned");
    } else if (out->sections > 1) {
        const pw_section *second = NULL;
        for (size_t i = 0; i < layout->count; i++)
            if (&layout->sections[i] != first &&
                pw_custom_is(&layout->sections[i], bytes, PT_SIGNATURE_SECTION)) {
                second = &layout->sections[i];
                break;
            }
        set(out, PT_CHECK_SECTION, PT_FAIL, PERCH_E_MANIFEST_SIGNATURE_INVALID,
            "%zu perch.signature sections (at bytes %zu and %zu); a signed module has "
            "exactly one", out->sections, first->start, second->start);
    } else {
        set(out, PT_CHECK_SECTION, PT_PASS, PERCH_OK,
            "one perch.signature section (%zu bytes at byte %zu)", first->size, first->start);
    }

    if (!first) {
        set(out, PT_CHECK_FORMAT, PT_SKIPPED, PERCH_OK, "no signature to read");
    } else {
        rc = pt_signature_parse(bytes + first->content, pw_section_end(first) - first->content,
                                &out->sig, &perr);
        if (rc == PERCH_E_IO) {
            *err = perr;
            return rc;
        }
        if (rc != PERCH_OK) {
            set(out, PT_CHECK_FORMAT, PT_FAIL, rc, "%s", perr.message);
        } else {
            out->parsed = true;
            set(out, PT_CHECK_FORMAT, PT_PASS, PERCH_OK,
                "ed25519 signature by %s, well-formed", out->sig.signer);
        }
    }

    if (!out->parsed)
        set(out, PT_CHECK_SIGNATURE, PT_SKIPPED, PERCH_OK, "no well-formed signature to check");
    else if (pt_ed25519_verify(out->sig.pubkey, out->digest, PT_SHA256_LEN, out->sig.sig))
        set(out, PT_CHECK_SIGNATURE, PT_PASS, PERCH_OK,
            "valid over sha256 %s (the module without its signature)", hex);
    else
        set(out, PT_CHECK_SIGNATURE, PT_FAIL, PERCH_E_MANIFEST_SIGNATURE_INVALID,
            "does not match the module (sha256 %s without the signature): the module "
            "was changed after signing, or the signature was not made with the key it names",
            hex);

    check_manifest(bytes, layout, out, &perr);
    if (perr.kind == PERCH_E_IO) {
        *err = perr;
        return PERCH_E_IO;
    }
    check_signer(ring, out);
    set(out, PT_CHECK_POLICY, PT_NOT_CHECKED, PERCH_OK,
        "not checked: host policy files are not supported yet");
    return PERCH_OK;
fail:
    return rc;
}
