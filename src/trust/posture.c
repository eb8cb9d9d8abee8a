/*
 * posture.c: what a host decides about a module's signature before it
 * instantiates it (`perch wasm run --trust-keys/--require-signer/
 * --unsigned-allow/--unsigned-deny`, and .perch files later).
 */
#include <string.h>

#include "trust/trust.h"

pt_posture pt_posture_default(const char *ci)
{
    pt_posture p;
    memset(&p, 0, sizeof p);
    /* CI runs unattended: nobody is there to notice an unsigned module */
    p.unsigned_mode = ci && ci[0] ? PT_UNSIGNED_DENY : PT_UNSIGNED_ALLOW;
    p.mode_from_ci = p.unsigned_mode == PT_UNSIGNED_DENY;
    return p;
}

static perch_err_kind deny_unsigned(const pt_posture *p, perch_err *err)
{
    if (p->require_signer)
        return pb_fail(err, PERCH_E_MANIFEST_UNSIGNED,
                       "the module has no perch.signature section, and signer %s is required",
                       p->require_signer);
    pb_fail(err, PERCH_E_MANIFEST_UNSIGNED,
            "the module has no perch.signature section, and unsigned modules are denied");
    pb_detail(err, p->mode_from_ci ? "the default when the CI environment variable is set"
                                   : "unsigned modules were denied explicitly");
    return PERCH_E_MANIFEST_UNSIGNED;
}

perch_err_kind pt_check_module(const uint8_t *bytes, size_t len, const pw_layout *layout,
                               const pt_posture *p, pt_verdict *out, perch_err *err)
{
    const pw_section *s;
    pt_signature sig;
    char hex[2 * PT_SHA256_LEN + 1];
    perch_err_kind rc;
    size_t n;

    memset(out, 0, sizeof *out);
    if ((rc = pt_module_digest(bytes, len, layout, out->digest, err)) != PERCH_OK)
        return rc;
    n = pw_layout_custom(layout, bytes, PT_SIGNATURE_SECTION, &s);
    if (n == 0) {
        if (p->require_signer || p->unsigned_mode == PT_UNSIGNED_DENY)
            return deny_unsigned(p, err);
        return PERCH_OK;
    }
    out->signed_ = true;
    /* two sections could show two tools two different signers */
    if (n > 1)
        return pb_fail_at(err, PERCH_E_MANIFEST_SIGNATURE_INVALID, s->start,
                          "%zu perch.signature sections; a signed module has exactly one", n);
    rc = pt_signature_parse(bytes + s->content, pw_section_end(s) - s->content, &sig, err);
    if (rc != PERCH_OK)
        return rc;
    memcpy(out->signer, sig.signer, sizeof out->signer);
    pt_hex(out->digest, PT_SHA256_LEN, hex);
    if (!pt_ed25519_verify(sig.pubkey, out->digest, PT_SHA256_LEN, sig.sig)) {
        pb_fail(err, PERCH_E_MANIFEST_SIGNATURE_INVALID,
                "the signature by %s does not match the module: it was changed after "
                "signing, or the signature was not made with the key it names",
                sig.signer);
        pb_detail(err, "sha256 of the signed bytes %s", hex);
        return PERCH_E_MANIFEST_SIGNATURE_INVALID;
    }
    out->verified = true;
    if (p->require_signer && strcmp(p->require_signer, sig.signer) != 0)
        return pb_fail(err, PERCH_E_MANIFEST_SIGNER_UNTRUSTED,
                       "the module is signed by %s, but signer %s is required", sig.signer,
                       p->require_signer);
    if (p->trust) {
        switch (pt_keyring_lookup(p->trust, sig.signer, sig.pubkey)) {
        case PT_TRUSTED:
            out->trusted = true;
            return PERCH_OK;
        case PT_OTHER_KEY: {
            char b64[64];
            pt_b64_encode(sig.pubkey, PT_ED25519_PUBLIC_LEN, b64);
            pb_fail(err, PERCH_E_MANIFEST_SIGNER_UNTRUSTED,
                    "signer %s is in the trusted keyring, but with another key than the "
                    "one that signed this module", sig.signer);
            pb_detail(err, "signed with key %s", b64);
            return PERCH_E_MANIFEST_SIGNER_UNTRUSTED;
        }
        case PT_UNKNOWN_SIGNER:
            break;
        }
        return pb_fail(err, PERCH_E_MANIFEST_SIGNER_UNTRUSTED,
                       "signer %s is not in the trusted keyring", sig.signer);
    }
    /* anyone can make a key and sign with it: an unchecked signer proves nothing */
    if (p->require_signer || p->unsigned_mode == PT_UNSIGNED_DENY)
        return pb_fail(err, PERCH_E_MANIFEST_SIGNER_UNTRUSTED,
                       "the module is signed by %s, but no trusted keyring was given to "
                       "check that signer's key", sig.signer);
    return PERCH_OK;
}
