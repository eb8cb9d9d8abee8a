/*
 * check.h: the unit tests' whole framework. A test file is a program whose
 * main() calls its test functions through RUN(); each CHECK that fails
 * prints where and what, and the program exits 1 if any did.
 */
#ifndef PERCH_TEST_CHECK_H
#define PERCH_TEST_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                            \
    do {                                                                       \
        check_count++;                                                         \
        if (!(cond)) {                                                         \
            check_failures++;                                                  \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,   \
                    #cond);                                                    \
        }                                                                      \
    } while (0)

#define CHECK_INT(a, b)                                                        \
    do {                                                                       \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);        \
        check_count++;                                                         \
        if (check_a_ != check_b_) {                                            \
            check_failures++;                                                  \
            fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n",        \
                    __FILE__, __LINE__, #a, check_a_, #b, check_b_);           \
        }                                                                      \
    } while (0)

#define CHECK_STR(a, b)                                                        \
    do {                                                                       \
        const char *check_a_ = (a), *check_b_ = (b);                           \
        check_count++;                                                         \
        if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_) != 0) {       \
            check_failures++;                                                  \
            fprintf(stderr, "%s:%d: %s is \"%s\", expected \"%s\"\n",          \
                    __FILE__, __LINE__, #a, check_a_ ? check_a_ : "(null)",    \
                    check_b_ ? check_b_ : "(null)");                           \
        }                                                                      \
    } while (0)

/* The message of a perch_err contains needle. */
#define CHECK_MSG(err, needle)                                                 \
    do {                                                                       \
        check_count++;                                                         \
        if (!strstr((err).message, (needle))) {                                \
            check_failures++;                                                  \
            fprintf(stderr, "%s:%d: message \"%s\" lacks \"%s\"\n", __FILE__,  \
                    __LINE__, (err).message, (needle));                        \
        }                                                                      \
    } while (0)

#define RUN(fn)                                                                \
    do {                                                                       \
        int check_before_ = check_failures;                                    \
        fn();                                                                  \
        fprintf(stderr, "%s %s\n", check_failures == check_before_ ? "ok  " : "FAIL", #fn); \
    } while (0)

#define CHECK_DONE()                                                           \
    (fprintf(stderr, "%d checks, %d failed\n", check_count, check_failures),   \
     check_failures ? 1 : 0)

#endif /* PERCH_TEST_CHECK_H */
