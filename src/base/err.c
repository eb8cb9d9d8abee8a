/* err.c: filling perch_err values; the table of stable kind names. */
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "perch_config.h"

static const char *const kind_names[PERCH_E__COUNT] = {
    [PERCH_OK] = "ok",
    [PERCH_E_USAGE] = "usage",
    [PERCH_E_IO] = "io",
    [PERCH_E_WASM_MALFORMED] = "wasm_malformed",
    [PERCH_E_WASM_INVALID] = "wasm_invalid",
    [PERCH_E_WASM_UNLINKABLE] = "wasm_unlinkable",
    [PERCH_E_WASM_TRAP] = "wasm_trap",
    [PERCH_E_WASM_EXHAUSTED] = "wasm_exhausted",
    [PERCH_E_WASM_MODULE_EXITED] = "wasm_module_exited",
    [PERCH_E_WASM_CAPABILITY_DENIED] = "wasm_capability_denied",
    [PERCH_E_WASM_HTTP_REFUSED] = "wasm_http_refused",
    [PERCH_E_MANIFEST_MISSING] = "manifest_missing",
    [PERCH_E_MANIFEST_MALFORMED] = "manifest_malformed",
    [PERCH_E_MANIFEST_REJECTED] = "manifest_rejected",
    [PERCH_E_MANIFEST_VIOLATION] = "manifest_violation",
    [PERCH_E_MANIFEST_UNSIGNED] = "manifest_unsigned",
    [PERCH_E_MANIFEST_SIGNATURE_INVALID] = "manifest_signature_invalid",
    [PERCH_E_MANIFEST_SIGNER_UNTRUSTED] = "manifest_signer_untrusted",
    [PERCH_E_POLICY_INVALID] = "policy_invalid",
    [PERCH_E_REQUIRES_UNMET] = "requires_unmet",
    [PERCH_E_PERCH_SYNTAX] = "perch_syntax",
};

const char *perch_version(void) { return PERCH_VERSION; }

const char *perch_err_kind_name(perch_err_kind kind)
{
    if ((unsigned)kind >= PERCH_E__COUNT)
        return "unknown";
    return kind_names[kind];
}

void perch_err_clear(perch_err *err)
{
    if (!err)
        return;
    err->kind = PERCH_OK;
    err->offset = PERCH_NO_OFFSET;
    err->message[0] = '\0';
    err->detail[0] = '\0';
}

static perch_err_kind vfail(perch_err *err, perch_err_kind kind,
                            uint64_t offset, const char *fmt, va_list ap)
    PB_PRINTF(4, 0);

static perch_err_kind vfail(perch_err *err, perch_err_kind kind,
                            uint64_t offset, const char *fmt, va_list ap)
{
    if (!err)
        return kind;
    err->kind = kind;
    err->offset = offset;
    err->detail[0] = '\0';
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    return kind;
}

perch_err_kind pb_fail(perch_err *err, perch_err_kind kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(err, kind, PERCH_NO_OFFSET, fmt, ap);
    va_end(ap);
    return kind;
}

perch_err_kind pb_fail_at(perch_err *err, perch_err_kind kind, uint64_t offset,
                          const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(err, kind, offset, fmt, ap);
    va_end(ap);
    if (err)
        snprintf(err->detail, sizeof err->detail, "at byte %llu (0x%llx)",
                 (unsigned long long)offset, (unsigned long long)offset);
    return kind;
}

void pb_detail(perch_err *err, const char *fmt, ...)
{
    va_list ap;
    if (!err)
        return;
    va_start(ap, fmt);
    vsnprintf(err->detail, sizeof err->detail, fmt, ap);
    va_end(ap);
}

void pb_prefix(perch_err *err, const char *fmt, ...)
{
    char prefix[256];
    char old[sizeof err->message];
    va_list ap;
    if (!err)
        return;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->message, sizeof old);
    snprintf(err->message, sizeof err->message, "%s: %s", prefix, old);
}
