/* alloc.c: the one allocation hook (STYLE.md, habit 8). */
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

static void *default_alloc(void *ud, void *ptr, size_t size)
{
    (void)ud;
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, size);
}

static perch_alloc_fn alloc_fn = default_alloc;
static void *alloc_ud;
static uint64_t fail_countdown; /* 0: never fail */

void perch_set_allocator(perch_alloc_fn fn, void *ud)
{
    alloc_fn = fn ? fn : default_alloc;
    alloc_ud = fn ? ud : NULL;
}

void pb_alloc_fail_after(uint64_t n) { fail_countdown = n; }

static bool injected_failure(void)
{
    if (fail_countdown == 0)
        return false;
    return --fail_countdown == 0;
}

void *pb_realloc(void *ptr, size_t size)
{
    if (size == 0)
        size = 1; /* realloc-to-zero is never a free here */
    if (injected_failure())
        return NULL;
    return alloc_fn(alloc_ud, ptr, size);
}

void *pb_malloc(size_t size) { return pb_realloc(NULL, size); }

void *pb_calloc(size_t count, size_t size)
{
    void *p;
    if (size != 0 && count > SIZE_MAX / size)
        return NULL;
    p = pb_malloc(count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

void pb_free(void *ptr)
{
    if (ptr)
        alloc_fn(alloc_ud, ptr, 0);
}

char *pb_strndup(const char *s, size_t n)
{
    char *p = pb_malloc(n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *pb_strdup(const char *s) { return pb_strndup(s, strlen(s)); }
