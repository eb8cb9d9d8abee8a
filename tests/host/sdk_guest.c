/*
 * sdk_guest.c: the guest of test_http.py built from C with perch/host.h.
 * It exports the same wrappers as http_guest.wat, so the same checks run
 * through the header's declarations, plus `fetch`, which uses the header's
 * perch_http_fetch helper. No libc: the module imports only from perch.
 */
#include <perch/host.h>

#define EXPORT(name) __attribute__((export_name(name)))

EXPORT("get") int32_t get(const char *url, uint32_t len) { return perch_http_get(url, len); }
EXPORT("status") int32_t status(int32_t h) { return perch_http_status(h); }
EXPORT("body_len") int32_t body_len(int32_t h) { return perch_http_body_len(h); }
EXPORT("read") int32_t read_body(int32_t h, void *dst, uint32_t cap)
{
    return perch_http_read_body(h, dst, cap);
}
EXPORT("close") int32_t close_h(int32_t h) { return perch_http_close(h); }
EXPORT("error") int32_t error(char *buf, uint32_t cap) { return perch_http_error(buf, cap); }

static perch_http_response last;

/* fetch(url, body, cap) -> perch_http_fetch's result; status and length at 0 and 4 of last */
EXPORT("fetch") int32_t fetch(const char *url, void *body, uint32_t cap)
{
    return perch_http_fetch(url, body, cap, &last);
}
EXPORT("fetch_status") int32_t fetch_status(void) { return last.status; }
EXPORT("fetch_len") int32_t fetch_len(void) { return (int32_t)last.len; }
