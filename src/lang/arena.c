/* arena.c: the allocator of a .perch syntax tree: chunks freed all at once. */
#include <string.h>

#include "lang/ast.h"

/* Chunks are at least this big; a larger request gets a chunk of its own. */
#define CHUNK_MIN 8192
#define ALIGN 16

struct pl_chunk {
    pl_chunk *next;
    size_t used;
    size_t cap;
    _Alignas(ALIGN) unsigned char data[];
};

void *pl_alloc(pl_arena *a, size_t size)
{
    pl_chunk *c = a->head;
    size_t need = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    void *p;
    if (size == 0 || need < size)
        need = ALIGN;
    if (!c || c->cap - c->used < need) {
        size_t cap = need > CHUNK_MIN ? need : CHUNK_MIN;
        if (cap > SIZE_MAX - sizeof *c)
            return NULL;
        c = pb_malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->used = 0;
        c->cap = cap;
        c->next = a->head;
        a->head = c;
    }
    p = c->data + c->used;
    c->used += need;
    memset(p, 0, need);
    return p;
}

char *pl_strndup(pl_arena *a, const char *s, size_t n)
{
    char *p;
    if (n == SIZE_MAX)
        return NULL;
    p = pl_alloc(a, n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void pl_arena_free(pl_arena *a)
{
    pl_chunk *c = a->head;
    while (c) {
        pl_chunk *next = c->next;
        pb_free(c);
        c = next;
    }
    a->head = NULL;
}
