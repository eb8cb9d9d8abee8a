/*
 * floor.c: the work inspect and diff cannot avoid, and nothing else, so the
 * benchmark can separate it from the rest of their cost.
 *
 *   perch-bench-floor sha256 FILE...  read each FILE whole and print its
 *                                     SHA-256 (what inspect and diff must do
 *                                     for the digest lines they print)
 *   perch-bench-floor read FILE...    read each FILE whole (what a command
 *                                     that loads whole modules must do)
 *   (both keep every file in memory to the end, as diff keeps both modules)
 *   perch-bench-floor mmap-sha256 FILE...
 *                                     the same digests over a read-only
 *                                     mapping of each FILE instead of a copy
 *
 * sha256 and read take the same code paths as perch itself (pb_file_read,
 * pt_sha256) with the same build flags, so the difference between perch and
 * them is perch's parsing, decoding and printing. mmap-sha256 measures what
 * reading modules through a mapping would save.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "trust/trust.h"

static int fail(const char *what, const perch_err *err)
{
    fprintf(stderr, "perch-bench-floor: %s: %s\n", what, err->message);
    return 2;
}

static void print_digest(const uint8_t digest[PT_SHA256_LEN], const char *path)
{
    char hex[2 * PT_SHA256_LEN + 1];
    pt_hex(digest, PT_SHA256_LEN, hex);
    printf("%s  %s\n", hex, path);
}

static int mmap_sha256(const char *path)
{
    static const uint8_t empty[1];
    uint8_t digest[PT_SHA256_LEN];
    perch_err err;
    struct stat st;
    const void *p = empty;
    size_t len;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    perch_err_clear(&err);
    if (fd < 0) {
        fprintf(stderr, "perch-bench-floor: %s: cannot open: %s\n", path, strerror(errno));
        return 2;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "perch-bench-floor: %s: not a regular file\n", path);
        close(fd);
        return 2;
    }
    len = (size_t)st.st_size;
    if (len > 0 && (p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED) {
        fprintf(stderr, "perch-bench-floor: %s: %s\n", path, strerror(errno));
        close(fd);
        return 2;
    }
    close(fd);
    if (pt_sha256(p, len, digest, &err) != PERCH_OK)
        return fail(path, &err);
    print_digest(digest, path);
    if (len > 0)
        munmap((void *)(uintptr_t)p, len);
    return 0;
}

int main(int argc, char **argv)
{
    perch_err err;
    pb_buf *bufs;
    bool hash;
    int rc = 0;

    if (argc < 3 || (strcmp(argv[1], "sha256") != 0 && strcmp(argv[1], "read") != 0 &&
                     strcmp(argv[1], "mmap-sha256") != 0)) {
        fprintf(stderr, "usage: perch-bench-floor sha256|read|mmap-sha256 FILE...\n");
        return 2;
    }
    if (strcmp(argv[1], "mmap-sha256") == 0) {
        for (int i = 2; i < argc && rc == 0; i++)
            rc = mmap_sha256(argv[i]);
        return rc;
    }
    hash = strcmp(argv[1], "sha256") == 0;
    perch_err_clear(&err);
    /* Every file stays in memory until the end, as diff holds both modules. */
    bufs = pb_calloc((size_t)argc, sizeof *bufs);
    if (bufs == NULL) {
        fprintf(stderr, "perch-bench-floor: out of memory\n");
        return 2;
    }
    for (int i = 2; i < argc && rc == 0; i++) {
        pb_buf *b = &bufs[i];
        if (pb_file_read(argv[i], b, &err) != PERCH_OK) {
            rc = fail(argv[i], &err);
        } else if (hash) {
            uint8_t digest[PT_SHA256_LEN];
            if (pt_sha256(b->data, b->len, digest, &err) != PERCH_OK)
                rc = fail(argv[i], &err);
            else
                print_digest(digest, argv[i]);
        } else {
            printf("%zu  %s\n", b->len, argv[i]);
        }
    }
    for (int i = 2; i < argc; i++)
        pb_buf_free(&bufs[i]);
    pb_free(bufs);
    return rc;
}
