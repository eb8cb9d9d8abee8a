/*
 * fuzz_perch.c: the .perch lexer, parser, checker and risk report on
 * arbitrary bytes.
 *
 * Properties: no crash, leak, hang or out-of-bounds read; a refusal is
 * perch_syntax (or io for out of memory) with a message free of control
 * characters and an offset inside the input that pl_caret can show; a file
 * that parses and checks can be scanned.
 */
#include <stdlib.h>
#include <string.h>

#include "lang/lang.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether the file names a module by absolute path: the report would read it. */
static bool reads_absolute(const pl_file *f)
{
    for (const pl_include *i = f->includes; i; i = i->next)
        if (i->path.s[0] == '/')
            return true;
    for (const pl_command *c = f->commands; c; c = c->next)
        for (const pl_step *s = c->steps; s; s = s->next)
            if (s->kind == PL_STEP_WASM && s->wasm.module_is_path && s->wasm.module.s[0] == '/')
                return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pl_file *f = NULL;
    perch_err err;
    perch_err_kind rc = pl_parse("fuzz.perch", (const char *)data, size, &f, &err);
    if (rc == PERCH_OK)
        rc = pl_check(f, &err);
    if (rc != PERCH_OK) {
        pb_buf caret = {0};
        if (rc != PERCH_E_PERCH_SYNTAX && rc != PERCH_E_IO)
            abort();
        for (const char *p = err.message; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                abort();
        if (rc == PERCH_E_PERCH_SYNTAX &&
            (err.offset > size || !pl_caret((const char *)data, size, err.offset, &caret)))
            abort();
        pb_buf_free(&caret);
    } else if (!reads_absolute(f)) {
        pl_scan s;
        if (pl_scan_file(f, "/nonexistent", &s, &err) != PERCH_OK)
            abort();
        pl_scan_free(&s);
    }
    pl_file_free(f);
    return 0;
}
