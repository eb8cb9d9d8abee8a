/*
 * guest_wasi.c: a WASI command for `perch wasm run`'s tests, built with
 * clang --target=wasm32-wasi. Its first argument picks what it does.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint32_t fib(uint32_t n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "hello";
    if (strcmp(mode, "hello") == 0) {
        printf("hello argc=%d", argc);
        for (int i = 1; i < argc; i++)
            printf(" [%s]", argv[i]);
        printf("\n");
        return 0;
    }
    if (strcmp(mode, "env") == 0) {
        const char *v = getenv(argc > 2 ? argv[2] : "HOME");
        printf("%s\n", v ? v : "(unset)");
        return 0;
    }
    if (strcmp(mode, "exit") == 0)
        return argc > 2 ? atoi(argv[2]) : 1;
    if (strcmp(mode, "stderr") == 0) {
        fprintf(stderr, "to stderr\n");
        return 0;
    }
    if (strcmp(mode, "clock") == 0) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        clock_gettime(CLOCK_MONOTONIC, &b);
        printf("%s\n", (b.tv_sec > a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec >= a.tv_nsec)) ? "monotonic" : "backwards");
        return 0;
    }
    if (strcmp(mode, "fib") == 0) {
        printf("%u\n", fib(argc > 2 ? (uint32_t)atoi(argv[2]) : 20));
        return 0;
    }
    if (strcmp(mode, "alloc") == 0) {
        /* grow memory by 1 MiB at a time until malloc says no */
        size_t total = 0;
        char *volatile p;
        while ((p = malloc(1 << 20)) != NULL) {
            p[0] = 1; /* used, so the allocation is not elided */
            total += 1 << 20;
        }
        printf("allocated %zu MiB\n", total >> 20);
        return 0;
    }
    if (strcmp(mode, "trap") == 0) {
        volatile int zero = 0;
        return 10 / zero;
    }
    if (strcmp(mode, "spin") == 0) {
        for (volatile unsigned i = 0;; i++)
            ;
    }
    fprintf(stderr, "unknown mode %s\n", mode);
    return 2;
}
