/*
 * perch_mod.h: the `perch` host module, the imports a guest uses for HTTP.
 * Prefix ph_. The ABI is the Go perch's (same names, types and return
 * conventions, so modules built against its SDK run unchanged) plus
 * http_error; docs/host-abi.md describes it byte for byte:
 *
 *   http_get(url_ptr, url_len) -> handle > 0 | -1
 *   http_status(h) -> status | 0
 *   http_body_len(h) -> length | -1
 *   http_read_body(h, dst_ptr, dst_cap) -> bytes copied | 0 at the end | -1
 *   http_close(h) -> 0 | -1
 *   http_error(buf_ptr, buf_cap) -> length of the reason | 0 | -1
 *
 * One ph_perch is one run's state: its handle table (ids from 1, at most
 * max_handles open at once) and the reason of the last failed http_get.
 * Every guest pointer and length is checked against the caller's memory
 * before use; a bad one is a -1, never a host access.
 */
#ifndef PERCH_HOST_PERCH_MOD_H
#define PERCH_HOST_PERCH_MOD_H

#include <stdbool.h>
#include <stddef.h>

#include "host/http.h"
#include "perch.h"

#define PH_PERCH_MODULE "perch"
#define PH_PERCH_MAX_HANDLES 16

typedef struct ph_perch_config {
    /*
     * Borrowed for the life of the ph_perch; required. A run without
     * network passes a client with no grants: every request is then
     * refused through its refusal hook, and libcurl is never loaded.
     */
    ph_http *http;
    /*
     * A refused http_get ends the run with wasm_http_refused instead of
     * returning -1 (a module running under its own manifest that reaches
     * outside it is killed: DESIGN.md, "Capabilities and refusals").
     * Transport errors (timeouts, connection failures) never kill.
     */
    bool kill_on_refusal;
    size_t max_handles; /* 0: PH_PERCH_MAX_HANDLES */
} ph_perch_config;

typedef struct ph_perch ph_perch;

/* *out owned (ph_perch_delete, which frees every response still open). */
perch_err_kind ph_perch_new(const ph_perch_config *config, ph_perch **out, perch_err *err);
void ph_perch_delete(ph_perch *p);

/* Whether an import belongs to the perch module. */
bool ph_perch_is_import(const perch_moddesc *d);

/*
 * The host function for import i of module (which must be a perch import),
 * made in store with p as its state. *out borrowed from the store. Errors:
 * wasm_unlinkable for a name the module does not have or a type that
 * differs from the ABI's.
 */
perch_err_kind ph_perch_func(ph_perch *p, perch_store *store, const perch_module *module,
                             size_t i, perch_func **out, perch_err *err);

/*
 * Fill imports[i] (an array with one entry per import of module) for every
 * perch import; other entries are left as they are, for the WASI layer or
 * the embedder to fill.
 */
perch_err_kind ph_perch_link(ph_perch *p, perch_store *store, const perch_module *module,
                             perch_extern *imports, perch_err *err);

/* The number of responses open now (for tests and the end-of-run summary). */
size_t ph_perch_open_count(const ph_perch *p);

#endif /* PERCH_HOST_PERCH_MOD_H */
